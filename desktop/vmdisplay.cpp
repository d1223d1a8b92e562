#include "desktop/vmdisplay.h"

#include "core/agent/agentclient.h"
#include "core/log.h"
#include "core/vm/portforward.h"
#include "core/vm/virtualmachine.h"
#include "vncview/keysyms.h"
#include "vncview/vncconnection.h"

#include <algorithm>

namespace Desktop {

namespace {

int buttonMask(InputAction::Button b)
{
    switch (b) {
    case InputAction::Button::Left: return Vnc::VncConnection::LeftButton;
    case InputAction::Button::Middle: return Vnc::VncConnection::MiddleButton;
    case InputAction::Button::Right: return Vnc::VncConnection::RightButton;
    }
    return Vnc::VncConnection::LeftButton;
}

} // namespace

VmDisplay::VmDisplay(Vm::VirtualMachine &vm, quint16 guestVncPort, QObject *parent)
    : QObject(parent)
    , m_vm(&vm)
    , m_vmName(vm.name())
    , m_guestPort(guestVncPort)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &VmDisplay::connectNow);
    m_settleTimer.setSingleShot(true);
    m_stepTimer.setSingleShot(true);
    connect(&m_stepTimer, &QTimer::timeout, this, &VmDisplay::pump);
    connect(&m_settleTimer, &QTimer::timeout, this, [this]() { finishScreenshots(false); });
}

VmDisplay::~VmDisplay()
{
    failWaiters(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("the display of %1 was closed").arg(m_vmName)));
    if (m_vnc) {
        m_vnc->disconnect(this);
        m_vnc->stopAndDeleteLater();
        m_vnc = nullptr;
    }
    delete m_forward.data();
}

bool VmDisplay::isConnected() const
{
    return m_connected && m_vnc;
}

QSize VmDisplay::size() const
{
    return isConnected() ? m_vnc->frameSize() : QSize();
}

QString VmDisplay::socketPath() const
{
    return m_forward ? m_forward->unixSocketPath() : QString();
}

Core::Future<void> VmDisplay::ensureConnected()
{
    if (isConnected())
        return Core::readyFuture();
    Core::Promise<void> p;
    m_connectWaiters << p;
    if (!m_vnc && !m_retryTimer.isActive()) {
        m_connectStarted.start();
        m_lastConnectError.clear();
        connectNow();
    }
    return p.future();
}

void VmDisplay::connectNow()
{
    if (!m_vm) {
        failWaiters(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is gone").arg(m_vmName)));
        return;
    }
    if (!m_forward) {
        auto forward = m_vm->forward(m_guestPort);
        if (!forward) {
            failWaiters(forward.error());
            return;
        }
        m_forward = *forward;
        m_forward->setParent(this);
    }
    m_vnc = new Vnc::VncConnection(this);
    const Templates::DesktopSpec &desktop = m_vm->vmTemplate().desktop;
    m_vnc->setMaxScreenSize(QSize(qMax(desktop.width, kMaxGuestScreenWidth), qMax(desktop.height, kMaxGuestScreenHeight)));
    connect(m_vnc, &Vnc::VncConnection::connected, this, &VmDisplay::onConnected);
    connect(m_vnc, &Vnc::VncConnection::disconnected, this, &VmDisplay::onDisconnected);
    connect(m_vnc, &Vnc::VncConnection::frameUpdated, this, [this]() {
        m_sinceFrame.start();
        if (!m_shotWaiters.isEmpty())
            m_settleTimer.start(kSettleMs);
    });
    m_vnc->connectToUnixSocket(m_forward->unixSocketPath());
}

void VmDisplay::onConnected()
{
    m_connected = true;
    Core::Log::core()->info("display of {}: connected, {}x{}", m_vmName.toStdString(), m_vnc->frameSize().width(), m_vnc->frameSize().height());
    const auto waiters = std::exchange(m_connectWaiters, {});
    for (const auto &w : waiters)
        w.resolve(Core::Expected<void>());
    Q_EMIT connectedChanged(true);
}

Core::Future<bool> VmDisplay::checkReady(int statDeadlineMs)
{
    if (m_ready)
        return Core::readyFuture<bool>(true);
    if (!m_vm)
        return Core::readyFuture<bool>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is gone").arg(m_vmName)));
    if (m_vm->vmTemplate().image.rootfs.readyCheck.isEmpty()) {
        m_ready = true;
        return Core::readyFuture<bool>(true);
    }
    Agent::AgentClient *agent = m_vm->agent();
    if (!agent)
        return Core::readyFuture<bool>(false);
    Core::Promise<bool> p;
    Core::whenDone(agent->stat(QLatin1String(kReadyFile), statDeadlineMs), this, [this, p](const Core::Expected<Agent::FileInfo> &r) {
        // Any other answer (not there yet, the agent busy restarting or
        // not answering within the deadline) is "not yet".
        if (r && r->type == Agent::FileInfo::Type::Regular && !m_ready) {
            m_ready = true;
            Core::Log::core()->info("display of {}: ready", m_vmName.toStdString());
        }
        p.resolve(m_ready);
    });
    return p.future();
}

Core::Future<bool> VmDisplay::waitReady(int waitMs)
{
    Core::Promise<bool> p;
    pollReady(p, QDeadlineTimer(waitMs));
    return p.future();
}

void VmDisplay::pollReady(const Core::Promise<bool> &promise, const QDeadlineTimer &deadline)
{
    // A check ends with the wait (one with no time left gets kReadyStatDeadlineMs).
    const qint64 left = deadline.remainingTime();
    const int statMs = static_cast<int>(left > 0 ? std::min<qint64>(left, kReadyStatDeadlineMs) : kReadyStatDeadlineMs);
    Core::whenDone(checkReady(statMs), this, [this, promise, deadline](const Core::Expected<bool> &r) {
        if (!r || *r || deadline.hasExpired())
            return promise.resolve(r);
        const int pause = static_cast<int>(std::min<qint64>(kReadyPollMs, std::max<qint64>(1, deadline.remainingTime())));
        QTimer::singleShot(pause, this, [this, promise, deadline]() { pollReady(promise, deadline); });
    });
}

void VmDisplay::onDisconnected(Vnc::VncConnection::Error error, const QString &why)
{
    const bool wasConnected = m_connected;
    m_connected = false;
    m_ready = false; // Xvnc may have restarted: a new session to wait for
    if (m_vnc) {
        m_vnc->disconnect(this);
        m_vnc->stopAndDeleteLater();
        m_vnc = nullptr;
    }
    if (wasConnected) {
        Core::Log::core()->info("display of {}: disconnected: {}", m_vmName.toStdString(), why.toStdString());
        Q_EMIT connectedChanged(false);
    }
    // The guest's screen is too large to take: no retry makes it smaller.
    if (error == Vnc::VncConnection::Error::ScreenTooLarge) {
        failWaiters(screenTooLarge(m_vmName, why));
        return;
    }
    if (wasConnected) {
        failWaiters(Core::Error(Core::ErrorCode::Io, QStringLiteral("the display of %1 was lost: %2").arg(m_vmName, why)));
        return;
    }
    // Not up yet (the desktop may still be starting): retry until the deadline.
    m_lastConnectError = why;
    if (!m_connectWaiters.isEmpty() && m_connectStarted.isValid() && m_connectStarted.elapsed() < kConnectTimeoutMs) {
        m_retryTimer.start(kRetryMs);
        return;
    }
    failWaiters(Core::Error(Core::ErrorCode::Timeout,
                            QStringLiteral("no VNC server answered in %1 on guest port %2 within %3 s (last: %4)")
                                .arg(m_vmName)
                                .arg(m_guestPort)
                                .arg(kConnectTimeoutMs / 1000)
                                .arg(why)));
}

Core::Error VmDisplay::screenTooLarge(const QString &vmName, const QString &why)
{
    return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the display of %1 is refused: %2").arg(vmName, why));
}

void VmDisplay::failWaiters(const Core::Error &error)
{
    const auto waiters = std::exchange(m_connectWaiters, {});
    for (const auto &w : waiters)
        w.resolve(error);
    const auto shots = std::exchange(m_shotWaiters, {});
    for (const auto &s : shots)
        s.promise.resolve(error);
}

Core::Future<QImage> VmDisplay::screenshot()
{
    Core::Promise<QImage> p;
    ShotWaiter w{p, {}};
    w.age.start();
    m_shotWaiters << w;
    Core::whenDone(ensureConnected(), this, [this](const Core::Expected<void> &r) {
        if (!r) {
            const auto shots = std::exchange(m_shotWaiters, {});
            for (const auto &s : shots)
                s.promise.resolve(r.error());
            return;
        }
        finishScreenshots(false);
    });
    return p.future();
}

// Answer the screenshot waiters whose frame is fresh enough: no input
// recently, or an update since the input and the screen quiet since, or
// waited kFreshMaxMs.
void VmDisplay::finishScreenshots(bool force)
{
    if (!isConnected() || m_shotWaiters.isEmpty())
        return;
    const bool inputRecent = m_sinceInput.isValid() && m_sinceInput.elapsed() < kInputRecentMs;
    const bool updatedSinceInput = m_vnc->frameCount() > m_framesAtInput;
    const bool quiet = !m_sinceFrame.isValid() || m_sinceFrame.elapsed() >= kSettleMs;
    QList<ShotWaiter> keep;
    QImage frame;
    int soonestMs = kFreshMaxMs;
    for (const ShotWaiter &w : std::as_const(m_shotWaiters)) {
        const bool expired = w.age.elapsed() >= kFreshMaxMs;
        const bool ready = m_vnc->frameCount() > 0 && (force || expired || !inputRecent || (updatedSinceInput && quiet));
        if (!ready) {
            keep << w;
            soonestMs = qMin<int>(soonestMs, kFreshMaxMs - static_cast<int>(w.age.elapsed()));
            continue;
        }
        if (frame.isNull())
            frame = m_vnc->snapshot();
        w.promise.resolve(frame);
    }
    m_shotWaiters = keep;
    if (!m_shotWaiters.isEmpty())
        m_settleTimer.start(qBound(10, updatedSinceInput ? kSettleMs : soonestMs, kFreshMaxMs));
}

void VmDisplay::setController(Controller controller)
{
    if (m_controller == controller)
        return;
    m_controller = controller;
    Core::Log::core()->info("display of {}: {} has control", m_vmName.toStdString(), controller == Controller::Human ? "a human" : "the agent");
    Q_EMIT controllerChanged(controller);
}

Core::Result VmDisplay::check(const InputAction &a) const
{
    const QSize screen = size();
    auto inside = [&](QPoint p, const char *what) -> Core::Result {
        if (p.x() < 0 || p.y() < 0 || p.x() >= screen.width() || p.y() >= screen.height())
            return Core::Error(Core::ErrorCode::InvalidArgument,
                               QStringLiteral("%1 (%2, %3) is outside the %4x%5 screen")
                                   .arg(QLatin1String(what))
                                   .arg(p.x())
                                   .arg(p.y())
                                   .arg(screen.width())
                                   .arg(screen.height()));
        return {};
    };
    switch (a.kind) {
    case InputAction::Kind::Move: return inside(a.point, "the point");
    case InputAction::Kind::Click:
        if (a.count < 1 || a.count > InputAction::kMaxClickCount)
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("a click count is 1 to %1").arg(InputAction::kMaxClickCount));
        return a.hasPoint ? inside(a.point, "the point") : Core::Result();
    case InputAction::Kind::Drag:
        if (auto r = inside(a.point, "the start"); !r)
            return r;
        return inside(a.to, "the end");
    case InputAction::Kind::Scroll:
        if (qAbs(a.scrollX) > InputAction::kMaxScroll || qAbs(a.scrollY) > InputAction::kMaxScroll || (a.scrollX == 0 && a.scrollY == 0))
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("scroll needs dx or dy, each at most %1 notches").arg(InputAction::kMaxScroll));
        return a.hasPoint ? inside(a.point, "the point") : Core::Result();
    case InputAction::Kind::Type:
        if (a.text.isEmpty() || a.text.size() > InputAction::kMaxTextLength)
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("type needs text of 1 to %1 characters").arg(InputAction::kMaxTextLength));
        return {};
    case InputAction::Kind::Key:
        if (!Vnc::Keysyms::parseCombo(a.text))
            return Core::Error(Core::ErrorCode::InvalidArgument,
                               QStringLiteral("'%1' is not a key combination (e.g. \"Return\", \"ctrl+alt+t\", \"shift+Tab\")").arg(a.text));
        return {};
    }
    return {};
}

Core::Future<void> VmDisplay::perform(const QList<InputAction> &actions, Controller who)
{
    if (who == Controller::Agent && m_controller == Controller::Human)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState,
                        QStringLiteral("a human has taken control of the display of %1: agent input is refused until they release it "
                                       "(screenshots still work)")
                            .arg(m_vmName)));
    if (!isConnected())
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the display of %1 is not connected").arg(m_vmName)));
    for (const InputAction &a : actions) {
        if (auto r = check(a); !r)
            return Core::readyFuture<void>(r.error());
    }
    for (const InputAction &a : actions)
        plan(a);
    Step done;
    done.kind = Step::Kind::Done;
    m_steps << done;
    const Core::Future<void> f = done.done.future();
    if (!m_stepTimer.isActive())
        pump();
    return f;
}

void VmDisplay::pointer(int x, int y, int mask)
{
    m_pointer = QPoint(x, y);
    Step s;
    s.at = m_pointer;
    s.mask = mask;
    m_steps << s;
}

void VmDisplay::plan(const InputAction &a)
{
    const QPoint at = a.hasPoint ? a.point : m_pointer;
    switch (a.kind) {
    case InputAction::Kind::Move: pointer(a.point.x(), a.point.y(), 0); break;
    case InputAction::Kind::Click:
        pointer(at.x(), at.y(), 0);
        for (int i = 0; i < a.count; ++i) {
            pointer(at.x(), at.y(), buttonMask(a.button));
            pointer(at.x(), at.y(), 0);
        }
        break;
    case InputAction::Kind::Drag: {
        const int mask = buttonMask(a.button);
        pointer(a.point.x(), a.point.y(), 0);
        pointer(a.point.x(), a.point.y(), mask);
        // Intermediate motion, so that the guest sees a drag, not a jump.
        constexpr int kSteps = 8;
        for (int i = 1; i <= kSteps; ++i) {
            const QPoint p = a.point + (a.to - a.point) * i / kSteps;
            pointer(p.x(), p.y(), mask);
        }
        pointer(a.to.x(), a.to.y(), 0);
        break;
    }
    case InputAction::Kind::Scroll: {
        pointer(at.x(), at.y(), 0);
        auto notch = [&](int mask, int n) {
            for (int i = 0; i < n; ++i) {
                pointer(at.x(), at.y(), mask);
                pointer(at.x(), at.y(), 0);
            }
        };
        notch(a.scrollY > 0 ? Vnc::VncConnection::WheelDown : Vnc::VncConnection::WheelUp, qAbs(a.scrollY));
        notch(a.scrollX > 0 ? Vnc::VncConnection::WheelRight : Vnc::VncConnection::WheelLeft, qAbs(a.scrollX));
        break;
    }
    case InputAction::Kind::Type:
    case InputAction::Kind::Key: {
        Step s;
        s.kind = a.kind == InputAction::Kind::Type ? Step::Kind::Text : Step::Kind::Combo;
        s.text = a.text;
        m_steps << s;
        break;
    }
    }
}

// Send planned steps; pause after a button change so that Xvnc applies it
// at its own position before the next motion arrives.
void VmDisplay::pump()
{
    while (!m_steps.isEmpty()) {
        Step s = m_steps.takeFirst();
        if (s.kind == Step::Kind::Done) {
            m_framesAtInput = m_vnc ? m_vnc->frameCount() : 0;
            m_sinceInput.start();
            s.done.resolve(Core::Expected<void>());
            continue;
        }
        if (!isConnected()) {
            // Lost midway: fail what is left.
            for (const Step &rest : std::as_const(m_steps)) {
                if (rest.kind == Step::Kind::Done)
                    rest.done.resolve(Core::Error(Core::ErrorCode::Io, QStringLiteral("the display of %1 was lost during input").arg(m_vmName)));
            }
            m_steps.clear();
            return;
        }
        m_framesAtInput = m_vnc->frameCount();
        m_sinceInput.start();
        switch (s.kind) {
        case Step::Kind::Pointer: {
            const bool buttonsChanged = s.mask != m_sentMask;
            m_sentMask = s.mask;
            m_vnc->sendPointer(s.at.x(), s.at.y(), s.mask);
            if (buttonsChanged) {
                m_stepTimer.start(kButtonPauseMs);
                return;
            }
            break;
        }
        case Step::Kind::Text: m_vnc->sendText(s.text); break;
        case Step::Kind::Combo: m_vnc->sendKeyCombo(s.text); break;
        case Step::Kind::Done: break;
        }
    }
}

} // namespace Desktop
