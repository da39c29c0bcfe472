/* limits.h: every limit, window and timeout of ngrnotok in one place, each with its unit. */
#ifndef NGR_LIMITS_H
#define NGR_LIMITS_H

/* Control protocol (docs/protocol.md). */
#define NGR_FRAME_HEADER_LEN 9              /* bytes */
#define NGR_FRAME_MIN_MAX_PAYLOAD 65536     /* bytes: a peer may not offer less */
#define NGR_FRAME_MAX_PAYLOAD 65536         /* bytes: what we accept and send */
#define NGR_FRAME_ABS_MAX_PAYLOAD 16777215  /* bytes: the 24-bit length field's ceiling */
#define NGR_DATA_SLICE 65536                /* bytes of body per DATA frame we send (one
                                             * frame per 64 KiB: 16 KiB cost 40% more CPU
                                             * on downloads) */
#define NGR_STREAM_WINDOW (256 * 1024)      /* bytes: initial credit of one stream */
#define NGR_SESSION_WINDOW (8 * 1024 * 1024) /* bytes: initial credit of a whole session */
/* Window growth (window.c, docs/protocol.md section 13). */
/* bytes: the largest a stream's receive window grows: above one bandwidth-delay product of
 * 1 Gbit/s over 200 ms (25 MB), so one download can fill such a link */
#define NGR_STREAM_WINDOW_MAX (32 * 1024 * 1024)
/* bytes: the default per-session budget (--session-budget): the sum of one session's stream
 * windows past which none of them grows */
#define NGR_SESSION_BUDGET (64 * 1024 * 1024)
/* bytes: the default budget of the whole process (--gateway-budget): the sum of all its
 * streams' windows, initial ones included, past which none grows and no new stream opens. At
 * the initial window that is 4,096 streams, as many as public connections. */
#define NGR_GATEWAY_BUDGET (1024ULL * 1024 * 1024)
#define NGR_BUDGET_MAX (1ULL << 40) /* bytes: the largest budget the settings take (1 TiB) */
/* the most a window grows in one step, as a factor: a window whose reader is faster than it
 * becomes twice what the measured rate needs per round trip, 2 to this many times its size.
 * Always doubling, a 256 MiB download over 200 ms at 1 Gbit/s spent a third of its time
 * growing (0.64x plain TCP) */
#define NGR_WINDOW_GROWTH 64
/* A new stream starts with the window the session's earlier streams showed they needed, if
 * that is more than NGR_STREAM_WINDOW (window_open_size; granted by WINDOW after OPEN, paid from
 * the budgets): the largest an ended or growing stream's window reached, and toward a near
 * peer the body it received, up to NGR_STREAM_WINDOW_NEAR. On loopback 256 KiB stopped every
 * 1 MiB response three times for credit (paused transfers, held-back copies); across a WAN a
 * fresh 256 KiB window costs each new download its first round trip. */
#define NGR_STREAM_WINDOW_NEAR (1024 * 1024)     /* bytes */
#define NGR_STREAM_WINDOW_OPEN_MAX (4 * 1024 * 1024) /* bytes: the most a new stream starts with */
#define NGR_WINDOW_LEARNED_HALF_MS 10000 /* ms: what was learned halves this often */
#define NGR_WINDOW_IDLE_MS 2000 /* ms without DATA on a stream: its window shrinks back */
#define NGR_RTT_PROBE_MS 1000   /* ms: the round trip is measured again this often while tuning */
/* bytes: credit goes back once a quarter of the window is drained, or this much, if less: a
 * grown window keeps its sender busy without waiting for a quarter of 32 MiB */
#define NGR_WINDOW_RETURN_MAX (2 * 1024 * 1024)
#define NGR_MAX_HEADERS 200                 /* header fields in one head */
#define NGR_MAX_STRING 65535                /* bytes in one length-prefixed string */
#define NGR_MAX_MESSAGE 256                 /* bytes: human text in ERROR, RST, GOAWAY */
#define NGR_MAX_SUBDOMAIN 63                /* bytes: one DNS label */
#define NGR_BIND_OPTS_MAX 32                /* protections one BIND asks for (basic auth, CIDRs) */
#define NGR_CIDR_MAX 32                     /* address ranges in one allow or deny list */
#define NGR_BASIC_AUTH_MAX 8                /* user:password pairs on one tunnel */
#define NGR_BASIC_AUTH_LEN 512              /* bytes of one user:password */
#define NGR_RATE_MAX 1000000                /* requests a second: the most a rate limit says */

/* Client tokens (auth_tokens.c). */
#define NGR_TOKEN_MAX 256                  /* bytes in one token */
#define NGR_TOKENS_FILE_MAX (1024 * 1024)  /* bytes: a larger --auth-tokens file is refused */
#define NGR_TOKEN_NAMES_MAX 64             /* name patterns after one token */

/* TLS (tls_cert.c). */
#define NGR_TLS_FILE_MAX (1024 * 1024) /* bytes: a certificate chain or key file */
#define NGR_TLS_CHAIN_MAX 16           /* certificates in one chain file */
/* GnuTLS priorities of every TLS listener and of the client's control connection: the
 * library's defaults, without TLS 1.0 and 1.1 */
#define NGR_TLS_PRIORITIES "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0"
#define NGR_REDIRECT_TARGET_MAX 8192 /* bytes of request target a redirect to HTTPS repeats */
/* TLS on the control connection (tls_io.c). */
#define NGR_TLS_RECORD 16384   /* bytes of plaintext in one TLS record we send: TLS's most */
#define NGR_CA_PATH_LEN 512    /* bytes, with the NUL: the client's --ca FILE */

/* Session health. */
#define NGR_HEARTBEAT_MS 10000  /* ms between PINGs on a quiet session */
#define NGR_DEAD_AFTER_MS 30000 /* ms without any byte from the peer: session dead */
#define NGR_HEARTBEAT_MIN_MS 100 /* ms: a shorter PING interval (an offer, --heartbeat) is refused */
#define NGR_HANDSHAKE_MS 10000  /* ms for a new connection to finish HELLO and BIND */
#define NGR_CONNECT_MS 10000    /* ms for the client to reach the gateway */

/* Reconnecting (docs/protocol.md section 10). */
#define NGR_RECONNECT_GRACE_MS 60000 /* ms a lost tunnel's name stays its client's */
#define NGR_RESERVATION_SWEEP_MS 1000 /* ms at least between sweeps of expired reservations */
#define NGR_RECONNECT_FIRST_MS 250   /* ms before the client's first reconnect attempt */
#define NGR_RECONNECT_MAX_MS 2000    /* ms: the longest wait between attempts (backoff cap),
                                      * so a gateway back from a restart has its clients
                                      * within about 2 s */
#define NGR_SECRET_LEN 64            /* characters of a reconnect secret (hex) */
#define NGR_SLOT_LEN 72              /* bytes, with the NUL: "http:" + a name, "tcp:" + a port */
#define NGR_HOLD_REQUESTS_MS 10000  /* ms a request for a reconnecting tunnel waits (default) */
#define NGR_HOLD_MAX 1000            /* requests held at once, in all: past it 503 */
#define NGR_HOLD_PER_TUNNEL 100      /* requests held at once for one name: past it 503 */
#define NGR_HOLD_RETRY_AFTER_S 5     /* s: Retry-After of a held request's 503 */
#define NGR_DRAIN_TIMEOUT_MS 10000   /* ms in-flight requests have after SIGTERM (default) */
#define NGR_DRAIN_CHECK_MS 50        /* ms between looks at whether the drain is done */
#define NGR_CLIENT_STOP_MS 5000      /* ms a stopping client (SIGINT, SIGTERM) gives the requests
                                      * it is answering, after its GOAWAY */
#define NGR_CLIENT_LEAVE_MS 30000    /* ms the gateway keeps the session of a client that said
                                      * GOAWAY, for its streams, before closing it */
#define NGR_STATE_BUSY_MS 1000       /* ms a state database write waits for a lock */
#define NGR_STATE_PATH_LEN 512       /* bytes, with the NUL: a state file's path */

/* Output: a peer that does not read its control socket gets this much, then is closed. The
 * flow-control windows bound DATA; the rest is control frames. */
#define NGR_SESSION_OUT_HARD (NGR_SESSION_WINDOW + 4 * 1024 * 1024) /* bytes */
#define NGR_READ_BUDGET (256 * 1024) /* bytes read from one socket per loop turn */
/* bytes: DATA is queued in a session's output only while it holds less than this; the rest
 * waits with its stream's owner, and streams take turns as the socket drains it */
#define NGR_SESSION_OUT_DATA (256 * 1024)
/* Toward a near peer the cap follows its rate like the kernel's unsent bytes below: what it
 * delivers in NGR_SESSION_OUT_DATA_US, between NGR_SESSION_OUT_DATA and this; toward a far one
 * it stays NGR_SESSION_OUT_DATA. On loopback a 256 KiB cap held back the bodies of concurrent
 * 1 MiB responses at every turn. */
#define NGR_SESSION_OUT_DATA_US 2000               /* us of the connection's delivery rate */
#define NGR_SESSION_OUT_DATA_MAX (4 * 1024 * 1024) /* bytes */
/* bytes: the start of every body goes with the control frames, ahead of queued DATA, so a small
 * response does not wait behind another stream's bulk (while the control queue is under
 * NGR_SESSION_OUT_DATA) */
#define NGR_DATA_FIRST (64 * 1024)
/* bytes: DATA this large, with nothing queued before it, is written to the control socket at
 * once from the sender's memory instead of being copied into the output buffer first. Smaller
 * frames wait for the end of the turn and share one write. */
#define NGR_DIRECT_WRITE (64 * 1024)
#define NGR_SCRATCH_LEN (NGR_FRAME_HEADER_LEN + NGR_FRAME_MAX_PAYLOAD) /* bytes */
#define NGR_DATA_SLICES_AT_ONCE 8 /* DATA frames one session_send_data call writes or queues */

/* The loop, sockets and buffers of both programs. */
/* Events taken per turn. Small on purpose: queued frames are written at the end of each turn,
 * so with many ready sockets (the client's local connections under load) a small batch passes
 * answers on sooner and the processes of a tunnel overlap instead of taking turns. 16 against
 * 256: about 15% more small requests per second through a tunnel (docs/performance.md). */
#define NGR_LOOP_EVENTS 16
#define NGR_LOOP_MAX_WAIT_MS 60000  /* ms: the longest epoll_wait while a timer is armed */
#define NGR_LOG_LINE 1024           /* bytes: one log message, cut there */
#define NGR_LISTENER_BATCH 64       /* connections accepted per readiness event */
#define NGR_LISTENER_PAUSE_MS 1000  /* ms without accepting once descriptors run out */
#define NGR_LISTEN_BACKLOG 1024     /* connections: listen(2) backlog of every listener */
/* bytes a pipe reads from its socket at once (64 KiB: a TCP tunnel moved a fifth less;
 * docs/performance.md) */
#define NGR_PIPE_READ_CHUNK (256 * 1024)
#define NGR_NOTSENT_LOWAT (64 * 1024) /* bytes queued unsent in the kernel before EAGAIN */
/* A control connection's unsent bytes in the kernel sit ahead of every control frame and
 * small response queued after them. Toward a near peer (loopback, a LAN: least PING round trip
 * under NGR_UNSENT_NEAR_US) the kernel holds what the connection delivers in NGR_UNSENT_US
 * (TCP_INFO's delivery rate), up to NGR_UNSENT_MAX; toward a farther one NGR_UNSENT_MIN, which
 * fills 1 Gbit/s at 20-200 ms (docs/performance.md). A fixed 16 KiB made a bulk sender on
 * loopback write and wake several times as often: 1 MiB responses through the HTTP tunnel at
 * 0.72-0.85x of what they were with no limit on the client's side. */
#define NGR_UNSENT_US 1000               /* us of the connection's delivery rate */
#define NGR_UNSENT_MIN (16 * 1024)       /* bytes: also the value before the first measure */
#define NGR_UNSENT_MAX (4 * 1024 * 1024) /* bytes: Linux's default largest send buffer */
#define NGR_UNSENT_NEAR_US 2000         /* us: a peer this near (least PING round trip) has
                                          * its rate read; a farther one keeps the minimum */
#define NGR_UNSENT_TUNE_MS 100           /* ms: the rate is read at most this often, while
                                          * bytes are being written */
/* bytes: a kept buffer's storage up to this size is freed when drained all the same (cheap to
 * get again), so an owner that only trickles holds nothing between its writes */
#define NGR_BUF_KEEP_MIN 4096
#define NGR_MAX_RESOLVED 4 /* addresses of the local service tried in turn */
/* ms from the first free after a heap trim to the next (heap_trim.h): both programs give free
 * heap pages back at most once per period under load, and this long after a burst. Without it
 * the client peaked at 25-29 MiB under 200 concurrent small requests after 1 MiB responses,
 * with it at 11.5 MiB (bench/run --only conc, docs/performance.md). A page given back costs a
 * fault when it is used again (about 1.2 us each on the project's machine: some 5 us per 1 MiB
 * response through the gateway), so not after every request. */
#define NGR_HEAP_TRIM_MS 1000

/* Gateway, public side. */
#define NGR_RESPONSE_TIMEOUT_MS 300000         /* ms from request to response head: 504; the
                                                * default and the most a tunnel may ask for
                                                * (long polls hold 30-60 s and more) */
/* bytes: libmicrohttpd's per-connection pool. It holds the request head and the upload read
 * buffer (half the pool: bigger reads, fewer DATA frames), and is cleared for every request
 * (bigger: more time per small request). Measured side by side (docs/performance.md): 32 KiB
 * costs small requests nothing over 16 KiB and cuts the gateway's upload CPU by a fifth;
 * 64 KiB costs small requests 1-2 us each. */
#define NGR_HTTP_CONN_MEMORY (32 * 1024)
#define NGR_MHD_RUNS_PER_TURN 8                /* libmicrohttpd runs per loop turn, at most */
#define NGR_HTTP_CONN_LIMIT 4096               /* public connections at once */
#define NGR_HTTP_CONN_TIMEOUT_S 120            /* s: idle public keep-alive connection (the
                                                * default of --idle-timeout) */
/* ms: a public connection's first request head must be complete this soon after it opens, else
 * 408 and close (--request-head-timeout; slowloris) */
#define NGR_REQUEST_HEAD_MS 10000
/* public requests and TCP connections open at once on one tunnel, past which 503 with
 * Retry-After (--max-streams-per-tunnel) */
#define NGR_TUNNEL_STREAMS 2000
/* tunnels one control connection holds at once: a client's config with many tunnels binds
 * them all over one connection (ngrnotok start); a BIND past this is refused */
#define NGR_TUNNELS_PER_SESSION 32
#define NGR_TUNNEL_NAME_LEN 64 /* bytes, with the NUL: a tunnel's name in the client's config */
#define NGR_CLIENT_CONFIG_MAX (64 * 1024) /* bytes: a larger client config file is refused */
/* tunnels one client token may hold at once (--max-tunnels-per-token) */
#define NGR_TUNNELS_PER_TOKEN 100
/* control connections from one source address at once (--max-conns-per-ip; 0: any). Behind a
 * proxy every client has the proxy's address: raise it there. */
#define NGR_CONNS_PER_IP 200
/* bytes a content reader may copy at once, for a response of known length: libmicrohttpd
 * allocates (and zeroes) this block with each streamed response and sends from it. 256 KiB
 * against 64 KiB: downloads 665 -> 760 MB/s. A shorter body gets a block of its size; a chunked
 * one the minimum, since libmicrohttpd builds chunks in the connection's pool instead. */
#define NGR_RESPONSE_BLOCK (256 * 1024)
#define NGR_RESPONSE_BLOCK_MIN 4096
#define NGR_ADMIN_CONN_LIMIT 64                /* admin connections at once */
#define NGR_MAX_SESSIONS 20000                 /* control sessions at once */
/* ms a suspended public request waits before its connection gets a hang-up watch: most waits
 * end within milliseconds, and a watch costs two epoll_ctl calls. */
#define NGR_HTTP_HUP_DELAY_MS 200
#define NGR_ADMIN_BACKLOG 64     /* connections: listen(2) backlog of the admin port */
#define NGR_ADMIN_CONN_TIMEOUT_S 30 /* s: idle admin connection */
#define NGR_FIELD_NAME_LEN 256 /* bytes: a response field name handed to libmicrohttpd, with NUL */
/* bytes: an error page's reason before escaping, its escaped title and text, the whole page */
#define NGR_ERROR_REASON_LEN 300
#define NGR_ERROR_TITLE_LEN 256
#define NGR_ERROR_TEXT_LEN 1024
#define NGR_ERROR_PAGE_LEN 2048
/* bytes: a peer's address as text (an IPv6 address at most 45, with its NUL), in logs, OPEN and
 * the admin API */
#define NGR_PEER_LEN 64
/* X-Forwarded-For elements read from a trusted proxy's request (--trusted-proxy), right to
 * left, before the walk gives up at the last address read: proxies in front of proxies */
#define NGR_FORWARDED_HOPS 16
#define NGR_HTTP_LOG_LEN 512  /* bytes: one line of libmicrohttpd's log, longer ones cut */
/* bytes: one access-log line, '\n' included (access_log.c), and the escaped request target in
 * it (cut with "..." past that): every value of a line is bounded so that it fits whole */
#define NGR_ACCESS_LINE_LEN 8192
#define NGR_ACCESS_TARGET_LEN 2048
/* bytes: GET /metrics is made in pieces of about this much (one family's lines for the next
 * tunnels), whatever the number of tunnels */
#define NGR_METRICS_PIECE (32 * 1024)
#define NGR_ACCESS_PATH_LEN 512 /* bytes, with the NUL: --access-log FILE */
#define NGR_ACCESS_METHOD_LEN 32 /* bytes, with the NUL: a request's method kept for its line */
#define NGR_NAME_ESC_LEN 160  /* bytes: a refused subdomain, escaped, in the refusal's sentence */
#define NGR_CONFIG_LINE_LEN 1024 /* bytes: one line of the config file, with its NUL */
#define NGR_CONFIG_KEY_LEN 64    /* bytes: a config key, with its NUL; longer keys are cut */

/* Client, local side. */
/* bytes: CURLOPT_BUFFERSIZE (each read from the local service), also the write-callback
 * slack. 256 KiB against 64 KiB: fewer reads and wake-ups per download, a tenth less client
 * CPU per GiB (docs/performance.md). */
#define NGR_CURL_BUFFER (256 * 1024)
/* bytes: CURLOPT_UPLOAD_BUFFERSIZE. Against libcurl's 64 KiB: a third less client CPU per
 * upload (fewer read callbacks and sends); 1 MiB measured no better. */
#define NGR_CURL_UPLOAD_BUFFER (256 * 1024)
/* bytes: glibc's malloc thresholds in the client. libcurl allocates its receive buffer
 * (NGR_CURL_BUFFER) for every transfer and frees it at the end; with glibc's adaptive
 * thresholds those frees kept shrinking the heap and the next transfers grew it again (a brk
 * for every 11 small requests, and their page faults). Such buffers come from the heap, which
 * is shrunk once 4 MiB at its top are free; free pages below the top go back with heap_trim.h.
 * mmap for each buffer instead (a threshold under 256 KiB): 6 us per malloc, touch and free
 * against 0.07 us, measured. */
#define NGR_CLIENT_MMAP_THRESHOLD (4 * NGR_CURL_BUFFER)
#define NGR_CLIENT_TRIM_THRESHOLD (16 * NGR_CURL_BUFFER)
#define NGR_REPLAY_POOL 64                           /* idle easy handles kept for reuse */
#define NGR_REPLAY_PENDING_MAX (2 * NGR_CURL_BUFFER) /* bytes: response held past the credit */
#define NGR_REPLAY_MAX_CONNECTS 256                  /* kept-alive connections to the service */
/* bytes, with the NUL: a request target (longer: RST TOO_LARGE) and a method (a longer one is
 * cut to fit) as libcurl is given them */
#define NGR_REPLAY_TARGET_LEN 8192
#define NGR_REPLAY_METHOD_LEN 64
#define NGR_LABEL_LEN 96        /* bytes, with the NUL: "GET /path" in the client's log lines */
#define NGR_LABEL_TARGET_LEN 80 /* bytes, with the NUL: the escaped target in such a label */
#define NGR_FORWARD_MAX_HEAD (64 * 1024) /* bytes: the local service's answer head to an upgrade */
#define NGR_FORWARD_HEAD_READ 4096       /* bytes read at a time while that head arrives */
/* bytes: an upgrade's request head as written to the local service (an OPEN's fields fit in one
 * frame; the request line and separators add less than 4 KiB to them) */
#define NGR_FORWARD_HEAD_OUT (NGR_FRAME_MAX_PAYLOAD + 4096)
/* bytes: a PROXY protocol header (tcp --proxy-protocol): version 1's longest line is 107 with
 * its CR LF, version 2's for IPv6 52 */
#define NGR_PROXY_HEADER_MAX 108
/* bytes: the longest PROXY header the control port reads from a trusted proxy (v2 with its TLVs;
 * v1 is at most 107); a longer one is refused. The least the protocol asks a receiver to take. */
#define NGR_PROXY_ACCEPT_MAX 536

/* Client, what it shows (live_view.c, live_stats.c) and who hears of each request
 * (exchange.h). */
#define NGR_EXCHANGE_OBSERVERS 4   /* consumers of finished requests: the view, an inspector */
#define NGR_EXCHANGE_METHOD_LEN 24 /* bytes, with the NUL: a method as shown (longer: cut) */
#define NGR_LIVE_WINDOW_MS 60000   /* ms: the header's rate and percentiles cover this long */
/* durations kept for the header's p50/p90: past this many in the window, the oldest go */
#define NGR_LIVE_DURATIONS 1024
#define NGR_LIVE_REDRAW_MS 250     /* ms between redraws of the terminal's header, at least */
#define NGR_LIVE_RTT_PROBE_MS 2000 /* ms: a terminal's header measures the round trip this often   \
                                    */
#define NGR_LIVE_LINE 1024         /* bytes: one line of output (a request, a header row) */
/* bytes of output waiting for a stdout that does not read: past it, request lines are dropped
 * (and counted) rather than the loop blocking on a write */
#define NGR_LIVE_OUT_MAX (256 * 1024)
#define NGR_LIVE_WRITE_CHUNK 4096 /* bytes a write to stdout after poll says it may: PIPE_BUF */
#define NGR_LIVE_RETRY_MS 100     /* ms before trying a stdout that was not writable again */
/* Client, the local inspector (inspect*.c): what it keeps and whom it serves. */
#define NGR_INSPECT_PORT_FIRST 4040 /* the default address is 127.0.0.1 on the first of these */
#define NGR_INSPECT_PORT_LAST 4049  /* ports free of another program, tried in order */
#define NGR_INSPECT_ENTRIES 100     /* exchanges kept (--inspect-max); past it the oldest go */
#define NGR_INSPECT_ENTRIES_MAX 100000
/* bytes: what the kept exchanges may hold in all (--inspect-budget), heads and bodies and
 * bookkeeping; past it the oldest go. Small, as nobody may be looking. */
#define NGR_INSPECT_BUDGET (2 * 1024 * 1024)
#define NGR_INSPECT_BUDGET_MAX ((size_t)1 << 32) /* bytes: the largest --inspect-budget */
/* bytes of each body kept (--inspect-body-max); the rest is counted, not kept, and such a
 * request cannot be replayed */
#define NGR_INSPECT_BODY_MAX (64 * 1024)
#define NGR_INSPECT_BODY_MAX_MAX (64 * 1024 * 1024) /* bytes: the largest --inspect-body-max */
/* bytes: a kept head (request line or status line and fields); a longer one is cut. An OPEN's
 * fields and a REPLY's fit in one frame. */
#define NGR_INSPECT_HEAD_MAX (NGR_FRAME_MAX_PAYLOAD + 4096)
/* bytes a kept capture's buffer may hold past its bytes; more is given back (a realloc) */
#define NGR_INSPECT_SLACK 1024
#define NGR_INSPECT_TOKEN_LEN 128  /* bytes, with the NUL: --inspect-token */
#define NGR_INSPECT_UPLOAD_MAX 4096 /* bytes: a POST's JSON body; longer: 413 */
#define NGR_INSPECT_CONNS 32        /* connections to the inspector at once */
#define NGR_INSPECT_CONN_TIMEOUT_S 60 /* s: an idle connection to the inspector is closed */
#define NGR_INSPECT_REPLAYS 16      /* replays (POST /api/requests/http) under way at once */
#define NGR_INSPECT_REPLAY_TIMEOUT_MS 300000 /* ms: a replay against the local service, at most */
#define NGR_INSPECT_ID_LEN 24       /* bytes, with the NUL: an exchange's id as text */

/* bytes, with the NUL: a unix socket path (unix:PATH), sun_path's size */
#define NGR_UNIX_PATH_LEN 108

/* `ngrnotok diagnose` (diagnose.c, diagnose_report.c, diagnose_responder.c). */
#define NGR_DIAGNOSE_COUNT 10       /* samples of each hop by default (--count) */
#define NGR_DIAGNOSE_COUNT_MAX 1000 /* samples of each hop at most */
#define NGR_DIAGNOSE_PATH_LEN 1024  /* bytes, with the NUL: --path, the local service's path */
/* bytes: the body the built-in responder sends for the throughput sample: a few round trips'
 * worth of windows, enough that the tunnel, not one request's setup, sets the rate */
#define NGR_DIAGNOSE_BODY (4 * 1024 * 1024)
#define NGR_DIAGNOSE_REQUEST_MS 30000 /* ms: one sample request, connecting included */
/* ms: the whole run, however many samples; past it the command gives up with exit 1 */
#define NGR_DIAGNOSE_DEADLINE_MS 600000
#define NGR_DIAGNOSE_PING_MS 10000 /* ms: one PING's round trip, at most */
#define NGR_DIAGNOSE_OUT 8192      /* bytes: the report, as text or JSON */

/* Addresses and names. */
#define NGR_ADDR_LEN 128  /* bytes: "host:port" as text */
#define NGR_DOMAIN_LEN 253 /* bytes: a DNS name */
#define NGR_URL_LEN 512   /* bytes: a public URL */
#define NGR_ID_LEN 32     /* bytes: a tunnel id as text, with its NUL */

/* Durations in the config and on the command line (--response-timeout). */
#define NGR_SECONDS_MIN 0.05  /* s */
#define NGR_SECONDS_MAX 86400 /* s: a day */

#endif
