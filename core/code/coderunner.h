#pragma once

#include "core/async.h"
#include "core/code/codetypes.h"

#include <QByteArray>
#include <QJsonObject>

#include <memory>

namespace Agent {
class AgentClient;
struct ExecRequest;
struct ExecResult;
} // namespace Agent

namespace Code {

// Runs code in a guest through its mvs-code-runner (installed in every image
// at Image::ImageBuilder::kCodeRunnerGuestPath): one agent exec per call, a
// JSON request on its stdin, a JSON answer on its stdout. Sessions live in
// the guest (kernels under /run/mvs-code), so they die with the VM and need
// no state here. Every byte of the answer is hostile: it is size-capped,
// parsed strictly and its fields bounded before anything uses it.
namespace CodeRunner {

inline constexpr double kDefaultTimeoutS = 60;
inline constexpr double kMaxTimeoutS = 24 * 3600;
inline constexpr int kMaxSessionIdLength = 64;
inline constexpr qint64 kMaxCodeBytes = 1 << 20;
// The runner's own time on top of the code's: waiting for a busy session
// (at most the code's timeout again), starting a kernel (twice when one is
// restarted), the interrupt's grace. Past it the guest kills the runner.
// Callers wait 2 x the timeout + this (the CLI, MCP, the Python SDK's
// _ops.code_timeout).
inline constexpr int kRunnerOverheadMs = 420 * 1000;
// Restart, close and list: a kernel start at most.
inline constexpr int kSessionOpTimeoutMs = 240 * 1000;
// What the host takes of the runner's answer. The runner bounds what it
// says (guest-agent/coderunner/mvs-code-runner): 1 MiB each of stdout,
// stderr and the value, 16 MiB of rich outputs (their base64 counted),
// under 2 MiB of error; JSON escapes grow its text parts. Past this the
// run fails saying so.
inline constexpr qint64 kMaxAnswerBytes = 32 << 20;
// What the host keeps of the runner's own stderr: only its end is read
// (a failing runner's last words).
inline constexpr qint64 kMaxRunnerStderrBytes = 64 << 10;
inline constexpr int kRunnerStderrShownBytes = 600;
// Code runs going on at once per VM, each a runner in the guest and up to
// kMaxAnswerBytes (parsed, several times that) in the host. One more fails
// at once with InvalidState (409 at the API): run it when one has ended.
inline constexpr int kMaxConcurrentRuns = 4;
// Each field of an answer, checked again here.
inline constexpr int kMaxOutputs = 64;
inline constexpr int kMaxTracebackLines = 256;
inline constexpr int kMaxSessions = 64;

// A session id: 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'.
bool validSessionId(const QString &id);
// The request as its checked fields: a Core::Error (InvalidArgument) says what is wrong.
Core::Expected<CodeRequest> checkRequest(CodeRequest request);

// At most kMaxConcurrentRuns per agent: one more fails with InvalidState.
Core::Future<CodeResult> execute(Agent::AgentClient &agent, const CodeRequest &request);
Core::Future<QList<CodeSession>> sessions(Agent::AgentClient &agent);
Core::Future<CodeSession> restart(Agent::AgentClient &agent, const QString &sessionId);
Core::Future<void> close(Agent::AgentClient &agent, const QString &sessionId);

// The pieces, pure (tested on their own): the exec that runs the runner
// with `request` on its stdin; the answer's JSON object out of the exec's
// result, a failure the runner reports as its Core::Error; and the answers'
// checked shapes.
Agent::ExecRequest runnerExec(const QJsonObject &request, int timeoutMs);
Core::Expected<QJsonObject> answerObject(const Agent::ExecResult &result);
Core::Expected<CodeResult> parseResult(const QJsonObject &answer);
Core::Expected<CodeSession> parseSession(const QJsonObject &answer);
Core::Expected<QList<CodeSession>> parseSessions(const QJsonObject &answer);

// One of an agent's kMaxConcurrentRuns, held while a run goes on and given
// back when the last copy of the slot goes; InvalidState when all are held.
using RunSlot = std::shared_ptr<const void>;
Core::Expected<RunSlot> claimRunSlot(Agent::AgentClient &agent);
int runsInProgress(const Agent::AgentClient &agent);

} // namespace CodeRunner
} // namespace Code
