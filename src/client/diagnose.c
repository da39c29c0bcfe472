/* diagnose.c: `ngrnotok diagnose`: the client's own control connection (control.c) and replay
 * engine (replay.c) carry a temporary tunnel to TARGET and one to the built-in responder, and
 * one step at a time, on the loop, the command samples each hop: the local service with
 * libcurl (curl_glue.c), PING round trips on the session, the public URL with libcurl, then
 * one body from the responder through the tunnel. The samples go to diagnose_report.c. */
#include "diagnose.h"
#include "control.h"
#include "curl_glue.h"
#include "diagnose_report.h"
#include "diagnose_responder.h"
#include "local_target.h"
#include "log.h"
#include "replay.h"
#include "session.h"
#include "tls_io.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* What is measured now, in this order (no TARGET: from WAIT_BOUND). */
enum diagnose_phase {
    DIAGNOSE_LOCAL,      /* the local service, directly */
    DIAGNOSE_WAIT_BOUND, /* both tunnels bound */
    DIAGNOSE_PING,       /* round trips on the control connection */
    DIAGNOSE_PUBLIC,     /* the public URL, through the tunnel */
    DIAGNOSE_THROUGHPUT, /* a body from the responder, through the tunnel */
    DIAGNOSE_DONE,
    DIAGNOSE_FAILED,
};

static const char *const diagnose_phase_names[] = {
    "the local service",
    "the tunnels to be bound",
    "PING round trips",
    "the public path",
    "the throughput",
    "",
    "",
};

struct diagnose {
    struct client *cl;
    enum diagnose_phase phase;
    struct cli_tunnel responder_opt; /* the built-in responder's tunnel */
    struct client_tunnel *target;    /* TARGET's tunnel, or NULL */
    struct client_tunnel *responder;
    struct curl_glue glue;
    int glue_live;
    /* One handle for each side, reused: their connections stay alive between samples, as
     * replay.c's to the local service and a browser's to the gateway do. */
    CURL *local_easy, *public_easy;
    CURL *running; /* the one in the multi, or NULL */
    char errbuf[CURL_ERROR_SIZE];
    uint64_t body_bytes;   /* of the transfer under way */
    double *total, *first; /* samples of the hop under way, in ms (count each) */
    size_t n;
    uint64_t rtt_seen; /* the session's rtt_samples when the last one was taken */
    struct loop_timer deadline, ping_timer;
    struct diagnose_result res;
};

/* The run is over: the session says goodbye and the loop stops once it closed. */
static void
diagnose_end(struct diagnose *d, enum diagnose_phase how)
{
    d->phase = how;
    if (how == DIAGNOSE_FAILED)
        d->cl->exit_code = 1;
    loop_timer_stop(d->cl->loop, &d->ping_timer);
    loop_timer_stop(d->cl->loop, &d->deadline);
    client_control_stop(d->cl);
}

/* Starts one sample request of url (https: public ones trust --ca's CAs, local ones
 * --upstream-ca's or none with --upstream-insecure). */
static void
diagnose_request(struct diagnose *d, const char *url, int local)
{
    const struct cli_tunnel *o = local ? d->target->opt : NULL;
    const char *ca = local ? (o->upstream_ca[0] != '\0' ? o->upstream_ca : NULL)
                           : (d->cl->opt.ca[0] != '\0' ? d->cl->opt.ca : NULL);
    int insecure = local && o->upstream_insecure;

    CURL *e = local ? d->local_easy : d->public_easy;

    d->errbuf[0] = '\0';
    d->body_bytes = 0;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH,
                     local && o->scheme == CLI_SCHEME_UNIX ? o->unix_path : NULL);
    /* The local service is reached as replay.c does, never through $http_proxy; the public
     * URL as a visitor on this machine would, with its proxy if it has one. */
    if (local)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
    if (ca != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    if (curl_multi_add_handle(d->glue.multi, e) != CURLM_OK) {
        log_say("libcurl refused a request to %s", url);
        diagnose_end(d, DIAGNOSE_FAILED);
        return;
    }
    d->running = e;
}

static void
diagnose_local_next(struct diagnose *d)
{
    diagnose_request(d, d->res.local_url, 1);
}

static void
diagnose_public_next(struct diagnose *d)
{
    diagnose_request(d, d->res.public_url, 0);
}

static void
diagnose_start_ping(struct diagnose *d)
{
    d->phase = DIAGNOSE_PING;
    d->n = 0;
    d->rtt_seen = d->cl->sess.rtt_samples;
    session_probe_rtt(&d->cl->sess);
    loop_timer_start(d->cl->loop, &d->ping_timer, NGR_DIAGNOSE_PING_MS);
}

static void
diagnose_start_throughput(struct diagnose *d)
{
    char url[NGR_URL_LEN + 16];

    d->phase = DIAGNOSE_THROUGHPUT;
    snprintf(url, sizeof(url), "%s%s", d->responder->public_url, DIAGNOSE_RESPONDER_BYTES);
    diagnose_request(d, url, 0);
}

/* The local service did not answer: the one failure worth naming its port for. */
static void
diagnose_local_down(struct diagnose *d, CURLcode rc)
{
    const struct cli_tunnel *o = d->target->opt;
    const char *why = d->errbuf[0] != '\0' ? d->errbuf : curl_easy_strerror(rc);

    if (o->scheme == CLI_SCHEME_UNIX)
        log_say("the local service at unix:%s does not answer: %s (is it listening on that "
                     "socket?)",
                     o->unix_path, why);
    else
        log_say("the local service at %s does not answer: %s (is it running on port %u? "
                     "name its port: ngrnotok diagnose PORT)",
                     d->target->local_text, why, (unsigned)o->local.port);
    diagnose_end(d, DIAGNOSE_FAILED);
}

/* A sample request ended. */
static void
diagnose_on_done(void *owner, CURL *easy, CURLcode rc)
{
    struct diagnose *d = owner;
    curl_off_t total = 0, first = 0;
    long status = 0;

    curl_multi_remove_handle(d->glue.multi, easy);
    d->running = NULL;
    if (d->phase == DIAGNOSE_DONE || d->phase == DIAGNOSE_FAILED)
        return;
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    switch (d->phase) {
    case DIAGNOSE_LOCAL:
        if (rc != CURLE_OK) {
            diagnose_local_down(d, rc);
            return;
        }
        d->total[d->n] = (double)total / 1000;
        d->first[d->n] = (double)first / 1000;
        d->res.local_status = status;
        if (++d->n < d->res.count) {
            diagnose_local_next(d);
            return;
        }
        diagnose_stats_of(&d->res.local_total, d->total, d->n);
        diagnose_stats_of(&d->res.local_first, d->first, d->n);
        d->phase = DIAGNOSE_WAIT_BOUND; /* the turn hook goes on */
        loop_wake(d->cl->loop);
        return;
    case DIAGNOSE_PUBLIC:
        if (rc != CURLE_OK) {
            /* Behind a proxy's --public-url, or a name this machine does not resolve: said,
             * not fatal; what was measured is reported. */
            snprintf(d->res.public_error, sizeof(d->res.public_error), "%.200s%s",
                     d->errbuf[0] != '\0' ? d->errbuf : curl_easy_strerror(rc),
                     d->n > 0 ? " (after some answers)" : "");
            diagnose_end(d, DIAGNOSE_DONE);
            return;
        }
        d->total[d->n] = (double)total / 1000;
        d->first[d->n] = (double)first / 1000;
        d->res.public_status = status;
        if (++d->n < d->res.count) {
            diagnose_public_next(d);
            return;
        }
        d->res.public_reachable = 1;
        diagnose_stats_of(&d->res.public_total, d->total, d->n);
        diagnose_stats_of(&d->res.public_first, d->first, d->n);
        diagnose_start_throughput(d);
        return;
    case DIAGNOSE_THROUGHPUT:
        if (rc == CURLE_OK && status == 200 && d->body_bytes == NGR_DIAGNOSE_BODY && total > 0) {
            d->res.tput_bytes = d->body_bytes;
            d->res.tput_ms = (double)total / 1000;
        } else {
            log_say("the throughput sample failed: %s",
                         rc != CURLE_OK ? (d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc))
                                        : "a short or refused answer");
        }
        diagnose_end(d, DIAGNOSE_DONE);
        return;
    default:
        return;
    }
}

static size_t
diagnose_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct diagnose *d = arg;

    (void)p;
    d->body_bytes += size * nmemb;
    return size * nmemb;
}

/* After every turn: the replay engine's and our libcurl work, then the next step. */
static void
diagnose_turn(void *arg)
{
    struct diagnose *d = arg;
    struct client *cl = d->cl;

    replay_resume_and_run_due(cl->replay);
    if (d->glue_live)
        curl_glue_run_due(&d->glue);
    if (d->phase == DIAGNOSE_WAIT_BOUND && cl->sess_live && cl->nbound == cl->ntunnels) {
        /* TARGET's public URL with --path, or the responder's. */
        snprintf(d->res.public_url, sizeof(d->res.public_url), "%s%s",
                 d->target != NULL ? d->target->public_url : d->responder->public_url,
                 d->target != NULL ? cl->opt.diag_path : "/");
        diagnose_start_ping(d);
    }
    if (d->phase != DIAGNOSE_PING || !cl->sess_live)
        return;
    if (cl->sess.rtt_samples < d->rtt_seen) /* a new session (a reconnect) */
        d->rtt_seen = cl->sess.rtt_samples;
    if (cl->sess.rtt_samples > d->rtt_seen) {
        d->rtt_seen = cl->sess.rtt_samples;
        d->total[d->n++] = (double)cl->sess.last_rtt_us / 1000;
        if (d->n >= d->res.count) {
            loop_timer_stop(cl->loop, &d->ping_timer);
            diagnose_stats_of(&d->res.rtt, d->total, d->n);
            d->phase = DIAGNOSE_PUBLIC;
            d->n = 0;
            diagnose_public_next(d);
            return;
        }
        loop_timer_start(cl->loop, &d->ping_timer, NGR_DIAGNOSE_PING_MS);
    }
    session_probe_rtt(&cl->sess); /* nothing while one is in flight */
}

static void
diagnose_on_ping_timeout(void *arg)
{
    struct diagnose *d = arg;

    log_say("the gateway did not answer a PING within %d s", NGR_DIAGNOSE_PING_MS / 1000);
    diagnose_end(d, DIAGNOSE_FAILED);
}

static void
diagnose_on_deadline(void *arg)
{
    struct diagnose *d = arg;

    log_say("gave up after %d s, waiting for %s (fewer samples: --count N)",
                 NGR_DIAGNOSE_DEADLINE_MS / 1000, diagnose_phase_names[d->phase]);
    diagnose_end(d, DIAGNOSE_FAILED);
    /* The session may be reconnecting: stop whatever it is doing. */
    loop_stop(d->cl->loop);
}

/* Tunnel i: o's local service, resolved now (as main.c's main_tunnel_init, without the resume
 * file: a diagnose tunnel is temporary, and must not take a running `ngrnotok http`'s URL).
 * Returns 0, or 2 with the reason said. */
static int
diagnose_tunnel_init(struct client *cl, size_t i, const struct cli_tunnel *o)
{
    struct client_tunnel *t = &cl->tunnels[i];
    struct ngr_err err;

    t->opt = o;
    t->handle = (uint32_t)i + 1;
    t->resume.lock_fd = -1;
    if (local_target_setup(t, o, &err) != 0) {
        log_say("local service: %s (check the host name of HOST:PORT)", err.msg);
        return 2;
    }
    return 0;
}

/* A sample request's handle: HTTP/1.1 as replay.c's, bounded in time, its body counted and
 * dropped. */
static CURL *
diagnose_new_easy(struct diagnose *d)
{
    CURL *e = curl_easy_init();

    if (e == NULL)
        return NULL;
    curl_glue_setup_easy(&d->glue, e);
    replay_easy_defaults(e); /* what every request of the client's is sent with */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)NGR_DIAGNOSE_REQUEST_MS);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, diagnose_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    return e;
}

/* Everything before the loop runs. Returns 0 or the exit code. */
static int
diagnose_setup(struct diagnose *d)
{
    struct client *cl = d->cl;
    struct ngr_err err;
    size_t i;
    int rc;

    memset(&err, 0, sizeof(err));
    if (cl->opt.tls &&
        tls_io_client_cred(&cl->tls_cred, cl->opt.ca[0] != '\0' ? cl->opt.ca : NULL, &err) != 0) {
        log_say("%s: %s%s", cl->opt.ca[0] != '\0' ? "--ca" : "--tls", err.msg,
                     cl->opt.ca[0] != '\0' ? "" : " (give the gateway's CA with --ca FILE)");
        return 2;
    }
    /* TARGET's tunnel (if any) first, then the responder's. */
    d->responder_opt.proto = FRAME_PROTO_HTTP;
    snprintf(d->responder_opt.name, sizeof(d->responder_opt.name), "diagnose");
    snprintf(d->responder_opt.local.host, sizeof(d->responder_opt.local.host), "built-in");
    /* With -n NAME, the responder binds NAME-diag beside it: a token limited to some names
     * (alice-*) allows both; without, the gateway picks a random name. */
    if (cl->opt.tunnels[0].subdomain[0] != '\0')
        snprintf(d->responder_opt.subdomain, sizeof(d->responder_opt.subdomain), "%.*s-diag",
                 (int)(sizeof(d->responder_opt.subdomain) - 6), cl->opt.tunnels[0].subdomain);
    cl->ntunnels = cl->opt.ntunnels + 1;
    for (i = 0; i < cl->opt.ntunnels; i++)
        if ((rc = diagnose_tunnel_init(cl, i, &cl->opt.tunnels[i])) != 0)
            return rc;
    d->target = cl->opt.ntunnels > 0 ? &cl->tunnels[0] : NULL;
    d->responder = &cl->tunnels[cl->ntunnels - 1];
    d->responder->opt = &d->responder_opt;
    d->responder->handle = (uint32_t)cl->ntunnels;
    d->responder->resume.lock_fd = -1;
    snprintf(d->responder->local_text, sizeof(d->responder->local_text), "built-in responder");
    d->responder->serve = diagnose_responder_open;
    d->responder->serve_arg = cl;

    d->total = calloc(d->res.count, sizeof(*d->total));
    d->first = calloc(d->res.count, sizeof(*d->first));
    if (d->total == NULL || d->first == NULL) {
        log_say("out of memory");
        return 1;
    }
    cl->loop = loop_new();
    if (cl->loop == NULL) {
        log_say("epoll_create1: %s", strerror(errno));
        return 1;
    }
    heap_trim_init(&cl->trim, cl->loop, NULL);
    cl->replay = replay_new(cl, &err);
    if (cl->replay == NULL) {
        log_say("%s", err.msg);
        return 1;
    }
    if (curl_glue_init(&d->glue, cl->loop, 2, diagnose_on_done, d, &err) != 0) {
        log_say("%s", err.msg);
        return 1;
    }
    d->glue_live = 1;
    if ((d->local_easy = diagnose_new_easy(d)) == NULL ||
        (d->public_easy = diagnose_new_easy(d)) == NULL) {
        log_say("libcurl failed to make a handle");
        return 1;
    }

    loop_timer_init(&d->deadline, diagnose_on_deadline, d);
    loop_timer_init(&d->ping_timer, diagnose_on_ping_timeout, d);
    if (client_control_start(cl, &err) != 0) {
        log_say("cannot reach the gateway: %s (give its address with --server HOST:PORT, "
                     "or once with 'ngrnotok config set-server HOST:PORT')",
                     err.msg);
        return 1;
    }
    loop_timer_start(cl->loop, &d->deadline, NGR_DIAGNOSE_DEADLINE_MS);
    loop_set_turn_hook(cl->loop, diagnose_turn, d);
    if (d->target != NULL) {
        snprintf(d->res.local_url, sizeof(d->res.local_url), "%s%s", d->target->base_url,
                 cl->opt.diag_path);
        d->res.has_local = 1;
        d->phase = DIAGNOSE_LOCAL;
        diagnose_local_next(d);
    } else {
        d->phase = DIAGNOSE_WAIT_BOUND;
    }
    return 0;
}

/* The report, once the public URL is known (it is, once the tunnels were bound). */
static void
diagnose_print(struct diagnose *d)
{
    struct client *cl = d->cl;
    char *out = malloc(NGR_DIAGNOSE_OUT);

    if (out == NULL) {
        log_say("out of memory");
        cl->exit_code = 1;
        return;
    }
    if (cl->opt.diag_json)
        diagnose_format_json(out, NGR_DIAGNOSE_OUT, &d->res);
    else
        diagnose_format_text(out, NGR_DIAGNOSE_OUT, &d->res);
    fputs(out, stdout);
    fflush(stdout);
    free(out);
}

int
diagnose_run(struct client *cl)
{
    static struct diagnose d; /* the result's URLs are large for a stack */
    int rc;

    memset(&d, 0, sizeof(d));
    d.cl = cl;
    d.res.count = cl->opt.diag_count;
    net_format_addr(&cl->opt.server, d.res.gateway, sizeof(d.res.gateway));
    log_init("ngrnotok", cl->opt.log_level);
    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
        log_say("libcurl failed to initialise");
        return 1;
    }
    rc = diagnose_setup(&d);
    if (rc == 0) {
        if (loop_run(cl->loop) != 0) {
            log_say("epoll_wait: %s", strerror(errno));
            cl->exit_code = 1;
        }
        /* The loop stopped before the end: control.c said why (the gateway refused or could
         * not be reached). */
        if (d.phase != DIAGNOSE_DONE && d.phase != DIAGNOSE_FAILED)
            cl->exit_code = cl->exit_code != 0 ? cl->exit_code : 1;
        rc = cl->exit_code;
    }
    if (d.running != NULL)
        curl_multi_remove_handle(d.glue.multi, d.running);
    if (d.local_easy != NULL)
        curl_easy_cleanup(d.local_easy);
    if (d.public_easy != NULL)
        curl_easy_cleanup(d.public_easy);
    if (d.glue_live)
        curl_glue_free(&d.glue);
    if (cl->sess_live) {
        cl->opt_stopping = 1;
        session_close(&cl->sess, 0, "exiting");
        loop_run_deferred(cl->loop);
    }
    tls_io_free(cl->tls);
    if (cl->tls_cred != NULL)
        gnutls_certificate_free_credentials(cl->tls_cred);
    if (cl->replay != NULL)
        replay_free(cl->replay);
    if (cl->loop != NULL) {
        heap_trim_stop(&cl->trim);
        loop_free(cl->loop);
    }
    free(d.total);
    free(d.first);
    curl_global_cleanup();
    if (rc == 0 && d.phase == DIAGNOSE_DONE)
        diagnose_print(&d);
    return rc;
}
