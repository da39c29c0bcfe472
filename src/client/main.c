/* main.c: ngrnotok, the CLI: parse the command line, connect to the gateway, print the public
 * URL and forward requests until interrupted or the gateway goes away. */
#include "cli.h"
#include "client.h"
#include "control.h"
#include "forward.h"
#include "log.h"
#include "replay.h"
#include "session.h"
#include "signals.h"
#include "tls_io.h"

#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
main_on_signal(void *arg, int signo)
{
    client_control_stop(arg);
}

static void
main_turn_end(void *arg)
{
    struct client *cl = arg;

    /* In the hook, not a deferral: it queues frames that the session flush (a deferral) then
     * sends in the same turn. */
    replay_resume_and_run_due(cl->replay);
}

int
main(int argc, char **argv)
{
    struct client cl;
    struct signals sig;
    struct ngr_err err;
    int rc;

    memset(&cl, 0, sizeof(cl));
    memset(&err, 0, sizeof(err));
    rc = cli_parse(argc, argv, &cl.opt, &err);
    if (rc == CLI_EXIT_OK)
        return 0;
    if (rc != CLI_RUN) {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        return 2;
    }
    log_init("ngrnotok", cl.opt.log_level);
    /* Fixed thresholds: see limits.h. */
    mallopt(M_MMAP_THRESHOLD, NGR_CLIENT_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, NGR_CLIENT_TRIM_THRESHOLD);
    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
        fprintf(stderr, "ngrnotok: libcurl failed to initialise\n");
        return 1;
    }
    /* --tls: the CAs the gateway's certificate must chain to, read before anything starts. */
    if (cl.opt.tls &&
        tls_io_client_cred(&cl.tls_cred, cl.opt.ca[0] != '\0' ? cl.opt.ca : NULL, &err) != 0) {
        fprintf(stderr, "ngrnotok: %s: %s%s\n", cl.opt.ca[0] != '\0' ? "--ca" : "--tls", err.msg,
                cl.opt.ca[0] != '\0' ? "" : " (give the gateway's CA with --ca FILE)");
        return 2;
    }
    /* Resolved once: the loop never blocks on a lookup. */
    if (net_resolve_all(&cl.opt.local, &cl.local_resolved, &err) != 0) {
        fprintf(stderr, "ngrnotok: local service: %s\n", err.msg);
        return 2;
    }
    /* What the last run for this gateway and local service kept: its URL comes back. */
    {
        char server[NGR_ADDR_LEN + 8], local[NGR_ADDR_LEN + 8];

        net_format_addr(&cl.opt.server, server, sizeof(server));
        net_format_addr(&cl.opt.local, local, sizeof(local));
        if (resume_file_open(&cl.resume, server, cl.opt.proto == FRAME_PROTO_TCP ? "tcp" : "http",
                             local, &err) != 0)
            fprintf(stderr, "ngrnotok: cannot keep the reconnect secret (%s): a restart gets a "
                            "new URL\n",
                    err.msg);
        if (cl.opt.new_url)
            resume_file_forget(&cl.resume);
        snprintf(cl.secret, sizeof(cl.secret), "%s", cl.resume.secret);
        if (cl.opt.proto == FRAME_PROTO_TCP)
            cl.tcp_port = cl.opt.remote_port != 0 ? cl.opt.remote_port
                                                  : (unsigned)strtoul(cl.resume.name, NULL, 10);
        else if (cl.opt.subdomain[0] == '\0')
            snprintf(cl.name, sizeof(cl.name), "%s", cl.resume.name);
    }
    cl.loop = loop_new();
    if (cl.loop == NULL) {
        fprintf(stderr, "ngrnotok: epoll_create1: %s\n", strerror(errno));
        return 1;
    }
    heap_trim_init(&cl.trim, cl.loop, NULL);
    cl.replay = replay_new(&cl, &err);
    if (cl.replay == NULL) {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        return 1;
    }
    if (client_control_start(&cl, &err) != 0) {
        fprintf(stderr, "ngrnotok: cannot reach the gateway: %s\n", err.msg);
        return 1;
    }
    if (signals_start(&sig, cl.loop, main_on_signal, &cl, &err) != 0) {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        return 1;
    }
    loop_set_turn_hook(cl.loop, main_turn_end, &cl);

    if (loop_run(cl.loop) != 0) {
        fprintf(stderr, "ngrnotok: epoll_wait: %s\n", strerror(errno));
        cl.exit_code = 1;
    }
    if (cl.sess_live) {
        session_close(&cl.sess, 0, "exiting");
        loop_run_deferred(cl.loop);
    }
    tls_io_free(cl.tls); /* a handshake still under way */
    if (cl.tls_cred != NULL)
        gnutls_certificate_free_credentials(cl.tls_cred);
    replay_free(cl.replay);
    signals_stop(&sig);
    heap_trim_stop(&cl.trim);
    loop_free(cl.loop);
    curl_global_cleanup();
    return cl.exit_code;
}
