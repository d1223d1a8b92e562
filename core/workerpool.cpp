#include "core/workerpool.h"

#include <QCoreApplication>
#include <QPointer>

namespace Core {

WorkerPool::WorkerPool(int maxThreads, QObject *parent)
    : QObject(parent)
{
    m_pool.setMaxThreadCount(qMax(1, maxThreads));
}

WorkerPool::~WorkerPool()
{
    // Joined while this object is whole: results posted meanwhile are
    // dropped with it (their futures end Cancelled).
    m_pool.waitForDone();
}

WorkerPool &WorkerPool::shared()
{
    static QPointer<WorkerPool> pool;
    if (!pool)
        pool = new WorkerPool(kMaxThreads, QCoreApplication::instance());
    return *pool;
}

} // namespace Core
