/* pub_req.h: one public HTTP request, as the files of the public HTTP side share it
 * (public_http.c, its life; public_hold.c, the room where requests wait while their tunnel
 * reconnects). Not for the rest of the gateway: public_http.h is. */
#ifndef NGR_PUB_REQ_H
#define NGR_PUB_REQ_H

#include <stdint.h>
#include <sys/queue.h>

#include <microhttpd.h>

#include "buf.h"
#include "error_page.h"
#include "frame.h"
#include "loop.h"
#include "mhd_glue.h"
#include "pipe.h"
#include "server.h"
#include "session.h"


/* Where a request is in its life; each state follows the ones before it. */
enum pub_req_state {
    PUB_REQ_NEW,       /* the URI callback made it; the access handler has not seen it */
    PUB_REQ_WAIT_HEAD, /* OPEN went out; REPLY has not arrived */
    PUB_REQ_HEAD,      /* REPLY arrived (head): the next handler call queues the response */
    PUB_REQ_FAILED,    /* an error page is recorded (page): the next handler call queues it */
    PUB_REQ_QUEUED,    /* a response or a page is queued: libmicrohttpd has it */
};

/* The upgraded connection after a 101. */
enum pub_req_pipe {
    PUB_PIPE_NONE,
    PUB_PIPE_WAITING, /* the stream carries raw bytes; they wait in pipe for the socket */
    PUB_PIPE_RUNNING, /* libmicrohttpd handed over the socket (urh) */
};

/* One public request. Created by the URI log callback (it runs before anything else and is the
 * only place the raw request target is seen), freed at the end of the turn of the completion
 * callback. */
struct pub_req {
    struct stream st; /* on the tunnel's session while attached */
    struct server *srv;
    struct MHD_Connection *conn;
    struct mhd_glue *glue; /* the daemon it came through: srv->http or srv->https */
    struct tunnel *tunnel; /* counted in tunnel->streams; NULL once released */
    char *target;          /* raw request target, owned */
    enum pub_req_state state;
    enum pub_req_pipe pipe_state;
    /* Facts independent of the state. */
    unsigned req_ended : 1;      /* our direction is over: END went out, there was no body, or
                                  * the stream was gone when the upload ended */
    unsigned resp_ended : 1;     /* the response's END_STREAM arrived */
    unsigned reset : 1;          /* the stream died before its end: the body is cut short */
    unsigned suspended : 1;      /* on srv->http_waiting */
    unsigned upload_blocked : 1; /* suspended for want of credit */
    unsigned is_head : 1;        /* a HEAD request */
    unsigned upgrade : 1;        /* the request asks for a protocol upgrade */
    unsigned tls : 1;            /* it came over HTTPS */
    unsigned redirect : 1;       /* its page is a 308 to the same URL over HTTPS */
    unsigned auth_challenge : 1; /* its page is a 401 asking for basic auth */
    uint32_t retry_after;        /* s: its page is a 429 saying when to come back */
    uint64_t body_in;            /* request body bytes passed on (max_body_size) */
    uint64_t timeout_ms;         /* its tunnel's response timeout (deadline) */
    struct frame_head head;      /* the REPLY, decoded once on arrival; fields point into reply */
    void *reply;                 /* owned until the response is built: head's fields, the payload */
    struct buf body; /* response bytes waiting for libmicrohttpd, at most one stream window */
    struct error_page page;      /* in PUB_REQ_FAILED: what the public client is told */
    struct loop_timer deadline;  /* until the response head: 504 */
    struct loop_io hup;          /* while suspended: the public client hanging up */
    struct loop_timer hup_timer; /* starts the hup watch when a wait lasts */
    struct pipe_end pipe;        /* after 101: the upgraded socket <-> the stream */
    struct MHD_UpgradeResponseHandle *urh;
    TAILQ_ENTRY(pub_req) list_entry; /* on srv->http_waiting */
    /* public_hold.c: held while its tunnel's client reconnects */
    unsigned held : 1;            /* on srv->held */
    char label[NGR_MAX_SUBDOMAIN + 1];
    struct loop_timer hold_timer; /* --hold-requests: then 503 (public_http.c's) */
    TAILQ_ENTRY(pub_req) hold_entry;
    struct loop_defer free; /* finished: an event for it may still wait in this epoll batch */
    /* What the access log and the metrics are told at its end (public_http_record). */
    uint64_t started_us;        /* loop_clock_us() when its head arrived */
    uint64_t bytes_out;         /* response body bytes received for it */
    uint32_t service_us;        /* its REPLY's: the local service's time to the head */
    int status_sent;            /* the status queued, a response's or a page's; 0: none */
    char tunnel_id[NGR_ID_LEN]; /* the tunnel it was routed to; "": none */
    char client_ip[NGR_PEER_LEN];
    char method[NGR_ACCESS_METHOD_LEN];
};


/* public_http.c's callbacks, for the daemons of public_listener.c: the URI log callback (a
 * request's start, its raw target), the access handler, and the completion callback. */
void *public_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result public_http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls);
void public_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe);

#endif
