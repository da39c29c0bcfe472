/* idle_tunnels.c: opens N idle HTTP tunnels to a gateway from one process (N client processes
 * would not fit one machine), answers the gateway's PINGs to keep them alive, and holds them
 * until stdin closes or --hold seconds pass. Prints one line "bound N tunnels in S s" when all
 * are up, so a caller can measure the gateway's memory per idle tunnel. Loopback only. */
#include "frame.h"
#include "limits.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define IDLE_MAX 20000

static double
idle_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Blocking read of whole frames from fd until one of type want arrives (others are PINGs to
 * answer). Returns 0, or -1 on error or ERROR frame. */
static int
idle_wait_for(int fd, uint8_t want)
{
    static uint8_t in[NGR_SCRATCH_LEN * 2];
    size_t len = 0;

    for (;;) {
        struct frame f;
        ssize_t n = read(fd, in + len, sizeof(in) - len), used;

        if (n <= 0)
            return -1;
        len += (size_t)n;
        while ((used = frame_decode(in, len, NGR_FRAME_MAX_PAYLOAD, &f)) > 0) {
            if (f.type == FRAME_ERROR) {
                struct frame_reason r;
                if (frame_reason_decode(&f, &r) == 0)
                    fprintf(stderr, "idle_tunnels: gateway refused: %.*s\n", (int)r.message.len,
                            r.message.p);
                return -1;
            }
            memmove(in, in + used, len - (size_t)used);
            len -= (size_t)used;
            if (f.type == want)
                return 0;
        }
        if (used != NGR_EAGAIN)
            return -1;
    }
}

static int
idle_open(const struct net_addr *server)
{
    uint8_t out[1024];
    struct frame_hello h;
    struct frame_bind b;
    struct ngr_err err;
    struct pollfd pfd;
    ssize_t n1, n2;
    int fd = net_connect(server, &err);

    if (fd < 0) {
        fprintf(stderr, "idle_tunnels: %s\n", err.msg);
        return -1;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, 5000) != 1 || net_connect_result(fd, server, &err) != 0) {
        close(fd);
        return -1;
    }
    /* Blocking for the handshake (one round trip), non-blocking again while idle. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    memcpy(out, NGR_PREFACE, NGR_PREFACE_LEN);
    memset(&h, 0, sizeof(h));
    h.version = NGR_PROTOCOL_VERSION;
    h.max_payload = NGR_FRAME_MAX_PAYLOAD;
    h.stream_window = NGR_STREAM_WINDOW;
    h.session_window = NGR_SESSION_WINDOW;
    h.heartbeat_ms = NGR_HEARTBEAT_MS;
    h.agent = frame_str_c("idle_tunnels");
    n1 = frame_hello_encode(out + NGR_PREFACE_LEN, sizeof(out) - NGR_PREFACE_LEN, &h, 0);
    memset(&b, 0, sizeof(b));
    b.handle = 1;
    b.proto = FRAME_PROTO_HTTP;
    b.target = frame_str_c("localhost:1");
    n2 = n1 < 0 ? -1
                : frame_bind_encode(out + NGR_PREFACE_LEN + n1,
                                    sizeof(out) - NGR_PREFACE_LEN - (size_t)n1, &b);
    if (n1 < 0 || n2 < 0 || write(fd, out, NGR_PREFACE_LEN + (size_t)(n1 + n2)) < 0 ||
        idle_wait_for(fd, FRAME_BOUND) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Answers every PING on fd; anything else is read and dropped. Returns -1 if fd closed. */
static int
idle_serve(int fd)
{
    uint8_t in[4096], out[64];
    ssize_t n = read(fd, in, sizeof(in)), off = 0;

    if (n == 0 || (n < 0 && errno != EAGAIN))
        return -1;
    /* Idle sessions get only 17-byte PINGs, which arrive whole. */
    while (n > 0 && off + NGR_FRAME_HEADER_LEN <= n) {
        struct frame f;
        ssize_t used = frame_decode(in + off, (size_t)(n - off), NGR_FRAME_MAX_PAYLOAD, &f);
        if (used <= 0)
            break;
        if (f.type == FRAME_PING && !(f.flags & FRAME_FLAG_ACK) && f.length == 8) {
            ssize_t m = frame_ping_encode(out, sizeof(out), FRAME_FLAG_ACK, f.payload);
            if (m > 0 && write(fd, out, (size_t)m) < 0)
                return -1;
        }
        off += used;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct net_addr server;
    struct ngr_err err;
    struct rlimit rl;
    struct epoll_event ev, evs[256];
    static int fds[IDLE_MAX];
    long count, hold;
    double t0, deadline;
    int i, ep, opened = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: idle_tunnels HOST:PORT COUNT HOLD_SECONDS\n");
        return 2;
    }
    if (net_parse_addr(argv[1], NULL, 0, &server, &err) != 0) {
        fprintf(stderr, "idle_tunnels: %s\n", err.msg);
        return 2;
    }
    count = strtol(argv[2], NULL, 10);
    hold = strtol(argv[3], NULL, 10);
    if (count < 1 || count > IDLE_MAX || hold < 1 || hold > 3600) {
        fprintf(stderr, "idle_tunnels: COUNT 1-%d, HOLD_SECONDS 1-3600\n", IDLE_MAX);
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    t0 = idle_now();
    for (i = 0; i < count; i++) {
        fds[i] = idle_open(&server);
        if (fds[i] < 0) {
            fprintf(stderr, "idle_tunnels: tunnel %d failed\n", i + 1);
            break;
        }
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.fd = fds[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
        opened++;
    }
    printf("bound %d tunnels in %.2f s\n", opened, idle_now() - t0);
    fflush(stdout);
    if (opened < count)
        return 1;
    /* Hold them: answer PINGs until the time is up or stdin closes. */
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.fd = STDIN_FILENO;
    epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
    deadline = idle_now() + (double)hold;
    while (idle_now() < deadline) {
        int n = epoll_wait(ep, evs, 256, 1000), k;
        for (k = 0; k < n; k++) {
            if (evs[k].data.fd == STDIN_FILENO) {
                char c;
                if (read(STDIN_FILENO, &c, 1) <= 0)
                    return 0;
                continue;
            }
            if (idle_serve(evs[k].data.fd) != 0) {
                fprintf(stderr, "idle_tunnels: the gateway closed a tunnel\n");
                return 1;
            }
        }
    }
    return 0;
}
