/* server.h: the gateway's one context object, shared by its modules: settings, the loop, the
 * tunnel table, and what each module keeps for the whole process (listeners, lists, scratch
 * areas). Created and torn down by main.c; server.c has what belongs to no one module. */
#ifndef NGR_SERVER_H
#define NGR_SERVER_H

#include <stdint.h>
#include <sys/queue.h>

#include "access_log.h"
#include "auth_tokens.h"
#include "config.h"
#include "frame.h"
#include "heap_trim.h"
#include "http_request_head.h"
#include "limits.h"
#include "listener.h"
#include "loop.h"
#include "mhd_glue.h"
#include "metrics.h"
#include "reservations.h"
#include "tls_cert.h"
#include "tunnel_table.h"
#include "usage_count.h"
#include "window.h"

struct ctl_conn;
struct pub_req;

struct server {
    struct server_config cfg;
    struct loop *loop;
    struct tunnel_table tunnels; /* every tunnel; control.c adds and removes them */
    struct window_budget budget; /* every session's stream windows (cfg.gateway_budget) */
    struct heap_trim trim;       /* noted when a public request or connection ends */
    struct auth_tokens tokens;   /* who may connect (--auth-tokens, --token); control.c */
    struct access_log access_log;   /* --access-log: a line per public request or connection */
    struct gateway_metrics metrics; /* GET /metrics (metrics.c) */

    /* control.c */
    struct listener control;
    TAILQ_HEAD(, ctl_conn) conns;
    size_t nconns;
    struct usage_count *conns_by_ip;     /* control connections per source address */
    struct usage_count *tunnels_by_token; /* tunnels per token digest */
    struct reservations res;              /* names and ports kept for their clients */
    size_t ntunnels;
    uint64_t hit_conns_per_ip, hit_tunnels, hit_tunnels_per_token; /* refusals, for the log */
    struct tls_cert control_cert; /* cfg.tls_cert: loaded, the control port speaks TLS */
    gnutls_certificate_credentials_t control_cred; /* hands out control_cert (or NULL) */

    /* public_http.c */
    struct mhd_glue http;
    uint16_t http_port;                 /* bound */
    struct mhd_glue https;              /* daemon NULL unless cfg.https_on */
    struct tls_cert https_cert;         /* cfg.https_cert, or else cfg.tls_cert */
    uint16_t https_port;                /* bound */
    TAILQ_HEAD(, pub_req) http_waiting; /* suspended requests: shutdown resumes them all */
    TAILQ_HEAD(, pub_req) held;         /* public_hold.c: waiting for a reconnecting tunnel */
    size_t nheld;
    size_t npub; /* public requests alive (a drain waits for them) */

    /* main.c: SIGTERM's drain */
    int draining;
    uint64_t drain_until; /* loop ms */
    struct loop_timer drain_timer;
    struct frame_field http_fields[NGR_MAX_HEADERS]; /* scratch: a request's or a REPLY's */
    struct http_request_scratch http_head;           /* scratch: an OPEN's fields */
    uint64_t head_timeouts; /* public connections closed for a slow first head (408) */
    int head_lines_known;   /* libmicrohttpd's parse is one mhd_head_lines.c can read */

    /* public_tcp.c */
    unsigned tcp_cursor; /* where the next search for a free port starts */

    /* admin_api.c */
    struct mhd_glue admin;
    struct auth_tokens admin_tokens; /* the bearer token it asks for (one), or inactive */
};

/* Port to show in public URLs: the configured public port, else the bound one. */
unsigned server_public_port(const struct server *srv);
/* A tunnel's public URL for name: --public-url's form if set; else https:// with the HTTPS port
 * when HTTPS is served, else http://; the port left out when it is the scheme's own. */
void server_public_url(const struct server *srv, const char *name, char *out, size_t outlen);

#endif
