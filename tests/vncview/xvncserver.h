#pragma once
// A throwaway TigerVNC Xvnc on a free display for the VNC tests and bench:
// TCP on a free port or a Unix socket, optional VNC password, and helpers
// that run X clients (xsetroot, xdotool, xterm) against it.

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QPoint>
#include <QProcess>
#include <QSize>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>

#include <memory>

#include <signal.h>
#include <sys/prctl.h>

namespace VncTest {

// Children die with the test or bench process, even when it crashes.
inline void dieWithParent(QProcess &p)
{
    p.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
}

class XvncServer {
public:
    struct Options {
        QSize geometry{800, 600};
        bool unixSocket = false;
        QString password; // empty: SecurityTypes None
    };

    static bool available() { return !QStandardPaths::findExecutable(QStringLiteral("Xvnc")).isEmpty(); }
    static bool have(const QString &tool) { return !QStandardPaths::findExecutable(tool).isEmpty(); }

    ~XvncServer() { stop(); }

    // Another test may take the same free display number at the same
    // moment: Xvnc then exits at once and the next number is tried.
    bool start(const Options &opts)
    {
        int from = 40 + int(QCoreApplication::applicationPid() % 200);
        for (int attempt = 0; attempt < 5; ++attempt) {
            if (startOnce(opts, from))
                return true;
            from = m_display + 1 + attempt * 7;
        }
        return false;
    }

private:
    bool startOnce(const Options &opts, int fromDisplay)
    {
        m_opts = opts;
        if (!m_dir.isValid())
            return fail(QStringLiteral("no temporary directory"));
        m_display = freeDisplay(fromDisplay);
        if (m_display < 0)
            return fail(QStringLiteral("no free X display number"));
        QStringList args{QStringLiteral(":%1").arg(m_display),
                         QStringLiteral("-geometry"),
                         QStringLiteral("%1x%2").arg(opts.geometry.width()).arg(opts.geometry.height()),
                         QStringLiteral("-depth"),
                         QStringLiteral("24"),
                         QStringLiteral("-ac"),
                         QStringLiteral("-nolisten"),
                         QStringLiteral("tcp"),
                         QStringLiteral("-desktop"),
                         QStringLiteral("mvs-test")};
        if (opts.unixSocket) {
            m_socketPath = m_dir.filePath(QStringLiteral("vnc.sock"));
            args << QStringLiteral("-rfbport") << QStringLiteral("-1") << QStringLiteral("-rfbunixpath") << m_socketPath;
        } else {
            m_port = freePort();
            args << QStringLiteral("-rfbport") << QString::number(m_port);
        }
        if (opts.password.isEmpty()) {
            args << QStringLiteral("-SecurityTypes") << QStringLiteral("None");
        } else {
            const QString pwFile = m_dir.filePath(QStringLiteral("passwd"));
            QProcess pw;
            pw.start(QStringLiteral("vncpasswd"), {QStringLiteral("-f")});
            pw.write(opts.password.toUtf8() + '\n');
            pw.closeWriteChannel();
            if (!pw.waitForFinished(10000) || pw.exitCode() != 0)
                return fail(QStringLiteral("vncpasswd failed"));
            QFile f(pwFile);
            if (!f.open(QIODevice::WriteOnly) || f.write(pw.readAllStandardOutput()) <= 0)
                return fail(QStringLiteral("cannot write the password file"));
            f.close();
            args << QStringLiteral("-SecurityTypes") << QStringLiteral("VncAuth") << QStringLiteral("-PasswordFile") << pwFile;
        }
        m_proc = std::make_unique<QProcess>();
        dieWithParent(*m_proc);
        m_proc->setProcessChannelMode(QProcess::MergedChannels);
        m_proc->setStandardOutputFile(m_dir.filePath(QStringLiteral("xvnc.log")));
        m_proc->start(QStringLiteral("Xvnc"), args);
        if (!m_proc->waitForStarted(10000))
            return fail(QStringLiteral("Xvnc did not start: ") + m_proc->errorString());
        // Ready when the RFB endpoint accepts and an X client can talk to it.
        QDeadlineTimer deadline(20000);
        while (!deadline.hasExpired()) {
            if (m_proc->state() != QProcess::Running)
                return fail(QStringLiteral("Xvnc exited: ") + log());
            if (endpointUp() && run(QStringLiteral("xdotool"), {QStringLiteral("getmouselocation")}, 5000))
                return true;
            QThread::msleep(50);
        }
        return fail(QStringLiteral("Xvnc not ready in time: ") + log());
    }

public:
    void stop()
    {
        for (auto &p : m_children) {
            if (p->state() != QProcess::NotRunning) {
                p->kill();
                p->waitForFinished(5000);
            }
        }
        m_children.clear();
        if (m_proc && m_proc->state() != QProcess::NotRunning) {
            m_proc->terminate();
            if (!m_proc->waitForFinished(5000)) {
                m_proc->kill();
                m_proc->waitForFinished(5000);
            }
        }
        m_proc.reset();
    }

    // Kills Xvnc without warning (SIGKILL), as a crash would.
    void kill()
    {
        if (m_proc && m_proc->state() != QProcess::NotRunning) {
            m_proc->kill();
            m_proc->waitForFinished(5000);
        }
    }

    QString display() const { return QStringLiteral(":%1").arg(m_display); }
    quint16 port() const { return m_port; }
    QString socketPath() const { return m_socketPath; }
    QString error() const { return m_error; }
    QString dir() const { return m_dir.path(); }
    QString log() const
    {
        QFile f(m_dir.filePath(QStringLiteral("xvnc.log")));
        return f.open(QIODevice::ReadOnly) ? QString::fromLocal8Bit(f.readAll().right(2000)) : QString();
    }

    QProcessEnvironment env() const
    {
        QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
        e.insert(QStringLiteral("DISPLAY"), display());
        return e;
    }

    // Runs an X client to completion against this display.
    bool run(const QString &program, const QStringList &args, int timeoutMs = 10000, QByteArray *out = nullptr) const
    {
        QProcess p;
        p.setProcessEnvironment(env());
        p.start(program, args);
        if (!p.waitForFinished(timeoutMs)) {
            p.kill();
            p.waitForFinished();
            return false;
        }
        if (out)
            *out = p.readAllStandardOutput();
        return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
    }

    // Starts a long-running X client (killed by stop()).
    QProcess *spawn(const QString &program, const QStringList &args)
    {
        auto p = std::make_unique<QProcess>();
        dieWithParent(*p);
        p->setProcessEnvironment(env());
        p->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        p->setStandardOutputFile(QProcess::nullDevice());
        p->start(program, args);
        if (!p->waitForStarted(10000))
            return nullptr;
        m_children.push_back(std::move(p));
        return m_children.back().get();
    }

    // The pointer position from `xdotool getmouselocation`.
    QPoint mouseLocation() const
    {
        QByteArray out;
        if (!run(QStringLiteral("xdotool"), {QStringLiteral("getmouselocation")}, 5000, &out))
            return {-1, -1};
        // "x:123 y:45 screen:0 window:..."
        QPoint p(-1, -1);
        for (const QByteArray &part : out.trimmed().split(' ')) {
            if (part.startsWith("x:"))
                p.setX(part.mid(2).toInt());
            else if (part.startsWith("y:"))
                p.setY(part.mid(2).toInt());
        }
        return p;
    }

private:
    bool fail(const QString &m)
    {
        m_error = m;
        stop();
        return false;
    }

    bool endpointUp() const
    {
        if (m_opts.unixSocket)
            return QFile::exists(m_socketPath);
        QTcpSocket s;
        s.connectToHost(QStringLiteral("127.0.0.1"), m_port);
        const bool ok = s.waitForConnected(200);
        s.abort();
        return ok;
    }

    static int freeDisplay(int from)
    {
        for (int n = from; n < 600; ++n) {
            if (!QFile::exists(QStringLiteral("/tmp/.X%1-lock").arg(n)) && !QFile::exists(QStringLiteral("/tmp/.X11-unix/X%1").arg(n)))
                return n;
        }
        return -1;
    }

    static quint16 freePort()
    {
        QTcpServer s;
        s.listen(QHostAddress::LocalHost, 0);
        return s.serverPort();
    }

    Options m_opts;
    QTemporaryDir m_dir;
    std::unique_ptr<QProcess> m_proc;
    std::vector<std::unique_ptr<QProcess>> m_children;
    int m_display = -1;
    quint16 m_port = 0;
    QString m_socketPath;
    QString m_error;
};

} // namespace VncTest
