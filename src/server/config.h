/* config.h: the gateway's settings, from defaults, a config file and command-line flags (in that
 * order of precedence, last wins). The file format is documented in config/ngrnotokd.conf. */
#ifndef NGR_CONFIG_H
#define NGR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "access_log.h"
#include "cidr.h"
#include "err.h"
#include "limits.h"
#include "log.h"
#include "net.h"

#define CONFIG_MAX_FILE (64 * 1024) /* bytes: a larger config file is refused */
#define CONFIG_TOKEN_LEN 128
#define CONFIG_PATH_LEN 512
#define CONFIG_RESERVED_LEN 2048 /* bytes of --reserved-names, normalised */

struct server_config {
    char domain[NGR_DOMAIN_LEN + 1]; /* lowercase, no trailing dot */
    struct net_addr control_addr;
    struct net_addr http_addr;
    struct net_addr admin_addr;
    char tls_cert[CONFIG_PATH_LEN]; /* PEM chain: the control port speaks TLS with it */
    char tls_key[CONFIG_PATH_LEN];  /* its key; both empty: plain TCP */
    struct net_addr https_addr;    /* public HTTPS listener, if https_on */
    int https_on;
    char https_cert[CONFIG_PATH_LEN]; /* PEM chain for *.domain; empty: tls_cert's */
    char https_key[CONFIG_PATH_LEN];
    int http_redirect;             /* plain HTTP answers 308 to HTTPS */
    unsigned public_port;          /* port shown in public URLs; 0: the bound HTTP port */
    char public_url[NGR_URL_LEN - NGR_MAX_SUBDOMAIN]; /* the URLs' form, with {name}
                                      * (public_url.h); empty: from the listeners */
    uint64_t response_timeout_ms;  /* request to response head, then 504 */
    uint64_t heartbeat_ms;         /* PING interval offered to clients (--heartbeat) */
    uint64_t dead_after_ms;        /* a client silent this long is dropped (--dead-after) */
    uint64_t reconnect_grace_ms;   /* a lost tunnel's name stays its client's this long */
    uint64_t hold_requests_ms;     /* its requests wait that long for it (0: none wait) */
    uint64_t drain_timeout_ms;     /* SIGTERM: in-flight requests have this long to finish */
    char state_dir[CONFIG_PATH_LEN]; /* reservations and the secrets' key; empty: the default
                                      * ($STATE_DIRECTORY, else the user's state directory) */
    char token[CONFIG_TOKEN_LEN];  /* empty: any client may connect (unless auth_tokens) */
    char auth_tokens[CONFIG_PATH_LEN]; /* a tokens file (auth_tokens.h); empty: none */
    char admin_token[CONFIG_TOKEN_LEN];     /* the admin API's bearer token; empty: none */
    char admin_token_file[CONFIG_PATH_LEN]; /* or a file holding it (re-read on SIGHUP) */
    char reserved_names[CONFIG_RESERVED_LEN]; /* lowercase, comma-separated (name_policy.h) */
    char ports_file[CONFIG_PATH_LEN];
    char access_log[CONFIG_PATH_LEN]; /* a file, "-" (stdout) or "" (off, the default) */
    enum access_log_format access_log_format; /* text (default) or json */
    enum log_level log_level;
    unsigned tcp_port_low;  /* TCP tunnels get public ports from this range; 0: off */
    unsigned tcp_port_high;
    char tcp_host[NGR_ADDR_LEN]; /* where TCP tunnels listen (default 127.0.0.1) */
    uint64_t session_budget; /* bytes: one session's stream windows, past which none grows */
    uint64_t gateway_budget; /* bytes: all stream windows; past it no new stream opens */
    uint64_t max_body_size;  /* bytes of one public request's body; 0: unlimited (413) */
    unsigned max_streams_per_tunnel; /* public requests and connections open at once (503) */
    uint64_t request_head_timeout_ms; /* a public connection's first head, complete (408) */
    unsigned idle_timeout_s;  /* a kept-alive public connection with no request is closed */
    struct cidr_list deny_cidr; /* public clients refused on every tunnel (--deny-cidr) */
    struct cidr_list trusted_proxy; /* peers whose X-Forwarded-For and -Proto are believed
                                     * (--trusted-proxy; trusted_proxy.h) */
    unsigned max_tunnels;           /* tunnels in all (--max-tunnels) */
    unsigned max_tunnels_per_token; /* tunnels one token holds (--max-tunnels-per-token) */
    unsigned max_conns_per_ip;      /* control connections from one address; 0: any */
    uint32_t max_rate;        /* requests a second per tunnel: the default and the most a
                               * client may ask for (--max-rate); 0: none */
};

/* The embedded defaults: everything on one machine (domain localhost, 127.0.0.1:8080-8082). */
void config_defaults(struct server_config *c);

/* Sets one key ("domain", "control_addr", ...; '-' and '_' are the same) from text. Returns 0 or
 * NGR_EINVAL with a reason naming the key and value. */
int config_set(struct server_config *c, const char *key, const char *value, struct ngr_err *err);

/* Parses "key = value" lines (ini_file.h: '#' or ';' starts a comment, values may be quoted
 * with ", no sections). Stops at the first bad line with its number in err. */
int config_parse(struct server_config *c, const char *text, size_t len, struct ngr_err *err);

/* Reads and parses a file (at most CONFIG_MAX_FILE bytes). */
int config_load(struct server_config *c, const char *path, struct ngr_err *err);


#endif
