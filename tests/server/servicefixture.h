#pragma once
// A service without guests for the unit suites: a VmManager over a driver
// that is never asked for an instance, the controller and the HTTP adapter
// on an ephemeral port of 127.0.0.1, and a blocking HTTP call.

#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"
#include "core/vmm/vmminstance.h"
#include "server/api.h"
#include "server/httpadapter.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTemporaryDir>

#include <memory>

namespace TestService {

class NoDriver final : public Vmm::VmmDriver {
public:
    Vmm::DriverKind kind() const override { return Vmm::DriverKind::Qemu; }
    QString name() const override { return QStringLiteral("none"); }
    Core::Result checkAvailable() const override { return {}; }
    std::unique_ptr<Vmm::VmmInstance> createInstance(const Vmm::VmSpec &) const override { return nullptr; }
};

struct Reply {
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QByteArray requestId; // the X-Request-Id header
    QByteArray retryAfter; // the Retry-After header
};

class Service {
public:
    static constexpr const char *kToken = "test-token";

    Service()
        : m_manager(m_driver, m_dir.filePath(QStringLiteral("vms")))
        , m_controller(m_manager)
    {
        Server::HttpAdapter::Options o;
        o.token = kToken;
        m_adapter = std::make_unique<Server::HttpAdapter>(m_controller.httpEndpoints(), o);
        auto port = m_adapter->listen(QHostAddress::LocalHost, 0);
        m_port = port ? *port : 0;
    }

    quint16 port() const { return m_port; }
    Server::HttpAdapter &adapter() { return *m_adapter; }
    Server::Api &controller() { return m_controller; }
    Vm::VmManager &manager() { return m_manager; }

    Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, bool withToken = true,
               const QList<std::pair<QByteArray, QByteArray>> &headers = {})
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path)));
        for (const auto &[name, value] : headers)
            req.setRawHeader(name, value);
        if (withToken)
            req.setRawHeader("Authorization", QByteArray("Bearer ") + kToken);
        if (!body.isEmpty())
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_nam.sendCustomRequest(req, method, body);
        QDeadlineTimer deadline(10000);
        while (!reply->isFinished() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        Reply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
        r.requestId = reply->rawHeader("X-Request-Id");
        r.retryAfter = reply->rawHeader("Retry-After");
        reply->deleteLater();
        return r;
    }

private:
    QTemporaryDir m_dir;
    NoDriver m_driver;
    Vm::VmManager m_manager;
    Server::Api m_controller;
    std::unique_ptr<Server::HttpAdapter> m_adapter;
    QNetworkAccessManager m_nam;
    quint16 m_port = 0;
};

} // namespace TestService
