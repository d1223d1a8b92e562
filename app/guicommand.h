#pragma once

namespace App {

// True when a window can open: QT_QPA_PLATFORM names a platform (e.g.
// offscreen), or WAYLAND_DISPLAY / DISPLAY names a display whose socket is
// there (a remote X display, "host:N", is taken on trust).
bool displayAvailable();

// Print how to run without a display (stderr); the exit code to return (2).
int noDisplayHint();

// `microvm-sandbox [gui] [--listen HOST:PORT] [--token-file PATH] [--driver D]
//  [--accel A]`: the desktop application, with the API service running
// in-process (the window's status bar shows its URL and copies its token).
// Constructs the QApplication itself: call it before any application object
// exists. Exit 2 for a usage error, 1 when the VMs cannot be managed here.
int guiCommand(int &argc, char **argv);

} // namespace App
