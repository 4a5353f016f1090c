#!/usr/bin/env bash
# Checks the monitoring files in deploy/ (run by .ci/run): the Prometheus rules parse and
# their unit tests pass; the Grafana dashboard is valid JSON with a Prometheus datasource
# variable and queries that parse (promtool); every metric name the rules, their tests and
# the dashboard use is one that crates/observe exports. Then the service examples
# (systemd unit, nginx), by scripts/check-service.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

rules=deploy/prometheus/silent-nas.rules.yml
tests=deploy/prometheus/silent-nas.rules.test.yml
dashboard=deploy/grafana/silent-nas.json

promtool check rules "$rules"
(cd "$(dirname "$tests")" && promtool test rules "$(basename "$tests")")
python3 -m json.tool "$dashboard" >/dev/null

python3 - "$dashboard" "$rules" "$tests" <<'PY'
import glob, json, re, sys

# What the code exports: every `register("name", "help", <x>.field.clone())` call in
# crates/observe/src, with the field's type giving the suffixes Prometheus sees.
exported = set()
for path in glob.glob("crates/observe/src/*.rs"):
    src = open(path).read()
    for name, field in re.findall(r'register\(\s*"([a-z_:][a-z0-9_:]*)",\s*"[^"]*",\s*\w+\.(\w+)\.clone\(\)', src):
        decl = re.search(r'^\s*(?:pub(?:\(crate\))?\s+)?' + field + r':\s*(.+)$', src, re.M)
        kind = decl.group(1) if decl else ""
        if "Counter" in kind:
            exported.add(name + "_total")
        elif "Histogram" in kind:
            exported.update(name + s for s in ("_bucket", "_sum", "_count"))
        else:
            exported.add(name)
if len(exported) < 20:
    sys.exit(f"check-deploy: found only {len(exported)} exported series; did the register() calls change shape?")

dash_path, rules_path, tests_path = sys.argv[1:]
dash = json.load(open(dash_path))
bad = []
variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
ds = variables.get("datasource")
if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    bad.append(f"{dash_path}: no Prometheus datasource variable named 'datasource'")

exprs = []
def walk(panels):
    for p in panels:
        if p.get("type") != "row" and p.get("datasource", {}).get("uid") != "${datasource}":
            bad.append(f"{dash_path}: panel {p.get('title')!r} does not use the $datasource variable")
        for t in p.get("targets", []):
            exprs.append((dash_path, p.get("title"), t["expr"]))
        walk(p.get("panels", []))
walk(dash.get("panels", []))
for v in variables.values():
    q = v.get("definition") or ""
    exprs.append((dash_path, "variable " + v["name"], q))
for path in (rules_path, tests_path):
    exprs.append((path, "", open(path).read()))

used = 0
for path, where, text in exprs:
    for name in re.findall(r'\b(?:silent_nas|process)_[a-z0-9_]+\b', text):
        used += 1
        if name not in exported:
            bad.append(f"{path}: {where} uses {name}, which crates/observe does not export")
# Every dashboard query must parse as PromQL: promtool checks them as recording rules,
# with Grafana's variables replaced by plain values.
import os, subprocess, tempfile
queries = [e for (path, _, e) in exprs if path == dash_path and e and not e.startswith("label_values")]
with tempfile.TemporaryDirectory() as tmp:
    f = os.path.join(tmp, "dashboard-queries.yml")
    with open(f, "w") as out:
        out.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, q in enumerate(queries):
            q = q.replace("$__rate_interval", "5m").replace("$instance", ".*")
            out.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(q)}\n")
    r = subprocess.run(["promtool", "check", "rules", f], capture_output=True, text=True)
    if r.returncode != 0:
        bad.append(f"{dash_path}: a query does not parse:\n{r.stdout}{r.stderr}")
if bad:
    print("deploy check failed:\n  " + "\n  ".join(sorted(set(bad))))
    sys.exit(1)
print(f"deploy ok: {len(exported)} exported series, {used} uses checked in dashboard, rules and rule tests; {len(queries)} dashboard queries parse")
PY

scripts/check-service.sh --require
