/* SPDX-License-Identifier: MIT
 *
 * core_opts_test.c - the option table: both spellings, flags, numbers,
 * durations, choices, lists, positional arguments, every error, and the
 * generated help lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "sealrun/sr_opts.h"

struct vals {
    bool dev;
    const char *listen;
    int64_t n, ttl, age;
    int level;
    int mode;
    const char *env[3];
    size_t nenv;
    bool seen_n;
};

static const char *const modes[] = {"tenant", "job", NULL};
static const char *const levels[] = {"low", "mid", "high", NULL};

static size_t
table(struct vals *v, struct sr_opt *o)
{
    const struct sr_opt t[] = {
        {"--dev", SR_OPT_FLAG, &v->dev, NULL, "development mode", 0, 0, NULL, NULL, NULL},
        {"--listen", SR_OPT_STRING, &v->listen, "HOST:PORT", "where to listen", 0, 0, NULL, NULL,
         NULL},
        {"--n", SR_OPT_INT, &v->n, "N", "a number of things", 1, 10, NULL, NULL, &v->seen_n},
        {"--ttl", SR_OPT_DURATION, &v->ttl, "DURATION", "how long", 1000, 86400000, NULL, NULL,
         NULL},
        {"--isolation", SR_OPT_CHOICE, &v->mode, "tenant|job", "process model", 0, 0, modes, NULL,
         NULL},
        {"--env", SR_OPT_LIST, v->env, "K=V", "a variable", 0, 3, NULL, &v->nenv, NULL},
        {"--age", SR_OPT_DURATION, &v->age, "DURATION", "how old", 1, INT64_MAX / 4, NULL, NULL,
         NULL},
        {"--level", SR_OPT_CHOICE, &v->level, "LEVEL", "how loud", 0, 0, levels, NULL, NULL},
    };
    memcpy(o, t, sizeof(t));
    return sizeof(t) / sizeof(t[0]);
}

static sr_status
parse(struct vals *v, int argc, char **argv, const char **pos, size_t *npos, sr_err *err)
{
    struct sr_opt o[12];
    size_t n = table(v, o);
    return sr_opts_parse(o, n, argc, argv, 1, pos, 2, npos, err);
}

static void
test_both_spellings_and_kinds(void **state)
{
    (void)state;
    struct vals v = {0};
    char *argv[] = {"x",    "--dev",     "--listen", "1.2.3.4:5",       "--n=7",
                    "a.js", "--ttl",     "90m",      "--isolation=job", "--env",
                    "A=1",  "--env=B=2", "--",       "--not-an-option"};
    const char *pos[2];
    size_t npos = 0;
    sr_err err = {0};
    assert_int_equal(parse(&v, 14, argv, pos, &npos, &err), SR_OK);
    assert_true(v.dev);
    assert_string_equal(v.listen, "1.2.3.4:5");
    assert_int_equal(v.n, 7);
    assert_true(v.seen_n);
    assert_int_equal(v.ttl, 90 * 60 * 1000);
    assert_int_equal(v.mode, 1);
    assert_int_equal(v.nenv, 2);
    assert_string_equal(v.env[1], "B=2");
    assert_int_equal(npos, 2);
    assert_string_equal(pos[0], "a.js");
    assert_string_equal(pos[1], "--not-an-option");
}

static void
fails(int argc, char **argv, const char *want)
{
    struct vals v = {0};
    const char *pos[2];
    size_t npos = 0;
    sr_err err = {0};
    assert_int_equal(parse(&v, argc, argv, pos, &npos, &err), SR_EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("got '%s', want '%s'", err.msg, want);
}

static void
test_errors_name_the_option(void **state)
{
    (void)state;
    fails(2, (char *[]){"x", "--frob"}, "unknown option '--frob'");
    fails(2, (char *[]){"x", "--listen"}, "--listen needs a value (HOST:PORT)");
    fails(2, (char *[]){"x", "--dev=yes"}, "--dev takes no value, got 'yes'");
    fails(2, (char *[]){"x", "--n=11"}, "--n must be 1..10, got 11");
    fails(2, (char *[]){"x", "--n=x"}, "--n");
    fails(2, (char *[]){"x", "--ttl=1ms"}, "--ttl must be 1000..86400000 ms");
    fails(2, (char *[]){"x", "--ttl=soon"}, "--ttl");
    fails(2, (char *[]){"x", "--age=0s"},
          "--age must be a positive duration (90d, 24h, 45s, 1500ms), got '0s'");
    fails(2, (char *[]){"x", "--level=loud"}, "--level must be 'low', 'mid' or 'high', got 'loud'");
    fails(2, (char *[]){"x", "--isolation=none"},
          "--isolation must be 'tenant' or 'job', got 'none'");
    fails(5, (char *[]){"x", "--env=1", "--env=2", "--env=3", "--env=4"},
          "--env may be given at most 3 times");
    fails(4, (char *[]){"x", "a", "b", "c"}, "unexpected argument 'c'");
    fails(2, (char *[]){"x", "--listenx=1"}, "unknown option '--listenx=1'");
}

static void
test_help_lines_come_from_the_table(void **state)
{
    (void)state;
    struct vals v = {0};
    struct sr_opt o[12];
    size_t n = table(&v, o);
    sr_buf b;
    sr_buf_init(&b, 65536);
    assert_int_equal(sr_opts_help(o, n, &b, NULL), SR_OK);
    assert_non_null(strstr(b.data, "  --dev                     development mode\n"));
    assert_non_null(strstr(b.data, "  --listen HOST:PORT        where to listen\n"));
    assert_non_null(strstr(b.data, "  --isolation tenant|job    process model\n"));
    sr_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_spellings_and_kinds),
        cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_help_lines_come_from_the_table),
    };
    return cmocka_run_group_tests_name("core_opts", tests, NULL, NULL);
}
