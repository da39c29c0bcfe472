/* local_target.c: see local_target.h. */
#include "local_target.h"
#include "cli.h"
#include "client.h"
#include "net.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int
local_target_setup(struct client_tunnel *t, const struct cli_tunnel *o, struct ngr_err *err)
{
    net_format_addr(&o->local, t->local_text, sizeof(t->local_text));
    snprintf(t->base_url, sizeof(t->base_url), "%s://%s",
             o->scheme == CLI_SCHEME_HTTPS ? "https" : "http", t->local_text);
    snprintf(t->host_header, sizeof(t->host_header), "Host: %s", t->local_text);
    if (o->proto == FRAME_PROTO_TCP)
        snprintf(t->target_text, sizeof(t->target_text), "%s", t->local_text);
    else
        snprintf(t->target_text, sizeof(t->target_text), "%s", t->base_url);
    if (o->scheme == CLI_SCHEME_UNIX) {
        /* libcurl connects to the socket whatever the URL's host; upgrades connect to it too
         * (forward.c), through the one address resolved here. */
        struct sockaddr_un *sun = (struct sockaddr_un *)&t->local_resolved.addr[0];

        snprintf(t->base_url, sizeof(t->base_url), "http://localhost");
        snprintf(t->host_header, sizeof(t->host_header), "Host: localhost");
        snprintf(t->local_text, sizeof(t->local_text), "unix:%s", o->unix_path);
        snprintf(t->target_text, sizeof(t->target_text), "unix:%s", o->unix_path);
        memset(sun, 0, sizeof(*sun));
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", o->unix_path);
        t->local_resolved.len[0] = (socklen_t)sizeof(*sun);
        t->local_resolved.n = 1;
    } else if (net_resolve_all(&o->local, &t->local_resolved, err) != 0) {
        return err->code;
    }
    return 0;
}
