#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Checks of the Prometheus rules in this directory:
#   1. nf_conntrack.rules.yml is exactly what generate.py makes from config.yml (and the e2e
#      overrides still generate);
#   2. `promtool check rules` accepts it without a word of warning;
#   3. `promtool test rules` passes every file of tests/;
#   4. every alert has a test where it fires and one where it stays silent, every recording
#      rule a test of its value, every runbook link absolute and an anchor in docs/alerts.md;
#   5. where PyYAML is installed, it reads config.yml and the rules as generate.py means them.
# Exit 0 (pass), 1 (fail) or 77 with a "SKIP: reason" line (no promtool or no python3).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is not installed"; exit 77; }
command -v promtool >/dev/null 2>&1 || { echo "SKIP: promtool is not installed (Debian: prometheus)"; exit 77; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
passed=0
failed=0
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
ko() { echo "FAIL: $1"; failed=$((failed + 1)); }

# 1. the committed output is up to date
if python3 "$here/generate.py" -o "$tmp/rules.yml" 2>"$tmp/gen.err"; then
	if diff -u "$here/nf_conntrack.rules.yml" "$tmp/rules.yml" >"$tmp/diff"; then
		ok "nf_conntrack.rules.yml is up to date with config.yml"
	else
		cat "$tmp/diff"
		ko "nf_conntrack.rules.yml differs from what generate.py makes (run: python3 dashboards/rules/generate.py)"
	fi
else
	cat "$tmp/gen.err"
	ko "generate.py failed"
fi
if python3 "$here/generate.py" --override "$here/e2e-overrides.yml" -o "$tmp/e2e.yml" 2>"$tmp/gen.err" &&
	promtool check rules "$tmp/e2e.yml" >"$tmp/out" 2>&1; then
	ok "the e2e overrides generate valid rules"
else
	cat "$tmp/gen.err" "$tmp/out" 2>/dev/null
	ko "the e2e overrides do not generate valid rules"
fi

# 2. promtool check rules, silent but for its SUCCESS line
promtool check rules "$here/nf_conntrack.rules.yml" >"$tmp/out" 2>&1
rc=$?
noise=$(grep -v -e '^Checking ' -e '^  SUCCESS: [0-9]* rules found$' -e '^$' "$tmp/out")
if [ $rc -eq 0 ] && [ -z "$noise" ]; then
	ok "promtool check rules: $(grep -o '[0-9]* rules found' "$tmp/out")"
else
	cat "$tmp/out"
	ko "promtool check rules (exit $rc)"
fi

# 3. promtool test rules
if (cd "$here/tests" && promtool test rules ./*.yml) >"$tmp/out" 2>&1; then
	ok "promtool test rules: $(cd "$here/tests" && ls ./*.yml | wc -l) files"
else
	cat "$tmp/out"
	ko "promtool test rules"
fi

# 4. coverage of the tests, runbook anchors
if python3 "$here/generate.py" --dump-rules -o - >"$tmp/rules.json" 2>"$tmp/gen.err" &&
	python3 - "$tmp/rules.json" "$here/tests" "$top/docs/alerts.md" >"$tmp/out" 2>&1 <<'EOF'; then
import json, os, re, sys

rules = [r for g in json.load(open(sys.argv[1]))["groups"] for r in g["rules"]]
tests = ""
for f in sorted(os.listdir(sys.argv[2])):
    if f.endswith(".yml"):
        tests += open(os.path.join(sys.argv[2], f)).read()
# "alertname: X" then its exp_alerts: "[]" (silent) or a list (fires)
seen = {}
for m in re.finditer(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*(\[\])?", tests):
    seen.setdefault(m.group(1), set()).add("silent" if m.group(2) else "fires")
exprs = set(re.findall(r"-\s*expr:\s*'?([a-zA-Z_:][a-zA-Z0-9_:]*)", tests))
problems = []
for name in sorted({r["alert"] for r in rules if "alert" in r}):
    for want in ("fires", "silent"):
        if want not in seen.get(name, set()):
            problems.append(f"alert {name}: no test where it {'fires' if want == 'fires' else 'stays silent'}")
for name in [r["record"] for r in rules if "record" in r]:
    if name not in exprs:
        problems.append(f"recording rule {name}: no promql_expr_test of its value")
unknown = sorted(set(seen) - {r.get("alert") for r in rules})
problems += [f"tests name alert {n}, which the rules do not have" for n in unknown]
try:
    doc = open(sys.argv[3]).read()
except OSError as e:
    doc = ""
    problems.append(f"cannot read docs/alerts.md: {e.strerror}")
anchors = set()
for h in re.findall(r"^#+\s+(.+?)\s*$", doc, re.M):
    anchors.add(re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-"))
anchors |= set(re.findall(r"<a (?:id|name)=\"([^\"]+)\"", doc))
for r in rules:
    url = r.get("annotations", {}).get("runbook_url", "")
    if "alert" in r and not re.match(r"https?://", url):
        problems.append(f"alert {r['alert']}: runbook_url {url!r} is not an absolute http(s) URL")
    if "#" in url and url.split("#", 1)[1] not in anchors:
        problems.append(f"alert {r['alert']}: runbook anchor #{url.split('#', 1)[1]} is not a heading of docs/alerts.md")
for link in sorted(set(re.findall(r"\]\(#([^)]+)\)", doc))):
    if link not in anchors:
        problems.append(f"docs/alerts.md links to #{link}, which is not one of its headings")
problems = list(dict.fromkeys(problems))
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
	ok "every alert fires and stays silent in a test, every recording rule is tested, runbook anchors exist"
else
	cat "$tmp/gen.err" "$tmp/out" 2>/dev/null
	ko "test coverage or runbook anchors"
fi

# 5. PyYAML, where installed, reads the files as generate.py means them
if python3 -c 'import yaml' 2>/dev/null; then
	if python3 "$here/generate.py" --dump-config -o - >"$tmp/config.json" &&
		python3 - "$here" "$tmp/config.json" "$tmp/rules.json" "$tmp/rules.yml" <<'EOF'; then
import json, os, sys, yaml

here = sys.argv[1]
ok = True
if yaml.safe_load(open(os.path.join(here, "config.yml"))) != json.load(open(sys.argv[2])):
    print("config.yml: PyYAML and generate.py's parser disagree")
    ok = False
if yaml.safe_load(open(sys.argv[4])) != json.load(open(sys.argv[3])):
    print("generate.py's YAML: PyYAML does not read back what generate.py meant to write")
    ok = False
sys.exit(0 if ok else 1)
EOF
		ok "PyYAML reads config.yml and the generated rules as generate.py means them"
	else
		ko "PyYAML cross-check"
	fi
else
	echo "note: PyYAML not installed, YAML cross-check not run"
fi

if [ "$failed" -eq 0 ]; then
	echo "OK: all $passed rule checks passed"
	exit 0
fi
echo "FAIL: $failed of $((passed + failed)) rule checks failed"
exit 1
