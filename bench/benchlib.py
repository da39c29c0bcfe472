"""Helpers shared by bench/run and bench/wan: Debian packages, the release build in build-bench/,
processes stopped by their PID, free ports, /proc accounting, the nginx service and a throwaway
sshd with `ssh -R`. Standard library only; everything listens on 127.0.0.1.
"""
import json
import os
import platform
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
BUILD = os.path.join(ROOT, "build-bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SMALL_BODY = b"hello, world\n"  # 13 bytes
MIB = 1 << 20
LOG_PREFIX = "bench: "  # bench/wan sets its own

# Debian packages: (package, a file it installs, or None to ask dpkg).
RUNTIME_PKGS = [("wrk", "/usr/bin/wrk"), ("nginx", "/usr/sbin/nginx"),
                ("openssh-server", "/usr/sbin/sshd"), ("openssh-client", "/usr/bin/ssh"),
                ("curl", "/usr/bin/curl")]
BUILD_PKGS = ["meson", "ninja-build", "pkg-config", "libmicrohttpd-dev", "libcurl4-gnutls-dev",
              "libgnutls28-dev",
              "libjansson-dev", "uuid-dev", "uthash-dev", "libsqlite3-dev", "libinih-dev"]


class BenchError(Exception):
    pass


def log(msg):
    print(LOG_PREFIX + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Packages and build
# ---------------------------------------------------------------------------------------------

def dpkg_installed(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.strip().endswith(" installed")


def missing_packages(runtime):
    missing = [pkg for pkg, path in runtime if not os.path.exists(path)]
    for pkg in BUILD_PKGS:
        if pkg == "libcurl4-gnutls-dev" and any(
                dpkg_installed(p) for p in ("libcurl4-gnutls-dev", "libcurl4-openssl-dev")):
            continue
        if not dpkg_installed(pkg):
            missing.append(pkg)
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        missing.append("build-essential")
    if shutil.which("ssh-keygen") is None and "openssh-client" not in missing:
        missing.append("openssh-client")
    return missing


def ensure_packages(skip, runtime=None):
    """Installs what is missing of runtime (default RUNTIME_PKGS) and the build dependencies."""
    runtime = RUNTIME_PKGS if runtime is None else runtime
    missing = missing_packages(runtime)
    if not missing:
        return
    cmd = "apt-get update && apt-get install -y --no-install-recommends " + " ".join(missing)
    if skip or os.geteuid() != 0:
        print("bench: missing Debian packages: %s\ninstall them as root with:\n  %s"
              % (" ".join(missing), cmd), file=sys.stderr)
        sys.exit(1)
    log("installing " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update"],
                 ["apt-get", "install", "-y", "--no-install-recommends"] + missing):
        r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, timeout=1200)
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-3000:])
            raise BenchError("%s failed (exit %d)" % (" ".join(argv[:2]), r.returncode))
    still = missing_packages(runtime)
    if still:
        raise BenchError("still missing after apt-get install: " + " ".join(still))


def run_quiet(argv, what, timeout):
    r = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-6000:])
        raise BenchError("%s failed (exit %d)" % (what, r.returncode))
    return r.stdout


def build():
    """Release build in build-bench/ (configured once, then incremental)."""
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        log("meson setup build-bench --buildtype=release -Dtests=disabled")
        run_quiet(["meson", "setup", "build-bench", "--buildtype=release", "-Dtests=disabled"],
                  "meson setup", 600)
    else:
        opts = json.loads(run_quiet(["meson", "introspect", "--buildoptions", "build-bench"],
                                    "meson introspect", 120))
        current = {o["name"]: o["value"] for o in opts}
        if current.get("buildtype") != "release" or current.get("tests") != "disabled":
            run_quiet(["meson", "configure", "build-bench", "--buildtype=release",
                       "-Dtests=disabled"], "meson configure", 120)
    log("ninja -C build-bench")
    run_quiet(["ninja", "-C", "build-bench"], "ninja", 1200)
    bins = {"gateway": os.path.join(BUILD, "ngrnotokd"), "client": os.path.join(BUILD, "ngrnotok"),
            "idle": os.path.join(BUILD, "bench", "idle_tunnels"),
            "delay_line": os.path.join(BUILD, "bench", "delay_line")}
    for path in bins.values():
        if not os.access(path, os.X_OK):
            raise BenchError("the build made no " + os.path.relpath(path, ROOT))
    return bins


# ---------------------------------------------------------------------------------------------
# Processes, ports, /proc
# ---------------------------------------------------------------------------------------------

def wait_until(pred, timeout, what, interval=0.005):
    """Polls pred() until it returns something truthy; BenchError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise BenchError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Proc:
    """A process we started: stdout read line by line by a thread (wait_line), stderr to a log
    file. Stopped by its own PID only."""

    all = []

    def __init__(self, name, argv, tmp, stdin=subprocess.DEVNULL, stdout_lines=True, env=None):
        self.name = name
        self.log_path = os.path.join(tmp, name + ".log")
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        err = open(self.log_path, "ab")
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen(argv, stdin=stdin,
                                  stdout=subprocess.PIPE if stdout_lines else err, stderr=err,
                                  start_new_session=True, env=env)
        err.close()
        self.pid = self.p.pid
        Proc.all.append(self)
        if stdout_lines:
            threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for raw in self.p.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_line(self, regex, timeout):
        """Returns the match of the first stdout line matching regex (event-driven, bounded)."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cond:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                if self.eof or self.p.poll() is not None:
                    raise BenchError("%s exited (%s) before printing /%s/; %s" % (
                        self.name, self.p.poll(), regex, self.log_tail()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError("%s printed no /%s/ within %.0f s; %s" % (
                        self.name, regex, timeout, self.log_tail()))
                self.cond.wait(left)

    def wait_event(self, timeout):
        """Waits up to timeout for a new stdout line (or exit)."""
        with self.cond:
            n = len(self.lines)
            self.cond.wait_for(lambda: len(self.lines) != n or self.eof, timeout)

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-600:].decode(errors="replace").strip()
        except OSError:
            data = ""
        return "its stderr: " + (data or "(empty)")

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=5):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(timeout)
            except ProcessLookupError:
                pass
        if self.p.stdin:
            try:
                self.p.stdin.close()
            except OSError:
                pass
        if self in Proc.all:
            Proc.all.remove(self)

    @classmethod
    def stop_all(cls):
        for p in reversed(list(cls.all)):
            try:
                p.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (p.name, e))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(count):
    """count consecutive bindable ports below the ephemeral range."""
    for _ in range(200):
        lo = random.randrange(20000, 32000 - count)
        socks = []
        try:
            for port in range(lo, lo + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return lo, lo + count - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise BenchError("no free range of %d ports" % count)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (field 3 first), or None if the
    process is gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def proc_children():
    children = {}
    for d in os.listdir("/proc"):
        fields = proc_stat(d) if d.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(d))
    return children


def proc_tree(pids):
    children = proc_children()
    out, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids):
    """utime+stime of pids and all their descendants, in seconds."""
    total = 0
    for pid in proc_tree(pids):
        fields = proc_stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLK_TCK


def background_cpu():
    """A sample for background_delta: the machine's user+system CPU seconds (/proc/stat), and
    the CPU seconds of our own processes (live descendants, and reaped children through cutime)
    and of kernel threads (they carry loopback softirq work for everyone)."""
    with open("/proc/stat") as f:
        cpu = f.readline().split()
    machine = (int(cpu[1]) + int(cpu[2]) + int(cpu[3])) / CLK_TCK
    ours = set(proc_tree([os.getpid()]))
    known = 0
    for d in os.listdir("/proc"):
        fields = proc_stat(d) if d.isdigit() else None
        if fields is None:
            continue
        if int(d) in ours or d == "2" or fields[1] == "2":
            known += sum(int(x) for x in fields[11:15])
    return machine, known / CLK_TCK


def background_delta(before, after):
    """CPU seconds that other processes on the machine used between two samples."""
    return max(0.0, (after[0] - before[0]) - (after[1] - before[1]))


def rss_detail(pid):
    """RSS split into anonymous and file-backed (shared libraries), and PSS, in KiB."""
    out = {}
    for key, name in (("RssAnon", "anon"), ("RssFile", "file")):
        out[name] = proc_status_kib(pid, key)
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["pss"] = int(line.split()[1])
    except OSError:
        pass
    return out


def proc_status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError("no %s for pid %d" % (key, pid))


# ---------------------------------------------------------------------------------------------
# The service (nginx) and ssh -R
# ---------------------------------------------------------------------------------------------

NGINX_COMMON = """worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}.err.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/{name}.tmp/body;
    proxy_temp_path {tmp}/{name}.tmp/proxy;
    fastcgi_temp_path {tmp}/{name}.tmp/fastcgi;
    uwsgi_temp_path {tmp}/{name}.tmp/uwsgi;
    scgi_temp_path {tmp}/{name}.tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    tcp_nodelay on;
{body}
}}
"""

SERVICE_BODY = """    sendfile on;
    tcp_nopush on;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {www};
        location = /small {{ default_type text/plain; }}
    }}"""


def nginx_conf(tmp, name, body):
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(tmp, name + ".tmp", sub), exist_ok=True)
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write(NGINX_COMMON.format(tmp=tmp, name=name, body=body))
    return path


def start_nginx(tmp, name, body, port):
    conf = nginx_conf(tmp, name, body)
    p = Proc(name, ["/usr/sbin/nginx", "-c", conf, "-e", os.path.join(tmp, name + ".err.log")],
             tmp, stdout_lines=False)
    wait_until(lambda: port_open(port) or (not p.alive() and "dead"), 10, name + " to listen")
    if not p.alive():
        raise BenchError("%s exited; see %s.err.log" % (name, name))
    return p


class Target:
    """Where a system exposes one backend: connect to 127.0.0.1:port, send Host: host."""

    def __init__(self, port, host=None):
        self.port = port
        self.host = host or "127.0.0.1:%d" % port

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


def raw_get(target, path, timeout=2):
    """One GET on a fresh connection; the status code, or None if it failed."""
    try:
        with socket.create_connection(("127.0.0.1", target.port), timeout=timeout) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                       % (path, target.host)).encode())
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return int(data.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None

def start_sshd(tmp):
    """A throwaway sshd on a free port: its own host key and authorized client key (in
    tmp/ssh), no PAM. The Proc gets .port and .keydir."""
    d = os.path.join(tmp, "ssh")
    os.makedirs(d, mode=0o700)
    if not os.path.isdir("/run/sshd"):
        if os.geteuid() != 0:
            raise BenchError("sshd needs /run/sshd (create it as root)")
        os.makedirs("/run/sshd", mode=0o755)
    for key in ("host_key", "client_key"):
        run_quiet(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench",
                   "-f", os.path.join(d, key)], "ssh-keygen", 30)
    shutil.copy(os.path.join(d, "client_key.pub"), os.path.join(d, "authorized_keys"))
    port = free_port()
    conf = os.path.join(d, "sshd_config")
    with open(conf, "w") as f:
        f.write("\n".join([
            "Port %d" % port, "ListenAddress 127.0.0.1",
            "HostKey " + os.path.join(d, "host_key"),
            "AuthorizedKeysFile " + os.path.join(d, "authorized_keys"),
            "PidFile " + os.path.join(d, "sshd.pid"),
            "PermitRootLogin yes", "UsePAM no", "StrictModes no",
            "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "AllowTcpForwarding yes",
            "X11Forwarding no", "PrintMotd no", "LogLevel ERROR", ""]))
    sshd = Proc("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", conf], tmp, stdout_lines=False)
    wait_until(lambda: port_open(port) or (not sshd.alive() and "dead"), 10, "sshd to listen")
    if not sshd.alive():
        raise BenchError("sshd exited; " + sshd.log_tail())
    sshd.port, sshd.keydir = port, d
    return sshd


def ssh_forward_argv(sshd, forwards, port=None):
    """`ssh -N -R 127.0.0.1:RPORT:127.0.0.1:LPORT ...` for (rport, lport) in forwards, to sshd
    (or to 127.0.0.1:port, a hop in front of it), OpenSSH's default cipher."""
    fwd = []
    for rport, lport in forwards:
        fwd += ["-R", "127.0.0.1:%d:127.0.0.1:%d" % (rport, lport)]
    return (["ssh", "-N", "-F", "/dev/null", "-p", str(port or sshd.port),
             "-i", os.path.join(sshd.keydir, "client_key"),
             "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "ExitOnForwardFailure=yes",
             "-o", "LogLevel=ERROR"] + fwd +
            ["%s@127.0.0.1" % pwd.getpwuid(os.geteuid()).pw_name])


def start_ssh_forward(tmp, name, sshd, local_ports, port=None, timeout=15):
    """ssh -R of each local port to a free port on sshd's side; waits until all listen.
    Returns (the ssh Proc, the remote ports)."""
    ports = [free_port() for _ in local_ports]
    ssh = Proc(name, ssh_forward_argv(sshd, zip(ports, local_ports), port), tmp,
               stdout_lines=False)
    wait_until(lambda: all(port_open(p) for p in ports) or (not ssh.alive() and "dead"), timeout,
               "ssh -R forwards")
    if not ssh.alive():
        raise BenchError("ssh exited; " + ssh.log_tail())
    return ssh, ports

def start_gateway(bins, tmp, name, tcp_range=None, extra=()):
    """ngrnotokd on free ports (--ports-file); the Proc gets .addrs and .http_port. extra: more
    flags."""
    ports_file = os.path.join(tmp, name + ".ports")
    argv = [bins["gateway"], "--control-addr", "127.0.0.1:0", "--http-addr",
            "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--ports-file", ports_file,
            "--log-level", "warn"]
    if tcp_range:
        argv += ["--tcp-ports", "%d-%d" % tcp_range]
    argv += list(extra)
    gw = Proc(name, argv, tmp, stdout_lines=False)
    wait_until(lambda: os.path.exists(ports_file) or (not gw.alive() and "dead"), 10,
               name + "'s ports file")
    if not gw.alive():
        raise BenchError("%s exited (%s); %s" % (name, gw.p.poll(), gw.log_tail()))
    with open(ports_file) as f:
        gw.addrs = dict(line.strip().split("=", 1) for line in f if "=" in line)
    gw.http_port = int(gw.addrs["http"].rsplit(":", 1)[1])
    return gw


def tool_version(argv, rx=r"(\S*\d+\.\d+\S*)"):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        m = re.search(rx, r.stdout + r.stderr)
        return m.group(1) if m else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def machine_meta():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            model = m.group(1).strip() if m else model
    except OSError:
        pass
    distro = platform.system()
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]+)', f.read(), re.M)
            distro = m.group(1) if m else distro
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return "%d cores (%s), %.0f GiB, %s, Linux %s" % (os.cpu_count(), model, mem, distro,
                                                       platform.release())


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty src" if dirty else "") if rev else None
    except OSError:
        return None
