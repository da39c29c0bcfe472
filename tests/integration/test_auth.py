"""Client tokens (--auth-tokens FILE, --token): who may open tunnels, which names each token may
bind, refusals the CLI reports, and SIGHUP re-reading the file without dropping other tunnels.
Tokens are made at run time."""

import secrets
import signal

from lib import procs as P


def fresh_token(tag):
    return "%s-%s" % (tag, secrets.token_hex(12))


def write_tokens(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.rename(path)  # a reload never reads a half-written file


def refused(gw, *args, env=None):
    """Runs a client that must be refused; returns its stderr."""
    r = P.run_cli(["http", "--server", gw.control_addr] + [str(a) for a in args],
                  env=env, timeout=15)
    assert r.returncode != 0, "client %r accepted: %r" % (args, r.stdout)
    assert "Forwarding" not in r.stdout
    assert r.stderr.startswith("ngrnotok: "), "stderr: %r" % r.stderr[:500]
    return r.stderr


def test_tokens_file(procs):
    any_name, limited = fresh_token("alice"), fresh_token("bob")
    path = procs.tmpdir / "tokens"
    write_tokens(path, "# team\n%s\n%s  myapp,Staging-*   # bob's\n" % (any_name, limited))
    gw = procs.gateway("--auth-tokens", path)
    up = procs.upstream()

    err = refused(gw, up.port)
    assert "authentication required" in err and "--token" in err and "NGRNOTOK_TOKEN" in err, err
    err = refused(gw, "--token", any_name + "x", up.port)
    assert "authentication failed: the token is not valid" in err, err
    err = refused(gw, "--token", limited, "--subdomain", "prod", up.port)
    assert "name 'prod' is not allowed for this token" in err, err
    # A token with a list of names gets no random name either.
    err = refused(gw, "--token", limited, up.port)
    assert "is not allowed for this token" in err, err
    assert gw.tunnels() == []

    # Allowed: any name for the first token (from the environment), the listed ones for the other.
    cl = procs.client(gw, up.port, env=P.base_env(NGRNOTOK_TOKEN=any_name))
    r = gw.request("GET", "/echo", cl.host)
    assert r.status == 200 and r.json()["tag"] == up.tag, r
    st = procs.client(gw, up.port, "--token", limited, "--subdomain", "staging-2")
    assert st.sub == "staging-2"
    assert gw.request("GET", "/echo", st.host).json()["tag"] == up.tag
    assert sorted(t["subdomain"] for t in gw.tunnels()) == sorted([cl.sub, "staging-2"])

    # The tokens never reach the gateway's log.
    gw.proc.stop()
    log = "\n".join(gw.proc.stderr_tail_lines)
    assert "refused: wrong token" in log and "refused: no token" in log, log[-2000:]
    for tok in (any_name, limited):
        assert tok not in log and tok[-12:] not in log


def test_single_token_shorthand(procs):
    tok = fresh_token("one")
    gw = procs.gateway("--token", tok)
    up = procs.upstream()
    assert "authentication failed" in refused(gw, "--token", "other", up.port)
    cl = procs.client(gw, up.port, "--token", tok, "--subdomain", "any-name")
    assert gw.request("GET", "/echo", cl.host).json()["tag"] == up.tag


def test_bad_tokens_file_at_start(procs):
    path = procs.tmpdir / "tokens"
    path.write_text("fine\nbroken a b\n")
    addrs = ["--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
             "--admin-addr", "127.0.0.1:0"]
    r = P.run_cli(addrs + ["--auth-tokens", path], binary_name="ngrnotokd")
    assert r.returncode != 0
    assert str(path) in r.stderr and "line 2: more than a token" in r.stderr, r.stderr
    r = P.run_cli(addrs + ["--auth-tokens", procs.tmpdir / "absent"], binary_name="ngrnotokd")
    assert r.returncode != 0
    assert "No such file" in r.stderr, r.stderr


def test_sighup_reload(procs):
    keep, drop, narrowed = fresh_token("keep"), fresh_token("drop"), fresh_token("narrow")
    path = procs.tmpdir / "tokens"
    write_tokens(path, "%s\n%s\n%s web-*\n" % (keep, drop, narrowed))
    gw = procs.gateway("--auth-tokens", path)
    up = procs.upstream()
    kept = procs.client(gw, up.port, "--token", keep, "--subdomain", "kept")
    dropped = procs.client(gw, up.port, "--token", drop, "--subdomain", "dropped")
    narrow = procs.client(gw, up.port, "--token", narrowed, "--subdomain", "web-old")
    assert len(gw.tunnels()) == 3

    # A bad file is not applied: everyone stays.
    write_tokens(path, "%s a b c\n" % keep)
    gw.proc.send_signal(signal.SIGHUP)
    P.wait_until(lambda: "the tokens in use are kept" in gw.proc.stderr_tail(), 10,
                 "the gateway's warning about the bad tokens file", procs.tails)
    assert len(gw.tunnels()) == 3

    # The dropped token's tunnel closes and its client is told; so does a name the token no
    # longer allows; the kept one keeps serving.
    write_tokens(path, "%s\n%s api-*\n" % (keep, narrowed))
    gw.proc.send_signal(signal.SIGHUP)
    assert dropped.proc.wait(10) != 0
    assert narrow.proc.wait(10) != 0
    assert "token revoked" in dropped.proc.stderr_tail(), dropped.proc.describe()
    assert "name 'web-old' is no longer allowed" in narrow.proc.stderr_tail(), \
        narrow.proc.describe()
    P.wait_until(lambda: [t["subdomain"] for t in gw.tunnels()] == ["kept"], 10,
                 "only the kept tunnel to remain", procs.tails)
    assert kept.proc.poll() is None
    assert gw.request("GET", "/echo", kept.host).json()["tag"] == up.tag
    assert "authentication failed" in refused(gw, "--token", drop, up.port)
    again = procs.client(gw, up.port, "--token", narrowed, "--subdomain", "api-1")
    assert again.sub == "api-1"
    assert gw.proc.poll() is None
