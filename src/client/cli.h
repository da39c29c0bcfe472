/* cli.h: the command line of ngrnotok: `ngrnotok http|tcp [OPTIONS] PORT|HOST:PORT` (one
 * tunnel), `ngrnotok start NAME...|--all` (tunnels of the config file, over one connection),
 * `ngrnotok diagnose [TARGET]` and `ngrnotok config set-token|set-server|check|path`.
 * Settings come from the built-in defaults, then the config file (client_config.h), then
 * NGRNOTOK_SERVER and NGRNOTOK_TOKEN, then the options, each overriding the one before. */
#ifndef NGR_CLI_H
#define NGR_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "limits.h"
#include "log.h"
#include "net.h"

#define CLI_TOKEN_LEN 128

/* One tunnel: the command line's, or a section of the config file. Its option values are
 * owned by the cli_options it is in. */
struct cli_tunnel {
    char name[NGR_TUNNEL_NAME_LEN]; /* its section's name; "" for the command line's */
    int proto;                      /* enum frame_proto */
    int has_local;
    struct net_addr local;                 /* the local service (for unix:, "localhost:80") */
    int scheme;                            /* enum cli_scheme: how the local service is reached */
    char unix_path[NGR_UNIX_PATH_LEN];     /* unix:PATH: the socket */
    int upstream_insecure;                 /* https: do not verify the service's certificate */
    char upstream_ca[NGR_CA_PATH_LEN];     /* https: the CAs to trust (PEM); "": the system's */
    char subdomain[NGR_MAX_SUBDOMAIN + 1]; /* empty: the gateway picks one */
    int host_rewrite;         /* send Host: HOST:PORT instead of the public Host */
    int pool;                 /* share the name (or port) with other clients */
    unsigned remote_port;     /* tcp: the public port asked for; 0: any */
    int proxy_protocol;       /* tcp: 1 or 2, a PROXY header first (proxy_header.h); 0: none */
    /* What the gateway is to enforce for the tunnel, sent in BIND: "basic_auth", "allow_cidr",
     * "deny_cidr", "rate_limit", "rate_burst", "response_timeout", "pool" with a value. */
    struct {
        const char *key, *value;
    } protect[NGR_BIND_OPTS_MAX];
    size_t nprotect;
};

enum cli_command { CLI_CMD_TUNNEL, CLI_CMD_START, CLI_CMD_CONFIG, CLI_CMD_DIAGNOSE };
/* The local service: PORT, HOST:PORT and http://HOST[:PORT] are HTTP; https://HOST[:PORT];
 * unix:PATH is HTTP over a unix socket. */
enum cli_scheme { CLI_SCHEME_HTTP = 0, CLI_SCHEME_HTTPS, CLI_SCHEME_UNIX };
/* What stdout shows while tunnels run (live_view.h). */
enum cli_output { CLI_OUTPUT_TEXT = 0, CLI_OUTPUT_JSON, CLI_OUTPUT_QUIET };

/* The local inspector (inspect.h): --inspect-addr, --inspect-token, --inspect-max,
 * --inspect-budget, --inspect-body-max. */
struct cli_inspect {
    int off;              /* --inspect-addr off */
    int given;            /* --inspect-addr named the address: no other port is tried */
    struct net_addr addr; /* default 127.0.0.1:NGR_INSPECT_PORT_FIRST */
    char token[NGR_INSPECT_TOKEN_LEN]; /* "": none (loopback only) */
    size_t max_entries;                /* exchanges kept */
    size_t budget;                     /* bytes they may hold */
    size_t body_max;                   /* bytes of each body kept */
};

struct cli_string; /* a value kept for the options (cli.c) */

struct cli_options {
    enum cli_command command;
    struct net_addr server;   /* the gateway's control address */
    char token[CLI_TOKEN_LEN];
    int tls;                  /* the control connection over TLS (--tls, or --ca) */
    char ca[NGR_CA_PATH_LEN]; /* the CAs to trust (PEM); empty: the system's */
    enum log_level log_level;
    uint64_t heartbeat_ms;    /* PING interval offered (--heartbeat) */
    uint64_t dead_after_ms;   /* the gateway silent this long: the session is dead */
    int new_url;              /* --new-url: forget the kept reconnect secrets */
    int log_json;             /* --log-format json */
    int quiet;                /* --quiet: the URLs and errors only (over --log-format) */
    struct cli_inspect inspect;
    char config[NGR_STATE_PATH_LEN]; /* the config file: --config, or the default path */
    int config_given;                /* --config named it: it must exist */
    struct cli_tunnel tunnels[NGR_TUNNELS_PER_SESSION]; /* what runs, in order */
    size_t ntunnels;
    /* config: the action ("set-token", "set-server", "check", "path") and its value */
    const char *config_action, *config_value;
    /* diagnose: samples per hop (--count), the report as JSON (--json), the local service's
     * path (--path, borrowed from argv; "/" by default). Its tunnel is tunnels[0] if TARGET
     * was given, else ntunnels is 0. */
    unsigned diag_count;
    int diag_json;
    const char *diag_path;
    struct cli_string *strings; /* owned values, freed by cli_options_free */
};

enum { CLI_RUN = 0, CLI_EXIT_OK = 1 }; /* cli_parse results besides errors */

/* Parses argv, with the config file and the environment under it. Returns CLI_RUN,
 * CLI_EXIT_OK (help or version printed), or NGR_EINVAL with a message for the user. Free o
 * with cli_options_free whatever it returns. */
int cli_parse(int argc, char **argv, struct cli_options *o, struct ngr_err *err);
void cli_options_free(struct cli_options *o);
void cli_usage(FILE *f);

/* Shared by the options and the config file (file: 1 names keys as the file spells them,
 * "basic_auth"; 0 as options, "--basic-auth"). key: lowercase, '_' for '-'. */
/* A setting of the connection (server, token, tls, ca, heartbeat, dead_after). Returns 0,
 * NGR_ENOENT for another key, or NGR_EINVAL with the reason. */
int cli_session_set(struct cli_options *o, const char *key, const char *value, int file,
                    struct ngr_err *err);
/* A setting of tunnel t (proto, addr, subdomain, host_header, pool, remote_port,
 * proxy_protocol, upstream_insecure, upstream_ca, basic_auth,
 * allow_cidr, deny_cidr, rate_limit, rate_burst, response_timeout). Returns 0, NGR_ENOENT for
 * another key, or NGR_EINVAL with the reason. */
int cli_tunnel_set(struct cli_options *o, struct cli_tunnel *t, const char *key,
                   const char *value, int file, struct ngr_err *err);
/* cli_inspect.c: the inspector's defaults; one of its options (key: "inspect_addr",
 * "inspect_token", "inspect_max", "inspect_budget", "inspect_body_max"; 0, NGR_ENOENT for
 * another key, NGR_EINVAL with the reason); and what they must agree on once all are read
 * (an address off loopback needs a token, a budget that holds one exchange). */
void cli_inspect_defaults(struct cli_inspect *in);
int cli_inspect_set(struct cli_inspect *in, const char *key, const char *value,
                    struct ngr_err *err);
int cli_inspect_check(const struct cli_inspect *in, struct ngr_err *err);

/* What a tunnel's settings must agree on (a local target, --pool's name or port, options of
 * its protocol, --upstream-* for https:// only). Returns 0 or NGR_EINVAL. */
int cli_tunnel_check(const struct cli_tunnel *t, int file, struct ngr_err *err);

#endif
