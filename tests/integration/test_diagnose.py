"""`ngrnotok diagnose` against a real gateway and a real local service
(lib/upstream.py): a service that sleeps 300 ms is named by the verdict; a
fast one gives a table with all three hops measured; --json parses with its
fields; without TARGET the built-in responder ends the public path; a public
URL this machine cannot reach is said, not fatal; a dead local port and a
wrong --server end with exit 1 and a message naming them.

No assertion on timing beyond margins of hundreds of milliseconds: on
loopback the control connection and the gateway cost well under 50 ms."""

import json
import re

from lib import procs as P

ROW_RE = r"^%s +(?P<median>[\d.]+) ms +(?P<min>[\d.]+) ms  (?P<note>.+)$"
VERDICT_RE = re.compile(r"^verdict: (?P<who>.+?) takes (?P<ms>[\d.]+) ms of the "
                        r"(?P<of>[\d.]+) ms \((?P<pct>\d+)%\)$", re.M)


def diagnose(gw, *args, timeout=90):
    server = gw.control_addr if isinstance(gw, P.Gateway) else gw
    return P.run_cli(["diagnose", "--server", server] + [str(a) for a in args], timeout=timeout)


def row(out, hop):
    m = re.search(ROW_RE % re.escape(hop), out, re.M)
    assert m, "no measured %r row in:\n%s" % (hop, out)
    return m


def test_slow_local_service_is_named(procs):
    gw, up = procs.gateway(), procs.upstream()
    r = diagnose(gw, "--count", "3", "--path", "/sleep?ms=300", up.port)
    assert r.returncode == 0, r.stderr
    local = row(r.stdout, "local service")
    assert float(local.group("median")) >= 290, r.stdout
    assert "http://localhost:%d/sleep?ms=300" % up.port in local.group("note"), r.stdout
    assert float(row(r.stdout, "public path").group("median")) >= 290, r.stdout
    v = VERDICT_RE.search(r.stdout)
    assert v, r.stdout
    assert v.group("who") == "the local service", r.stdout
    assert float(v.group("ms")) >= 290 and int(v.group("pct")) >= 50, r.stdout


def test_fast_service_has_every_hop(procs):
    gw, up = procs.gateway(), procs.upstream()
    r = diagnose(gw, "--count", "5", "--path", "/bytes?n=100", up.port)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^hop +median +min +note$", out, re.M), out
    ctl = row(out, "control connection")
    assert "PING round trip to %s, 5 samples" % gw.control_addr in ctl.group("note"), out
    assert re.search(r"^  throughput +\d+ Mbit/s +4\.0 MiB from the built-in responder", out,
                     re.M), out
    local = row(out, "local service")
    assert "measured directly" in local.group("note"), out
    pub = row(out, "public path")
    assert re.match(r"http://[0-9a-f-]+\.localhost:%d/bytes\?n=100 through the tunnel"
                    % gw.http_port, pub.group("note")), out
    for m in (ctl, local, pub):
        assert float(m.group("min")) <= float(m.group("median")), out
    assert VERDICT_RE.search(out), out


def test_json_fields(procs):
    gw, up = procs.gateway(), procs.upstream()
    r = diagnose(gw, "--count", "4", "--json", up.port)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1, r.stdout
    d = json.loads(r.stdout)
    assert d["gateway"] == gw.control_addr and d["count"] == 4, d
    assert d["control"]["rtt_ms"]["samples"] == 4, d
    assert 0 < d["control"]["rtt_ms"]["min"] <= d["control"]["rtt_ms"]["median"], d
    assert d["control"]["throughput"]["bytes"] == 4 << 20, d
    assert d["control"]["throughput"]["mbit_per_s"] > 0, d
    assert d["local"]["url"] == "http://localhost:%d/" % up.port, d
    assert d["local"]["status"] == 200 and d["local"]["total_ms"]["samples"] == 4, d
    assert d["local"]["first_byte_ms"]["median"] <= d["local"]["total_ms"]["median"], d
    pub = d["public"]
    assert pub["reachable"] is True and pub["error"] is None and pub["status"] == 200, d
    assert re.match(r"^http://[0-9a-f-]+\.localhost:%d/$" % gw.http_port, pub["url"]), d
    assert pub["total_ms"]["samples"] == 4, d
    v = d["verdict"]
    assert v["hop"] in ("local", "control", "public"), d
    assert 0 <= v["percent"] <= 100 and v["ms"] <= v["of_ms"] + 1e-6, d
    assert v["text"].endswith("(%d%%)" % v["percent"]), d


def test_without_target_uses_the_built_in_responder(procs):
    gw = procs.gateway()
    r = diagnose(gw, "--count", "3", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["local"] is None, d
    assert d["public"]["reachable"] is True and d["public"]["total_ms"]["samples"] == 3, d
    assert d["control"]["throughput"]["bytes"] == 4 << 20, d
    assert d["verdict"]["hop"] in ("control", "public"), d
    text = diagnose(gw, "--count", "2")
    assert text.returncode == 0, text.stderr
    assert "none given: the public path ends at the built-in responder" in text.stdout, text.stdout


def test_public_url_not_reachable_is_said(procs):
    gw = procs.gateway("--domain", "tunnel.invalid",
                       "--public-url", "https://{name}.tunnel.invalid")
    up = procs.upstream()
    r = diagnose(gw, "--count", "2", up.port)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^public path +- +-  not reachable from here: .+"
                     r"\(https://[0-9a-f-]+\.tunnel\.invalid/\)$", r.stdout, re.M), r.stdout
    assert "not measured" in r.stdout, r.stdout
    row(r.stdout, "local service")
    row(r.stdout, "control connection")
    d = json.loads(diagnose(gw, "--count", "2", "--json", up.port).stdout)
    assert d["public"]["reachable"] is False and d["public"]["error"], d
    assert d["public"]["total_ms"] is None and d["verdict"]["of_ms"] is None, d


def test_dead_local_port_exits_1_naming_it(procs):
    gw = procs.gateway()
    port = P.free_port()  # bound and released: nothing listens there
    r = diagnose(gw, "--count", "2", port)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "port %d" % port in r.stderr, r.stderr
    assert r.stdout == "", r.stdout


def test_wrong_server_exits_1_naming_the_option():
    r = diagnose("127.0.0.1:%d" % P.free_port(), "--count", "2")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "--server" in r.stderr and "config set-server" in r.stderr, r.stderr
    assert r.stdout == "", r.stdout


def test_token_limited_to_names(procs, tmp_path):
    """A token that may bind only alice-*: with -n alice-app, the target's tunnel is alice-app
    and the responder's alice-app-diag, so diagnose runs (without -n the gateway's random name
    for the responder is refused, and the message says which tunnel and why)."""
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-names-0123456789 alice-*\n")
    gw, up = procs.gateway("--auth-tokens", str(tokens)), procs.upstream()
    r = diagnose(gw, "--token", "tok-names-0123456789", "-n", "alice-app", "--count", "2",
                 up.port)
    assert r.returncode == 0, r.stderr
    assert "http://alice-app.localhost:%d/ through the tunnel" % gw.http_port in \
        row(r.stdout, "public path").group("note"), r.stdout
    assert "through the tunnel" in r.stdout and VERDICT_RE.search(r.stdout), r.stdout
    r = diagnose(gw, "--token", "tok-names-0123456789", "--count", "2", up.port)
    assert r.returncode != 0
    assert "not allowed for this token" in r.stderr, r.stderr
