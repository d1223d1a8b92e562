#include "server/openapi.h"

#include <QJsonArray>

namespace Server::OpenApi {
namespace {

// The project's licence, as info.license names it. No licence has been
// chosen yet (the tree has no LICENSE file): this says so until one is.
constexpr auto kLicense = "no licence chosen yet: all rights reserved";

QJsonObject ref(const char *schema)
{
    return QJsonObject{{QStringLiteral("$ref"), QString(QStringLiteral("#/components/schemas/") + QLatin1String(schema))}};
}

QJsonObject type(const char *t, const char *description = nullptr)
{
    QJsonObject o{{QStringLiteral("type"), QLatin1String(t)}};
    if (description)
        o[QStringLiteral("description")] = QLatin1String(description);
    return o;
}

// A schema that may also be null.
QJsonObject nullable(QJsonObject o)
{
    o[QStringLiteral("nullable")] = true;
    return o;
}

QJsonObject nullableString(const char *description)
{
    return nullable(type("string", description));
}

// An object of a schema, or null (OpenAPI 3.0: nullable needs its type beside it).
QJsonObject nullableRef(const char *schema)
{
    return QJsonObject{
        {QStringLiteral("type"), QStringLiteral("object")}, {QStringLiteral("allOf"), QJsonArray{ref(schema)}}, {QStringLiteral("nullable"), true}};
}

QJsonObject arrayOf(QJsonObject items)
{
    return QJsonObject{{QStringLiteral("type"), QStringLiteral("array")}, {QStringLiteral("items"), items}};
}

QJsonObject object(QJsonObject properties, QStringList required = {}, bool closed = true)
{
    QJsonObject o{{QStringLiteral("type"), QStringLiteral("object")}, {QStringLiteral("properties"), properties}};
    if (!required.isEmpty())
        o[QStringLiteral("required")] = QJsonArray::fromStringList(required);
    if (closed)
        o[QStringLiteral("additionalProperties")] = false;
    return o;
}

QJsonObject jsonContent(QJsonObject schema)
{
    return QJsonObject{{QStringLiteral("application/json"), QJsonObject{{QStringLiteral("schema"), schema}}}};
}

QJsonObject content(const char *mediaType, QJsonObject schema)
{
    return QJsonObject{{QLatin1String(mediaType), QJsonObject{{QStringLiteral("schema"), schema}}}};
}

QJsonObject response(const char *description, QJsonObject contentObject = {})
{
    QJsonObject o{{QStringLiteral("description"), QLatin1String(description)}};
    if (!contentObject.isEmpty())
        o[QStringLiteral("content")] = contentObject;
    return o;
}

QJsonObject errorRef(const char *name)
{
    return QJsonObject{{QStringLiteral("$ref"), QString(QStringLiteral("#/components/responses/") + QLatin1String(name))}};
}

QJsonObject nameParameter()
{
    return QJsonObject{{QStringLiteral("$ref"), QStringLiteral("#/components/parameters/VmName")}};
}

QJsonObject queryParameter(const char *name, QJsonObject schema, bool required, const char *description)
{
    return QJsonObject{{QStringLiteral("name"), QLatin1String(name)},
                       {QStringLiteral("in"), QStringLiteral("query")},
                       {QStringLiteral("required"), required},
                       {QStringLiteral("description"), QLatin1String(description)},
                       {QStringLiteral("schema"), schema}};
}

struct Op {
    const char *summary;
    const char *operationId;
    QJsonArray parameters;
    QJsonObject requestBody;
    QJsonObject responses; // success responses; the error ones are added
    bool auth = true;
};

QJsonObject operation(const Op &op)
{
    QJsonObject responses = op.responses;
    if (op.auth) {
        responses[QStringLiteral("401")] = errorRef("Unauthorized");
        if (!responses.contains(QStringLiteral("403")))
            responses[QStringLiteral("403")] = errorRef("Forbidden");
        responses[QStringLiteral("429")] = errorRef("TooManyRequests");
    }
    if (!op.parameters.isEmpty() || !op.requestBody.isEmpty()) {
        responses[QStringLiteral("400")] = errorRef("BadRequest");
        responses[QStringLiteral("404")] = errorRef("NotFound");
    }
    responses[QStringLiteral("default")] = errorRef("Error");
    QJsonObject o{{QStringLiteral("summary"), QLatin1String(op.summary)},
                  {QStringLiteral("operationId"), QLatin1String(op.operationId)},
                  {QStringLiteral("responses"), responses}};
    if (!op.parameters.isEmpty())
        o[QStringLiteral("parameters")] = op.parameters;
    if (!op.requestBody.isEmpty())
        o[QStringLiteral("requestBody")] = op.requestBody;
    if (!op.auth)
        o[QStringLiteral("security")] = QJsonArray(); // open
    return o;
}

QJsonObject vmResponse(const char *description)
{
    return QJsonObject{{QStringLiteral("200"), response(description, jsonContent(ref("Vm")))}, {QStringLiteral("409"), errorRef("Conflict")}};
}

// Errors, health, templates.
void metaSchemas(QJsonObject &s)
{
    s[QStringLiteral("Error")] =
        object({{QStringLiteral("error"),
                 object({{QStringLiteral("code"), type("string", "invalid_json, invalid_argument, unauthorized, not_found, invalid_state, ...")},
                         {QStringLiteral("message"), type("string")}},
                        {QStringLiteral("code"), QStringLiteral("message")})}},
               {QStringLiteral("error")});
    s[QStringLiteral("Health")] = object({{QStringLiteral("status"), type("string")}, {QStringLiteral("version"), type("string")}},
                                         {QStringLiteral("status"), QStringLiteral("version")});
    s[QStringLiteral("Template")] = object({{QStringLiteral("name"), type("string")},
                                            {QStringLiteral("aliases"), arrayOf(type("string"))},
                                            {QStringLiteral("description"), type("string")},
                                            {QStringLiteral("vcpus"), type("integer")},
                                            {QStringLiteral("memory_mb"), type("integer")}});
}

// The host's quotas in GET /api/v1/system: limits (null: none) and usage.
QJsonObject quotaSchema()
{
    const auto limit = [](const char *what) { return nullable(type("integer", what)); };
    QJsonObject limits = object({{QStringLiteral("vms"), limit("VMs that may exist")},
                                 {QStringLiteral("vcpus"), limit("vCPUs of the VMs holding a VMM (starting, running, paused)")},
                                 {QStringLiteral("memory_mb"), limit("MiB of memory of those VMs (by default the host's RAM x 1.5)")},
                                 {QStringLiteral("disk_bytes"), limit("bytes the data directory may hold before no VM is created")}});
    QJsonObject usage = object({{QStringLiteral("vms"), type("integer")},
                                {QStringLiteral("vcpus"), type("integer")},
                                {QStringLiteral("memory_mb"), type("integer")},
                                {QStringLiteral("disk_bytes"), nullable(type("integer", "null unless the disk is limited"))}});
    return object({{QStringLiteral("limits"), limits}, {QStringLiteral("usage"), usage}}, {QStringLiteral("limits"), QStringLiteral("usage")});
}

// Kernel same-page merging in GET /api/v1/system (null: not in this kernel).
QJsonObject ksmSchema()
{
    QJsonObject o = object({{QStringLiteral("running"), type("boolean", "/sys/kernel/mm/ksm/run is 1 (QEMU marks guest memory mergeable)")},
                            {QStringLiteral("pages_shared"), type("integer")},
                            {QStringLiteral("pages_sharing"), type("integer", "pages mapped onto the shared ones")},
                            {QStringLiteral("saved_bytes"), type("integer", "pages_sharing x the page size")}});
    return nullable(o);
}

// GET /api/v1/system.
// The paused pool, per template (GET and PUT /api/v1/pool).
QJsonObject poolTemplatesSchema()
{
    return arrayOf(
        object({{QStringLiteral("template"), type("string")},
                {QStringLiteral("target"), type("integer", "how many VMs of it the pool keeps paused")},
                {QStringLiteral("vcpus"), type("integer")},
                {QStringLiteral("memory_mb"), type("integer")},
                {QStringLiteral("ready"), type("integer", "paused, to be claimed by the next create")},
                {QStringLiteral("filling"), type("integer", "being restored")},
                {QStringLiteral("last_error"), nullableString("why the pool is short, when it is (waiting for room under the quotas, a failed restore)")}},
               {QStringLiteral("template"), QStringLiteral("target"), QStringLiteral("ready"), QStringLiteral("filling")}));
}

void poolSchema(QJsonObject &s)
{
    s[QStringLiteral("Pool")] = object(
        {{QStringLiteral("warm_start"), type("boolean", "warm starts are on (the pool needs them)")}, {QStringLiteral("templates"), poolTemplatesSchema()}},
        {QStringLiteral("warm_start"), QStringLiteral("templates")});
    QJsonObject targets = type("object", "template name -> VMs to keep paused (0 to 8); templates left out are not pooled");
    targets[QStringLiteral("additionalProperties")] = type("integer");
    s[QStringLiteral("PoolTargets")] = object({{QStringLiteral("targets"), targets}}, {QStringLiteral("targets")});
}

void systemSchema(QJsonObject &s)
{
    const QJsonObject bytes = type("integer", "bytes");
    const QJsonObject memory = object({{QStringLiteral("total_bytes"), bytes}, {QStringLiteral("available_bytes"), bytes}});
    QJsonObject load = arrayOf(type("number"));
    load[QStringLiteral("description")] = QStringLiteral("the 1, 5 and 15 minute load averages");
    QJsonObject inUse = nullableString("kvm or tcg, as the running VMs use it; null while none runs (QEMU)");
    s[QStringLiteral("System")] = object(
        {{QStringLiteral("host"),
          object({{QStringLiteral("cpus"), type("integer")},
                  {QStringLiteral("load"), load},
                  {QStringLiteral("memory"), memory},
                  {QStringLiteral("ksm"), ksmSchema()}},
                 {QStringLiteral("cpus")})},
         {QStringLiteral("data_dir"),
          object({{QStringLiteral("path"), type("string")}, {QStringLiteral("total_bytes"), bytes}, {QStringLiteral("available_bytes"), bytes}})},
         {QStringLiteral("driver"), type("string", "qemu or cloud-hypervisor")},
         {QStringLiteral("accelerator"),
          object({{QStringLiteral("in_use"), inUse},
                  {QStringLiteral("kvm_usable"), type("boolean", "KVM's vCPU probe passed on this host")},
                  {QStringLiteral("reason"), nullableString("why KVM is not used, when it is not")}})},
         {QStringLiteral("versions"),
          object({{QStringLiteral("app"), type("string")},
                  {QStringLiteral("qt"), type("string")},
                  {QStringLiteral("vmm"), nullableString("the first line of the VMM's --version")}})},
         {QStringLiteral("quota"), quotaSchema()},
         {QStringLiteral("warm_start"),
          object(
              {{QStringLiteral("enabled"), type("boolean", "a VM's first start restores its template's warm snapshot when there is one (warm_start setting)")},
               {QStringLiteral("building"), type("boolean", "a warm snapshot is being made")}})},
         {QStringLiteral("pool"), poolTemplatesSchema()},
         {QStringLiteral("vms"), object({{QStringLiteral("total"), type("integer")}, {QStringLiteral("by_state"), type("object", "each state's count")}})}},
        {QStringLiteral("host"), QStringLiteral("data_dir"), QStringLiteral("driver"), QStringLiteral("accelerator"), QStringLiteral("versions"),
         QStringLiteral("quota"), QStringLiteral("warm_start"), QStringLiteral("vms")});
}

// A VM and its creation.
void vmSchemas(QJsonObject &s)
{
    QJsonObject nullableTime = type("string");
    nullableTime[QStringLiteral("format")] = QStringLiteral("date-time");
    nullableTime[QStringLiteral("nullable")] = true;
    QJsonObject state = type("string");
    state[QStringLiteral("enum")] = QJsonArray{QStringLiteral("created"), QStringLiteral("preparing"), QStringLiteral("booting"), QStringLiteral("running"),
                                               QStringLiteral("paused"),  QStringLiteral("stopping"),  QStringLiteral("stopped"), QStringLiteral("failed")};
    s[QStringLiteral("ErrorDetail")] = object({{QStringLiteral("code"), type("string")}, {QStringLiteral("message"), type("string")}});
    QJsonObject time = type("string");
    time[QStringLiteral("format")] = QStringLiteral("date-time");
    s[QStringLiteral("VmStatsSample")] =
        object({{QStringLiteral("time"), time},
                {QStringLiteral("time_ms"), type("integer", "milliseconds since the epoch")},
                {QStringLiteral("cpu_percent"), nullable(type("number", "the VMM's CPU use since the sample before, in percent of one core"))},
                {QStringLiteral("vmm_cpu_seconds"), nullable(type("number", "the VMM process's CPU time so far (user and system)"))},
                {QStringLiteral("vmm_resident_bytes"), nullable(type("integer", "the VMM process's resident memory"))},
                {QStringLiteral("guest_memory_total_bytes"), nullable(type("integer", "as the guest agent reports it; null when it did not answer in time"))},
                {QStringLiteral("guest_memory_available_bytes"), nullable(type("integer"))},
                {QStringLiteral("disk_bytes"), nullable(type("integer", "blocks of the VM's own disk directory"))},
                {QStringLiteral("network_received_bytes"),
                 nullable(type("integer", "bytes the VM received through its NIC since its network started (a root service's; null without a NIC)"))},
                {QStringLiteral("network_sent_bytes"), nullable(type("integer", "bytes the VM sent through its NIC"))}},
               {QStringLiteral("time"), QStringLiteral("time_ms")});
    s[QStringLiteral("VmStats")] = object({{QStringLiteral("vm"), type("string")},
                                           {QStringLiteral("interval_ms"), type("integer")},
                                           {QStringLiteral("keep_ms"), type("integer")},
                                           {QStringLiteral("samples"), arrayOf(ref("VmStatsSample"))}},
                                          {QStringLiteral("vm"), QStringLiteral("interval_ms"), QStringLiteral("keep_ms"), QStringLiteral("samples")});
    s[QStringLiteral("Vm")] = object(
        {{QStringLiteral("name"), type("string")},
         {QStringLiteral("template"), type("string")},
         {QStringLiteral("state"), state},
         {QStringLiteral("desired_state"), type("string", "stopped, running or paused")},
         {QStringLiteral("vcpus"), type("integer")},
         {QStringLiteral("max_vcpus"), type("integer", "the most vCPUs it may have while it runs (vCPUs are added up to it and removed down to 1)")},
         {QStringLiteral("memory_mb"), type("integer")},
         {QStringLiteral("created_at"), nullableTime},
         {QStringLiteral("last_started_at"), nullableTime},
         {QStringLiteral("last_error"), nullableRef("ErrorDetail")},
         {QStringLiteral("current_snapshot"), nullableString("the snapshot its state descends from (the last taken or restored); null after a cold boot")},
         {QStringLiteral("forked_from"), nullableString("\"<vm>/<snapshot>\" when it was forked from a snapshot")},
         {QStringLiteral("owner"), nullableString("the id of the token that made it (token-file: the admin token), whose quota it counts against")},
         {QStringLiteral("boot_ms"), type("integer", "while running or paused")},
         {QStringLiteral("boot"),
          nullableString("while running or paused, how it last started: cold (booted), warm (from its template's warm snapshot), restore, fork; "
                         "null when adopted from an earlier service")},
         {QStringLiteral("accelerated"), type("boolean", "while running or paused")},
         {QStringLiteral("memory_current_mb"),
          type("integer", "while running or paused: the guest's memory now, memory_mb less what its balloon holds (see PATCH .../resources)")},
         {QStringLiteral("network"), ref("VmNetwork")}},
        {QStringLiteral("name"), QStringLiteral("template"), QStringLiteral("state")});
    s[QStringLiteral("VmResources")] =
        object({{QStringLiteral("vcpus"),
                 type("integer",
                      "a stopped VM's, from its next start; a running VM's are hot-plugged at once, up to its max_vcpus (501 when it was "
                      "started without room) and down to 1")},
                {QStringLiteral("max_vcpus"), type("integer", "a stopped VM's room for vCPUs added while it runs, from its next start (0: none)")},
                {QStringLiteral("memory_mb"),
                 type("integer",
                      "a stopped VM's, from its next start; a running VM's changes at once through its balloon: down to what its guest "
                      "can spare (it keeps 32 MiB available), back up to its memory_mb")}});
    QJsonObject name = type("string");
    name[QStringLiteral("pattern")] = QStringLiteral("^[a-z0-9][a-z0-9-]{0,62}$");
    s[QStringLiteral("CreateVm")] =
        object({{QStringLiteral("name"), name},
                {QStringLiteral("template"), type("string")},
                {QStringLiteral("vcpus"), type("integer")},
                {QStringLiteral("max_vcpus"), type("integer", "room for vCPUs added while it runs (at least vcpus; default: none)")},
                {QStringLiteral("memory_mb"), type("integer")},
                {QStringLiteral("start"), type("boolean", "start it at once (default true)")},
                {QStringLiteral("network"), ref("NetworkSpec")}},
               {QStringLiteral("name"), QStringLiteral("template")});
}

// Exec and guest files.
// A VM's activity (ActivityLog): GET .../events and its WebSocket.
void eventSchemas(QJsonObject &s)
{
    s[QStringLiteral("VmEvent")] = object(
        {{QStringLiteral("type"), type("string", "event")},
         {QStringLiteral("seq"), type("integer", "increasing, across the service's VMs")},
         {QStringLiteral("time"), type("string", "when it ended, ISO 8601 UTC")},
         {QStringLiteral("vm"), type("string")},
         {QStringLiteral("action"),
          type("string", "click, double_click, triple_click, drag, scroll, move, type, key, screenshot, exec, file_put, file_get, code")},
         {QStringLiteral("detail"),
          type("object",
               "x, y (drag: from), to_x, to_y, button, dx, dy, text (typed), keys, width, height (screenshot), cmd, exit_code, path, bytes, "
               "language, code; text at most 200 characters")},
         {QStringLiteral("result"), type("string", "ok, or the error's code (control_held, timeout, ...)")},
         {QStringLiteral("duration_ms"), type("integer")}},
        {QStringLiteral("type"), QStringLiteral("seq"), QStringLiteral("time"), QStringLiteral("vm"), QStringLiteral("action"), QStringLiteral("result")});
    s[QStringLiteral("VmEvents")] = object({{QStringLiteral("vm"), type("string")},
                                            {QStringLiteral("keep"), type("integer", "how many events of a VM are kept")},
                                            {QStringLiteral("last_seq"), type("integer", "the service's last event, of any VM")},
                                            {QStringLiteral("events"), arrayOf(ref("VmEvent"))}},
                                           {QStringLiteral("vm"), QStringLiteral("events")});
}

void guestSchemas(QJsonObject &s)
{
    QJsonObject cmd{{QStringLiteral("oneOf"), QJsonArray{arrayOf(type("string")), type("string", "run by /bin/sh -c")}},
                    {QStringLiteral("description"), QStringLiteral("argv, or a shell string")}};
    QJsonObject env = type("object");
    env[QStringLiteral("additionalProperties")] = type("string");
    s[QStringLiteral("ExecRequest")] =
        object({{QStringLiteral("cmd"), cmd},
                {QStringLiteral("env"), env},
                {QStringLiteral("cwd"), type("string")},
                {QStringLiteral("stdin"), type("string")},
                {QStringLiteral("timeout_s"), type("number")},
                {QStringLiteral("background"), type("boolean", "start it as a background process and answer 201 with it at once (POST .../exec only)")}},
               {QStringLiteral("cmd")});
    QJsonObject exitCode = type("integer", "null when a signal ended the command");
    exitCode[QStringLiteral("nullable")] = true;
    s[QStringLiteral("ExecResult")] =
        object({{QStringLiteral("exit_code"), exitCode},
                {QStringLiteral("signal"), type("integer")},
                {QStringLiteral("stdout"), type("string")},
                {QStringLiteral("stderr"), type("string")},
                {QStringLiteral("duration_ms"), type("number")},
                {QStringLiteral("timed_out"), type("boolean")},
                {QStringLiteral("stdout_truncated"), type("boolean")},
                {QStringLiteral("stderr_truncated"), type("boolean")}},
               {QStringLiteral("exit_code"), QStringLiteral("stdout"), QStringLiteral("stderr"), QStringLiteral("duration_ms"), QStringLiteral("timed_out")});
    s[QStringLiteral("FileEntry")] = object({{QStringLiteral("name"), type("string")},
                                             {QStringLiteral("type"), type("string")},
                                             {QStringLiteral("mode"), type("integer")},
                                             {QStringLiteral("size"), type("integer")},
                                             {QStringLiteral("mtime"), type("integer")},
                                             {QStringLiteral("uid"), type("integer")},
                                             {QStringLiteral("gid"), type("integer")},
                                             {QStringLiteral("link_target"), type("string")}});
}

// Background processes.
void processSchemas(QJsonObject &s)
{
    QJsonObject time = type("string");
    time[QStringLiteral("format")] = QStringLiteral("date-time");
    QJsonObject nullableTime = time;
    nullableTime[QStringLiteral("nullable")] = true;
    QJsonObject nullableInt = type("integer");
    nullableInt[QStringLiteral("nullable")] = true;
    QJsonObject exitCode = nullableInt;
    exitCode[QStringLiteral("description")] = QStringLiteral("once it exited; null while running or when a signal ended it");
    QJsonObject signal = nullableInt;
    signal[QStringLiteral("description")] = QStringLiteral("the signal that ended it");
    s[QStringLiteral("Process")] = object({{QStringLiteral("pid"), type("integer", "its pid in the guest")},
                                           {QStringLiteral("command"), arrayOf(type("string"))},
                                           {QStringLiteral("running"), type("boolean")},
                                           {QStringLiteral("exit_code"), exitCode},
                                           {QStringLiteral("signal"), signal},
                                           {QStringLiteral("started_at"), time},
                                           {QStringLiteral("ended_at"), nullableTime}},
                                          {QStringLiteral("pid"), QStringLiteral("command"), QStringLiteral("running"), QStringLiteral("started_at")});
    s[QStringLiteral("ProcessOutput")] =
        object({{QStringLiteral("stdout"), type("string", "text up to the last whole UTF-8 character (bytes that are not UTF-8 as U+FFFD)")},
                {QStringLiteral("stderr"), type("string", "the same for stderr")},
                {QStringLiteral("stdout_offset"),
                 type("integer", "where the next read of stdout starts (a byte offset into the whole stream, after the text returned)")},
                {QStringLiteral("stderr_offset"), type("integer", "where the next read of stderr starts")},
                {QStringLiteral("truncated"),
                 type("boolean", "bytes between the offsets asked for and the data returned were dropped (the guest keeps the last MiB of each)")},
                {QStringLiteral("running"), type("boolean")},
                {QStringLiteral("exit_code"), exitCode}},
               {QStringLiteral("stdout"), QStringLiteral("stderr"), QStringLiteral("stdout_offset"), QStringLiteral("stderr_offset"),
                QStringLiteral("truncated"), QStringLiteral("running")});
    s[QStringLiteral("ProcessStdin")] =
        object({{QStringLiteral("data"), type("string")}, {QStringLiteral("eof"), type("boolean", "close stdin after the data")}});
    s[QStringLiteral("ProcessSignal")] =
        object({{QStringLiteral("signal"),
                 QJsonObject{{QStringLiteral("oneOf"), QJsonArray{type("integer"), type("string")}},
                             {QStringLiteral("description"),
                              QStringLiteral("a number or a name: HUP, INT, QUIT, KILL, USR1, USR2, TERM (the default), CONT, STOP")}}}});
}

// Input actions and the display.
void displaySchemas(QJsonObject &s)
{
    s[QStringLiteral("InputAction")] =
        object({{QStringLiteral("action"), type("string", "move, click, drag, scroll, type or key")},
                {QStringLiteral("x"), type("integer", "move, drag (start); click and scroll (optional: else where the pointer is)")},
                {QStringLiteral("y"), type("integer")},
                {QStringLiteral("to_x"), type("integer", "drag: the end")},
                {QStringLiteral("to_y"), type("integer")},
                {QStringLiteral("button"), type("string", "left (default), middle or right")},
                {QStringLiteral("count"), type("integer", "click: 1 to 3")},
                {QStringLiteral("dx"), type("integer", "scroll: notches right (+) or left (-)")},
                {QStringLiteral("dy"), type("integer", "scroll: notches down (+) or up (-)")},
                {QStringLiteral("text"), type("string", "type: any Unicode text")},
                {QStringLiteral("keys"), type("string", "key: a combination such as ctrl+alt+t, Return, shift+Tab")}},
               {QStringLiteral("action")});
    s[QStringLiteral("InputRequest")] =
        QJsonObject{{QStringLiteral("description"),
                     QStringLiteral("one action, or {\"actions\": [...]}; 'scale' (optional) is the screenshot's scale "
                                    "the coordinates were taken at")},
                    {QStringLiteral("oneOf"),
                     QJsonArray{ref("InputAction"),
                                object({{QStringLiteral("actions"), arrayOf(ref("InputAction"))}, {QStringLiteral("scale"), type("number")}},
                                       {QStringLiteral("actions")})}}};
    s[QStringLiteral("Display")] =
        object({{QStringLiteral("name"), type("string")},
                {QStringLiteral("connected"), type("boolean")},
                {QStringLiteral("ready"), type("boolean", "the template's readiness check passed: screenshots and input are served")},
                {QStringLiteral("width"), type("integer")},
                {QStringLiteral("height"), type("integer")},
                {QStringLiteral("controller"), type("string", "agent or human")},
                {QStringLiteral("human_in_control"), type("boolean")},
                {QStringLiteral("viewer"), type("string", "the noVNC page")},
                {QStringLiteral("websocket"), type("string", "raw RFB over a WebSocket")},
                {QStringLiteral("performed"), type("integer", "POST .../input: actions applied")}});
}

// Snapshots and forks.
void snapshotSchemas(QJsonObject &s)
{
    QJsonObject snapshotName = type("string");
    snapshotName[QStringLiteral("pattern")] = QStringLiteral("^[a-z0-9][a-z0-9-]{0,62}$");
    s[QStringLiteral("SnapshotFile")] = object({{QStringLiteral("name"), type("string", "relative to the snapshot's directory")},
                                                {QStringLiteral("size"), type("integer")},
                                                {QStringLiteral("sha256"), type("string", "lowercase hex, as written")}},
                                               {QStringLiteral("name"), QStringLiteral("size"), QStringLiteral("sha256")});
    QJsonObject createdAt = type("string");
    createdAt[QStringLiteral("format")] = QStringLiteral("date-time");
    s[QStringLiteral("Snapshot")] = object({{QStringLiteral("name"), type("string")},
                                            {QStringLiteral("vm"), type("string", "the VM it was taken of")},
                                            {QStringLiteral("created_at"), createdAt},
                                            {QStringLiteral("parent"), nullableString("the snapshot the VM's state descended from; null: a cold boot")},
                                            {QStringLiteral("size_bytes"), type("integer", "all its files")},
                                            {QStringLiteral("paused_ms"), type("integer", "how long the VM was paused for it")},
                                            {QStringLiteral("template"), type("string")},
                                            {QStringLiteral("vcpus"), type("integer")},
                                            {QStringLiteral("memory_mb"), type("integer")},
                                            {QStringLiteral("driver"), type("string", "qemu or cloud-hypervisor")},
                                            {QStringLiteral("vmm_version"), nullableString("the VMM version that saved it; only that version restores it")},
                                            {QStringLiteral("has_disk"), type("boolean", "it holds a copy of the VM's writable disk")},
                                            {QStringLiteral("files"), arrayOf(ref("SnapshotFile"))}},
                                           {QStringLiteral("name"), QStringLiteral("vm"), QStringLiteral("created_at"), QStringLiteral("files")});
    QJsonObject snapshotNameField = snapshotName;
    snapshotNameField[QStringLiteral("description")] = QStringLiteral("default: snap-<UTC time>");
    s[QStringLiteral("CreateSnapshot")] =
        object({{QStringLiteral("name"), snapshotNameField},
                {QStringLiteral("leave_paused"), type("boolean", "stay paused afterwards (default false: a running VM runs on; a paused one stays paused)")}});
    QJsonObject count = type("integer", "how many VMs to start (default 1)");
    count[QStringLiteral("minimum")] = 1;
    count[QStringLiteral("maximum")] = 16;
    s[QStringLiteral("ForkRequest")] =
        object({{QStringLiteral("count"), count}, {QStringLiteral("name_prefix"), type("string", "the new VMs are <prefix>-<n> (default <vm>-fork)")}});
}

// Exposed ports.
// A VM's network (issue 15): its mode at create, its egress policy.
void networkSchemas(QJsonObject &s)
{
    QJsonObject mode = type("string", "none: no NIC; egress: outbound through the host, filtered by the policy; private: also the VMs of its group");
    mode[QStringLiteral("enum")] = QJsonArray{QStringLiteral("none"), QStringLiteral("egress"), QStringLiteral("private")};
    QJsonObject action = type("string");
    action[QStringLiteral("enum")] = QJsonArray{QStringLiteral("deny"), QStringLiteral("allow")};
    const QJsonObject ports = arrayOf(type("string", "\"443\", \"8000-8100\", \"53/udp\", \"1000-2000/tcp\" (no protocol: TCP and UDP)"));
    const QJsonObject ruleObject = object({{QStringLiteral("domain"), type("string", "example.com (it and every name below), *.example.com (only below)")},
                                           {QStringLiteral("cidr"), type("string", "an IPv4 or IPv6 network; a bare address is a /32 or /128")},
                                           {QStringLiteral("ports"), ports}});
    const QJsonObject rule{{QStringLiteral("oneOf"), QJsonArray{type("string", "a domain pattern or a network"), ruleObject}}};
    s[QStringLiteral("NetworkPolicy")] = object(
        {{QStringLiteral("default"), action}, {QStringLiteral("allow"), arrayOf(rule)}, {QStringLiteral("deny"), arrayOf(rule)}}, {QStringLiteral("default")});
    s[QStringLiteral("NetworkSpec")] = object({{QStringLiteral("mode"), mode},
                                               {QStringLiteral("private_network"), type("string", "the group of mode private")},
                                               {QStringLiteral("policy"), ref("NetworkPolicy")}});
    s[QStringLiteral("VmNetwork")] = object({{QStringLiteral("mode"), mode},
                                             {QStringLiteral("private_network"), type("string")},
                                             {QStringLiteral("mac"), type("string", "its MAC, assigned at create (with a NIC)")}},
                                            {QStringLiteral("mode")});
    QJsonObject count = type("integer");
    count[QStringLiteral("minimum")] = 0;
    const QJsonObject denial = object({{QStringLiteral("address"), type("string", "where the VM tried to connect")},
                                       {QStringLiteral("protocol"), type("string", "tcp or udp")},
                                       {QStringLiteral("port"), type("integer")},
                                       {QStringLiteral("expires_s"), type("integer", "seconds until it is forgotten; the latest has the largest")}});
    s[QStringLiteral("VmNetworkStatus")] =
        object({{QStringLiteral("mode"), mode},
                {QStringLiteral("private_network"), type("string")},
                {QStringLiteral("mac"), type("string")},
                {QStringLiteral("attached"), type("boolean", "its VMM runs with its NIC; the fields below only then")},
                {QStringLiteral("address"), type("string", "the guest's address with its prefix (10.213.0.2/30)")},
                {QStringLiteral("gateway"), type("string", "the host's end: default route")},
                {QStringLiteral("resolver"), type("string", "the VM's own resolver, which answers only the names its policy allows")},
                {QStringLiteral("tap"), type("string", "the host's tap device")},
                {QStringLiteral("counters"), object({{QStringLiteral("allowed"), count}, {QStringLiteral("denied"), count}})},
                {QStringLiteral("denials"), arrayOf(denial)}},
               {QStringLiteral("mode")});
}

void portSchemas(QJsonObject &s)
{
    QJsonObject guestPort = type("integer", "the port in the guest (on its 127.0.0.1); one exposure per guest port");
    guestPort[QStringLiteral("minimum")] = 1;
    guestPort[QStringLiteral("maximum")] = 65535;
    QJsonObject hostPort = type("integer", "the host port; 0 (the default): any free one, asked for again after a service restart while free");
    hostPort[QStringLiteral("minimum")] = 0;
    hostPort[QStringLiteral("maximum")] = 65535;
    s[QStringLiteral("ExposePort")] =
        object({{QStringLiteral("guest_port"), guestPort},
                {QStringLiteral("host_address"),
                 type("string",
                      "an IP address of this host to listen on: 127.0.0.1 (the default), ::1, 0.0.0.0 or :: for all of them, or an address of "
                      "one of its interfaces")},
                {QStringLiteral("host_port"), hostPort}},
               {QStringLiteral("guest_port")});
    QJsonObject boundPort = type("integer", "the host port it listens on; when not listening, the fixed port asked for, or null");
    boundPort[QStringLiteral("nullable")] = true;
    QJsonObject state = type("string",
                             "active: listening, the VM runs and connections reach the guest; waiting: listening, the VM does not run "
                             "and connections are closed at once; failed: not listening (see error; tried again when the VM starts)");
    state[QStringLiteral("enum")] = QJsonArray{QStringLiteral("active"), QStringLiteral("waiting"), QStringLiteral("failed")};
    s[QStringLiteral("Port")] =
        object({{QStringLiteral("guest_port"), type("integer")},
                {QStringLiteral("host_address"), type("string")},
                {QStringLiteral("host_port"), boundPort},
                {QStringLiteral("host_port_fixed"), type("boolean", "the host port was chosen: it is bound again as it is after a restart")},
                {QStringLiteral("endpoint"), nullableString("host:port to connect to ([v6]:port); null when not listening")},
                {QStringLiteral("state"), state},
                {QStringLiteral("connections"), type("integer", "connections relayed now")},
                {QStringLiteral("error"), nullableRef("ErrorDetail")}},
               {QStringLiteral("guest_port"), QStringLiteral("host_address"), QStringLiteral("state")});
}

// Code execution.
void codeSchemas(QJsonObject &s)
{
    QJsonObject language = type("string");
    language[QStringLiteral("enum")] = QJsonArray{QStringLiteral("python"), QStringLiteral("javascript"), QStringLiteral("bash")};
    s[QStringLiteral("CodeRequest")] =
        object({{QStringLiteral("language"), language},
                {QStringLiteral("code"), type("string")},
                {QStringLiteral("session"),
                 nullableString("run in this session (python only): its state lives on between runs, like a notebook; started on first use. "
                                "1-64 of [A-Za-z0-9_.-]. Leave it out for a one-shot run")},
                {QStringLiteral("timeout_s"),
                 type("number", "the run's limit (default 60): a session's kernel is interrupted and keeps its state, a one-shot run is killed")}},
               {QStringLiteral("language"), QStringLiteral("code")});
    QJsonObject nullableInt = type("integer");
    nullableInt[QStringLiteral("nullable")] = true;
    const QJsonObject output = object({{QStringLiteral("type"), type("string", "MIME type: image/png, image/jpeg, image/svg+xml, text/html, text/plain, ...")},
                                       {QStringLiteral("data"), type("string", "base64 for image/png and image/jpeg, else the text")},
                                       {QStringLiteral("width"), type("integer", "images: pixels")},
                                       {QStringLiteral("height"), type("integer", "images: pixels")}},
                                      {QStringLiteral("type"), QStringLiteral("data")});
    QJsonObject error = object({{QStringLiteral("name"), type("string", "SyntaxError, NameError, TimeoutError, ExitError (non-zero exit), ...")},
                                {QStringLiteral("value"), type("string")},
                                {QStringLiteral("traceback"), arrayOf(type("string"))}},
                               {QStringLiteral("name"), QStringLiteral("value"), QStringLiteral("traceback")});
    error[QStringLiteral("nullable")] = true;
    s[QStringLiteral("CodeResult")] =
        object({{QStringLiteral("stdout"), type("string", "at most 1 MiB; a cut is marked in the text")},
                {QStringLiteral("stderr"), type("string")},
                {QStringLiteral("result"), nullableString("the last expression's value as text (python, javascript)")},
                {QStringLiteral("outputs"), arrayOf(output)},
                {QStringLiteral("error"), error},
                {QStringLiteral("timed_out"), type("boolean")},
                {QStringLiteral("session"), nullableString("the session, null for a one-shot run")},
                {QStringLiteral("execution_count"), nullableInt},
                {QStringLiteral("duration_ms"), type("integer")}},
               {QStringLiteral("stdout"), QStringLiteral("stderr"), QStringLiteral("result"), QStringLiteral("outputs"), QStringLiteral("error"),
                QStringLiteral("timed_out"), QStringLiteral("session"), QStringLiteral("execution_count"), QStringLiteral("duration_ms")});
    s[QStringLiteral("CodeSession")] =
        object({{QStringLiteral("id"), type("string")},
                {QStringLiteral("language"), type("string")},
                {QStringLiteral("created_at"), type("string", "ISO 8601 (the guest's clock); a restart renews it")},
                {QStringLiteral("executions"), type("integer")},
                {QStringLiteral("busy"), type("boolean", "a run is going on")}},
               {QStringLiteral("id"), QStringLiteral("language"), QStringLiteral("created_at"), QStringLiteral("executions"), QStringLiteral("busy")});
}

// A token's own limits on the VMs it makes (beside the host's).
QJsonObject tokenQuota()
{
    QJsonObject count = type("integer");
    count[QStringLiteral("minimum")] = 1;
    QJsonObject o = object({{QStringLiteral("vms"), count}, {QStringLiteral("vcpus"), count}, {QStringLiteral("memory_mb"), count}});
    o[QStringLiteral("description")] =
        QStringLiteral("limits on the VMs this token makes (count; vCPUs and memory of those running); a key left out: no limit");
    return o;
}

void tokenSchemas(QJsonObject &s)
{
    QJsonObject role = type("string", "viewer: read state, screenshots, watch; operator: also create and drive VMs; admin: everything");
    role[QStringLiteral("enum")] = QJsonArray{QStringLiteral("viewer"), QStringLiteral("operator"), QStringLiteral("admin")};
    const QJsonObject tokenProperties{{QStringLiteral("id"), type("string")},
                                      {QStringLiteral("name"), type("string")},
                                      {QStringLiteral("role"), role},
                                      {QStringLiteral("vms"), nullableString("a glob on VM names ('*', '?'); null: every VM")},
                                      {QStringLiteral("created"), type("string", "ISO 8601")},
                                      {QStringLiteral("expires"), nullableString("ISO 8601; null: never")},
                                      {QStringLiteral("quota"), nullable(tokenQuota())}};
    const QStringList tokenRequired{QStringLiteral("id"),  QStringLiteral("name"),    QStringLiteral("role"),
                                    QStringLiteral("vms"), QStringLiteral("created"), QStringLiteral("expires")};
    s[QStringLiteral("Token")] = object(tokenProperties, tokenRequired);
    QJsonObject created = tokenProperties;
    created[QStringLiteral("secret")] = type("string", "mvs_<id>_<hex>: the bearer token, in this answer only");
    s[QStringLiteral("CreatedToken")] = object(created, tokenRequired + QStringList{QStringLiteral("secret")});
    QJsonObject ttl = type("integer", "seconds until it expires; leave it out for no expiry");
    ttl[QStringLiteral("minimum")] = 1;
    s[QStringLiteral("CreateToken")] = object({{QStringLiteral("role"), role},
                                               {QStringLiteral("vms"), type("string", "a glob on VM names such as ci-*; leave it out for every VM")},
                                               {QStringLiteral("expires_in_s"), ttl},
                                               {QStringLiteral("name"), type("string", "a label")},
                                               {QStringLiteral("quota"), tokenQuota()}},
                                              {QStringLiteral("role")});
    QJsonObject outcome = type("string");
    outcome[QStringLiteral("enum")] = QJsonArray{QStringLiteral("allowed"), QStringLiteral("denied"), QStringLiteral("failed")};
    s[QStringLiteral("AuditEntry")] = object({{QStringLiteral("time"), type("string", "ISO 8601, UTC")},
                                              {QStringLiteral("token"), nullableString("the token's id (token-file: the admin token); null: none valid")},
                                              {QStringLiteral("role"), nullableString("the token's role")},
                                              {QStringLiteral("method"), type("string")},
                                              {QStringLiteral("route"), type("string", "the route's pattern, e.g. /api/v1/vms/{name}/exec")},
                                              {QStringLiteral("vm"), nullableString("the VM named in the path")},
                                              {QStringLiteral("status"), type("integer", "the HTTP status (101: a WebSocket opened)")},
                                              {QStringLiteral("outcome"), outcome},
                                              {QStringLiteral("peer"), type("string", "the client's address")},
                                              {QStringLiteral("request_id"), nullableString("the request's X-Request-Id")}});
}

QJsonObject schemas()
{
    QJsonObject s;
    metaSchemas(s);
    systemSchema(s);
    poolSchema(s);
    vmSchemas(s);
    eventSchemas(s);
    guestSchemas(s);
    processSchemas(s);
    codeSchemas(s);
    displaySchemas(s);
    snapshotSchemas(s);
    portSchemas(s);
    networkSchemas(s);
    tokenSchemas(s);
    return s;
}

QJsonObject components()
{
    QJsonObject vmName{
        {QStringLiteral("name"), QStringLiteral("name")},
        {QStringLiteral("in"), QStringLiteral("path")},
        {QStringLiteral("required"), true},
        {QStringLiteral("description"), QStringLiteral("the VM's name")},
        {QStringLiteral("schema"),
         QJsonObject{{QStringLiteral("type"), QStringLiteral("string")}, {QStringLiteral("pattern"), QStringLiteral("^[a-z0-9][a-z0-9-]{0,62}$")}}}};
    QJsonObject snapshotName = vmName;
    snapshotName[QStringLiteral("name")] = QStringLiteral("snap");
    snapshotName[QStringLiteral("description")] = QStringLiteral("the snapshot's name");
    const auto err = [](const char *description) { return response(description, jsonContent(ref("Error"))); };
    QJsonObject tooMany = err("too_many_requests: too many failed authentications from this address; wait Retry-After seconds. "
                              "quota_exceeded (no Retry-After): the host's quota of VMs, vCPUs, memory or disk does not allow the request; "
                              "the message names the limit, what is in use, what was asked and by how much it is over");
    tooMany[QStringLiteral("headers")] = QJsonObject{
        {QStringLiteral("Retry-After"), QJsonObject{{QStringLiteral("schema"), type("integer")}, {QStringLiteral("description"), QStringLiteral("seconds")}}}};
    return QJsonObject{{QStringLiteral("securitySchemes"),
                        QJsonObject{{QStringLiteral("bearer"),
                                     QJsonObject{{QStringLiteral("type"), QStringLiteral("http")},
                                                 {QStringLiteral("scheme"), QStringLiteral("bearer")},
                                                 {QStringLiteral("description"),
                                                  QStringLiteral("the admin token printed on the service's first start "
                                                                 "(stored in the config directory, file 'token'), or a scoped token "
                                                                 "(mvs_<id>_<secret>) made with POST /api/v1/tokens")}}}}},
                       {QStringLiteral("parameters"), QJsonObject{{QStringLiteral("VmName"), vmName}, {QStringLiteral("SnapshotName"), snapshotName}}},
                       {QStringLiteral("schemas"), schemas()},
                       {QStringLiteral("responses"),
                        QJsonObject{{QStringLiteral("Error"), err("an error")},
                                    {QStringLiteral("BadRequest"), err("malformed JSON, a wrong field or parameter")},
                                    {QStringLiteral("Unauthorized"), err("no, a wrong, an expired or a revoked bearer token")},
                                    {QStringLiteral("Forbidden"), err("forbidden: the token's role or VM glob does not cover this")},
                                    {QStringLiteral("TooManyRequests"), tooMany},
                                    {QStringLiteral("NotFound"), err("no such VM, template or guest path")},
                                    {QStringLiteral("Conflict"), err("the VM's state does not allow it, or it exists")},
                                    {QStringLiteral("Corrupted"), err("corrupted: the snapshot's files fail their checksums")},
                                    {QStringLiteral("NoSpace"), err("no_space: the disk is full; nothing was kept")}}}};
}

// The paths object, filled one operation at a time.
class Paths {
public:
    void add(const char *path, const char *method, const Op &op)
    {
        QJsonObject item = m_paths.value(QLatin1String(path)).toObject();
        item[QLatin1String(method)] = operation(op);
        m_paths[QLatin1String(path)] = item;
    }
    const QJsonObject &json() const { return m_paths; }

private:
    QJsonObject m_paths;
};

QJsonObject binary()
{
    QJsonObject b = type("string");
    b[QStringLiteral("format")] = QStringLiteral("binary");
    return b;
}

// What the service says about itself.
void servicePaths(Paths &paths)
{
    paths.add("/api/v1/health", "get",
              {"Service status and version (no token needed)",
               "health",
               {},
               {},
               {{QStringLiteral("200"), response("the service is up", jsonContent(ref("Health")))}},
               false});
    paths.add("/api/v1/templates", "get",
              {"List the VM templates",
               "listTemplates",
               {},
               {},
               {{QStringLiteral("200"), response("templates", jsonContent(object({{QStringLiteral("templates"), arrayOf(ref("Template"))}})))}}});
    paths.add("/api/v1/openapi.json", "get",
              {"This document (also with the docs page's session cookie)",
               "openApi",
               {},
               {},
               {{QStringLiteral("200"), response("OpenAPI 3.0", jsonContent(type("object")))}}});
    paths.add("/docs", "get",
              {"This document in the browser (Swagger UI). Open it once with ?token=<token>: the answer sets a session cookie "
               "(HttpOnly, SameSite=Strict) for the page, its files and this document only, and the page drops the token from the "
               "address. \"Try it out\" sends the token given to \"Authorize\" as a Bearer header",
               "docsPage",
               QJsonArray{queryParameter("token", type("string"), false, "the bearer token (browsers)")},
               {},
               {{QStringLiteral("200"), response("the page", content("text/html", type("string")))}}});
    paths.add("/docs/{path}", "get",
              {"The docs page's own files (Swagger UI's, built into the service)",
               "docsAsset",
               QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("path")},
                                      {QStringLiteral("in"), QStringLiteral("path")},
                                      {QStringLiteral("required"), true},
                                      {QStringLiteral("description"), QStringLiteral("a file of the page; may contain '/'")},
                                      {QStringLiteral("schema"), type("string")}}},
               {},
               {{QStringLiteral("200"), response("the file", content("application/octet-stream", binary()))}}});
    paths.add("/metrics", "get",
              {"Prometheus metrics (text format 0.0.4): VMs by state, requests by route and status, latency, execs, exposed ports, per-VM series "
               "(VMM CPU and memory, guest memory, execs, transfers, snapshots, boot and restore times), the data directory's disk",
               "metrics",
               {},
               {},
               {{QStringLiteral("200"), response("metrics", content("text/plain", type("string")))}}});
    paths.add("/api/v1/system", "get",
              {"The host and the service: CPUs, load, memory, the data directory's disk, the VMM driver, the accelerator and why, versions, VMs by "
               "state",
               "system",
               {},
               {},
               {{QStringLiteral("200"), response("the system", jsonContent(ref("System")))}}});
    paths.add("/api/v1/pool", "get",
              {"The paused pool: per template, how many VMs it keeps restored and paused so that a create is a resume (boot \"pool\"), "
               "how many are ready and filling, and why it is short",
               "pool",
               {},
               {},
               {{QStringLiteral("200"), response("the pool", jsonContent(ref("Pool")))}}});
    paths.add("/api/v1/pool", "put",
              {"Replace the pool's targets until the service stops (the config file's pool key is the lasting setting). Templates with a NIC "
               "cannot be pooled (501); the pool fills one VM at a time, only as far as the host's quotas leave room",
               "setPool",
               {},
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("PoolTargets"))}},
               {{QStringLiteral("200"), response("the pool", jsonContent(ref("Pool")))}}});
}

// The VMs and their lifecycle.
void vmPaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    paths.add(
        "/api/v1/vms", "get",
        {"List the VMs", "listVms", {}, {}, {{QStringLiteral("200"), response("VMs", jsonContent(object({{QStringLiteral("vms"), arrayOf(ref("Vm"))}})))}}});
    paths.add("/api/v1/vms", "post",
              {"Create a VM (and start it unless start is false)",
               "createVm",
               {},
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("CreateVm"))}},
               {{QStringLiteral("201"), response("the new VM", jsonContent(ref("Vm")))}, {QStringLiteral("409"), errorRef("Conflict")}}});
    paths.add("/api/v1/vms/{name}", "get", {"One VM", "getVm", byName, {}, {{QStringLiteral("200"), response("the VM", jsonContent(ref("Vm")))}}});
    paths.add("/api/v1/vms/{name}", "delete",
              {"Stop (kill) and delete a VM, its record and console log",
               "deleteVm",
               byName,
               {},
               {{QStringLiteral("200"),
                 response("deleted", jsonContent(object({{QStringLiteral("name"), type("string")}, {QStringLiteral("deleted"), type("boolean")}})))}}});
    paths.add("/api/v1/vms/{name}/start", "post", {"Start a stopped VM; answers once its agent is up", "startVm", byName, {}, vmResponse("the VM")});
    paths.add("/api/v1/vms/{name}/stop", "post", {"Stop a VM", "stopVm", byName, {}, vmResponse("the VM")});
    paths.add("/api/v1/vms/{name}/pause", "post", {"Pause a running VM", "pauseVm", byName, {}, vmResponse("the VM")});
    paths.add("/api/v1/vms/{name}/resume", "post", {"Resume a paused VM", "resumeVm", byName, {}, vmResponse("the VM")});
    paths.add("/api/v1/vms/{name}/restart", "post", {"Stop (if running) and start a VM", "restartVm", byName, {}, vmResponse("the VM")});
    paths.add("/api/v1/vms/{name}/resources", "patch",
              {"Resize a VM: a stopped one's vCPUs, max_vcpus and memory from its next start, a running one's vCPUs and memory at once "
               "(answers once the guest has them: memory_current_mb, and vcpus online in the guest)",
               "resizeVm",
               byName,
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("VmResources"))}},
               {{QStringLiteral("200"), response("the VM", jsonContent(ref("Vm")))},
                {QStringLiteral("400"), errorRef("Error")},
                {QStringLiteral("409"), errorRef("Conflict")},
                {QStringLiteral("429"), errorRef("Error")},
                {QStringLiteral("501"), errorRef("Error")}}});
}

// Inside a guest: exec (plain and streamed), files, the console.
void guestPaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    paths.add("/api/v1/vms/{name}/exec", "post",
              {"Run a command in the VM and wait for it",
               "exec",
               byName,
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("ExecRequest"))}},
               {{QStringLiteral("200"),
                 response("the command ran (whatever its exit code); the answer comes when its main process ends "
                          "(output still coming is taken for 250 ms), and children it left in the background keep running",
                          jsonContent(ref("ExecResult")))},
                {QStringLiteral("201"), response("with \"background\": true: the background process, started", jsonContent(ref("Process")))},
                {QStringLiteral("409"), errorRef("Conflict")},
                {QStringLiteral("413"), errorRef("Error")}}});

    paths.add("/api/v1/vms/{name}/exec/ws", "get",
              {"Streamed exec over a WebSocket (upgrade). Text frames of JSON: the client sends the exec request (the fields of "
               "POST .../exec), then {\"type\":\"stdin\",\"data\":base64} and {\"type\":\"stdin_eof\"}; the server sends "
               "{\"type\":\"stdout\"|\"stderr\",\"data\":base64} as output comes, then {\"type\":\"exit\",\"exit_code\","
               "\"signal\",\"timed_out\",\"duration_ms\"} and closes (or {\"type\":\"error\",\"error\":{...}}). The token goes "
               "in the Authorization header or ?token=.",
               "execWebSocket",
               QJsonArray{nameParameter(), queryParameter("token", type("string"), false, "the bearer token, for clients that cannot set headers")},
               {},
               {{QStringLiteral("101"), response("switching to the WebSocket protocol")}}});

    const QJsonArray byNameAndPath{nameParameter(), queryParameter("path", type("string"), true, "an absolute path in the guest")};
    paths.add("/api/v1/vms/{name}/files", "put",
              {"Write a file in the guest (raw body, any content)",
               "putFile",
               byNameAndPath,
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), content("application/octet-stream", binary())}},
               {{QStringLiteral("200"),
                 response("written", jsonContent(object({{QStringLiteral("path"), type("string")}, {QStringLiteral("size"), type("integer")}})))},
                {QStringLiteral("413"), errorRef("Error")}}});
    paths.add("/api/v1/vms/{name}/files", "get",
              {"Read a file from the guest (raw body, streamed; Content-Length is the size the guest declared)",
               "getFile",
               byNameAndPath,
               {},
               {{QStringLiteral("200"), response("the file's bytes", content("application/octet-stream", binary()))}}});
    paths.add(
        "/api/v1/vms/{name}/files/list", "get",
        {"List a directory in the guest",
         "listFiles",
         byNameAndPath,
         {},
         {{QStringLiteral("200"),
           response("the entries", jsonContent(object({{QStringLiteral("path"), type("string")}, {QStringLiteral("entries"), arrayOf(ref("FileEntry"))}})))}}});
    QJsonObject bytes = type("integer");
    bytes[QStringLiteral("minimum")] = 1;
    QJsonObject sinceSchema = type("string");
    paths.add("/api/v1/vms/{name}/stats", "get",
              {"The VM's usage history: a sample every interval_ms while it runs, kept keep_ms (one hour) in memory",
               "vmStats",
               QJsonArray{nameParameter(),
                          queryParameter("since", sinceSchema, false,
                                         "only samples after this time: milliseconds since the epoch, or ISO 8601 with its zone (default: all kept)")},
               {},
               {{QStringLiteral("200"), response("the samples, oldest first", jsonContent(ref("VmStats")))}}});
    paths.add("/api/v1/vms/{name}/console", "get",
              {"The VM's serial console log (its end)",
               "console",
               QJsonArray{nameParameter(), queryParameter("bytes", bytes, false, "how many bytes of the end of the log (default 262144)")},
               {},
               {{QStringLiteral("200"), response("the log", content("text/plain", type("string")))}}});
}

// Snapshots: a VM's saved state (memory, devices, disk), restored in
// place or forked into new VMs.
void eventPaths(Paths &paths)
{
    QJsonObject seq = type("integer");
    seq[QStringLiteral("minimum")] = 0;
    paths.add("/api/v1/vms/{name}/events", "get",
              {"What was done to the VM through the API, its last 200 events: computer-use actions (click, double_click, triple_click, "
               "drag, scroll, move, type, key), screenshots, exec, file_put, file_get and code, each as it ended",
               "vmEvents",
               QJsonArray{nameParameter(), queryParameter("since", seq, false, "only events after this seq (default: all kept)")},
               {},
               {{QStringLiteral("200"), response("the events, oldest first", jsonContent(ref("VmEvents")))}}});
    paths.add("/api/v1/vms/{name}/events/ws", "get",
              {"The VM's events as they happen, over a WebSocket (upgrade): a text frame of JSON per event (VmEvent), in order; with "
               "?since=<seq> the kept ones after it first. A client that reads too slowly gets {\"type\":\"gap\",\"dropped\":n} in place "
               "of the events it missed. The token goes in the Authorization header or ?token= (the VM viewer page uses its session cookie).",
               "vmEventsWebSocket",
               QJsonArray{nameParameter(), queryParameter("since", seq, false, "send the kept events after this seq first"),
                          queryParameter("token", type("string"), false, "the bearer token, for clients that cannot set headers")},
               {},
               {{QStringLiteral("101"), response("switching to the WebSocket protocol")}}});
}

void snapshotPaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    const QJsonArray bySnapshot{nameParameter(), QJsonObject{{QStringLiteral("$ref"), QStringLiteral("#/components/parameters/SnapshotName")}}};
    paths.add("/api/v1/vms/{name}/snapshots", "post",
              {"Snapshot a running or paused VM: pause it, save memory, devices and disk, run it again (unless leave_paused). "
               "Listed only once every file is written, hashed and synced; on any failure nothing is kept",
               "createSnapshot",
               byName,
               QJsonObject{{QStringLiteral("required"), false}, {QStringLiteral("content"), jsonContent(ref("CreateSnapshot"))}},
               {{QStringLiteral("201"), response("the snapshot", jsonContent(ref("Snapshot")))},
                {QStringLiteral("409"), errorRef("Conflict")},
                {QStringLiteral("507"), errorRef("NoSpace")}}});
    paths.add("/api/v1/vms/{name}/snapshots", "get",
              {"A VM's snapshots, oldest first",
               "listSnapshots",
               byName,
               {},
               {{QStringLiteral("200"), response("snapshots", jsonContent(object({{QStringLiteral("snapshots"), arrayOf(ref("Snapshot"))}})))}}});
    paths.add("/api/v1/vms/{name}/snapshots/{snap}", "get",
              {"One snapshot", "getSnapshot", bySnapshot, {}, {{QStringLiteral("200"), response("the snapshot", jsonContent(ref("Snapshot")))}}});
    paths.add("/api/v1/vms/{name}/snapshots/{snap}", "delete",
              {"Delete a snapshot (its children keep working and get its parent as theirs)",
               "deleteSnapshot",
               bySnapshot,
               {},
               {{QStringLiteral("204"), response("deleted")}, {QStringLiteral("409"), errorRef("Conflict")}}});
    paths.add("/api/v1/vms/{name}/snapshots/{snap}/restore", "post",
              {"Verify the snapshot's checksums, then run the VM from it in place (a running VM loses its unsaved state, a stopped "
               "one starts). A corrupted snapshot is refused (422) and the VM is left as it was",
               "restoreSnapshot",
               bySnapshot,
               {},
               {{QStringLiteral("200"), response("the VM, running from the snapshot", jsonContent(ref("Vm")))},
                {QStringLiteral("409"), errorRef("Conflict")},
                {QStringLiteral("422"), errorRef("Corrupted")}}});
    paths.add("/api/v1/vms/{name}/snapshots/{snap}/fork", "post",
              {"Start new VMs from a snapshot, each with its own name, disk copy and host name. All or nothing",
               "forkSnapshot",
               bySnapshot,
               QJsonObject{{QStringLiteral("required"), false}, {QStringLiteral("content"), jsonContent(ref("ForkRequest"))}},
               {{QStringLiteral("201"), response("the new VMs, running", jsonContent(object({{QStringLiteral("vms"), arrayOf(ref("Vm"))}})))},
                {QStringLiteral("409"), errorRef("Conflict")},
                {QStringLiteral("422"), errorRef("Corrupted")},
                {QStringLiteral("507"), errorRef("NoSpace")}}});
}

// Background processes, kept by the guest agent.
void processPaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    const QJsonObject pid{{QStringLiteral("name"), QStringLiteral("pid")},
                          {QStringLiteral("in"), QStringLiteral("path")},
                          {QStringLiteral("required"), true},
                          {QStringLiteral("description"), QStringLiteral("the background process's pid in the guest")},
                          {QStringLiteral("schema"), type("integer")}};
    const QJsonArray byPid{nameParameter(), pid};
    const QJsonObject process = response("the process", jsonContent(ref("Process")));
    paths.add("/api/v1/vms/{name}/processes", "get",
              {"A VM's background processes (started by POST .../exec with \"background\": true), running or ended, oldest first. "
               "The guest keeps at most 32; an ended one is forgotten to make room, and a start past 32 running ones is refused with 409",
               "listProcesses",
               byName,
               {},
               {{QStringLiteral("200"), response("its processes", jsonContent(object({{QStringLiteral("processes"), arrayOf(ref("Process"))}})))}}});
    paths.add("/api/v1/vms/{name}/processes/{pid}", "get", {"A background process's status", "getProcess", byPid, {}, {{QStringLiteral("200"), process}}});
    paths.add("/api/v1/vms/{name}/processes/{pid}/output", "get",
              {"A background process's output from byte offsets into its whole stdout and stderr (the last MiB of each is kept)",
               "getProcessOutput",
               QJsonArray{nameParameter(), pid, queryParameter("stdout_offset", type("integer"), false, "where to read stdout from (default 0)"),
                          queryParameter("stderr_offset", type("integer"), false, "where to read stderr from (default 0)")},
               {},
               {{QStringLiteral("200"), response("its output", jsonContent(ref("ProcessOutput")))}}});
    paths.add("/api/v1/vms/{name}/processes/{pid}/stdin", "post",
              {"Write to a background process's stdin (and close it with eof); 409 when it has 1 MiB not yet read",
               "writeProcessStdin",
               byPid,
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("ProcessStdin"))}},
               {{QStringLiteral("204"), response("written")}, {QStringLiteral("409"), errorRef("Conflict")}}});
    paths.add("/api/v1/vms/{name}/processes/{pid}/kill", "post",
              {"Send a signal (TERM by default) to a background process's group; an ended process is answered as it is",
               "killProcess",
               byPid,
               QJsonObject{{QStringLiteral("required"), false}, {QStringLiteral("content"), jsonContent(ref("ProcessSignal"))}},
               {{QStringLiteral("200"), process}}});
    paths.add("/api/v1/vms/{name}/processes/{pid}", "delete",
              {"Forget a background process (killing its group first if it runs)", "deleteProcess", byPid, {}, {{QStringLiteral("204"), response("gone")}}});
}

// Exposed ports: a guest TCP port reached at a host address and port.
void networkPaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    paths.add("/api/v1/vms/{name}/network", "get",
              {"A VM's network: its mode and MAC, and while it runs with a NIC its address, connection counters and recent denials "
               "(what it tried to reach and was refused)",
               "getNetwork",
               byName,
               {},
               {{QStringLiteral("200"), response("its network", jsonContent(ref("VmNetworkStatus")))}, {QStringLiteral("404"), errorRef("NotFound")}}});
    paths.add("/api/v1/vms/{name}/network/policy", "get",
              {"A VM's egress policy (409 for a VM without a NIC)",
               "getNetworkPolicy",
               byName,
               {},
               {{QStringLiteral("200"), response("the policy", jsonContent(ref("NetworkPolicy")))}, {QStringLiteral("409"), errorRef("Conflict")}}});
    paths.add(
        "/api/v1/vms/{name}/network/policy", "put",
        {"Replace a VM's egress policy whole; kept in its record, and a running VM's new connections follow it at once",
         "putNetworkPolicy",
         byName,
         QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("NetworkPolicy"))}},
         {{QStringLiteral("200"), response("the policy now in force", jsonContent(ref("NetworkPolicy")))}, {QStringLiteral("409"), errorRef("Conflict")}}});
}

void portPaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    QJsonObject portNumber = type("integer");
    portNumber[QStringLiteral("minimum")] = 1;
    portNumber[QStringLiteral("maximum")] = 65535;
    const QJsonArray byPort{nameParameter(),
                            QJsonObject{{QStringLiteral("name"), QStringLiteral("port")},
                                        {QStringLiteral("in"), QStringLiteral("path")},
                                        {QStringLiteral("required"), true},
                                        {QStringLiteral("description"), QStringLiteral("the exposed guest port")},
                                        {QStringLiteral("schema"), portNumber}}};
    paths.add("/api/v1/vms/{name}/ports", "post",
              {"Expose a guest TCP port on this host, relayed through the guest agent (works in every network mode, none included). "
               "It belongs to the VM: kept in its record, it survives stop/start and a service restart (a fixed host port is bound "
               "again as it is) until removed or the VM is deleted. Accepted in any state: the host port is held from now on, and "
               "connections reach the guest while the VM runs (closed at once while it does not)",
               "exposePort",
               byName,
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("ExposePort"))}},
               {{QStringLiteral("201"), response("the exposure, listening", jsonContent(ref("Port")))},
                {QStringLiteral("403"), errorRef("Error")},
                {QStringLiteral("409"),
                 response("already_exists: the guest port is exposed already, or the host port is in use (the message names the "
                          "address and port)",
                          jsonContent(ref("Error")))}}});
    paths.add("/api/v1/vms/{name}/ports", "get",
              {"A VM's exposed ports, by guest port",
               "listPorts",
               byName,
               {},
               {{QStringLiteral("200"), response("exposed ports", jsonContent(object({{QStringLiteral("ports"), arrayOf(ref("Port"))}})))}}});
    paths.add("/api/v1/vms/{name}/ports/{port}", "delete",
              {"Stop exposing a guest port: the host port is closed and its connections dropped; it is gone from the record",
               "unexposePort",
               byPort,
               {},
               {{QStringLiteral("204"), response("removed")}}});
}

// Computer use: the VM's live desktop (templates with a desktop).
void displayPaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    const QJsonObject waitS = queryParameter("wait_s", type("integer"), false,
                                             "wait up to this many seconds (at most 60) for the desktop to be ready; without it a desktop "
                                             "not ready yet answers 503 display_not_ready with Retry-After at once");
    const QJsonObject notReady = response("display_not_ready: the desktop's readiness check has not passed yet (Retry-After: 1)", jsonContent(ref("Error")));
    paths.add("/api/v1/vms/{name}/screenshot", "get",
              {"The current screen as PNG. Headers X-Screen-Width/X-Screen-Height give the screen size and X-Scale the factor "
               "applied (divide screenshot coordinates by it, or pass it as 'scale' to POST .../input)",
               "screenshot",
               QJsonArray{nameParameter(),
                          queryParameter("scale", type("string"), false, "a factor in (0, 1], or a maximum size WIDTHxHEIGHT to fit the image in"), waitS},
               {},
               {{QStringLiteral("200"), response("the screen", content("image/png", binary()))},
                {QStringLiteral("409"), errorRef("Conflict")},
                {QStringLiteral("503"), notReady}}});
    paths.add("/api/v1/vms/{name}/input", "post",
              {"Mouse and keyboard input, one action or {\"actions\": [...]}, applied in order. Refused with 409 control_held "
               "while a human holds control of the display, and with 503 display_not_ready until the desktop is ready",
               "input",
               QJsonArray{nameParameter(), waitS},
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("InputRequest"))}},
               {{QStringLiteral("200"), response("performed", jsonContent(ref("Display")))},
                {QStringLiteral("409"), errorRef("Conflict")},
                {QStringLiteral("503"), notReady}}});
    paths.add("/api/v1/vms/{name}/display", "get",
              {"The display's size and who is driving it (agent or human)",
               "display",
               byName,
               {},
               {{QStringLiteral("200"), response("the display", jsonContent(ref("Display")))}, {QStringLiteral("409"), errorRef("Conflict")}}});
    paths.add("/api/v1/vms/{name}/display/control", "post",
              {"A human takes control ({\"controller\": \"human\"}: agent input is refused) or gives it back "
               "({\"controller\": \"agent\"})",
               "displayControl",
               byName,
               QJsonObject{{QStringLiteral("required"), true},
                           {QStringLiteral("content"),
                            jsonContent(object({{QStringLiteral("controller"), type("string", "human or agent")}}, {QStringLiteral("controller")}))}},
               {{QStringLiteral("200"), response("the display", jsonContent(ref("Display")))}}});

    paths.add("/api/v1/vms/{name}/vnc", "get",
              {"Raw RFB over a WebSocket (upgrade, binary frames) to the VM's VNC server, for noVNC and other web VNC clients. "
               "The token goes in the Authorization header, ?token= or the viewer page's cookie. The viewer's keyboard and "
               "pointer reach the guest only while a human holds control (POST .../display/control)",
               "vncWebSocket",
               QJsonArray{nameParameter(), queryParameter("token", type("string"), false, "the bearer token, for clients that cannot set headers")},
               {},
               {{QStringLiteral("101"), response("switching to the WebSocket protocol")}}});
    paths.add("/vnc/{name}", "get",
              {"The noVNC viewer page of a VM's desktop. Open it once with ?token=<token>: the answer sets a session cookie "
               "(HttpOnly, SameSite=Strict) and the page drops the token from the address",
               "viewerPage",
               QJsonArray{nameParameter(), queryParameter("token", type("string"), false, "the bearer token (browsers)")},
               {},
               {{QStringLiteral("200"), response("the page", content("text/html", type("string")))}}});
    paths.add("/novnc/{path}", "get",
              {"noVNC's own files, used by the viewer page (from Debian's novnc package or MVS_NOVNC_DIR)",
               "novncAsset",
               QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("path")},
                                      {QStringLiteral("in"), QStringLiteral("path")},
                                      {QStringLiteral("required"), true},
                                      {QStringLiteral("description"), QStringLiteral("a file under noVNC's directory; may contain '/'")},
                                      {QStringLiteral("schema"), type("string")}}},
               {},
               {{QStringLiteral("200"), response("the file", content("application/octet-stream", binary()))}}});
}

// Code execution and its sessions.
void codePaths(Paths &paths)
{
    const QJsonArray byName{nameParameter()};
    const QJsonArray bySession{nameParameter(),
                               QJsonObject{{QStringLiteral("name"), QStringLiteral("id")},
                                           {QStringLiteral("in"), QStringLiteral("path")},
                                           {QStringLiteral("required"), true},
                                           {QStringLiteral("description"), QStringLiteral("the session's id")},
                                           {QStringLiteral("schema"), type("string")}}};
    paths.add("/api/v1/vms/{name}/code", "post",
              {"Run code in the VM (python in a Jupyter kernel, javascript with node, bash) and wait for it. An error in the code "
               "(a syntax error, an exception, a timeout) is a 200 with 'error' set. Needs a template with Python (agent). At most 4 runs at once per VM "
               "(409 for one more)",
               "runCode",
               byName,
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("CodeRequest"))}},
               {{QStringLiteral("200"), response("the code ran", jsonContent(ref("CodeResult")))}, {QStringLiteral("409"), errorRef("Conflict")}}});
    paths.add("/api/v1/vms/{name}/code/sessions", "get",
              {"The VM's code sessions (they die with the VM)",
               "listCodeSessions",
               byName,
               {},
               {{QStringLiteral("200"), response("sessions", jsonContent(object({{QStringLiteral("sessions"), arrayOf(ref("CodeSession"))}})))}}});
    paths.add("/api/v1/vms/{name}/code/sessions/{id}/restart", "post",
              {"Restart a code session's kernel: its state is gone",
               "restartCodeSession",
               bySession,
               {},
               {{QStringLiteral("200"), response("the session", jsonContent(ref("CodeSession")))}}});
    paths.add("/api/v1/vms/{name}/code/sessions/{id}", "delete",
              {"Close a code session (its kernel ends)", "closeCodeSession", bySession, {}, {{QStringLiteral("204"), response("closed")}}});
}

// Scoped tokens and the audit log: an admin token without a VM glob.
void tokenPaths(Paths &paths)
{
    paths.add("/api/v1/tokens", "get",
              {"List the scoped tokens (never their secrets; admin)",
               "listTokens",
               {},
               {},
               {{QStringLiteral("200"), response("tokens", jsonContent(object({{QStringLiteral("tokens"), arrayOf(ref("Token"))}})))}}});
    paths.add("/api/v1/tokens", "post",
              {"Make a scoped token; its secret is in this answer only (admin)",
               "createToken",
               {},
               QJsonObject{{QStringLiteral("required"), true}, {QStringLiteral("content"), jsonContent(ref("CreateToken"))}},
               {{QStringLiteral("201"), response("the token and its secret", jsonContent(ref("CreatedToken")))}}});
    QJsonObject tokenId{{QStringLiteral("name"), QStringLiteral("id")},
                        {QStringLiteral("in"), QStringLiteral("path")},
                        {QStringLiteral("required"), true},
                        {QStringLiteral("description"), QStringLiteral("the token's id")},
                        {QStringLiteral("schema"), type("string")}};
    paths.add("/api/v1/tokens/{id}", "delete",
              {"Revoke a token: its WebSockets and viewer sessions end now (admin)",
               "revokeToken",
               QJsonArray{tokenId},
               {},
               {{QStringLiteral("204"), response("revoked")}}});
    QJsonObject limit = type("integer", "the newest this many (default 100)");
    limit[QStringLiteral("minimum")] = 1;
    limit[QStringLiteral("maximum")] = 1000;
    paths.add("/api/v1/audit", "get",
              {"Read the audit log: changes, denials, WebSockets and take-overs, oldest first (admin)",
               "readAudit",
               QJsonArray{queryParameter("since", type("string"), false, "ISO 8601: entries at or after this time"),
                          queryParameter("vm", type("string"), false, "entries about this VM"),
                          queryParameter("token", type("string"), false, "entries of this token id (token-file: the admin token)"),
                          queryParameter("outcome", type("string"), false, "allowed, denied or failed"), queryParameter("limit", limit, false, "at most 1000")},
               {},
               {{QStringLiteral("200"), response("entries", jsonContent(object({{QStringLiteral("entries"), arrayOf(ref("AuditEntry"))}})))}}});
}

} // namespace

QJsonObject document()
{
    Paths paths;
    servicePaths(paths);
    vmPaths(paths);
    guestPaths(paths);
    eventPaths(paths);
    processPaths(paths);
    codePaths(paths);
    snapshotPaths(paths);
    portPaths(paths);
    networkPaths(paths);
    displayPaths(paths);
    tokenPaths(paths);
    return QJsonObject{
        {QStringLiteral("openapi"), QStringLiteral("3.0.3")},
        {QStringLiteral("info"),
         QJsonObject{{QStringLiteral("title"), QStringLiteral("MicroVM Sandbox API")},
                     {QStringLiteral("version"), QStringLiteral(MVS_VERSION)},
                     {QStringLiteral("license"), QJsonObject{{QStringLiteral("name"), QLatin1String(kLicense)}}},
                     {QStringLiteral("description"), QStringLiteral("Run commands in microVMs. Errors are {\"error\": {\"code\", \"message\"}}.")}}},
        {QStringLiteral("servers"), QJsonArray{QJsonObject{{QStringLiteral("url"), QStringLiteral("http://127.0.0.1:8000")}}}},
        {QStringLiteral("security"), QJsonArray{QJsonObject{{QStringLiteral("bearer"), QJsonArray()}}}},
        {QStringLiteral("paths"), paths.json()},
        {QStringLiteral("components"), components()}};
}

} // namespace Server::OpenApi
