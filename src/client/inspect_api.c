/* inspect_api.c: an exchange the inspector keeps as the JSON of ngrok's agent API; see
 * inspect_api.h. */
#include "inspect_api.h"

#include "limits.h"

#include <inttypes.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
inspect_api_format_id(uint64_t id, char *out)
{
    snprintf(out, NGR_INSPECT_ID_LEN, "%016" PRIx64, id);
}

uint64_t
inspect_api_parse_id(const char *s)
{
    uint64_t id = 0;
    size_t i;

    if (s == NULL || strlen(s) != 16)
        return 0;
    for (i = 0; i < 16; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16)
            return 0;
        id = id << 4 | d;
    }
    return id;
}

/* A JSON string of n bytes: bytes that are not UTF-8 (a header may carry any) become '?',
 * since jansson refuses them. */
static json_t *
inspect_api_str(const char *p, size_t n)
{
    json_t *s = json_stringn(p, n);
    char *copy;
    size_t i;

    if (s != NULL || n == 0)
        return s != NULL ? s : json_string("");
    copy = malloc(n);
    if (copy == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        copy[i] = (unsigned char)p[i] < 0x80 && p[i] != '\0' ? p[i] : '?';
    s = json_stringn(copy, n);
    free(copy);
    return s;
}

static json_t *
inspect_api_base64(const uint8_t *p, size_t n)
{
    char *out;
    json_t *s;

    if (n > (SIZE_MAX - 3) / 4 * 3)
        return NULL;
    out = malloc(BASE64_ENCODE_RAW_LENGTH(n) + 1);
    if (out == NULL)
        return NULL;
    base64_encode_raw(out, n, p);
    s = json_stringn(out, BASE64_ENCODE_RAW_LENGTH(n));
    free(out);
    return s;
}

json_t *
inspect_api_headers(const char *head, size_t len, const char **line, size_t *line_len)
{
    json_t *h = json_object();
    const char *p = head, *end = head + len, *eol, *colon, *v, *ve;
    char name[256];
    int first = 1;

    *line = head;
    *line_len = 0;
    if (h == NULL)
        return NULL;
    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        ve = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (first) {
            *line = p;
            *line_len = (size_t)(ve - p);
            first = 0;
        } else if (ve == p) {
            break; /* the empty line ends the head */
        } else if ((colon = memchr(p, ':', (size_t)(ve - p))) != NULL &&
                   (size_t)(colon - p) < sizeof(name) && colon > p) {
            json_t *list, *val;

            memcpy(name, p, (size_t)(colon - p));
            name[colon - p] = '\0';
            for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
                ;
            list = json_object_get(h, name);
            if (list == NULL) {
                list = json_array();
                if (list == NULL || json_object_set_new(h, name, list) != 0)
                    goto fail;
            }
            val = inspect_api_str(v, (size_t)(ve - v));
            if (val == NULL || json_array_append_new(list, val) != 0)
                goto fail;
        }
        p = eol + 1;
    }
    return h;
fail:
    json_decref(h);
    return NULL;
}

/* "GET /x HTTP/1.1" -> method, uri, proto; "HTTP/1.1 200 OK" -> proto, status. */
static int
inspect_api_words(const char *line, size_t len, const char **w, size_t *wl, int n)
{
    const char *p = line, *end = line + len;
    int i;

    for (i = 0; i < n; i++) {
        const char *sp = i + 1 < n ? memchr(p, ' ', (size_t)(end - p)) : NULL;

        w[i] = p;
        wl[i] = (size_t)((sp != NULL ? sp : end) - p);
        if (sp == NULL) {
            for (i++; i < n; i++) {
                w[i] = end;
                wl[i] = 0;
            }
            return 0;
        }
        p = sp + 1;
    }
    return 0;
}

static json_t *
inspect_api_request(const struct capture *c)
{
    const char *line, *w[3];
    size_t line_len, wl[3];
    json_t *headers =
        inspect_api_headers((const char *)buf_head(&c->req), c->req_head, &line, &line_len);

    if (headers == NULL)
        return NULL;
    inspect_api_words(line, line_len, w, wl, 3);
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "method", inspect_api_str(w[0], wl[0]), "proto",
                     inspect_api_str(w[2], wl[2]), "uri", inspect_api_str(w[1], wl[1]), "headers",
                     headers, "raw", inspect_api_base64(buf_head(&c->req), c->req.len));
}

/* The status code at the start of w (len bytes, not NUL-terminated: a kept head ends where
 * its buffer does): up to three digits, 0 if none. */
static long
inspect_api_status(const char *w, size_t len)
{
    long v = 0;
    size_t i;

    for (i = 0; i < len && i < 3 && w[i] >= '0' && w[i] <= '9'; i++)
        v = v * 10 + (w[i] - '0');
    return v;
}

static json_t *
inspect_api_response(const struct capture *c)
{
    const char *line, *w[2];
    size_t line_len, wl[2];
    json_t *headers;

    if (c->resp_head == 0)
        return json_null();
    headers = inspect_api_headers((const char *)buf_head(&c->resp), c->resp_head, &line, &line_len);
    if (headers == NULL)
        return NULL;
    inspect_api_words(line, line_len, w, wl, 2);
    return json_pack("{s:o, s:I, s:o, s:o, s:o}", "status", inspect_api_str(w[1], wl[1]),
                     "status_code", (json_int_t)inspect_api_status(w[1], wl[1]), "proto",
                     inspect_api_str(w[0], wl[0]), "headers", headers, "raw",
                     inspect_api_base64(buf_head(&c->resp), c->resp.len));
}

/* A time on the wall clock (us) as RFC 3339 in UTC with microseconds. */
static json_t *
inspect_api_time(int64_t us)
{
    char text[64];
    time_t s = (time_t)(us / 1000000);
    struct tm tm;

    if (gmtime_r(&s, &tm) == NULL)
        return json_string("1970-01-01T00:00:00Z");
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
    return json_string(text);
}

static json_t *
inspect_api_body(uint64_t seen, size_t kept, int cut)
{
    return json_pack("{s:I, s:I, s:b}", "size", (json_int_t)seen, "kept", (json_int_t)kept, "cut",
                     cut);
}

json_t *
inspect_api_entry(const struct inspect_entry *e, const char *tunnel_name)
{
    const struct inspect_record *r = &e->rec;
    const struct capture *c = e->cap;
    char id[NGR_INSPECT_ID_LEN], of[NGR_INSPECT_ID_LEN], uri[64];
    uint64_t done = r->done_ms >= r->received_ms ? r->done_ms - r->received_ms : 0;
    json_t *o;

    inspect_api_format_id(e->id, id);
    inspect_api_format_id(r->replay_of, of);
    snprintf(uri, sizeof(uri), "/api/requests/http/%s", id);
    o = json_pack(
        "{s:s, s:s, s:s, s:o, s:I, s:{s:I, s:o}, s:o, s:o}", "uri", uri, "id", id, "tunnel_name",
        tunnel_name, "start", inspect_api_time(c != NULL ? c->start_us : 0), "duration",
        (json_int_t)(done * 1000000), "timings", "done_ms", (json_int_t)done, "first_byte_ms",
        r->head_ms >= r->received_ms && r->head_ms != 0
            ? json_integer((json_int_t)(r->head_ms - r->received_ms))
            : json_null(),
        "error", r->error != NULL ? json_string(r->error) : json_null(), "replay_of",
        r->replay_of != 0 ? json_string(of) : json_null());
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "status_code", json_integer(r->status));
    if (c == NULL) {
        json_object_set_new(o, "request", json_null());
        json_object_set_new(o, "response", json_null());
        return o;
    }
    if (json_object_set_new(o, "request", c->req_head > 0 ? inspect_api_request(c) : json_null()) !=
            0 ||
        json_object_set_new(o, "response", inspect_api_response(c)) != 0 ||
        json_object_set_new(o, "request_body",
                            inspect_api_body(c->req_body, c->req.len - c->req_head, c->req_cut)) !=
            0 ||
        json_object_set_new(o, "response_body",
                            inspect_api_body(c->resp_body,
                                             c->resp_head > 0 ? c->resp.len - c->resp_head : 0,
                                             c->resp_cut)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
