#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""deploy: the files under deploy/, the man page and `meson install`, checked against the
exporter itself.

* every YAML file under deploy/ parses;
* the DaemonSet, Service and ServiceMonitor have the expected kinds and agree with each other
  and with the exporter: the default port (from exporter/flags.h), the probe paths, labels and
  selectors, capabilities, and args the exporter's --help knows;
* `promtool check config` on the scrape config (with the repo's rules), and its commented
  TLS + basic auth variant uncommented (--syntax-only); `promtool check web-config` on the web
  config example with throwaway certificates, and its bcrypt hash matches the documented
  password;
* `amtool check-config` on the Alertmanager example, also with its commented receivers
  uncommented, and `amtool config routes test` of where it sends the nf_conntrack alerts;
* `systemd-analyze verify` on the unit and its exposure from `systemd-analyze security` at
  most MAX_EXPOSURE; the unit's flags and the default file's ARGS are flags the exporter knows;
* the man page renders without a warning (groff -ww, man --warnings), has the sections it
  must, and lists exactly the flags and collectors of --help;
* `meson install --destdir` puts every file where it belongs.
Exit 0 pass, 1 fail; a part whose tool is missing is skipped with a reason (77 if all are).
Usage: check.py SOURCE_ROOT BUILD_ROOT EXPORTER PREFIX SBINDIR MANDIR DATADIR
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings

try:
    import yaml
except ImportError:
    # meson may have found a python3 without python3-yaml (pyenv): try the system's.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3") and \
            not os.environ.get("NFCE_DEPLOY_REEXEC"):
        os.environ["NFCE_DEPLOY_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("FAIL: deploy: python3-yaml is not installed (./scripts/deps.sh python3-yaml)")
    sys.exit(1)

MAX_EXPOSURE = 3.0
DOC_PASSWORD = "change-me"
MAN_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COLLECTORS", "ENDPOINTS", "SIGNALS",
                "PRIVILEGES", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]

failures, skipped, parts = [], [], 0


def fail(what, detail=""):
    failures.append(f"{what}: {detail}" if detail else what)


def check(what, cond, detail=""):
    if not cond:
        fail(what, detail)
    return bool(cond)


def eq(what, expected, got):
    return check(what, expected == got, f"expected {expected!r}, got {got!r}")


def skip(part, why):
    skipped.append(f"{part}: {why}")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def dig(d, *path):
    for p in path:
        if isinstance(d, dict):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and p < len(d):
            d = d[p]
        else:
            return None
    return d


# --------------------------------------------------------------------------------------------


def help_flags(exporter):
    """Flag names of --help (without --, values or =), and the collector names."""
    r = run([exporter, "--help"])
    if r.returncode != 0:
        fail("nf_conntrack_exporter --help", f"exit {r.returncode}: {r.stderr}")
    flags, collectors, section = set(), [], None
    for line in r.stdout.splitlines():
        if line.startswith("Collectors"):
            section = "collectors"
            flags |= set(re.findall(r"--((?:no-)?collector\.NAME)", line))
            continue
        m = re.match(r"  --([a-z0-9][a-z0-9.\-]*)", line)
        if m and section is None:
            flags.add(m.group(1))
        m = re.match(r"  ([a-z0-9_]+)\s", line)
        if m and section == "collectors":
            collectors.append(m.group(1))
    check("--help lists flags", len(flags) > 5, r.stdout)
    check("--help lists collectors", collectors, r.stdout)
    return flags, collectors


def check_args(what, args, flags, collectors):
    """Each --flag[=value] in args must be one the exporter knows."""
    for a in args:
        m = re.match(r"--([a-z0-9.\-]+)", a)
        if not m:
            continue
        name = m.group(1)
        c = re.fullmatch(r"(?:no-)?collector\.([a-z_]+)", name)
        if c:
            check(f"{what}: --{name} names a collector", c.group(1) in collectors, f"known: {collectors}")
        else:
            check(f"{what}: flag --{name} is one --help lists", name in flags, f"known: {sorted(flags)}")


def default_port(src):
    with open(os.path.join(src, "exporter/flags.h")) as f:
        m = re.search(r'#define DEFAULT_LISTEN_ADDRESS ":(\d+)"', f.read())
    if not m:
        fail("DEFAULT_LISTEN_ADDRESS in exporter/flags.h", "not found")
        return 39901
    return int(m.group(1))


def load_yaml(src):
    docs = {}
    files = sorted(glob.glob(os.path.join(src, "deploy/**/*.y*ml"), recursive=True))
    check("YAML files under deploy/", len(files) >= 5, files)
    for p in files:
        try:
            with open(p) as f:
                docs[os.path.relpath(p, src)] = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            fail(f"{os.path.relpath(p, src)} parses as YAML", str(e))
    return docs


def check_kubernetes(docs, port, flags, collectors):
    ds = (docs.get("deploy/kubernetes/daemonset.yaml") or [None])[0] or {}
    svc = (docs.get("deploy/kubernetes/service.yaml") or [None])[0] or {}
    sm = (docs.get("deploy/kubernetes/servicemonitor.yaml") or [None])[0] or {}
    eq("daemonset.yaml apiVersion/kind", ("apps/v1", "DaemonSet"), (ds.get("apiVersion"), ds.get("kind")))
    eq("service.yaml apiVersion/kind", ("v1", "Service"), (svc.get("apiVersion"), svc.get("kind")))
    eq("servicemonitor.yaml apiVersion/kind", ("monitoring.coreos.com/v1", "ServiceMonitor"),
       (sm.get("apiVersion"), sm.get("kind")))

    pod = dig(ds, "spec", "template", "spec") or {}
    labels = dig(ds, "spec", "template", "metadata", "labels") or {}
    sel = dig(ds, "spec", "selector", "matchLabels") or {}
    check("DaemonSet selector matches its pod labels", sel and sel.items() <= labels.items(), f"{sel} vs {labels}")
    eq("DaemonSet hostNetwork", True, pod.get("hostNetwork"))
    check("DaemonSet tolerates every taint", {"operator": "Exists"} in (pod.get("tolerations") or []),
          pod.get("tolerations"))
    ctrs = pod.get("containers") or []
    eq("DaemonSet containers", 1, len(ctrs))
    c = ctrs[0] if ctrs else {}
    ports = {p.get("name"): p for p in c.get("ports") or []}
    eq("container port 'metrics'", port, dig(ports, "metrics", "containerPort"))
    args = c.get("args") or []
    check_args("DaemonSet args", args, flags, collectors)
    listen = [a for a in args if a.startswith("--web.listen-address=")]
    check("DaemonSet --web.listen-address uses the port", not listen or listen[0].endswith(f":{port}"), listen)
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        eq(f"{probe} path", path, dig(c, probe, "httpGet", "path"))
        check(f"{probe} port", dig(c, probe, "httpGet", "port") in ("metrics", port), dig(c, probe))
    sc = c.get("securityContext") or {}
    eq("capabilities drop", ["ALL"], dig(sc, "capabilities", "drop"))
    add = dig(sc, "capabilities", "add") or []
    check("capabilities add NET_ADMIN", "NET_ADMIN" in add, add)
    eq("readOnlyRootFilesystem", True, sc.get("readOnlyRootFilesystem"))
    eq("allowPrivilegeEscalation", False, sc.get("allowPrivilegeEscalation"))
    check("privileged is not set", not sc.get("privileged"), sc)
    if any(a.startswith("--runas") for a in args):
        # Started as root to drop to --runas: setuid/setgid and cutting the bounding set.
        check("--runas: SETUID, SETGID, SETPCAP added", {"SETUID", "SETGID", "SETPCAP"} <= set(add), add)
    else:
        eq("runAsNonRoot without --runas", True, sc.get("runAsNonRoot") or dig(pod, "securityContext", "runAsNonRoot"))
    if any(a == "--netns=all" for a in args):
        eq("--netns=all needs hostPID", True, pod.get("hostPID"))
        check("--netns=all: SYS_ADMIN, SYS_PTRACE added", {"SYS_ADMIN", "SYS_PTRACE"} <= set(add), add)
    for k in ("requests", "limits"):
        check(f"resources.{k}.memory", dig(c, "resources", k, "memory"), dig(c, "resources"))
    check("resources.requests.cpu", dig(c, "resources", "requests", "cpu"), dig(c, "resources"))

    eq("Service is headless", "None", dig(svc, "spec", "clusterIP"))
    sport = (dig(svc, "spec", "ports") or [{}])[0]
    eq("Service port", port, sport.get("port"))
    eq("Service port name", "metrics", sport.get("name"))
    check("Service targetPort names the container port", sport.get("targetPort") in ("metrics", port), sport)
    ssel = dig(svc, "spec", "selector") or {}
    check("Service selector matches the pods", ssel and ssel.items() <= labels.items(), f"{ssel} vs {labels}")
    eq("Service namespace = DaemonSet namespace", dig(ds, "metadata", "namespace"), dig(svc, "metadata", "namespace"))

    msel = dig(sm, "spec", "selector", "matchLabels") or {}
    slabels = dig(svc, "metadata", "labels") or {}
    check("ServiceMonitor selector matches the Service", msel and msel.items() <= slabels.items(),
          f"{msel} vs {slabels}")
    check("ServiceMonitor namespaceSelector has the Service's namespace",
          dig(svc, "metadata", "namespace") in (dig(sm, "spec", "namespaceSelector", "matchNames") or []),
          dig(sm, "spec", "namespaceSelector"))
    ep = (dig(sm, "spec", "endpoints") or [{}])[0]
    eq("ServiceMonitor endpoint port", "metrics", ep.get("port"))
    eq("ServiceMonitor endpoint path", "/metrics", ep.get("path", "/metrics"))


def check_prometheus(src, tmp):
    global parts
    promtool = shutil.which("promtool")
    if not promtool:
        skip("promtool", "not installed (Debian: prometheus)")
        return
    parts += 1
    with open(os.path.join(src, "deploy/prometheus/scrape-config.yml")) as f:
        text = f.read()
    rules = os.path.join(src, "dashboards/rules/nf_conntrack.rules.yml")
    check("scrape config loads the installed rules", "/nf_conntrack_exporter/rules/nf_conntrack.rules.yml" in text)
    plain = re.sub(r"\S*/nf_conntrack_exporter/rules/nf_conntrack.rules.yml", rules, text)
    p = os.path.join(tmp, "scrape-config.yml")
    with open(p, "w") as f:
        f.write(plain)
    r = run([promtool, "check", "config", p])
    check("promtool check config deploy/prometheus/scrape-config.yml", r.returncode == 0, r.stdout + r.stderr)
    # The commented TLS + basic auth job, uncommented.
    lines, block = plain.splitlines(), []
    start = next((i for i, l in enumerate(lines) if re.match(r"  # - job_name:", l)), None)
    if not check("scrape config has a commented TLS job", start is not None):
        return
    for l in lines[start:]:
        if not l.startswith("  #"):
            break
        block.append("  " + l[4:] if l.startswith("  # ") else "")
    tls = "\n".join(lines[:start] + block) + "\n"
    cfg = yaml.safe_load(tls)
    job = (cfg.get("scrape_configs") or [{}])[-1]
    eq("TLS job scheme", "https", job.get("scheme"))
    check("TLS job has basic_auth", dig(job, "basic_auth", "username"), job)
    p = os.path.join(tmp, "scrape-config-tls.yml")
    with open(p, "w") as f:
        f.write(tls)
    r = run([promtool, "check", "config", "--syntax-only", p])
    check("promtool check config --syntax-only on the TLS variant", r.returncode == 0, r.stdout + r.stderr + tls)


AM_ROUTES = {  # (alertname, severity) -> the receiver the example routes it to
    ("ConntrackPacketsDropped", "critical"): "nf-conntrack-pager",
    ("ConntrackTableAlmostFull", "critical"): "nf-conntrack-pager",
    ("ConntrackTableAlmostFull", "warning"): "nf-conntrack-chat",
    ("ConntrackExporterDown", "warning"): "nf-conntrack-chat",
    ("ConntrackTableAlmostFull", "info"): "blackhole",
    ("SomethingElse", "critical"): "default",
}


def check_alertmanager(src, tmp):
    global parts
    amtool = shutil.which("amtool")
    if not amtool:
        skip("amtool check-config", "amtool not installed (Debian: prometheus-alertmanager)")
        return
    parts += 1
    path = os.path.join(src, "deploy/alertmanager/alertmanager.example.yml")
    r = run([amtool, "check-config", path], cwd=tmp)
    check("amtool check-config deploy/alertmanager/alertmanager.example.yml", r.returncode == 0,
          r.stdout + r.stderr)
    for (name, sev), want in AM_ROUTES.items():
        r = run([amtool, "config", "routes", "test", f"--config.file={path}", f"alertname={name}",
                 f"severity={sev}", "instance=host:39901"], cwd=tmp)
        eq(f"alertmanager example routes {name}/{sev}", want, r.stdout.strip() if r.returncode == 0 else r.stderr)
    # The commented receivers (email, Slack), uncommented.
    with open(path) as f:
        lines = f.read().splitlines()
    start = lines.index("receivers:") if "receivers:" in lines else None
    if not check("alertmanager example has receivers", start is not None):
        return
    tail = [l[:2] + l[4:] if l.startswith("  # ") else l for l in lines[start:]]
    check("alertmanager example has commented receivers", tail != lines[start:])
    text = "\n".join(lines[:start] + tail) + "\n"
    names = [rc.get("name") for rc in (yaml.safe_load(text) or {}).get("receivers") or []]
    for n in ("nf-conntrack-email", "nf-conntrack-slack"):
        check(f"alertmanager example's commented receivers include {n}", n in names, names)
    p = os.path.join(tmp, "alertmanager-all-receivers.yml")
    with open(p, "w") as f:
        f.write(text)
    r = run([amtool, "check-config", p], cwd=tmp)
    check("amtool check-config on the example with its commented receivers", r.returncode == 0,
          r.stdout + r.stderr + text)


def check_web_config(src, tmp):
    global parts
    path = os.path.join(src, "deploy/web-config.example.yml")
    with open(path) as f:
        wc = yaml.safe_load(f)
    tls = wc.get("tls_server_config") or {}
    for k in ("cert_file", "key_file", "client_ca_file", "min_version"):
        check(f"web config tls_server_config.{k}", tls.get(k), tls)
    users = wc.get("basic_auth_users") or {}
    check("web config basic_auth_users", users, wc)
    for u, h in users.items():
        check(f"basic_auth_users.{u} is a bcrypt hash", re.fullmatch(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", h or ""), h)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt
            eq(f"basic_auth_users.{u} is the hash of {DOC_PASSWORD!r}", h, crypt.crypt(DOC_PASSWORD, h))
        except ImportError:
            skip("bcrypt hash", "no crypt module in this Python")
    promtool, openssl = shutil.which("promtool"), shutil.which("openssl")
    if not promtool or not openssl:
        skip("promtool check web-config", "promtool or openssl missing")
        return
    parts += 1
    ca, crt, key = (os.path.join(tmp, n) for n in ("ca.crt", "tls.crt", "tls.key"))
    r = run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost"])
    if not check("openssl makes a test certificate", r.returncode == 0, r.stderr):
        return
    shutil.copy(crt, ca)
    with open(path) as f:
        text = f.read()
    for k, v in (("cert_file", crt), ("key_file", key), ("client_ca_file", ca)):
        text = re.sub(rf"(\b{k}:\s*)\S+", lambda m: m.group(1) + v, text)
    p = os.path.join(tmp, "web-config.yml")
    with open(p, "w") as f:
        f.write(text)
    r = run([promtool, "check", "web-config", p])
    check("promtool check web-config on the example", r.returncode == 0, r.stdout + r.stderr)


def check_systemd(src, tmp, exporter, flags, collectors):
    global parts
    unit = os.path.join(src, "deploy/systemd/nf_conntrack_exporter.service")
    with open(unit) as f:
        text = f.read()
    keys = {}
    for line in text.splitlines():
        m = re.match(r"([A-Za-z]+)=(.*)", line)
        if m:
            keys.setdefault(m.group(1), []).append(m.group(2))
    for k, v in (("AmbientCapabilities", "CAP_NET_ADMIN"), ("CapabilityBoundingSet", "CAP_NET_ADMIN"),
                 ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("DynamicUser", "yes"),
                 ("RestrictAddressFamilies", "AF_NETLINK AF_INET AF_INET6 AF_UNIX")):
        eq(f"unit {k}=", [v], keys.get(k))
    exec_start = (keys.get("ExecStart") or [""])[0]
    eq("unit ExecStart", "/usr/sbin/nf_conntrack_exporter $ARGS", exec_start)
    with open(os.path.join(src, "deploy/systemd/nf_conntrack_exporter.default")) as f:
        args = [l for l in f.read().splitlines() if l.startswith("ARGS=")]
    eq("the default file sets ARGS once", 1, len(args))
    if args:
        check_args("default file ARGS", shlex.split(shlex.split(args[0][5:])[0]), flags, collectors)
    sa = shutil.which("systemd-analyze")
    if not sa:
        skip("systemd-analyze", "not installed")
        return
    parts += 1
    p = os.path.join(tmp, "nf_conntrack_exporter.service")
    with open(p, "w") as f:
        f.write(text.replace("/usr/sbin/nf_conntrack_exporter", exporter))
    # --man=no: conntrack(8) need not be installed; the man page is checked below.
    r = run([sa, "verify", "--man=no", p])
    check("systemd-analyze verify", r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr)
    r = run([sa, "security", "--offline=yes", "--no-pager", p])
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
    if not m and "offline" in r.stderr:
        skip("systemd-analyze security", "no --offline (systemd < 250)")
        return
    if check("systemd-analyze security reports an exposure", m, r.stdout + r.stderr):
        exposure = float(m.group(1))
        print(f"systemd-analyze security exposure: {exposure}")
        check(f"exposure at most {MAX_EXPOSURE}", exposure <= MAX_EXPOSURE, r.stdout)


def unroff(s):
    s = re.sub(r"\\f[BIRP]|\\c|\\&", "", s)
    return s.replace("\\-", "-").replace("\\e", "\\")


def check_man(src, flags, collectors):
    global parts
    page = os.path.join(src, "docs/nf_conntrack_exporter.8")
    with open(page) as f:
        roff = f.read()
    sections = [unroff(m).strip('"') for m in re.findall(r"^\.SH (.+)$", roff, re.M)]
    eq("man page sections", MAN_SECTIONS, sections)
    # Flags: the .TP/.TQ tags of OPTIONS.
    opts = roff.split(".SH OPTIONS", 1)[-1].split(".SH ", 1)[0]
    lines, man_flags = opts.splitlines(), set()
    for i, l in enumerate(lines[:-1]):
        if l in (".TP", ".TQ"):
            tag = unroff(lines[i + 1])
            m = re.match(r"\.B[IR]? --([a-z0-9.\-]+)", tag)
            if not m:
                fail("man page OPTIONS tag without a flag", lines[i + 1])
                continue
            name = m.group(1)
            if name.endswith("."):
                name += "NAME"
            man_flags.add(name.split("=")[0])
    eq("flags in the man page vs --help (only in man / only in --help)", (set(), set()),
       (man_flags - flags, flags - man_flags))
    cols = roff.split(".SH COLLECTORS", 1)[-1].split(".SH ", 1)[0]
    man_cols = re.findall(r"^\.TP\n\.B (\S+)$", cols, re.M)
    eq("collectors in the man page vs --help", collectors, man_cols)
    check("man SYNOPSIS has the doctor subcommand", re.search(r'\.SY "nf_conntrack_exporter doctor"', roff))
    for ep in ("/metrics", "/status.json", "/\\-/healthy", "/\\-/ready"):
        check(f"man ENDPOINTS lists {ep}", f".I {ep}" in roff)
    groff = shutil.which("groff")
    if groff:
        parts += 1
        r = run([groff, "-ww", "-man", "-z", page])
        check("groff -ww -man -z: no warnings", r.returncode == 0 and not r.stderr.strip(), r.stderr)
    else:
        skip("groff", "not installed (Debian: groff-base)")
    man = shutil.which("man")
    if man:
        parts += 1
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        r = run([man, "--warnings", "-l", page], env=env)
        check("man --warnings -l: no warnings", r.returncode == 0 and not r.stderr.strip(), r.stderr)
        check("man renders the page", "nf_conntrack_exporter doctor" in r.stdout, r.stdout[:500])
    else:
        skip("man", "not installed (Debian: man-db)")


def check_install(src, build, tmp, prefix, sbindir, mandir, datadir):
    global parts
    meson = os.environ.get("MESON") or shutil.which("meson")
    if not meson:
        skip("meson install", "meson not found")
        return
    parts += 1
    dest = os.path.join(tmp, "destdir")
    r = run(shlex.split(meson) + ["install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest])
    if not check("meson install --destdir", r.returncode == 0, r.stdout + r.stderr):
        return

    def d(*p):
        return os.path.join(dest, os.path.join(prefix, *p).lstrip("/"))

    exe = d(sbindir, "nf_conntrack_exporter")
    check("installed binary is executable", os.access(exe, os.X_OK), exe)
    want = {d(mandir, "man8", "nf_conntrack_exporter.8"): os.path.join(src, "docs/nf_conntrack_exporter.8"),
            d(datadir, "nf_conntrack_exporter/rules/nf_conntrack.rules.yml"):
                os.path.join(src, "dashboards/rules/nf_conntrack.rules.yml")}
    dashboards = glob.glob(os.path.join(src, "dashboards/grafana/*.json"))
    check("there are dashboards to install", dashboards)
    for j in dashboards:
        want[d(datadir, "nf_conntrack_exporter/grafana", os.path.basename(j))] = j
    for got, orig in want.items():
        if check(f"installed {os.path.relpath(got, dest)}", os.path.isfile(got)):
            with open(got, "rb") as a, open(orig, "rb") as b:
                check(f"{os.path.relpath(got, dest)} is a copy of {os.path.relpath(orig, src)}", a.read() == b.read())
    unit = d("lib/systemd/system/nf_conntrack_exporter.service")
    if check("installed the systemd unit", os.path.isfile(unit), unit):
        with open(unit) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("ExecStart=")]
        eq("installed unit's ExecStart runs the installed binary",
           [f"ExecStart={os.path.join(prefix, sbindir, 'nf_conntrack_exporter')} $ARGS"], lines)


def main():
    if len(sys.argv) != 8:
        print(__doc__.rsplit("Usage: ", 1)[1].strip())
        sys.exit(2)
    src, build, exporter, prefix, sbindir, mandir, datadir = sys.argv[1:]
    flags, collectors = help_flags(exporter)
    port = default_port(src)
    with tempfile.TemporaryDirectory(prefix="nfce-deploy-") as tmp:
        docs = load_yaml(src)
        check_kubernetes(docs, port, flags, collectors)
        check_prometheus(src, tmp)
        check_alertmanager(src, tmp)
        check_web_config(src, tmp)
        check_systemd(src, tmp, exporter, flags, collectors)
        check_man(src, flags, collectors)
        check_install(src, build, tmp, prefix, sbindir, mandir, datadir)
    for s in skipped:
        print(f"skipped part: {s}")
    if failures:
        print("FAIL: deploy:\n  " + "\n  ".join(failures))
        sys.exit(1)
    if not parts:
        print("SKIP: deploy: no tool for any part")
        sys.exit(77)
    print(f"PASS: deploy ({len(skipped)} parts skipped)")


if __name__ == "__main__":
    main()
