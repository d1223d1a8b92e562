#pragma once

#include <QStringList>

namespace App {

// `microvm-sandbox --serve [--listen HOST:PORT] [--token-file PATH]
//  [--driver D] [--accel A]`: the REST service alone, without a window.
// Listens on 127.0.0.1:8000 by default. The bearer token comes from
// --token-file, else MVS_TOKEN, else the config directory's token file
// (made 0600 on first start and printed once to stderr). SIGINT/SIGTERM
// stop the service: the VMs it runs are stopped (their records keep their
// desired state) and it exits 0. Exit 1 when it cannot listen or start,
// 2 for a usage error.
int serveCommand(QStringList args);

} // namespace App
