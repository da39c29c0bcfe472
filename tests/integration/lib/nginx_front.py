"""The gateway behind a real nginx (Debian's), configured by contrib/nginx.conf rendered from
its template on ephemeral loopback ports: http and https servers for DOMAIN and *.DOMAIN
(one wildcard certificate made at run time with openssl) proxied to the gateway's public
listener, and the stream block relaying the control port. Also start_nginx, for tests that run
nginx with a configuration of their own. Shared by test_nginx.py and test_browser_nginx.py."""

import os
import re
import socket
import subprocess
import uuid

from . import procs as P

NGINX = "/usr/sbin/nginx"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
TEMPLATE = P.REPO_ROOT / "contrib" / "nginx.conf"
DOMAIN = "tunnel.test"


def nginx_installed():
    return os.access(NGINX, os.X_OK)


def nginx_has_stream():
    """Whether the stream module is there: Debian's loadable one, or built in."""
    if os.path.exists(STREAM_MODULE):
        return True
    v = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    return re.search(r"--with-stream(\s|$)", v) is not None


def start_nginx(procs, conf_text, name, ports):
    """Runs nginx in the foreground with conf_text under a directory of its own (pid, error
    log, temp files, access log there); waits until every port in ports accepts. Returns the
    Proc, or None if a port was taken meanwhile (the caller picks others)."""
    root = procs.tmpdir / ("nginx-%s-%s" % (name, uuid.uuid4().hex[:6]))
    root.mkdir()
    # Test-only settings inside http {}: nothing of this run outside its directory.
    local = ("\n    access_log %s/access.log;\n" % root +
             "".join("    %s_temp_path %s/%s;\n" % (k, root, k)
                     for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")))
    conf_text = conf_text.replace("http {", "http {" + local, 1)
    if not os.path.exists(STREAM_MODULE):
        conf_text = re.sub(r"(?m)^load_module .*$", "", conf_text)
    conf = root / "nginx.conf"
    conf.write_text(conf_text)
    err_log = root / "error.log"
    proc = procs.spawn("nginx[%s]" % name, [
        NGINX, "-p", str(root) + "/", "-c", str(conf), "-e", str(err_log),
        "-g", "daemon off; pid %s/nginx.pid;" % root])

    def ready():
        if proc.poll() is not None:
            return "exited"
        for port in ports:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return None
        return "up"

    state = P.wait_until(ready, 20, "nginx to listen on %s" % (ports,),
                         lambda: err_log.read_text() if err_log.exists() else "")
    if state == "exited":
        text = err_log.read_text() if err_log.exists() else ""
        if "Address already in use" in text:
            return None
        raise AssertionError("nginx exited (%s):\n%s\n%s" % (proc.returncode, text,
                                                            proc.describe()))
    return proc


def make_wildcard_cert(dirpath, domain=DOMAIN):
    """A self-signed certificate for domain and *.domain: cert path, key path."""
    cert, key = dirpath / ("wild-%s.pem" % domain), dirpath / ("wild-%s.key" % domain)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=*." + domain,
                    "-addext", "subjectAltName=DNS:*.%s,DNS:%s" % (domain, domain)],
                   check=True, capture_output=True)
    return cert, key


class Front:
    """A gateway behind nginx (contrib/nginx.conf): its ports, and the address clients give
    as --server to connect through nginx's stream block."""

    def __init__(self, gw, ngx, http_port, https_port, stream_port, cert, domain):
        self.gw = gw
        self.nginx = ngx
        self.http_port = http_port
        self.https_port = https_port
        self.stream_port = stream_port
        self.cert = cert
        self.domain = domain
        self.control = "127.0.0.1:%d" % stream_port

    def host(self, client_or_name):
        """NAME.DOMAIN for a client (its name) or a name."""
        name = getattr(client_or_name, "sub", client_or_name)
        return "%s.%s" % (name, self.domain)

    def http_url(self, client_or_name, path="/"):
        """The URL of a tunnel on nginx's plain HTTP server."""
        return "http://%s:%d%s" % (self.host(client_or_name), self.http_port, path)


def start_front(procs, *gateway_args, domain=DOMAIN):
    """nginx on three free loopback ports from the rendered template, in front of a gateway
    with --domain domain, --public-url https://{name}.domain:HTTPS_PORT and
    --trusted-proxy 127.0.0.1/32."""
    if not nginx_has_stream():
        raise AssertionError("nginx has no stream module (Debian: libnginx-mod-stream)")
    cert, key = make_wildcard_cert(procs.tmpdir, domain)
    for _ in range(3):
        http_port, https_port, stream_port = P.free_port(), P.free_port(), P.free_port()
        if len({http_port, https_port, stream_port}) < 3:
            continue
        gw = procs.gateway("--domain", domain, "--trusted-proxy", "127.0.0.1/32",
                           "--public-url", "https://{name}.%s:%d" % (domain, https_port),
                           *gateway_args)
        values = {
            "@DOMAIN@": domain,
            "@LISTEN_HTTP@": "127.0.0.1:%d" % http_port,
            "@LISTEN_HTTPS@": "127.0.0.1:%d" % https_port,
            "@LISTEN_CONTROL@": "127.0.0.1:%d" % stream_port,
            "@PUBLIC_HTTP@": "127.0.0.1:%d" % gw.http_port,
            "@CONTROL@": "127.0.0.1:%d" % gw.control_port,
            "@CERT@": str(cert),
            "@KEY@": str(key),
        }
        text = TEMPLATE.read_text()
        for k, v in values.items():
            text = text.replace(k, v)
        left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
        assert not left, "placeholders the test does not know: %s" % left
        ngx = start_nginx(procs, text, "front", [http_port, https_port, stream_port])
        if ngx is not None:
            return Front(gw, ngx, http_port, https_port, stream_port, cert, domain)
        gw.proc.stop()
    raise AssertionError("nginx found its ports taken three times")
