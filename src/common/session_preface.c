/* session_preface.c: the gateway's check of a new control connection's first bytes, which must
 * be the preface (docs/protocol.md section 4); what is not gets words its sender can show: an
 * HTTP answer for a browser or curl, a log line naming TLS or a PROXY header from a peer not
 * trusted. */
#include "session.h"
#include "session_out.h"

#include <string.h>

/* The gateway's first bytes must be the preface. Something else gets words it can show: an
 * HTTP response for a browser or curl, a log line for TLS. */
ssize_t
session__check_preface(struct session *s, const uint8_t *p, size_t len)
{
    static const char http_reply[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        "Content-Length: 89\r\n\r\n"
        "This is the control port of an ngrnotok gateway. Public HTTP is served on another "
        "port.\n\n";
    size_t off = NGR_PREFACE_LEN - s->preface_left;
    size_t n = len < s->preface_left ? len : s->preface_left;

    if (memcmp(p, &NGR_PREFACE[off], n) == 0) {
        s->preface_left -= n;
        return (ssize_t)n;
    }
    if (off == 0 && p[0] == 0x16) {
        session_close(s, 0, "TLS client on the control port (this gateway speaks plain TCP)");
    } else if (off == 0 && ((len >= 6 && memcmp(p, "PROXY ", 6) == 0) ||
                            (len >= 4 && memcmp(p, "\r\n\r\n", 4) == 0))) {
        session_close(s, 0, "a PROXY protocol header from a peer not in --trusted-proxy (add "
                            "the proxy's address to trusted_proxy, or turn proxy_protocol off "
                            "in its stream block)");
    } else if (off == 0 && ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z'))) {
        buf_append_force(&s->ctl, http_reply, sizeof(http_reply) - 1);
        session__mark_pending(s);
        session_close(s, 0, "HTTP client on the control port");
    } else {
        session_close(s, 0, "not an ngrnotok client (bad preface)");
    }
    return NGR_EPROTO;
}
