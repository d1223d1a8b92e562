#pragma once
// Desktop::VmDisplay: the one VNC connection to a VM's desktop, shared by
// every viewer in the app and by the computer-use API.
//
// The guest's VNC server (Xvnc on the guest's loopback) is reached through
// the guest agent: a Vm::PortForward exposes it as a private Unix socket in
// the VM's runtime directory and a Vnc::VncConnection (libvncclient on its
// own thread) connects there. Connecting is lazy and retried until the
// desktop is up; a connection that breaks is dropped and made again on the
// next request. A guest whose screen is larger than the limit
// (kMaxGuestScreenWidth x kMaxGuestScreenHeight, or its template's) is
// refused at once with InvalidState naming the size, not retried.
//
// Control arbitration: by default the agent (API) drives. A human who takes
// control makes agent input fail with InvalidState until they release it;
// screenshots keep working for everyone.

#include "core/async.h"
#include "desktop/inputaction.h"
#include "vncview/vncconnection.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QImage>
#include <QObject>
#include <QPointer>
#include <QSize>
#include <QTimer>

namespace Vm {
class PortForward;
class VirtualMachine;
} // namespace Vm

namespace Desktop {

class VmDisplay final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmDisplay)
public:
    enum class Controller { Agent, Human };
    Q_ENUM(Controller)

    static constexpr int kConnectTimeoutMs = 60000; // desktop still coming up: keep retrying this long
    static constexpr int kRetryMs = 500;
    // A screenshot taken soon after input waits for the screen to settle:
    // an update after the input, then kSettleMs without one, at most kFreshMaxMs.
    static constexpr int kInputRecentMs = 3000;
    static constexpr int kSettleMs = 150;
    static constexpr int kFreshMaxMs = 2000;
    static constexpr int kButtonPauseMs = 25;
    // The largest screen a guest may announce: its template's size or 4K
    // UHD, whichever is larger (a larger one ends the connection).
    static constexpr int kMaxGuestScreenWidth = 3840;
    static constexpr int kMaxGuestScreenHeight = 2160;

    // What waiters get when the guest's VNC server announced a screen above
    // the limit (VncConnection::Error::ScreenTooLarge; `why` names the size).
    static Core::Error screenTooLarge(const QString &vmName, const QString &why);

    // The VM must be running and outlive this object (DisplayHub drops its
    // displays when their VM stops).
    VmDisplay(Vm::VirtualMachine &vm, quint16 guestVncPort, QObject *parent = nullptr);
    ~VmDisplay() override;

    QString vmName() const { return m_vmName; }

    // Resolves once the VNC session is up (the framebuffer size is known).
    Core::Future<void> ensureConnected();
    bool isConnected() const;
    // The live connection (nullptr when not connected): widgets show it.
    Vnc::VncConnection *connection() const { return m_vnc; }
    QSize size() const;
    // The local Unix socket that reaches the guest's VNC server (another
    // RFB client may connect there, e.g. for a WebSocket relay).
    QString socketPath() const;

    // The current framebuffer (fresh after recent input, see above).
    Core::Future<QImage> screenshot();

    // Readiness: the template's own check (desktop.ready_check), run in the
    // guest's session, which creates kReadyFile once it succeeds (removed
    // when Xvnc restarts); asked through the agent. A template without a
    // check is ready at once. Once seen ready, the display stays ready until
    // its VNC connection breaks. Every byte from the guest is hostile: a
    // guest that lies only hurts its own screenshots.
    static constexpr const char *kReadyFile = "/run/mvs-desktop-ready";
    static constexpr int kReadyPollMs = 500;
    // The most a check waits for the agent's stat: a hung or busy agent is
    // "not ready" then, rather than holding its caller.
    static constexpr int kReadyStatDeadlineMs = 2000;
    Core::Future<bool> checkReady(int statDeadlineMs = kReadyStatDeadlineMs);
    // Polls checkReady() until it is true or waitMs have passed: at most
    // waitMs, or one check (kReadyStatDeadlineMs) when waitMs is shorter.
    Core::Future<bool> waitReady(int waitMs);
    bool isReady() const { return m_ready; }

    // Apply actions in order; resolves once the last event was sent. Refused
    // as a whole (InvalidState) while a human holds control and who is
    // Agent; InvalidArgument when an action does not fit the screen or does
    // not parse. Button presses and releases are paced (kButtonPauseMs):
    // Xvnc applies a burst of RFB pointer events with the last position.
    Core::Future<void> perform(const QList<InputAction> &actions, Controller who);

    Controller controller() const { return m_controller; }
    bool humanHasControl() const { return m_controller == Controller::Human; }
    void setController(Controller controller);

Q_SIGNALS:
    void controllerChanged(Desktop::VmDisplay::Controller controller);
    void connectedChanged(bool connected);

private:
    void connectNow();
    void onConnected();
    void onDisconnected(Vnc::VncConnection::Error error, const QString &why);
    void failWaiters(const Core::Error &error);
    struct Step {
        enum class Kind { Pointer, Text, Combo, Done };
        Kind kind = Kind::Pointer;
        QPoint at;
        int mask = 0;
        QString text;
        Core::Promise<void> done; // Kind::Done
    };
    void pointer(int x, int y, int mask);
    Core::Result check(const InputAction &action) const;
    void plan(const InputAction &action);
    void pump();
    void finishScreenshots(bool force);
    void pollReady(const Core::Promise<bool> &promise, const QDeadlineTimer &deadline);

    QPointer<Vm::VirtualMachine> m_vm;
    QString m_vmName;
    quint16 m_guestPort;
    QPointer<Vm::PortForward> m_forward;
    Vnc::VncConnection *m_vnc = nullptr;
    bool m_connected = false;
    QElapsedTimer m_connectStarted;
    QTimer m_retryTimer;
    QString m_lastConnectError;
    QList<Core::Promise<void>> m_connectWaiters;
    bool m_ready = false;

    Controller m_controller = Controller::Agent;
    QPoint m_pointer; // where the planned steps leave the pointer
    int m_sentMask = 0; // the button mask last sent
    QList<Step> m_steps; // planned, not sent yet
    QTimer m_stepTimer;
    QElapsedTimer m_sinceInput; // invalid: no input yet
    quint64 m_framesAtInput = 0;
    struct ShotWaiter {
        Core::Promise<QImage> promise;
        QElapsedTimer age;
    };
    QList<ShotWaiter> m_shotWaiters;
    QElapsedTimer m_sinceFrame;
    QTimer m_settleTimer;
};

} // namespace Desktop
