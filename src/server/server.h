/* server.h: the gateway's one context object, shared by its modules: settings, the loop, and
 * the listeners each module owns. Created and torn down by main.c. */
#ifndef NGR_SERVER_H
#define NGR_SERVER_H

#include <stdint.h>
#include <sys/queue.h>

#include "config.h"
#include "listener.h"
#include "loop.h"
#include "mhd_glue.h"

struct ctl_conn;

struct server {
    struct server_config cfg;
    struct loop *loop;

    /* control.c */
    struct listener control;
    TAILQ_HEAD(, ctl_conn) conns;
    size_t nconns;

    /* public_http.c */
    struct mhd_glue http;
    uint16_t http_port; /* bound */

    /* admin_api.c */
    struct mhd_glue admin;
};

/* Port to show in public URLs: the configured public port, else the bound one. */
unsigned server_public_port(const struct server *srv);

#endif
