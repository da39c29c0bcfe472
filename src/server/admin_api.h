/* admin_api.h: the JSON admin API (libmicrohttpd + jansson): GET /tunnels, GET /tunnels/{id}. */
#ifndef NGR_ADMIN_API_H
#define NGR_ADMIN_API_H

#include "err.h"
#include "server.h"

NGR_MUST_CHECK int admin_api_start(struct server *srv, struct ngr_err *err);
void admin_api_stop(struct server *srv);

#endif
