/* test_diagnose_report.c: unit tests of `ngrnotok diagnose`'s report (src/client/
 * diagnose_report.h): median and least of the samples (odd, even, unsorted), the verdict's
 * hop and share (a slow local service, a far gateway, the public side, parts above the whole,
 * no public path), and the text table and JSON object with every field, cut to fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "diagnose_report.h"

static void
test_diagnose_stats(void **state)
{
    double odd[] = {5, 1, 3}, even[] = {4, 10, 2, 8}, one[] = {7};
    struct diagnose_stats st;

    (void)state;
    diagnose_stats_of(&st, odd, 3);
    assert_int_equal(st.n, 3);
    assert_true(st.median_ms == 3 && st.min_ms == 1);
    diagnose_stats_of(&st, even, 4);
    assert_true(st.median_ms == 6 && st.min_ms == 2);
    diagnose_stats_of(&st, one, 1);
    assert_true(st.median_ms == 7 && st.min_ms == 7);
    diagnose_stats_of(&st, NULL, 0);
    assert_int_equal(st.n, 0);
}

static void
test_diagnose_fill(struct diagnose_result *r, double local, double rtt, double whole)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->gateway, sizeof(r->gateway), "127.0.0.1:8080");
    r->count = 10;
    r->rtt = (struct diagnose_stats){rtt, rtt / 2, 10};
    r->has_local = local >= 0;
    snprintf(r->local_url, sizeof(r->local_url), "http://localhost:3000/");
    if (local >= 0) {
        r->local_total = (struct diagnose_stats){local, local - 1, 10};
        r->local_first = (struct diagnose_stats){local - 2, local - 3, 10};
        r->local_status = 200;
    }
    snprintf(r->public_url, sizeof(r->public_url), "http://a.localhost:8081/");
    r->public_reachable = whole >= 0;
    if (whole >= 0) {
        r->public_total = (struct diagnose_stats){whole, whole - 1, 10};
        r->public_first = (struct diagnose_stats){whole - 2, whole - 3, 10};
        r->public_status = 200;
    } else {
        snprintf(r->public_error, sizeof(r->public_error), "Could not resolve host: a.example");
    }
    r->tput_bytes = 4 << 20;
    r->tput_ms = 40;
}

static void
test_diagnose_verdict(void **state)
{
    struct diagnose_result r;
    struct diagnose_verdict v;

    (void)state;
    /* The brief's example: the local service, 180 of 200 ms. */
    test_diagnose_fill(&r, 180, 5, 200);
    diagnose_verdict(&r, &v);
    assert_int_equal(v.hop, DIAGNOSE_HOP_LOCAL);
    assert_int_equal(v.percent, 90);
    assert_string_equal(v.text, "the local service takes 180 ms of the 200 ms (90%)");
    /* A far gateway: the round trip dominates. */
    test_diagnose_fill(&r, 2, 150, 160);
    diagnose_verdict(&r, &v);
    assert_int_equal(v.hop, DIAGNOSE_HOP_CONTROL);
    assert_int_equal(v.percent, 94);
    assert_non_null(strstr(v.text, "round trip"));
    /* What neither part explains: the public side. */
    test_diagnose_fill(&r, 2, 1, 50);
    diagnose_verdict(&r, &v);
    assert_int_equal(v.hop, DIAGNOSE_HOP_PUBLIC);
    assert_true(v.ms == 47);
    /* A part measured above the whole counts as the whole, never above 100%. */
    test_diagnose_fill(&r, 305, 0.1, 300);
    diagnose_verdict(&r, &v);
    assert_int_equal(v.hop, DIAGNOSE_HOP_LOCAL);
    assert_int_equal(v.percent, 100);
    assert_true(v.ms == 300);
    /* No TARGET: the local part is nothing. */
    test_diagnose_fill(&r, -1, 0.2, 0.3);
    diagnose_verdict(&r, &v);
    assert_int_not_equal(v.hop, DIAGNOSE_HOP_LOCAL);
    /* No public path: the parts alone, no share. */
    test_diagnose_fill(&r, 180, 5, -1);
    diagnose_verdict(&r, &v);
    assert_int_equal(v.hop, DIAGNOSE_HOP_LOCAL);
    assert_int_equal(v.percent, -1);
    assert_true(v.of_ms < 0);
    assert_non_null(strstr(v.text, "not measured"));
}

static void
test_diagnose_ms(void **state)
{
    char b[32];

    (void)state;
    assert_string_equal(diagnose_format_ms(b, sizeof(b), 180.4), "180 ms");
    assert_string_equal(diagnose_format_ms(b, sizeof(b), 12.34), "12.3 ms");
    assert_string_equal(diagnose_format_ms(b, sizeof(b), 0.214), "0.21 ms");
}

static void
test_diagnose_text(void **state)
{
    struct diagnose_result r;
    char out[NGR_DIAGNOSE_OUT], tiny[40];
    size_t n;

    (void)state;
    test_diagnose_fill(&r, 180, 5, 200);
    n = diagnose_format_text(out, sizeof(out), &r);
    assert_int_equal(n, strlen(out));
    assert_non_null(strstr(out, "hop "));
    assert_non_null(strstr(out, "control connection"));
    assert_non_null(strstr(out, "throughput"));
    assert_non_null(strstr(out, "839 Mbit/s")); /* 4 MiB in 40 ms */
    assert_non_null(strstr(out, "local service "));
    assert_non_null(strstr(out, "http://localhost:3000/ measured directly"));
    assert_non_null(strstr(out, "public path "));
    assert_non_null(strstr(out, "\nverdict: the local service takes 180 ms of the 200 ms (90%)\n"));
    /* Not reachable: said, with why. */
    test_diagnose_fill(&r, 180, 5, -1);
    r.tput_bytes = 0;
    diagnose_format_text(out, sizeof(out), &r);
    assert_non_null(strstr(out, "not reachable from here: Could not resolve host: a.example"));
    /* Cut to fit, terminated. */
    n = diagnose_format_text(tiny, sizeof(tiny), &r);
    assert_int_equal(n, sizeof(tiny) - 1);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void
test_diagnose_json(void **state)
{
    struct diagnose_result r;
    char out[NGR_DIAGNOSE_OUT];

    (void)state;
    test_diagnose_fill(&r, 180, 5, 200);
    snprintf(r.local_url, sizeof(r.local_url), "http://localhost:3000/\"q\\");
    diagnose_format_json(out, sizeof(out), &r);
    assert_non_null(strstr(out, "{\"gateway\":\"127.0.0.1:8080\",\"count\":10,"));
    assert_non_null(strstr(out, "\"rtt_ms\":{\"median\":5.000,\"min\":2.500,\"samples\":10}"));
    assert_non_null(strstr(out, "\"throughput\":{\"bytes\":4194304,\"ms\":40.000,"));
    assert_non_null(strstr(out, "\"url\":\"http://localhost:3000/\\\"q\\\\\""));
    assert_non_null(strstr(out, "\"reachable\":true,\"error\":null,\"status\":200"));
    assert_non_null(strstr(out, "\"verdict\":{\"hop\":\"local\",\"ms\":180.000,\"of_ms\":200.000,"
                                "\"percent\":90,"));
    assert_int_equal(out[strlen(out) - 1], '\n');
    test_diagnose_fill(&r, -1, 5, -1);
    r.tput_bytes = 0;
    diagnose_format_json(out, sizeof(out), &r);
    assert_non_null(strstr(out, "\"throughput\":null}"));
    assert_non_null(strstr(out, "\"local\":null"));
    assert_non_null(strstr(out, "\"reachable\":false,\"error\":\"Could not resolve host"));
    assert_non_null(strstr(out, "\"of_ms\":null,\"percent\":null"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diagnose_stats), cmocka_unit_test(test_diagnose_verdict),
        cmocka_unit_test(test_diagnose_ms),    cmocka_unit_test(test_diagnose_text),
        cmocka_unit_test(test_diagnose_json),
    };

    return cmocka_run_group_tests_name("diagnose_report", tests, NULL, NULL);
}
