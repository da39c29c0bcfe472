/* public_url.h: the form of the public URLs the gateway hands out (BOUND, the CLI's Forwarding
 * line, the admin API's public_url) when --public-url gives one, such as
 * 'https://{name}.example.com': behind a reverse proxy the gateway's own listener
 * (http://NAME.DOMAIN:8081) is not what people open. A template with one {name}, checked at
 * start against the domain the gateway routes by. Pure. */
#ifndef NGR_PUBLIC_URL_H
#define NGR_PUBLIC_URL_H

#include <stddef.h>

#include "config.h"
#include "err.h"

#define PUBLIC_URL_NAME "{name}"

/* 0 if c->public_url is empty (URLs from the listeners) or a usable template: http:// or
 * https://, then {name}.DOMAIN with c's domain (any case), then an optional :PORT (1-65535),
 * nothing else; and c->public_port is unset (the port is the template's). Otherwise NGR_EINVAL
 * with a sentence naming public_url and the fix. */
int public_url_check(const struct server_config *c, struct ngr_err *err);

/* Writes tmpl (a checked template) with {name} replaced by name into out, always terminated;
 * a URL longer than outlen is cut. */
void public_url_format(const char *tmpl, const char *name, char *out, size_t outlen);

#endif
