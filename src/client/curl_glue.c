/* curl_glue.c: a libcurl multi handle on our loop, its kept-alive sockets parked in epoll
 * between requests; see curl_glue.h. */
#include "curl_glue.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The descriptor table's first size, in slots; it doubles to hold any descriptor number. A
 * size, not a limit: descriptors are bounded by RLIMIT_NOFILE. */
#define CURL_GLUE_SLOTS_FIRST 64

/* One descriptor libcurl asked us to watch. Freed by a deferral at the end of the turn, since
 * an event for it may still wait in the current epoll batch. */
struct curl_glue_sock {
    struct loop_io io;
    struct curl_glue *g;
    unsigned parked : 1;    /* libcurl said CURL_POLL_REMOVE; still registered in epoll */
    unsigned read_seen : 1; /* libcurl asked to read it once: the connection carried a request */
    struct loop_defer free;
};

static void
curl_glue_check_done(struct curl_glue *g)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(g->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE)
            g->done(g->owner, m->easy_handle, m->data.result);
}

/* Makes room in the descriptor table for fd. Returns 0, or -1 if out of memory. */
static int
curl_glue_slot_reserve(struct curl_glue *g, int fd)
{
    size_t n = g->nsocks ? g->nsocks : CURL_GLUE_SLOTS_FIRST;
    struct curl_glue_slot *t;

    if (fd < 0)
        return -1;
    if ((size_t)fd < g->nsocks)
        return 0;
    while (n <= (size_t)fd)
        n *= 2;
    t = realloc(g->socks, n * sizeof(*t));
    if (t == NULL)
        return -1;
    memset(t + g->nsocks, 0, (n - g->nsocks) * sizeof(*t));
    g->socks = t;
    g->nsocks = n;
    return 0;
}

/* Ends a watch, freed at the end of the turn. with_del: take its descriptor out of epoll
 * (not when the descriptor is closed already, or about to be: close does that). */
static void
curl_glue_sock_end(struct curl_glue *g, struct curl_glue_sock *gs, int with_del)
{
    int fd = gs->io.fd;

    if (fd >= 0 && (size_t)fd < g->nsocks && g->socks[fd].gs == gs)
        g->socks[fd].gs = NULL;
    if (with_del) {
        loop_io_del(g->loop, &gs->io);
        g->counts.deleted++;
    } else {
        gs->io.fd = -1;
        g->counts.forgotten++;
    }
    loop_defer(g->loop, &gs->free);
}

static void
curl_glue_on_sock_io(void *arg, uint32_t events)
{
    struct curl_glue_sock *gs = arg;
    int mask = 0, running;

    if (gs->parked) { /* not libcurl's to hear about: stop watching until it asks again */
        curl_glue_sock_end(gs->g, gs, 1);
        return;
    }
    if (events & LOOP_READ)
        mask |= CURL_CSELECT_IN;
    if (events & LOOP_WRITE)
        mask |= CURL_CSELECT_OUT;
    if (events & (LOOP_ERR | LOOP_HUP_ALL))
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(gs->g->multi, gs->io.fd, mask, &running);
    curl_glue_check_done(gs->g);
}

/* A new watch on s, filed in the table. Returns 0 or -1. */
static int
curl_glue_sock_add(struct curl_glue *g, curl_socket_t s, uint32_t events)
{
    struct curl_glue_sock *gs = calloc(1, sizeof(*gs));

    if (gs == NULL)
        return -1;
    gs->g = g;
    gs->read_seen = (events & LOOP_READ) != 0;
    loop_defer_init(&gs->free, free, gs);
    if (loop_io_add(g->loop, &gs->io, s, events, curl_glue_on_sock_io, gs) != 0) {
        free(gs);
        curl_multi_assign(g->multi, s, NULL);
        return -1;
    }
    g->counts.added++;
    g->socks[s].gs = gs;
    curl_multi_assign(g->multi, s, gs);
    return 0;
}

static int
curl_glue_on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    struct curl_glue *g = arg;
    struct curl_glue_sock *gs = sockp;
    uint32_t events = 0;

    if (gs != NULL && gs->io.fd < 0) /* forgotten: its number was closed and opened again */
        gs = NULL;
    if (what == CURL_POLL_REMOVE) {
        if (gs != NULL) {
            curl_multi_assign(g->multi, s, NULL);
            if (gs->read_seen && (size_t)s < g->nsocks && g->socks[s].ours) {
                gs->parked = 1; /* see curl_glue.h */
                g->counts.parked++;
            } else {
                curl_glue_sock_end(g, gs, 1);
            }
        }
        return 0;
    }
    if (what & CURL_POLL_IN)
        events |= LOOP_READ;
    if (what & CURL_POLL_OUT)
        events |= LOOP_WRITE;
    if (curl_glue_slot_reserve(g, s) != 0)
        return -1;
    if (gs == NULL && g->socks[s].gs != NULL) {
        gs = g->socks[s].gs;
        if (gs->parked) { /* the kept-alive connection is used again */
            gs->parked = 0;
            g->counts.reused++;
            curl_multi_assign(g->multi, s, gs);
        } else { /* a watch libcurl no longer knows of: start afresh */
            curl_glue_sock_end(g, gs, 1);
            gs = NULL;
        }
    }
    if (gs != NULL) {
        if (loop_io_mod(g->loop, &gs->io, events) == 0) {
            gs->read_seen |= (events & LOOP_READ) != 0;
            return 0;
        }
        curl_glue_sock_end(g, gs, 1); /* not in epoll after all: register it anew */
    }
    return curl_glue_sock_add(g, s, events);
}

/* libcurl opens its connections' sockets here, so that they are known to be its own. A watch
 * still filed under the new descriptor's number belongs to a socket libcurl closed without
 * curl_glue_on_close (see curl_glue.h): it is forgotten, its epoll entry gone with it. */
static curl_socket_t
curl_glue_on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct curl_glue *g = arg;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

    (void)purpose;
    if (fd < 0)
        return CURL_SOCKET_BAD;
    if (curl_glue_slot_reserve(g, fd) != 0) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    if (g->socks[fd].gs != NULL)
        curl_glue_sock_end(g, g->socks[fd].gs, 0);
    g->socks[fd].ours = 1;
    return fd;
}

/* libcurl closes its established connections here: the watch goes first (close takes the
 * descriptor out of epoll, so no epoll_ctl), since the next socket may get the same number. */
static int
curl_glue_on_close(void *arg, curl_socket_t s)
{
    struct curl_glue *g = arg;

    if (s >= 0 && (size_t)s < g->nsocks) {
        if (g->socks[s].gs != NULL)
            curl_glue_sock_end(g, g->socks[s].gs, 0);
        g->socks[s].ours = 0;
    }
    return close(s);
}

static void
curl_glue_on_timer(void *arg)
{
    struct curl_glue *g = arg;
    int running;

    curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    curl_glue_check_done(g);
}

static int
curl_glue_on_timeout(CURLM *multi, long ms, void *arg)
{
    struct curl_glue *g = arg;

    if (ms < 0) {
        loop_timer_stop(g->loop, &g->timer);
    } else if (ms == 0) {
        /* Calling back into libcurl from here is not allowed: act at the end of the turn. */
        g->due = 1;
        loop_wake(g->loop);
    } else {
        loop_timer_start(g->loop, &g->timer, (uint64_t)ms);
    }
    return 0;
}

int
curl_glue_init(struct curl_glue *g, struct loop *l, long max_connects, curl_glue_done_cb done,
               void *owner, struct ngr_err *err)
{
    memset(g, 0, sizeof(*g));
    g->loop = l;
    g->done = done;
    g->owner = owner;
    loop_timer_init(&g->timer, curl_glue_on_timer, g);
    g->multi = curl_multi_init();
    if (g->multi == NULL)
        return err_set(err, NGR_ENOMEM, "curl_multi_init failed");
    curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, curl_glue_on_socket);
    curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
    curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, curl_glue_on_timeout);
    curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
    curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, max_connects);
    return 0;
}

void
curl_glue_free(struct curl_glue *g)
{
    size_t i;

    if (g->multi == NULL)
        return;
    loop_timer_stop(g->loop, &g->timer);
    curl_multi_cleanup(g->multi); /* closes kept-alive connections: curl_glue_on_close */
    g->multi = NULL;
    for (i = 0; i < g->nsocks; i++)
        if (g->socks[i].gs != NULL) /* none should be left; the loop goes next anyway */
            curl_glue_sock_end(g, g->socks[i].gs, 0);
    /* The watches' frees are deferrals that touch nothing of g: they run with the loop's. */
    free(g->socks);
    g->socks = NULL;
    g->nsocks = 0;
}

void
curl_glue_setup_easy(struct curl_glue *g, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, curl_glue_on_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, g);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, curl_glue_on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, g);
}

void
curl_glue_run_due(struct curl_glue *g)
{
    int running;

    if (g->due) {
        g->due = 0;
        curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    curl_glue_check_done(g);
}

enum curl_glue_watch
curl_glue_watch_of(const struct curl_glue *g, int fd)
{
    const struct curl_glue_sock *gs;

    if (fd < 0 || (size_t)fd >= g->nsocks || (gs = g->socks[fd].gs) == NULL)
        return CURL_GLUE_NONE;
    return gs->parked ? CURL_GLUE_PARKED : CURL_GLUE_ACTIVE;
}
