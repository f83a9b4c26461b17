/* SPDX-License-Identifier: MIT
 *
 * test_tmp.h - for the unit tests: a temporary directory per test (and the
 * path of a store file in it), removed with everything in it afterwards;
 * as cmocka setup and teardown: test_tmp_setup(state, "name") and
 * test_tmp_teardown(state), *state being a struct test_tmp.
 */
#ifndef SR_TEST_TMP_H
#define SR_TEST_TMP_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct sr_store;

struct test_tmp {
    char dir[64];
    char path[128];      /* dir/sealrun.db */
    struct sr_store *st; /* for the tests that keep a store open in it */
};

static inline int
test_tmp_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything below it (symbolic links, not their targets). */
static inline void
test_tmp_rm_tree(const char *dir)
{
    (void)nftw(dir, test_tmp_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* /tmp/sr_NAME.XXXXXX, made; NULL if it cannot be. Owned: test_tmp_free. */
static inline struct test_tmp *
test_tmp_new(const char *name)
{
    struct test_tmp *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    (void)snprintf(t->dir, sizeof(t->dir), "/tmp/sr_%.32s.XXXXXX", name);
    if (!mkdtemp(t->dir)) {
        free(t);
        return NULL;
    }
    (void)snprintf(t->path, sizeof(t->path), "%s/sealrun.db", t->dir);
    return t;
}

static inline void
test_tmp_free(struct test_tmp *t)
{
    if (!t)
        return;
    test_tmp_rm_tree(t->dir);
    free(t);
}

static inline int
test_tmp_setup(void **state, const char *name)
{
    *state = test_tmp_new(name);
    return *state ? 0 : -1;
}

static inline int
test_tmp_teardown(void **state)
{
    test_tmp_free(*state);
    return 0;
}

#endif
