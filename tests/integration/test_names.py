"""Names a client may ask for: the gateway's reserved list (--reserved-names, with defaults)
and names shaped like its random UUID names, which are only ever allocated."""

import re

from lib import procs as P

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def refused(gw, sub):
    r = P.run_cli(["http", "--server", gw.control_addr, "--subdomain", sub, "8000"], timeout=15)
    assert r.returncode != 0, "subdomain %r accepted: %r" % (sub, r.stdout)
    assert "Forwarding" not in r.stdout
    assert r.stderr.startswith("ngrnotok: "), "stderr: %r" % r.stderr[:500]
    return r.stderr


def test_default_reserved_names(procs):
    gw = procs.gateway()
    for sub in ("www", "api", "admin", "mail", "ns1", "ns2"):
        err = refused(gw, sub)
        assert "name '%s' is reserved on this gateway; choose another" % sub in err, err
    assert gw.tunnels() == []
    up = procs.upstream()
    cl = procs.client(gw, up.port, "--subdomain", "wwww")
    assert gw.request("GET", "/echo", cl.host).json()["tag"] == up.tag


def test_reserved_names_flag(procs):
    gw = procs.gateway("--reserved-names", " Blog, Shop ")
    assert "name 'blog' is reserved" in refused(gw, "blog")
    assert "name 'shop' is reserved" in refused(gw, "shop")
    up = procs.upstream()
    cl = procs.client(gw, up.port, "--subdomain", "www")  # the defaults are replaced
    assert cl.sub == "www"
    open_gw = procs.gateway("--reserved-names", "")
    cl = procs.client(open_gw, up.port, "--subdomain", "api")
    assert cl.sub == "api"


def test_bad_reserved_names(binaries):
    for value, why in (("a,,b", "an empty name"), ("my_app", "is not a name"), ("x,", "empty")):
        r = P.run_cli(["--reserved-names", value], binary_name="ngrnotokd")
        assert r.returncode == 2, (value, r.stderr)
        assert "reserved_names" in r.stderr and why in r.stderr, r.stderr


def test_uuid_names_only_allocated(procs):
    gw = procs.gateway("--reserved-names", "")
    up = procs.upstream()
    # The gateway's own random names are UUIDs ...
    cl = procs.client(gw, up.port)
    assert re.fullmatch(UUID_RE, cl.sub), cl.sub
    # ... and a client cannot ask for one, not even one that is free.
    err = refused(gw, "3f2c0e9a-1b2c-4d5e-8f90-123456789abc")
    assert "shaped like the gateway's random names" in err, err
    err = refused(gw, cl.sub)
    assert "shaped like the gateway's random names" in err, err
    assert [t["subdomain"] for t in gw.tunnels()] == [cl.sub]
