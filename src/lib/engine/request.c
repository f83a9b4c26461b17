/* SPDX-License-Identifier: MIT
 *
 * request.c - the job request: validating a POST /execute body (the same
 * code `sealrun run` uses), copying it for the async queue, and storing it
 * as JSON for a queued job.
 *
 * Every field is checked for type and range with a message that names the
 * field and what was expected; unknown fields are refused so a typo never
 * goes unnoticed. What later steps need is computed here, once: the code's
 * SHA-256, the input's canonical bytes (RFC 8785) and their SHA-256, and a
 * WASM job's stdin. Module bytes are only decoded from base64 and hashed:
 * they are untrusted and parsed only in a job process.
 * Sections: helpers; common fields; JavaScript; WebAssembly; the entry
 * points.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_util.h"

/* ---- helpers ---- */

static const char *const common_fields[] = {
    "runtime",   "input",         "secret_refs",   "timeout",           "memory_mb",
    "gas_limit", "async",         "output_pubkey", "storage_namespace", "http",
    "record",    "record_pubkey", "callback_url"};
static const char *const js_fields[] = {"script", "entry_point"};
static const char *const wasm_fields[] = {"module", "module_hash", "output_format",
                                          "args",   "env",         "tier"};

static bool
in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return true;
    return false;
}

#define IN(k, l) in_list((k), (l), sizeof(l) / sizeof((l)[0]))

static sr_status
check_fields(const json_t *body, bool wasm, sr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)body, k, v)
    {
        if (IN(k, common_fields) || (wasm ? IN(k, wasm_fields) : IN(k, js_fields)))
            continue;
        if (wasm ? IN(k, js_fields) : IN(k, wasm_fields))
            return sr_err_set(err, SR_EINVAL, "field '%.64s' is for runtime \"%s\", not \"%s\"", k,
                              wasm ? "js" : "wasm", wasm ? "wasm" : "js");
        return sr_err_set(
            err, SR_EINVAL,
            wasm ? "unknown field '%.64s'; expected runtime, module or module_hash, "
                   "input, output_format, args, env, timeout, memory_mb, "
                   "gas_limit, async, output_pubkey, secret_refs, storage_namespace, http, "
                   "record, record_pubkey, callback_url, tier"
                 : "unknown field '%.64s'; expected runtime, script, entry_point, "
                   "input, secret_refs, timeout, memory_mb, gas_limit, async, "
                   "output_pubkey, storage_namespace, http, record, record_pubkey, "
                   "callback_url",
            k);
    }
    return SR_OK;
}

static sr_status
get_uint(const json_t *body, const char *name, int64_t min, int64_t max, int64_t def, int64_t *out,
         sr_err *err)
{
    const json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) {
        *out = def;
        return SR_OK;
    }
    double d = json_is_integer(v) ? (double)json_integer_value(v)
                                  : (json_is_real(v) ? json_real_value(v) : -1.0);
    if (!json_is_number(v) || d != (double)(int64_t)d)
        return sr_err_set(err, SR_EINVAL, "field '%s' must be a whole number", name);
    int64_t n = json_is_integer(v) ? json_integer_value(v) : (int64_t)d;
    if (n < min || n > max)
        return sr_err_set(err, SR_EINVAL, "field '%s' must be %lld..%lld, got %lld", name,
                          (long long)min, (long long)max, (long long)n);
    *out = n;
    return SR_OK;
}

static char *
dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static sr_status parse_strings(const json_t *arr, const char *field, size_t max, char ***out,
                               size_t *n, sr_err *err);

/* ---- common fields ---- */

/* The input's canonical bytes and hash; a WASM job's stdin: the UTF-8 of a
 * string input, else the canonical text. An input past SR_MAX_INPUT is
 * kept: the job fails with INPUT_TOO_LARGE, as a result. */
static sr_status
parse_input(const json_t *in, struct sr_job_request *out, sr_err *err)
{
    sr_buf canon;
    sr_buf_init(&canon, 2u * SR_MAX_BODY);
    sr_status rc = sr_json_canonical(in ? in : json_null(), &canon, err);
    if (rc != SR_OK) {
        sr_buf_fini(&canon);
        return sr_err_wrap(err, "field 'input'");
    }
    out->input_len = canon.len;
    out->input = sr_buf_steal(&canon);
    if (!out->input)
        return sr_err_set(err, SR_ENOMEM, "out of memory encoding the input");
    sr_sha256_hex(out->input, out->input_len, out->input_hash_hex);
    if (out->runtime != SR_RUNTIME_WASM)
        return SR_OK;
    const char *src = json_is_string(in) ? json_string_value(in) : out->input;
    size_t n = json_is_string(in) ? json_string_length(in) : out->input_len;
    out->stdin_data = malloc(n + 1);
    if (!out->stdin_data)
        return sr_err_set(err, SR_ENOMEM, "out of memory copying the input");
    memcpy(out->stdin_data, src, n);
    out->stdin_data[n] = 0;
    out->stdin_len = n;
    return SR_OK;
}

/* secret_refs entries are "REF" or {"name": "REF", "mode": "value" | "http-only"}
 * (docs/http.md): *names gets the references as strings (a new array, or
 * the field itself when it is not an array), *http_only bit i the mode. */
static sr_status
ref_names(const json_t *arr, json_t **names, uint32_t *http_only, sr_err *err)
{
    *http_only = 0;
    if (!json_is_array(arr) || json_array_size(arr) > SR_MAX_SECRET_REFS) {
        *names = json_incref((json_t *)(uintptr_t)arr);
        return SR_OK;
    }
    *names = json_array();
    for (size_t i = 0; *names && i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        if (json_is_object(v)) {
            const json_t *n = json_object_get(v, "name"), *m = json_object_get(v, "mode");
            const char *mode = m ? json_string_value(m) : "value";
            if (!json_is_string(n) || json_object_size(v) != (m ? 2u : 1u) || !mode ||
                (strcmp(mode, "value") != 0 && strcmp(mode, "http-only") != 0))
                return sr_err_set(err, SR_EINVAL,
                                  "field 'secret_refs' entry %zu must be a reference string or "
                                  "{\"name\": REF, \"mode\": \"value\" | \"http-only\"}",
                                  i);
            if (strcmp(mode, "http-only") == 0)
                *http_only |= 1u << i;
            v = n;
        }
        (void)json_array_append(*names, (json_t *)(uintptr_t)v);
    }
    return *names ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory");
}

/* "record": true keeps the job's recording, sealed to "record_pubkey"
 * (or, without it, to "output_pubkey"): docs/http.md "Record and replay". */
static sr_status
parse_record(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *r = json_object_get(body, "record");
    const json_t *pk = json_object_get(body, "record_pubkey");
    if (r && !json_is_boolean(r) && !json_is_null(r))
        return sr_err_set(err, SR_EINVAL, "field 'record' must be true or false");
    out->record = r && json_is_true(r);
    if (pk && !json_is_null(pk)) {
        if (!out->record)
            return sr_err_set(err, SR_EINVAL, "field 'record_pubkey' needs \"record\": true");
        if (!json_is_string(pk))
            return sr_err_set(err, SR_EINVAL,
                              "field 'record_pubkey' must be a base64 X25519 public key");
        if (sr_box_pk_parse(json_string_value(pk), out->record_pubkey, err) != SR_OK)
            return sr_err_wrap(err, "field 'record_pubkey'");
    } else if (out->record && out->has_pubkey) {
        memcpy(out->record_pubkey, out->output_pubkey, SR_BOX_PK_LEN);
    } else if (out->record) {
        return sr_err_set(err, SR_EINVAL,
                          "field 'record' needs 'record_pubkey' (or 'output_pubkey'): the "
                          "recording is sealed to that X25519 key (sealrun keygen)");
    }
    return SR_OK;
}

static sr_status
parse_common(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    bool wasm = out->runtime == SR_RUNTIME_WASM;
    int64_t t, m, g;
    sr_status rc = get_uint(body, "timeout", 1, SR_MAX_TIMEOUT_S, SR_DEFAULT_TIMEOUT_S, &t, err);
    if (rc == SR_OK)
        rc = get_uint(body, "memory_mb", 16, SR_MAX_MEMORY_MB, SR_DEFAULT_MEMORY_MB, &m, err);
    if (rc == SR_OK)
        rc = wasm ? get_uint(body, "gas_limit", 1, (int64_t)SR_MAX_FUEL, (int64_t)SR_DEFAULT_FUEL,
                             &g, err)
                  : get_uint(body, "gas_limit", 1, (int64_t)SR_MAX_TIMEOUT_S * 1000000, 0, &g, err);
    if (rc != SR_OK)
        return rc;
    out->timeout_s = (uint32_t)t;
    out->memory_mb = (uint32_t)m;
    out->gas_limit = (uint64_t)g;
    /* syntax here; names are checked against the caller in the engine */
    json_t *names = NULL;
    rc = ref_names(json_object_get(body, "secret_refs"), &names, &out->http_only_refs, err);
    if (rc == SR_OK)
        rc = parse_strings(names, "secret_refs", SR_MAX_SECRET_REFS, &out->secret_refs, &out->nrefs,
                           err);
    json_decref(names);
    if (rc != SR_OK)
        return rc;
    const json_t *a = json_object_get(body, "async");
    if (a && !json_is_boolean(a) && !json_is_null(a))
        return sr_err_set(err, SR_EINVAL, "field 'async' must be true or false");
    out->async = a && json_is_true(a);
    const json_t *pk = json_object_get(body, "output_pubkey");
    if (pk && !json_is_null(pk)) {
        if (!json_is_string(pk))
            return sr_err_set(err, SR_EINVAL,
                              "field 'output_pubkey' must be a base64 X25519 public key");
        if (sr_box_pk_parse(json_string_value(pk), out->output_pubkey, err) != SR_OK)
            return sr_err_wrap(err, "field 'output_pubkey'");
        out->has_pubkey = true;
    }
    rc = parse_record(body, out, err);
    if (rc != SR_OK)
        return rc;
    const json_t *ns = json_object_get(body, "storage_namespace");
    if (ns && !json_is_null(ns)) {
        if (!json_is_string(ns))
            return sr_err_set(err, SR_EINVAL, "field 'storage_namespace' must be a string");
        if (sr_storage_ns_check(json_string_value(ns), json_string_length(ns), err) != SR_OK)
            return sr_err_wrap(err, "field 'storage_namespace'");
        (void)snprintf(out->storage_namespace, sizeof(out->storage_namespace), "%s",
                       json_string_value(ns));
    }
    rc = sr_http_job_parse(json_object_get(body, "http"), &out->http, err);
    if (rc != SR_OK)
        return rc;
    const json_t *cb = json_object_get(body, "callback_url");
    if (cb && !json_is_null(cb)) {
        size_t n = json_is_string(cb) ? json_string_length(cb) : 0;
        if (!n || n > SR_WEBHOOK_MAX_URL || strlen(json_string_value(cb)) != n)
            return sr_err_set(err, SR_EINVAL,
                              "field 'callback_url' must be a URL of 1..%d bytes (an https URL "
                              "the job's end is POSTed to)",
                              SR_WEBHOOK_MAX_URL);
        out->callback_url = strdup(json_string_value(cb));
        if (!out->callback_url)
            return sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    return parse_input(json_object_get(body, "input"), out, err);
}

/* ---- JavaScript ---- */

static sr_status
parse_script(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *s = json_object_get(body, "script");
    if (!s)
        return sr_err_set(err, SR_EINVAL, "field 'script' is required (JavaScript source text)");
    if (!json_is_string(s))
        return sr_err_set(err, SR_EINVAL, "field 'script' must be a string");
    size_t len = json_string_length(s);
    if (len == 0)
        return sr_err_set(err, SR_EINVAL, "field 'script' is empty");
    if (len > SR_MAX_SCRIPT)
        return sr_err_set(err, SR_ELIMIT, "field 'script' is %zu bytes; the limit is %u bytes", len,
                          SR_MAX_SCRIPT);
    out->code = (uint8_t *)dup_n(json_string_value(s), len);
    if (!out->code)
        return sr_err_set(err, SR_ENOMEM, "out of memory copying the script");
    out->code_len = len;
    sr_sha256(out->code, len, out->code_hash);
    sr_hex_encode(out->code_hash, 32, out->code_hash_hex);
    return SR_OK;
}

static sr_status
parse_entry(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *e = json_object_get(body, "entry_point");
    const char *name = "main";
    if (e && !json_is_null(e)) {
        name = json_string_value(e);
        if (!name)
            return sr_err_set(err, SR_EINVAL, "field 'entry_point' must be a string");
        bool ok = sr_is_entry_name(name, json_string_length(e));
        if (!ok)
            return sr_err_set(err, SR_EINVAL,
                              "field 'entry_point' must be a JavaScript identifier of 1..%d "
                              "characters, got '%.64s'",
                              SR_MAX_ENTRY_POINT, name);
    }
    out->entry_point = strdup(name);
    return out->entry_point ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory");
}

/* ---- WebAssembly ---- */

static sr_status
parse_module(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *m = json_object_get(body, "module");
    const json_t *h = json_object_get(body, "module_hash");
    if (!!m == !!h)
        return sr_err_set(err, SR_EINVAL,
                          "runtime \"wasm\" needs exactly one of 'module' (base64 bytes) or "
                          "'module_hash' (from POST /modules)");
    if (h) {
        const char *hex = json_string_value(h);
        if (!sr_is_lower_hex(hex, SR_HASH_HEX_LEN) || json_string_length(h) != SR_HASH_HEX_LEN)
            return sr_err_set(err, SR_EINVAL,
                              "field 'module_hash' must be 64 lower-case hex characters");
        memcpy(out->code_hash_hex, hex, SR_HASH_HEX_LEN + 1);
        return sr_hex_decode(hex, SR_HASH_HEX_LEN, out->code_hash, 32, err);
    }
    const char *b64 = json_string_value(m);
    if (!b64)
        return sr_err_set(err, SR_EINVAL, "field 'module' must be a base64 string");
    size_t blen = json_string_length(m);
    if (blen / 4 * 3 > SR_MAX_MODULE + 3)
        return sr_err_set(err, SR_ELIMIT, "field 'module' is larger than the limit of %u bytes",
                          SR_MAX_MODULE);
    sr_status rc = sr_base64_decode(b64, blen, &out->code, &out->code_len, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "field 'module'");
    if (out->code_len > SR_MAX_MODULE)
        return sr_err_set(err, SR_ELIMIT, "field 'module' is %zu bytes; the limit is %u bytes",
                          out->code_len, SR_MAX_MODULE);
    if (out->code_len == 0)
        return sr_err_set(err, SR_EINVAL, "field 'module' is empty; send the module's bytes");
    sr_sha256(out->code, out->code_len, out->code_hash);
    sr_hex_encode(out->code_hash, 32, out->code_hash_hex);
    return SR_OK;
}

static sr_status
parse_strings(const json_t *arr, const char *field, size_t max, char ***out, size_t *n, sr_err *err)
{
    if (!arr || json_is_null(arr))
        return SR_OK;
    if (!json_is_array(arr))
        return sr_err_set(err, SR_EINVAL, "field '%s' must be an array of strings", field);
    if (json_array_size(arr) > max)
        return sr_err_set(err, SR_EINVAL, "field '%s' has %zu entries; at most %zu", field,
                          json_array_size(arr), max);
    *out = calloc(json_array_size(arr) + 1, sizeof(**out));
    if (!*out)
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v) || json_string_length(v) > SR_MAX_WASI_STRING ||
            strlen(json_string_value(v)) != json_string_length(v))
            return sr_err_set(err, SR_EINVAL,
                              "field '%s' entry %zu must be a string of at most %d bytes "
                              "without NUL",
                              field, i, SR_MAX_WASI_STRING);
        (*out)[(*n)++] = strdup(json_string_value(v));
        if (!(*out)[*n - 1])
            return sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    return SR_OK;
}

static bool
valid_env_name(const char *k)
{
    if (!*k || (*k >= '0' && *k <= '9') || strncmp(k, "SEALRUN_", 8) == 0)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return strlen(k) <= 128;
}

static sr_status
parse_env(const json_t *env, struct sr_job_request *out, sr_err *err)
{
    if (!env || json_is_null(env))
        return SR_OK;
    if (!json_is_object(env))
        return sr_err_set(err, SR_EINVAL, "field 'env' must be an object of NAME: \"value\"");
    if (json_object_size(env) > SR_MAX_WASI_ENV)
        return sr_err_set(err, SR_EINVAL, "field 'env' has %zu entries; at most %d",
                          json_object_size(env), SR_MAX_WASI_ENV);
    out->env = calloc(json_object_size(env) + 1, sizeof(*out->env));
    if (!out->env)
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)env, k, v)
    {
        if (!valid_env_name(k))
            return sr_err_set(err, SR_EINVAL,
                              "field 'env' name '%.64s' must be 1..128 of A-Z a-z 0-9 _, not "
                              "starting with a digit or SEALRUN_",
                              k);
        const char *val = json_string_value(v);
        if (!val || json_string_length(v) > SR_MAX_WASI_STRING ||
            strlen(val) != json_string_length(v))
            return sr_err_set(err, SR_EINVAL,
                              "field 'env' value of '%.64s' must be a string of at most %d bytes "
                              "without NUL",
                              k, SR_MAX_WASI_STRING);
        size_t n = strlen(k) + strlen(val) + 2;
        char *kv = malloc(n);
        if (!kv)
            return sr_err_set(err, SR_ENOMEM, "out of memory");
        (void)snprintf(kv, n, "%s=%s", k, val);
        out->env[out->nenv++] = kv;
    }
    return SR_OK;
}

static sr_status
parse_wasm(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    sr_status rc = parse_module(body, out, err);
    if (rc != SR_OK)
        return rc;
    const json_t *f = json_object_get(body, "output_format");
    const char *fmt = f && !json_is_null(f) ? json_string_value(f) : "json";
    if (fmt && strcmp(fmt, "json") == 0)
        out->output_format = SR_OUTPUT_JSON;
    else if (fmt && strcmp(fmt, "text") == 0)
        out->output_format = SR_OUTPUT_TEXT;
    else if (fmt && strcmp(fmt, "base64") == 0)
        out->output_format = SR_OUTPUT_BASE64;
    else
        return sr_err_set(err, SR_EINVAL,
                          "field 'output_format' must be \"json\", \"text\" or \"base64\"");
    const json_t *t = json_object_get(body, "tier");
    const char *tier = t && !json_is_null(t) ? json_string_value(t) : "auto";
    if (tier && strcmp(tier, "auto") == 0)
        out->tier = SR_TIER_AUTO;
    else if (tier && strcmp(tier, "interp") == 0)
        out->tier = SR_TIER_INTERP;
    else if (tier && strcmp(tier, "native") == 0)
        out->tier = SR_TIER_NATIVE;
    else
        return sr_err_set(err, SR_EINVAL,
                          "field 'tier' must be \"auto\", \"interp\" or \"native\"");
    rc = parse_strings(json_object_get(body, "args"), "args", SR_MAX_WASI_ARGS, &out->args,
                       &out->nargs, err);
    if (rc == SR_OK)
        rc = parse_env(json_object_get(body, "env"), out, err);
    return rc;
}

/* ---- the entry points ---- */

sr_status
sr_job_request_parse(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(body))
        return sr_err_set(err, SR_EINVAL, "request body must be a JSON object");
    const json_t *rt = json_object_get(body, "runtime");
    const char *name = rt ? json_string_value(rt) : "js";
    if (!name || (strcmp(name, "js") != 0 && strcmp(name, "wasm") != 0))
        return sr_err_set(err, SR_EINVAL, "field 'runtime' must be \"js\" or \"wasm\"");
    bool wasm = strcmp(name, "wasm") == 0;
    out->runtime = wasm ? SR_RUNTIME_WASM : SR_RUNTIME_JS;
    sr_status rc = check_fields(body, wasm, err);
    if (rc == SR_OK && wasm)
        rc = parse_wasm(body, out, err);
    if (rc == SR_OK && !wasm)
        rc = parse_script(body, out, err);
    if (rc == SR_OK && !wasm)
        rc = parse_entry(body, out, err);
    if (rc == SR_OK)
        rc = parse_common(body, out, err);
    if (rc != SR_OK)
        sr_job_request_fini(out);
    return rc;
}

static void
free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void
sr_job_request_fini(struct sr_job_request *req)
{
    free(req->code);
    free(req->entry_point);
    free(req->input);
    free(req->stdin_data);
    free_strings(req->args, req->nargs);
    free_strings(req->env, req->nenv);
    free_strings(req->secret_refs, req->nrefs);
    sr_http_job_fini(&req->http);
    free(req->callback_url);
    memset(req, 0, sizeof(*req));
}

static char **
copy_strings(char *const *v, size_t n, bool *ok)
{
    if (!v)
        return NULL;
    char **out = calloc(n + 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++) {
        out[i] = strdup(v[i]);
        *ok = *ok && out[i];
    }
    *ok = *ok && out;
    return out;
}

static void *
copy_bytes(const void *p, size_t n, bool *ok)
{
    if (!p)
        return NULL;
    void *out = malloc(n + 1);
    if (out) {
        memcpy(out, p, n);
        ((char *)out)[n] = '\0';
    }
    *ok = *ok && out;
    return out;
}

sr_status
sr_engine__request_copy(const struct sr_job_request *src, struct sr_job_request *dst, sr_err *err)
{
    bool ok = true;
    *dst = *src;
    dst->code = copy_bytes(src->code, src->code_len, &ok);
    dst->entry_point =
        src->entry_point ? copy_bytes(src->entry_point, strlen(src->entry_point), &ok) : NULL;
    dst->input = copy_bytes(src->input, src->input_len, &ok);
    dst->stdin_data = copy_bytes(src->stdin_data, src->stdin_len, &ok);
    dst->args = copy_strings(src->args, src->nargs, &ok);
    dst->env = copy_strings(src->env, src->nenv, &ok);
    dst->secret_refs = copy_strings(src->secret_refs, src->nrefs, &ok);
    dst->callback_url =
        src->callback_url ? copy_bytes(src->callback_url, strlen(src->callback_url), &ok) : NULL;
    ok = sr_http_job_copy(&src->http, &dst->http, NULL) == SR_OK && ok;
    if (!ok) {
        sr_job_request_fini(dst);
        return sr_err_set(err, SR_ENOMEM, "out of memory copying a job request");
    }
    return SR_OK;
}

static json_t *
strings_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *
sr_job_request_to_json(const struct sr_job_request *req)
{
    json_t *input = NULL;
    if (sr_json_parse(req->input, req->input_len, SR_MAX_JSON_DEPTH, "stored input", &input,
                      NULL) != SR_OK)
        return NULL;
    json_t *o = json_pack("{s:s, s:o, s:I, s:I, s:b}", "runtime", sr_runtime_name(req->runtime),
                          "input", input, "timeout", (json_int_t)req->timeout_s, "memory_mb",
                          (json_int_t)req->memory_mb, "async", req->async);
    if (!o)
        return NULL;
    if (req->gas_limit)
        json_object_set_new(o, "gas_limit", json_integer((json_int_t)req->gas_limit));
    if (req->runtime == SR_RUNTIME_JS) {
        json_object_set_new(o, "script", json_stringn((const char *)req->code, req->code_len));
        json_object_set_new(o, "entry_point", json_string(req->entry_point));
    } else {
        /* the module itself is in the store (uploaded or stored at submit) */
        static const char *const fmts[] = {"json", "text", "base64"};
        json_object_set_new(o, "module_hash", json_string(req->code_hash_hex));
        json_object_set_new(o, "output_format", json_string(fmts[req->output_format]));
        if (req->tier != SR_TIER_AUTO) {
            static const char *const tiers[] = {"auto", "interp", "native"};
            json_object_set_new(o, "tier", json_string(tiers[req->tier]));
        }
        json_object_set_new(o, "args", strings_json(req->args, req->nargs));
        json_t *env = json_object();
        for (size_t i = 0; env && i < req->nenv; i++) {
            const char *eq = strchr(req->env[i], '=');
            char name[160];
            (void)snprintf(name, sizeof(name), "%.*s", (int)(eq - req->env[i]), req->env[i]);
            json_object_set_new(env, name, json_string(eq + 1));
        }
        json_object_set_new(o, "env", env);
    }
    if (req->nrefs) {
        json_t *refs = strings_json(req->secret_refs, req->nrefs);
        for (size_t i = 0; refs && i < req->nrefs; i++)
            if (req->http_only_refs & (1u << i))
                json_array_set_new(
                    refs, i,
                    json_pack("{s:s, s:s}", "name", req->secret_refs[i], "mode", "http-only"));
        json_object_set_new(o, "secret_refs", refs);
    }
    if (req->storage_namespace[0])
        json_object_set_new(o, "storage_namespace", json_string(req->storage_namespace));
    json_t *http = sr_http_job_to_json(&req->http);
    if (http)
        json_object_set_new(o, "http", http);
    if (req->callback_url)
        json_object_set_new(o, "callback_url", json_string(req->callback_url));
    if (req->record) {
        char *b64 = sr_base64_encode(req->record_pubkey, SR_BOX_PK_LEN);
        json_object_set_new(o, "record", json_true());
        if (b64)
            json_object_set_new(o, "record_pubkey", json_string(b64));
        free(b64);
    }
    if (req->has_pubkey) {
        char *b64 = sr_base64_encode(req->output_pubkey, SR_BOX_PK_LEN);
        if (b64)
            json_object_set_new(o, "output_pubkey", json_string(b64));
        free(b64);
    }
    return o;
}
