// Templates: the shipped ones parse; bad YAML and bad values give errors that
// name the file and the key.

#include "core/template/vmtemplate.h"

#include <QJsonArray>
#include <QSize>
#include <QTest>

class TestVmTemplate : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void shippedMinimalTemplate()
    {
        auto t = Templates::VmTemplate::fromFile(QStringLiteral(MVS_SOURCE_DIR "/templates/minimal.yaml"));
        QVERIFY2(t, qPrintable(t ? QString() : t.error().message));
        QCOMPARE(t->name, QStringLiteral("minimal"));
        QCOMPARE(t->vcpus, 1);
        QCOMPARE(t->memoryMiB, 256);
        QCOMPARE(t->image.kernelPackage, QStringLiteral("linux-image-cloud-amd64"));
        QVERIFY(t->image.modules.contains(QStringLiteral("virtio_console")));
        QCOMPARE(t->image.agentPortName, t->agentPortName);
        QCOMPARE(t->qemuMachine, QStringLiteral("q35"));
    }

    void shippedDesktopTemplate()
    {
        auto t = Templates::VmTemplate::fromFile(QStringLiteral(MVS_SOURCE_DIR "/templates/desktop.yaml"));
        QVERIFY2(t, qPrintable(t ? QString() : t.error().message));
        QCOMPARE(t->name, QStringLiteral("desktop"));
        QCOMPARE(t->memoryMiB, 1024);
        QCOMPARE(t->vcpus, 1);
        QVERIFY(t->image.hasRootDisk());
        const Templates::RootfsRecipe &r = t->image.rootfs;
        QCOMPARE(r.suite, QStringLiteral("bookworm"));
        QCOMPARE(r.variant, QStringLiteral("minbase"));
        QVERIFY(r.packages.contains(QStringLiteral("tigervnc-standalone-server")));
        QVERIFY(r.packages.contains(QStringLiteral("xdotool")));
        QVERIFY(r.hasDesktop());
        QVERIFY(r.diskSizeMiB >= 1024);
        QVERIFY(t->desktop.enabled);
        QCOMPARE(t->desktop.width, 1280);
        QCOMPARE(t->desktop.height, 800);
        QCOMPARE(t->desktop.vncPort, quint16(5900));
        QCOMPARE(t->desktop.kernelArgs(), QStringLiteral("mvs.desktop=1280x800x24 mvs.display=0 mvs.vnc_port=5900"));
        for (const char *m : {"virtio_pci", "virtio_blk", "ext4", "virtio_console"})
            QVERIFY(t->image.modules.contains(QLatin1String(m)));
        // The recipe (and so the cache key) carries the rootfs; the minimal one does not.
        QVERIFY(t->image.toJson().contains(QStringLiteral("rootfs")));
        auto minimal = Templates::VmTemplate::fromFile(QStringLiteral(MVS_SOURCE_DIR "/templates/minimal.yaml"));
        QVERIFY(minimal);
        QVERIFY(!minimal->image.toJson().contains(QStringLiteral("rootfs")));
        QVERIFY(!minimal->desktop.enabled);
        QVERIFY(minimal->desktop.kernelArgs().isEmpty());
    }

    void shippedAgentTemplate()
    {
        auto t = Templates::VmTemplate::fromFile(QStringLiteral(MVS_SOURCE_DIR "/templates/agent.yaml"));
        QVERIFY2(t, qPrintable(t ? QString() : t.error().message));
        QCOMPARE(t->name, QStringLiteral("agent"));
        QCOMPARE(t->aliases, (QStringList{QStringLiteral("linux-default"), QStringLiteral("ai-agent")}));
        QCOMPARE(t->vcpus, 1);
        QVERIFY(t->image.hasRootDisk());
        QVERIFY(!t->image.rootfs.hasDesktop());
        QVERIFY(!t->desktop.enabled);
        for (const char *p : {"python3", "python3-pip", "python3-venv", "python-is-python3", "python3-numpy", "python3-pandas", "python3-matplotlib",
                              "python3-ipykernel", "python3-jupyter-client", "nodejs", "npm", "git", "curl", "ca-certificates", "jq", "ripgrep"})
            QVERIFY2(t->image.rootfs.packages.contains(QLatin1String(p)), p);
        // The template states its egress policy: default deny, the package indexes allowed.
        QCOMPARE(t->network.mode, QStringLiteral("egress"));
        QCOMPARE(t->network.policy.defaultAction, Net::NetworkPolicy::Default::Deny);
        QStringList domains;
        for (const Net::PolicyRule &r : t->network.policy.allow) {
            domains << r.domain;
            QCOMPARE(r.ports.size(), 2);
            QCOMPARE(r.ports.at(1).first, quint16(443));
        }
        for (const char *d : {"pypi.org", "files.pythonhosted.org", "registry.npmjs.org", "github.com", "githubusercontent.com", "deb.debian.org"})
            QVERIFY2(domains.contains(QLatin1String(d)), d);
        QVERIFY(t->network.policy.deny.isEmpty());
    }

    void shippedComputerUseTemplate()
    {
        auto t = Templates::VmTemplate::load(QStringLiteral("computer_use"));
        QVERIFY2(t, qPrintable(t ? QString() : t.error().message));
        QCOMPARE(t->name, QStringLiteral("computer-use"));
        QVERIFY(t->desktop.enabled);
        QCOMPARE(QSize(t->desktop.width, t->desktop.height), QSize(1280, 800));
        const Templates::RootfsRecipe &r = t->image.rootfs;
        QCOMPARE(r.windowManager, QStringLiteral("jwm"));
        QCOMPARE(r.programs.size(), 1);
        QVERIFY(r.programs.first().startsWith(QLatin1String("chromium ")));
        QVERIFY(r.packages.contains(QStringLiteral("chromium")));
        QVERIFY(r.readyCheck.contains(QLatin1String("chromium")));
        QCOMPARE(t->network.mode, QStringLiteral("none"));
        // The desktop template has a readiness check too: the xterm focused.
        auto desktop = Templates::VmTemplate::load(QStringLiteral("desktop"));
        QVERIFY(desktop);
        QVERIFY(desktop->image.rootfs.readyCheck.contains(QLatin1String("XTerm")));
        QVERIFY(desktop->image.rootfs.programs.isEmpty());
    }

    // Programs and the readiness check are in the recipe (and so the disk's
    // key) only when set: other templates' keys stay what they were.
    void sessionCommandsInRecipe()
    {
        auto t = Templates::VmTemplate::fromFile(QStringLiteral(MVS_SOURCE_DIR "/templates/agent.yaml"));
        QVERIFY(t);
        const QJsonObject plain = t->image.rootfs.toJson();
        QVERIFY(!plain.contains(QStringLiteral("programs")) && !plain.contains(QStringLiteral("ready_check")));
        Templates::RootfsRecipe r = t->image.rootfs;
        r.programs << QStringLiteral("xclock");
        QCOMPARE(r.toJson().value(QStringLiteral("programs")).toArray().size(), 1);
        r = t->image.rootfs;
        r.readyCheck = QStringLiteral("true");
        QCOMPARE(r.toJson().value(QStringLiteral("ready_check")).toString(), QStringLiteral("true"));
    }

    void aliasesResolve()
    {
        for (const char *alias : {"linux-default", "ai-agent"}) {
            auto t = Templates::VmTemplate::load(QLatin1String(alias));
            QVERIFY2(t, qPrintable(t ? QString() : t.error().message));
            QCOMPARE(t->name, QStringLiteral("agent"));
        }
        auto agent = Templates::VmTemplate::load(QStringLiteral("agent"));
        QVERIFY(agent);
        // all() lists each template once, under its own name.
        int agents = 0;
        for (const Templates::VmTemplate &t : Templates::VmTemplate::all()) {
            QVERIFY(t.name != QLatin1String("linux-default") && t.name != QLatin1String("ai-agent"));
            agents += t.name == QLatin1String("agent");
        }
        QCOMPARE(agents, 1);
    }

    void rootfsRecipeKeyChanges()
    {
        auto t = Templates::VmTemplate::fromFile(QStringLiteral(MVS_SOURCE_DIR "/templates/desktop.yaml"));
        QVERIFY(t);
        const QJsonObject a = t->image.toJson();
        Templates::ImageRecipe r = t->image;
        r.rootfs.packages << QStringLiteral("htop");
        QVERIFY(a != r.toJson());
        r = t->image;
        r.rootfs.windowManager = QStringLiteral("twm");
        QVERIFY(a != r.toJson());
    }

    void loadByNameFromSearchPath()
    {
        auto t = Templates::VmTemplate::load(QStringLiteral("minimal"));
        QVERIFY(t);
        auto missing = Templates::VmTemplate::load(QStringLiteral("does-not-exist"));
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, Core::ErrorCode::NotFound);
        auto bad = Templates::VmTemplate::load(QStringLiteral("Bad Name"));
        QVERIFY(!bad);
        QCOMPARE(bad.error().code, Core::ErrorCode::InvalidArgument);
    }

    void recipeKeyChangesWithRecipe()
    {
        auto t = Templates::VmTemplate::load(QStringLiteral("minimal"));
        QVERIFY(t);
        Templates::ImageRecipe r = t->image;
        const QJsonObject a = r.toJson();
        r.modules << QStringLiteral("virtio_blk");
        QVERIFY(a != r.toJson());
    }

    void errors_data()
    {
        QTest::addColumn<QByteArray>("yaml");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("not yaml") << QByteArray("name: [unclosed") << QStringLiteral("not valid YAML");
        QTest::newRow("not a map") << QByteArray("- a\n- b\n") << QStringLiteral("mapping");
        QTest::newRow("unknown key") << QByteArray("name: x\nkernel: {package: k}\ncolour: red\n") << QStringLiteral("colour");
        QTest::newRow("no name") << QByteArray("kernel: {package: k}\n") << QStringLiteral("name");
        QTest::newRow("bad name") << QByteArray("name: Has Spaces\nkernel: {package: k}\n") << QStringLiteral("Has Spaces");
        QTest::newRow("name with newline") << QByteArray("name: \"x\\n\"\nkernel: {package: k}\n") << QStringLiteral("must be lowercase");
        QTest::newRow("aliases type") << QByteArray("name: x\naliases: y\nkernel: {package: k}\n") << QStringLiteral("aliases must be a list");
        QTest::newRow("bad alias") << QByteArray("name: x\naliases: [Y Z]\nkernel: {package: k}\n") << QStringLiteral("alias 'Y Z'");
        QTest::newRow("alias is the name") << QByteArray("name: x\naliases: [x]\nkernel: {package: k}\n") << QStringLiteral("listed twice");
        QTest::newRow("alias twice") << QByteArray("name: x\naliases: [y, y]\nkernel: {package: k}\n") << QStringLiteral("listed twice");
        QTest::newRow("no kernel") << QByteArray("name: x\n") << QStringLiteral("kernel.package");
        QTest::newRow("vcpus range") << QByteArray("name: x\nvcpus: 0\nkernel: {package: k}\n") << QStringLiteral("vcpus");
        QTest::newRow("vcpus type") << QByteArray("name: x\nvcpus: many\nkernel: {package: k}\n") << QStringLiteral("bad value");
        QTest::newRow("memory range") << QByteArray("name: x\nmemory_mb: 8\nkernel: {package: k}\n") << QStringLiteral("memory_mb");
        QTest::newRow("modules type") << QByteArray("name: x\nkernel: {package: k}\nimage: {modules: virtio}\n") << QStringLiteral("modules");
        QTest::newRow("absolute binary") << QByteArray("name: x\nkernel: {package: k}\nimage: {packages: [{name: p, binaries: [/etc/shadow]}]}\n")
                                         << QStringLiteral("relative");
        QTest::newRow("image type") << QByteArray("name: x\nkernel: {package: k}\nimage: {type: iso}\n") << QStringLiteral("iso");
        const QByteArray rootfsHead("name: x\nkernel: {package: k}\nimage:\n  type: rootfs\n  modules: [virtio_pci, virtio_blk, ext4]\n");
        QTest::newRow("rootfs missing") << QByteArray("name: x\nkernel: {package: k}\nimage: {type: rootfs, modules: [virtio_pci, virtio_blk, ext4]}\n")
                                        << QStringLiteral("image.rootfs");
        QTest::newRow("rootfs without type") << QByteArray("name: x\nkernel: {package: k}\nimage: {rootfs: {suite: bookworm}}\n")
                                             << QStringLiteral("needs image.type rootfs");
        QTest::newRow("rootfs unknown key") << rootfsHead + "  rootfs: {suite: bookworm, colour: red}\n" << QStringLiteral("image.rootfs.colour");
        QTest::newRow("rootfs suite") << rootfsHead + "  rootfs: {suite: \"Book Worm\"}\n" << QStringLiteral("image.rootfs.suite");
        QTest::newRow("rootfs mirror") << rootfsHead + "  rootfs: {mirror: \"ftp://x\"}\n" << QStringLiteral("image.rootfs.mirror");
        QTest::newRow("rootfs variant") << rootfsHead + "  rootfs: {variant: fakechroot}\n" << QStringLiteral("image.rootfs.variant");
        QTest::newRow("rootfs package") << rootfsHead + "  rootfs: {packages: [\"Xvnc;rm\"]}\n" << QStringLiteral("not a Debian package name");
        QTest::newRow("rootfs packages type") << rootfsHead + "  rootfs: {packages: xterm}\n" << QStringLiteral("image.rootfs.packages must be a list");
        QTest::newRow("rootfs remove absolute") << rootfsHead + "  rootfs: {remove: [/etc]}\n" << QStringLiteral("image.rootfs.remove");
        QTest::newRow("rootfs remove escapes") << rootfsHead + "  rootfs: {remove: [usr/../../etc]}\n" << QStringLiteral("inside it");
        QTest::newRow("rootfs disk size") << rootfsHead + "  rootfs: {disk_size_mb: 100}\n" << QStringLiteral("disk_size_mb");
        QTest::newRow("rootfs needs virtio_blk") << QByteArray("name: x\nkernel: {package: k}\nimage: {type: rootfs, modules: [virtio_pci], rootfs: {}}\n")
                                                 << QStringLiteral("virtio_blk");
        QTest::newRow("desktop without rootfs") << QByteArray("name: x\nkernel: {package: k}\ndesktop: {geometry: 800x600}\n")
                                                << QStringLiteral("needs image.type rootfs");
        const QByteArray desktopHead = rootfsHead + "  rootfs: {}\n";
        QTest::newRow("desktop not a map") << desktopHead + "desktop: yes\n" << QStringLiteral("'desktop' must be a mapping");
        QTest::newRow("desktop unknown key") << desktopHead + "desktop: {wallpaper: red}\n" << QStringLiteral("desktop.wallpaper");
        QTest::newRow("desktop geometry") << desktopHead + "desktop: {geometry: big}\n" << QStringLiteral("desktop.geometry");
        QTest::newRow("desktop geometry range") << desktopHead + "desktop: {geometry: 100x100}\n" << QStringLiteral("out of range");
        QTest::newRow("desktop depth") << desktopHead + "desktop: {depth: 12}\n" << QStringLiteral("desktop.depth");
        QTest::newRow("desktop display") << desktopHead + "desktop: {display: 99}\n" << QStringLiteral("desktop.display");
        QTest::newRow("desktop port") << desktopHead + "desktop: {vnc_port: 70000}\n" << QStringLiteral("desktop.vnc_port");
        QTest::newRow("desktop programs type") << desktopHead + "desktop: {programs: xclock}\n" << QStringLiteral("desktop.programs must be a list");
        QTest::newRow("desktop program quoted") << desktopHead + "desktop: {programs: [\"sh -c 'x'\"]}\n" << QStringLiteral("desktop.programs[0]");
        QTest::newRow("desktop too many programs") << desktopHead + "desktop: {programs: [a, b, c, d, e, f, g, h, i]}\n" << QStringLiteral("at most 8");
        QTest::newRow("desktop ready_check newline") << desktopHead + "desktop: {ready_check: \"true\\nfalse\"}\n" << QStringLiteral("desktop.ready_check");
        QTest::newRow("desktop port type") << desktopHead + "desktop: {vnc_port: vnc}\n" << QStringLiteral("bad value");
        QTest::newRow("desktop wm quote") << desktopHead + "desktop: {window_manager: \"wm '; reboot\"}\n" << QStringLiteral("desktop.window_manager");
        const QByteArray netHead("name: x\nkernel: {package: k}\n");
        QTest::newRow("network not a map") << netHead + "network: egress\n" << QStringLiteral("'network' must be a mapping");
        QTest::newRow("network unknown key") << netHead + "network: {mode: egress, nic: virtio}\n" << QStringLiteral("network.nic");
        QTest::newRow("network mode") << netHead + "network: {mode: bridge}\n" << QStringLiteral("network.mode");
        QTest::newRow("network private name") << netHead + "network: {mode: private}\n" << QStringLiteral("network.private_network");
        QTest::newRow("network policy without nic") << netHead + "network: {policy: {default: deny}}\n" << QStringLiteral("needs network.mode");
        QTest::newRow("network policy field") << netHead + "network: {mode: egress, policy: {default: deny, allow: [{cidr: 10.1.2.3/8}]}}\n"
                                              << QStringLiteral("network.policy.allow[0].cidr: '10.1.2.3/8'");
        QTest::newRow("network policy default") << netHead + "network: {mode: egress, policy: {allow: [a.test]}}\n" << QStringLiteral("network.policy.default");
        QTest::newRow("desktop empty terminal") << desktopHead + "desktop: {terminal: \"\"}\n" << QStringLiteral("desktop.terminal");
    }
    void networkSection()
    {
        const QByteArray yaml = "name: x\nkernel: {package: k}\nnetwork:\n  mode: egress\n  policy:\n    default: deny\n    allow:\n"
                                "      - pypi.org\n      - domain: \"*.pythonhosted.org\"\n        ports: [443]\n      - cidr: 203.0.113.0/24\n"
                                "        ports: [80/tcp, 8000-8100]\n    deny:\n      - ports: [25/tcp]\n";
        auto t = Templates::VmTemplate::fromYaml(yaml, QStringLiteral("test.yaml"));
        QVERIFY2(t, t ? "" : qPrintable(t.error().message));
        QCOMPARE(t->network.mode, QStringLiteral("egress"));
        QVERIFY(t->network.hasNic());
        const Net::NetworkPolicy &p = t->network.policy;
        QCOMPARE(p.defaultAction, Net::NetworkPolicy::Default::Deny);
        QCOMPARE(p.allow.size(), 3);
        QCOMPARE(p.allow.at(1).domain, QStringLiteral("*.pythonhosted.org"));
        QCOMPARE(p.allow.at(1).ports.at(0).first, quint16(443));
        QCOMPARE(p.allow.at(2).ports.size(), 2);
        QCOMPARE(p.deny.at(0).ports.at(0).protocol, Net::Transport::Tcp);
        // No section: no NIC, as before; egress without a policy denies everything.
        auto none = Templates::VmTemplate::fromYaml("name: x\nkernel: {package: k}\n", QStringLiteral("test.yaml"));
        QVERIFY(none && !none->network.hasNic());
        auto bare = Templates::VmTemplate::fromYaml("name: x\nkernel: {package: k}\nnetwork: {mode: egress}\n", QStringLiteral("test.yaml"));
        QVERIFY(bare && bare->network.policy.allow.isEmpty() && bare->network.policy.defaultAction == Net::NetworkPolicy::Default::Deny);
        auto priv =
            Templates::VmTemplate::fromYaml("name: x\nkernel: {package: k}\nnetwork: {mode: private, private_network: team-a}\n", QStringLiteral("test.yaml"));
        QVERIFY(priv && priv->network.privateNetwork == QLatin1String("team-a"));
    }

    void errors()
    {
        QFETCH(QByteArray, yaml);
        QFETCH(QString, mentions);
        auto t = Templates::VmTemplate::fromYaml(yaml, QStringLiteral("test.yaml"));
        QVERIFY(!t);
        QCOMPARE(t.error().code, Core::ErrorCode::Template);
        QVERIFY2(t.error().message.startsWith(QLatin1String("test.yaml: ")), qPrintable(t.error().message));
        QVERIFY2(t.error().message.contains(mentions), qPrintable(t.error().message));
    }
};

QTEST_GUILESS_MAIN(TestVmTemplate)
#include "tst_vmtemplate.moc"
