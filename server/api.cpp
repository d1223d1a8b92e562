#include "server/api.h"

#include "server/displaycontroller.h"
#include "server/guestcontroller.h"
#include "server/metacontroller.h"
#include "server/snapshotcontroller.h"
#include "server/vmcontroller.h"

namespace Server {

Api::Api(Vm::VmManager &manager, Desktop::DisplayHub *displays)
    : m_meta(std::make_unique<MetaController>(manager, m_metrics))
    , m_vms(std::make_unique<VmController>(manager))
    , m_guest(std::make_unique<GuestController>(manager, m_metrics))
    , m_snapshots(std::make_unique<SnapshotController>(manager))
    , m_display(std::make_unique<DisplayController>(displays))
{
    m_meta->addRoutes(m_router);
    m_vms->addRoutes(m_router);
    m_guest->addRoutes(m_router);
    m_snapshots->addRoutes(m_router);
    m_display->addRoutes(m_router);
}

Api::~Api() = default;

} // namespace Server
