/* frame.h: the control protocol's wire format (docs/protocol.md is its prose twin).
 *
 * Pure functions: bytes in, frames out. Nothing here does I/O or allocates; decoded strings and
 * fields point into the caller's bytes ("borrowed: valid while those bytes are").
 *
 * Bump NGR_PROTOCOL_VERSION whenever a layout below changes. ERROR and GOAWAY keep their layout
 * across versions so that a peer of another version can still be told why it is refused. */
#ifndef NGR_FRAME_H
#define NGR_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "limits.h"

#define NGR_PROTOCOL_VERSION 1

/* Sent by the client before its first frame. 0x89 is neither 0x16 (a TLS record) nor a letter
 * (an HTTP method), so the gateway can tell both apart and answer a browser in words. */
#define NGR_PREFACE "\x89NGRNOK\n"
#define NGR_PREFACE_LEN 8

enum frame_type {
    FRAME_DATA = 0x0,    /* stream: body or raw bytes; END_STREAM ends this direction */
    FRAME_HELLO = 0x1,   /* 0: client's version, limits, token */
    FRAME_WELCOME = 0x2, /* 0: gateway's answer to HELLO: the session's negotiated values */
    FRAME_BIND = 0x3,    /* 0: client asks for a tunnel */
    FRAME_BOUND = 0x4,   /* 0: gateway grants it: id, subdomain, public URL */
    FRAME_OPEN = 0x5,    /* stream: a new stream with its request head */
    FRAME_REPLY = 0x6,   /* stream: the response head */
    FRAME_WINDOW = 0x7,  /* stream or 0: flow-control credit */
    FRAME_RST = 0x8,     /* stream: abort it, with a reason */
    FRAME_PING = 0x9,    /* 0: heartbeat; ACK flag on the answer */
    FRAME_GOAWAY = 0xa,  /* 0: no new streams above last id; the session is ending */
    FRAME_ERROR = 0xb,   /* 0: fatal session error with a reason a person reads */
    FRAME_TYPE_MAX = 0xb,
};

#define FRAME_FLAG_END_STREAM 0x1 /* DATA, OPEN, REPLY: no more bytes in this direction */
#define FRAME_FLAG_ACK 0x1        /* PING */

/* Body framing announced in a head. */
enum frame_body { FRAME_BODY_NONE = 0, FRAME_BODY_LENGTH = 1, FRAME_BODY_UNKNOWN = 2 };
#define FRAME_HEAD_UPGRADE 0x1 /* OPEN: the request asks for a protocol upgrade */

enum frame_proto { FRAME_PROTO_HTTP = 1, FRAME_PROTO_TCP = 2 };

/* RST, ERROR and GOAWAY reason codes. */
enum frame_code {
    FRAME_CODE_NONE = 0,           /* normal end */
    FRAME_CODE_PROTOCOL = 1,       /* malformed or forbidden frame */
    FRAME_CODE_INTERNAL = 2,       /* a bug or exhausted resource on the sender */
    FRAME_CODE_FLOW_CONTROL = 3,   /* the peer sent more than its credit */
    FRAME_CODE_CANCEL = 4,         /* the public client went away */
    FRAME_CODE_REFUSED = 5,        /* the local service refused the connection */
    FRAME_CODE_TIMEOUT = 6,        /* the local service did not answer in time */
    FRAME_CODE_TOO_LARGE = 7,      /* a head or body over a limit */
    FRAME_CODE_UPSTREAM = 8,       /* the local service failed mid-response */
    FRAME_CODE_VERSION = 9,        /* ERROR: unsupported protocol version */
    FRAME_CODE_AUTH = 10,          /* ERROR: token refused */
    FRAME_CODE_NAME_TAKEN = 11,    /* ERROR: subdomain already in use */
    FRAME_CODE_NAME_INVALID = 12,  /* ERROR: subdomain is not a valid DNS label */
    FRAME_CODE_UNAVAILABLE = 13,   /* ERROR/GOAWAY: gateway full or shutting down */
    FRAME_CODE_UNSUPPORTED = 14,   /* ERROR: a feature this gateway does not offer */
};

/* A decoded frame. payload is borrowed from the decoded bytes. */
struct frame {
    uint32_t length;
    uint8_t type;
    uint8_t flags;
    uint32_t stream_id; /* 31 bits; the top bit is reserved and must be 0 */
    const uint8_t *payload;
};

/* A length-prefixed string on the wire; borrowed, not NUL-terminated. */
struct frame_str {
    const char *p;
    size_t len;
};

struct frame_field {
    struct frame_str name;
    struct frame_str value;
};

/* Decodes one frame from p[0..len). Returns the bytes it takes (> 0) and fills f; NGR_EAGAIN
 * when p holds less than a whole frame; NGR_ELIMIT when the length is over max_payload;
 * NGR_EPROTO when the reserved stream-id bit is set or the type is unknown. */
ssize_t frame_decode(const uint8_t *p, size_t len, size_t max_payload, struct frame *f);
/* The whole size (header and payload) of the frame whose 9-byte header is at p, as its length
 * field says; unchecked (frame_decode checks it against the maximum). */
size_t frame_size(const uint8_t p[NGR_FRAME_HEADER_LEN]);

/* Writes the 9-byte header. */
void frame_header_encode(uint8_t out[NGR_FRAME_HEADER_LEN], uint8_t type, uint8_t flags,
                         uint32_t stream_id, uint32_t length);

/* Payloads. Each *_encode writes a whole frame (header and payload) into out (cap bytes) and
 * returns its length, or NGR_ELIMIT if it does not fit in cap or in NGR_FRAME_MAX_PAYLOAD.
 * Each *_decode reads a frame's payload and returns 0 or NGR_EPROTO; strings are borrowed. */

struct frame_hello {
    uint16_t version;
    uint32_t max_payload;    /* largest payload the sender accepts */
    uint32_t stream_window;  /* initial credit the sender grants each stream */
    uint32_t session_window; /* initial credit the sender grants the session */
    uint32_t heartbeat_ms;   /* the sender's PING interval */
    struct frame_str token;  /* HELLO: the gateway's token, may be empty. WELCOME: the
                              * reconnect secret the client is to keep, or empty */
    struct frame_str agent;  /* program and version, for logs */
    struct frame_str resume; /* HELLO only, optional (absent: empty): the reconnect secret of
                              * an earlier session, whose names this session takes back */
};
ssize_t frame_hello_encode(uint8_t *out, size_t cap, const struct frame_hello *h, int welcome);
int frame_hello_decode(const struct frame *f, struct frame_hello *h);
/* WELCOME has HELLO's layout: the gateway's own values, the reconnect secret in token, and no
 * resume. */

struct frame_bind {
    uint32_t handle;            /* chosen by the client; OPEN names it */
    uint8_t proto;              /* enum frame_proto */
    struct frame_str subdomain; /* empty: the gateway picks a UUID */
    struct frame_str target;    /* the local address, for display ("localhost:3000") */
    /* What the tunnel asks the gateway to enforce (protocol.md, BIND): "basic_auth" USER:PASS,
     * "allow_cidr" / "deny_cidr" CIDR, each repeatable. Absent on the wire when there is none,
     * so a BIND without them is what older clients send. */
    struct frame_field opts[NGR_BIND_OPTS_MAX];
    size_t nopts;
};
ssize_t frame_bind_encode(uint8_t *out, size_t cap, const struct frame_bind *b);
int frame_bind_decode(const struct frame *f, struct frame_bind *b);

struct frame_bound {
    uint32_t handle;
    struct frame_str id;
    struct frame_str subdomain;
    struct frame_str public_url;
};
ssize_t frame_bound_encode(uint8_t *out, size_t cap, const struct frame_bound *b);
int frame_bound_decode(const struct frame *f, struct frame_bound *b);

/* Request head (OPEN) and response head (REPLY). fields has room for cap_fields entries on
 * decode; more fields than that is NGR_EPROTO. Framing headers (Content-Length,
 * Transfer-Encoding) are not among the fields: body and length say it. */
struct frame_head {
    uint32_t tunnel;  /* OPEN: the BIND handle */
    uint16_t status;  /* REPLY: 100..999 */
    uint8_t body;     /* enum frame_body */
    uint8_t flags;    /* FRAME_HEAD_* */
    uint64_t length;  /* with FRAME_BODY_LENGTH */
    uint32_t service_us; /* REPLY, optional: the local service's time to its response head, in
                          * microseconds (saturated); 0: not reported, and left out */
    struct frame_str method, target, client_addr, scheme, host; /* OPEN only */
    struct frame_field *fields;
    size_t nfields;
    size_t cap_fields;
};
ssize_t frame_open_encode(uint8_t *out, size_t cap, uint32_t stream_id, uint8_t frame_flags,
                          const struct frame_head *h);
int frame_open_decode(const struct frame *f, struct frame_head *h);
ssize_t frame_reply_encode(uint8_t *out, size_t cap, uint32_t stream_id, uint8_t frame_flags,
                           const struct frame_head *h);
int frame_reply_decode(const struct frame *f, struct frame_head *h);

ssize_t frame_window_encode(uint8_t *out, size_t cap, uint32_t stream_id, uint32_t increment);
/* Increment must be 1..2^31-1. */
int frame_window_decode(const struct frame *f, uint32_t *increment);

/* RST, ERROR and GOAWAY: a code and a message; ERROR and GOAWAY carry one more u32 (ERROR: the
 * BIND handle it concerns or 0; GOAWAY: the last stream id the sender will process). */
struct frame_reason {
    uint32_t code; /* enum frame_code */
    uint32_t ref;
    struct frame_str message; /* at most NGR_MAX_MESSAGE bytes */
};
ssize_t frame_reason_encode(uint8_t *out, size_t cap, uint8_t type, uint32_t stream_id,
                            const struct frame_reason *r);
int frame_reason_decode(const struct frame *f, struct frame_reason *r);

/* PING: 8 opaque bytes, echoed with FRAME_FLAG_ACK. */
ssize_t frame_ping_encode(uint8_t *out, size_t cap, uint8_t flags, const uint8_t opaque[8]);

/* A str from a C string (borrowed). */
struct frame_str frame_str_c(const char *s);
/* Case-insensitive equality of a wire string and a C string. */
int frame_str_eq(struct frame_str s, const char *c);

#endif
