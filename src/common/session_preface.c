/* session_preface.c: a control connection's first bytes; see session_preface.h. */
#include "session_preface.h"
#include "frame.h"

#include <string.h>

ssize_t
preface_check(size_t off, const uint8_t *p, size_t len, struct preface_refusal *r)
{
    static const char http_reply[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        "Content-Length: 89\r\n\r\n"
        "This is the control port of an ngrnotok gateway. Public HTTP is served on another "
        "port.\n\n";
    size_t left = off < NGR_PREFACE_LEN ? NGR_PREFACE_LEN - off : 0;
    size_t n = len < left ? len : left;

    if (memcmp(p, &NGR_PREFACE[off], n) == 0)
        return (ssize_t)n;
    r->reply = NULL;
    r->reply_len = 0;
    if (off == 0 && p[0] == 0x16) {
        r->why = "TLS client on the control port (this gateway speaks plain TCP)";
    } else if (off == 0 && ((len >= 6 && memcmp(p, "PROXY ", 6) == 0) ||
                            (len >= 4 && memcmp(p, "\r\n\r\n", 4) == 0))) {
        r->why = "a PROXY protocol header from a peer not in --trusted-proxy (add the proxy's "
                 "address to trusted_proxy, or turn proxy_protocol off in its stream block)";
    } else if (off == 0 && ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z'))) {
        r->why = "HTTP client on the control port";
        r->reply = http_reply;
        r->reply_len = sizeof(http_reply) - 1;
    } else {
        r->why = "not an ngrnotok client (bad preface)";
    }
    return -1;
}
