// Gui::VmListModel against a real minimal guest (QEMU driver): a created VM
// appears as a row with its template, vCPUs and memory; its state column
// follows start and stop through VmManager's signals; uptime, CPU use and
// memory use are measured while it runs and are empty once stopped; removing it removes the row. Records found
// at construction are listed, and the sort proxy orders by number.

#include "e2efixture.h"

#include "app/gui/vmlistmodel.h"
#include "core/vm/vmmanager.h"

#include <QRegularExpression>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>

using namespace E2e;
using Gui::VmListModel;
using State = Vm::VirtualMachine::State;

namespace {

constexpr int kStartTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image

QString cell(const VmListModel &m, int row, int column)
{
    return m.data(m.index(row, column)).toString();
}

} // namespace

class TestVmListModel : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        m_driver = d.driver;
    }

    void headers()
    {
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("headers")));
        VmListModel model(manager);
        QCOMPARE(model.columnCount(), int(VmListModel::ColumnCount));
        QCOMPARE(model.rowCount(), 0);
        QStringList names;
        for (int c = 0; c < model.columnCount(); ++c)
            names << model.headerData(c, Qt::Horizontal).toString();
        QCOMPARE(names,
                 (QStringList{QStringLiteral("Name"), QStringLiteral("Template"), QStringLiteral("State"), QStringLiteral("vCPUs"), QStringLiteral("Memory"),
                              QStringLiteral("CPU"), QStringLiteral("Memory use"), QStringLiteral("Uptime")}));
        QCOMPARE(VmListModel::uptimeText(59), QStringLiteral("0:59"));
        QCOMPARE(VmListModel::uptimeText(3725), QStringLiteral("1:02:05"));
    }

    // Records on disk are rows at once; the proxy sorts numbers as numbers.
    void listsRecordsAndSorts()
    {
        const QString dir = m_home.filePath(QStringLiteral("records"));
        {
            Vm::VmManager manager(*m_driver, dir);
            for (auto [name, mem] : {std::pair{"a", 1024}, std::pair{"b", 128}, std::pair{"c", 512}})
                QVERIFY(manager.create({QLatin1String(name), QStringLiteral("minimal"), 1, mem}));
        }
        Vm::VmManager manager(*m_driver, dir);
        VmListModel model(manager);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(cell(model, 0, VmListModel::NameColumn), QStringLiteral("a"));
        QCOMPARE(cell(model, 0, VmListModel::MemoryColumn), QStringLiteral("1024 MiB"));
        QCOMPARE(cell(model, 0, VmListModel::StateColumn), QStringLiteral("Created"));
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(VmListModel::SortRole);
        proxy.sort(VmListModel::MemoryColumn, Qt::AscendingOrder);
        QStringList order;
        for (int r = 0; r < proxy.rowCount(); ++r)
            order << proxy.index(r, 0).data().toString();
        QCOMPARE(order, (QStringList{QStringLiteral("b"), QStringLiteral("c"), QStringLiteral("a")}));

        // Added in the middle, removed: rows follow, sorted by name.
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QVERIFY(manager.create({QStringLiteral("bb"), QStringLiteral("minimal"), 2, 256}));
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(model.rowOf(QStringLiteral("bb")), 2);
        QCOMPARE(cell(model, 2, VmListModel::VcpusColumn), QStringLiteral("2"));
        E2E_VERIFY_OK(await(manager.remove(QStringLiteral("a")), 10000));
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.rowOf(QStringLiteral("a")), -1);
        QCOMPARE(model.rowOf(QStringLiteral("bb")), 1);
    }

    // A real guest: the state column follows create, start, stop, remove.
    void followsARealGuest()
    {
        Vm::VmManager manager(*m_driver, m_home.filePath(QStringLiteral("real")));
        VmListModel model(manager);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

        QVERIFY(manager.create({QStringLiteral("box"), QStringLiteral("minimal"), 1, 256}));
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(cell(model, 0, VmListModel::NameColumn), QStringLiteral("box"));
        QCOMPARE(cell(model, 0, VmListModel::TemplateColumn), QStringLiteral("minimal"));
        QCOMPARE(cell(model, 0, VmListModel::StateColumn), QStringLiteral("Created"));
        QCOMPARE(cell(model, 0, VmListModel::VcpusColumn), QStringLiteral("1"));
        QCOMPARE(cell(model, 0, VmListModel::MemoryColumn), QStringLiteral("256 MiB"));
        QCOMPARE(cell(model, 0, VmListModel::UptimeColumn), QString());

        // The states seen in the model as they happen (no polling).
        QStringList seen;
        connect(&model, &QAbstractItemModel::dataChanged, this, [&](const QModelIndex &tl, const QModelIndex &br) {
            if (tl.column() <= VmListModel::StateColumn && br.column() >= VmListModel::StateColumn) {
                const QString s = cell(model, tl.row(), VmListModel::StateColumn);
                if (seen.isEmpty() || seen.last() != s)
                    seen << s;
            }
        });
        auto started = manager.start(QStringLiteral("box"));
        QVERIFY(cell(model, 0, VmListModel::StateColumn) != QStringLiteral("Created")); // Preparing/Booting at once
        E2E_VERIFY_OK(await(started, kStartTimeoutMs));
        QCOMPARE(cell(model, 0, VmListModel::StateColumn), QStringLiteral("Running"));
        QCOMPARE(model.data(model.index(0, 0), VmListModel::StateRole).toInt(), int(State::Ready));
        QVERIFY2(seen.contains(QStringLiteral("Booting")), qPrintable(seen.join(QLatin1Char(','))));
        QCOMPARE(seen.last(), QStringLiteral("Running"));

        // Uptime ticks (a 1 s timer) while it runs.
        QTRY_COMPARE_WITH_TIMEOUT(cell(model, 0, VmListModel::UptimeColumn), QStringLiteral("0:02"), 5000);

        // CPU use (the VMM's, on the host) and memory use (the guest's view).
        QTRY_VERIFY_WITH_TIMEOUT(!cell(model, 0, VmListModel::CpuColumn).isEmpty(), 3 * VmListModel::kUsageMs + 1000);
        QVERIFY2(QRegularExpression(QStringLiteral("^\\d+ %$")).match(cell(model, 0, VmListModel::CpuColumn)).hasMatch(),
                 qPrintable(cell(model, 0, VmListModel::CpuColumn)));
        QTRY_VERIFY_WITH_TIMEOUT(!cell(model, 0, VmListModel::MemoryUseColumn).isEmpty(), 3 * VmListModel::kUsageMs + 1000);
        // The CPU column's sparkline: the shares measured so far, the newest last.
        const auto history = [&model]() { return model.index(0, VmListModel::CpuColumn).data(VmListModel::CpuHistoryRole).value<QList<double>>(); };
        QTRY_VERIFY_WITH_TIMEOUT(history().size() >= 2, 4 * VmListModel::kUsageMs + 1000);
        QVERIFY(history().last() >= 0);
        QCOMPARE(QStringLiteral("%1 %").arg(history().last(), 0, 'f', 0), cell(model, 0, VmListModel::CpuColumn));
        const QRegularExpressionMatch mem = QRegularExpression(QStringLiteral("^(\\d+) / (\\d+) MiB$")).match(cell(model, 0, VmListModel::MemoryUseColumn));
        QVERIFY2(mem.hasMatch(), qPrintable(cell(model, 0, VmListModel::MemoryUseColumn)));
        QVERIFY(mem.captured(1).toInt() > 0);
        QVERIFY(mem.captured(1).toInt() < mem.captured(2).toInt());
        QVERIFY(mem.captured(2).toInt() <= 256);

        // Pause / resume keep the uptime going.
        E2E_VERIFY_OK(await(manager.pause(QStringLiteral("box")), 30000));
        QCOMPARE(cell(model, 0, VmListModel::StateColumn), QStringLiteral("Paused"));
        QVERIFY(!cell(model, 0, VmListModel::UptimeColumn).isEmpty());
        E2E_VERIFY_OK(await(manager.resume(QStringLiteral("box")), 30000));
        QCOMPARE(cell(model, 0, VmListModel::StateColumn), QStringLiteral("Running"));

        seen.clear();
        E2E_VERIFY_OK(await(manager.stop(QStringLiteral("box")), 60000));
        QCOMPARE(cell(model, 0, VmListModel::StateColumn), QStringLiteral("Stopped"));
        QCOMPARE(cell(model, 0, VmListModel::UptimeColumn), QString());
        QCOMPARE(cell(model, 0, VmListModel::CpuColumn), QString());
        QVERIFY(history().isEmpty());
        QCOMPARE(cell(model, 0, VmListModel::MemoryUseColumn), QString());
        QCOMPARE(seen, (QStringList{QStringLiteral("Stopping"), QStringLiteral("Stopped")}));

        E2E_VERIFY_OK(await(manager.remove(QStringLiteral("box")), 30000));
        QCOMPARE(model.rowCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestVmListModel)
#include "tst_vmlistmodel.moc"
