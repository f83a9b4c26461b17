/* SPDX-License-Identifier: MIT
 *
 * fuzz_job_answer.c - libFuzzer target: arbitrary bytes -> the decoders of
 * the messages between the supervisor and a job process (sr_runner.h).
 *
 * A job process is untrusted, so sr_job_answer_decode must accept or refuse
 * any bytes without crashing, reading out of bounds or keeping more than
 * views; an accepted answer must encode back to bytes that decode to the
 * same answer. The same input also goes through the spec decoder (the job
 * process's side), which must hold the same rules.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_runner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same_bytes(const struct sr_bytes *a, const struct sr_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static void
check_round_trip(const struct sr_job_answer *a)
{
    sr_buf b;
    sr_buf_init(&b, SR_RUNNER_MAX_ANSWER + 1024);
    if (sr_job_answer_encode(a, &b, NULL) != SR_OK)
        abort(); /* whatever decodes must encode */
    struct sr_job_answer *again = calloc(1, sizeof(*again));
    if (!again || sr_job_answer_decode((const uint8_t *)b.data, b.len, again, NULL) != SR_OK)
        abort();
    bool same = again->code == a->code && again->gas_used == a->gas_used &&
                again->nlogs == a->nlogs && again->nimports == a->nimports &&
                again->nexports == a->nexports && same_bytes(&again->output, &a->output) &&
                same_bytes(&again->message, &a->message);
    for (size_t i = 0; same && i < a->nlogs; i++)
        same = same_bytes(&again->logs[i], &a->logs[i]);
    free(again);
    sr_buf_fini(&b);
    if (!same)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sr_job_answer *a = calloc(1, sizeof(*a));
    struct sr_job_spec *s = calloc(1, sizeof(*s));
    if (!a || !s)
        abort();
    if (size && data[0] == 'A' && sr_job_answer_decode(data, size, a, NULL) == SR_OK)
        check_round_trip(a);
    if (size && data[0] == 'R' && sr_job_spec_decode(data, size, s, NULL) == SR_OK) {
        /* what decodes encodes, and decodes to the same spec */
        sr_buf b;
        sr_buf_init(&b, SR_MAX_IPC_FRAME);
        struct sr_job_spec *t = calloc(1, sizeof(*t));
        if (!t || sr_job_spec_encode(s, &b, NULL) != SR_OK ||
            sr_job_spec_decode((const uint8_t *)b.data, b.len, t, NULL) != SR_OK)
            abort();
        bool same = t->runtime == s->runtime && t->budget == s->budget &&
                    t->memory_bytes == s->memory_bytes && t->nargs == s->nargs &&
                    t->nenv == s->nenv && t->nsecrets == s->nsecrets &&
                    same_bytes(&t->code, &s->code) && same_bytes(&t->input, &s->input) &&
                    same_bytes(&t->entry, &s->entry) && strcmp(t->user, s->user) == 0 &&
                    memcmp(t->code_hash, s->code_hash, 32) == 0;
        for (size_t i = 0; same && i < s->nsecrets; i++)
            same = same_bytes(&t->secrets[i].name, &s->secrets[i].name) &&
                   same_bytes(&t->secrets[i].value, &s->secrets[i].value);
        free(t);
        sr_buf_fini(&b);
        if (!same)
            abort();
    }
    free(s);
    free(a);
    return 0;
}
