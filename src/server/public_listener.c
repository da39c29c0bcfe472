/* public_listener.c: the public listeners: the HTTP daemon and, with --https-addr, the HTTPS
 * one (its certificate asked of tls_cert.c at each handshake), both libmicrohttpd in
 * external-epoll mode on the gateway's loop (mhd_glue.h), with the callbacks of a request's
 * life in public_http.c and of a connection's in public_conn.c. See public_http.h. */
#include "public_http.h"
#include "pub_req.h"

#include "log.h"
#include "mhd_head_lines.h"
#include "net.h"
#include "public_conn.h"
#include "tls_cert.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void public_http_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
public_http_log(void *cls, const char *fmt, va_list ap)
{
    char line[NGR_HTTP_LOG_LEN];

    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("http: %s", line);
}

int
public_http_start(struct server *srv, struct ngr_err *err)
{
    struct MHD_Daemon *d;
    int fd;

    TAILQ_INIT(&srv->http_waiting);
    TAILQ_INIT(&srv->held);
    srv->head_lines_known = mhd_head_lines_known(MHD_get_version());
    if (!srv->head_lines_known)
        log_warn("http: libmicrohttpd %s is not the version whose parse this gateway reads "
                 "(0.9.75): requests with bare LF line ends or folded header lines are not "
                 "refused (docs/security.md)",
                 MHD_get_version());
    fd = net_listen(&srv->cfg.http_addr, NGR_LISTEN_BACKLOG, err);
    if (fd < 0)
        return fd;
    srv->http_port = srv->cfg.http_addr.port;
    d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, public_http_access, srv, MHD_OPTION_EXTERNAL_LOGGER, public_http_log, srv,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_URI_LOG_CALLBACK, public_http_on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, public_http_on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
        public_conn_notify, srv, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)NGR_HTTP_CONN_MEMORY, MHD_OPTION_CONNECTION_LIMIT, (unsigned)NGR_HTTP_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.idle_timeout_s, MHD_OPTION_END);
    if (mhd_glue_start(&srv->http, srv->loop, d, fd, "HTTP", err) != 0)
        return err->code;
    if (!srv->cfg.https_on)
        return 0;
    /* HTTPS: the same requests through a second daemon, which asks tls_cert.c for the
     * certificate at each handshake (so SIGHUP can replace it). */
    tls_cert_set_https(&srv->https_cert);
    fd = net_listen(&srv->cfg.https_addr, NGR_LISTEN_BACKLOG, err);
    if (fd < 0)
        return err_prefix(err, "HTTPS");
    srv->https_port = srv->cfg.https_addr.port;
    d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_TLS | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, public_http_access, srv, MHD_OPTION_EXTERNAL_LOGGER, public_http_log, srv,
        MHD_OPTION_HTTPS_CERT_CALLBACK, tls_cert_retrieve_https, MHD_OPTION_HTTPS_PRIORITIES,
        NGR_TLS_PRIORITIES, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_URI_LOG_CALLBACK,
        public_http_on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, public_http_on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, public_conn_notify, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)NGR_HTTP_CONN_MEMORY,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)NGR_HTTP_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        srv->cfg.idle_timeout_s, MHD_OPTION_END);
    return mhd_glue_start(&srv->https, srv->loop, d, fd, "HTTPS", err);
}
