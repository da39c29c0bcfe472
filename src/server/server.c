/* server.c: what belongs to the gateway as a whole rather than to one module. */
#include "server.h"

unsigned
server_public_port(const struct server *srv)
{
    return srv->cfg.public_port ? srv->cfg.public_port : srv->http_port;
}
