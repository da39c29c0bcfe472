/* main.c: ngrnotok, the CLI: parse the command line, connect to the gateway, print the public
 * URL and forward requests until interrupted or the gateway goes away. */
#include "cli.h"
#include "client.h"
#include "control.h"
#include "forward.h"
#include "log.h"
#include "replay.h"
#include "session.h"

#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct main_signals {
    struct client *cl;
    struct loop_io io;
    int fd;
};

static void
main_on_signal(void *arg, uint32_t events)
{
    struct main_signals *sig = arg;
    struct signalfd_siginfo si;

    if (read(sig->fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
        return;
    client_control_stop(sig->cl);
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
    struct main_signals sig;
    struct ngr_err err;
    sigset_t mask;
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
    signal(SIGPIPE, SIG_IGN);
    /* Fixed thresholds: see limits.h. */
    mallopt(M_MMAP_THRESHOLD, NGR_CLIENT_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, NGR_CLIENT_TRIM_THRESHOLD);
    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
        fprintf(stderr, "ngrnotok: libcurl failed to initialise\n");
        return 1;
    }
    /* Resolved once: the loop never blocks on a lookup. */
    if (net_resolve_all(&cl.opt.local, &cl.local_resolved, &err) != 0) {
        fprintf(stderr, "ngrnotok: local service: %s\n", err.msg);
        return 2;
    }
    cl.loop = loop_new();
    if (cl.loop == NULL) {
        fprintf(stderr, "ngrnotok: epoll_create1: %s\n", strerror(errno));
        return 1;
    }
    cl.replay = replay_new(&cl, &err);
    if (cl.replay == NULL) {
        fprintf(stderr, "ngrnotok: %s\n", err.msg);
        return 1;
    }
    if (client_control_start(&cl, &err) != 0) {
        fprintf(stderr, "ngrnotok: cannot reach the gateway: %s\n", err.msg);
        return 1;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sig.cl = &cl;
    sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig.fd < 0 || loop_io_add(cl.loop, &sig.io, sig.fd, LOOP_READ, main_on_signal, &sig) != 0) {
        fprintf(stderr, "ngrnotok: signalfd: %s\n", strerror(errno));
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
    replay_free(cl.replay);
    loop_io_del(cl.loop, &sig.io);
    close(sig.fd);
    loop_free(cl.loop);
    curl_global_cleanup();
    return cl.exit_code;
}
