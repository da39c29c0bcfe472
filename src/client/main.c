/* main.c: ngrnotok, the CLI: parse the command line, connect to the gateway, print the public
 * URLs and forward requests until interrupted or the gateway goes away (or, for `config`,
 * write or check the config file; for `diagnose`, measure and report: diagnose.h). */
#include "cli.h"
#include "client.h"
#include "client_config.h"
#include "control.h"
#include "diagnose.h"
#include "forward.h"
#include "inspect.h"
#include "live_view.h"
#include "local_target.h"
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
#include <sys/un.h>
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
    inspect_turn_end(cl->inspect);
}

/* Tunnel i of the options: its local service resolved (the loop never blocks on a lookup), and
 * what the last run for this gateway and local service kept, so its URL comes back. Returns 0,
 * or 2 with the reason said. */
static int
main_tunnel_init(struct client *cl, size_t i)
{
    struct client_tunnel *t = &cl->tunnels[i];
    const struct cli_tunnel *o = &cl->opt.tunnels[i];
    char server[NGR_ADDR_LEN + 8], target[NGR_ADDR_LEN + NGR_TUNNEL_NAME_LEN + 8];
    struct ngr_err err;

    t->opt = o;
    t->handle = (uint32_t)i + 1;
    if (local_target_setup(t, o, &err) != 0) {
        fprintf(stderr, "ngrnotok: %s%s%slocal service: %s (check the host name of %s)\n",
                o->name[0] != '\0' ? "tunnel " : "", o->name, o->name[0] != '\0' ? ": " : "",
                err.msg, o->name[0] != '\0' ? "its addr" : "HOST:PORT");
        return 2;
    }
    /* A config file's tunnel keeps its own file: two of them may share a local service. */
    net_format_addr(&cl->opt.server, server, sizeof(server));
    snprintf(target, sizeof(target), "%s%s%s", t->local_text, o->name[0] != '\0' ? " " : "",
             o->name);
    if (resume_file_open(&t->resume, server, o->proto == FRAME_PROTO_TCP ? "tcp" : "http", target,
                         &err) != 0)
        fprintf(stderr, "ngrnotok: cannot keep the reconnect secret (%s): a restart gets a new "
                        "URL\n",
                err.msg);
    if (cl->opt.new_url)
        resume_file_forget(&t->resume);
    /* One secret for the session: the first tunnel's that has one. */
    if (cl->secret[0] == '\0')
        snprintf(cl->secret, sizeof(cl->secret), "%s", t->resume.secret);
    if (o->proto == FRAME_PROTO_TCP)
        t->tcp_port =
            o->remote_port != 0 ? o->remote_port : (unsigned)strtoul(t->resume.name, NULL, 10);
    else if (o->subdomain[0] == '\0')
        snprintf(t->name, sizeof(t->name), "%s", t->resume.name);
    return 0;
}

/* The tunnels run until a signal, or until the gateway refuses what retrying cannot fix.
 * Returns the exit code. */
static int
main_run(struct client *cl)
{
    struct signals sig;
    struct ngr_err err;
    size_t i;

    memset(&err, 0, sizeof(err));
    log_init("ngrnotok", cl->opt.log_level);
    /* Fixed thresholds: see limits.h. */
    mallopt(M_MMAP_THRESHOLD, NGR_CLIENT_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, NGR_CLIENT_TRIM_THRESHOLD);
    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
        fprintf(stderr, "ngrnotok: libcurl failed to initialise\n");
        return 1;
    }
    /* --tls: the CAs the gateway's certificate must chain to, read before anything starts. */
    if (cl->opt.tls &&
        tls_io_client_cred(&cl->tls_cred, cl->opt.ca[0] != '\0' ? cl->opt.ca : NULL, &err) != 0) {
        fprintf(stderr, "ngrnotok: %s: %s%s\n", cl->opt.ca[0] != '\0' ? "--ca" : "--tls", err.msg,
                cl->opt.ca[0] != '\0' ? "" : " (give the gateway's CA with --ca FILE)");
        return 2;
    }
    cl->ntunnels = cl->opt.ntunnels;
    for (i = 0; i < cl->ntunnels; i++)
        if (main_tunnel_init(cl, i) != 0)
            return 2;
    cl->loop = loop_new();
    if (cl->loop == NULL) {
        fprintf(stderr, "ngrnotok: epoll_create1: %s\n", strerror(errno));
        return 1;
    }
    heap_trim_init(&cl->trim, cl->loop, NULL);
    cl->view = live_view_new(cl, STDOUT_FILENO,
                             cl->opt.quiet      ? CLI_OUTPUT_QUIET
                             : cl->opt.log_json ? CLI_OUTPUT_JSON
                                                : CLI_OUTPUT_TEXT);
    if (cl->view == NULL) {
        fprintf(stderr, "ngrnotok: out of memory\n");
        return 1;
    }
    cl->replay = replay_new(cl, &err);
    if (cl->replay == NULL) {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        return 1;
    }
    if (!cl->opt.inspect.off) {
        int fatal;

        cl->inspect = inspect_new(cl, &fatal, &err);
        if (cl->inspect == NULL && fatal) {
            fprintf(stderr, "ngrnotok: %s\n", err.msg);
            return 2;
        }
        if (cl->inspect == NULL)
            fprintf(stderr, "ngrnotok: %s\n", err.msg);
        else
            live_view_inspector(cl->view, inspect_url(cl->inspect));
    }
    if (client_control_start(cl, &err) != 0) {
        fprintf(stderr, "ngrnotok: cannot reach the gateway: %s\n", err.msg);
        return 1;
    }
    if (signals_start(&sig, cl->loop, main_on_signal, cl, &err) != 0) {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        return 1;
    }
    loop_set_turn_hook(cl->loop, main_turn_end, cl);

    if (loop_run(cl->loop) != 0) {
        fprintf(stderr, "ngrnotok: epoll_wait: %s\n", strerror(errno));
        cl->exit_code = 1;
    }
    if (cl->sess_live) {
        session_close(&cl->sess, 0, "exiting");
        loop_run_deferred(cl->loop);
    }
    tls_io_free(cl->tls); /* a handshake still under way */
    if (cl->tls_cred != NULL)
        gnutls_certificate_free_credentials(cl->tls_cred);
    replay_free(cl->replay);
    inspect_free(cl->inspect);  /* after the replay engine: no request ends after it */
    live_view_free(cl->view); /* no request ends after the replay engine */
    signals_stop(&sig);
    heap_trim_stop(&cl->trim);
    loop_free(cl->loop);
    curl_global_cleanup();
    return cl->exit_code;
}

int
main(int argc, char **argv)
{
    static struct client cl; /* its tunnels are large for a stack */
    struct ngr_err err;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = cli_parse(argc, argv, &cl.opt, &err);
    if (rc == CLI_RUN)
        rc = cl.opt.command == CLI_CMD_CONFIG     ? client_config_command(&cl.opt)
             : cl.opt.command == CLI_CMD_DIAGNOSE ? diagnose_run(&cl)
                                                  : main_run(&cl);
    else if (rc == CLI_EXIT_OK)
        rc = 0;
    else {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        rc = 2;
    }
    cli_options_free(&cl.opt);
    return rc;
}
