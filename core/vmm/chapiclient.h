#pragma once

#include "core/async.h"

#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QTimer>

#include <deque>
#include <memory>
#include <optional>

class QLocalSocket;

namespace Vmm {

// cloud-hypervisor REST endpoints, under http://localhost/api/v1/
// (vmm/src/api/http/mod.rs, HTTP_ROUTES).
namespace ChEndpoint {
inline constexpr char VmmPing[] = "vmm.ping";
inline constexpr char VmmShutdown[] = "vmm.shutdown";
inline constexpr char VmCreate[] = "vm.create";
inline constexpr char VmBoot[] = "vm.boot";
inline constexpr char VmShutdown[] = "vm.shutdown";
inline constexpr char VmPause[] = "vm.pause";
inline constexpr char VmResume[] = "vm.resume";
inline constexpr char VmInfo[] = "vm.info";
inline constexpr char VmSnapshot[] = "vm.snapshot";
inline constexpr char VmRestore[] = "vm.restore";
inline constexpr char VmResize[] = "vm.resize";
inline constexpr char VmDelete[] = "vm.delete";
inline constexpr char VmCounters[] = "vm.counters";
inline constexpr char VmAddNet[] = "vm.add-net";
} // namespace ChEndpoint

// HTTP/1.1 over the cloud-hypervisor API socket (a QLocalSocket), shaped by
// what its server (Firecracker's micro_http) does:
// - one request at a time: the server handles requests serially on one
//   thread, so calls queue here and the next is sent only once the previous
//   one is answered (or failed);
// - keep-alive: one connection is reused; when the server has closed it
//   the next call reconnects, and a call that finds its reused connection
//   closed before any byte of an answer is retried once on a new connection;
// - descriptors (a NIC's tap) go with a request as SCM_RIGHTS ancillary data
//   on its first bytes, which micro_http attaches to that request: the
//   client sends copies of them and closes its copies once the call ends;
// - responses are framed by Content-Length; 204 has neither a body nor a
//   Content-Length; no chunked encoding; the status line has no reason;
// - 4xx/5xx -> Core::Error(VmmApi) with the server's message: a JSON array
//   of strings (the error chain, v47+) joined with ": ", or the plain text
//   body of older releases;
// - request bodies over kMaxRequestBodyBytes are refused before sending.
// Every call has a deadline; on timeout the connection is dropped (a late
// answer must not be taken for the next call's). No waitFor* calls.
class ChApiClient final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ChApiClient)
public:
    // Per-call deadlines, counted from when the call is sent.
    static constexpr int kDefaultTimeoutMs = 5000;
    static constexpr int kBootTimeoutMs = 30000; // vm.create / vm.boot: open disks, load the kernel
    static constexpr int kSnapshotTimeoutMs = 300000; // vm.snapshot writes all guest RAM to disk
    static constexpr int kRestoreTimeoutMs = 300000; // vm.restore reads it back
    // micro_http's request payload limit (server.rs MAX_PAYLOAD_SIZE) in every
    // release up to v53.0; bigger bodies get a 400 and a closed connection.
    static constexpr qsizetype kMaxRequestBodyBytes = 51200;
    static constexpr qsizetype kMaxResponseHeaderBytes = 64 * 1024;
    static constexpr qsizetype kMaxResponseBodyBytes = 16 * 1024 * 1024;

    enum class Method { Get, Put };

    explicit ChApiClient(QString socketPath, QObject *parent = nullptr);
    // Fails calls still queued or in flight with Cancelled.
    ~ChApiClient() override;

    QString socketPath() const { return m_socketPath; }
    // The deadline for calls made without one (kDefaultTimeoutMs); tests shorten it.
    void setDefaultTimeoutMs(int ms) { m_defaultTimeoutMs = ms; }
    int defaultTimeoutMs() const { return m_defaultTimeoutMs; }
    // Calls queued or in flight.
    int pendingCount() const;

    // One call. Resolves with the response body (empty for 204) on 2xx.
    // `jsonBody` is sent with Content-Type: application/json when not empty.
    // timeoutMs < 0: defaultTimeoutMs().
    // `fds` go with it (SCM_RIGHTS); the caller's stay open and its own.
    Core::Future<QByteArray> request(Method method, const char *endpoint, const QByteArray &jsonBody = {}, int timeoutMs = -1, const QList<int> &fds = {});

    // GET vmm.ping: {"version", "build_version", "pid", "features"}.
    Core::Future<QJsonObject> ping(int timeoutMs = -1);
    Core::Future<void> shutdownVmm(int timeoutMs = -1);
    Core::Future<void> createVm(const QJsonObject &config, int timeoutMs = kBootTimeoutMs);
    Core::Future<void> bootVm(int timeoutMs = kBootTimeoutMs);
    Core::Future<void> shutdownVm(int timeoutMs = -1);
    Core::Future<void> pauseVm(int timeoutMs = -1);
    Core::Future<void> resumeVm(int timeoutMs = -1);
    Core::Future<void> deleteVm(int timeoutMs = -1);
    // GET vm.info: {"config", "state", "memory_actual_size", "device_tree"}.
    Core::Future<QJsonObject> vmInfo(int timeoutMs = -1);
    // The "state" of vm.info: Created, Running, Shutdown, Paused, BreakPoint.
    Core::Future<QString> vmState(int timeoutMs = -1);
    Core::Future<QJsonObject> vmCounters(int timeoutMs = -1);
    Core::Future<void> snapshotVm(const QJsonObject &body, int timeoutMs = kSnapshotTimeoutMs);
    // `fds`: the NICs' taps, in the order of the body's net_fds
    // (ChVmConfig::vmRestore).
    Core::Future<void> restoreVm(const QJsonObject &body, int timeoutMs = kRestoreTimeoutMs, const QList<int> &fds = {});
    // PUT vm.add-net (NetConfig) with the tap's descriptor: after vm.create
    // and before vm.boot it joins the VM's config (vm.create takes no
    // descriptors: vmm/src/api/http/http_endpoint.rs, VmCreate).
    Core::Future<void> addNet(const QJsonObject &netConfig, int tapFd, int timeoutMs = -1);
    Core::Future<void> resizeVm(const QJsonObject &body, int timeoutMs = -1);

    // Fails every queued and in-flight call with `code` and closes the
    // connection. The client stays usable.
    void abort(Core::ErrorCode code, const QString &reason);

private:
    // This client's copies of a call's descriptors, closed with the call.
    struct FdCopies {
        Q_DISABLE_COPY_MOVE(FdCopies)
        FdCopies() = default;
        ~FdCopies();
        QList<int> fds;
    };
    struct Call {
        Method method = Method::Get;
        QByteArray endpoint;
        QByteArray body;
        std::shared_ptr<FdCopies> fds;
        int timeoutMs = kDefaultTimeoutMs;
        Core::Promise<QByteArray> promise;
        bool retried = false;
    };
    struct Response {
        int status = 0;
        QByteArray body;
        bool close = false; // the connection ends with this answer
    };
    enum class Link { Down, Connecting, Up };

    Core::Future<void> voidCall(Method method, const char *endpoint, const QByteArray &body, int timeoutMs, const QList<int> &fds = {});
    Core::Future<QJsonObject> objectCall(const char *endpoint, int timeoutMs);
    void pump();
    void send();
    bool sendWithFds(const QByteArray &bytes, const QList<int> &fds);
    void onConnected();
    void onSocketError();
    void onDisconnected();
    void onReadyRead();
    void onTimeout();
    // Parses m_buffer. nullopt: incomplete. Sets m_protocolError on garbage.
    std::optional<Response> parseResponse(bool atEof);
    // The answer whose header ends at bodyStart, once its body is all in m_buffer.
    std::optional<Response> takeResponse(int status, qsizetype bodyStart, qint64 contentLength, bool close, bool atEof);
    void complete(const Response &response);
    void failCurrent(Core::ErrorCode code, const QString &message);
    void dropConnection();

    QString m_socketPath;
    int m_defaultTimeoutMs = kDefaultTimeoutMs;
    QLocalSocket *m_socket = nullptr;
    Link m_link = Link::Down;
    bool m_linkUsed = false; // a call was already answered on this connection
    std::deque<Call> m_queue;
    std::optional<Call> m_current;
    bool m_currentOnReusedLink = false;
    QByteArray m_buffer;
    QString m_protocolError;
    QTimer m_timer;
};

// "cloud-hypervisor rejected vm.boot (HTTP 500): Error from API: ..."
// from a status code and a micro_http error body. Exposed for tests.
QString chApiErrorMessage(const QByteArray &endpoint, int status, const QByteArray &body);

} // namespace Vmm
