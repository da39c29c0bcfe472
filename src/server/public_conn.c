/* public_conn.c: a public connection's life and its head deadline; see public_conn.h. */
#include "public_conn.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One public connection, from its accept to its close. */
struct pub_conn {
    struct server *srv;
    struct MHD_Connection *conn;
    struct loop_timer head_deadline;
    int tls;
};

static void
public_conn_on_head_deadline(void *arg)
{
#define PUB_408_BODY "The request head did not arrive in time (request_head_timeout).\n"
    static const char answer[] = "HTTP/1.1 408 Request Timeout\r\n"
                                 "Connection: close\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "X-Ngrnotok-Error: request-timeout\r\n"
                                 "Content-Length: 64\r\n\r\n" PUB_408_BODY;
    _Static_assert(sizeof(PUB_408_BODY) - 1 == 64, "the 408's Content-Length");
    struct pub_conn *pc = arg;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(pc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

    if (ci == NULL)
        return;
    pc->srv->head_timeouts++;
    pc->srv->metrics.limit_hits[METRICS_LIMIT_HEAD_TIMEOUT]++;
    log_debug("public connection: no complete request head within %" PRIu64 " ms: closing",
              pc->srv->cfg.request_head_timeout_ms);
    /* libmicrohttpd has written nothing on a connection still reading its first head, so a
     * plain one can get the 408 straight; over TLS there is no plain text to write. Shutting the
     * socket down makes libmicrohttpd close it at its next event. */
    if (!pc->tls && send(ci->connect_fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("public connection: 408: %s", strerror(errno));
    shutdown(ci->connect_fd, SHUT_RDWR);
}

void
public_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *srv = cls;
    struct pub_conn *pc = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);

        pc = calloc(1, sizeof(*pc));
        if (pc == NULL)
            return; /* no deadline for this one: libmicrohttpd's idle timeout still holds */
        pc->srv = srv;
        pc->conn = conn;
        pc->tls = ci != NULL && srv->https.daemon != NULL && ci->daemon == srv->https.daemon;
        loop_timer_init(&pc->head_deadline, public_conn_on_head_deadline, pc);
        loop_timer_start(srv->loop, &pc->head_deadline, srv->cfg.request_head_timeout_ms);
        *socket_context = pc;
        return;
    }
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (pc != NULL) {
            loop_timer_stop(srv->loop, &pc->head_deadline);
            free(pc);
            *socket_context = NULL;
        }
        heap_trim_note(&srv->trim);
    }
}

void
public_conn_head_arrived(struct server *srv, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct pub_conn *pc = ci != NULL ? ci->socket_context : NULL;

    if (pc != NULL)
        loop_timer_stop(srv->loop, &pc->head_deadline);
}
