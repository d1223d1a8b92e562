#pragma once
// For harnesses of clients that talk over a Unix socket (the guest agent's,
// QMP, the cloud-hypervisor API): one QCoreApplication and one listening
// QLocalServer for the whole run, the client's peer socket per input, and
// an event loop pumped until a condition holds or kStepMs passed. Harnesses
// on other sockets (fuzz_httpadapter's TCP) use the application and the pump
// alone.

#include "fuzz/fuzzcheck.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QLocalServer>
#include <QLocalSocket>
#include <QTemporaryDir>

#include <functional>
#include <vector>

namespace Fuzz {

class LocalPeer {
public:
    static constexpr int kStepMs = 3000; // one step of a conversation, at most

    static LocalPeer &instance()
    {
        static LocalPeer peer;
        return peer;
    }

    // The run's QCoreApplication, made on first use.
    static QCoreApplication &application()
    {
        static int argc = 1;
        static char arg0[] = "fuzz";
        static char *argv[] = {arg0, nullptr};
        static QCoreApplication app(argc, argv);
        return app;
    }

    QString path() const { return m_path; }

    // Pumps the event loop until done() or ms passed; false on timeout.
    static bool pumpUntil(const std::function<bool()> &done, int ms = kStepMs)
    {
        QDeadlineTimer deadline(ms);
        while (!done()) {
            if (deadline.hasExpired())
                return false;
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 5);
        }
        return true;
    }

    // The server side of the client's connection (the caller deletes it).
    QLocalSocket *accept()
    {
        MVS_FUZZ_CHECK(pumpUntil([this]() { return m_server.hasPendingConnections(); }));
        return m_server.nextPendingConnection();
    }

    // Writes bytes in pieces of the given sizes (cycled), letting the client
    // read between them; what the client sends is dropped.
    static void writeInPieces(QLocalSocket *peer, QByteArrayView bytes, const std::vector<qsizetype> &pieces)
    {
        qsizetype pos = 0;
        for (std::size_t i = 0; pos < bytes.size() && peer->state() == QLocalSocket::ConnectedState; ++i) {
            const qsizetype n = pieces.empty() ? bytes.size() : qMin(pieces[i % pieces.size()], bytes.size() - pos);
            peer->write(bytes.data() + pos, n);
            pos += n;
            QCoreApplication::processEvents();
            peer->readAll();
        }
        settle(peer);
    }

    // Until what was written reached the client and it had a few turns.
    static void settle(QLocalSocket *peer)
    {
        peer->flush();
        pumpUntil([peer]() { return peer->bytesToWrite() == 0 || peer->state() != QLocalSocket::ConnectedState; });
        for (int i = 0; i < 3; ++i)
            QCoreApplication::processEvents();
    }

    // Connections made since accept() (a client reconnecting) are cut.
    void refuseNew()
    {
        while (m_server.hasPendingConnections()) {
            QLocalSocket *s = m_server.nextPendingConnection();
            s->abort();
            s->deleteLater();
        }
    }

    // After the client is deleted: its deferred deletions run and nothing
    // it left behind reaches the next input.
    void cleanUp()
    {
        QCoreApplication::processEvents();
        refuseNew();
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    }

private:
    LocalPeer()
    {
        MVS_FUZZ_CHECK(m_dir.isValid());
        MVS_FUZZ_CHECK(m_server.listen(m_path));
    }

    QCoreApplication &m_app = application(); // before the server
    QTemporaryDir m_dir;
    QString m_path = m_dir.filePath(QStringLiteral("peer.sock"));
    QLocalServer m_server;
};

} // namespace Fuzz
