#pragma once

#include <QStringList>

namespace App {

// `microvm-sandbox run [--template T] [--vcpus N] [--memory MiB] [--timeout S]
//  [--driver D] [--accel A] [--keep-console FILE] -- COMMAND [ARGS...]`
// Creates a VM, waits for its agent, runs the command with output streamed
// to this terminal, destroys the VM and exits with the command's exit code
// (128+N for a signal, 124 for a timeout). Ctrl-C tears everything down.
int runCommand(QStringList args);

} // namespace App
