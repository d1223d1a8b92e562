#pragma once
// Starting a command for exec and for background processes: the request
// checked and resolved in the agent, the child vfork()ed into a session of
// its own with piped stdout and stderr (and stdin when asked), a failed
// chdir or exec reported back before anything runs.

#include "protocol/messages.h"
#include "uniquefd.h"

#include <sys/types.h>

#include <optional>
#include <string>

namespace GuestAgent {

// Why a request did not become a running child.
struct StartFailure {
    Protocol::ErrorCode code;
    std::string message;
};
using MaybeFailure = std::optional<StartFailure>;

// A running child and the agent's ends of its pipes (stdinFd only when
// asked for; otherwise the child's stdin reads /dev/null).
struct SpawnedChild {
    pid_t pid = -1;
    UniqueFd stdoutFd;
    UniqueFd stderrFd;
    UniqueFd stdinFd;
};

// Starts the request's command; nothing is left open or running on failure.
MaybeFailure spawnCommand(const Protocol::ExecStart &request, bool stdinPipe, SpawnedChild *child);

} // namespace GuestAgent
