/* cli.h: the command line of ngrnotok: `ngrnotok http [OPTIONS] PORT|HOST:PORT`. */
#ifndef NGR_CLI_H
#define NGR_CLI_H

#include <stdio.h>

#include "err.h"
#include "limits.h"
#include "log.h"
#include "net.h"

#define CLI_TOKEN_LEN 128

struct cli_options {
    int proto;                /* enum frame_proto */
    struct net_addr server;   /* the gateway's control address */
    struct net_addr local;    /* the local service */
    char subdomain[NGR_MAX_SUBDOMAIN + 1]; /* empty: the gateway picks one */
    int host_rewrite;         /* send Host: HOST:PORT instead of the public Host */
    char token[CLI_TOKEN_LEN];
    int tls;                  /* the control connection over TLS (--tls, or --ca) */
    char ca[NGR_CA_PATH_LEN]; /* the CAs to trust (PEM); empty: the system's */
    enum log_level log_level;
    uint64_t heartbeat_ms;    /* PING interval offered (--heartbeat) */
    uint64_t dead_after_ms;   /* the gateway silent this long: the session is dead */
    int new_url;              /* --new-url: forget the kept reconnect secret */
    int pool;                 /* --pool: share the name (or port) with other clients */
    unsigned remote_port;     /* tcp --remote-port: the public port asked for; 0: any */
    int proxy_protocol;       /* tcp --proxy-protocol: 1 or 2 (proxy_header.h); 0: none */
    /* What the gateway is to enforce for the tunnel, sent in BIND: "basic_auth", "allow_cidr",
     * "deny_cidr" with the option's value (borrowed from argv). */
    struct {
        const char *key, *value;
    } protect[NGR_BIND_OPTS_MAX];
    size_t nprotect;
};

enum { CLI_RUN = 0, CLI_EXIT_OK = 1 }; /* cli_parse results besides errors */

/* Parses argv (reads NGRNOTOK_SERVER and NGRNOTOK_TOKEN from the environment). Returns CLI_RUN,
 * CLI_EXIT_OK (help or version printed), or NGR_EINVAL with a message for the user. */
int cli_parse(int argc, char **argv, struct cli_options *o, struct ngr_err *err);
void cli_usage(FILE *f);

#endif
