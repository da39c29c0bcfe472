/* public_http.h: the public HTTP face of the gateway (libmicrohttpd, external epoll, suspend and
 * resume): routes each request by Host to a tunnel, carries it as a stream, and answers with the
 * local service's response or an error page a person understands. */
#ifndef NGR_PUBLIC_HTTP_H
#define NGR_PUBLIC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "frame.h"
#include "server.h"
#include "session.h"

/* Listens on cfg.http_addr (port written back into srv->http_port) and serves on the loop. */
int public_http_start(struct server *srv, struct ngr_err *err);
/* Resumes every suspended connection and stops the daemon. */
void public_http_stop(struct server *srv);

/* Stream events, from control.c. st->owner is the request. */
int public_http_on_reply(struct stream *st, const struct frame *f);
int public_http_on_data(struct stream *st, const uint8_t *p, size_t n, int end);
void public_http_on_reset(struct stream *st, uint32_t code, struct frame_str message);
void public_http_on_writable(struct stream *st);

#endif
