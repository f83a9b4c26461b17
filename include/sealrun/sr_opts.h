/* SPDX-License-Identifier: MIT
 *
 * sr_opts.h - command-line options from one table: parsing (the same syntax
 * in every program and command: "--name VALUE" and "--name=VALUE"; flags
 * take no value) and the option lines of --help, generated from the same
 * table so help and behaviour cannot drift.
 *
 * Thread-safety: pure functions over the caller's table and argv.
 */
#ifndef SR_OPTS_H
#define SR_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"

enum sr_opt_kind {
    SR_OPT_FLAG,     /* bool *dst = true */
    SR_OPT_STRING,   /* const char **dst = the value (borrowed from argv) */
    SR_OPT_INT,      /* int64_t *dst, in [min, max] */
    SR_OPT_DURATION, /* int64_t *dst in ms ("24h", "90m", "45s", "1500ms", seconds), [min, max] */
    SR_OPT_CHOICE,   /* int *dst = the index of the value in choices[] */
    SR_OPT_LIST,     /* const char **dst (an array of 'max' entries), *count_dst++ per use */
};

struct sr_opt {
    const char *name; /* "--listen" */
    enum sr_opt_kind kind;
    void *dst;
    const char *metavar;        /* "HOST:PORT" in help; NULL for flags */
    const char *help;           /* one line; may be long (wrapped in --help) */
    int64_t min, max;           /* SR_OPT_INT, SR_OPT_DURATION; SR_OPT_LIST: max entries */
    const char *const *choices; /* SR_OPT_CHOICE: NULL-terminated */
    size_t *count_dst;          /* SR_OPT_LIST */
    bool *seen;                 /* set when the option is given; may be NULL */
};

/* Parses argv[first..argc) against opts[0..n). Arguments that do not start
 * with "--" are positional: they go to pos[0..*npos) (at most maxpos;
 * "--" ends the options, everything after it is positional). SR_EINVAL
 * names the option and what was expected: an unknown option, a missing
 * value, a value a flag does not take, a number out of range, a choice not
 * in the list, too many positional arguments. Borrows argv. */
sr_status sr_opts_parse(const struct sr_opt *opts, size_t n, int argc, char **argv, int first,
                        const char **pos, size_t maxpos, size_t *npos, sr_err *err);

/* Appends the option lines of --help for opts[0..n) to b: "  --name METAVAR"
 * padded to a column, then the help text wrapped at 100 columns. */
sr_status sr_opts_help(const struct sr_opt *opts, size_t n, sr_buf *b, sr_err *err);

#endif /* SR_OPTS_H */
