#include "core/vmm/qemucpus.h"

#include <algorithm>
#include <tuple>

namespace Vmm::QemuCpus {

namespace {

auto topology(const Slot &s)
{
    auto id = [&s](const char *key) { return s.props.value(QLatin1String(key)).toInt(0); };
    return std::make_tuple(id("socket-id"), id("die-id"), id("cluster-id"), id("core-id"), id("thread-id"));
}

// The device's id: from its place, so that each slot has its own.
QString deviceId(const Slot &s)
{
    const auto [socket, die, cluster, core, thread] = topology(s);
    return QStringLiteral("mvs-cpu-%1-%2-%3-%4-%5").arg(socket).arg(die).arg(cluster).arg(core).arg(thread);
}

} // namespace

Core::Expected<QList<Slot>> parse(const QJsonObject &answer)
{
    const QJsonValue list = answer.value(QStringLiteral("return"));
    if (!list.isArray())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("query-hotpluggable-cpus did not answer with a list"));
    QList<Slot> slots;
    for (const QJsonValue &v : list.toArray()) {
        const QJsonObject o = v.toObject();
        Slot s{o.value(QStringLiteral("type")).toString(), o.value(QStringLiteral("props")).toObject(), o.value(QStringLiteral("qom-path")).toString()};
        if (s.type.isEmpty() || s.props.isEmpty() || o.value(QStringLiteral("vcpus-count")).toInt(1) != 1)
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("query-hotpluggable-cpus named a slot without a type, a place or one vCPU"));
        slots.append(s);
    }
    std::sort(slots.begin(), slots.end(), [](const Slot &a, const Slot &b) { return topology(a) < topology(b); });
    return slots;
}

int present(const QList<Slot> &slots)
{
    return int(std::count_if(slots.begin(), slots.end(), [](const Slot &s) { return s.present(); }));
}

Core::Expected<Plan> plan(const QList<Slot> &slots, int target)
{
    if (target < 1 || target > slots.size())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("vcpus must be between 1 and %1, not %2").arg(slots.size()).arg(target));
    Plan p;
    int now = present(slots);
    for (qsizetype i = 0; i < slots.size() && now < target; ++i) {
        if (slots[i].present())
            continue;
        QJsonObject args = slots[i].props;
        args.insert(QStringLiteral("driver"), slots[i].type);
        args.insert(QStringLiteral("id"), deviceId(slots[i]));
        p.add.append(args);
        ++now;
    }
    for (qsizetype i = slots.size() - 1; i >= 0 && now > target; --i) {
        if (!slots[i].present())
            continue;
        p.remove.append(slots[i].qomPath);
        --now;
    }
    return p;
}

} // namespace Vmm::QemuCpus
