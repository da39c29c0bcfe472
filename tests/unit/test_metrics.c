/* test_metrics.c: unit tests of the gateway's metrics (src/server/metrics.h): status classes,
 * a request counted at the gateway and on its tunnel, the text exposition's lines, and its size
 * bounded by the tunnels, not by the requests (no label comes from request data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_text.h"
#include "server.h"
#include "tunnel_table.h"

static size_t
test_metrics_lines(const char *text)
{
    size_t n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static char *
test_metrics_render(const struct server *srv)
{
    char *text;
    size_t len;

    assert_int_equal(metrics_render(srv, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void
test_metrics_classes(void **state)
{
    (void)state;
    assert_int_equal(metrics_class(0), 0);
    assert_int_equal(metrics_class(101), 1);
    assert_int_equal(metrics_class(200), 2);
    assert_int_equal(metrics_class(308), 3);
    assert_int_equal(metrics_class(404), 4);
    assert_int_equal(metrics_class(599), 5);
    assert_int_equal(metrics_class(600), 0);
    assert_int_equal(metrics_class(-1), 0);
}

static void
test_metrics_render_tunnels(void **state)
{
    struct server *srv = calloc(1, sizeof(*srv));
    struct tunnel *t = tunnel_new(), *tcp = tunnel_new();
    char *text, *again;
    size_t lines;
    int i;

    (void)state;
    assert_non_null(srv);
    TAILQ_INIT(&srv->conns);
    access_log_init(&srv->access_log);
    snprintf(t->subdomain, sizeof(t->subdomain), "demo");
    snprintf(t->slot, sizeof(t->slot), "http:demo");
    t->proto = FRAME_PROTO_HTTP;
    snprintf(tcp->slot, sizeof(tcp->slot), "tcp:20001");
    tcp->proto = FRAME_PROTO_TCP;
    assert_int_equal(tunnel_table_add(&srv->tunnels, t), 0);
    assert_int_equal(tunnel_table_add(&srv->tunnels, tcp), 0);

    metrics_request(srv, t, 200, 3000, 1500);
    metrics_request(srv, t, 502, 70000, 0);
    metrics_request(srv, NULL, 404, 50, 0); /* not routed */
    metrics_request(srv, t, 0, 10, 0);      /* the public client left first */
    srv->metrics.limit_hits[METRICS_LIMIT_RATE] = 3;
    t->bytes_out = 77;
    text = test_metrics_render(srv);
    assert_non_null(strstr(text, "# TYPE ngrnotok_http_requests_total counter\n"));
    assert_non_null(strstr(text, "ngrnotok_http_requests_total{class=\"2xx\"} 1\n"));
    assert_non_null(strstr(text, "ngrnotok_http_requests_total{class=\"4xx\"} 1\n"));
    assert_non_null(strstr(text, "ngrnotok_http_requests_total{class=\"5xx\"} 1\n"));
    assert_non_null(strstr(text, "ngrnotok_http_requests_total{class=\"none\"} 1\n"));
    assert_non_null(strstr(text, "ngrnotok_tunnels 2\n"));
    assert_non_null(strstr(text, "ngrnotok_limit_hits_total{limit=\"rate_limit\"} 3\n"));
    char want[256];
    snprintf(want, sizeof(want),
             "ngrnotok_tunnel_requests_total{tunnel=\"demo\",id=\"%s\",proto=\"http\","
             "class=\"5xx\"} 1\n", t->id);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want),
             "ngrnotok_tunnel_sent_bytes_total{tunnel=\"demo\",id=\"%s\",proto=\"http\"} 77\n",
             t->id);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want),
             "ngrnotok_tunnel_open_streams{tunnel=\"tcp:20001\",id=\"%s\",proto=\"tcp\"} 0\n",
             tcp->id);
    assert_non_null(strstr(text, want));
    /* 3 ms: in le 0.005 and above, not in le 0.0025; the 70 ms one from le 0.1. */
    snprintf(want, sizeof(want),
             "ngrnotok_tunnel_request_duration_seconds_bucket{tunnel=\"demo\",id=\"%s\","
             "proto=\"http\",le=\"0.0025\"} 1\n", t->id); /* the 10 us one */
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want),
             "ngrnotok_tunnel_request_duration_seconds_bucket{tunnel=\"demo\",id=\"%s\","
             "proto=\"http\",le=\"0.1\"} 3\n", t->id);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want),
             "ngrnotok_tunnel_service_duration_seconds_count{tunnel=\"demo\",id=\"%s\","
             "proto=\"http\"} 1\n", t->id);
    assert_non_null(strstr(text, want));
    /* A TCP tunnel has no HTTP histograms. */
    snprintf(want, sizeof(want), "request_duration_seconds_count{tunnel=\"tcp:20001\"");
    assert_null(strstr(text, want));

    /* Thousands more requests add no line: only the counts change. */
    lines = test_metrics_lines(text);
    for (i = 0; i < 5000; i++)
        metrics_request(srv, i % 2 ? t : NULL, 100 + i % 500, (uint64_t)i * 997, (uint32_t)i);
    again = test_metrics_render(srv);
    assert_int_equal(test_metrics_lines(again), lines);
    free(text);
    free(again);

    tunnel_table_remove(&srv->tunnels, t);
    tunnel_table_remove(&srv->tunnels, tcp);
    tunnel_free(t);
    tunnel_free(tcp);
    free(srv);
}

/* Read in small pieces while tunnels go: every family once and in order, the tunnels gone
 * before a family's turn left out of it, nothing read of a freed tunnel (ASan), and no piece
 * much past NGR_METRICS_PIECE however many tunnels. */
static void
test_metrics_scrape_while_tunnels_go(void **state)
{
    struct server *srv = calloc(1, sizeof(*srv));
    struct tunnel *ts[300];
    struct metrics_scrape *sc;
    char *text = calloc(1, 16 << 20), chunk[7];
    size_t len = 0, i, lines = 0;
    const char *p;
    ssize_t n;

    (void)state;
    assert_non_null(srv);
    assert_non_null(text);
    TAILQ_INIT(&srv->conns);
    access_log_init(&srv->access_log);
    for (i = 0; i < 300; i++) {
        ts[i] = tunnel_new();
        snprintf(ts[i]->subdomain, sizeof(ts[i]->subdomain), "t%zu", i);
        snprintf(ts[i]->slot, sizeof(ts[i]->slot), "http:t%zu", i);
        ts[i]->proto = FRAME_PROTO_HTTP;
        assert_int_equal(tunnel_table_add(&srv->tunnels, ts[i]), 0);
    }
    sc = metrics_scrape_new(srv);
    assert_non_null(sc);
    n = metrics_scrape_read(sc, text, 100);
    assert_int_equal(n, 100);
    len = 100;
    for (i = 0; i < 300; i += 2) { /* half of them go, and are freed */
        tunnel_table_remove(&srv->tunnels, ts[i]);
        tunnel_free(ts[i]);
        ts[i] = NULL;
    }
    while ((n = metrics_scrape_read(sc, chunk, sizeof(chunk))) > 0) {
        assert_true(len + (size_t)n < (16u << 20));
        memcpy(text + len, chunk, (size_t)n);
        len += (size_t)n;
    }
    assert_int_equal(n, 0);
    metrics_scrape_free(sc);
    text[len] = '\0';
    p = strstr(text, "# TYPE ngrnotok_tunnel_requests_total counter\n");
    assert_non_null(p);
    assert_null(strstr(p + 1, "# TYPE ngrnotok_tunnel_requests_total"));
    assert_true(strstr(text, "# TYPE ngrnotok_tunnel_streams_total") > p);
    p = strstr(text, "# TYPE ngrnotok_tunnel_service_duration_seconds histogram\n");
    assert_non_null(p);
    while ((p = strstr(p + 1, "ngrnotok_tunnel_service_duration_seconds_count{")) != NULL)
        lines++;
    assert_int_equal(lines, 150); /* the 150 left */
    p = strstr(text, "# TYPE ngrnotok_tunnel_service_duration_seconds histogram\n");
    assert_null(strstr(p, "tunnel=\"t0\"")); /* gone before that family's turn */
    assert_non_null(strstr(p, "tunnel=\"t1\""));
    for (i = 1; i < 300; i += 2) {
        tunnel_table_remove(&srv->tunnels, ts[i]);
        tunnel_free(ts[i]);
    }
    free(text);
    free(srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_classes),
        cmocka_unit_test(test_metrics_render_tunnels),
        cmocka_unit_test(test_metrics_scrape_while_tunnels_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
