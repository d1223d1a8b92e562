#include "core/logcontext.h"

#include <utility>

namespace Core::Log {
namespace {

Context &threadContext()
{
    thread_local Context context;
    return context;
}

} // namespace

const Context &currentContext()
{
    return threadContext();
}

Context contextForVm(const QString &vm)
{
    return Context{threadContext().requestId, vm};
}

Scope::Scope(Context context)
    : m_previous(std::exchange(threadContext(), std::move(context)))
{
}

Scope::~Scope()
{
    threadContext() = std::move(m_previous);
}

} // namespace Core::Log
