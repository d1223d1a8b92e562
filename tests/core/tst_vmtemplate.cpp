// Templates: the shipped ones parse; bad YAML and bad values give errors that
// name the file and the key.

#include "core/template/vmtemplate.h"

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
        QTest::newRow("no kernel") << QByteArray("name: x\n") << QStringLiteral("kernel.package");
        QTest::newRow("vcpus range") << QByteArray("name: x\nvcpus: 0\nkernel: {package: k}\n") << QStringLiteral("vcpus");
        QTest::newRow("vcpus type") << QByteArray("name: x\nvcpus: many\nkernel: {package: k}\n") << QStringLiteral("bad value");
        QTest::newRow("memory range") << QByteArray("name: x\nmemory_mb: 8\nkernel: {package: k}\n") << QStringLiteral("memory_mb");
        QTest::newRow("modules type") << QByteArray("name: x\nkernel: {package: k}\nimage: {modules: virtio}\n") << QStringLiteral("modules");
        QTest::newRow("absolute binary") << QByteArray("name: x\nkernel: {package: k}\nimage: {packages: [{name: p, binaries: [/etc/shadow]}]}\n")
                                         << QStringLiteral("relative");
        QTest::newRow("image type") << QByteArray("name: x\nkernel: {package: k}\nimage: {type: iso}\n") << QStringLiteral("iso");
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
