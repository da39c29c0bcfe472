/* test_config_examples.c: every example file under config/ loads: ngrnotokd*.conf with the
 * gateway's parser (config_load), ngrnotok*.conf with the client's (client_config_load), and
 * nothing else is there unread. The directory is the first argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client_config.h"
#include "config.h"

static const char *test_dir;

static void
test_examples(void **state)
{
    DIR *d = opendir(test_dir);
    struct dirent *e;
    unsigned gateway = 0, client = 0;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        struct ngr_err err;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", test_dir, e->d_name);
        memset(&err, 0, sizeof(err));
        if (strncmp(e->d_name, "ngrnotokd", 9) == 0) {
            struct server_config c;

            config_defaults(&c);
            if (config_load(&c, path, &err) != 0)
                fail_msg("%s", err.msg);
            gateway++;
        } else if (strncmp(e->d_name, "ngrnotok", 8) == 0) {
            static struct cli_options o;
            size_t i;

            memset(&o, 0, sizeof(o));
            if (client_config_load(&o, path, 1, &err) != 0)
                fail_msg("%s", err.msg);
            assert_true(o.ntunnels > 0);
            for (i = 0; i < o.ntunnels; i++)
                assert_true(o.tunnels[i].has_local);
            cli_options_free(&o);
            client++;
        } else {
            fail_msg("%s: which program's file is it? (name it ngrnotokd*.conf or "
                     "ngrnotok*.conf)",
                     path);
        }
    }
    closedir(d);
    assert_true(gateway >= 1);
    assert_true(client >= 1);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_examples)};

    if (argc < 2) {
        fprintf(stderr, "usage: %s CONFIG_DIR\n", argv[0]);
        return 2;
    }
    test_dir = argv[1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
