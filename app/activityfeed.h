#pragma once
// App::ActivityFeed: the service's activity log (Server::ActivityLog) shown
// by the window: its Activity tab reads a VM's kept events, and each event
// as it is published reaches the tab, the Display tab's overlay and the
// desktops wall. The app's GUI uses it, and so do the GUI suites that run
// the service in their own process.

namespace Gui {
class MainWindow;
}
namespace Server {
class ActivityLog;
}

namespace App {

class ActivityFeed {
public:
    // Both must outlive the connection (the window's).
    static void connect(Gui::MainWindow &window, Server::ActivityLog &log);
};

} // namespace App
