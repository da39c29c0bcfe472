"""Process management for the integration tests: the gateway (ngrnotokd),
the client (ngrnotok) and the local services (upstream.py, tcp_service.py,
ws_server.py, web_app.py, or any program started with Registry.spawn).

Every process is started through a Registry, which stops all of them by PID
(SIGTERM, wait with a timeout, then SIGKILL) when the test (or module) ends.
Output is read by background threads so pipes never fill up; assertion
messages include the stderr tail of the process concerned.
"""

import collections
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from . import http_util

LIB_DIR = Path(__file__).resolve().parent
TESTS_DIR = LIB_DIR.parent                # tests/integration
REPO_ROOT = TESTS_DIR.parent.parent       # repository root
UPSTREAM_SCRIPT = LIB_DIR / "upstream.py"
TCP_SERVICE_SCRIPT = LIB_DIR / "tcp_service.py"
WS_SERVER_SCRIPT = LIB_DIR / "ws_server.py"
WEB_APP_SCRIPT = LIB_DIR / "web_app.py"

# Memory errors reported by sanitizers (leak reports at exit are not
# included: the SIGTERM/SIGINT tests check the exit status).
SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: ThreadSanitizer|: runtime error: ")

# Registries whose processes are alive (conftest adds their logs to failures).
ACTIVE_REGISTRIES = set()

FORWARDING_RE = re.compile(
    r"^Forwarding (?P<url>https?://(?P<host>(?P<sub>[a-z0-9-]+)\.(?P<domain>[^\s:/]+)"
    r"(?::(?P<port>\d+))?)) -> (?P<target>(?:https?://|unix:)\S+)$")

# `ngrnotok tcp`: "Forwarding tcp://<domain>:<port> -> <host>:<port>".
TCP_FORWARDING_RE = re.compile(
    r"^Forwarding (?P<url>tcp://(?P<domain>[^\s:/]+):(?P<port>\d+)) -> (?P<target>\S+)$")


def build_dir():
    return Path(os.environ.get("NGRNOTOK_BUILD") or (REPO_ROOT / "build"))


def binary(name):
    return build_dir() / name


def missing_binaries():
    return [str(binary(n)) for n in ("ngrnotokd", "ngrnotok")
            if not os.access(str(binary(n)), os.X_OK)]


def base_env(**overrides):
    """Environment for spawned programs: no NGRNOTOK_SERVER unless given, no
    proxies (curl/libcurl would honour them), and none of a service manager's
    variables (a gateway would notify the manager of whatever runs the tests)."""
    env = dict(os.environ)
    for k in list(env):
        if k in ("NGRNOTOK_SERVER", "NOTIFY_SOCKET", "STATE_DIRECTORY") or k.lower() in (
                "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del env[k]
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def asan_instrumented(name):
    """Whether the binary was built with AddressSanitizer."""
    try:
        with open(str(binary(name)), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _range_is_free(low, span):
    """Whether every port in [low, low+span) can be bound on 127.0.0.1 (and
    so nothing listens there, on 127.0.0.1 or the wildcard address)."""
    socks = []
    try:
        for port in range(low, low + span):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_port_range(span, lo=20000, hi=60000, tries=200):
    """LOW, HIGH of `span` consecutive free ports chosen at random in
    [lo, hi], avoiding the kernel's ephemeral range when possible (so that
    outgoing connections do not land in it). Another process may still take
    a port later: callers retry when that matters."""
    rng = random.SystemRandom()
    eph_lo, eph_hi = _ephemeral_range()
    starts = [x for x in range(lo, hi - span + 2)
              if x + span - 1 < eph_lo or x > eph_hi]
    if not starts:
        starts = list(range(lo, hi - span + 2))
    for _ in range(tries):
        low = rng.choice(starts)
        if _range_is_free(low, span):
            return low, low + span - 1
    raise AssertionError("found no %d consecutive free ports in %d-%d after %d tries"
                         % (span, lo, hi, tries))


def wait_until(predicate, timeout, what, tails=lambda: "", interval=0.02):
    """Poll predicate() until it returns a truthy value; return it. On
    timeout raise AssertionError naming what was awaited."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = predicate()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            t = tails()
            if t:
                msg += "\n" + t
            raise AssertionError(msg)
        time.sleep(interval)


class Proc:
    """A child process with stdout lines and a stderr tail collected by
    threads."""

    def __init__(self, name, argv, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env if env is not None else base_env(),
            cwd=cwd, start_new_session=True)
        self.pid = self.popen.pid
        self.stdout_lines = []
        self.stderr_tail_lines = collections.deque(maxlen=300)
        self.sanitizer_report = None    # first AddressSanitizer/UBSan error line
        self.signalled = False          # the test sent it a signal itself
        self._cond = threading.Condition()
        self._stdout_eof = False
        self._t_out = threading.Thread(target=self._read_stdout, daemon=True)
        self._t_err = threading.Thread(target=self._read_stderr, daemon=True)
        self._t_out.start()
        self._t_err.start()

    def _read_stdout(self):
        try:
            for raw in iter(self.popen.stdout.readline, b""):
                with self._cond:
                    self.stdout_lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._stdout_eof = True
                self._cond.notify_all()

    def _read_stderr(self):
        for raw in iter(self.popen.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.stderr_tail_lines.append(line)
            if self.sanitizer_report is None and SANITIZER_RE.search(line):
                self.sanitizer_report = line

    # -- inspection -------------------------------------------------------------
    def poll(self):
        return self.popen.poll()

    @property
    def returncode(self):
        return self.popen.returncode

    def stderr_tail(self, n=40):
        lines = list(self.stderr_tail_lines)[-n:]
        return "\n".join(lines)

    def describe(self, n=40):
        rc = self.popen.poll()
        state = "running" if rc is None else "exited with %s" % rc
        with self._cond:
            out = self.stdout_lines[-10:]
        return ("--- %s (pid %d, %s) ---\n$ %s\nstdout (last lines):\n%s\nstderr tail:\n%s"
                % (self.name, self.pid, state, " ".join(self.argv),
                   "\n".join(out) or "(none)", self.stderr_tail(n) or "(empty)"))

    def wait_stdout(self, pattern, timeout, what, count=1):
        """Wait until `count` stdout lines match regex `pattern` (searched
        from the beginning of the output); return the list of matches."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = [m for m in (rx.search(l) for l in self.stdout_lines) if m]
                if len(matches) >= count:
                    return matches[:count]
                remaining = deadline - time.monotonic()
                if self._stdout_eof:
                    # Let the process finish so the exit code can be shown.
                    try:
                        self.popen.wait(timeout=2)
                    except subprocess.TimeoutExpired:
                        pass
                    raise AssertionError(
                        "%s closed its stdout before %s (saw %d of %d matching lines)\n%s"
                        % (self.name, what, len(matches), count, self.describe()))
                if remaining <= 0:
                    raise AssertionError(
                        "timed out after %.1fs waiting for %s (saw %d of %d matching lines)\n%s"
                        % (timeout, what, len(matches), count, self.describe()))
                self._cond.wait(min(remaining, 0.5))

    def count_stdout(self, pattern):
        rx = re.compile(pattern)
        with self._cond:
            return sum(1 for l in self.stdout_lines if rx.search(l))

    def vm_hwm_kib(self):
        """Peak resident set size (VmHWM) in KiB from /proc/PID/status."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc/%d/status" % self.pid)

    # -- control ----------------------------------------------------------------
    def send_signal(self, sig):
        self.signalled = True
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout=5.0):
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns exit code."""
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)
        self._t_out.join(timeout=2)
        self._t_err.join(timeout=2)
        for f in (self.popen.stdout, self.popen.stderr):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass
        return self.popen.returncode


class Gateway:
    def __init__(self, proc, ports, registry):
        self.proc = proc
        self.ports = ports
        self.registry = registry
        self.control_port = ports["control"]
        self.http_port = ports["http"]
        self.admin_port = ports["admin"]
        self.control_addr = "127.0.0.1:%d" % self.control_port
        self.tcp_low = self.tcp_high = None    # --tcp-ports, set by Registry.tcp_gateway

    def request(self, method, path, host, headers=(), body=None, timeout=30):
        """Request on the public HTTP listener with an explicit Host header
        (host=None sends no Host header)."""
        hdrs = ([("Host", host)] if host is not None else []) + list(headers)
        return http_util.request(self.http_port, method, path, hdrs, body, timeout)

    def admin(self, method, path, body=None, timeout=15):
        return http_util.request(
            self.admin_port, method, path,
            [("Host", "127.0.0.1:%d" % self.admin_port)], body, timeout)

    def tunnels(self):
        r = self.admin("GET", "/tunnels")
        assert r.status == 200, "GET /tunnels -> %d %r" % (r.status, r.body[:500])
        return r.json()["tunnels"]


class Service:
    """A local service started by the tests (tcp_service.py, ws_server.py,
    or any other program) listening on 127.0.0.1:port."""

    def __init__(self, proc, port, tag=None):
        self.proc = proc
        self.port = port
        self.tag = tag


class Upstream:
    def __init__(self, proc, port, tag):
        self.proc = proc
        self.port = port
        self.tag = tag

    def direct(self, method, path, headers=(), body=None, timeout=15):
        """Request straight to the upstream (not through the tunnel)."""
        return http_util.request(
            self.port, method, path,
            [("Host", "127.0.0.1:%d" % self.port)] + list(headers), body, timeout)


class Client:
    def __init__(self, proc, match):
        self.proc = proc
        self.line = match.group(0)
        self.url = match.group("url")
        self.host = match.group("host")          # value for the Host header
        self.sub = match.group("sub")
        self.domain = match.group("domain")
        self.url_port = match.group("port")
        self.target = match.group("target")


class TcpClient:
    """`ngrnotok tcp`, with its public port parsed from the Forwarding line."""

    def __init__(self, proc, match):
        self.proc = proc
        self.line = match.group(0)
        self.url = match.group("url")
        self.domain = match.group("domain")
        self.port = int(match.group("port"))
        self.target = match.group("target")

    def connect(self, timeout=15, host="127.0.0.1"):
        """A socket connected to the tunnel's public port."""
        return socket.create_connection((host, self.port), timeout=timeout)


class Tunnel:
    """gateway + upstream + client, with a request helper."""

    def __init__(self, gateway, upstream, client):
        self.gateway = gateway
        self.upstream = upstream
        self.client = client
        self.host = client.host

    def request(self, method, path, headers=(), body=None, host=None, timeout=30):
        return self.gateway.request(method, path, host or self.host, headers, body, timeout)


class Registry:
    """Starts processes and stops every one of them on close()."""

    def __init__(self, tmpdir=None):
        self._own_tmp = tmpdir is None
        self.tmpdir = Path(tmpdir or tempfile.mkdtemp(prefix="ngrnotok-it-"))
        self.procs = []
        self._n = 0
        ACTIVE_REGISTRIES.add(self)

    def spawn(self, name, argv, env=None):
        """Programs keep their state (a gateway's reservations, a client's secrets) under this
        registry's directory unless env names another: one test's never meets another's."""
        self._n += 1
        env = dict(env) if env is not None else base_env()
        env.setdefault("XDG_STATE_HOME", str(self.tmpdir / "state"))
        env.setdefault("XDG_CONFIG_HOME", str(self.tmpdir / "config"))
        p = Proc("%s#%d" % (name, self._n), argv, env=env)
        self.procs.append(p)
        return p

    def tails(self, n=40):
        return "\n".join(p.describe(n) for p in self.procs)

    def problems(self, check_exit=True):
        """Gateways that died on their own, and sanitizer reports, during the
        test: a list of descriptions (empty when all is well)."""
        out = []
        for p in self.procs:
            is_ours = Path(p.argv[0]).name in ("ngrnotokd", "ngrnotok")
            if not is_ours:
                continue
            if p.sanitizer_report:
                out.append("%s reported: %s\n%s" % (p.name, p.sanitizer_report, p.describe(80)))
            elif (check_exit and Path(p.argv[0]).name == "ngrnotokd" and not p.signalled
                  and p.poll() is not None and p.poll() != 0):
                out.append("%s died during the test (exit %s)\n%s"
                           % (p.name, p.poll(), p.describe(80)))
        return out

    def close(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass
        ACTIVE_REGISTRIES.discard(self)
        if self._own_tmp:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- gateway ------------------------------------------------------------------
    def gateway(self, *extra, default_addrs=True, timeout=20, env=None):
        self._n += 1
        ports_file = self.tmpdir / ("ports-%d" % self._n)
        argv = [binary("ngrnotokd")]
        if default_addrs:
            argv += ["--control-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                     "--admin-addr", "127.0.0.1:0"]
        argv += ["--ports-file", ports_file]
        if os.environ.get("NGRNOTOK_TEST_VERBOSE"):
            argv.append("-v")
        argv += list(extra)
        proc = self.spawn("ngrnotokd", argv, env=env)

        def read_ports():
            if proc.poll() is not None:
                raise AssertionError(
                    "ngrnotokd exited with %s before writing the ports file\n%s"
                    % (proc.returncode, proc.describe()))
            try:
                text = ports_file.read_text()
            except FileNotFoundError:
                return None
            ports = {}
            for line in text.splitlines():
                if "=" in line:
                    k, _, v = line.partition("=")
                    host, _, port = v.strip().rpartition(":")
                    if port.isdigit():
                        ports[k.strip()] = int(port)
            if all(k in ports for k in ("control", "http", "admin")):
                return ports
            return None

        deadline = time.monotonic() + timeout
        while True:
            ports = read_ports()
            if ports:
                break
            if time.monotonic() > deadline:
                text = ports_file.read_text() if ports_file.exists() else "(missing)"
                raise AssertionError(
                    "timed out after %ds waiting for ngrnotokd's ports file %s "
                    "(control=, http=, admin= lines); content: %r\n%s"
                    % (timeout, ports_file.name, text, proc.describe()))
            time.sleep(0.02)
        for k in ("control", "http", "admin"):
            assert ports[k] != 0, "ports file has port 0 for %s: %r" % (k, ports)
        return Gateway(proc, ports, self)

    def tcp_gateway(self, *extra, span=10, timeout=20, env=None):
        """A gateway with TCP tunnels enabled on `span` consecutive ports,
        chosen at random among free ones (gw.tcp_low, gw.tcp_high)."""
        low, high = free_port_range(span)
        gw = self.gateway("--tcp-ports", "%d-%d" % (low, high), *extra, timeout=timeout, env=env)
        gw.tcp_low, gw.tcp_high = low, high
        return gw

    # -- local services -------------------------------------------------------------
    def service(self, name, argv, timeout=20):
        """Start a service that prints its port alone on its first stdout line."""
        proc = self.spawn(name, argv)
        m = proc.wait_stdout(r"^(\d+)$", timeout, "%s's port line" % name)
        return Service(proc, int(m[0].group(1)))

    def tcp_service(self, mode="echo", tag=None, port=0, timeout=20, extra=()):
        """lib/tcp_service.py in MODE (echo, reply-at-eof, shut-first, http)."""
        tag = tag or ("tcp-" + uuid.uuid4().hex[:8])
        svc = self.service("tcp_service[%s %s]" % (mode, tag),
                           [sys.executable, "-u", TCP_SERVICE_SCRIPT, "--mode", mode,
                            "--tag", tag, "--port", str(port)] + [str(a) for a in extra],
                           timeout)
        svc.tag = tag
        return svc

    def ws_server(self, port=0, timeout=20):
        """lib/ws_server.py (python3-websockets)."""
        return self.service("ws_server", [sys.executable, "-u", WS_SERVER_SCRIPT,
                                          "--port", str(port)], timeout)

    def web_app(self, tag=None, port=0, timeout=20):
        """lib/web_app.py: a page using fetch(), server-sent events and a WebSocket."""
        tag = tag or ("app-" + uuid.uuid4().hex[:8])
        svc = self.service("web_app[%s]" % tag, [sys.executable, "-u", WEB_APP_SCRIPT,
                                                 "--tag", tag, "--port", str(port)], timeout)
        svc.tag = tag
        return svc

    # -- upstream -----------------------------------------------------------------
    def upstream(self, tag=None, port=0, timeout=20, extra=()):
        """lib/upstream.py; extra: its --host, --tls-cert/--tls-key or --unix."""
        tag = tag or ("up-" + uuid.uuid4().hex[:8])
        argv = [sys.executable, "-u", UPSTREAM_SCRIPT, "--tag", tag, "--port", str(port)]
        argv += [str(a) for a in extra]
        proc = self.spawn("upstream[%s]" % tag, argv)
        m = proc.wait_stdout(r"^(\d+)$", timeout, "the upstream's port line")
        return Upstream(proc, int(m[0].group(1)), tag)

    # -- client ---------------------------------------------------------------------
    def client_proc(self, args, env=None):
        """Start `ngrnotok ARGS...` without waiting for anything (the inspector off unless
        ARGS name --inspect-addr: see inspector_off)."""
        argv = [binary("ngrnotok")] + inspector_off([str(a) for a in args])
        return self.spawn("ngrnotok", argv, env=env if env is not None else base_env())

    def client(self, gateway, target, *extra, env=None, timeout=20, server_flag=True):
        """Start `ngrnotok http --server <gateway> EXTRA... TARGET` and wait for
        its Forwarding line. `target` is a port (int), "HOST:PORT", or a list
        of arguments (e.g. ["-p", "8000"])."""
        args = ["http"]
        if server_flag:
            args += ["--server", gateway.control_addr if isinstance(gateway, Gateway) else gateway]
        if os.environ.get("NGRNOTOK_TEST_VERBOSE"):
            args.append("-v")
        args += list(extra)
        args += [str(a) for a in target] if isinstance(target, (list, tuple)) else [str(target)]
        proc = self.client_proc(args, env=env)
        m = proc.wait_stdout(FORWARDING_RE.pattern, timeout,
                             "ngrnotok's 'Forwarding http://... -> http://...' line")
        return Client(proc, m[0])

    def tcp_client(self, gateway, target, *extra, env=None, timeout=20):
        """Start `ngrnotok tcp --server <gateway> EXTRA... TARGET` and wait for
        its 'Forwarding tcp://DOMAIN:PORT -> TARGET' line."""
        args = ["tcp", "--server",
                gateway.control_addr if isinstance(gateway, Gateway) else gateway]
        if os.environ.get("NGRNOTOK_TEST_VERBOSE"):
            args.append("-v")
        args += list(extra) + [str(target)]
        proc = self.client_proc(args, env=env)
        m = proc.wait_stdout(TCP_FORWARDING_RE.pattern, timeout,
                             "ngrnotok's 'Forwarding tcp://DOMAIN:PORT -> ...' line")
        return TcpClient(proc, m[0])

    def tunnel(self, *client_extra, gateway_args=(), tag=None, env=None):
        """env: environment for ngrnotokd and ngrnotok (default base_env())."""
        gw = self.gateway(*gateway_args, env=env)
        up = self.upstream(tag)
        cl = self.client(gw, up.port, *client_extra, env=env)
        return Tunnel(gw, up, cl)


def inspector_off(args):
    """`ngrnotok http|tcp|start ARGS` with `--inspect-addr off` after the command, unless ARGS
    name --inspect-addr: the inspector's default 127.0.0.1:4040 (and the ports up to 4049)
    would be shared by every client of a test run. Tests of the inspector give their own."""
    if args and args[0] in ("http", "tcp", "start") and not any(
            a == "--inspect-addr" or a.startswith("--inspect-addr=") for a in args):
        return [args[0], "--inspect-addr", "off"] + args[1:]
    return args


_RUN_CLI_STATE = None


def _run_cli_state():
    """A state directory for programs run to completion, apart from the user's own (removed
    when the tests end)."""
    global _RUN_CLI_STATE
    if _RUN_CLI_STATE is None:
        import atexit
        _RUN_CLI_STATE = tempfile.mkdtemp(prefix="ngrnotok-state-")
        atexit.register(shutil.rmtree, _RUN_CLI_STATE, True)
    return _RUN_CLI_STATE


def run_cli(args, env=None, timeout=15, binary_name="ngrnotok"):
    """Run a program to completion; returns CompletedProcess with text
    stdout/stderr. A program still running after `timeout` is killed and
    AssertionError is raised (it should have exited)."""
    args = [str(a) for a in args]
    argv = [str(binary(binary_name))] + (inspector_off(args) if binary_name == "ngrnotok"
                                         else args)
    env = dict(env) if env is not None else base_env()
    env.setdefault("XDG_STATE_HOME", _run_cli_state())
    env.setdefault("XDG_CONFIG_HOME", os.path.join(_run_cli_state(), "config"))
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate(timeout=10)
        raise AssertionError(
            "%s did not exit within %ss (it should have)\n$ %s\nstdout: %s\nstderr tail: %s"
            % (binary_name, timeout, " ".join(argv),
               out.decode("utf-8", "replace")[-2000:],
               err.decode("utf-8", "replace")[-2000:])) from None
    return subprocess.CompletedProcess(argv, p.returncode,
                                       out.decode("utf-8", "replace"),
                                       err.decode("utf-8", "replace"))
