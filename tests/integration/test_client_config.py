"""The client's config file (issue 14, point 7): `ngrnotok start NAME...|--all` runs the tunnels
of ngrnotok.conf over one control connection, each reaching its own local service; a restart
gets the same URLs back; `ngrnotok config set-token` and `set-server` write the file (mode
0600) that `ngrnotok http` then uses; a file others can read is warned about; a tunnel the
gateway refuses is named."""

import os
import re
import signal
import socket
import stat

from lib import procs as P

NAMED_RE = r"^Forwarding (?P<url>\S+) -> (?P<target>\S+) \((?P<name>[a-z0-9_.-]+)\)$"


def write_conf(path, text, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def start(procs, conf, *args, env=None, count=1):
    proc = procs.client_proc(["start", "--config", conf] + list(args), env=env)
    lines = proc.wait_stdout(NAMED_RE, 20, "%d named Forwarding lines" % count, count=count)
    return proc, {m.group("name"): m.group("url") for m in lines}


def connections_to(pid, port):
    """How many TCP connections process pid holds to 127.0.0.1:port."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[2].endswith(":%04X" % port) and cols[9] in inodes:
                n += 1
    return n


def host_of(url):
    return re.match(r"https?://([^/]+)", url).group(1)


def test_start_runs_every_tunnel_over_one_connection(procs):
    gw = procs.tcp_gateway()
    web, api = procs.upstream("web"), procs.upstream("api")
    db = procs.tcp_service("echo")
    conf = procs.tmpdir / "cfg" / "ngrnotok.conf"
    write_conf(conf, "server = %s\n\n[web]\naddr = %d\n\n[api]\naddr = 127.0.0.1:%d\n"
               "subdomain = my-api\n\n[db]\nproto = tcp\naddr = %d\n"
               % (gw.control_addr, web.port, api.port, db.port))
    proc, urls = start(procs, conf, "--all", count=3)
    assert set(urls) == {"web", "api", "db"}, urls
    assert host_of(urls["api"]).startswith("my-api."), urls

    # Each tunnel reaches its own service.
    for name, tag in (("web", "web"), ("api", "api")):
        r = gw.request("GET", "/echo/" + name, host_of(urls[name]))
        assert r.status == 200, r
        assert r.json()["tag"] == tag and r.json()["path"] == "/echo/" + name, r.json()
    port = int(urls["db"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"ping\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = s.recv(100)
            assert chunk, "the TCP tunnel closed before answering"
            got += chunk
        assert got == b"ping\n", got

    # One control connection holds the three.
    assert len(gw.tunnels()) == 3
    assert connections_to(proc.popen.pid, gw.control_port) == 1

    # Stopped and started again within the grace: the same URLs, random name included.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, proc.describe()
    proc2, urls2 = start(procs, conf, "--all", count=3)
    assert urls2 == urls, (urls, urls2)
    r = gw.request("GET", "/again", host_of(urls2["web"]))
    assert r.status == 200 and r.json()["tag"] == "web", r


def test_start_picks_named_tunnels_and_names_mistakes(procs):
    gw = procs.gateway()
    web = procs.upstream("web")
    conf = procs.tmpdir / "cfg" / "ngrnotok.conf"
    write_conf(conf, "server = %s\n[web]\naddr = %d\n[other]\naddr = 1\n" % (gw.control_addr,
                                                                            web.port))
    proc, urls = start(procs, conf, "web")
    assert list(urls) == ["web"], urls
    assert len(gw.tunnels()) == 1

    r = P.run_cli(["start", "--config", conf, "nope"])
    assert r.returncode == 2, r
    assert 'no tunnel "nope"' in r.stderr and "web, other" in r.stderr, r.stderr
    r = P.run_cli(["start", "--config", conf])
    assert r.returncode == 2 and "--all" in r.stderr, r.stderr
    write_conf(conf, "[web]\naddr = 3000\ncolour = red\n")
    r = P.run_cli(["start", "--config", conf, "--all"])
    assert r.returncode == 2, r
    assert "%s: line 3: unknown setting \"colour\"" % conf in r.stderr, r.stderr


def test_a_refused_tunnel_is_named(procs):
    gw = procs.gateway()
    up = procs.upstream()
    procs.client(gw, up.port, "--subdomain", "taken")
    conf = procs.tmpdir / "cfg" / "ngrnotok.conf"
    write_conf(conf, "server = %s\n[web]\naddr = %d\n[second]\naddr = %d\nsubdomain = taken\n"
               % (gw.control_addr, up.port, up.port))
    r = P.run_cli(["start", "--config", conf, "--all"])
    assert r.returncode == 1, r
    assert "tunnel second: subdomain 'taken' is already in use" in r.stderr, r.stderr


def test_config_set_token_is_used_by_http(procs):
    token = "tok-" + os.urandom(8).hex()
    gw = procs.gateway("--token", token)
    up = procs.upstream()
    home = procs.tmpdir / "home"
    env = P.base_env(XDG_CONFIG_HOME=str(home / ".config"), NGRNOTOK_TOKEN=None)
    conf = home / ".config" / "ngrnotok" / "ngrnotok.conf"

    r = P.run_cli(["config", "set-token", token], env=env)
    assert r.returncode == 0, r
    assert str(conf) in r.stdout, r.stdout
    r = P.run_cli(["config", "set-server", gw.control_addr], env=env)
    assert r.returncode == 0, r
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
    assert conf.read_text() == "token = %s\nserver = %s\n" % (token, gw.control_addr)

    # No --server, no --token: both from the file.
    cl = procs.client(gw, up.port, env=env, server_flag=False)
    r = gw.request("GET", "/with-file-token", cl.host)
    assert r.status == 200 and r.json()["path"] == "/with-file-token", r

    r = P.run_cli(["config", "path"], env=env)
    assert r.returncode == 0 and r.stdout.strip() == str(conf), r
    r = P.run_cli(["config", "check"], env=env)
    assert r.returncode == 0 and "a token" in r.stdout, r

    # A file others may read: a warning that names the fix; set-token makes it 0600 again.
    os.chmod(conf, 0o644)
    r = P.run_cli(["config", "check"], env=env)
    assert "can be read by other users" in r.stderr and "chmod 600" in r.stderr, r.stderr
    r = P.run_cli(["config", "set-token", token], env=env)
    assert r.returncode == 0 and "mode 600 now" in r.stdout, r
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
