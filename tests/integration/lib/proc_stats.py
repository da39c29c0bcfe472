"""What a running process holds, from /proc: open descriptors and resident memory, for tests
that check a program gives back what a fault made it take. Also the environment that makes
those memory figures mean something under AddressSanitizer."""

import os

from . import procs as P


def fd_count(pid):
    """Open file descriptors of PID (entries of /proc/PID/fd)."""
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_targets(pid):
    """What each descriptor of PID points at ("socket:[123]", a path, ...), sorted: shown
    when a count does not come back, to say what was left open."""
    out = []
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, name)))
        except OSError:
            pass
    return sorted(out)


def status_kib(pid, field):
    """A "kB" field of /proc/PID/status (VmRSS, VmHWM, ...) in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def no_quarantine_env(env=None):
    """base_env() with quarantine_size_mb=0 added to ASAN_OPTIONS when the programs are built
    with AddressSanitizer: its quarantine keeps up to 256 MiB of freed blocks resident, which
    would hide whether memory a fault made the program take is freed (the same setting as
    test_large.py)."""
    env = dict(env) if env is not None else P.base_env()
    if P.asan_instrumented("ngrnotokd") or P.asan_instrumented("ngrnotok"):
        opts = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=0"
    return env


def _socket_inodes(pid):
    out = set()
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, name))
        except OSError:
            continue
        if t.startswith("socket:["):
            out.add(t[8:-1])
    return out


TCP_LISTEN = "0A"


def tcp_sockets(pid):
    """PID's TCP sockets as (local port, remote port, state) from /proc/net/tcp{,6}; state is
    the kernel's hex code ("01" established, "08" close-wait, "0A" listen, ...)."""
    mine = _socket_inodes(pid)
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[9] in mine:
                out.append((int(cols[1].rsplit(":", 1)[1], 16),
                            int(cols[2].rsplit(":", 1)[1], 16), cols[3]))
    return out


def connections_on(pid, ports):
    """PID's TCP connections (not listeners) whose local port is one of PORTS: the public or
    admin connections a gateway still holds open."""
    ports = set(ports)
    return [s for s in tcp_sockets(pid) if s[0] in ports and s[2] != TCP_LISTEN]
