/* capture.h: one request and its response as the local inspector keeps them. Each direction is
 * HTTP/1.1 text: the request line (or status line) and field lines, the empty line, then the
 * body up to a cap; what passes the cap is counted, not kept. replay.c fills one per request
 * only while the inspector runs, so nothing is copied when it is off; the inspector takes it
 * whole when the request ends (exchange.h) and builds JSON from it only when asked. */
#ifndef NGR_CAPTURE_H
#define NGR_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "frame.h"

struct capture {
    struct buf req;    /* the request's head, then its body */
    struct buf resp;   /* the final response head (a 1xx is replaced), then its body */
    size_t req_head;   /* bytes of req that are the head; 0 until it is complete */
    size_t resp_head;  /* the same for resp */
    uint64_t req_body; /* body bytes seen in each direction, kept or not */
    uint64_t resp_body;
    size_t body_max;       /* bytes of each body kept */
    unsigned req_cut : 1;  /* the request's body (or head) passed what is kept */
    unsigned resp_cut : 1; /* the response's */
    /* The request's body stopped before its end (the visitor left, or the exchange failed
     * first): what is kept is not the request that was sent. */
    unsigned req_short : 1;
    int64_t start_us; /* when the request arrived: CLOCK_REALTIME, microseconds */
};

/* Returns a new capture keeping up to body_max bytes of each body, its clock started; free
 * with capture_free. NULL if out of memory. */
struct capture *capture_new(size_t body_max);
void capture_free(struct capture *c);

/* The request's head from an OPEN: "METHOD TARGET HTTP/1.1", its fields in order, the empty
 * line. Once, before any body byte. Out of memory or past NGR_INSPECT_HEAD_MAX, what did not
 * fit is left out and the request marked cut. */
void capture_request_head(struct capture *c, const struct frame_head *h);
/* A head already in HTTP/1.1 text (a kept one, sent again), n bytes ending with the empty
 * line. */
void capture_request_raw_head(struct capture *c, const char *p, size_t n);
void capture_request_body(struct capture *c, const void *p, size_t n);
/* The response's status line ("HTTP/1.1 200 OK\r\n"): starts the response head again (the
 * final head follows any 1xx). */
void capture_response_status(struct capture *c, const char *p, size_t n);
/* Field lines as they came, each with its line end; then capture_response_head_end. */
void capture_response_fields(struct capture *c, const char *p, size_t n);
void capture_response_head_end(struct capture *c);
void capture_response_body(struct capture *c, const void *p, size_t n);

/* Gives back the storage the buffers hold past their bytes, before the capture is kept: no
 * byte is appended after this. */
void capture_shrink(struct capture *c);
/* Bytes the capture holds in memory: itself and its buffers' storage. */
size_t capture_cost(const struct capture *c);

#endif
