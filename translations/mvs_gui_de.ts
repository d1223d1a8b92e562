<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>Gui::ActivityTab</name>
    <message>
        <source>at %1, %2</source>
        <translation>bei %1, %2</translation>
    </message>
    <message>
        <source>where the pointer is</source>
        <translation>an der Zeigerposition</translation>
    </message>
    <message>
        <source>Click %1</source>
        <translation>Klick %1</translation>
    </message>
    <message>
        <source>Double click %1</source>
        <translation>Doppelklick %1</translation>
    </message>
    <message>
        <source>Triple click %1</source>
        <translation>Dreifachklick %1</translation>
    </message>
    <message>
        <source>Move the pointer %1</source>
        <translation>Zeiger bewegen %1</translation>
    </message>
    <message>
        <source>Scroll %1 by %2, %3</source>
        <translation>Scrollen %1 um %2, %3</translation>
    </message>
    <message>
        <source>Drag from %1, %2 to %3, %4</source>
        <translation>Ziehen von %1, %2 nach %3, %4</translation>
    </message>
    <message>
        <source>Run %1 (exit %2)</source>
        <translation>Ausführen: %1 (Exit %2)</translation>
    </message>
    <message>
        <source>Run %1</source>
        <translation>Ausführen: %1</translation>
    </message>
    <message>
        <source>Write %1</source>
        <translation>Schreiben: %1</translation>
    </message>
    <message>
        <source>Read %1</source>
        <translation>Lesen: %1</translation>
    </message>
    <message>
        <source>Run %1 code: %2</source>
        <translation>%1-Code ausführen: %2</translation>
    </message>
    <message>
        <source>Activity</source>
        <translation>Aktivität</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>Action</source>
        <translation>Aktion</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Ergebnis</translation>
    </message>
    <message>
        <source>Took</source>
        <translation>Dauer</translation>
    </message>
    <message>
        <source>Type “%1”</source>
        <translation>Tippen „%1“</translation>
    </message>
    <message>
        <source>Key %1</source>
        <translation>Taste %1</translation>
    </message>
    <message>
        <source>Screenshot (%1×%2)</source>
        <translation>Bildschirmfoto (%1×%2)</translation>
    </message>
    <message>
        <source>Screenshot</source>
        <translation>Bildschirmfoto</translation>
    </message>
    <message>
        <source>done</source>
        <translation>erledigt</translation>
    </message>
    <message>
        <source>%1 ms</source>
        <translation>%1 ms</translation>
    </message>
    <message>
        <source>Select a VM to see what agents do in it.</source>
        <translation>Wählen Sie eine VM, um zu sehen, was Agenten darin tun.</translation>
    </message>
    <message>
        <source>Nothing done to %1 through the API yet. Clicks, typing, keys, screenshots, commands, files and code an agent sends show here as they happen.</source>
        <translation>Über die API wurde an %1 noch nichts getan. Klicks, Eingaben, Tasten, Bildschirmfotos, Befehle, Dateien und Code, die ein Agent sendet, erscheinen hier, sobald sie geschehen.</translation>
    </message>
</context>
<context>
    <name>Gui::ConsoleTab</name>
    <message>
        <source>The serial console of the selected VM appears here.</source>
        <translation>Die serielle Konsole der ausgewählten VM erscheint hier.</translation>
    </message>
</context>
<context>
    <name>Gui::CreateDialog</name>
    <message>
        <source>Create a VM</source>
        <translation>VM erstellen</translation>
    </message>
    <message>
        <source>&amp;Template:</source>
        <translation>&amp;Vorlage:</translation>
    </message>
    <message>
        <source>e.g. agent-1</source>
        <translation>z. B. agent-1</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Name:</translation>
    </message>
    <message numerus="yes">
        <source>At most the host&apos;s %n logical CPU(s)</source>
        <translation>
            <numerusform>Höchstens die %n logische CPU des Hosts</numerusform>
            <numerusform>Höchstens die %n logischen CPUs des Hosts</numerusform>
        </translation>
    </message>
    <message>
        <source>&amp;vCPUs:</source>
        <translation>v&amp;CPUs:</translation>
    </message>
    <message>
        <source> MiB</source>
        <translation> MiB</translation>
    </message>
    <message>
        <source>At most the host&apos;s %1 MiB</source>
        <translation>Höchstens die %1 MiB des Hosts</translation>
    </message>
    <message>
        <source>&amp;Memory:</source>
        <translation>&amp;Arbeitsspeicher:</translation>
    </message>
    <message>
        <source>&amp;Start now</source>
        <translation>Sofort &amp;starten</translation>
    </message>
    <message>
        <source>Create</source>
        <translation>Erstellen</translation>
    </message>
    <message>
        <source>No templates were found.</source>
        <translation>Es wurden keine Vorlagen gefunden.</translation>
    </message>
    <message>
        <source>%1 (with a desktop)</source>
        <translation>%1 (mit Desktop)</translation>
    </message>
    <message>
        <source>Give the VM a name.</source>
        <translation>Geben Sie der VM einen Namen.</translation>
    </message>
    <message>
        <source>Only lowercase letters, digits and &apos;-&apos; are allowed.</source>
        <translation>Nur Kleinbuchstaben, Ziffern und „-“ sind erlaubt.</translation>
    </message>
    <message>
        <source>The name must start with a letter or a digit.</source>
        <translation>Der Name muss mit einem Buchstaben oder einer Ziffer beginnen.</translation>
    </message>
    <message>
        <source>1 to 63 lowercase letters, digits or &apos;-&apos;, starting with a letter or digit.</source>
        <translation>1 bis 63 Kleinbuchstaben, Ziffern oder „-“, beginnend mit einem Buchstaben oder einer Ziffer.</translation>
    </message>
    <message>
        <source>A VM named &apos;%1&apos; already exists.</source>
        <translation>Eine VM namens „%1“ existiert bereits.</translation>
    </message>
    <message>
        <source>Quota:</source>
        <translation>Kontingent:</translation>
    </message>
    <message>
        <source>The host&apos;s quota does not allow it: %1</source>
        <translation>Das Kontingent des Hosts lässt es nicht zu: %1</translation>
    </message>
    <message>
        <source>VMs: %1</source>
        <translation>VMs: %1</translation>
    </message>
    <message>
        <source>vCPUs: %1</source>
        <translation>vCPUs: %1</translation>
    </message>
    <message>
        <source>memory: %1 MiB</source>
        <translation>Arbeitsspeicher: %1 MiB</translation>
    </message>
    <message>
        <source>disk: %1 MiB</source>
        <translation>Festplatte: %1 MiB</translation>
    </message>
    <message>
        <source>No quotas are set on this host.</source>
        <translation>Auf diesem Host sind keine Kontingente festgelegt.</translation>
    </message>
    <message>
        <source>Left on this host: %1.</source>
        <translation>Auf diesem Host noch frei: %1.</translation>
    </message>
</context>
<context>
    <name>Gui::DesktopGrid</name>
    <message>
        <source>Desktops</source>
        <translation>Desktops</translation>
    </message>
    <message>
        <source>&amp;Open</source>
        <translation>Ö&amp;ffnen</translation>
    </message>
    <message>
        <source>&amp;Release control</source>
        <translation>Steuerung &amp;abgeben</translation>
    </message>
    <message>
        <source>&amp;Take control</source>
        <translation>Steuerung ü&amp;bernehmen</translation>
    </message>
    <message>
        <source>you drive</source>
        <translation>Sie steuern</translation>
    </message>
    <message>
        <source>agent drives</source>
        <translation>der Agent steuert</translation>
    </message>
    <message>
        <source>the agent acted just now</source>
        <translation>der Agent hat gerade gehandelt</translation>
    </message>
    <message>
        <source>the screen changed just now</source>
        <translation>der Bildschirm hat sich gerade geändert</translation>
    </message>
</context>
<context>
    <name>Gui::DisplayTab</name>
    <message>
        <source>Take control</source>
        <translation>Steuerung übernehmen</translation>
    </message>
    <message>
        <source>Drive this desktop yourself; the agent API is refused until you release it</source>
        <translation>Diesen Desktop selbst steuern; die Agenten-API wird abgewiesen, bis Sie ihn freigeben</translation>
    </message>
    <message>
        <source>Select a VM to see its display.</source>
        <translation>Wählen Sie eine VM aus, um ihre Anzeige zu sehen.</translation>
    </message>
    <message>
        <source>%1 has no display: its template &apos;%2&apos; has no desktop.</source>
        <translation>%1 hat keine Anzeige: Ihre Vorlage „%2“ hat keinen Desktop.</translation>
    </message>
    <message>
        <source>%1 is not running (%2). Start it to see its desktop.</source>
        <translation>%1 läuft nicht (%2). Starten Sie sie, um ihren Desktop zu sehen.</translation>
    </message>
    <message>
        <source>Displays are not available in this window.</source>
        <translation>In diesem Fenster sind keine Anzeigen verfügbar.</translation>
    </message>
    <message>
        <source>Connecting to the desktop of %1…</source>
        <translation>Verbindung zum Desktop von %1 wird hergestellt …</translation>
    </message>
    <message>
        <source>The desktop of %1 cannot be shown: %2</source>
        <translation>Der Desktop von %1 kann nicht angezeigt werden: %2</translation>
    </message>
    <message>
        <source>Release</source>
        <translation>Freigeben</translation>
    </message>
    <message>
        <source>You are driving this desktop; the agent API&apos;s input is refused.</source>
        <translation>Sie steuern diesen Desktop; Eingaben der Agenten-API werden abgewiesen.</translation>
    </message>
    <message>
        <source>The agent API is driving; you are watching (view only).</source>
        <translation>Die Agenten-API steuert; Sie schauen zu (nur Ansicht).</translation>
    </message>
    <message>
        <source>Take or release control of the desktop</source>
        <translation>Steuerung des Desktops übernehmen oder abgeben</translation>
    </message>
    <message>
        <source>Live desktop</source>
        <translation>Live-Desktop</translation>
    </message>
</context>
<context>
    <name>Gui::FilesTab</name>
    <message>
        <source>Upload to the VM</source>
        <translation>In die VM hochladen</translation>
    </message>
    <message>
        <source>a file on this computer</source>
        <translation>eine Datei auf diesem Computer</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen …</translation>
    </message>
    <message>
        <source>e.g. /root/data.tar</source>
        <translation>z. B. /root/data.tar</translation>
    </message>
    <message>
        <source>&amp;Upload</source>
        <translation>&amp;Hochladen</translation>
    </message>
    <message>
        <source>Local file:</source>
        <translation>Lokale Datei:</translation>
    </message>
    <message>
        <source>Guest path:</source>
        <translation>Pfad im Gast:</translation>
    </message>
    <message>
        <source>Download from the VM</source>
        <translation>Aus der VM herunterladen</translation>
    </message>
    <message>
        <source>e.g. /etc/os-release</source>
        <translation>z. B. /etc/os-release</translation>
    </message>
    <message>
        <source>where to save it on this computer</source>
        <translation>wo sie auf diesem Computer gespeichert wird</translation>
    </message>
    <message>
        <source>&amp;Download</source>
        <translation>He&amp;runterladen</translation>
    </message>
    <message>
        <source>Save as:</source>
        <translation>Speichern unter:</translation>
    </message>
    <message>
        <source>Upload a file</source>
        <translation>Datei hochladen</translation>
    </message>
    <message>
        <source>Save the file as</source>
        <translation>Datei speichern unter</translation>
    </message>
    <message>
        <source>Cannot read %1: %2</source>
        <translation>%1 kann nicht gelesen werden: %2</translation>
    </message>
    <message>
        <source>Uploading %1 to %2:%3…</source>
        <translation>%1 wird nach %2:%3 hochgeladen …</translation>
    </message>
    <message>
        <source>Upload failed: %1</source>
        <translation>Hochladen fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>Uploaded %1 bytes to %2:%3</source>
        <translation>%1 Bytes nach %2:%3 hochgeladen</translation>
    </message>
    <message>
        <source>Downloading %1:%2…</source>
        <translation>%1:%2 wird heruntergeladen …</translation>
    </message>
    <message>
        <source>Download failed: %1</source>
        <translation>Herunterladen fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>Download failed: the guest agent of %1 went away</source>
        <translation>Herunterladen fehlgeschlagen: Der Gast-Agent von %1 ist nicht mehr erreichbar</translation>
    </message>
    <message>
        <source>Cannot write %1: %2</source>
        <translation>%1 kann nicht geschrieben werden: %2</translation>
    </message>
    <message>
        <source>Downloaded %1 bytes from %2:%3 to %4</source>
        <translation>%1 Bytes von %2:%3 nach %4 heruntergeladen</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>abgebrochen</translation>
    </message>
    <message>
        <source>&amp;Cancel transfer</source>
        <translation>Übertragung &amp;abbrechen</translation>
    </message>
    <message>
        <source>Upload cancelled: nothing was written to %1:%2</source>
        <translation>Hochladen abgebrochen: nach %1:%2 wurde nichts geschrieben</translation>
    </message>
    <message>
        <source>Download cancelled: %1 was not saved</source>
        <translation>Herunterladen abgebrochen: %1 wurde nicht gespeichert</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Wird abgebrochen …</translation>
    </message>
    <message>
        <source>Download refused: %1 is %2 bytes, %3 has %4 bytes free</source>
        <translation>Herunterladen abgelehnt: %1 ist %2 Bytes groß, %3 hat %4 Bytes frei</translation>
    </message>
</context>
<context>
    <name>Gui::MainWindow</name>
    <message>
        <source>MicroVM Sandbox</source>
        <translation>MicroVM Sandbox</translation>
    </message>
    <message>
        <source>MicroVM Sandbox cannot manage VMs here:

%1</source>
        <translation>MicroVM Sandbox kann hier keine VMs verwalten:

%1</translation>
    </message>
    <message>
        <source>Display</source>
        <translation>Anzeige</translation>
    </message>
    <message>
        <source>Console</source>
        <translation>Konsole</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>Ausführen</translation>
    </message>
    <message>
        <source>Files</source>
        <translation>Dateien</translation>
    </message>
    <message>
        <source>VMs</source>
        <translation>VMs</translation>
    </message>
    <message>
        <source>Desktops</source>
        <translation>Desktops</translation>
    </message>
    <message>
        <source>&amp;Create…</source>
        <translation>&amp;Erstellen …</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Starten</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>S&amp;toppen</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pausieren</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>&amp;Fortsetzen</translation>
    </message>
    <message>
        <source>Res&amp;tart</source>
        <translation>&amp;Neu starten</translation>
    </message>
    <message>
        <source>&amp;Delete…</source>
        <translation>&amp;Löschen …</translation>
    </message>
    <message>
        <source>VM</source>
        <translation>VM</translation>
    </message>
    <message>
        <source>&amp;VM</source>
        <translation>&amp;VM</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>&amp;Settings</source>
        <translation>&amp;Einstellungen</translation>
    </message>
    <message>
        <source>&amp;Preferences…</source>
        <translation>&amp;Einstellungen …</translation>
    </message>
    <message>
        <source>Copy token</source>
        <translation>Token kopieren</translation>
    </message>
    <message>
        <source>Copy the API&apos;s bearer token to the clipboard</source>
        <translation>Das Bearer-Token der API in die Zwischenablage kopieren</translation>
    </message>
    <message>
        <source>The API token was copied to the clipboard.</source>
        <translation>Das API-Token wurde in die Zwischenablage kopiert.</translation>
    </message>
    <message>
        <source>API: %1</source>
        <translation>API: %1</translation>
    </message>
    <message>
        <source>API not serving: %1</source>
        <translation>API nicht aktiv: %1</translation>
    </message>
    <message>
        <source>API not serving</source>
        <translation>API nicht aktiv</translation>
    </message>
    <message>
        <source>Cannot create %1: %2</source>
        <translation>%1 kann nicht erstellt werden: %2</translation>
    </message>
    <message>
        <source>Created %1.</source>
        <translation>%1 erstellt.</translation>
    </message>
    <message>
        <source>Delete %1?</source>
        <translation>%1 löschen?</translation>
    </message>
    <message>
        <source>Delete the VM %1? It is stopped if it runs, and its disk, record and console log are deleted.</source>
        <translation>Die VM %1 löschen? Sie wird gestoppt, falls sie läuft, und ihre Festplatte, ihr Eintrag und ihr Konsolenprotokoll werden gelöscht.</translation>
    </message>
    <message>
        <source>Cannot delete %1: %2</source>
        <translation>%1 kann nicht gelöscht werden: %2</translation>
    </message>
    <message>
        <source>Deleted %1.</source>
        <translation>%1 gelöscht.</translation>
    </message>
    <message>
        <source>start</source>
        <translation>starten</translation>
    </message>
    <message>
        <source>stop</source>
        <translation>stoppen</translation>
    </message>
    <message>
        <source>pause</source>
        <translation>pausieren</translation>
    </message>
    <message>
        <source>resume</source>
        <translation>fortsetzen</translation>
    </message>
    <message>
        <source>restart</source>
        <translation>neu starten</translation>
    </message>
    <message>
        <source>Cannot %1 %2: %3</source>
        <translation>%2 lässt sich nicht %1: %3</translation>
    </message>
    <message>
        <source>%1: preparing the image: %2 (%3%)</source>
        <translation>%1: Abbild wird vorbereitet: %2 (%3 %)</translation>
    </message>
    <message>
        <source>Quit MicroVM Sandbox?</source>
        <translation>MicroVM Sandbox beenden?</translation>
    </message>
    <message>
        <source>Stop VMs and quit</source>
        <translation>VMs stoppen und beenden</translation>
    </message>
    <message>
        <source>no reason was given</source>
        <translation>es wurde kein Grund angegeben</translation>
    </message>
    <message>
        <source>The VM %1 failed: %2</source>
        <translation>Die VM %1 ist ausgefallen: %2</translation>
    </message>
    <message>
        <source>Preferences saved; they apply the next time MicroVM Sandbox starts.</source>
        <translation>Einstellungen gespeichert; sie gelten ab dem nächsten Start von MicroVM Sandbox.</translation>
    </message>
    <message>
        <source>Cannot save the preferences to %1.</source>
        <translation>Die Einstellungen können nicht in %1 gespeichert werden.</translation>
    </message>
    <message>
        <source>Show console</source>
        <translation>Konsole zeigen</translation>
    </message>
    <message>
        <source>Cancel build</source>
        <translation>Erstellen abbrechen</translation>
    </message>
    <message>
        <source>Stop preparing the guest image (the VM is not started)</source>
        <translation>Das Vorbereiten des Gast-Images abbrechen (die VM wird nicht gestartet)</translation>
    </message>
    <message>
        <source>%1: image %p%</source>
        <translation>%1: Image %p%</translation>
    </message>
    <message>
        <source>Cancelled preparing the image of %1.</source>
        <translation>Das Vorbereiten des Images von %1 wurde abgebrochen.</translation>
    </message>
    <message>
        <source>KVM</source>
        <translation>KVM</translation>
    </message>
    <message>
        <source>Guests run with hardware virtualization (KVM).</source>
        <translation>Gäste laufen mit Hardware-Virtualisierung (KVM).</translation>
    </message>
    <message>
        <source>KVM looks usable, but a guest kernel does not boot under it on this host</source>
        <translation>KVM scheint nutzbar, aber ein Gast-Kernel startet auf diesem Host nicht damit</translation>
    </message>
    <message>
        <source>TCG: software emulation</source>
        <translation>TCG: Software-Emulation</translation>
    </message>
    <message>
        <source>KVM is not used (%1), so QEMU emulates the CPU in software (TCG). Guests work the same, but boot and run several times slower.</source>
        <translation>KVM wird nicht verwendet (%1), daher emuliert QEMU die CPU in Software (TCG). Gäste funktionieren genauso, starten und laufen aber um ein Mehrfaches langsamer.</translation>
    </message>
    <message>
        <source>Snapshots</source>
        <translation>Snapshots</translation>
    </message>
    <message>
        <source>Ports</source>
        <translation>Ports</translation>
    </message>
    <message>
        <source>Take s&amp;napshot</source>
        <translation>S&amp;napshot erstellen</translation>
    </message>
    <message numerus="yes">
        <source>%n VM(s) are running. Stop them, or leave them running: the next start of MicroVM Sandbox takes them over again.</source>
        <translation>
            <numerusform>%n VM läuft. Sie können sie stoppen oder weiterlaufen lassen: Beim nächsten Start übernimmt MicroVM Sandbox sie wieder.</numerusform>
            <numerusform>%n VMs laufen. Sie können sie stoppen oder weiterlaufen lassen: Beim nächsten Start übernimmt MicroVM Sandbox sie wieder.</numerusform>
        </translation>
    </message>
    <message>
        <source>Leave running and quit</source>
        <translation>Weiterlaufen lassen und beenden</translation>
    </message>
    <message>
        <source>This window&apos;s VMs were started so that they stop with it.</source>
        <translation>Die VMs dieses Fensters wurden so gestartet, dass sie mit ihm enden.</translation>
    </message>
    <message>
        <source>VMs that are still starting or stopping are stopped.</source>
        <translation>VMs, die gerade starten oder stoppen, werden gestoppt.</translation>
    </message>
    <message>
        <source>Resi&amp;ze…</source>
        <translation>&amp;Größe ändern…</translation>
    </message>
    <message>
        <source>Cannot resize %1: %2</source>
        <translation>%1 kann nicht in der Größe geändert werden: %2</translation>
    </message>
    <message>
        <source>%1 has %2 vCPUs and %3 MiB.</source>
        <translation>%1 hat %2 vCPUs und %3 MiB.</translation>
    </message>
    <message>
        <source>%1: %2 of %3 ready, %4 being restored</source>
        <translation>%1: %2 von %3 bereit, %4 werden wiederhergestellt</translation>
    </message>
    <message>
        <source> (%1)</source>
        <translation> (%1)</translation>
    </message>
    <message>
        <source>Pool: %1/%2 ready</source>
        <translation>Pool: %1/%2 bereit</translation>
    </message>
    <message>
        <source>VMs restored ahead and kept paused: creating a VM of these templates resumes one.
%1</source>
        <translation>Im Voraus wiederhergestellte, angehaltene VMs: eine neue VM dieser Vorlagen setzt eine von ihnen fort.
%1</translation>
    </message>
    <message>
        <source>Performance</source>
        <translation>Leistung</translation>
    </message>
    <message>
        <source>Activity</source>
        <translation>Aktivität</translation>
    </message>
    <message>
        <source>V&amp;iew</source>
        <translation>&amp;Ansicht</translation>
    </message>
    <message>
        <source>Desktops &amp;wall</source>
        <translation>Desktop-&amp;Wand</translation>
    </message>
    <message>
        <source>Every running desktop in tiles that fill the window</source>
        <translation>Jeder laufende Desktop als Kachel, die Kacheln füllen das Fenster</translation>
    </message>
    <message>
        <source>Virtual machines</source>
        <translation>Virtuelle Maschinen</translation>
    </message>
    <message>
        <source>Details of the selected VM</source>
        <translation>Details der ausgewählten VM</translation>
    </message>
</context>
<context>
    <name>Gui::PerformanceTab</name>
    <message>
        <source>%1/s</source>
        <translation>%1/s</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1 %</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>Memory</source>
        <translation>Speicher</translation>
    </message>
    <message>
        <source>VMM</source>
        <translation>VMM</translation>
    </message>
    <message>
        <source>guest</source>
        <translation>Gast</translation>
    </message>
    <message>
        <source>Disk</source>
        <translation>Festplatte</translation>
    </message>
    <message>
        <source>Network</source>
        <translation>Netzwerk</translation>
    </message>
    <message>
        <source>in</source>
        <translation>ein</translation>
    </message>
    <message>
        <source>out</source>
        <translation>aus</translation>
    </message>
    <message>
        <source>No usage history here: it is kept by the API service, which is not running.</source>
        <translation>Hier gibt es keinen Verlauf: Ihn führt der API-Dienst, der nicht läuft.</translation>
    </message>
    <message>
        <source>Select a VM to see its CPU, memory, disk and network over the last minutes.</source>
        <translation>Wählen Sie eine VM, um CPU, Speicher, Festplatte und Netzwerk der letzten Minuten zu sehen.</translation>
    </message>
    <message>
        <source>No samples of %1 yet: a VM&apos;s usage is sampled every few seconds while it runs.</source>
        <translation>Noch keine Messwerte von %1: Die Nutzung einer VM wird alle paar Sekunden gemessen, solange sie läuft.</translation>
    </message>
</context>
<context>
    <name>Gui::PortsTab</name>
    <message>
        <source>Guest port</source>
        <translation>Gast-Port</translation>
    </message>
    <message>
        <source>On this host</source>
        <translation>Auf diesem Host</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Zustand</translation>
    </message>
    <message>
        <source>Connections</source>
        <translation>Verbindungen</translation>
    </message>
    <message>
        <source>guest port </source>
        <translation>Gast-Port </translation>
    </message>
    <message>
        <source>The host address to listen on: 127.0.0.1 (the default), ::1, 0.0.0.0 for all, or an address of this host</source>
        <translation>Die Host-Adresse, auf der gelauscht wird: 127.0.0.1 (Standard), ::1, 0.0.0.0 für alle oder eine Adresse dieses Hosts</translation>
    </message>
    <message>
        <source>any free port</source>
        <translation>beliebiger freier Port</translation>
    </message>
    <message>
        <source>host port </source>
        <translation>Host-Port </translation>
    </message>
    <message>
        <source>&amp;Expose</source>
        <translation>&amp;Freigeben</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>&amp;Entfernen</translation>
    </message>
    <message>
        <source>%1 (not listening)</source>
        <translation>%1 (lauscht nicht)</translation>
    </message>
    <message>
        <source>active</source>
        <translation>aktiv</translation>
    </message>
    <message>
        <source>waiting for the VM to run</source>
        <translation>wartet auf die laufende VM</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <source>Cannot expose port %1: %2</source>
        <translation>Port %1 kann nicht freigegeben werden: %2</translation>
    </message>
    <message>
        <source>Guest port %1 of %2 is reachable at %3:%4.</source>
        <translation>Gast-Port %1 von %2 ist unter %3:%4 erreichbar.</translation>
    </message>
    <message>
        <source>Cannot remove port %1: %2</source>
        <translation>Port %1 kann nicht entfernt werden: %2</translation>
    </message>
    <message>
        <source>Guest port %1 of %2 is no longer exposed.</source>
        <translation>Gast-Port %1 von %2 ist nicht mehr freigegeben.</translation>
    </message>
</context>
<context>
    <name>Gui::Preferences</name>
    <message>
        <source>Give HOST:PORT, e.g. 127.0.0.1:8000.</source>
        <translation>Geben Sie HOST:PORT an, z. B. 127.0.0.1:8000.</translation>
    </message>
    <message>
        <source>The port must be a number from 0 to 65535.</source>
        <translation>Der Port muss eine Zahl von 0 bis 65535 sein.</translation>
    </message>
    <message>
        <source>The host must be an IP address (or localhost).</source>
        <translation>Der Host muss eine IP-Adresse sein (oder localhost).</translation>
    </message>
</context>
<context>
    <name>Gui::PreferencesDialog</name>
    <message>
        <source>Preferences</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Where the REST API listens (HOST:PORT); 127.0.0.1 keeps it on this computer</source>
        <translation>Wo die REST-API lauscht (HOST:PORT); 127.0.0.1 beschränkt sie auf diesen Computer</translation>
    </message>
    <message>
        <source>API &amp;listen address:</source>
        <translation>&amp;Adresse der API:</translation>
    </message>
    <message>
        <source>the default</source>
        <translation>die Voreinstellung</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen …</translation>
    </message>
    <message>
        <source>Data directory</source>
        <translation>Datenverzeichnis</translation>
    </message>
    <message>
        <source>&amp;Data directory:</source>
        <translation>&amp;Datenverzeichnis:</translation>
    </message>
    <message>
        <source>Automatic</source>
        <translation>Automatisch</translation>
    </message>
    <message>
        <source>QEMU</source>
        <translation>QEMU</translation>
    </message>
    <message>
        <source>cloud-hypervisor</source>
        <translation>cloud-hypervisor</translation>
    </message>
    <message>
        <source>Automatic: cloud-hypervisor when KVM works and it is installed, else QEMU</source>
        <translation>Automatisch: cloud-hypervisor, wenn KVM funktioniert und es installiert ist, sonst QEMU</translation>
    </message>
    <message>
        <source>VMM &amp;driver:</source>
        <translation>VMM-&amp;Treiber:</translation>
    </message>
    <message>
        <source>KVM</source>
        <translation>KVM</translation>
    </message>
    <message>
        <source>TCG (software emulation)</source>
        <translation>TCG (Software-Emulation)</translation>
    </message>
    <message>
        <source>QEMU only. Automatic uses KVM when it really works here, else TCG (slower, but works everywhere)</source>
        <translation>Nur QEMU. Automatisch nutzt KVM, wenn es hier wirklich funktioniert, sonst TCG (langsamer, funktioniert aber überall)</translation>
    </message>
    <message>
        <source>QEMU &amp;accelerator:</source>
        <translation>QEMU-&amp;Beschleuniger:</translation>
    </message>
    <message>
        <source>Changes apply the next time MicroVM Sandbox starts. Command-line options and MVS_* environment variables still take precedence.</source>
        <translation>Änderungen gelten ab dem nächsten Start von MicroVM Sandbox. Befehlszeilenoptionen und MVS_*-Umgebungsvariablen haben weiterhin Vorrang.</translation>
    </message>
</context>
<context>
    <name>Gui::ResizeDialog</name>
    <message>
        <source>Resize %1</source>
        <translation>Größe von %1 ändern</translation>
    </message>
    <message>
        <source>vCPUs</source>
        <translation>vCPUs</translation>
    </message>
    <message>
        <source> MiB</source>
        <translation> MiB</translation>
    </message>
    <message>
        <source>Memory</source>
        <translation>Arbeitsspeicher</translation>
    </message>
    <message>
        <source>&amp;vCPUs:</source>
        <translation>v&amp;CPUs:</translation>
    </message>
    <message>
        <source>&amp;Memory:</source>
        <translation>&amp;Arbeitsspeicher:</translation>
    </message>
    <message>
        <source>%1 takes its new vCPUs, maximum and memory at its next start.</source>
        <translation>%1 erhält die neuen vCPUs, das neue Maximum und den neuen Arbeitsspeicher beim nächsten Start.</translation>
    </message>
    <message>
        <source>Ma&amp;ximum vCPUs while running:</source>
        <translation>Ma&amp;ximale vCPUs im Betrieb:</translation>
    </message>
    <message>
        <source>Maximum vCPUs while running</source>
        <translation>Maximale vCPUs im Betrieb</translation>
    </message>
    <message>
        <source>its memory changes at once, between what its guest can spare and the %1 MiB it booted with</source>
        <translation>sein Arbeitsspeicher ändert sich sofort, zwischen dem, was sein Gast entbehren kann, und den %1 MiB, mit denen er gestartet wurde</translation>
    </message>
    <message>
        <source>%1 is running: vCPUs are added at once, up to its maximum of %2, and %3. Fewer vCPUs and another maximum take effect from its next start: resize it while it is stopped.</source>
        <translation>%1 läuft: vCPUs kommen sofort hinzu, bis zu seinem Maximum von %2, und %3. Weniger vCPUs und ein anderes Maximum gelten ab dem nächsten Start: Ändern Sie die Größe, solange er gestoppt ist.</translation>
    </message>
    <message>
        <source>%1 is running: %2. To add vCPUs while it runs, give it a maximum above its vCPUs while it is stopped.</source>
        <translation>%1 läuft: %2. Um im Betrieb vCPUs hinzuzufügen, geben Sie ihm ein Maximum über seinen vCPUs, solange er gestoppt ist.</translation>
    </message>
</context>
<context>
    <name>Gui::RunTab</name>
    <message>
        <source>A shell command, e.g. uname -a</source>
        <translation>Ein Shell-Befehl, z. B. uname -a</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>&amp;Ausführen</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>Abb&amp;rechen</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Sprache</translation>
    </message>
    <message>
        <source>Shell command</source>
        <translation>Shell-Befehl</translation>
    </message>
    <message>
        <source>Python code, kept in the session &quot;gui&quot;, e.g. x = 6 * 7</source>
        <translation>Python-Code, in der Sitzung &quot;gui&quot; gehalten, z. B. x = 6 * 7</translation>
    </message>
    <message>
        <source>JavaScript code, e.g. [1, 2].map(x =&gt; x * 2)</source>
        <translation>JavaScript-Code, z. B. [1, 2].map(x =&gt; x * 2)</translation>
    </message>
    <message>
        <source>Bash code, e.g. echo $BASH_VERSION</source>
        <translation>Bash-Code, z. B. echo $BASH_VERSION</translation>
    </message>
    <message>
        <source>Finished with an error after %1 s</source>
        <translation>Mit einem Fehler beendet nach %1 s</translation>
    </message>
    <message>
        <source>Finished after %1 s</source>
        <translation>Beendet nach %1 s</translation>
    </message>
    <message>
        <source>Running…</source>
        <translation>Läuft …</translation>
    </message>
    <message>
        <source>Failed: %1</source>
        <translation>Fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>Timed out after %1 s</source>
        <translation>Zeitüberschreitung nach %1 s</translation>
    </message>
    <message>
        <source>Killed by signal %1 after %2 s</source>
        <translation>Durch Signal %1 nach %2 s beendet</translation>
    </message>
    <message>
        <source>Exited with code %1 after %2 s</source>
        <translation>Mit Code %1 nach %2 s beendet</translation>
    </message>
</context>
<context>
    <name>Gui::SnapshotsTab</name>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Taken</source>
        <translation>Erstellt</translation>
    </message>
    <message>
        <source>Parent</source>
        <translation>Vorgänger</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>Größe</translation>
    </message>
    <message>
        <source>Paused for</source>
        <translation>Pausiert für</translation>
    </message>
    <message>
        <source>Name (optional)</source>
        <translation>Name (optional)</translation>
    </message>
    <message>
        <source>Stay paused</source>
        <translation>Pausiert lassen</translation>
    </message>
    <message>
        <source>&amp;Take snapshot</source>
        <translation>Snapshot &amp;erstellen</translation>
    </message>
    <message>
        <source>Re&amp;store</source>
        <translation>&amp;Wiederherstellen</translation>
    </message>
    <message>
        <source>&amp;Fork…</source>
        <translation>&amp;Abzweigen…</translation>
    </message>
    <message>
        <source>De&amp;lete…</source>
        <translation>&amp;Löschen…</translation>
    </message>
    <message>
        <source>%1 (current)</source>
        <translation>%1 (aktuell)</translation>
    </message>
    <message>
        <source>—</source>
        <translation>—</translation>
    </message>
    <message>
        <source>%1 ms</source>
        <translation>%1 ms</translation>
    </message>
    <message>
        <source>%1 vCPU, %2 MiB, %3 files, template %4</source>
        <translation>%1 vCPU, %2 MiB, %3 Dateien, Vorlage %4</translation>
    </message>
    <message>
        <source>Taking a snapshot of %1…</source>
        <translation>Snapshot von %1 wird erstellt…</translation>
    </message>
    <message>
        <source>Cannot take a snapshot of %1: %2</source>
        <translation>Snapshot von %1 nicht möglich: %2</translation>
    </message>
    <message>
        <source>Took snapshot %1 of %2 (%3; the VM was paused for %4 ms).</source>
        <translation>Snapshot %1 von %2 erstellt (%3; die VM war %4 ms pausiert).</translation>
    </message>
    <message>
        <source>Restore %1?</source>
        <translation>%1 wiederherstellen?</translation>
    </message>
    <message>
        <source>Restore %1 to the snapshot %2? What it did since then is lost, unless it is in another snapshot.</source>
        <translation>%1 auf den Snapshot %2 zurücksetzen? Was seitdem geschah, geht verloren, sofern es nicht in einem anderen Snapshot steckt.</translation>
    </message>
    <message>
        <source>Restore</source>
        <translation>Wiederherstellen</translation>
    </message>
    <message>
        <source>Restoring %1 to %2…</source>
        <translation>%1 wird auf %2 zurückgesetzt…</translation>
    </message>
    <message>
        <source>Cannot restore %1 to %2: %3</source>
        <translation>%1 kann nicht auf %2 zurückgesetzt werden: %3</translation>
    </message>
    <message>
        <source>%1 runs from the snapshot %2.</source>
        <translation>%1 läuft ab dem Snapshot %2.</translation>
    </message>
    <message>
        <source>Fork %1</source>
        <translation>%1 abzweigen</translation>
    </message>
    <message>
        <source>Fork</source>
        <translation>Abzweigen</translation>
    </message>
    <message>
        <source>Start new VMs from the snapshot %1 of %2. Each gets its own name, disk and agent channel.</source>
        <translation>Neue VMs aus dem Snapshot %1 von %2 starten. Jede erhält ihren eigenen Namen, ihre eigene Platte und ihren eigenen Agent-Kanal.</translation>
    </message>
    <message>
        <source>How many:</source>
        <translation>Anzahl:</translation>
    </message>
    <message>
        <source>Name prefix:</source>
        <translation>Namenspräfix:</translation>
    </message>
    <message numerus="yes">
        <source>Forking %n VM(s) from %1…</source>
        <translation>
            <numerusform>%n VM wird aus %1 abgezweigt…</numerusform>
            <numerusform>%n VMs werden aus %1 abgezweigt…</numerusform>
        </translation>
    </message>
    <message>
        <source>Cannot fork %1: %2</source>
        <translation>%1 kann nicht abgezweigt werden: %2</translation>
    </message>
    <message>
        <source>Started %1 from %2.</source>
        <translation>%1 aus %2 gestartet.</translation>
    </message>
    <message>
        <source>Delete %1?</source>
        <translation>%1 löschen?</translation>
    </message>
    <message>
        <source>Delete the snapshot %1 of %2? Snapshots taken after it keep working.</source>
        <translation>Den Snapshot %1 von %2 löschen? Danach erstellte Snapshots bleiben nutzbar.</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>Deleted the snapshot %1.</source>
        <translation>Snapshot %1 gelöscht.</translation>
    </message>
    <message>
        <source>Cannot delete %1: %2</source>
        <translation>%1 kann nicht gelöscht werden: %2</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>&amp;Abbrechen</translation>
    </message>
    <message>
        <source>Cancelling the snapshot of %1…</source>
        <translation>Snapshot von %1 wird abgebrochen…</translation>
    </message>
    <message>
        <source>Cannot cancel: %1</source>
        <translation>Abbrechen nicht möglich: %1</translation>
    </message>
    <message>
        <source>The snapshot of %1 was cancelled; nothing was kept.</source>
        <translation>Der Snapshot von %1 wurde abgebrochen; nichts wurde behalten.</translation>
    </message>
</context>
<context>
    <name>Gui::UsageChart</name>
    <message>
        <source>%1 %2</source>
        <translation>%1 %2</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message numerus="yes">
        <source>last %n minute(s)</source>
        <translation>
            <numerusform>letzte Minute</numerusform>
            <numerusform>letzte %n Minuten</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Gui::VmListModel</name>
    <message>
        <source>%1 MiB</source>
        <translation>%1 MiB</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1 %</translation>
    </message>
    <message>
        <source>%1 / %2 MiB</source>
        <translation>%1 / %2 MiB</translation>
    </message>
    <message>
        <source>Last error: %1</source>
        <translation>Letzter Fehler: %1</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Template</source>
        <translation>Vorlage</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Zustand</translation>
    </message>
    <message>
        <source>vCPUs</source>
        <translation>vCPUs</translation>
    </message>
    <message>
        <source>Memory</source>
        <translation>Speicher</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>Memory use</source>
        <translation>Speichernutzung</translation>
    </message>
    <message>
        <source>Uptime</source>
        <translation>Laufzeit</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Erstellt</translation>
    </message>
    <message>
        <source>Preparing</source>
        <translation>Wird vorbereitet</translation>
    </message>
    <message>
        <source>Booting</source>
        <translation>Startet</translation>
    </message>
    <message>
        <source>Running</source>
        <translation>Läuft</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>Pausiert</translation>
    </message>
    <message>
        <source>Stopping</source>
        <translation>Wird gestoppt</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Gestoppt</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Ausgefallen</translation>
    </message>
    <message>
        <source>%1:%2:%3</source>
        <translation>%1:%2:%3</translation>
    </message>
    <message>
        <source>%1:%2</source>
        <translation>%1:%2</translation>
    </message>
</context>
<context>
    <name>Gui::WelcomePane</name>
    <message>
        <source>Create a VM…</source>
        <translation>VM erstellen …</translation>
    </message>
    <message>
        <source>Copy the API token</source>
        <translation>API-Token kopieren</translation>
    </message>
    <message>
        <source>Create a VM</source>
        <translation>VM erstellen</translation>
    </message>
    <message>
        <source>No VM selected</source>
        <translation>Keine VM ausgewählt</translation>
    </message>
    <message>
        <source>Select a VM in the list to see its display, console, files and what agents do in it.</source>
        <translation>Wählen Sie eine VM in der Liste, um ihren Bildschirm, ihre Konsole, ihre Dateien und das zu sehen, was Agenten darin tun.</translation>
    </message>
    <message>
        <source>Welcome to MicroVM Sandbox</source>
        <translation>Willkommen bei MicroVM Sandbox</translation>
    </message>
    <message>
        <source>&lt;p&gt;&lt;b&gt;Create&lt;/b&gt; a VM here: pick a template (a minimal Linux, a desktop, a browser for computer use) and it boots in seconds, isolated in its own microVM.&lt;/p&gt;</source>
        <translation>&lt;p&gt;&lt;b&gt;Erstellen&lt;/b&gt; Sie hier eine VM: Wählen Sie eine Vorlage (ein minimales Linux, einen Desktop, einen Browser für Computer Use), und sie startet in Sekunden, isoliert in ihrer eigenen MicroVM.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>&lt;p&gt;Or let an agent create them: the API is not served in this window (see Settings → Preferences).&lt;/p&gt;</source>
        <translation>&lt;p&gt;Oder lassen Sie einen Agenten sie erstellen: Die API wird in diesem Fenster nicht angeboten (siehe Einstellungen → Einstellungen …).&lt;/p&gt;</translation>
    </message>
    <message>
        <source>&lt;p&gt;Or point an agent at the API: copy the token, then ask &lt;code&gt;%1/api/v1/vms&lt;/code&gt; with it as a bearer token, e.g. &lt;code&gt;curl -H &quot;Authorization: Bearer $TOKEN&quot; %1/api/v1/vms -d &apos;{&quot;name&quot;:&quot;box&quot;,&quot;template&quot;:&quot;minimal&quot;}&apos;&lt;/code&gt;. Its VMs appear here as it makes them.&lt;/p&gt;</source>
        <translation>&lt;p&gt;Oder richten Sie einen Agenten auf die API: Kopieren Sie das Token und fragen Sie damit als Bearer-Token &lt;code&gt;%1/api/v1/vms&lt;/code&gt;, z. B. &lt;code&gt;curl -H &quot;Authorization: Bearer $TOKEN&quot; %1/api/v1/vms -d &apos;{&quot;name&quot;:&quot;box&quot;,&quot;template&quot;:&quot;minimal&quot;}&apos;&lt;/code&gt;. Seine VMs erscheinen hier, sobald er sie erstellt.&lt;/p&gt;</translation>
    </message>
</context>
</TS>
