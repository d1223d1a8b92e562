#pragma once

#include "core/async.h"

#include <QObject>
#include <QSet>
#include <QString>
#include <QTimer>

#include <map>
#include <optional>

namespace Vm {
class VmManager;
}

namespace Server {

// Pauses a running VM that nobody used for a while (or, as set, snapshots
// and stops it), and resumes it on its own at the next request that uses
// it. Use is a request on one of the
// VM's routes that an operator may call (wake(); a viewer's read, such as
// GET /api/v1/vms/{name} or .../stats, neither wakes nor keeps it awake) or
// an open exec or viewer WebSocket (hold() ... release()). The checker runs every kCheckMs once an idle time is set; a
// VM is paused only when it runs, nothing holds it and nothing touched it
// for that long. A VM paused by a person (POST .../pause) is theirs: it is
// never resumed here. Nothing is lost by the pause: the guest's memory,
// files and processes stay as they were (a pause stops the vCPUs, it does
// not save or stop anything), and the first request after it runs once the
// VM runs again.
class IdlePause final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(IdlePause)
public:
    static constexpr int kCheckMs = 1000;
    static constexpr const char *kSnapshotName = "idle-stop";
    enum class Action { Pause, SnapshotAndStop };
    // "pause" or "snapshot" (config idle_action); nullopt for anything else.
    static std::optional<Action> parseAction(const QString &text);

    // The manager must outlive this. Off until setIdleAfterMs().
    explicit IdlePause(Vm::VmManager &manager, QObject *parent = nullptr);

    // 0: off (and every VM this paused is resumed).
    void setIdleAfterMs(qint64 ms);
    qint64 idleAfterMs() const { return m_idleAfterMs; }
    void setAction(Action action) { m_action = action; }
    Action action() const { return m_action; }

    // The VM is used now: resolves once it runs (resumed when this paused
    // it; at once otherwise, whatever its state).
    Core::Future<void> wake(const QString &vm);
    // An open connection to the VM (exec or viewer WebSocket) keeps it from
    // being paused until its release().
    void hold(const QString &vm);
    void release(const QString &vm);
    // Paused by this and not yet resumed.
    bool pausedForIdle(const QString &vm) const { return m_paused.contains(vm); }
    // Snapshotted and stopped by this and not yet restored.
    bool stoppedForIdle(const QString &vm) const { return m_stopped.contains(vm); }

    // One round of the checker (what its timer does).
    void check();

Q_SIGNALS:
    void pausedIdle(const QString &vm);
    void resumedOnUse(const QString &vm);

private:
    void pauseIdle(const QString &vm);
    void snapshotAndStop(const QString &vm);
    void stopSnapshotted(const QString &vm);
    void idleStepDone(const QString &vm);
    Core::Future<void> restoreIdle(const QString &vm);
    bool hasIdleSnapshot(const QString &vm) const;
    bool isStoppedWithSnapshot(const QString &vm) const;
    void forget(const QString &vm);

    Vm::VmManager &m_manager;
    QTimer m_timer;
    qint64 m_idleAfterMs = 0;
    Action m_action = Action::Pause;
    std::map<QString, qint64> m_lastUse; // ms since the epoch
    std::map<QString, int> m_holds;
    QSet<QString> m_pausing; // a pause of ours is under way
    QSet<QString> m_paused; // paused by us
    QSet<QString> m_stopped; // snapshotted and stopped by us
    std::map<QString, QList<Core::Promise<void>>> m_waiting; // wake()s that came while a pause was under way
};

} // namespace Server
