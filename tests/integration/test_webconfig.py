#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""webconfig: --web.config.file (exporter-toolkit format) with TLS, basic auth and client
certificates, checked with curl inside the test's namespace.

A CA, a server certificate (localhost, 127.0.0.1), a client certificate and a client
certificate from another CA are made with openssl in a temporary directory; bcrypt hashes with
`htpasswd -nbBC` (apache2-utils). Checked: the right credentials get 200 and metrics; a wrong
password, an unknown user and none at all get 401 with WWW-Authenticate; /-/healthy needs no
credentials; plain HTTP to the TLS port gets no answer; TLS 1.1 works with min_version TLS10
and is refused once SIGHUP has switched to TLS12; mTLS with and without (and with an untrusted)
client certificate; SIGHUP with a new password; SIGHUP with a broken file keeps the running
configuration and logs why; bad files at startup exit 1 naming the file and the reason."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nfce  # noqa: E402

REALM = 'Basic realm="nf_conntrack_exporter"'


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        nfce.fail(f"openssl {' '.join(args)}: {r.stderr.strip()}")


def make_pki(d):
    """ca.crt, server.crt/key (localhost, 127.0.0.1), client.crt/key signed by the CA, and
    rogue.crt/key self-signed."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=nfce test CA",
            cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=nfce {name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.crt", "-days", "2", "-subj", "/CN=rogue",
            cwd=d)


def bcrypt(password, cost=10):
    if not shutil.which("htpasswd"):
        nfce.skip("htpasswd (apache2-utils) is not installed")
    r = subprocess.run(["htpasswd", "-nbBC", str(cost), "u", password], capture_output=True, text=True)
    if r.returncode != 0:
        nfce.fail(f"htpasswd: {r.stderr.strip()}")
    return r.stdout.strip().split(":", 1)[1]


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)  # the exporter never reads half a file


def web_yml(tls=None, users=None):
    """exporter-toolkit YAML from dicts (values written as they are)."""
    out = ""
    if tls is not None:
        out += "tls_server_config:\n" + "".join(f"  {k}: {v}\n" for k, v in tls.items())
    if users is not None:
        out += "basic_auth_users:\n" + "".join(f"  {k}: '{v}'\n" for k, v in users.items())
    return out


class Curl:
    def __init__(self, status, headers, body, rc, err, seconds):
        self.status, self.headers, self.body, self.rc, self.err, self.seconds = status, headers, body, rc, err, seconds

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<curl rc={self.rc} status={self.status} err={self.err.strip()!r} body={self.body[:120]!r}>"


def curl(ns, path, *opts, port=nfce.PORT, scheme="https", pki=None, auth=None):
    """One request with curl inside the namespace; status None when there was no HTTP answer."""
    argv = ["curl", "-sS", "-i", "--max-time", "10", "--resolve", f"localhost:{port}:127.0.0.1"]
    if pki:
        argv += ["--cacert", os.path.join(pki, "ca.crt")]
    if auth:
        argv += ["-u", f"{auth[0]}:{auth[1]}"]
    argv += list(opts) + [f"{scheme}://localhost:{port}{path}"]
    t0 = time.monotonic()
    r = ns.run(argv, check=False, timeout=30)
    took = time.monotonic() - t0
    status, headers, body = None, {}, ""
    head, sep, rest = r.stdout.partition("\n\n")  # text mode: CRLF became LF
    if sep:
        lines = head.split("\n")
        m = re.match(r"HTTP/[0-9.]+ (\d{3})", lines[0])
        if m:
            status = int(m.group(1))
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            body = rest
    return Curl(status, headers, body, r.returncode, r.stderr, took)


def check_401(ck, what, r):
    ck.eq(f"{what}: status", 401, r.status)
    ck.eq(f"{what}: WWW-Authenticate", REALM, r.header("WWW-Authenticate"))
    ck.true(f"{what}: no metrics in the body", "nf_conntrack_entries" not in r.body, r.body[:200])


def check_metrics(ck, what, r):
    if not ck.eq(f"{what}: status", 200, r.status):
        ck.fail(what, repr(r))
        return
    try:
        m = nfce.Metrics(r.body)
        ck.true(f"{what}: has nf_conntrack_entries", m.get("nf_conntrack_entries") is not None)
    except nfce.MetricsParseError as e:
        ck.fail(f"{what}: body", str(e))


def reloads(exp, text="web config reloaded"):
    return exp.log().count(text)


def sighup(exp, expect):
    """SIGHUP, then wait until the log has one more line containing expect."""
    before = exp.log().count(expect)
    exp.proc.send_signal(signal.SIGHUP)
    for _ in nfce.deadline_loop(10):
        if exp.log().count(expect) > before:
            return True
    return False


def bcrypt_timing(ns, pki, auth):
    """(first request, cached request) seconds, for the report."""
    first = curl(ns, "/nope", pki=pki, auth=auth).seconds
    again = curl(ns, "/nope", pki=pki, auth=auth).seconds
    return first, again


def test_tls_and_auth(ck, ns, d):
    yml = os.path.join(d, "web.yml")
    alice = ("alice", "correct horse")
    write(yml, web_yml(tls={"cert_file": "server.crt", "key_file": "server.key", "min_version": "TLS10"},
                       users={"alice": bcrypt(alice[1]), "bob": bcrypt("bobs password")}))
    with nfce.Exporter(ns, args=[f"--web.config.file={yml}"]) as exp:
        t_first, t_cached = bcrypt_timing(ns, d, alice)
        nfce.log(f"basic auth, bcrypt cost 10: first request {t_first * 1000:.0f} ms, "
                 f"cached {t_cached * 1000:.0f} ms (curl, TLS handshake included)")
        check_metrics(ck, "right credentials", curl(ns, "/metrics", pki=d, auth=alice))
        check_401(ck, "wrong password", curl(ns, "/metrics", pki=d, auth=("alice", "wrong")))
        check_401(ck, "unknown user", curl(ns, "/metrics", pki=d, auth=("mallory", "correct horse")))
        check_401(ck, "no credentials", curl(ns, "/metrics", pki=d))
        check_401(ck, "no credentials on /", curl(ns, "/", pki=d))
        check_401(ck, "no credentials on a 404 path", curl(ns, "/nope", pki=d))
        r = curl(ns, "/-/healthy", pki=d)
        ck.eq("/-/healthy without credentials: status", 200, r.status)
        ck.eq("/-/healthy body", "Healthy\n", r.body)
        r = curl(ns, "/-/ready", pki=d)
        ck.eq("/-/ready without credentials (readiness probes have none): status", 200, r.status)
        r = curl(ns, "/metrics", scheme="http", auth=alice)
        ck.true("plain HTTP to the TLS port gets no HTTP answer", r.status is None and r.rc != 0, repr(r))
        r = curl(ns, "/metrics", pki=d, auth=alice, scheme="https")
        ck.eq("TLS still serves after a plain-HTTP client", 200, r.status)
        r = curl(ns, "/metrics", auth=alice)
        ck.true("a client that does not trust the CA fails", r.status is None and r.rc != 0, repr(r))

        tls11 = ["--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"]
        r = curl(ns, "/metrics", *tls11, pki=d, auth=alice)
        if r.status != 200:
            nfce.log(f"note: this curl cannot speak TLS 1.1 ({r.err.strip()}): checking TLS 1.2 against TLS13")
            old_proto, new_min = ["--tlsv1.2", "--tls-max", "1.2"], "TLS13"
            r = curl(ns, "/metrics", *old_proto, pki=d, auth=alice)
            ck.eq("TLS 1.2 with min_version TLS10", 200, r.status)
        else:
            old_proto, new_min = tls11, "TLS12"
            ck.eq("TLS 1.1 with min_version TLS10", 200, r.status)

        # SIGHUP: a new password for alice, bob gone, a higher min_version.
        write(yml, web_yml(tls={"cert_file": "server.crt", "key_file": "server.key", "min_version": new_min},
                           users={"alice": bcrypt("new password")}))
        ck.true("SIGHUP: 'web config reloaded' logged", sighup(exp, "web config reloaded"), exp.log())
        check_metrics(ck, "after reload: new password", curl(ns, "/metrics", pki=d, auth=("alice", "new password")))
        check_401(ck, "after reload: old password", curl(ns, "/metrics", pki=d, auth=alice))
        check_401(ck, "after reload: removed user", curl(ns, "/metrics", pki=d, auth=("bob", "bobs password")))
        r = curl(ns, "/metrics", *old_proto, pki=d, auth=("alice", "new password"))
        ck.true(f"after reload: {old_proto[0]} refused with min_version {new_min}", r.status is None and r.rc != 0,
                repr(r))

        # SIGHUP with broken files: the running configuration stays, the reason is logged.
        good = open(yml).read()
        for what, text in (("YAML syntax", good + "  bad: [\n"),
                           ("unknown key", good + "foo: 1\n"),
                           ("missing key file", good.replace("server.key", "missing.key"))):
            write(yml, text)
            ck.true(f"SIGHUP with {what}: error logged",
                    sighup(exp, "web config reload failed, keeping the running one"), exp.log())
            check_metrics(ck, f"after a reload with {what}: still the new password",
                          curl(ns, "/metrics", pki=d, auth=("alice", "new password")))
            check_401(ck, f"after a reload with {what}: old password still refused",
                      curl(ns, "/metrics", pki=d, auth=alice))
        log = exp.log()
        ck.true("reload error names the missing file", re.search(r'err="[^"]*missing\.key: No such file', log),
                log[-1500:])
        ck.true("reload error names the unknown key", 'foo: unknown key' in log, log[-1500:])
        ck.eq("exporter still running after failed reloads", None, exp.proc.poll())
        write(yml, good)
    return t_first, t_cached


def test_mtls(ck, ns, d):
    yml = os.path.join(d, "mtls.yml")
    write(yml, web_yml(tls={"cert_file": os.path.join(d, "server.crt"), "key_file": os.path.join(d, "server.key"),
                            "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "ca.crt"}))
    client = ["--cert", os.path.join(d, "client.crt"), "--key", os.path.join(d, "client.key")]
    rogue = ["--cert", os.path.join(d, "rogue.crt"), "--key", os.path.join(d, "rogue.key")]
    # The reload to VerifyClientCertIfGiven stops requiring a certificate: only with the flag.
    with nfce.Exporter(ns, args=[f"--web.config.file={yml}", "--web.config.allow-downgrade"]) as exp:
        check_metrics(ck, "mTLS with the client certificate", curl(ns, "/metrics", *client, pki=d))
        r = curl(ns, "/metrics", pki=d)
        ck.true("mTLS without a client certificate: refused", r.status in (None, 403) and r.status != 200, repr(r))
        ck.true("mTLS without a client certificate: no metrics", "nf_conntrack_entries" not in r.body)
        r = curl(ns, "/metrics", *rogue, pki=d)
        ck.true("mTLS with an untrusted certificate: refused", r.status in (None, 403), repr(r))
        r = curl(ns, "/-/healthy", pki=d)
        ck.eq("mTLS: /-/healthy without a certificate", 200, r.status)

        write(yml, web_yml(tls={"cert_file": "server.crt", "key_file": "server.key",
                                "client_auth_type": "VerifyClientCertIfGiven", "client_ca_file": "ca.crt"}))
        ck.true("SIGHUP to VerifyClientCertIfGiven", sighup(exp, "web config reloaded"), exp.log())
        check_metrics(ck, "VerifyClientCertIfGiven without a certificate", curl(ns, "/metrics", pki=d))
        check_metrics(ck, "VerifyClientCertIfGiven with the client certificate", curl(ns, "/metrics", *client, pki=d))
        r = curl(ns, "/metrics", *rogue, pki=d)
        ck.true("VerifyClientCertIfGiven with an untrusted certificate: refused", r.status in (None, 403), repr(r))

        write(yml, web_yml(tls={"cert_file": "server.crt", "key_file": "server.key",
                                "client_auth_type": "RequireAnyClientCert"}))
        ck.true("SIGHUP to RequireAnyClientCert", sighup(exp, "web config reloaded"), exp.log())
        check_metrics(ck, "RequireAnyClientCert with any certificate", curl(ns, "/metrics", *rogue, pki=d))
        r = curl(ns, "/metrics", pki=d)
        ck.true("RequireAnyClientCert without a certificate: refused", r.status in (None, 403), repr(r))


def test_failure_budget(ck, ns, d):
    """Past 5 failed logins in 10 s an address gets 429 without a bcrypt; credentials that
    passed before still work from it, ones never seen wait for the window."""
    yml = os.path.join(d, "budget.yml")
    alice, bob = ("alice", "correct horse"), ("bob", "bobs password")
    write(yml, web_yml(users={"alice": bcrypt(alice[1]), "bob": bcrypt(bob[1])}))
    with nfce.Exporter(ns, args=[f"--web.config.file={yml}"]) as exp:
        check_metrics(ck, "budget: alice before any failure", curl(ns, "/metrics", scheme="http", auth=alice))
        for i in range(5):
            check_401(ck, f"budget: wrong password {i + 1} of 5", curl(ns, "/metrics", scheme="http", auth=("bob", "x")))
        r = curl(ns, "/metrics", scheme="http", auth=("bob", "x"))
        ck.eq("budget: the 6th wrong password within 10 s", 429, r.status)
        nfce.log(f"429 answered in {r.seconds * 1000:.0f} ms (curl in the namespace, no bcrypt)")
        check_metrics(ck, "budget: alice, whose password passed before, still scrapes",
                      curl(ns, "/metrics", scheme="http", auth=alice))
        r = curl(ns, "/metrics", scheme="http", auth=bob)
        ck.eq("budget: bob's right but never seen password waits for the window", 429, r.status)
        r = curl(ns, "/-/healthy", scheme="http")
        ck.eq("budget: /-/healthy unaffected", 200, r.status)
        ck.eq("exporter exit status on SIGTERM (budget)", 0, exp.stop())


def test_startup_errors(ck, ns, d):
    cases = [
        ("no such config file", os.path.join(d, "absent.yml"), None, "absent.yml: No such file or directory"),
        ("YAML syntax", os.path.join(d, "bad1.yml"), "tls_server_config: [\n", "YAML"),
        ("unknown key", os.path.join(d, "bad2.yml"), "tls_server_config:\n  cert_fil: x\n",
         "tls_server_config.cert_fil: unknown key"),
        ("missing cert file", os.path.join(d, "bad3.yml"),
         web_yml(tls={"cert_file": "nope.crt", "key_file": "server.key"}),
         f"tls_server_config.cert_file: {d}/nope.crt: No such file or directory"),
        ("key of another certificate", os.path.join(d, "bad4.yml"),
         web_yml(tls={"cert_file": "server.crt", "key_file": "client.key"}), "server.crt with key_file"),
        ("not a bcrypt hash", os.path.join(d, "bad5.yml"), web_yml(users={"alice": "plaintext"}),
         "basic_auth_users.alice: not a bcrypt hash"),
        ("CA file with no certificate", os.path.join(d, "bad6.yml"),
         web_yml(tls={"cert_file": "server.crt", "key_file": "server.key",
                      "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "server.key"}),
         "client_ca_file"),
    ]
    for what, path, text, want in cases:
        if text is not None:
            write(path, text)
        rc, out, err = nfce.run_exporter_once(ns, ["--web.listen-address=127.0.0.1:%d" % nfce.PORT,
                                                   f"--web.config.file={path}"], timeout=10)
        ck.eq(f"bad web config at startup ({what}): exit status", 1, rc)
        ck.true(f"bad web config at startup ({what}): one error line naming the file and reason",
                "cannot load the web config" in err and path in err and want in err, err)
        ck.eq(f"bad web config at startup ({what}): port closed", "refused", ns.probe())


def test(ck):
    for tool in ("openssl", "curl"):
        if not shutil.which(tool):
            nfce.skip(f"`{tool}` is not installed")
    d = tempfile.mkdtemp(prefix="nfce-webconfig-")
    try:
        make_pki(d)
        with nfce.Netns("webconfig") as ns:
            test_tls_and_auth(ck, ns, d)
            test_mtls(ck, ns, d)
            test_failure_budget(ck, ns, d)
            test_startup_errors(ck, ns, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    nfce.main(test)
