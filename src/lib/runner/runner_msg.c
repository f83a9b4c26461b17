/* SPDX-License-Identifier: MIT
 *
 * runner_msg.c - the binary codec of the messages between the supervisor
 * and a job process (sr_runner.h): the job spec, the module check and the
 * answer.
 *
 * A message is a kind byte, then sections: tag (1 byte), length (u32 LE),
 * bytes. The decoders never copy: they check each section's length against
 * its cap (tables spec_caps[] and answer_caps[]) and store views. Encoders
 * size the whole message first and reserve it once, so a buffer holding
 * secret values never leaves an unwiped copy behind when it grows.
 *
 * Sections: helpers; the spec; the module check; the answer.
 */
#include "runner_int.h"

#include <string.h>

#define KIND_RUN 'R'
#define KIND_CHECK 'C'
#define KIND_ANSWER 'A'
#define SECTION_HEAD 5u /* tag + u32 length */

/* ---- helpers ---- */

static void
put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* A message being written into a buffer reserved to its exact size. */
struct writer {
    uint8_t *p;
    size_t at;
};

static void
w_section(struct writer *w, uint8_t tag, const void *a, size_t alen, const void *b, size_t blen)
{
    w->p[w->at] = tag;
    put_u32(w->p + w->at + 1, (uint32_t)(alen + blen));
    w->at += SECTION_HEAD;
    if (alen)
        memcpy(w->p + w->at, a, alen);
    w->at += alen;
    if (blen)
        memcpy(w->p + w->at, b, blen);
    w->at += blen;
}

/* Reserves n bytes at the end of out for a message and returns the writer. */
static sr_status
w_begin(sr_buf *out, size_t n, uint8_t kind, struct writer *w, sr_err *err)
{
    sr_status rc = sr_buf_reserve(out, n, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "encoding a job message of %zu bytes", n);
    w->p = (uint8_t *)out->data + out->len;
    w->p[0] = kind;
    w->at = 1;
    return SR_OK;
}

static void
w_end(sr_buf *out, const struct writer *w)
{
    out->len += w->at;
    out->data[out->len] = '\0';
}

/* One section read from a message. */
struct section {
    uint8_t tag;
    struct sr_bytes b;
};

/* Reads the section at *at; false at the end of p. SR_EINVAL for a
 * truncated section. */
static sr_status
next_section(const uint8_t *p, size_t len, size_t *at, struct section *s, bool *more, sr_err *err)
{
    *more = *at < len;
    if (!*more)
        return SR_OK;
    if (len - *at < SECTION_HEAD)
        return sr_err_set(err, SR_EINVAL, "job message: truncated section header at byte %zu", *at);
    s->tag = p[*at];
    uint32_t n = get_u32(p + *at + 1);
    *at += SECTION_HEAD;
    if (n > len - *at)
        return sr_err_set(err, SR_EINVAL,
                          "job message: section %u claims %u bytes, %zu are left at byte %zu",
                          s->tag, n, len - *at, *at);
    s->b = (struct sr_bytes){p + *at, n};
    *at += n;
    return SR_OK;
}

/* The rule of one section tag: its cap, whether it may repeat (and how
 * often), and its name for messages. */
struct cap {
    const char *name;
    size_t max;      /* bytes; 0 = the tag is not allowed */
    size_t min;      /* bytes */
    unsigned repeat; /* 1 = singular, else at most this many */
};

static sr_status
check_section(const struct cap *caps, size_t ncaps, const struct section *s, unsigned *seen,
              sr_err *err)
{
    if (s->tag >= ncaps || !caps[s->tag].max)
        return sr_err_set(err, SR_EINVAL, "job message: unknown section tag %u", s->tag);
    const struct cap *c = &caps[s->tag];
    if (s->b.len > c->max || s->b.len < c->min)
        return sr_err_set(err, SR_EINVAL,
                          "job message: section '%s' is %zu bytes, expected %zu..%zu", c->name,
                          s->b.len, c->min, c->max);
    if (seen[s->tag] >= c->repeat)
        return sr_err_set(err, SR_EINVAL, "job message: section '%s' appears more than %u time(s)",
                          c->name, c->repeat);
    seen[s->tag]++;
    return SR_OK;
}

/* Decodes a message of 'kind': every section checked against caps[] and
 * handed to take(); seen[] counts each tag. */
typedef sr_status (*take_fn)(const struct section *s, void *out, sr_err *err);

static sr_status
decode_sections(const uint8_t *p, size_t len, uint8_t kind, const struct cap *caps, size_t ncaps,
                unsigned *seen, take_fn take, void *out, sr_err *err)
{
    if (len < 1 || p[0] != kind)
        return sr_err_set(err, SR_EINVAL, "job message: kind '%c' expected", kind);
    size_t at = 1;
    for (;;) {
        struct section s;
        bool more = false;
        sr_status rc = next_section(p, len, &at, &s, &more, err);
        if (rc == SR_OK && more)
            rc = check_section(caps, ncaps, &s, seen, err);
        if (rc == SR_OK && more)
            rc = take(&s, out, err);
        if (rc != SR_OK || !more)
            return rc;
    }
}

static bool
valid_user(const struct sr_bytes *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (b->p[i] == 0)
            return false;
    return b->len > 0;
}

/* ---- the spec ---- */

enum spec_tag {
    S_RUNTIME = 1,
    S_CODE_HASH,
    S_CODE,
    S_ENTRY,
    S_INPUT,
    S_LIMITS,
    S_JOB_ID,
    S_USER,
    S_ARG,
    S_ENV,
    S_SECRET,
    S_RECORD, /* the seed of a recorded job's randomness; present: record mode */
    S_COUNT_
};

#define LIMITS_LEN 18u /* budget u64, memory u64, output_format u8, flags u8 */
#define FLAG_BUDGET_IS_TIMEOUT 1u
#define FLAG_STORAGE 2u
#define FLAG_NATIVE_SHIFT 2u /* bits 2-3: enum sr_spec_native */
#define FLAG_NATIVE_MASK (3u << FLAG_NATIVE_SHIFT)

static const struct cap spec_caps[S_COUNT_] = {
    [S_RUNTIME] = {"runtime", 1, 1, 1},
    [S_CODE_HASH] = {"code_hash", 32, 32, 1},
    [S_CODE] = {"code", SR_MAX_MODULE, 0, 1},
    [S_ENTRY] = {"entry_point", SR_MAX_ENTRY_POINT, 0, 1},
    [S_INPUT] = {"input", SR_MAX_INPUT, 0, 1},
    [S_LIMITS] = {"limits", LIMITS_LEN, LIMITS_LEN, 1},
    [S_JOB_ID] = {"job_id", 32, 32, 1},
    [S_USER] = {"user", SR_MAX_USER_NAME, 1, 1},
    [S_ARG] = {"arg", SR_MAX_WASI_STRING, 0, SR_MAX_WASI_ARGS},
    [S_ENV] = {"env", SR_RUNNER_MAX_ENV_STRING, 0, SR_MAX_WASI_ENV},
    [S_SECRET] = {"secret", 2u + SR_RUNNER_MAX_SECRET_NAME + SR_RUNNER_MAX_SECRET_VALUE, 3,
                  SR_MAX_SECRET_REFS},
    [S_RECORD] = {"record", 32, 32, 1},
};

static sr_status
spec_size(const struct sr_job_spec *s, size_t *out, sr_err *err)
{
    if (s->nargs > SR_MAX_WASI_ARGS || s->nenv > SR_MAX_WASI_ENV ||
        s->nsecrets > SR_MAX_SECRET_REFS)
        return sr_err_set(err, SR_ELIMIT, "job spec: too many args, env entries or secrets");
    const struct sr_bytes *fixed[] = {&s->code, &s->entry, &s->input};
    const enum spec_tag tags[] = {S_CODE, S_ENTRY, S_INPUT};
    size_t n = 1 + (SECTION_HEAD + 1) + (SECTION_HEAD + 32) + (SECTION_HEAD + LIMITS_LEN) +
               (SECTION_HEAD + 32) + SECTION_HEAD + strlen(s->user) +
               (s->record ? SECTION_HEAD + 32 : 0);
    for (size_t i = 0; i < 3; i++) {
        if (fixed[i]->len > spec_caps[tags[i]].max)
            return sr_err_set(err, SR_ELIMIT, "job spec: '%s' is %zu bytes, at most %zu",
                              spec_caps[tags[i]].name, fixed[i]->len, spec_caps[tags[i]].max);
        n += SECTION_HEAD + fixed[i]->len;
    }
    for (size_t i = 0; i < s->nargs; i++)
        n += SECTION_HEAD + s->args[i].len;
    for (size_t i = 0; i < s->nenv; i++)
        n += SECTION_HEAD + s->env[i].len;
    for (size_t i = 0; i < s->nsecrets; i++) {
        if (s->secrets[i].name.len == 0 || s->secrets[i].name.len > SR_RUNNER_MAX_SECRET_NAME ||
            s->secrets[i].value.len > SR_RUNNER_MAX_SECRET_VALUE)
            return sr_err_set(err, SR_ELIMIT, "job spec: secret %zu is over its caps", i);
        n += SECTION_HEAD + 2 + s->secrets[i].name.len + s->secrets[i].value.len;
    }
    *out = n;
    return SR_OK;
}

sr_status
sr_job_spec_encode(const struct sr_job_spec *s, sr_buf *out, sr_err *err)
{
    size_t n = 0;
    struct writer w;
    sr_status rc = spec_size(s, &n, err);
    if (rc == SR_OK)
        rc = w_begin(out, n, KIND_RUN, &w, err);
    if (rc != SR_OK)
        return rc;
    uint8_t rt = (uint8_t)s->runtime, lim[LIMITS_LEN];
    put_u64(lim, s->budget);
    put_u64(lim + 8, s->memory_bytes);
    lim[16] = (uint8_t)s->output_format;
    lim[17] = (uint8_t)((s->budget_is_timeout ? FLAG_BUDGET_IS_TIMEOUT : 0) |
                        (s->storage ? FLAG_STORAGE : 0) |
                        (((unsigned)s->native << FLAG_NATIVE_SHIFT) & FLAG_NATIVE_MASK));
    w_section(&w, S_RUNTIME, &rt, 1, NULL, 0);
    w_section(&w, S_CODE_HASH, s->code_hash, 32, NULL, 0);
    w_section(&w, S_CODE, s->code.p, s->code.len, NULL, 0);
    w_section(&w, S_ENTRY, s->entry.p, s->entry.len, NULL, 0);
    w_section(&w, S_INPUT, s->input.p, s->input.len, NULL, 0);
    w_section(&w, S_LIMITS, lim, LIMITS_LEN, NULL, 0);
    w_section(&w, S_JOB_ID, s->job_id, 32, NULL, 0);
    w_section(&w, S_USER, s->user, strlen(s->user), NULL, 0);
    if (s->record)
        w_section(&w, S_RECORD, s->record_seed, 32, NULL, 0);
    for (size_t i = 0; i < s->nargs; i++)
        w_section(&w, S_ARG, s->args[i].p, s->args[i].len, NULL, 0);
    for (size_t i = 0; i < s->nenv; i++)
        w_section(&w, S_ENV, s->env[i].p, s->env[i].len, NULL, 0);
    for (size_t i = 0; i < s->nsecrets; i++) {
        uint8_t nl[2] = {(uint8_t)s->secrets[i].name.len, (uint8_t)(s->secrets[i].name.len >> 8)};
        /* the name's length prefix and the name go in the first part */
        uint8_t head[2 + SR_RUNNER_MAX_SECRET_NAME];
        memcpy(head, nl, 2);
        memcpy(head + 2, s->secrets[i].name.p, s->secrets[i].name.len);
        w_section(&w, S_SECRET, head, 2 + s->secrets[i].name.len, s->secrets[i].value.p,
                  s->secrets[i].value.len);
    }
    w_end(out, &w);
    return SR_OK;
}

static sr_status
spec_limits(const struct sr_bytes *b, struct sr_job_spec *o, sr_err *err)
{
    o->budget = get_u64(b->p);
    o->memory_bytes = get_u64(b->p + 8);
    if (b->p[16] > SR_OUTPUT_BASE64 ||
        (b->p[17] & ~(FLAG_BUDGET_IS_TIMEOUT | FLAG_STORAGE | FLAG_NATIVE_MASK)))
        return sr_err_set(err, SR_EINVAL, "job message: bad output format or flags");
    o->native = (enum sr_spec_native)((b->p[17] & FLAG_NATIVE_MASK) >> FLAG_NATIVE_SHIFT);
    o->output_format = (enum sr_output_format)b->p[16];
    o->budget_is_timeout = (b->p[17] & FLAG_BUDGET_IS_TIMEOUT) != 0;
    o->storage = (b->p[17] & FLAG_STORAGE) != 0;
    return SR_OK;
}

static sr_status
spec_secret(const struct sr_bytes *b, struct sr_job_spec *o, sr_err *err)
{
    size_t nl = (size_t)b->p[0] | (size_t)b->p[1] << 8;
    if (nl == 0 || nl > SR_RUNNER_MAX_SECRET_NAME || nl > b->len - 2 ||
        b->len - 2 - nl > SR_RUNNER_MAX_SECRET_VALUE)
        return sr_err_set(err, SR_EINVAL, "job message: malformed secret section");
    struct sr_job_secret *sec = &o->secrets[o->nsecrets++];
    sec->name = (struct sr_bytes){b->p + 2, nl};
    sec->value = (struct sr_bytes){b->p + 2 + nl, b->len - 2 - nl};
    return SR_OK;
}

static sr_status
spec_take(const struct section *s, void *out, sr_err *err)
{
    struct sr_job_spec *o = out;
    switch (s->tag) {
    case S_RUNTIME:
        if (s->b.p[0] > SR_RUNTIME_WASM)
            return sr_err_set(err, SR_EINVAL, "job message: unknown runtime %u", s->b.p[0]);
        o->runtime = (enum sr_runtime)s->b.p[0];
        return SR_OK;
    case S_CODE_HASH:
        memcpy(o->code_hash, s->b.p, 32);
        return SR_OK;
    case S_CODE:
        o->code = s->b;
        return SR_OK;
    case S_ENTRY:
        o->entry = s->b;
        return SR_OK;
    case S_INPUT:
        o->input = s->b;
        return SR_OK;
    case S_LIMITS:
        return spec_limits(&s->b, o, err);
    case S_JOB_ID:
        memcpy(o->job_id, s->b.p, 32);
        o->job_id[32] = '\0';
        return SR_OK;
    case S_USER:
        if (!valid_user(&s->b))
            return sr_err_set(err, SR_EINVAL, "job message: bad user name");
        memcpy(o->user, s->b.p, s->b.len);
        o->user[s->b.len] = '\0';
        return SR_OK;
    case S_ARG:
        o->args[o->nargs++] = s->b;
        return SR_OK;
    case S_ENV:
        o->env[o->nenv++] = s->b;
        return SR_OK;
    case S_RECORD:
        o->record = true;
        memcpy(o->record_seed, s->b.p, 32);
        return SR_OK;
    default: /* S_SECRET: check_section refused every other tag */
        return spec_secret(&s->b, o, err);
    }
}

sr_status
sr_job_spec_decode(const uint8_t *p, size_t len, struct sr_job_spec *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    unsigned seen[S_COUNT_] = {0};
    sr_status rc =
        decode_sections(p, len, KIND_RUN, spec_caps, S_COUNT_, seen, spec_take, out, err);
    if (rc != SR_OK)
        return rc;
    static const enum spec_tag required[] = {S_RUNTIME, S_CODE_HASH, S_INPUT,
                                             S_LIMITS,  S_JOB_ID,    S_USER};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!seen[required[i]])
            return sr_err_set(err, SR_EINVAL, "job message: section '%s' is missing",
                              spec_caps[required[i]].name);
    if (out->runtime == SR_RUNTIME_JS && out->code.len > SR_MAX_SCRIPT)
        return sr_err_set(err, SR_EINVAL, "job message: script of %zu bytes", out->code.len);
    return SR_OK;
}

/* ---- the module check ---- */

sr_status
sr_module_check_encode(const uint8_t *module, size_t len, sr_buf *out, sr_err *err)
{
    struct writer w;
    if (len > SR_MAX_MODULE)
        return sr_err_set(err, SR_ELIMIT, "module of %zu bytes; the limit is %u bytes", len,
                          SR_MAX_MODULE);
    sr_status rc = w_begin(out, 1 + SECTION_HEAD + len, KIND_CHECK, &w, err);
    if (rc != SR_OK)
        return rc;
    w_section(&w, S_CODE, module, len, NULL, 0);
    w_end(out, &w);
    return SR_OK;
}

sr_status
sr_runner__check_decode(const uint8_t *p, size_t len, struct sr_bytes *module, sr_err *err)
{
    struct section s;
    bool more = false;
    size_t at = 1;
    if (len < 1 || p[0] != KIND_CHECK)
        return sr_err_set(err, SR_EINVAL, "job message: not a module check");
    sr_status rc = next_section(p, len, &at, &s, &more, err);
    if (rc == SR_OK && (!more || s.tag != S_CODE || at != len))
        rc = sr_err_set(err, SR_EINVAL, "job message: a module check holds one module section");
    if (rc == SR_OK)
        *module = s.b;
    return rc;
}

/* ---- the answer ---- */

enum answer_tag {
    A_CODE = 1,
    A_OUTPUT,
    A_MESSAGE,
    A_GAS,
    A_LOG,
    A_COUNTS,
    A_IMPORT,
    A_EXPORT,
    A_FLAGS,
    A_COUNT_
};

#define AFLAG_MODULE_INVALID 1u
#define AFLAG_NATIVE 2u

/* extern: kind u8 | module_len u16 | module | name */
#define EXTERN_MAX (3u + 2u * SR_RUNNER_MAX_NAME)

static const struct cap answer_caps[A_COUNT_] = {
    [A_CODE] = {"code", 2, 2, 1},
    [A_OUTPUT] = {"output", SR_RUNNER_MAX_OUTPUT_TEXT, 0, 1},
    [A_MESSAGE] = {"message", SR_RUNNER_MAX_MESSAGE, 0, 1},
    [A_GAS] = {"gas_used", 8, 8, 1},
    [A_LOG] = {"log", SR_RUNNER_MAX_LOG_BYTES, 0, SR_MAX_LOG_ENTRIES},
    [A_COUNTS] = {"counts", 16, 16, 1},
    [A_IMPORT] = {"import", EXTERN_MAX, 3, SR_RUNNER_MAX_DESCRIBED},
    [A_EXPORT] = {"export", EXTERN_MAX, 3, SR_RUNNER_MAX_DESCRIBED},
    [A_FLAGS] = {"flags", 1, 1, 1},
};

static size_t
extern_len(const struct sr_extern_view *x)
{
    return 3 + x->module.len + x->name.len;
}

static sr_status
answer_size(const struct sr_job_answer *a, size_t *out, sr_err *err)
{
    if (a->nlogs > SR_MAX_LOG_ENTRIES || a->nimports > SR_RUNNER_MAX_DESCRIBED ||
        a->nexports > SR_RUNNER_MAX_DESCRIBED)
        return sr_err_set(err, SR_ELIMIT, "job answer: too many logs, imports or exports");
    if (a->output.len > SR_RUNNER_MAX_OUTPUT_TEXT || a->message.len > SR_RUNNER_MAX_MESSAGE)
        return sr_err_set(err, SR_ELIMIT, "job answer: output or message over its cap");
    size_t n = 1 + (SECTION_HEAD + 2) + (SECTION_HEAD + 8) + (SECTION_HEAD + 16) +
               (SECTION_HEAD + 1) + SECTION_HEAD + a->output.len + SECTION_HEAD + a->message.len;
    for (size_t i = 0; i < a->nlogs; i++) {
        if (a->logs[i].len > SR_RUNNER_MAX_LOG_BYTES)
            return sr_err_set(err, SR_ELIMIT, "job answer: log entry %zu over its cap", i);
        n += SECTION_HEAD + a->logs[i].len;
    }
    const struct sr_extern_view *lists[2] = {a->imports, a->exports};
    const size_t counts[2] = {a->nimports, a->nexports};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            if (lists[l][i].module.len > SR_RUNNER_MAX_NAME ||
                lists[l][i].name.len > SR_RUNNER_MAX_NAME)
                return sr_err_set(err, SR_ELIMIT, "job answer: extern name over its cap");
            n += SECTION_HEAD + extern_len(&lists[l][i]);
        }
    *out = n;
    return SR_OK;
}

static void
w_extern(struct writer *w, uint8_t tag, const struct sr_extern_view *x)
{
    uint8_t head[3 + SR_RUNNER_MAX_NAME];
    head[0] = (uint8_t)x->kind;
    head[1] = (uint8_t)x->module.len;
    head[2] = (uint8_t)(x->module.len >> 8);
    if (x->module.len)
        memcpy(head + 3, x->module.p, x->module.len);
    w_section(w, tag, head, 3 + x->module.len, x->name.p, x->name.len);
}

sr_status
sr_job_answer_encode(const struct sr_job_answer *a, sr_buf *out, sr_err *err)
{
    size_t n = 0;
    struct writer w;
    sr_status rc = answer_size(a, &n, err);
    if (rc == SR_OK)
        rc = w_begin(out, n, KIND_ANSWER, &w, err);
    if (rc != SR_OK)
        return rc;
    uint8_t code[2] = {(uint8_t)a->code, (uint8_t)((unsigned)a->code >> 8)}, gas[8], counts[16];
    put_u64(gas, a->gas_used);
    put_u64(counts, a->import_count);
    put_u64(counts + 8, a->export_count);
    w_section(&w, A_CODE, code, 2, NULL, 0);
    w_section(&w, A_GAS, gas, 8, NULL, 0);
    w_section(&w, A_COUNTS, counts, 16, NULL, 0);
    uint8_t flags =
        (uint8_t)((a->module_invalid ? AFLAG_MODULE_INVALID : 0) | (a->native ? AFLAG_NATIVE : 0));
    w_section(&w, A_FLAGS, &flags, 1, NULL, 0);
    w_section(&w, A_OUTPUT, a->output.p, a->output.len, NULL, 0);
    w_section(&w, A_MESSAGE, a->message.p, a->message.len, NULL, 0);
    for (size_t i = 0; i < a->nlogs; i++)
        w_section(&w, A_LOG, a->logs[i].p, a->logs[i].len, NULL, 0);
    for (size_t i = 0; i < a->nimports; i++)
        w_extern(&w, A_IMPORT, &a->imports[i]);
    for (size_t i = 0; i < a->nexports; i++)
        w_extern(&w, A_EXPORT, &a->exports[i]);
    w_end(out, &w);
    return SR_OK;
}

static sr_status
answer_extern(const struct sr_bytes *b, struct sr_extern_view *x, sr_err *err)
{
    size_t ml = (size_t)b->p[1] | (size_t)b->p[2] << 8;
    if (b->p[0] > SR_EXTERN_GLOBAL || ml > SR_RUNNER_MAX_NAME || ml > b->len - 3 ||
        b->len - 3 - ml > SR_RUNNER_MAX_NAME)
        return sr_err_set(err, SR_EINVAL, "job answer: malformed import or export");
    x->kind = (enum sr_extern_kind)b->p[0];
    x->module = (struct sr_bytes){b->p + 3, ml};
    x->name = (struct sr_bytes){b->p + 3 + ml, b->len - 3 - ml};
    return SR_OK;
}

static sr_status
answer_take(const struct section *s, void *out, sr_err *err)
{
    struct sr_job_answer *o = out;
    unsigned code;
    switch (s->tag) {
    case A_CODE:
        code = (unsigned)s->b.p[0] | (unsigned)s->b.p[1] << 8;
        if (code >= SR_JOB_CODE_COUNT_)
            return sr_err_set(err, SR_EINVAL, "job answer: unknown job code %u", code);
        o->code = (enum sr_job_code)code;
        return SR_OK;
    case A_OUTPUT:
        o->output = s->b;
        return SR_OK;
    case A_MESSAGE:
        o->message = s->b;
        return SR_OK;
    case A_GAS:
        o->gas_used = get_u64(s->b.p);
        return SR_OK;
    case A_LOG:
        o->logs[o->nlogs++] = s->b;
        return SR_OK;
    case A_COUNTS:
        o->import_count = get_u64(s->b.p);
        o->export_count = get_u64(s->b.p + 8);
        return SR_OK;
    case A_IMPORT:
        return answer_extern(&s->b, &o->imports[o->nimports++], err);
    case A_FLAGS:
        if (s->b.p[0] & ~(AFLAG_MODULE_INVALID | AFLAG_NATIVE))
            return sr_err_set(err, SR_EINVAL, "job answer: unknown flags %u", s->b.p[0]);
        o->module_invalid = (s->b.p[0] & AFLAG_MODULE_INVALID) != 0;
        o->native = (s->b.p[0] & AFLAG_NATIVE) != 0;
        return SR_OK;
    default: /* A_EXPORT */
        return answer_extern(&s->b, &o->exports[o->nexports++], err);
    }
}

sr_status
sr_job_answer_decode(const uint8_t *p, size_t len, struct sr_job_answer *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    unsigned seen[A_COUNT_] = {0};
    sr_status rc =
        decode_sections(p, len, KIND_ANSWER, answer_caps, A_COUNT_, seen, answer_take, out, err);
    if (rc != SR_OK)
        return rc;
    if (!seen[A_CODE] || !seen[A_GAS])
        return sr_err_set(err, SR_EINVAL, "job answer: the code or gas section is missing");
    return SR_OK;
}
