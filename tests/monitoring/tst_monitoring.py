#!/usr/bin/python3
"""tst_monitoring: packaging/monitoring/ against the real service.
`promtool check rules` passes on the alert rules; a real `microvm-sandbox
--serve` (no guest, its own directories) is scraped, `promtool check metrics`
finds nothing wrong in what it exports, and every metric name the Grafana
dashboard and the alert rules use is one the service exports (or `up`, which
Prometheus makes). Usage: tst_monitoring.py BINARY SOURCE_DIR."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "monitoring-test-token-0123456789abcdef"
PROMETHEUS_OWN = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# PromQL words that look like metric names in an expression.
PROMQL_WORDS = {"sum", "rate", "increase", "by", "on", "le", "histogram_quantile", "label_values", "humanize1024", "without", "ignoring",
                "group_left", "group_right", "and", "or", "unless", "max", "min", "avg", "count", "bool", "offset"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200, r.status
        return r.read().decode()


def start_service(binary, tmp):
    port = free_port()
    env = dict(os.environ, MVS_TOKEN=TOKEN, MVS_CONFIG_DIR=f"{tmp}/config", MVS_DATA_DIR=f"{tmp}/data", MVS_RUNTIME_DIR=f"{tmp}/run")
    service = subprocess.Popen([binary, "--serve", "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                return service, port
        except OSError:
            assert service.poll() is None, service.stderr.read().decode()
            time.sleep(0.2)
    raise AssertionError("the service did not answer /api/v1/health within 30 s")


def exported_families(text):
    """name -> type, from the # TYPE lines."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M)}


def metric_names(expr):
    """The metric names an expression uses (label names and values, and durations, removed)."""
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values and strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", expr))
    return {n for n in names if n not in PROMQL_WORDS and not n.startswith("__")}


def known(name, families):
    if name in families or name in PROMETHEUS_OWN:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def dashboard_exprs(dashboard):
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", var["definition"]))
    return exprs


def rule_exprs(path):
    # The rules file is YAML; its expressions are the `expr:` lines.
    return [m.group(1).strip() for m in re.finditer(r"^\s*expr:\s*(.+)$", open(path).read(), re.M)]


def main():
    binary, source = sys.argv[1], sys.argv[2]
    monitoring = os.path.join(source, "packaging", "monitoring")
    rules = os.path.join(monitoring, "alerts.yml")
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (scripts/setup.sh test installs it)"
    r = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout.strip())

    dashboard = json.load(open(os.path.join(monitoring, "grafana-dashboard.json")))
    assert dashboard["panels"], "the dashboard has no panels"

    tmp = tempfile.mkdtemp(prefix="tst_monitoring-")
    service = None
    try:
        service, port = start_service(binary, tmp)
        text = scrape(port)
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert r.returncode == 0, "promtool check metrics: " + r.stdout + r.stderr
        families = exported_families(text)
        for family in ("mvs_vm_vmm_cpu_seconds_total", "mvs_vm_vmm_resident_memory_bytes", "mvs_vm_guest_memory_total_bytes",
                       "mvs_vm_exec_total", "mvs_vm_transfer_bytes_total", "mvs_vm_boot_duration_seconds", "mvs_vm_restore_duration_seconds",
                       "mvs_vm_snapshot_bytes_total", "mvs_data_dir_available_bytes"):
            assert family in families, f"{family} is not exported"
        used = set()
        for expr in dashboard_exprs(dashboard) + rule_exprs(rules):
            names = metric_names(expr)
            assert names, f"no metric in {expr!r}"
            unknown = [n for n in names if not known(n, families)]
            assert not unknown, f"{expr!r} uses {unknown}, which the service does not export"
            used |= names
        print(f"the dashboard and the rules use {len(used)} metric names, all exported: {sorted(used)}")
    finally:
        if service:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
