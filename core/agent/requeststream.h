#pragma once
// One request, one reply: stat, list, health. The stream waits for its reply
// type, decodes it into T and resolves, within its deadline.

#include "core/agent/agentstream.h"
#include "core/agent/agenttypes.h"
#include "core/async.h"

#include <QList>

namespace Agent {

template<typename T>
class RequestStream final : public AgentStream {
public:
    // False: the payload is malformed.
    using Decode = bool (*)(std::string_view payload, T *out);

    RequestStream(AgentClient *client, quint32 id, QString what, Protocol::MsgType reply, Decode decode)
        : AgentStream(client, id, std::move(what))
        , m_reply(reply)
        , m_decode(decode)
    {
    }

    Core::Future<T> start(Protocol::MsgType type, std::string_view payload, int deadlineMs)
    {
        send(type, payload);
        startDeadline(deadlineMs);
        return m_promise.future();
    }

    void handleFrame(Protocol::MsgType type, std::string_view payload) override
    {
        T value;
        if (type != m_reply || !m_decode(payload, &value))
            return malformed();
        end();
        m_promise.resolve(std::move(value));
    }

private:
    void failed(const Core::Error &error) override { m_promise.resolve(error); }

    const Protocol::MsgType m_reply;
    const Decode m_decode;
    Core::Promise<T> m_promise;
};

// The replies' decoders.
bool decodeStat(std::string_view payload, FileInfo *out);
bool decodeList(std::string_view payload, QList<FileInfo> *out);
bool decodeHealth(std::string_view payload, Health *out);
bool decodeProcess(std::string_view payload, ProcessInfo *out);
bool decodeProcesses(std::string_view payload, QList<ProcessInfo> *out);
bool decodeProcessOutput(std::string_view payload, ProcessOutput *out);

} // namespace Agent
