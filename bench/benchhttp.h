#pragma once
// HTTP load on the service for the benchmarks: a blocking keep-alive
// client for a thread of its own, and N such clients sending GETs back to
// back while the main thread (the service's) serves.

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QTcpSocket>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace Bench {

inline constexpr int kHttpTimeoutMs = 60000;

// A minimal HTTP/1.1 keep-alive client on a blocking socket (its own thread).
class HttpClient {
public:
    HttpClient(quint16 port, QByteArray token)
        : m_port(port)
        , m_token(std::move(token))
    {
    }

    // Status, or -1 with *error set.
    int request(const QByteArray &method, const QByteArray &path, const QByteArray &body, QByteArray *response, QString *error)
    {
        if (m_socket.state() != QAbstractSocket::ConnectedState) {
            m_socket.connectToHost(QHostAddress::LocalHost, m_port);
            if (!m_socket.waitForConnected(kHttpTimeoutMs)) {
                *error = m_socket.errorString();
                return -1;
            }
        }
        QByteArray out = method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + m_token + "\r\n";
        if (!body.isEmpty())
            out += "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n";
        out += "\r\n" + body;
        m_socket.write(out);
        QByteArray in;
        qsizetype headEnd = -1;
        qint64 length = -1;
        for (;;) {
            if (headEnd < 0) {
                headEnd = in.indexOf("\r\n\r\n");
                if (headEnd >= 0) {
                    const QByteArray head = in.left(headEnd).toLower();
                    const qsizetype at = head.indexOf("content-length:");
                    if (at < 0) {
                        *error = QStringLiteral("no Content-Length");
                        return -1;
                    }
                    length = head.mid(at + 15, head.indexOf('\r', at) - at - 15).trimmed().toLongLong();
                }
            }
            if (headEnd >= 0 && in.size() >= headEnd + 4 + length)
                break;
            if (!m_socket.waitForReadyRead(kHttpTimeoutMs)) {
                *error = QStringLiteral("no answer: %1").arg(m_socket.errorString());
                return -1;
            }
            in += m_socket.readAll();
        }
        if (response)
            *response = in.mid(headEnd + 4, length);
        return in.mid(9, 3).toInt();
    }

private:
    quint16 m_port;
    QByteArray m_token;
    QTcpSocket m_socket;
};

struct LoadResult {
    std::vector<double> latenciesMs;
    double seconds = 0;
    QString error;
};

// `clients` threads, each sending `requests` GETs of `path` back to back;
// the main thread serves meanwhile.
inline LoadResult load(quint16 port, const QByteArray &token, const QByteArray &path, int clients, int requests)
{
    LoadResult result;
    std::mutex mutex;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&]() {
            HttpClient client(port, token);
            std::vector<double> mine;
            QString error;
            QByteArray body;
            client.request("GET", "/api/v1/health", {}, &body, &error); // connect outside the timing
            ++ready;
            while (!go)
                std::this_thread::yield();
            for (int i = 0; i < requests && error.isEmpty(); ++i) {
                QElapsedTimer t;
                t.start();
                const int status = client.request("GET", path, {}, &body, &error);
                if (status != 200 && error.isEmpty())
                    error = QStringLiteral("HTTP %1: %2").arg(status).arg(QString::fromUtf8(body.left(200)));
                mine.push_back(double(t.nsecsElapsed()) / 1e6);
            }
            std::lock_guard<std::mutex> lock(mutex);
            result.latenciesMs.insert(result.latenciesMs.end(), mine.begin(), mine.end());
            if (!error.isEmpty())
                result.error = error;
            ++done;
        });
    }
    while (ready < clients)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    QElapsedTimer wall;
    wall.start();
    go = true;
    while (done < clients)
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 5);
    result.seconds = double(wall.nsecsElapsed()) / 1e9;
    for (std::thread &t : threads)
        t.join();
    return result;
}

} // namespace Bench
