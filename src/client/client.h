/* client.h: the CLI's one context object: options, the loop, the control session to the
 * gateway, its tunnels (one BIND each) and the local services' replay engine. Created and torn
 * down by main.c. */
#ifndef NGR_CLIENT_H
#define NGR_CLIENT_H

#include <gnutls/gnutls.h>
#include <stdint.h>

#include "cli.h"
#include "exchange.h"
#include "heap_trim.h"
#include "loop.h"
#include "net.h"
#include "resume_file.h"
#include "session.h"

struct inspect;
struct live_view;
struct replay;
struct tls_io;

/* One tunnel of the session: what its BIND asked for and what BOUND granted. */
struct client_tunnel {
    const struct cli_tunnel *opt;
    uint32_t handle; /* its BIND handle: its place in client.tunnels, plus 1 */
    int bound;       /* BOUND arrived on this session */
    char name[NGR_MAX_SUBDOMAIN + 1]; /* the name granted, asked back on reconnect */
    unsigned tcp_port;                /* TCP: the public port granted, asked back */
    struct resume_file resume;        /* secret and name kept for the next run */
    char public_url[NGR_URL_LEN];
    char local_text[NGR_ADDR_LEN + 8];   /* "localhost:3000"; "unix:PATH" for a unix socket */
    char base_url[NGR_URL_LEN];          /* "http://localhost:3000", "https://...", what libcurl
                                          * is given ("http://localhost" over a unix socket) */
    char target_text[NGR_URL_LEN];       /* what Forwarding lines show: the URL, "unix:PATH", or
                                          * HOST:PORT for TCP */
    char host_header[NGR_ADDR_LEN + 16]; /* "Host: localhost:3000", for --host-header=rewrite */
    struct net_resolved local_resolved;  /* its local service, resolved once at startup */
    /* Requests answered in-process instead of by a local service (diagnose_responder.h), with
     * serve_arg; NULL: replayed (replay.h) or forwarded (forward.h). */
    int (*serve)(void *arg, const struct client_tunnel *t, uint32_t stream_id,
                 const struct frame_head *h);
    void *serve_arg;
};

struct client {
    struct cli_options opt;
    struct loop *loop;
    struct heap_trim trim; /* noted when a replayed request is freed */

    /* control.c */
    struct session sess;
    int sess_live;  /* sess initialised */
    int connect_fd; /* while the TCP connect (then the TLS handshake) is in progress */
    struct loop_io connect_io;
    struct loop_timer connect_timer;
    gnutls_certificate_credentials_t tls_cred; /* --tls: the CAs trusted, else NULL */
    struct tls_io *tls; /* the TLS handshake under way (the session's once done) */
    struct client_tunnel tunnels[NGR_TUNNELS_PER_SESSION]; /* opt.tunnels' */
    size_t ntunnels;
    size_t nbound;   /* tunnels BOUND on this session */
    int ever_bound;  /* all were up once: a lost session is reconnected, not the end */
    int retry;       /* reconnect even so: a kept name was refused and is given up */
    int told_goaway; /* "the gateway is going away" said on this session */
    int fatal;       /* the gateway refused what retrying cannot fix: exit */
    unsigned attempt; /* reconnect attempts since the tunnels were last up */
    struct loop_timer retry_timer;
    char secret[NGR_SECRET_LEN + 1]; /* the gateway's reconnect secret (WELCOME); "" none */
    struct frame_field control_fields[NGR_MAX_HEADERS]; /* an OPEN's, while it is dispatched */

    /* replay.c */
    struct replay *replay;
    struct exchange_observers exchanges; /* who hears of each finished request */
    /* The inspector runs: each request keeps its heads and up to capture_body_max bytes of
     * each body (capture.h). 0: requests capture nothing. */
    int capture;
    size_t capture_body_max;

    /* inspect.c: the local inspector, or NULL when off */
    struct inspect *inspect;

    /* live_view.c: stdout */
    struct live_view *view;

    /* forward.c */
    struct frame_field forward_fields[NGR_MAX_HEADERS]; /* an upgrade's answer head, parsed */

    int exit_code;
    int opt_stopping; /* SIGINT or SIGTERM: a quiet exit 0 */
    uint64_t stop_until;          /* ms: the requests under way have until then (GOAWAY sent) */
    struct loop_timer stop_timer; /* looks whether they are done */
};

#endif
