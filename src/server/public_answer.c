/* public_answer.c: responses and the gateway's pages for public clients; see public_answer.h. */
#include "public_answer.h"
#include "pub_req.h"

#include "error_page.h"
#include "http_request_head.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields move into req->reply, followed by a copy of the payload with a NUL after each
 * string (libmicrohttpd wants C strings; the byte after a string is a length prefix already
 * read, or one spare at the end). */
int
public_answer_keep_reply(struct pub_req *req, const struct frame *f)
{
    struct frame_head *h = &req->head;
    struct frame_field *fields;
    const char *from = (const char *)f->payload;
    char *copy;
    size_t i, fields_len;

    memset(h, 0, sizeof(*h));
    h->fields = req->srv->http_fields;
    h->cap_fields = NGR_MAX_HEADERS;
    if (frame_reply_decode(f, h) != 0)
        return NGR_EPROTO;
    fields_len = h->nfields * sizeof(*fields);
    req->reply = malloc(fields_len + f->length + 1);
    if (req->reply == NULL)
        return NGR_ENOMEM;
    fields = req->reply;
    copy = (char *)req->reply + fields_len;
    memcpy(copy, f->payload, f->length);
    copy[f->length] = '\0';
    /* Every string the decoder returned lies within the payload. */
    for (i = 0; i < h->nfields; i++) {
        fields[i].name.p = copy + (h->fields[i].name.p - from);
        fields[i].name.len = h->fields[i].name.len;
        fields[i].value.p = copy + (h->fields[i].value.p - from);
        fields[i].value.len = h->fields[i].value.len;
    }
    for (i = 0; i < h->nfields; i++) {
        ((char *)fields[i].name.p)[fields[i].name.len] = '\0';
        ((char *)fields[i].value.p)[fields[i].value.len] = '\0';
    }
    h->fields = fields;
    h->cap_fields = h->nfields;
    return 0;
}

enum MHD_Result
public_answer_reply(struct pub_req *req, MHD_ContentReaderCallback read,
                    MHD_UpgradeHandler upgraded)
{
    const struct frame_head *h = &req->head;
    struct http_request_head_hops hops;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    uint64_t size;
    size_t i;
    int no_body;

    no_body = req->is_head || h->status == 204 || h->status == 304 || h->status < 200;
    if (h->body == FRAME_BODY_LENGTH)
        size = h->length;
    else if (h->body == FRAME_BODY_NONE)
        size = 0;
    else
        size = MHD_SIZE_UNKNOWN;
    if (no_body && size == MHD_SIZE_UNKNOWN && !req->is_head)
        size = 0; /* for HEAD, unknown stays unknown: no Content-Length: 0 that a GET would belie */
    if (h->status == 101) {
        /* on_reply let a 101 through only for an upgrade request */
        resp = MHD_create_response_for_upgrade(upgraded, req);
    } else if (size == 0 && !req->is_head) {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (!no_body && req->resp_ended && req->body.len == size) {
        /* The whole body is here already: hand it over in one piece. */
        resp = MHD_create_response_from_buffer(req->body.len, (void *)buf_head(&req->body),
                                               MHD_RESPMEM_MUST_COPY);
        if (resp != NULL && req->st.sess != NULL)
            session_consumed(&req->st, req->body.len);
        if (resp != NULL)
            buf_free(&req->body);
    } else {
        /* For HEAD the reader is never called; the size still sets Content-Length.
         * libmicrohttpd allocates and zeroes the block with the response but fills it only for
         * a known length (a chunked body is built in the connection's pool): a large block only
         * where it is used. */
        size_t block = NGR_RESPONSE_BLOCK_MIN;
        if (size != MHD_SIZE_UNKNOWN && !req->is_head)
            block = size < NGR_RESPONSE_BLOCK ? (size_t)size : NGR_RESPONSE_BLOCK;
        resp = MHD_create_response_from_callback(size, block, read, req, NULL);
    }
    if (resp == NULL)
        return MHD_NO;
    hops = http_request_head_hops(h->fields, h->nfields);
    for (i = 0; i < h->nfields; i++) {
        /* The strings end in a NUL in req->reply (public_answer_keep_reply); libmicrohttpd copies
         * them. */
        const struct frame_field *fl = &h->fields[i];

        if (!http_request_head_reply_keeps(&hops, h->status, fl->name))
            continue;
        /* libmicrohttpd refuses an empty value; one space is the same field on the wire
         * ("Name:  "), since a recipient strips the blanks around a value. */
        if (MHD_add_response_header(resp, fl->name.p, fl->value.len > 0 ? fl->value.p : " ") !=
            MHD_YES)
            log_debug("stream %u: response header %s not accepted", req->st.id, fl->name.p);
    }
    ret = MHD_queue_response(req->conn, h->status, resp);
    MHD_destroy_response(resp);
    free(req->reply);
    req->reply = NULL;
    req->head.fields = NULL;
    req->head.nfields = 0;
    req->state = PUB_REQ_QUEUED;
    if (ret == MHD_YES)
        req->status_sent = h->status;
    return ret;
}

enum MHD_Result
public_answer_page(struct pub_req *req)
{
    char location[NGR_DOMAIN_LEN + NGR_REDIRECT_TARGET_MAX + 32];
    const char *host;
    size_t hlen;

    req->state = PUB_REQ_QUEUED;
    req->status_sent = req->page.status;
    if (req->retry_after != 0) {
        char s[16];

        snprintf(s, sizeof(s), "%u", req->retry_after);
        return error_page_queue_with(req->conn, &req->page, MHD_HTTP_HEADER_RETRY_AFTER, s) ==
                       MHD_YES
                   ? MHD_YES
                   : MHD_NO;
    }
    if (req->auth_challenge)
        return error_page_queue_with(req->conn, &req->page, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                     "Basic realm=\"ngrnotok tunnel\", charset=\"UTF-8\"") ==
                       MHD_YES
                   ? MHD_YES
                   : MHD_NO;
    if (!req->redirect)
        return error_page_queue(req->conn, &req->page) == MHD_YES ? MHD_YES : MHD_NO;
    /* Host was checked by http_route_parse: a name of ours, perhaps with a port. */
    host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    hlen = host != NULL ? strcspn(host, ":") : 0;
    if (strlen(req->target) > NGR_REDIRECT_TARGET_MAX) {
        error_page_set(&req->page, 414, "URI Too Long",
                       "The request target is too long to redirect to HTTPS.");
        req->status_sent = 414;
        return error_page_queue(req->conn, &req->page) == MHD_YES ? MHD_YES : MHD_NO;
    }
    if (req->srv->https_port == 443)
        snprintf(location, sizeof(location), "https://%.*s%s", (int)hlen, host, req->target);
    else
        snprintf(location, sizeof(location), "https://%.*s:%u%s", (int)hlen, host,
                 (unsigned)req->srv->https_port, req->target);
    return error_page_queue_with(req->conn, &req->page, MHD_HTTP_HEADER_LOCATION, location) ==
                   MHD_YES
               ? MHD_YES
               : MHD_NO;
}
