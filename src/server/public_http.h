/* public_http.h: the public HTTP face of the gateway (libmicrohttpd, external epoll, suspend and
 * resume): routes each request by Host to a tunnel, carries it as a stream, and answers with the
 * local service's response or an error page a person understands. */
#ifndef NGR_PUBLIC_HTTP_H
#define NGR_PUBLIC_HTTP_H

#include "err.h"
#include "server.h"

struct stream;

/* Listens on cfg.http_addr (port written back into srv->http_port) and serves on the loop. */
NGR_MUST_CHECK int public_http_start(struct server *srv, struct ngr_err *err);
/* Resumes every suspended connection and stops the daemon. */
void public_http_stop(struct server *srv);
/* A tunnel bound name: requests held for it (public_hold.h) are routed to it now. */
void public_http_release_held(struct server *srv, const char *name);
/* The client's GOAWAY says it never saw st (a stream the gateway opened after the client's last
 * one): a public request waiting for its head is routed again (held for the client's return,
 * or sent to the rest of its pool), unless its body had begun (502). Returns 1 if st was a
 * public request's, which is now off the session, else 0. */
int public_http_unseen(struct stream *st);
/* SIGTERM's drain: the listeners stop accepting; connections already open are served, but a
 * new request on one gets 503 (the gateway is going away). */
void public_http_quiesce(struct server *srv);

#endif
