/* public_record.c: a public request's end, as the access log and the metrics see it; see
 * public_record.h. */
#include "public_record.h"
#include "pub_req.h"

#include "access_log.h"
#include "metrics.h"
#include "tunnel_table.h"

#include <microhttpd.h>
#include <string.h>

void
public_record(struct pub_req *req, int client_left, int shutdown)
{
    struct server *srv = req->srv;
    struct access_record r;
    struct tunnel *t = NULL;

    memset(&r, 0, sizeof(r));
    r.status = req->status_sent;
    r.duration_us = loop_clock_us() - req->started_us;
    r.service_us = req->service_us;
    if (req->page.status != 0 && req->status_sent == req->page.status && req->page.status >= 400)
        r.error = req->page.text;
    else if (req->reset && req->status_sent != 0)
        r.error = "response cut short: the tunnel's stream ended before its body did";
    else if (client_left && req->status_sent == 0)
        r.error = shutdown ? "gateway stopped first"
                                                                : "public client went away "
                                                                  "before the response";
    else if (client_left && !req->upgrade)
        r.error = shutdown ? "gateway stopped first"
                                                                : "public client went away "
                                                                  "during the response";
    if (req->tunnel_id[0] != '\0')
        t = tunnel_table_find_id(&srv->tunnels, req->tunnel_id, strlen(req->tunnel_id));
    metrics_request(srv, t, r.status, r.duration_us, r.service_us);
    if (srv->access_log.fd < 0)
        return;
    r.tunnel = req->label;
    r.client_ip = req->client_ip;
    r.method = req->method[0] ? req->method : "-";
    r.target = req->target;
    r.host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    r.bytes_in = req->body_in;
    r.bytes_out = req->bytes_out;
    r.tls = req->tls;
    access_log_write(&srv->access_log, &r);
}
