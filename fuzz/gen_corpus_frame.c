/* gen_corpus_frame.c: writes the seed corpus of fuzz_frame (valid frames of every type, a whole
 * session's worth back to back, and a few broken ones) with the real encoders. Run once when
 * the wire format changes: gen_corpus_frame fuzz/corpus/fuzz_frame */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static const char *gen_dir;
static uint8_t gen_session[4096];
static size_t gen_session_len;

static void
gen_write(const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", gen_dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus_frame: write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* Writes one encoded frame as its own seed and appends it to the session seed. */
static void
gen_frame(const char *name, const uint8_t *p, ssize_t n)
{
    if (n <= 0) {
        fprintf(stderr, "gen_corpus_frame: %s: encode failed (%zd)\n", name, n);
        exit(1);
    }
    gen_write(name, p, (size_t)n);
    if ((size_t)n <= sizeof(gen_session) - gen_session_len) {
        memcpy(gen_session + gen_session_len, p, (size_t)n);
        gen_session_len += (size_t)n;
    }
}

int
main(int argc, char **argv)
{
    static const uint8_t opaque[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct frame_field fields[] = {
        {{"Accept", 6}, {"*/*", 3}},
        {{"Cookie", 6}, {"a=1", 3}},
        {{"Cookie", 6}, {"", 0}},
    };
    uint8_t buf[1024];
    struct frame_hello hello = {NGR_PROTOCOL_VERSION, NGR_FRAME_MAX_PAYLOAD, NGR_STREAM_WINDOW,
                                NGR_SESSION_WINDOW,   NGR_HEARTBEAT_MS,      {"tok", 3},
                                {"ngrnotok/0.1", 12}};
    struct frame_bind bind = {1, FRAME_PROTO_HTTP, {"app", 3}, {"localhost:3000", 14}};
    struct frame_bound bound = {1, {"t1", 2}, {"app", 3}, {"https://app.example", 19}};
    struct frame_head head;
    struct frame_reason reason = {FRAME_CODE_NAME_TAKEN, 1, {"subdomain already in use", 24}};
    ssize_t n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    gen_dir = argv[1];

    gen_frame("hello", buf, frame_hello_encode(buf, sizeof(buf), &hello, 0));
    hello.token = frame_str_c("");
    gen_frame("welcome", buf, frame_hello_encode(buf, sizeof(buf), &hello, 1));
    gen_frame("bind", buf, frame_bind_encode(buf, sizeof(buf), &bind));
    gen_frame("bound", buf, frame_bound_encode(buf, sizeof(buf), &bound));

    memset(&head, 0, sizeof(head));
    head.tunnel = 1;
    head.body = FRAME_BODY_LENGTH;
    head.length = 5;
    head.method = frame_str_c("POST");
    head.target = frame_str_c("/x?y=1");
    head.client_addr = frame_str_c("203.0.113.9");
    head.scheme = frame_str_c("https");
    head.host = frame_str_c("app.example");
    head.fields = fields;
    head.nfields = 3;
    gen_frame("open", buf, frame_open_encode(buf, sizeof(buf), 1, 0, &head));
    frame_header_encode(buf, FRAME_DATA, FRAME_FLAG_END_STREAM, 1, 5);
    memcpy(buf + NGR_FRAME_HEADER_LEN, "hello", 5);
    gen_frame("data", buf, NGR_FRAME_HEADER_LEN + 5);

    memset(&head, 0, sizeof(head));
    head.status = 200;
    head.body = FRAME_BODY_UNKNOWN;
    head.fields = fields;
    head.nfields = 1;
    gen_frame("reply", buf, frame_reply_encode(buf, sizeof(buf), 1, 0, &head));
    gen_frame("window", buf, frame_window_encode(buf, sizeof(buf), 1, 65536));
    gen_frame("ping", buf, frame_ping_encode(buf, sizeof(buf), 0, opaque));
    gen_frame("ping_ack", buf, frame_ping_encode(buf, sizeof(buf), FRAME_FLAG_ACK, opaque));
    reason.code = FRAME_CODE_CANCEL;
    reason.message = frame_str_c("gone");
    gen_frame("rst", buf, frame_reason_encode(buf, sizeof(buf), FRAME_RST, 1, &reason));
    reason.code = FRAME_CODE_UNAVAILABLE;
    reason.ref = 1;
    reason.message = frame_str_c("");
    gen_frame("goaway", buf, frame_reason_encode(buf, sizeof(buf), FRAME_GOAWAY, 0, &reason));
    reason.code = FRAME_CODE_NAME_TAKEN;
    reason.message = frame_str_c("subdomain already in use");
    gen_frame("error", buf, frame_reason_encode(buf, sizeof(buf), FRAME_ERROR, 0, &reason));
    gen_write("session", gen_session, gen_session_len);

    /* Broken on purpose: each one reaches a refusal. */
    n = frame_window_encode(buf, sizeof(buf), 1, 0);
    gen_write("bad_window_zero", buf, (size_t)n);
    n = frame_ping_encode(buf, sizeof(buf), 0, opaque);
    buf[5] |= 0x80;
    gen_write("bad_reserved_bit", buf, (size_t)n);
    buf[5] &= 0x7f;
    buf[3] = FRAME_TYPE_MAX + 1;
    gen_write("bad_type", buf, (size_t)n);
    frame_header_encode(buf, FRAME_DATA, 0, 1, NGR_FRAME_MAX_PAYLOAD + 1);
    gen_write("bad_length", buf, NGR_FRAME_HEADER_LEN);
    n = frame_window_encode(buf, sizeof(buf), 1, 1);
    buf[n] = 0;
    frame_header_encode(buf, FRAME_WINDOW, 0, 1, 5);
    gen_write("bad_trailing", buf, (size_t)n + 1);
    /* Not broken, only incomplete: a frame cut short, waiting for more. */
    n = frame_bind_encode(buf, sizeof(buf), &bind);
    gen_write("partial_bind", buf, (size_t)n - 3);
    return 0;
}
