#pragma once

#include <QObject>

class QSocketNotifier;

namespace App {

// Turns SIGINT/SIGTERM/SIGHUP into a Qt signal on the event loop (self-pipe),
// so teardown runs as normal code, never inside a signal handler.
class SignalWatcher final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SignalWatcher)
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

Q_SIGNALS:
    void terminationRequested(int signal);

private:
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace App
