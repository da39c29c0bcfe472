/* delay_line.c: an emulated WAN link on loopback for bench/wan (the kernel here has no netem).
 *
 *   delay_line [--delay-ms MS] [--rate-mbit R] [--queue-ms Q] [--window-kib W]
 *              [--no-handshake] [--max-seconds S] LISTEN_PORT:HOST:PORT ...
 *
 * Each forward listens on 127.0.0.1:LISTEN_PORT (0: a free port) and relays every connection it
 * accepts to HOST:PORT (a numeric IPv4 address). Once all listen it prints "ports P1 P2 ..." on
 * stdout. All connections of one delay_line share one link per direction, as between two hosts:
 * "up" carries what the accepting side sends to the target, "down" the answers.
 *
 * A link is a serializer followed by a propagation delay. Bytes read are stamped: a chunk of len
 * bytes departs at max(now, previous departure) + len / R, and is written out at its departure +
 * MS. The serialization queue (bytes read but not yet departed, which is last departure - now in
 * time) is bounded at Q ms (default the round trip, 2 x MS: one bandwidth-delay product); while it
 * is full nothing more is read on that link, so senders see back-pressure as from a full link.
 * The relay's sockets have small receive buffers, so that the kernel's adds little hidden queue
 * in front of the link.
 *
 * The relay ends each TCP connection itself, so the two programs' own TCP sees loopback: no
 * slow start, no loss, no window of its own. What crosses the link with the delay is every
 * byte, FIN and reset, and the handshake: the client's first bytes are read one round trip
 * after its connect (when its SYN-ACK would arrive) and the target is connected half a round
 * trip later (when a real server would accept), so a first request is answered no earlier than
 * through a real link. Per connection and direction at most W KiB (default: the queue, the bytes
 * in flight and 1 MiB) may be held, so memory stays bounded when a receiver stops reading.
 *
 * One epoll loop (edge-triggered), chunks of at most 1 ms of the link (4-64 KiB), writev of many
 * chunks at once, and epoll_pwait2's nanosecond timeout for release times; everything due is
 * released at each wake-up, so timer granularity does not cap the rate. SIGUSR1 and exit print
 * the links' counters on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DL_MAX_FORWARDS 16
#define DL_MAX_CONNS 4096
/* bytes: SO_RCVBUF of every relay socket. What waits in it while the link's queue is full is a
 * queue of its own in front of the link, one per connection (the kernel doubles the value and
 * advertises most of it): kept small, so that a connection's queue is the link's and not
 * 256 KiB more (20 ms at 100 Mbit/s). */
#define DL_RCVBUF (16 * 1024)
#define DL_SNDBUF (128 * 1024) /* bytes: SO_SNDBUF of every relay socket */
#define DL_CHUNK_MIN 4096
#define DL_CHUNK_MAX 65536
#define DL_IOV 64             /* chunks per writev */
#define DL_READ_PASSES 16     /* rounds over all connections per loop turn */
#define DL_EVENTS 64

enum { DL_UP = 0, DL_DOWN = 1 };
enum { CHUNK_DATA, CHUNK_FIN, CHUNK_RST };
enum { REF_LISTENER, REF_CONN };

struct conn;

struct chunk {
    struct chunk *next; /* in the link's queue, then in the connection's output */
    struct conn *conn;
    uint64_t release;   /* ns (CLOCK_MONOTONIC): when it leaves the link */
    uint32_t len, off;  /* off: bytes of it already written */
    int kind;
    uint8_t data[];
};

struct fifo {
    struct chunk *head, *tail;
};

struct link {
    struct fifo q;           /* departed or not, in order; release times never decrease */
    uint64_t last_departure; /* ns */
    int full;                /* a read was held back for a full queue (wake at its drain) */
    uint64_t bytes, chunks;
    uint64_t peak_queue_ns;
};

/* What an epoll event points to. */
struct ref {
    int kind;
    int side;
    void *p;
};

struct forward {
    struct ref ref;
    int fd;
    uint16_t port;
    struct sockaddr_in target;
};

/* Side 0 is the accepted socket, side 1 the one to the target. Direction d reads side d and
 * writes side 1 - d through link d (DL_UP: 0 -> 1, DL_DOWN: 1 -> 0). */
struct conn {
    struct conn *prev, *next;
    struct conn *pending_next; /* waiting for its connect time */
    const struct forward *fw;
    struct ref ref[2];
    int fd[2];
    int readable[2], writable[2]; /* edge-triggered readiness, per side */
    int connected;                /* side 1 is connected */
    uint64_t open_at;    /* side 0 is read from then on (the client's SYN-ACK has arrived) */
    uint64_t connect_at; /* side 1 is connected then (the server's accept) */
    struct fifo out[2];   /* direction d: released, to write to side 1 - d */
    size_t held[2];       /* direction d: bytes read and not yet written */
    int rd_done[2];       /* direction d: side d gave EOF or an error: read no more */
    int wr_done[2];       /* direction d: FIN passed on (or the direction is dead) */
    int dead[2];          /* direction d: drop what is still in the link */
    int refs;             /* chunks of this connection still in a link */
    int closed;
};

static struct {
    uint64_t delay_ns, queue_ns;
    double ns_per_byte;
    size_t window, chunk_max;
    int handshake;
    struct link link[2];
    struct forward fw[DL_MAX_FORWARDS];
    int nfw;
    struct conn *conns;
    struct conn *rr[2]; /* per link: where the next round of reads starts (NULL: the head) */
    int nconns;
    struct conn *pending_head, *pending_tail;
    int ep;
    uint8_t *spare; /* a chunk of chunk_max bytes to read into */
} dl;

static volatile sig_atomic_t dl_stop, dl_report;

static uint64_t
dl_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
dl_on_signal(int sig)
{
    if (sig == SIGUSR1)
        dl_report = 1;
    else
        dl_stop = 1;
}

static void
dl_stats(void)
{
    static const char *names[2] = {"up", "down"};
    int d;

    for (d = 0; d < 2; d++) {
        const struct link *l = &dl.link[d];
        fprintf(stderr, "delay_line: %s: %llu bytes in %llu chunks, peak queue %.2f ms\n",
                names[d], (unsigned long long)l->bytes, (unsigned long long)l->chunks,
                (double)l->peak_queue_ns / 1e6);
    }
}

static void
fifo_push(struct fifo *f, struct chunk *c)
{
    c->next = NULL;
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
}

static struct chunk *
fifo_pop(struct fifo *f)
{
    struct chunk *c = f->head;

    if (c) {
        f->head = c->next;
        if (f->head == NULL)
            f->tail = NULL;
    }
    return c;
}

static void
fifo_free(struct fifo *f)
{
    struct chunk *c;

    while ((c = fifo_pop(f)) != NULL)
        free(c);
}

/* Time the queue of link d still needs to serialize what it holds. */
static uint64_t
link_queue_ns(const struct link *l, uint64_t now)
{
    return l->last_departure > now ? l->last_departure - now : 0;
}

/* Stamps chunk c and appends it to link d: serialized after everything before it, then delayed.
 * FIN and reset markers take no time on the wire but keep their place in the order. */
static void
link_push(int d, struct conn *c, struct chunk *ch, uint64_t now)
{
    struct link *l = &dl.link[d];
    uint64_t start = l->last_departure > now ? l->last_departure : now;
    uint64_t q;

    l->last_departure = start + (uint64_t)((double)ch->len * dl.ns_per_byte + 0.5);
    ch->release = l->last_departure + dl.delay_ns;
    ch->conn = c;
    c->refs++;
    fifo_push(&l->q, ch);
    l->bytes += ch->len;
    l->chunks++;
    q = link_queue_ns(l, now);
    if (q > l->peak_queue_ns)
        l->peak_queue_ns = q;
}

static int
link_marker(int d, struct conn *c, int kind, uint64_t now)
{
    struct chunk *ch = calloc(1, sizeof(*ch));

    if (ch == NULL)
        return -1;
    ch->kind = kind;
    link_push(d, c, ch, now);
    return 0;
}

static void
sock_tune(int fd)
{
    int rcv = DL_RCVBUF, snd = DL_SNDBUF, one = 1;

    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int
ep_add(int fd, struct ref *r, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = r;
    return epoll_ctl(dl.ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Closes both sockets; with hard set, as a reset (SO_LINGER 0). The connection itself is freed
 * once no chunk in a link points to it. */
static void
conn_close(struct conn *c, int hard)
{
    struct linger lg = {1, 0};
    int s, d;

    if (c->closed)
        return;
    for (s = 0; s < 2; s++) {
        if (c->fd[s] < 0)
            continue;
        if (hard)
            setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(c->fd[s]);
        c->fd[s] = -1;
    }
    for (d = 0; d < 2; d++) {
        fifo_free(&c->out[d]);
        c->held[d] = 0;
        c->dead[d] = 1;
    }
    c->closed = 1;
}

static void
conn_free(struct conn *c)
{
    int d;

    for (d = 0; d < 2; d++)
        if (dl.rr[d] == c)
            dl.rr[d] = c->next;
    if (c->prev)
        c->prev->next = c->next;
    else
        dl.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    dl.nconns--;
    free(c);
}

/* Writing side 1 - d failed: its peer is gone. The reset goes back through the other link to
 * side d's peer; direction d is dead. */
static void
conn_write_failed(struct conn *c, int d, uint64_t now)
{
    fifo_free(&c->out[d]);
    c->held[d] = 0;
    c->dead[d] = c->wr_done[d] = 1;
    c->rd_done[d] = 1;
    if (!c->rd_done[1 - d]) {
        c->rd_done[1 - d] = 1;
        if (link_marker(1 - d, c, CHUNK_RST, now) != 0)
            conn_close(c, 1);
    }
}

static void
conn_connect(struct conn *c, uint64_t now)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        conn_close(c, 1);
        return;
    }
    sock_tune(fd);
    c->fd[1] = fd;
    if (connect(fd, (const struct sockaddr *)&c->fw->target, sizeof(c->fw->target)) != 0 &&
        errno != EINPROGRESS) {
        conn_close(c, 1);
        return;
    }
    /* Connected or not, EPOLLOUT comes once it is (or has failed): dl_conn_event checks. */
    if (ep_add(fd, &c->ref[1], EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0)
        conn_close(c, 1);
    (void)now;
}

static void
dl_accept(struct forward *fw, uint64_t now)
{
    for (;;) {
        struct conn *c;
        int fd = accept4(fw->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: the next connection tries again */
        if (dl.nconns >= DL_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
            close(fd);
            continue;
        }
        sock_tune(fd);
        c->fw = fw;
        c->fd[0] = fd;
        c->fd[1] = -1;
        c->ref[0] = (struct ref){REF_CONN, 0, c};
        c->ref[1] = (struct ref){REF_CONN, 1, c};
        c->next = dl.conns;
        if (dl.conns)
            dl.conns->prev = c;
        dl.conns = c;
        dl.nconns++;
        if (ep_add(fd, &c->ref[0], EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
            conn_close(c, 1);
            continue;
        }
        /* The SYN, SYN-ACK and first ACK: a real client sends its first bytes one round trip
         * after its connect, and the server accepts half a round trip later. The kernel has
         * already told the client it is connected, so what it sends is left unread until then. */
        c->open_at = now + (dl.handshake ? 2 * dl.delay_ns : 0);
        c->connect_at = now + (dl.handshake ? 3 * dl.delay_ns : 0);
        if (!dl.handshake) {
            conn_connect(c, now);
            continue;
        }
        c->refs++; /* held by the pending list until its connect time */
        if (dl.pending_tail)
            dl.pending_tail->pending_next = c;
        else
            dl.pending_head = c;
        dl.pending_tail = c;
    }
}

/* Moves every chunk whose time has come from the links to its connection's output. */
static void
dl_release(uint64_t now)
{
    int d;

    for (d = 0; d < 2; d++) {
        struct link *l = &dl.link[d];

        while (l->q.head && l->q.head->release <= now) {
            struct chunk *ch = fifo_pop(&l->q);
            struct conn *c = ch->conn;

            c->refs--;
            if (c->dead[d])
                free(ch);
            else
                fifo_push(&c->out[d], ch);
        }
    }
}

/* Writes direction d's released output to side 1 - d, as far as the socket takes it. */
static void
conn_flush(struct conn *c, int d, uint64_t now)
{
    int s = 1 - d;

    if (c->closed || (s == 1 && !c->connected))
        return;
    while (c->out[d].head && c->writable[s]) {
        struct chunk *ch = c->out[d].head;

        if (ch->kind == CHUNK_DATA) {
            struct iovec iov[DL_IOV];
            struct chunk *k;
            ssize_t n;
            int cnt = 0;

            for (k = ch; k && k->kind == CHUNK_DATA && cnt < DL_IOV; k = k->next, cnt++) {
                iov[cnt].iov_base = k->data + k->off;
                iov[cnt].iov_len = k->len - k->off;
            }
            n = writev(c->fd[s], iov, cnt);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN) {
                    c->writable[s] = 0;
                    return;
                }
                conn_write_failed(c, d, now);
                return;
            }
            while (n > 0) {
                ch = c->out[d].head;
                if ((size_t)n >= ch->len - ch->off) {
                    n -= (ssize_t)(ch->len - ch->off);
                    c->held[d] -= ch->len - ch->off;
                    free(fifo_pop(&c->out[d]));
                } else {
                    ch->off += (uint32_t)n;
                    c->held[d] -= (size_t)n;
                    n = 0;
                    c->writable[s] = 0; /* a short write: the socket is full, EPOLLOUT follows */
                }
            }
        } else if (ch->kind == CHUNK_FIN) {
            free(fifo_pop(&c->out[d]));
            shutdown(c->fd[s], SHUT_WR);
            c->wr_done[d] = 1;
        } else {
            conn_close(c, 1);
            return;
        }
    }
    if (c->wr_done[0] && c->wr_done[1])
        conn_close(c, 0);
}

/* Reads one chunk from side d into link d, if the link and the connection's window allow.
 * Returns 1 if it read something (or met the end), 0 if not. */
static int
conn_read(struct conn *c, int d, uint64_t now)
{
    struct link *l = &dl.link[d];
    struct chunk *ch;
    ssize_t n;

    if (c->closed || c->rd_done[d] || !c->readable[d] || (d == DL_DOWN && !c->connected) ||
        (d == DL_UP && now < c->open_at) || c->held[d] >= dl.window)
        return 0;
    if (link_queue_ns(l, now) >= dl.queue_ns) {
        l->full = 1;
        return 0;
    }
    if (dl.spare == NULL && (dl.spare = malloc(sizeof(struct chunk) + dl.chunk_max)) == NULL)
        return 0;
    ch = (struct chunk *)dl.spare;
    n = read(c->fd[d], ch->data, dl.chunk_max);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            c->readable[d] = errno == EINTR;
            return 0;
        }
        /* A reset (or another error): passed on after the delay, then both sides close. */
        c->rd_done[d] = 1;
        if (link_marker(d, c, CHUNK_RST, now) != 0)
            conn_close(c, 1);
        return 1;
    }
    if (n == 0) {
        c->rd_done[d] = 1;
        if (link_marker(d, c, CHUNK_FIN, now) != 0)
            conn_close(c, 1);
        return 1;
    }
    if ((size_t)n >= dl.chunk_max / 2) {
        dl.spare = NULL; /* keep the whole buffer; a new spare comes with the next read */
    } else {
        struct chunk *small = malloc(sizeof(*small) + (size_t)n);
        if (small == NULL)
            return 0; /* the bytes stay in the spare, lost: only on out of memory */
        memcpy(small->data, ch->data, (size_t)n);
        ch = small;
    }
    ch->kind = CHUNK_DATA;
    ch->len = (uint32_t)n;
    ch->off = 0;
    c->held[d] += (size_t)n;
    link_push(d, c, ch, now);
    return 1;
}

/* Reads from every connection in turn, one chunk at a time, each link's round starting after the
 * connection that read last, so that connections sharing a link share it fairly (starting at the
 * list's head would give the first connection all of a link that is full after every read).
 * Returns 1 if more could be read right away. */
static int
dl_pump(uint64_t now)
{
    int d, more = 0;

    for (d = 0; d < 2; d++) {
        struct conn *start = dl.rr[d] ? dl.rr[d] : dl.conns, *c, *last = NULL;
        int pass, any = 0;

        dl.link[d].full = 0;
        if (start == NULL)
            continue;
        for (pass = 0; pass < DL_READ_PASSES; pass++) {
            any = 0;
            c = start;
            do {
                if (conn_read(c, d, now)) {
                    any = 1;
                    last = c;
                }
                c = c->next ? c->next : dl.conns;
            } while (c != start);
            if (!any)
                break;
        }
        if (last)
            dl.rr[d] = last->next;
        more |= any;
    }
    return more;
}

static void
dl_conn_event(struct conn *c, int s, uint32_t ev, uint64_t now)
{
    if (c->closed)
        return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable[s] = 1;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable[s] = 1;
    if (s == 1 && !c->connected && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            conn_close(c, 1); /* refused: the client gets a reset */
            return;
        }
        c->connected = 1;
    }
    (void)now;
}

/* The next time something is due, or -1 for none: a release, a connection to open or to
 * connect, or a full queue's drain. */
static int64_t
dl_next(uint64_t now)
{
    uint64_t t = UINT64_MAX;
    const struct conn *c;
    int d;

    for (d = 0; d < 2; d++) {
        const struct link *l = &dl.link[d];

        if (l->q.head && l->q.head->release < t)
            t = l->q.head->release;
        if (l->full) {
            uint64_t drain = l->last_departure - dl.queue_ns + 1;
            if (drain < t)
                t = drain;
        }
    }
    if (dl.pending_head && dl.pending_head->connect_at < t)
        t = dl.pending_head->connect_at;
    /* The first pending connection not yet read from (they are in the order of their accepts,
     * so of their open_at too). */
    for (c = dl.pending_head; c; c = c->pending_next) {
        if (c->open_at > now) {
            if (c->open_at < t)
                t = c->open_at;
            break;
        }
    }
    if (t == UINT64_MAX)
        return -1;
    return t > now ? (int64_t)(t - now) : 0;
}

static int
dl_listen(struct forward *fw)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int one = 1;

    fw->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fw->fd < 0)
        return -1;
    setsockopt(fw->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sock_tune(fw->fd); /* before listen: accepted sockets inherit it (and the window scale) */
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(fw->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fw->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fw->fd, 1024) != 0 ||
        getsockname(fw->fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    fw->port = ntohs(a.sin_port);
    fw->ref = (struct ref){REF_LISTENER, 0, fw};
    return ep_add(fw->fd, &fw->ref, EPOLLIN);
}

/* "LISTEN_PORT:HOST:PORT", HOST a numeric IPv4 address. */
static int
dl_parse_forward(const char *s, struct forward *fw)
{
    char host[64];
    const char *c1 = strchr(s, ':'), *c2 = strrchr(s, ':');
    char *end;
    unsigned long lp, tp;

    if (c1 == NULL || c1 == c2 || (size_t)(c2 - c1 - 1) >= sizeof(host))
        return -1;
    lp = strtoul(s, &end, 10);
    if (end != c1 || lp > 65535)
        return -1;
    tp = strtoul(c2 + 1, &end, 10);
    if (*end != '\0' || tp == 0 || tp > 65535)
        return -1;
    memcpy(host, c1 + 1, (size_t)(c2 - c1 - 1));
    host[c2 - c1 - 1] = '\0';
    memset(fw, 0, sizeof(*fw));
    fw->port = (uint16_t)lp;
    fw->target.sin_family = AF_INET;
    fw->target.sin_port = htons((uint16_t)tp);
    return inet_pton(AF_INET, host, &fw->target.sin_addr) == 1 ? 0 : -1;
}

static void
dl_usage(void)
{
    fprintf(stderr, "usage: delay_line [--delay-ms MS] [--rate-mbit R] [--queue-ms Q] "
            "[--window-kib W] [--no-handshake] [--max-seconds S] LISTEN_PORT:HOST:PORT ...\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"delay-ms", required_argument, NULL, 'd'}, {"rate-mbit", required_argument, NULL, 'r'},
        {"queue-ms", required_argument, NULL, 'q'}, {"window-kib", required_argument, NULL, 'w'},
        {"no-handshake", no_argument, NULL, 'n'}, {"max-seconds", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0}};
    double delay_ms = 10, rate_mbit = 100, queue_ms = -1, window_kib = -1, max_s = 3600;
    double bytes_per_ns;
    struct epoll_event evs[DL_EVENTS];
    struct sigaction sa;
    uint64_t deadline;
    int o, i;

    dl.handshake = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd': delay_ms = strtod(optarg, NULL); break;
        case 'r': rate_mbit = strtod(optarg, NULL); break;
        case 'q': queue_ms = strtod(optarg, NULL); break;
        case 'w': window_kib = strtod(optarg, NULL); break;
        case 'n': dl.handshake = 0; break;
        case 'm': max_s = strtod(optarg, NULL); break;
        default: dl_usage(); return 2;
        }
    }
    if (optind >= argc || argc - optind > DL_MAX_FORWARDS || !(delay_ms >= 0 && delay_ms <= 10000)
        || !(rate_mbit >= 0.1 && rate_mbit <= 100000) || !(max_s > 0)) {
        dl_usage();
        return 2;
    }
    if (queue_ms < 0)
        queue_ms = 2 * delay_ms;
    bytes_per_ns = rate_mbit * 1e6 / 8 / 1e9;
    dl.delay_ns = (uint64_t)(delay_ms * 1e6);
    dl.queue_ns = (uint64_t)(queue_ms * 1e6);
    if (dl.queue_ns == 0)
        dl.queue_ns = 1;
    dl.ns_per_byte = 1 / bytes_per_ns;
    /* A chunk is at most 1 ms of the link: what a reply queued behind one waits at most. */
    dl.chunk_max = (size_t)(bytes_per_ns * 1e6);
    dl.chunk_max = dl.chunk_max < DL_CHUNK_MIN ? DL_CHUNK_MIN
                   : dl.chunk_max > DL_CHUNK_MAX ? DL_CHUNK_MAX : dl.chunk_max;
    /* Enough that one connection fills the queue and the wire: the link, not this, limits. */
    dl.window = window_kib > 0 ? (size_t)(window_kib * 1024)
                               : (size_t)(bytes_per_ns * (queue_ms + delay_ms) * 1e6) + (1 << 20);
    dl.ep = epoll_create1(EPOLL_CLOEXEC);
    if (dl.ep < 0) {
        perror("delay_line: epoll_create1");
        return 1;
    }
    for (i = optind; i < argc; i++) {
        struct forward *fw = &dl.fw[dl.nfw];
        if (dl_parse_forward(argv[i], fw) != 0) {
            fprintf(stderr, "delay_line: bad forward \"%s\": expected LISTEN_PORT:IPV4:PORT\n",
                    argv[i]);
            return 2;
        }
        if (dl_listen(fw) != 0) {
            fprintf(stderr, "delay_line: listen on 127.0.0.1:%u: %s\n", fw->port, strerror(errno));
            return 1;
        }
        dl.nfw++;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dl_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL); /* release times to the microsecond, not 50 us late */
    printf("ports");
    for (i = 0; i < dl.nfw; i++)
        printf(" %u", dl.fw[i].port);
    printf("\n");
    fflush(stdout);
    deadline = dl_now() + (uint64_t)(max_s * 1e9);
    while (!dl_stop) {
        uint64_t now = dl_now();
        int64_t wait;
        struct timespec ts;
        struct conn *c, *next;
        int n, k, more;

        if (now >= deadline)
            break;
        while (dl.pending_head && dl.pending_head->connect_at <= now) {
            c = dl.pending_head;
            dl.pending_head = c->pending_next;
            if (dl.pending_head == NULL)
                dl.pending_tail = NULL;
            if (!c->closed)
                conn_connect(c, now);
            c->refs--; /* the pending list's hold (dl_accept) */
        }
        dl_release(now);
        for (c = dl.conns; c; c = c->next) {
            conn_flush(c, DL_UP, now);
            conn_flush(c, DL_DOWN, now);
        }
        more = dl_pump(now);
        for (c = dl.conns; c; c = next) {
            next = c->next;
            if (c->closed && c->refs == 0)
                conn_free(c);
        }
        if (dl_report) {
            dl_report = 0;
            dl_stats();
        }
        wait = more ? 0 : dl_next(dl_now());
        if (wait >= 0) {
            uint64_t left = deadline - now;
            if ((uint64_t)wait > left)
                wait = (int64_t)left;
            ts.tv_sec = wait / 1000000000;
            ts.tv_nsec = wait % 1000000000;
        } else {
            uint64_t left = deadline - now;
            ts.tv_sec = (time_t)(left / 1000000000);
            ts.tv_nsec = (long)(left % 1000000000);
        }
        n = epoll_pwait2(dl.ep, evs, DL_EVENTS, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            perror("delay_line: epoll_pwait2");
            return 1;
        }
        now = dl_now();
        for (k = 0; k < n; k++) {
            struct ref *r = evs[k].data.ptr;
            if (r->kind == REF_LISTENER)
                dl_accept(r->p, now);
            else
                dl_conn_event(r->p, r->side, evs[k].events, now);
        }
    }
    dl_stats();
    return 0;
}
