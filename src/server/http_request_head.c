/* http_request_head.c: request head -> OPEN head, and the REPLY field filter; see
 * http_request_head.h. */
#include "http_request_head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_hop.h"
#include "http_request_check.h"

struct http_request_head_hops
http_request_head_hops(const struct frame_field *fields, size_t n)
{
    struct http_request_head_hops h = {fields, 0, 0};
    size_t i;

    for (i = 0; i < n; i++)
        if (frame_str_eq(fields[i].name, "connection")) {
            if (h.end == 0)
                h.first = i;
            h.end = i + 1;
        }
    return h;
}

int
http_request_head_is_hop(const struct http_request_head_hops *h, struct frame_str name)
{
    size_t i;

    if (http_hop_is_fixed(name.p, name.len))
        return 1;
    for (i = h->first; i < h->end; i++)
        if (frame_str_eq(h->fields[i].name, "connection") &&
            http_hop_in_connection(name.p, name.len, h->fields[i].value.p, h->fields[i].value.len))
            return 1;
    return 0;
}

int
http_request_head_reply_keeps(const struct http_request_head_hops *h, unsigned status,
                              struct frame_str name)
{
    if (name.len >= NGR_FIELD_NAME_LEN)
        return 0;
    if (status == 101 && frame_str_eq(name, "upgrade"))
        return 1;
    return !http_request_head_is_hop(h, name);
}

/* The first field named name, or NULL (libmicrohttpd's lookup answers the same). */
static const struct frame_field *
http_request_head_find(const struct http_request *rq, const char *name)
{
    size_t i;

    for (i = 0; i < rq->nfields; i++)
        if (frame_str_eq(rq->fields[i].name, name))
            return &rq->fields[i];
    return NULL;
}

/* 1 if the request asks for a protocol upgrade: an Upgrade field and "upgrade" among the
 * Connection tokens (RFC 9110 section 7.8). */
static int
http_request_head_wants_upgrade(const struct http_request *rq)
{
    size_t i;
    int has_upgrade = 0, conn_upgrade = 0;

    for (i = 0; i < rq->nfields; i++) {
        const struct frame_field *f = &rq->fields[i];
        if (frame_str_eq(f->name, "upgrade"))
            has_upgrade = 1;
        else if (frame_str_eq(f->name, "connection") &&
                 http_hop_in_connection("upgrade", 7, f->value.p, f->value.len))
            conn_upgrade = 1;
    }
    return has_upgrade && conn_upgrade;
}

/* Content-Length as strtoull read it: an empty value is 0; otherwise an optional '+' and at
 * least one digit, all of the value, within 64 bits. */
static int
http_request_head_length(struct frame_str v, uint64_t *out)
{
    size_t i = 0;
    uint64_t n = 0;

    if (v.len > 0 && v.p[0] == '+')
        i++;
    if (v.len > 0 && i == v.len)
        return NGR_EINVAL;
    for (; i < v.len; i++) {
        unsigned d = (unsigned)(unsigned char)v.p[i] - '0';
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return NGR_EINVAL;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* The body kind from Transfer-Encoding (any: unknown length) and Content-Length. */
static int
http_request_head_body(const struct http_request *rq, struct frame_head *h, struct error_page *why)
{
    const struct frame_field *cl = http_request_head_find(rq, "content-length");

    if (http_request_head_find(rq, "transfer-encoding") != NULL) {
        h->body = FRAME_BODY_UNKNOWN;
        return 0;
    }
    if (cl == NULL) {
        h->body = FRAME_BODY_NONE;
        return 0;
    }
    if (http_request_head_length(cl->value, &h->length) != 0) {
        error_page_set(why, 400, "Bad Request", "The Content-Length header is malformed.");
        return NGR_EINVAL;
    }
    h->body = FRAME_BODY_LENGTH; /* also for 0: the local service sees Content-Length: 0 */
    return 0;
}

static int
http_request_head_too_large(struct error_page *why, const char *what)
{
    error_page_set(why, 431, "Request Header Fields Too Large", "%s", what);
    return NGR_ELIMIT;
}

int
http_request_head_build(const struct http_request *rq, struct http_request_scratch *sc,
                        struct frame_head *h, struct error_page *why)
{
    struct http_request_head_hops hops;
    struct frame_field *out = sc->out;
    size_t i, n = 0;
    int upgrade, rc;

    memset(h, 0, sizeof(*h));
    rc = http_request_check_method(rq->method, why);
    if (rc != 0)
        return rc;
    rc = http_request_check(rq->target, rq->fields, rq->nfields, why);
    if (rc != 0)
        return rc;
    rc = http_request_head_body(rq, h, why);
    if (rc != 0)
        return rc;

    /* Copy the fields to forward, in order, into out (rq->fields must stay whole while it is
     * scanned for Connection). Forwarding fields are ours to say, never the public client's
     * (X-Forwarded-*, Forwarded, X-Real-IP, also spelt with '_'): they are dropped and the
     * gateway's X-Forwarded-For, -Proto and -Host added. Expect was answered by libmicrohttpd
     * already. */
    upgrade = http_request_head_wants_upgrade(rq);
    hops = http_request_head_hops(rq->fields, rq->nfields);
    for (i = 0; i < rq->nfields; i++) {
        struct frame_field f = rq->fields[i];
        /* An upgrade keeps its Upgrade field; Connection is re-sent as "Upgrade" below. */
        int keep = upgrade && frame_str_eq(f.name, "upgrade");
        if ((!keep && http_request_head_is_hop(&hops, f.name)) || frame_str_eq(f.name, "expect") ||
            http_request_is_forwarding(f.name) ||
            (rq->drop_authorization && frame_str_eq(f.name, "authorization")))
            continue;
        out[n++] = f;
    }
    if (n + 3 + (upgrade ? 1 : 0) > NGR_MAX_HEADERS)
        return http_request_head_too_large(why, "The request has too many header fields.");
    out[n].name = frame_str_c("X-Forwarded-For");
    out[n++].value = frame_str_c(rq->client_ip);
    if (upgrade) {
        out[n].name = frame_str_c("Connection");
        out[n++].value = frame_str_c("Upgrade");
        h->flags |= FRAME_HEAD_UPGRADE;
    }
    out[n].name = frame_str_c("X-Forwarded-Proto");
    out[n++].value = frame_str_c(rq->scheme != NULL ? rq->scheme : "http");
    out[n].name = frame_str_c("X-Forwarded-Host");
    out[n++].value = frame_str_c(rq->host);

    h->method = frame_str_c(rq->method);
    h->target = frame_str_c(rq->target);
    h->client_addr = frame_str_c(rq->client_ip);
    h->scheme = frame_str_c(rq->scheme != NULL ? rq->scheme : "http");
    h->host = frame_str_c(rq->host);
    h->fields = out;
    h->nfields = n;
    return 0;
}
