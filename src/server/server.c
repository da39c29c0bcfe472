/* server.c: what belongs to the gateway as a whole rather than to one module. */
#include "server.h"
#include "public_url.h"

#include <stdio.h>

unsigned
server_public_port(const struct server *srv)
{
    return srv->cfg.public_port ? srv->cfg.public_port : srv->http_port;
}

void
server_public_url(const struct server *srv, const char *name, char *out, size_t outlen)
{
    int tls = srv->https.daemon != NULL;
    unsigned port = tls ? srv->https_port : server_public_port(srv);

    if (srv->cfg.public_url[0] != '\0') { /* what a reverse proxy in front serves */
        public_url_format(srv->cfg.public_url, name, out, outlen);
        return;
    }
    if (port == (tls ? 443u : 80u))
        snprintf(out, outlen, "%s://%s.%s", tls ? "https" : "http", name, srv->cfg.domain);
    else
        snprintf(out, outlen, "%s://%s.%s:%u", tls ? "https" : "http", name, srv->cfg.domain,
                 port);
}
