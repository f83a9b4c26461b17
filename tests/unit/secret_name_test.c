/* SPDX-License-Identifier: MIT */
/* secret_name_test.c - secret names, owner names, values and references. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_secret.h"

#include "secret_int.h"

static int
setup(void **state)
{
    (void)state;
    return sr_crypto_init(NULL) == SR_OK ? 0 : -1;
}

static sr_status
name_check(const char *s)
{
    return sr_secret_name_check(s, strlen(s), NULL);
}

static void
test_accepts_valid_names(void **state)
{
    (void)state;
    char longest[SR_SECRET_NAME_MAX + 1];
    memset(longest, 'a', SR_SECRET_NAME_MAX);
    longest[SR_SECRET_NAME_MAX] = '\0';
    assert_int_equal(name_check("API_KEY"), SR_OK);
    assert_int_equal(name_check("a"), SR_OK);
    assert_int_equal(name_check("_0123456789_azAZ"), SR_OK);
    assert_int_equal(name_check(longest), SR_OK);
    assert_int_equal(name_check("SEALRUN"), SR_OK);      /* the prefix needs its '_' */
    assert_int_equal(name_check("MY_SEALRUN_X"), SR_OK); /* only a prefix is reserved */
}

static void
test_rejects_empty_name(void **state)
{
    (void)state;
    sr_err err = {0};
    assert_int_equal(sr_secret_name_check("", 0, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "secret name is empty"));
    assert_int_equal(sr_secret_name_check(NULL, 3, &err), SR_EINVAL);
}

static void
test_rejects_name_of_129_characters(void **state)
{
    (void)state;
    char name[SR_SECRET_NAME_MAX + 2];
    memset(name, 'B', SR_SECRET_NAME_MAX + 1);
    name[SR_SECRET_NAME_MAX + 1] = '\0';
    sr_err err = {0};
    assert_int_equal(sr_secret_name_check(name, strlen(name), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "is too long: 129 characters, at most 128"));
    assert_non_null(strstr(err.msg, "...")); /* the quoted name is cut */
}

static void
test_rejects_invalid_characters(void **state)
{
    (void)state;
    const char *bad[] = {"API-KEY", "a b", "x.y", "ключ", "a/b", "x=y", "a\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_err err = {0};
        assert_int_equal(sr_secret_name_check(bad[i], strlen(bad[i]), &err), SR_EINVAL);
        assert_non_null(strstr(err.msg, "invalid character at offset"));
        assert_non_null(strstr(err.msg, "A-Z a-z 0-9 _"));
    }
    sr_err err = {0};
    assert_int_equal(sr_secret_name_check("a\nb", 3, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'a\\x0ab'")); /* control bytes escaped */
    assert_null(strchr(err.msg, '\n'));
    char nul[] = {'A', '\0', 'B'};
    assert_int_equal(sr_secret_name_check(nul, 3, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "offset 1"));
}

static void
test_rejects_reserved_prefix_in_any_case(void **state)
{
    (void)state;
    const char *bad[] = {"SEALRUN_JOB_ID", "SEALRUN_USER", "SEALRUN_", "sealrun_x", "SeAlRuN_y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_err err = {0};
        assert_int_equal(sr_secret_name_check(bad[i], strlen(bad[i]), &err), SR_EINVAL);
        assert_non_null(strstr(err.msg, "is reserved"));
        assert_non_null(strstr(err.msg, "'SEALRUN_'"));
    }
}

static void
test_owner_check(void **state)
{
    (void)state;
    sr_err err = {0};
    assert_int_equal(sr_secret_owner_check("alice", 5, NULL), SR_OK);
    assert_int_equal(sr_secret_owner_check("a.b-c_d@e.org", 13, NULL), SR_OK);
    assert_int_equal(sr_secret_owner_check("", 0, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "owner is empty"));
    assert_int_equal(sr_secret_owner_check("a/b", 3, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "invalid character at offset 1"));
    char longname[SR_MAX_USER_NAME + 2];
    memset(longname, 'u', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(sr_secret_owner_check(longname, strlen(longname), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
}

static void
test_value_sizes(void **state)
{
    (void)state;
    sr_err err = {0};
    char *big = malloc(SR_SECRET_VALUE_MAX + 1);
    assert_non_null(big);
    memset(big, 'v', SR_SECRET_VALUE_MAX + 1);
    assert_int_equal(sr_secret_value_check("x", 1, NULL), SR_OK);
    assert_int_equal(sr_secret_value_check(big, SR_SECRET_VALUE_MAX, NULL), SR_OK);
    assert_int_equal(sr_secret_value_check(big, SR_SECRET_VALUE_MAX + 1, &err), SR_ELIMIT);
    assert_non_null(strstr(err.msg, "65537 bytes, at most 65536"));
    assert_int_equal(sr_secret_value_check("", 0, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "secret value is empty"));
    free(big);
}

static void
test_value_must_be_utf8_without_nul(void **state)
{
    (void)state;
    struct {
        const char *p;
        size_t len;
        size_t bad_at;
    } bad[] = {
        {"ab\0cd", 5, 2},           /* NUL */
        {"ok\xc0\x80", 4, 2},       /* overlong NUL */
        {"\xe0\x80\xaf", 3, 0},     /* overlong '/' */
        {"x\xed\xa0\x80", 4, 1},    /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, 0}, /* beyond U+10FFFF */
        {"abc\xe2\x82", 5, 3},      /* truncated */
        {"\x80", 1, 0},             /* lone continuation */
        {"\xff", 1, 0},
        {"\xc3\x28", 2, 0}, /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_err err = {0};
        char want[32];
        assert_int_equal(sr_secret_value_check(bad[i].p, bad[i].len, &err), SR_EINVAL);
        (void)snprintf(want, sizeof(want), "offset %zu", bad[i].bad_at);
        assert_non_null(strstr(err.msg, want));
    }
    const char *good = "p\xc3\xa4ss \xe2\x82\xac \xf0\x9f\x94\x91 \xef\xbf\xbf \xf4\x8f\xbf\xbf";
    assert_int_equal(sr_secret_value_check(good, strlen(good), NULL), SR_OK);
}

static void
test_value_set_copies_into_protected_memory(void **state)
{
    (void)state;
    struct sr_secret_value v = {0};
    char src[] = "hunter2";
    assert_int_equal(sr_secret_value_set(src, 7, &v, NULL), SR_OK);
    memset(src, 0, sizeof(src));
    assert_int_equal(v.len, 7);
    assert_memory_equal(v.data, "hunter2", 8); /* NUL-terminated */
    sr_secret_value_fini(&v);
    assert_null(v.data);
    assert_int_equal(v.len, 0);
    sr_secret_value_fini(&v); /* idempotent */
    sr_secret_value_fini(NULL);
    struct sr_secret_value untouched = {0};
    assert_int_equal(sr_secret_value_set("", 0, &untouched, NULL), SR_EINVAL);
    assert_null(untouched.data);
}

static sr_status
ref(const char *text, struct sr_secret_ref *r, sr_err *err)
{
    return sr_secret_ref_parse(text, strlen(text), "alice", r, err);
}

static void
test_parses_the_three_reference_forms(void **state)
{
    (void)state;
    struct sr_secret_ref r;
    char shown[SR_SECRET_REF_MAX + 1];

    assert_int_equal(ref("API_KEY", &r, NULL), SR_OK);
    assert_string_equal(r.owner, "alice");
    assert_string_equal(r.name, "API_KEY");
    assert_false(r.is_cross_owner);
    sr_secret_ref_str(&r, shown);
    assert_string_equal(shown, "API_KEY");

    assert_int_equal(ref("bob/TOKEN", &r, NULL), SR_OK);
    assert_string_equal(r.owner, "bob");
    assert_string_equal(r.name, "TOKEN");
    assert_true(r.is_cross_owner);
    sr_secret_ref_str(&r, shown);
    assert_string_equal(shown, "bob/TOKEN");

    assert_int_equal(ref("secrets:LEGACY", &r, NULL), SR_OK);
    assert_string_equal(r.owner, "alice");
    assert_string_equal(r.name, "LEGACY");

    assert_int_equal(ref("secrets:carol@x.org/K", &r, NULL), SR_OK);
    assert_string_equal(r.owner, "carol@x.org");
    assert_true(r.is_cross_owner);

    assert_int_equal(ref("alice/OWN", &r, NULL), SR_OK); /* own secret, spelled out */
    assert_false(r.is_cross_owner);
    sr_secret_ref_str(&r, shown);
    assert_string_equal(shown, "OWN");
}

static void
test_rejects_bad_references(void **state)
{
    (void)state;
    struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"", "secret reference is empty"},
        {"bob/", "secret name is empty"},
        {"/NAME", "owner is empty"},
        {"a/b/c", "invalid character"},
        {"bo b/X", "owner 'bo b' has an invalid character"},
        {"SEALRUN_USER", "is reserved"},
        {"bob/SEALRUN_JOB_ID", "is reserved"},
        {"secrets:", "invalid character"}, /* the prefix alone is just a bad name */
        {"API-KEY", "secret reference 'API-KEY': secret name 'API-KEY' has an invalid"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sr_secret_ref r;
        sr_err err = {0};
        assert_int_equal(ref(bad[i].text, &r, &err), SR_EINVAL);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("'%s': got '%s', want '%s'", bad[i].text, err.msg, bad[i].want);
    }
    char toolong[SR_SECRET_REF_MAX + 2];
    memset(toolong, 'x', sizeof(toolong) - 1);
    toolong[sizeof(toolong) - 1] = '\0';
    struct sr_secret_ref r;
    sr_err err = {0};
    assert_int_equal(ref(toolong, &r, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "is too long"));
    assert_int_equal(sr_secret_ref_parse("X", 1, NULL, &r, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "caller"));
}

static void
test_refs_refuse_duplicates_and_collisions(void **state)
{
    (void)state;
    struct sr_secret_refs refs;
    sr_err err = {0};
    sr_secret_refs_init(&refs);
    assert_int_equal(sr_secret_refs_add(&refs, "K", 1, "alice", NULL), SR_OK);
    assert_int_equal(sr_secret_refs_add(&refs, "K", 1, "alice", &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "secret 'K' is referenced more than once"));
    assert_int_equal(sr_secret_refs_add(&refs, "alice/K", 7, "alice", &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "referenced more than once"));
    assert_int_equal(sr_secret_refs_add(&refs, "secrets:K", 9, "alice", &err), SR_EINVAL);
    assert_int_equal(sr_secret_refs_add(&refs, "bob/K", 5, "alice", &err), SR_EINVAL);
    assert_string_equal(err.msg, "secret references 'K' and 'bob/K' would both be injected as "
                                 "'K': a job sees each secret under its bare name");
    assert_int_equal(sr_secret_refs_add(&refs, "bob/J", 5, "alice", NULL), SR_OK);
    assert_int_equal(refs.n, 2);
}

static void
test_refs_cap_at_sixteen(void **state)
{
    (void)state;
    struct sr_secret_refs refs;
    sr_err err = {0};
    char name[16];
    sr_secret_refs_init(&refs);
    for (int i = 0; i < SR_MAX_SECRET_REFS; i++) {
        (void)snprintf(name, sizeof(name), "S%d", i);
        assert_int_equal(sr_secret_refs_add(&refs, name, strlen(name), "alice", NULL), SR_OK);
    }
    assert_int_equal(sr_secret_refs_add(&refs, "MORE", 4, "alice", &err), SR_ELIMIT);
    assert_non_null(strstr(err.msg, "at most 16 per job"));
    assert_int_equal(refs.n, SR_MAX_SECRET_REFS);
}

static void
test_refs_parse_from_json(void **state)
{
    (void)state;
    struct sr_secret_refs refs;
    sr_err err = {0};
    json_t *v = json_pack("[s,s,s]", "A", "bob/B", "secrets:C");
    assert_int_equal(sr_secret_refs_parse(v, "alice", &refs, &err), SR_OK);
    assert_int_equal(refs.n, 3);
    assert_string_equal(refs.ref[1].owner, "bob");
    assert_string_equal(refs.ref[2].name, "C");
    json_decref(v);

    assert_int_equal(sr_secret_refs_parse(NULL, "alice", &refs, NULL), SR_OK);
    assert_int_equal(refs.n, 0);
    v = json_null();
    refs.n = 5;
    assert_int_equal(sr_secret_refs_parse(v, "alice", &refs, NULL), SR_OK);
    assert_int_equal(refs.n, 0);

    v = json_string("A");
    refs.n = 7;
    assert_int_equal(sr_secret_refs_parse(v, "alice", &refs, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "must be an array of secret names, got a string"));
    assert_int_equal(refs.n, 7); /* untouched on error */
    json_decref(v);

    v = json_pack("[s,i]", "A", 3);
    assert_int_equal(sr_secret_refs_parse(v, "alice", &refs, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "item 1 must be a string"));
    json_decref(v);

    v = json_pack("[s,s]", "A", "A");
    assert_int_equal(sr_secret_refs_parse(v, "alice", &refs, &err), SR_EINVAL);
    assert_string_equal(err.msg,
                        "field 'secret_refs' item 1: secret 'A' is referenced more than once");
    json_decref(v);

    v = json_array();
    for (int i = 0; i <= SR_MAX_SECRET_REFS; i++)
        json_array_append_new(v, json_sprintf("N%d", i));
    assert_int_equal(sr_secret_refs_parse(v, "alice", &refs, &err), SR_ELIMIT);
    assert_non_null(strstr(err.msg, "lists 17 references: at most 16"));
    json_decref(v);

    /* a NUL inside a JSON string is a bad character, not a cut name */
    const char *text = "[\"A\\u0000B\"]";
    v = json_loadb(text, strlen(text), JSON_ALLOW_NUL, NULL);
    assert_non_null(v);
    assert_int_equal(sr_secret_refs_parse(v, "alice", &refs, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "invalid character at offset 1"));
    json_decref(v);
}

static void
test_quote_escapes_and_cuts(void **state)
{
    (void)state;
    char out[64];
    sr_secret__quote("ab'c\\", 5, 10, out, sizeof(out));
    assert_string_equal(out, "ab\\x27c\\x5c");
    sr_secret__quote("abcdef", 6, 3, out, sizeof(out));
    assert_string_equal(out, "abc...");
    sr_secret__quote("abcdef", 6, 100, out, 4);
    assert_true(strlen(out) < 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid_names),
        cmocka_unit_test(test_rejects_empty_name),
        cmocka_unit_test(test_rejects_name_of_129_characters),
        cmocka_unit_test(test_rejects_invalid_characters),
        cmocka_unit_test(test_rejects_reserved_prefix_in_any_case),
        cmocka_unit_test(test_owner_check),
        cmocka_unit_test(test_value_sizes),
        cmocka_unit_test(test_value_must_be_utf8_without_nul),
        cmocka_unit_test(test_value_set_copies_into_protected_memory),
        cmocka_unit_test(test_parses_the_three_reference_forms),
        cmocka_unit_test(test_rejects_bad_references),
        cmocka_unit_test(test_refs_refuse_duplicates_and_collisions),
        cmocka_unit_test(test_refs_cap_at_sixteen),
        cmocka_unit_test(test_refs_parse_from_json),
        cmocka_unit_test(test_quote_escapes_and_cuts),
    };
    return cmocka_run_group_tests_name("secret_name", tests, setup, NULL);
}
