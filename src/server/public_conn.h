/* public_conn.h: a public connection's own life, beside its requests' (public_http.c): from
 * accept to close, with the deadline of its first request head (slowloris: a client that sends
 * its head a byte at a time stays under libmicrohttpd's idle timeout for ever). Both public
 * daemons, HTTP and HTTPS, use it. */
#ifndef NGR_PUBLIC_CONN_H
#define NGR_PUBLIC_CONN_H

#include <microhttpd.h>

#include "server.h"

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION (cls: the server): a connection opened (its
 * head deadline starts) or closed (its pool, NGR_HTTP_CONN_MEMORY, is freed after this). */
void public_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe);
/* conn's request head is complete: its deadline is met. */
void public_conn_head_arrived(struct server *srv, struct MHD_Connection *conn);

#endif
