/* public_record.h: what a public request leaves when it ends (public_http.c calls it from
 * libmicrohttpd's completion callback): the status it was sent (0: none), its whole time, the
 * local service's time from its REPLY, its bytes and why it failed, counted in the metrics
 * (metrics.h: gateway-wide, and on its tunnel if that is still in the table) and written to
 * the access log when one is open (access_log.h). */
#ifndef NGR_PUBLIC_RECORD_H
#define NGR_PUBLIC_RECORD_H

struct pub_req;

/* client_left: libmicrohttpd ended it other than by a completed response; shutdown: because
 * the daemon stopped. */
void public_record(struct pub_req *req, int client_left, int shutdown);

#endif
