#pragma once
// What a log line is about: the API request that started the work and the
// VM it concerns. A request's handler runs inside a Scope; Core::then,
// Core::whenDone and the WorkerPool capture the context where a step is
// chained and set it again while the step runs, so the jobs a request
// started log with its id long after the handler returned.
// Plain Qt Core (no spdlog): core/async.h includes it.

#include <QString>

namespace Core::Log {

struct Context {
    QString requestId;
    QString vm;
    bool isEmpty() const { return requestId.isEmpty() && vm.isEmpty(); }
};

// The context of this thread (empty outside every Scope).
const Context &currentContext();
// The current context about this VM (for a Scope around a VM's work).
Context contextForVm(const QString &vm);

// Sets the thread's context for its lifetime, then puts back the one before.
class Scope {
public:
    explicit Scope(Context context);
    ~Scope();
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;

private:
    Context m_previous;
};

} // namespace Core::Log
