/* diagnose_report.c: statistics, verdict and the text and JSON reports of `ngrnotok diagnose`;
 * see diagnose_report.h. */
#include "diagnose_report.h"
#include "live_view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
diagnose_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

void
diagnose_stats_of(struct diagnose_stats *st, double *samples, size_t n)
{
    memset(st, 0, sizeof(*st));
    if (n == 0)
        return;
    qsort(samples, n, sizeof(*samples), diagnose_cmp);
    st->n = n;
    st->min_ms = samples[0];
    st->median_ms = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

const char *
diagnose_format_ms(char *out, size_t cap, double ms)
{
    if (ms >= 100)
        snprintf(out, cap, "%.0f ms", ms);
    else if (ms >= 10)
        snprintf(out, cap, "%.1f ms", ms);
    else
        snprintf(out, cap, "%.2f ms", ms);
    return out;
}

static const char *const diagnose_hop_names[] = {
    [DIAGNOSE_HOP_LOCAL] = "the local service",
    [DIAGNOSE_HOP_CONTROL] = "the round trip between this machine and the gateway",
    [DIAGNOSE_HOP_PUBLIC] = "the rest of the public path (the hop to the gateway, the gateway "
                            "and this client)",
};
static const char *const diagnose_hop_keys[] = {
    [DIAGNOSE_HOP_LOCAL] = "local",
    [DIAGNOSE_HOP_CONTROL] = "control",
    [DIAGNOSE_HOP_PUBLIC] = "public",
};

void
diagnose_verdict(const struct diagnose_result *r, struct diagnose_verdict *v)
{
    double part[3] = {0, 0, 0}, whole;
    char a[32], b[32];
    int i, top = DIAGNOSE_HOP_LOCAL;

    memset(v, 0, sizeof(*v));
    if (r->has_local && r->local_total.n > 0)
        part[DIAGNOSE_HOP_LOCAL] = r->local_total.median_ms;
    if (r->rtt.n > 0)
        part[DIAGNOSE_HOP_CONTROL] = r->rtt.median_ms;
    if (!r->public_reachable || r->public_total.n == 0) {
        /* Only the parts: the whole was not measured. */
        v->hop = part[DIAGNOSE_HOP_LOCAL] >= part[DIAGNOSE_HOP_CONTROL] && r->has_local
                     ? DIAGNOSE_HOP_LOCAL
                     : DIAGNOSE_HOP_CONTROL;
        v->ms = part[v->hop];
        v->of_ms = -1;
        v->percent = -1;
        if (r->has_local)
            snprintf(v->text, sizeof(v->text),
                     "the public path was not measured; of the rest, the local service takes %s "
                     "and the round trip to the gateway %s",
                     diagnose_format_ms(a, sizeof(a), part[DIAGNOSE_HOP_LOCAL]),
                     diagnose_format_ms(b, sizeof(b), part[DIAGNOSE_HOP_CONTROL]));
        else
            snprintf(v->text, sizeof(v->text),
                     "the public path was not measured; the round trip to the gateway takes %s",
                     diagnose_format_ms(b, sizeof(b), part[DIAGNOSE_HOP_CONTROL]));
        return;
    }
    whole = r->public_total.median_ms;
    /* Medians of separate runs: a part may come out above the whole by a hair. */
    for (i = 0; i < 2; i++)
        if (part[i] > whole)
            part[i] = whole;
    part[DIAGNOSE_HOP_PUBLIC] = whole - part[DIAGNOSE_HOP_LOCAL] - part[DIAGNOSE_HOP_CONTROL];
    if (part[DIAGNOSE_HOP_PUBLIC] < 0)
        part[DIAGNOSE_HOP_PUBLIC] = 0;
    for (i = 1; i < 3; i++)
        if (part[i] > part[top])
            top = i;
    v->hop = (enum diagnose_hop)top;
    v->ms = part[top];
    v->of_ms = whole;
    v->percent = whole > 0 ? (int)(100 * part[top] / whole + 0.5) : 0;
    if (v->percent > 100)
        v->percent = 100;
    snprintf(v->text, sizeof(v->text), "%s takes %s of the %s (%d%%)", diagnose_hop_names[top],
             diagnose_format_ms(a, sizeof(a), v->ms), diagnose_format_ms(b, sizeof(b), whole),
             v->percent);
}

/* A bounded appender: out keeps what fits, len counts what was asked. */
struct diagnose_out {
    char *p;
    size_t cap, len;
};

static void diagnose_put(struct diagnose_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
diagnose_put(struct diagnose_out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->len + 1 >= o->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    o->len += (size_t)n;
    if (o->len >= o->cap)
        o->len = o->cap - 1;
}

static void
diagnose_row(struct diagnose_out *o, const char *hop, const struct diagnose_stats *st,
             const char *note)
{
    char med[32] = "-", min[32] = "-";

    if (st != NULL && st->n > 0) {
        diagnose_format_ms(med, sizeof(med), st->median_ms);
        diagnose_format_ms(min, sizeof(min), st->min_ms);
    }
    diagnose_put(o, "%-20s %10s %10s  %s\n", hop, med, min, note);
}

static double
diagnose_mbit(const struct diagnose_result *r)
{
    return r->tput_ms > 0 ? (double)r->tput_bytes * 8 / 1000 / r->tput_ms : 0;
}

size_t
diagnose_format_text(char *out, size_t cap, const struct diagnose_result *r)
{
    struct diagnose_out o = {out, cap, 0};
    struct diagnose_verdict v;
    char note[NGR_URL_LEN + NGR_DIAGNOSE_PATH_LEN + NGR_MAX_MESSAGE + NGR_ADDR_LEN + 128];
    char first[32], rate[32];

    if (cap == 0)
        return 0;
    out[0] = '\0';
    diagnose_put(&o, "%-20s %10s %10s  %s\n", "hop", "median", "min", "note");
    snprintf(note, sizeof(note), "PING round trip to %s, %zu samples", r->gateway, r->rtt.n);
    diagnose_row(&o, "control connection", &r->rtt, note);
    if (r->tput_bytes > 0) {
        snprintf(rate, sizeof(rate), "%.0f Mbit/s", diagnose_mbit(r));
        snprintf(note, sizeof(note),
                 "%.1f MiB from the built-in responder through the tunnel in %s",
                 (double)r->tput_bytes / (1024 * 1024),
                 diagnose_format_ms(first, sizeof(first), r->tput_ms));
        diagnose_put(&o, "%-20s %10s %10s  %s\n", "  throughput", rate, "", note);
    } else {
        diagnose_put(&o, "%-20s %10s %10s  %s\n", "  throughput", "-", "",
                     r->public_reachable ? "not measured: the download through the tunnel failed"
                                         : "not measured: the public URL is not reachable from "
                                           "here");
    }
    if (r->has_local) {
        snprintf(note, sizeof(note), "%s measured directly; first byte %s", r->local_url,
                 diagnose_format_ms(first, sizeof(first), r->local_first.median_ms));
        if (r->local_status >= 400)
            snprintf(note + strlen(note), sizeof(note) - strlen(note), "; status %ld",
                     r->local_status);
        diagnose_row(&o, "local service", &r->local_total, note);
    } else {
        diagnose_row(&o, "local service", NULL,
                     "none given: the public path ends at the "
                     "built-in responder");
    }
    if (r->public_reachable) {
        snprintf(note, sizeof(note), "%s through the tunnel; first byte %s", r->public_url,
                 diagnose_format_ms(first, sizeof(first), r->public_first.median_ms));
        if (r->public_status >= 400)
            snprintf(note + strlen(note), sizeof(note) - strlen(note), "; status %ld",
                     r->public_status);
        diagnose_row(&o, "public path", &r->public_total, note);
    } else {
        snprintf(note, sizeof(note), "not reachable from here: %s (%s)", r->public_error,
                 r->public_url);
        diagnose_row(&o, "public path", NULL, note);
    }
    diagnose_verdict(r, &v);
    diagnose_put(&o, "\nverdict: %s\n", v.text);
    return o.len;
}

/* "name":{"median":..,"min":..,"samples":n}, or null when not measured. */
static void
diagnose_json_stats(struct diagnose_out *o, const char *name, const struct diagnose_stats *st)
{
    if (st->n == 0)
        diagnose_put(o, "\"%s\":null", name);
    else
        diagnose_put(o, "\"%s\":{\"median\":%.3f,\"min\":%.3f,\"samples\":%zu}", name,
                     st->median_ms, st->min_ms, st->n);
}

static void
diagnose_json_string(struct diagnose_out *o, const char *name, const char *s)
{
    char esc[NGR_URL_LEN + NGR_DIAGNOSE_PATH_LEN + NGR_MAX_MESSAGE];

    live_view_json_escape(esc, sizeof(esc), s);
    diagnose_put(o, "\"%s\":\"%s\"", name, esc);
}

size_t
diagnose_format_json(char *out, size_t cap, const struct diagnose_result *r)
{
    struct diagnose_out o = {out, cap, 0};
    struct diagnose_verdict v;

    if (cap == 0)
        return 0;
    out[0] = '\0';
    diagnose_put(&o, "{");
    diagnose_json_string(&o, "gateway", r->gateway);
    diagnose_put(&o, ",\"count\":%u,\"control\":{", r->count);
    diagnose_json_stats(&o, "rtt_ms", &r->rtt);
    if (r->tput_bytes > 0)
        diagnose_put(&o, ",\"throughput\":{\"bytes\":%llu,\"ms\":%.3f,\"mbit_per_s\":%.1f}}",
                     (unsigned long long)r->tput_bytes, r->tput_ms, diagnose_mbit(r));
    else
        diagnose_put(&o, ",\"throughput\":null}");
    diagnose_put(&o, ",\"local\":");
    if (r->has_local) {
        diagnose_put(&o, "{");
        diagnose_json_string(&o, "url", r->local_url);
        diagnose_put(&o, ",\"status\":%ld,", r->local_status);
        diagnose_json_stats(&o, "total_ms", &r->local_total);
        diagnose_put(&o, ",");
        diagnose_json_stats(&o, "first_byte_ms", &r->local_first);
        diagnose_put(&o, "}");
    } else {
        diagnose_put(&o, "null");
    }
    diagnose_put(&o, ",\"public\":{");
    diagnose_json_string(&o, "url", r->public_url);
    diagnose_put(&o, ",\"reachable\":%s,", r->public_reachable ? "true" : "false");
    if (r->public_reachable)
        diagnose_put(&o, "\"error\":null,\"status\":%ld,", r->public_status);
    else {
        diagnose_json_string(&o, "error", r->public_error);
        diagnose_put(&o, ",\"status\":null,");
    }
    diagnose_json_stats(&o, "total_ms", &r->public_total);
    diagnose_put(&o, ",");
    diagnose_json_stats(&o, "first_byte_ms", &r->public_first);
    diagnose_verdict(r, &v);
    diagnose_put(&o, "},\"verdict\":{\"hop\":\"%s\",\"ms\":%.3f,", diagnose_hop_keys[v.hop], v.ms);
    if (v.of_ms >= 0)
        diagnose_put(&o, "\"of_ms\":%.3f,\"percent\":%d,", v.of_ms, v.percent);
    else
        diagnose_put(&o, "\"of_ms\":null,\"percent\":null,");
    diagnose_json_string(&o, "text", v.text);
    diagnose_put(&o, "}}\n");
    return o.len;
}
