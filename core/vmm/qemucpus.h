#pragma once
// QEMU's vCPU hot-plug, as pure functions over query-hotpluggable-cpus: the
// slots -smp N,maxcpus=M made (each with its type and topology properties,
// and a QOM path once a vCPU is in it), and what to add or remove to get to
// a count. Slots fill from the lowest topology up and empty from the
// highest down, so the vCPUs present are always the first N slots: what
// -smp N,maxcpus=M boots with, which is how a snapshot of a resized VM is
// loaded again (QemuCommandLine).

#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include "core/expected.h"

namespace Vmm::QemuCpus {

struct Slot {
    QString type; // "max-x86_64-cpu"
    QJsonObject props; // {"socket-id": 0, "core-id": 1, "thread-id": 0}
    QString qomPath; // empty: no vCPU in the slot
    bool present() const { return !qomPath.isEmpty(); }
};

// The slots in topology order (socket, die, cluster, core, thread), from
// the command's answer ({"return": [...]}, as QmpClient wraps arrays).
// InvalidArgument when it is not that shape.
Core::Expected<QList<Slot>> parse(const QJsonObject &answer);

int present(const QList<Slot> &slots);

struct Plan {
    QList<QJsonObject> add; // device_add arguments, lowest slot first
    QStringList remove; // QOM paths for device_del, highest slot first
};
// InvalidArgument when target is below 1 or above the slots there are.
Core::Expected<Plan> plan(const QList<Slot> &slots, int target);

} // namespace Vmm::QemuCpus
