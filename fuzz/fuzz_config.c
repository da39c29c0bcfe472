/* fuzz_config.c: libFuzzer target for the gateway's config file parser (src/server/config.h).
 * Parses the input as a config file over the defaults and checks that what it accepts is within
 * the documented ranges, and that a refusal comes with a reason; any violation aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "name_policy.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_config_check(int ok)
{
    if (!ok)
        abort();
}

/* A NUL inside the n bytes of s. */
static int
fuzz_config_terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

static void
fuzz_config_valid(const struct server_config *c)
{
    size_t len, start = 0, i;

    fuzz_config_check(fuzz_config_terminated(c->domain, sizeof(c->domain)));
    fuzz_config_check(fuzz_config_terminated(c->token, sizeof(c->token)));
    fuzz_config_check(fuzz_config_terminated(c->ports_file, sizeof(c->ports_file)));
    fuzz_config_check(fuzz_config_terminated(c->auth_tokens, sizeof(c->auth_tokens)));
    fuzz_config_check(fuzz_config_terminated(c->reserved_names, sizeof(c->reserved_names)));
    fuzz_config_check(strspn(c->reserved_names, "abcdefghijklmnopqrstuvwxyz0123456789-,") ==
                      strlen(c->reserved_names));
    fuzz_config_check(fuzz_config_terminated(c->control_addr.host, sizeof(c->control_addr.host)));
    fuzz_config_check(fuzz_config_terminated(c->http_addr.host, sizeof(c->http_addr.host)));
    fuzz_config_check(fuzz_config_terminated(c->admin_addr.host, sizeof(c->admin_addr.host)));
    /* The domain is lowercase DNS labels joined by dots, with no trailing dot. */
    len = strlen(c->domain);
    fuzz_config_check(len > 0 && len <= NGR_DOMAIN_LEN);
    for (i = 0; i <= len; i++) {
        if (i == len || c->domain[i] == '.') {
            fuzz_config_check(name_valid_label(c->domain + start, i - start));
            start = i + 1;
        }
    }
    fuzz_config_check(c->control_addr.host[0] != '\0' && c->http_addr.host[0] != '\0' &&
                      c->admin_addr.host[0] != '\0');
    fuzz_config_check(c->public_port <= 65535);
    fuzz_config_check(c->response_timeout_ms >= 50 && c->response_timeout_ms <= 86400000);
    fuzz_config_check(c->log_level >= LOG_LEVEL_ERROR && c->log_level <= LOG_LEVEL_DEBUG);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct server_config c;
    struct ngr_err err;
    int rc;

    if (size > CONFIG_MAX_FILE) /* config_load refuses these before parsing */
        return 0;
    config_defaults(&c);
    memset(&err, 0, sizeof(err));
    rc = config_parse(&c, (const char *)data, size, &err);
    fuzz_config_check(rc == 0 || rc == NGR_EINVAL);
    if (rc != 0) {
        fuzz_config_check(err.code == rc);
        fuzz_config_check(fuzz_config_terminated(err.msg, sizeof(err.msg)));
        fuzz_config_check(strncmp(err.msg, "line ", 5) == 0);
    }
    /* Even a refused file leaves every setting it did apply valid. */
    fuzz_config_valid(&c);
    return 0;
}
