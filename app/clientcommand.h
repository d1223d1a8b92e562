#pragma once

#include <QStringList>

namespace App {

// `microvm-sandbox vm list|create|start|stop|rm|exec|cp|console|...` (snapshots,
// exposed ports) and
// `microvm-sandbox template list`: clients of the running service
// (--url/MVS_URL, --token/MVS_TOKEN, else 127.0.0.1:8000 and the token file),
// tables for people, --json for programs.
int vmCommand(QStringList args);
int templateListCommand(QStringList args);
// `pool [set TEMPLATE=N,...]`: the service's paused pool, or new targets.
int poolCommand(QStringList args);
// token create|list|revoke: the service's scoped tokens (an admin token's work).
int tokenCommand(QStringList args);

} // namespace App
