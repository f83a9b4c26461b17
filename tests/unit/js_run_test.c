/* SPDX-License-Identifier: MIT
 *
 * tests/unit/js_run_test.c - the JavaScript runtime with the JIT on: what a
 * job sees (main, input, secrets, console, crypto, getSecret), results,
 * error codes and messages, and the cost of a trivial job in a warm VM. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "js_int.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

static sr_js_vm *g_vm;

static int
setup(void **state)
{
    (void)state;
    sr_err err;
    return sr_js_vm_new(&(struct sr_js_options){.no_jit = false}, &g_vm, &err) == SR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    sr_js_vm_free(g_vm);
    return 0;
}

/* Runs 'script' with 'input' (JSON or NULL), a 2 s CPU budget and secrets
 * {"api_key":"k-123","nested":{"a":[1]}}. */
static void
run_full(const char *script, const char *input, const char *entry, struct sr_js_result *res)
{
    sr_err err = {0};
    struct sr_js_job job = {
        .script = script,
        .script_len = strlen(script),
        .entry_point = entry,
        .input_json = input,
        .secrets_json = "{\"api_key\":\"k-123\",\"nested\":{\"a\":[1]}}",
        .cpu_limit_us = 2000000,
        .statm_fd = -1,
    };
    sr_status rc = sr_js_run(g_vm, &job, res, &err);
    if (rc != SR_OK)
        fail_msg("sr_js_run: %s", err.msg);
    assert_non_null(res->logs);
}

static void
run(const char *script, struct sr_js_result *res)
{
    run_full(script, NULL, NULL, res);
}

/* Asserts the job completed with output equal to the JSON 'want'. */
static void
assert_output(const struct sr_js_result *res, const char *want)
{
    if (!res->ok)
        fail_msg("job failed: %s: %s", sr_job_code_name(res->code), res->error_message);
    json_t *got = json_loads(res->output_json, 0, NULL);
    json_t *exp = json_loads(want, 0, NULL);
    assert_non_null(got);
    assert_non_null(exp);
    if (!json_equal(got, exp))
        fail_msg("output %s, want %s", res->output_json, want);
    json_decref(got);
    json_decref(exp);
}

static void
assert_failed(const struct sr_js_result *res, enum sr_job_code code, const char *needle)
{
    if (res->ok)
        fail_msg("job completed with %s, want %s", res->output_json, sr_job_code_name(code));
    assert_int_equal(res->code, code);
    assert_non_null(res->error_message);
    if (needle && !strstr(res->error_message, needle))
        fail_msg("message '%s' lacks '%s'", res->error_message, needle);
    assert_null(res->output_json);
}

static const char *
log_at(const struct sr_js_result *res, size_t i)
{
    const json_t *e = json_array_get(res->logs, i);
    assert_true(json_is_string(e));
    return json_string_value(e);
}

/* fetch and its companions are evaluated on first use (js_fetch.c): they
 * behave as globals, and a script's own declaration of or assignment to one
 * of their names before that first use stays as the script made it. */
static void
test_web_globals_are_lazy_and_yield_to_the_script(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { return {f: typeof fetch, u: new URL('https://a.example/p?q=1').pathname,"
        " inn: 'Headers' in globalThis, h: new Headers({a: '1'}).get('a')}; }",
        &res);
    assert_output(&res, "{\"f\":\"function\",\"u\":\"/p\",\"inn\":true,\"h\":\"1\"}");
    sr_js_result_fini(&res);
    /* a function declaration named like one of them wins, the others come */
    run("function Request() { return 'mine'; }\n"
        "function main() { return {r: Request(), f: typeof fetch, s: typeof URLSearchParams}; }",
        &res);
    assert_output(&res, "{\"r\":\"mine\",\"f\":\"function\",\"s\":\"function\"}");
    sr_js_result_fini(&res);
    /* assigned before first use, then another used: it stays the script's */
    run("function main() { URL = 5; return {u: URL, f: typeof fetch, r: typeof Response}; }", &res);
    assert_output(&res, "{\"u\":5,\"f\":\"function\",\"r\":\"function\"}");
    sr_js_result_fini(&res);
    /* a var declaration keeps the global; the next job starts fresh */
    run("var fetch; function main() { return {f: typeof fetch}; }", &res);
    assert_output(&res, "{\"f\":\"function\"}");
    sr_js_result_fini(&res);
    run("function main() { return {u: typeof URL}; }", &res);
    assert_output(&res, "{\"u\":\"function\"}");
    sr_js_result_fini(&res);
}

static void
test_returns_object_as_it_is(void **state)
{
    (void)state;
    struct sr_js_result res;
    run_full("function main(input) { return {sum: input.a + input.b, list: [1, 'x']}; }",
             "{\"a\":2,\"b\":3}", NULL, &res);
    assert_output(&res, "{\"sum\":5,\"list\":[1,\"x\"]}");
    assert_false(res.discard);
    sr_js_result_fini(&res);
}

static void
test_wraps_non_objects_in_result(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"function main() { return 42; }", "{\"result\":42}"},
        {"function main() { return 'hi'; }", "{\"result\":\"hi\"}"},
        {"function main() { return false; }", "{\"result\":false}"},
        {"function main() { return [1, {a: 2}]; }", "{\"result\":[1,{\"a\":2}]}"},
        {"function main() { return new Date(0); }", "{\"result\":\"1970-01-01T00:00:00.000Z\"}"},
        {"function main() { return NaN; }", "{\"result\":null}"},
        {"function main() { return undefined; }", "{}"},
        {"function main() { return null; }", "{}"},
        {"function main() {}", "{}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sr_js_result res;
        run(cases[i][0], &res);
        assert_output(&res, cases[i][1]);
        sr_js_result_fini(&res);
    }
}

static void
test_passes_input_and_secrets_as_arguments_and_globals(void **state)
{
    (void)state;
    struct sr_js_result res;
    run_full("var top = input.n;\n"
             "function main(i, s) {\n"
             "  return {same: i === input && s === secrets, top: top, key: s.api_key,\n"
             "          frozen: Object.isFrozen(secrets) && Object.isFrozen(secrets.nested)\n"
             "                  && Object.isFrozen(secrets.nested.a)};\n"
             "}",
             "{\"n\":7}", NULL, &res);
    assert_output(&res, "{\"same\":true,\"top\":7,\"key\":\"k-123\",\"frozen\":true}");
    sr_js_result_fini(&res);
}

static void
test_secrets_cannot_be_changed(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("'use strict';\n"
        "function main() { secrets.nested.a.push(2); }",
        &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "TypeError");
    sr_js_result_fini(&res);
}

static void
test_input_defaults_to_null(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main(i) { return {isNull: i === null && input === null}; }", &res);
    assert_output(&res, "{\"isNull\":true}");
    sr_js_result_fini(&res);
}

static void
test_get_secret_returns_own_values_only(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() {\n"
        "  return {k: getSecret('api_key'), n: getSecret('nested'),\n"
        "          none: getSecret('missing') === undefined,\n"
        "          proto: getSecret('toString') === undefined};\n"
        "}",
        &res);
    assert_output(&res, "{\"k\":\"k-123\",\"n\":{\"a\":[1]},\"none\":true,\"proto\":true}");
    sr_js_result_fini(&res);
}

static void
test_get_secret_rejects_non_string(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { try { getSecret(1); } catch (e) { return e.name + ': ' + e.message; } }",
        &res);
    assert_output(
        &res, "{\"result\":\"TypeError: getSecret(name): 'name' must be a string, got number\"}");
    sr_js_result_fini(&res);
}

static void
test_console_formats_like_node(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function f() {}\n"
        "function main() {\n"
        "  console.log('a', 1, true, null, undefined, {x: [1]}, [2, 'b']);\n"
        "  console.info('i'); console.warn('w'); console.error('e');\n"
        "  console.log(f, () => 1, Symbol('s'), 10n, 'é');\n"
        "  const c = {}; c.self = c; console.log(c);\n"
        "  console.log(new RangeError('bad'));\n"
        "}",
        &res);
    assert_output(&res, "{}");
    assert_int_equal(json_array_size(res.logs), 7);
    assert_string_equal(log_at(&res, 0), "a 1 true null undefined {\"x\":[1]} [2,\"b\"]");
    assert_string_equal(log_at(&res, 1), "[info] i");
    assert_string_equal(log_at(&res, 2), "[warn] w");
    assert_string_equal(log_at(&res, 3), "[error] e");
    assert_string_equal(log_at(&res, 4),
                        "[Function: f] [Function (anonymous)] Symbol(s) 10n \xc3\xa9");
    assert_string_equal(log_at(&res, 5), "[object Object]");
    assert_non_null(strstr(log_at(&res, 6), "RangeError: bad\n"));
    if (!strstr(log_at(&res, 6), "main@job.js:7:"))
        fail_msg("log '%s' lacks the stack", log_at(&res, 6));
    sr_js_result_fini(&res);
}

static void
test_console_passes_guest_exceptions_on(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() {\n"
        "  console.log({toJSON() { throw new Error('no JSON'); }});\n"
        "  try { console.log({toJSON() { throw 1; }, toString() { throw new Error('nope'); }}); }\n"
        "  catch (e) { return e.message; }\n"
        "}",
        &res);
    assert_output(&res, "{\"result\":\"nope\"}");
    assert_int_equal(json_array_size(res.logs), 1);
    assert_string_equal(log_at(&res, 0), "[object Object]");
    sr_js_result_fini(&res);
}

static void
test_cuts_long_log_entries_and_says_so(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { console.log('\\u00e9'.repeat(5000)); console.log('x'.repeat(4096)); }",
        &res);
    assert_output(&res, "{}");
    assert_int_equal(json_array_size(res.logs), 2);
    const char *cut = log_at(&res, 0);
    assert_true(strlen(cut) <= SR_MAX_LOG_ENTRY);
    assert_non_null(strstr(cut, "[truncated: log entry longer than 4096 bytes]"));
    assert_true(strncmp(cut, "\xc3\xa9\xc3\xa9", 4) == 0);
    assert_int_equal(strlen(log_at(&res, 1)), 4096); /* exactly the cap: kept whole */
    sr_js_result_fini(&res);
}

static void
test_keeps_first_log_entries_and_counts_dropped(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { for (let i = 0; i < 250; i++) console.log('line ' + i); }", &res);
    assert_output(&res, "{}");
    assert_int_equal(json_array_size(res.logs), SR_MAX_LOG_ENTRIES);
    assert_string_equal(log_at(&res, 0), "line 0");
    assert_string_equal(log_at(&res, 99), "line 99 [log limit: 150 more entries dropped]");
    sr_js_result_fini(&res);
}

static void
test_sha256_hashes_strings_and_bytes(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() {\n"
        "  const u = new Uint8Array([0, 0x61, 0x62, 0x63]);\n"
        "  return {s: crypto.sha256('abc'), v: crypto.sha256(u.subarray(1)),\n"
        "          b: crypto.sha256(u.buffer.slice(1)), e: crypto.sha256(''),\n"
        "          u: crypto.sha256('\\u00e9') === crypto.sha256(new Uint8Array([0xc3, 0xa9]))};\n"
        "}",
        &res);
    const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char want[512];
    (void)snprintf(
        want, sizeof(want),
        "{\"s\":\"%s\",\"v\":\"%s\",\"b\":\"%s\",\"e\":\"e3b0c44298fc1c149afbf4c8996fb924"
        "27ae41e4649b934ca495991b7852b855\",\"u\":true}",
        abc, abc, abc);
    assert_output(&res, want);
    sr_js_result_fini(&res);
}

static void
test_sha256_rejects_other_types(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() {\n"
        "  const out = [];\n"
        "  for (const x of [1, null, {}, new Int16Array(2)])\n"
        "    try { crypto.sha256(x); } catch (e) { out.push(e.name + ': ' + e.message); }\n"
        "  try { crypto.sha256(); } catch (e) { out.push(e.message); }\n"
        "  return out;\n"
        "}",
        &res);
    assert_output(&res, "{\"result\":["
                        "\"TypeError: crypto.sha256(data): 'data' must be a string, Uint8Array or "
                        "ArrayBuffer, got number\","
                        "\"TypeError: crypto.sha256(data): 'data' must be a string, Uint8Array or "
                        "ArrayBuffer, got null\","
                        "\"TypeError: crypto.sha256(data): 'data' must be a string, Uint8Array or "
                        "ArrayBuffer, got object\","
                        "\"TypeError: crypto.sha256(data): 'data' must be a string, Uint8Array or "
                        "ArrayBuffer, got Int16Array\","
                        "\"crypto.sha256(data): 'data' must be a string, Uint8Array or "
                        "ArrayBuffer, got nothing\"]}");
    sr_js_result_fini(&res);
}

static void
test_random_bytes_checks_its_argument(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() {\n"
        "  const a = crypto.randomBytes(16), b = crypto.randomBytes(16);\n"
        "  const errs = [];\n"
        "  for (const n of [-1, 1.5, 1025, NaN, Infinity, '4', undefined])\n"
        "    try { crypto.randomBytes(n); } catch (e) { errs.push(e.name); }\n"
        "  return {len: a.length, hex: /^[0-9a-f]+$/.test(a), differ: a !== b,\n"
        "          zero: crypto.randomBytes(0), max: crypto.randomBytes(1024).length, errs};\n"
        "}",
        &res);
    assert_output(&res, "{\"len\":32,\"hex\":true,\"differ\":true,\"zero\":\"\",\"max\":2048,"
                        "\"errs\":[\"RangeError\",\"RangeError\",\"RangeError\",\"RangeError\","
                        "\"RangeError\",\"TypeError\",\"TypeError\"]}");
    sr_js_result_fini(&res);
}

static void
test_syntax_error_is_script_error_with_line(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() {\n  return 1 +;\n}", &res);
    assert_failed(&res, SR_JOB_SCRIPT_ERROR, "SyntaxError: Unexpected token ';' (job.js:2)");
    sr_js_result_fini(&res);
}

static void
test_rejects_invalid_utf8_script(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { return '\xff'; }", &res);
    assert_failed(&res, SR_JOB_SCRIPT_ERROR, "not valid UTF-8 at byte 26");
    sr_js_result_fini(&res);
}

static void
test_accepts_nul_inside_the_script(void **state)
{
    (void)state;
    static const char script[] = "function main() { return 'a\0b'.length; }";
    struct sr_js_job job = {.script = script, .script_len = sizeof(script) - 1, .statm_fd = -1};
    struct sr_js_result res;
    assert_int_equal(sr_js_run(g_vm, &job, &res, NULL), SR_OK);
    assert_output(&res, "{\"result\":3}");
    sr_js_result_fini(&res);
}

static void
test_missing_entry_point_is_named(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function mian() {}", &res);
    assert_failed(&res, SR_JOB_ENTRY_POINT_NOT_FOUND, "entry point 'main' is not defined");
    sr_js_result_fini(&res);
    run("var main = 3;", &res);
    assert_failed(&res, SR_JOB_ENTRY_POINT_NOT_FOUND, "entry point 'main' is not a function");
    sr_js_result_fini(&res);
    run_full("function main() {}", NULL, "handler", &res);
    assert_failed(&res, SR_JOB_ENTRY_POINT_NOT_FOUND, "'handler'");
    sr_js_result_fini(&res);
    run_full("function main() {}", NULL, "main; 1", &res);
    assert_failed(&res, SR_JOB_ENTRY_POINT_NOT_FOUND, "'main; 1' is not defined");
    sr_js_result_fini(&res);
}

static void
test_finds_custom_and_lexical_entry_points(void **state)
{
    (void)state;
    struct sr_js_result res;
    run_full("const handler = async (i) => ({got: i});", "[1]", "handler", &res);
    assert_output(&res, "{\"got\":[1]}");
    sr_js_result_fini(&res);
    run("class K { static f() { return 1; } }\nlet main = () => K.f();", &res);
    assert_output(&res, "{\"result\":1}");
    sr_js_result_fini(&res);
}

/* Runs 'script' with entry 'entry' and input 'input', the secrets of
 * run_full(), and asserts ENTRY_POINT_NOT_FOUND with 'needle', no secret
 * value and no log line anywhere in the answer. */
static void
assert_not_an_entry(const char *script, const char *entry, const char *input, const char *needle)
{
    struct sr_js_result res;
    run_full(script, input, entry, &res);
    if (res.ok)
        fail_msg("entry '%s' of '%s' ran: %s", entry, script, res.output_json);
    if (res.code != SR_JOB_ENTRY_POINT_NOT_FOUND)
        fail_msg("entry '%s' of '%s': %s: %s", entry, script, sr_job_code_name(res.code),
                 res.error_message);
    if (!strstr(res.error_message, needle))
        fail_msg("entry '%s': message '%s' lacks '%s'", entry, res.error_message, needle);
    assert_null(strstr(res.error_message, "k-123"));
    if (json_array_size(res.logs) != 0)
        fail_msg("entry '%s' of '%s' logged '%s'", entry, script, log_at(&res, 0));
    sr_js_result_fini(&res);
}

/* Issue 9 item 1: a script pinned by a code_hashes policy must not become
 * a secret reader or an eval of the input through entry_point. */
static void
test_builtins_and_host_globals_are_never_entry_points(void **state)
{
    (void)state;
    static const char *const names[] = {
        "getSecret", "eval",   "Function", "JSON",           "console",     "crypto",
        "storage",   "input",  "secrets",  "toString",       "constructor", "__proto__",
        "valueOf",   "Object", "Reflect",  "Promise",        "globalThis",  "parseInt",
        "undefined", "isNaN",  "Proxy",    "hasOwnProperty",
    };
    /* the top level would log if it ran: it must not for such a name */
    const char *script = "console.log('top level ran'); function main(i) { return {i}; }";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_not_an_entry(script, names[i], "\"api_key\"", "is a built-in or host global");
    /* the exact attacks of the issue */
    assert_not_an_entry(script, "getSecret", "\"api_key\"", "'getSecret'");
    assert_not_an_entry(script, "eval", "\"getSecret('api_key')\"", "'eval'");
    /* declaring over a built-in does not make it the script's */
    assert_not_an_entry("function getSecret() { return 1; }", "getSecret", NULL,
                        "is a built-in or host global");
    assert_not_an_entry("var JSON = () => 1;", "JSON", NULL, "is a built-in or host global");
}

static void
test_native_bound_and_proxy_functions_are_never_entry_points(void **state)
{
    (void)state;
    static const char *const scripts[] = {
        "const main = getSecret;",
        "var main = eval;",
        "globalThis.main = JSON.parse;",
        "let main = console.log;",
        "const main = Function.prototype.call.bind(getSecret, null);",
        "const main = ((i) => i).bind(null);",
        "const main = new Proxy(function (i) { return i; }, {});",
        "const main = Reflect.apply;",
        "var main = crypto.sha256;",
        "Object.defineProperty(globalThis, 'main', {value: getSecret, enumerable: true});",
        "class K {}\nconst main = K.bind(null);",
        "const main = String;",
    };
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
        assert_not_an_entry(scripts[i], "main", "\"api_key\"",
                            "is a built-in, host, bound or proxy function");
}

static void
test_every_kind_of_script_declaration_is_an_entry_point(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"function main(i) { return i; }", "main", "{\"result\":5}"},
        {"var main = function (i) { return i; };", "main", "{\"result\":5}"},
        {"let h = (i) => i + 1;", "h", "{\"result\":6}"},
        {"const $h_2 = async (i) => i * 2;", "$h_2", "{\"result\":10}"},
        {"const a = 1, b = () => a, handler = (i) => i + a;", "handler", "{\"result\":6}"},
        {"const {run} = {run: (i) => i - 1};", "run", "{\"result\":4}"},
        {"const [, second] = [0, (i) => -i];", "second", "{\"result\":-5}"},
        {"globalThis.viaGlobal = function (i) { return [i]; };", "viaGlobal", "{\"result\":[5]}"},
        {"function* gen() {}", "gen", "{}"},
        {"const m = ({m(i) { return {m: i}; }}).m;", "m", "{\"m\":5}"},
        {"const made = Function('i', 'return i + 100');", "made", "{\"result\":105}"},
        {"'use strict';\nlet strictOne = (i) => i * 3;", "strictOne", "{\"result\":15}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sr_js_result res;
        run_full(cases[i][0], "5", cases[i][1], &res);
        assert_output(&res, cases[i][2]);
        sr_js_result_fini(&res);
    }
    struct sr_js_result res;
    run_full("class Job { static run() {} }", NULL, "Job", &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "TypeError");
    sr_js_result_fini(&res);
}

/* No path turns the entry point into code: names that would log, call or
 * assign if evaluated are only ever looked up as data. */
static void
test_entry_point_is_never_evaluated(void **state)
{
    (void)state;
    static const char *const entries[] = {
        "console.log('evaluated')",
        "main()",
        "main;console.log(1)",
        "x=console.log(2)",
        "main//",
        "(main)",
        "this",
        "main\u2028console.log(3)",
        "\\u006dain",
    };
    const char *script = "function main() { console.log('main ran'); }";
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        assert_not_an_entry(script, entries[i], NULL, "entry point");
}

/* The probe that reads let/const/class bindings is built from the script's
 * words only (never the entry point, which js_entry.c compares as data),
 * and compiles whatever words the script holds. */
static void
test_probe_is_built_from_the_script_words_only(void **state)
{
    (void)state;
    const char *script = "const handler = 1; let o = {}; o.member = 'a string word';\n"
                         "/* yield let static await eval arguments */ x\\u0061 = r\xc3\xa9sum;\n"
                         "label: for (const q of []) break label; 3e5; 0x1f; $ok_9;";
    sr_buf probe;
    sr_buf_init(&probe, 1u << 20);
    assert_int_equal(sr_js__probe_source(NULL, script, strlen(script), &probe, NULL), SR_OK);
    static const char *const present[] = {"this.handler=handler", "this.o=o",         "this.a=a",
                                          "this.string=string",   "this.label=label", "this.q=q",
                                          "this.$ok_9=$ok_9"};
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
        if (!strstr(probe.data, present[i]))
            fail_msg("probe lacks %s: %s", present[i], probe.data);
    static const char *const absent[] = {
        "member", "yield", "static",    "await", "eval", "arguments",   "typeof let",
        "u0061",  "sum",   "typeof r!", "e5",    "x1f",  "typeof const"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        if (strstr(probe.data, absent[i]))
            fail_msg("probe holds '%s': %s", absent[i], probe.data);
    /* it compiles */
    JSGlobalContextRef ctx = JSGlobalContextCreateInGroup(g_vm->group, NULL);
    JSStringRef src = JSStringCreateWithUTF8CString(probe.data);
    JSValueRef exc = NULL;
    assert_true(JSCheckScriptSyntax(ctx, src, NULL, 1, &exc));
    JSStringRelease(src);
    JSGlobalContextRelease(ctx);
    sr_buf_fini(&probe);
}

static void
test_too_many_names_for_the_probe_is_a_clear_error(void **state)
{
    (void)state;
    sr_buf probe;
    sr_buf_init(&probe, 64);
    sr_err err = {0};
    const char *script = "alpha beta gamma delta epsilon zeta eta theta";
    assert_int_equal(sr_js__probe_source(NULL, script, strlen(script), &probe, &err), SR_ELIMIT);
    assert_non_null(strstr(err.msg, "too many distinct names"));
    sr_buf_fini(&probe);
}

/* The input is JSON data, parsed by JSON rules only: text that is code is
 * refused, and JSON holding code or __proto__ stays plain data. */
static void
test_input_is_json_data_only(void **state)
{
    (void)state;
    static const char *const not_json[] = {"1; console.log('ran')", "{a: 1}", "'x'",
                                           "getSecret('api_key')", "(function(){})()"};
    for (size_t i = 0; i < sizeof(not_json) / sizeof(not_json[0]); i++) {
        sr_err err = {0};
        struct sr_js_result res;
        struct sr_js_job job = {.script = "function main() { console.log('main ran'); }",
                                .script_len = 45,
                                .input_json = not_json[i],
                                .statm_fd = -1};
        assert_int_equal(sr_js_run(g_vm, &job, &res, &err), SR_EINVAL);
        assert_non_null(strstr(err.msg, "input is not valid JSON"));
        assert_int_equal(json_array_size(res.logs), 0);
        sr_js_result_fini(&res);
    }
    struct sr_js_result res;
    run_full("function main(i) {\n"
             "  return {code: i.code, type: typeof i.code, proto: Object.getPrototypeOf(i) ===\n"
             "          Object.prototype, own: Object.keys(i).includes('__proto__'),\n"
             "          polluted: ({}).polluted === undefined && i.polluted === undefined};\n"
             "}",
             "{\"code\":\"getSecret('api_key')\",\"__proto__\":{\"polluted\":1}}", NULL, &res);
    assert_output(&res, "{\"code\":\"getSecret('api_key')\",\"type\":\"string\",\"proto\":true,"
                        "\"own\":true,\"polluted\":true}");
    sr_js_result_fini(&res);
}

/* getSecret gives data: a secret holding code text is that text, and an
 * object secret is frozen JSON data (no functions, no getters). */
static void
test_get_secret_returns_data_only(void **state)
{
    (void)state;
    sr_err err = {0};
    struct sr_js_result res;
    const char *script =
        "function main() {\n"
        "  const c = getSecret('code'), o = getSecret('obj');\n"
        "  const descs = Object.values(Object.getOwnPropertyDescriptors(o));\n"
        "  return {c, type: typeof c, frozen: Object.isFrozen(o) && Object.isFrozen(o.list),\n"
        "          data: descs.every((d) => 'value' in d && typeof d.value !== 'function'),\n"
        "          same: o === secrets.obj, missing: getSecret('constructor') === undefined};\n"
        "}";
    struct sr_js_job job = {
        .script = script,
        .script_len = strlen(script),
        .secrets_json = "{\"code\":\"console.log('ran')\",\"obj\":{\"list\":[1],\"k\":\"v\"}}",
        .statm_fd = -1,
    };
    assert_int_equal(sr_js_run(g_vm, &job, &res, &err), SR_OK);
    assert_output(&res, "{\"c\":\"console.log('ran')\",\"type\":\"string\",\"frozen\":true,"
                        "\"data\":true,\"same\":true,\"missing\":true}");
    assert_int_equal(json_array_size(res.logs), 0);
    sr_js_result_fini(&res);
}

static void
test_uncaught_throw_gives_message_and_stack(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function helper(x) {\n"
        "  return x.missing.field;\n"
        "}\n"
        "function main() { console.log('before'); return helper({}); }",
        &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "TypeError: undefined is not an object");
    assert_non_null(strstr(res.error_message, "(job.js:2:"));
    assert_non_null(strstr(res.error_message, "helper@job.js:2:"));
    assert_non_null(strstr(res.error_message, "main@job.js:4:"));
    assert_int_equal(json_array_size(res.logs), 1); /* logs so far are kept */
    assert_true(res.gas_used > 0);
    assert_false(res.discard);
    sr_js_result_fini(&res);
}

static void
test_top_level_and_non_error_throws(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("throw new Error('at load');\nfunction main() {}", &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "Error: at load (job.js:1:");
    sr_js_result_fini(&res);
    run("function main() { throw 'plain'; }", &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "uncaught exception: plain");
    sr_js_result_fini(&res);
    run("function main() { throw {code: 7}; }", &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "uncaught exception: {\"code\":7}");
    sr_js_result_fini(&res);
}

static void
test_caps_error_message(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { throw new Error('e'.repeat(100000)); }", &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "Error: eeee");
    assert_true(strlen(res.error_message) <= SR_MAX_ERROR_MSG);
    sr_js_result_fini(&res);
}

static void
test_awaits_returned_promise(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("async function twice(x) { await null; return x * 2; }\n"
        "async function main() { const v = await twice(21); console.log('v', v); return {v}; }",
        &res);
    assert_output(&res, "{\"v\":42}");
    assert_string_equal(log_at(&res, 0), "v 42");
    sr_js_result_fini(&res);
    run("function main() { return {then(ok) { ok({then(ok2) { ok2(5); }}); }}; }", &res);
    assert_output(&res, "{\"result\":5}");
    sr_js_result_fini(&res);
}

static void
test_rejected_promise_is_execution_error(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("async function main() { await null; throw new TypeError('late'); }", &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "promise rejected: TypeError: late");
    sr_js_result_fini(&res);
    run("function main() { return Promise.reject(3); }", &res);
    assert_failed(&res, SR_JOB_EXECUTION_ERROR, "promise rejected: uncaught exception: 3");
    sr_js_result_fini(&res);
}

static void
test_never_settling_promise_is_timeout(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { console.log('waiting'); return new Promise(() => {}); }", &res);
    assert_failed(&res, SR_JOB_TIMEOUT, "never settles");
    assert_int_equal(json_array_size(res.logs), 1);
    assert_true(res.discard);
    sr_js_result_fini(&res);
}

static void
test_unserialisable_output_is_output_not_json(void **state)
{
    (void)state;
    static const char *const scripts[] = {
        "function main() { return 1n; }",
        "function main() { const o = {}; o.o = o; return o; }",
        "function main() { return () => 1; }",
        "function main() { return Symbol('x'); }",
        "function main() { return {toJSON() { return undefined; }}; }",
    };
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
        struct sr_js_result res;
        run(scripts[i], &res);
        assert_failed(&res, SR_JOB_OUTPUT_NOT_JSON, NULL);
        sr_js_result_fini(&res);
    }
}

static void
test_large_output_is_output_too_large(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { return {data: 'x'.repeat(1024 * 1024)}; }", &res);
    assert_failed(&res, SR_JOB_OUTPUT_TOO_LARGE, "output is at least 1048587 bytes of JSON");
    sr_js_result_fini(&res);
    run("function main() { return 'x'.repeat(1024 * 1024 - 13); }", &res); /* exactly the cap */
    assert_true(res.ok);
    assert_int_equal(strlen(res.output_json), SR_MAX_OUTPUT);
    sr_js_result_fini(&res);
}

static void
test_large_input_is_input_too_large(void **state)
{
    (void)state;
    size_t n = SR_MAX_INPUT + 1;
    char *input = malloc(n + 1);
    assert_non_null(input);
    memset(input, ' ', n);
    input[0] = '1';
    input[n] = '\0';
    struct sr_js_result res;
    run_full("function main() {}", input, NULL, &res);
    assert_failed(&res, SR_JOB_INPUT_TOO_LARGE, "the limit is 1048576 bytes");
    sr_js_result_fini(&res);
    input[n - 1] = '\0'; /* exactly the cap */
    run_full("function main(i) { return i; }", input, NULL, &res);
    assert_output(&res, "{\"result\":1}");
    sr_js_result_fini(&res);
    free(input);
}

static void
test_bad_job_is_caller_error(void **state)
{
    (void)state;
    sr_err err = {0};
    struct sr_js_result res;
    struct sr_js_job job = {
        .script = "function main() {}", .script_len = 18, .statm_fd = -1, .input_json = "{nope"};
    assert_int_equal(sr_js_run(g_vm, &job, &res, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "input is not valid JSON"));
    sr_js_result_fini(&res);
    job.input_json = NULL;
    job.secrets_json = "[1]";
    assert_int_equal(sr_js_run(g_vm, &job, &res, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "secrets must be a JSON object"));
    sr_js_result_fini(&res);
    job.secrets_json = "{\"A\":\"1\",\"B\":{\"x\":[1,\",\"]},\"A\":\"2\"}";
    assert_int_equal(sr_js_run(g_vm, &job, &res, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "name a secret twice"));
    sr_js_result_fini(&res);
    job.secrets_json = "{\"A\":\"a,\\\",b\",\"B\":{\"x\":[1,2]}}"; /* commas inside */
    assert_int_equal(sr_js_run(g_vm, &job, &res, &err), SR_OK);
    assert_true(res.ok);
    sr_js_result_fini(&res);
    sr_js_result_fini(&res); /* twice is fine */
    sr_js_vm_free(NULL);
}

static void
test_each_job_gets_a_fresh_context(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("globalThis.leak = 'owner A'; Object.prototype.polluted = 1;\n"
        "function main() { return 1; }",
        &res);
    assert_output(&res, "{\"result\":1}");
    sr_js_result_fini(&res);
    run("function main() { return {leak: typeof leak, polluted: ({}).polluted === undefined}; }",
        &res);
    assert_output(&res, "{\"leak\":\"undefined\",\"polluted\":true}");
    sr_js_result_fini(&res);
}

/* Issue 9 item 11: nothing job 1 leaves anywhere in its context reaches
 * job 2 in the same VM (a warm job process): globals, prototypes of
 * built-ins, the global's prototype, host objects, the Symbol registry, a
 * WeakMap keyed by built-ins, RegExp's legacy statics, frozen built-ins,
 * Error.stackTraceLimit. Job 2 walks everything reachable from its global
 * object for the secret value. */
static void
test_nothing_from_one_job_reaches_the_next(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("const v = getSecret('api_key');\n"
        "globalThis.stash = v; var stash2 = v; let stash3 = v;\n"
        "for (const C of [Object, Array, Function, String, Number, Promise, Error, Symbol, "
        "RegExp,\n"
        "                 Map, Date, JSON, Math, Reflect, console, crypto, getSecret])\n"
        "  (C.prototype || C).stash = v;\n"
        "Object.prototype[Symbol.for('sealrun-stash')] = v;\n"
        "Symbol.for(v);\n"
        "globalThis.wm = new WeakMap([[Object, v], [JSON, v], [Object.prototype, v]]);\n"
        "globalThis.ref = new WeakRef(Object);\n"
        "new FinalizationRegistry(() => {}).register(Object, v);\n"
        "/(k-\\d+)/.exec('key: ' + v);\n"
        "Error.stackTraceLimit = 1234;\n"
        "Object.defineProperty(globalThis, 'getter', {get() { return v; }});\n"
        "Object.defineProperty(Object.getPrototypeOf(globalThis), 'viaProto', {value: v});\n"
        "Object.freeze(Array.prototype);\n"
        "function main() { return {stashed: RegExp.$1 === v && globalThis.getter === v}; }",
        &res);
    assert_output(&res, "{\"stashed\":true}");
    sr_js_result_fini(&res);

    const char *probe =
        "function main() {\n"
        "  const found = [], seen = new Set(), needle = 'k-123';\n"
        "  const walk = (o, path, depth) => {\n"
        "    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o) "
        "||\n"
        "        depth > 8 || seen.size > 100000) return;\n"
        "    seen.add(o);\n"
        "    for (const k of Reflect.ownKeys(o)) {\n"
        "      const d = Object.getOwnPropertyDescriptor(o, k);\n"
        "      const name = path + '.' + String(k);\n"
        "      if (String(k).includes(needle)) found.push(name + ' (key)');\n"
        "      if (d && 'value' in d) {\n"
        "        if (typeof d.value === 'string' && d.value.includes(needle)) found.push(name);\n"
        "        walk(d.value, name, depth + 1);\n"
        "      }\n"
        "    }\n"
        "    walk(Object.getPrototypeOf(o), path + '.__proto__', depth + 1);\n"
        "  };\n"
        "  walk(globalThis, 'globalThis', 0);\n"
        "  for (const k of ['$1', '$_', 'input', 'lastMatch', 'leftContext', 'rightContext'])\n"
        "    if (String(RegExp[k]).includes(needle)) found.push('RegExp.' + k);\n"
        "  if (Object.prototype[Symbol.for('sealrun-stash')] !== undefined) found.push('symbol');\n"
        "  if (typeof stash3 !== 'undefined' || typeof stash2 !== 'undefined') "
        "found.push('lexical');\n"
        "  if (getSecret('api_key') !== undefined) found.push('getSecret');\n"
        "  if (Error.stackTraceLimit === 1234) found.push('Error.stackTraceLimit');\n"
        "  if (Object.isFrozen(Array.prototype)) found.push('frozen Array.prototype');\n"
        "  if (typeof getter !== 'undefined' || typeof viaProto !== 'undefined') "
        "found.push('global');\n"
        "  return {found, walked: seen.size > 500};\n"
        "}";
    sr_err err = {0};
    struct sr_js_job job = {
        .script = probe,
        .script_len = strlen(probe),
        .secrets_json = "{\"other\":\"owner-b\"}",
        .cpu_limit_us = 5000000,
        .statm_fd = -1,
    };
    assert_int_equal(sr_js_run(g_vm, &job, &res, &err), SR_OK);
    assert_output(&res, "{\"found\":[],\"walked\":true}");
    sr_js_result_fini(&res);
}

static void
test_gas_is_cpu_time(void **state)
{
    (void)state;
    struct sr_js_result res;
    run("function main() { let x = 0; for (let i = 0; i < 3e6; i++) x = (x + i * 7) % 1000003; "
        "return x; }",
        &res);
    assert_true(res.ok);
    assert_true(res.gas_used > 500); /* us; a few ms even with the JIT */
    assert_true(res.gas_used < 2000000);
    sr_js_result_fini(&res);
}

static void
test_engine_version(void **state)
{
    (void)state;
    const char *v = sr_js_engine_version();
    assert_true(strncmp(v, "JavaScriptCore 2.", 17) == 0);
    assert_ptr_equal(v, sr_js_engine_version());
}

static double
now_ms(void)
{
    return (double)sr_mono_us() / 1000.0;
}

/* One warm VM runs many trivial jobs back to back, each in its own context.
 * Prints the cost next to a bare context's; the speed target itself is
 * checked by bench/js (a benchmark, never a timed assertion in a test). */
static void
test_runs_many_trivial_jobs_in_one_vm(void **state)
{
    (void)state;
    struct sr_js_job job = {
        .script = "function main(i) { return {ok: !globalThis.seen, n: (globalThis.seen = 1)}; }",
        .input_json = "{}",
        .cpu_limit_us = 1000000,
        .statm_fd = -1};
    job.script_len = strlen(job.script);
    struct sr_js_result res;
    const int n = 300;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        assert_int_equal(sr_js_run(g_vm, &job, &res, NULL), SR_OK);
        assert_true(res.ok);
        assert_string_equal(res.output_json, "{\"ok\":true,\"n\":1}");
        sr_js_result_fini(&res);
    }
    double per_job = (now_ms() - t0) / n;
    double t1 = now_ms();
    for (int i = 0; i < n; i++)
        JSGlobalContextRelease(JSGlobalContextCreateInGroup(g_vm->group, NULL));
    double per_ctx = (now_ms() - t1) / n;
    print_message("trivial job: %.3f ms; bare context create+release: %.3f ms\n", per_job, per_ctx);
}

/* LeakSanitizer: JSC's side tables that only its self-mapped GC heap points
 * to look leaked (src/lib/js/lsan.supp explains; keep the two in sync). */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:WTF::BitVector::resizeOutOfLine\n"
           "leak:WTF::StringImpl::createStaticStringImpl\n";
}

/* JSC is built without frame pointers: only the slow unwinder sees the JSC
 * function a leaked block comes from, which the suppression above needs. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_returns_object_as_it_is),
        cmocka_unit_test(test_wraps_non_objects_in_result),
        cmocka_unit_test(test_passes_input_and_secrets_as_arguments_and_globals),
        cmocka_unit_test(test_secrets_cannot_be_changed),
        cmocka_unit_test(test_input_defaults_to_null),
        cmocka_unit_test(test_get_secret_returns_own_values_only),
        cmocka_unit_test(test_get_secret_rejects_non_string),
        cmocka_unit_test(test_console_formats_like_node),
        cmocka_unit_test(test_console_passes_guest_exceptions_on),
        cmocka_unit_test(test_cuts_long_log_entries_and_says_so),
        cmocka_unit_test(test_keeps_first_log_entries_and_counts_dropped),
        cmocka_unit_test(test_sha256_hashes_strings_and_bytes),
        cmocka_unit_test(test_sha256_rejects_other_types),
        cmocka_unit_test(test_random_bytes_checks_its_argument),
        cmocka_unit_test(test_syntax_error_is_script_error_with_line),
        cmocka_unit_test(test_rejects_invalid_utf8_script),
        cmocka_unit_test(test_accepts_nul_inside_the_script),
        cmocka_unit_test(test_missing_entry_point_is_named),
        cmocka_unit_test(test_finds_custom_and_lexical_entry_points),
        cmocka_unit_test(test_builtins_and_host_globals_are_never_entry_points),
        cmocka_unit_test(test_native_bound_and_proxy_functions_are_never_entry_points),
        cmocka_unit_test(test_every_kind_of_script_declaration_is_an_entry_point),
        cmocka_unit_test(test_entry_point_is_never_evaluated),
        cmocka_unit_test(test_probe_is_built_from_the_script_words_only),
        cmocka_unit_test(test_too_many_names_for_the_probe_is_a_clear_error),
        cmocka_unit_test(test_input_is_json_data_only),
        cmocka_unit_test(test_get_secret_returns_data_only),
        cmocka_unit_test(test_uncaught_throw_gives_message_and_stack),
        cmocka_unit_test(test_top_level_and_non_error_throws),
        cmocka_unit_test(test_caps_error_message),
        cmocka_unit_test(test_awaits_returned_promise),
        cmocka_unit_test(test_rejected_promise_is_execution_error),
        cmocka_unit_test(test_never_settling_promise_is_timeout),
        cmocka_unit_test(test_unserialisable_output_is_output_not_json),
        cmocka_unit_test(test_large_output_is_output_too_large),
        cmocka_unit_test(test_large_input_is_input_too_large),
        cmocka_unit_test(test_bad_job_is_caller_error),
        cmocka_unit_test(test_each_job_gets_a_fresh_context),
        cmocka_unit_test(test_nothing_from_one_job_reaches_the_next),
        cmocka_unit_test(test_gas_is_cpu_time),
        cmocka_unit_test(test_engine_version),
        cmocka_unit_test(test_runs_many_trivial_jobs_in_one_vm),
        cmocka_unit_test(test_web_globals_are_lazy_and_yield_to_the_script),
    };
    return cmocka_run_group_tests_name("js_run", tests, setup, teardown);
}
