"""The PROXY protocol on the control port: a peer in --trusted-proxy (nginx's stream block with
`proxy_protocol on`, as contrib/nginx.conf has it) names the client first, v1 or v2, and the
gateway takes that address for the admin API, its log and max_conns_per_ip; from any other peer
such a header is refused with a reason naming trusted_proxy. Through a real nginx too."""

import struct

import pytest

from lib import procs as P
from lib.control_client import ControlSession, SessionRefused
from lib import nginx_front as N

pytestmark = pytest.mark.skipif(not N.nginx_installed(), reason="nginx is not installed")


def v1(src):
    return b"PROXY TCP4 %s 192.0.2.1 51234 4443\r\n" % src.encode()


def v2(src):
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    addrs = bytes(int(x) for x in src.split(".")) + bytes([192, 0, 2, 1]) + struct.pack(
        ">HH", 51234, 4443)
    return sig + bytes([0x21, 0x11]) + struct.pack(">H", len(addrs)) + addrs


def client_addrs(gw):
    return sorted(t["client_addr"] for t in gw.tunnels())


@pytest.mark.parametrize("header", [v1, v2], ids=["v1", "v2"])
def test_trusted_proxy_names_the_client(procs, header):
    gw = procs.gateway("--trusted-proxy", "127.0.0.1/32", "--max-conns-per-ip", "1")
    a = ControlSession.open(gw.control_port, subdomain=b"viaproxy",
                            before=header("198.51.100.7"))
    try:
        assert client_addrs(gw) == ["198.51.100.7"]
        # max_conns_per_ip counts the named client, not the proxy: a second connection naming
        # the same address is refused, one naming another is not.
        with pytest.raises(SessionRefused) as e:
            ControlSession.open(gw.control_port, subdomain=b"second",
                                before=header("198.51.100.7"))
        assert "too many connections from your address" in str(e.value)
        b = ControlSession.open(gw.control_port, subdomain=b"third",
                                before=header("198.51.100.8"))
        try:
            assert client_addrs(gw) == ["198.51.100.7", "198.51.100.8"]
        finally:
            b.leave("close")
        # A connection with no header from the proxy's host is its own.
        c = ControlSession.open(gw.control_port, subdomain=b"direct")
        c.leave("close")
    finally:
        a.leave("close")


def test_untrusted_peer_cannot_name_a_client(procs):
    gw = procs.gateway()  # no --trusted-proxy
    with pytest.raises(SessionRefused):
        ControlSession.open(gw.control_port, subdomain=b"forged", before=v1("198.51.100.7"))
    P.wait_until(lambda: "not in --trusted-proxy" in gw.proc.stderr_tail(50), 10,
                 "the gateway's reason, naming trusted_proxy", procs.tails)
    assert gw.tunnels() == []


def test_malformed_header_from_a_trusted_proxy_is_dropped(procs):
    gw = procs.gateway("--trusted-proxy", "127.0.0.1/32")
    with pytest.raises(SessionRefused):
        ControlSession.open(gw.control_port, subdomain=b"bad",
                            before=b"PROXY TCP4 198.51.100.777 192.0.2.1 1 2\r\n")
    P.wait_until(lambda: "malformed PROXY protocol header" in gw.proc.stderr_tail(50), 10,
                 "the gateway's reason", procs.tails)
    # The gateway goes on: a proper one binds.
    ok = ControlSession.open(gw.control_port, subdomain=b"good", before=v1("198.51.100.9"))
    ok.leave("close")


def test_through_nginx_stream_block(procs):
    """contrib/nginx.conf's stream block sends the PROXY header: a session from 127.0.0.2 to
    nginx shows as 127.0.0.2 at the gateway, whose peer is nginx on 127.0.0.1; and a real
    client works through it."""
    if not N.nginx_has_stream():
        pytest.skip("nginx has no stream module (libnginx-mod-stream)")
    front = N.start_front(procs)
    s = ControlSession.open(front.stream_port, subdomain=b"fromtwo", source="127.0.0.2")
    try:
        assert client_addrs(front.gw) == ["127.0.0.2"]
    finally:
        s.leave("close")
    up = procs.upstream()
    cl = procs.client("127.0.0.1:%d" % front.stream_port, up.port)
    P.wait_until(lambda: [t["client_addr"] for t in front.gw.tunnels()] == ["127.0.0.1"], 10,
                 "the client's tunnel, through nginx", procs.tails)
    assert cl.url.startswith("https://")
