/* public_url.c: the public URLs' template (--public-url); see public_url.h. */
#include "public_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The length of the scheme and its "://" at the start of s (http or https, any case), or 0. */
static size_t
public_url_scheme(const char *s)
{
    if (strncasecmp(s, "http://", 7) == 0)
        return 7;
    if (strncasecmp(s, "https://", 8) == 0)
        return 8;
    return 0;
}

int
public_url_check(const struct server_config *c, struct ngr_err *err)
{
    const char *u = c->public_url, *host, *name, *rest;
    size_t nlen = strlen(PUBLIC_URL_NAME), dlen = strlen(c->domain), skip, digits;
    unsigned long port = 0;

    if (u[0] == '\0')
        return 0;
    if (c->public_port != 0)
        return err_set(err, NGR_EINVAL,
                       "public_url and public_port both set the public URLs' port: drop "
                       "public_port and put the port in public_url (https://%s.%s:PORT)",
                       PUBLIC_URL_NAME, c->domain);
    skip = public_url_scheme(u);
    if (skip == 0)
        return err_set(err, NGR_EINVAL,
                       "public_url \"%s\": must start with http:// or https://, as in "
                       "'https://%s.%s'",
                       u, PUBLIC_URL_NAME, c->domain);
    host = u + skip;
    name = strstr(u, PUBLIC_URL_NAME);
    if (name == NULL || strstr(name + nlen, PUBLIC_URL_NAME) != NULL)
        return err_set(err, NGR_EINVAL,
                       "public_url \"%s\": needs %s once, where each tunnel's name goes, as in "
                       "'https://%s.%s'",
                       u, PUBLIC_URL_NAME, PUBLIC_URL_NAME, c->domain);
    /* The gateway routes by Host = NAME.DOMAIN: any other host would never reach a tunnel. */
    if (name != host || host[nlen] != '.' || strncasecmp(host + nlen + 1, c->domain, dlen) != 0 ||
        (host[nlen + 1 + dlen] != '\0' && strchr(":/?#", host[nlen + 1 + dlen]) == NULL))
        return err_set(err, NGR_EINVAL,
                       "public_url \"%s\": its host must be %s.%s, the names the gateway routes "
                       "(set --domain to the URL's domain, or fix the URL)",
                       u, PUBLIC_URL_NAME, c->domain);
    rest = host + nlen + 1 + dlen;
    if (*rest == ':') {
        digits = strspn(rest + 1, "0123456789");
        if (digits >= 1 && digits <= 5) {
            size_t i;
            for (i = 1; i <= digits; i++)
                port = port * 10 + (unsigned long)(rest[i] - '0');
        }
        if (digits == 0 || digits > 5 || port == 0 || port > 65535)
            return err_set(err, NGR_EINVAL, "public_url \"%s\": the port must be 1-65535", u);
        rest += 1 + digits;
    }
    if (*rest != '\0')
        return err_set(err, NGR_EINVAL,
                       "public_url \"%s\": nothing may follow the host and port (tunnels are "
                       "told apart by their host name alone)",
                       u);
    return 0;
}

void
public_url_format(const char *tmpl, const char *name, char *out, size_t outlen)
{
    const char *at = strstr(tmpl, PUBLIC_URL_NAME);

    if (at == NULL) {
        snprintf(out, outlen, "%s", tmpl);
        return;
    }
    snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl, name, at + strlen(PUBLIC_URL_NAME));
}
