/* public_admit.h: who a public request is from, and what it must pass before anything of it
 * reaches its tunnel, beyond routing: the gateway's address deny list, then the tunnel's protections (addresses,
 * basic auth) and rate, then the limits on its body and on the tunnel's open streams. Each
 * refusal is counted on the tunnel and comes back as the page to answer with; public_http.c
 * answers it through its one failure path. */
#ifndef NGR_PUBLIC_ADMIT_H
#define NGR_PUBLIC_ADMIT_H

#include <stdint.h>

#include "error_page.h"
#include "frame.h"
#include "server.h"
#include "trusted_proxy.h"

struct MHD_Connection;

/* What a refused request's page carries besides the page itself. */
struct public_admit_extra {
    int auth_challenge;   /* WWW-Authenticate: Basic */
    uint32_t retry_after; /* s: Retry-After, or 0 */
};

/* Who the request on conn is from: its socket's peer and scheme (tls: it came over HTTPS), or,
 * from a trusted proxy, what its X-Forwarded-For and -Proto say (trusted_proxy.h). */
void public_admit_client(struct server *srv, struct MHD_Connection *conn, int tls,
                         struct trusted_proxy_view *view);
/* The gateway-wide deny list (--deny-cidr), before routing. 0, or -1 with a 403 in why. */
int public_admit_address(struct server *srv, const char *client_ip, struct error_page *why);
/* The tunnel's protections and rate for a request from client_ip with that Authorization value
 * (NULL: none). 0, or -1 with the page in why and extra filled. */
int public_admit_tunnel(struct server *srv, struct tunnel *t, const char *client_ip,
                        const char *authorization, struct error_page *why,
                        struct public_admit_extra *extra);
/* The request's body (h as built) and the tunnel's open streams. 0, or -1 with the page. */
int public_admit_stream(struct server *srv, struct tunnel *t, const struct frame_head *h,
                        struct error_page *why);

#endif
