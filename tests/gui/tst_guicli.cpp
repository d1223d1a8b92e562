// `microvm-sandbox` with no arguments and no display: it says how to run
// headless (stderr) and exits 2, without constructing a window or crashing.
// With a display it would open the GUI, so the environment is stripped.
// With one (offscreen) the window opens with the API service inside it,
// started as the saved preferences say (listen address, data directory,
// driver); it answers, and SIGTERM ends it with exit code 0.

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QFile>
#include <QProcess>
#include <QSettings>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

class TestGuiCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void noDisplayPrintsHeadlessHint_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("display"); // DISPLAY, empty: unset
        QTest::newRow("no arguments") << QStringList() << QString();
        QTest::newRow("gui") << QStringList{QStringLiteral("gui")} << QString();
        // A display named but not running: Qt would abort; we say so instead.
        QTest::newRow("dead DISPLAY") << QStringList() << QStringLiteral(":9876");
    }

    void noDisplayPrintsHeadlessHint()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, display);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char *name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"})
            env.remove(QLatin1String(name));
        if (!display.isEmpty())
            env.insert(QStringLiteral("DISPLAY"), display);
        QProcess p;
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(MVS_APP_BINARY), args);
        QVERIFY(p.waitForStarted());
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 2);
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(err.contains("microvm-sandbox --serve"), err.constData());
        QVERIFY2(err.contains("--help"), err.constData());
        QVERIFY2(err.contains("no display"), err.constData());
        QCOMPARE(p.readAllStandardOutput(), QByteArray());
    }

    void guiServesTheApi()
    {
        QTemporaryDir home;
        QVERIFY(home.isValid());
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.remove(QStringLiteral("MVS_DATA_DIR"));
        env.remove(QStringLiteral("MVS_DRIVER"));
        env.insert(QStringLiteral("MVS_CONFIG_DIR"), home.filePath(QStringLiteral("config")));
        env.insert(QStringLiteral("MVS_TOKEN"), QStringLiteral("gui-cli-token"));
        // The saved preferences: an ephemeral port, a data directory, QEMU.
        {
            QSettings prefs(home.filePath(QStringLiteral("config/gui.conf")), QSettings::IniFormat);
            prefs.setValue(QStringLiteral("service/listen"), QStringLiteral("127.0.0.1:0"));
            prefs.setValue(QStringLiteral("service/data_dir"), home.filePath(QStringLiteral("prefs-data")));
            prefs.setValue(QStringLiteral("vmm/driver"), QStringLiteral("qemu"));
        }
        QProcess p;
        p.setProcessEnvironment(env);
        p.setReadChannel(QProcess::StandardError);
        p.start(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("gui")});
        QVERIFY(p.waitForStarted());
        QByteArray err;
        const QRegularExpression served(QStringLiteral("serving the API on (http://127\\.0\\.0\\.1:\\d+)"));
        QRegularExpressionMatch m;
        QDeadlineTimer deadline(30000);
        while (!(m = served.match(QString::fromUtf8(err))).hasMatch() && !deadline.hasExpired() && p.state() == QProcess::Running) {
            p.waitForReadyRead(100);
            err += p.readAllStandardError();
        }
        QVERIFY2(m.hasMatch(), err.constData());

        QNetworkAccessManager nam;
        QNetworkRequest req(QUrl(m.captured(1) + QStringLiteral("/api/v1/vms")));
        req.setRawHeader("Authorization", "Bearer gui-cli-token");
        QNetworkReply *reply = nam.get(req);
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 10000);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QVERIFY(reply->readAll().contains("\"vms\""));
        delete reply;
        // A VM record lands in the data directory of the preferences.
        QNetworkRequest create(QUrl(m.captured(1) + QStringLiteral("/api/v1/vms")));
        create.setRawHeader("Authorization", "Bearer gui-cli-token");
        create.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        reply = nam.post(create, QByteArrayLiteral(R"({"name": "kept", "template": "minimal", "start": false})"));
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 10000);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 201);
        delete reply;
        QVERIFY(QFile::exists(home.filePath(QStringLiteral("prefs-data/vms/kept.json"))));

        ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 0);
    }

    void guiUsageError()
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        QProcess p;
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("gui"), QStringLiteral("--bogus")});
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY(p.readAllStandardError().contains("unknown option --bogus"));
    }

    // --help still works and mentions the GUI.
    void helpMentionsGui()
    {
        QProcess p;
        p.start(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("--help")});
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(p.readAllStandardOutput().contains("microvm-sandbox [gui]"));
    }
};

QTEST_GUILESS_MAIN(TestGuiCli)
#include "tst_guicli.moc"
