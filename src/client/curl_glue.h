/* curl_glue.h: runs a libcurl multi handle inside our loop through its socket interface (the
 * shape of curl's docs/examples/ephiperfifo.c): each descriptor libcurl asks about is a watch
 * on the loop, its timer a loop timer, and a timeout of 0 is acted on at the end of the turn.
 * The client's twin of the gateway's mhd_glue.h.
 *
 * Parked sockets. When libcurl stops watching an established connection between two requests
 * (CURL_POLL_REMOVE), its watch stays in epoll, parked, so that the next request on that
 * connection costs no epoll_ctl. Only a socket that libcurl opened through our open callback
 * (set by curl_glue_setup_easy) and that has carried a request is parked: libcurl closes those
 * through our close callback, which forgets the watch first, so a parked watch never outlives
 * its descriptor number. libcurl 7.88 closes a socket that never connected, and its resolver's
 * socketpair, without that callback: their watches end at CURL_POLL_REMOVE, and a watch still
 * filed under a number that the open callback hands out again is forgotten there. An event on a
 * parked socket (the service closed the idle connection) takes it out of epoll; a watch that
 * turns out not to be in epoll is registered anew. */
#ifndef NGR_CURL_GLUE_H
#define NGR_CURL_GLUE_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"

struct curl_glue_sock;

/* A transfer of the multi finished with result. The owner takes easy out of the multi
 * (curl_multi_remove_handle) or keeps it there; called from the loop, never from inside
 * libcurl. */
typedef void (*curl_glue_done_cb)(void *owner, CURL *easy, CURLcode result);

/* What the glue knows of one descriptor number. */
struct curl_glue_slot {
    struct curl_glue_sock *gs; /* its watch, parked or not */
    int ours;                  /* opened by our open callback, not yet closed through us */
};

/* What the glue did to epoll, for tests and debugging. */
struct curl_glue_counts {
    uint64_t added;     /* watches registered (loop_io_add) */
    uint64_t deleted;   /* watches taken out of epoll (loop_io_del) */
    uint64_t parked;    /* watches left in epoll at CURL_POLL_REMOVE */
    uint64_t reused;    /* parked watches libcurl asked for again */
    uint64_t forgotten; /* watches dropped because their descriptor was closed */
};

struct curl_glue {
    CURLM *multi; /* owned: curl_glue_free cleans it up */
    struct loop *loop;
    struct loop_timer timer;
    int due;                      /* libcurl asked for a timeout of 0: act at the end of the turn */
    struct curl_glue_slot *socks; /* by descriptor */
    size_t nsocks;
    curl_glue_done_cb done;
    void *owner;
    struct curl_glue_counts counts;
};

/* Creates g's multi handle on l, keeping at most max_connects connections alive; finished
 * transfers go to done. Returns 0 or NGR_ENOMEM with the reason in err. */
NGR_MUST_CHECK int curl_glue_init(struct curl_glue *g, struct loop *l, long max_connects,
                                  curl_glue_done_cb done, void *owner, struct ngr_err *err);
/* Cleans up the multi (which closes its kept-alive connections through the close callback)
 * and frees every watch: at shutdown, once every easy handle is out of the multi. Runs the
 * loop's deferred work. Does nothing for a g that curl_glue_init did not set up. */
void curl_glue_free(struct curl_glue *g);

/* Sets e's socket open and close callbacks to g's: every easy handle added to g's multi must
 * have them, or its sockets are never parked. Once per handle; they survive its reuse. */
void curl_glue_setup_easy(struct curl_glue *g, CURL *e);

/* Turn hook work, after anything that may have made libcurl's timeout 0 (an unpause): acts on
 * a timeout of 0 and hands finished transfers to done. */
void curl_glue_run_due(struct curl_glue *g);

/* What is watched on descriptor fd, for tests. */
enum curl_glue_watch { CURL_GLUE_NONE, CURL_GLUE_ACTIVE, CURL_GLUE_PARKED };
enum curl_glue_watch curl_glue_watch_of(const struct curl_glue *g, int fd);

#endif
