#include "core/vmm/vmminstance.h"

namespace Vmm {

QString stateName(VmmInstance::State state)
{
    switch (state) {
    case VmmInstance::State::NotStarted: return QStringLiteral("not-started");
    case VmmInstance::State::Starting: return QStringLiteral("starting");
    case VmmInstance::State::Running: return QStringLiteral("running");
    case VmmInstance::State::Paused: return QStringLiteral("paused");
    case VmmInstance::State::Stopping: return QStringLiteral("stopping");
    case VmmInstance::State::Stopped: return QStringLiteral("stopped");
    case VmmInstance::State::Failed: return QStringLiteral("failed");
    }
    return QStringLiteral("unknown");
}

} // namespace Vmm
