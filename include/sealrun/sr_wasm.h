/* SPDX-License-Identifier: MIT
 *
 * sr_wasm.h - load and run WebAssembly modules under limits.
 *
 * The engine implements the Wasm 2.0 core (the 1.0 base, sign-extension, non-trapping
 * float-to-int, multi-value, bulk memory, reference types; no SIMD), a fast
 * interpreter with deterministic fuel (docs/wasm.md has the cost table), hard
 * limits and WASI preview 1 (sr_wasm_run_wasi).
 *
 * A sr_wasm_module is a parsed, validated, translated, immutable module; any
 * number of threads may share it. A sr_wasm_instance owns linear memory,
 * tables, globals and a fuel counter; one thread at a time uses it. A
 * sr_wasm_linker resolves imports by (module, name) and owns the instances it
 * made; one thread at a time uses a linker and its instances.
 *
 * Values cross the API as 64-bit patterns: i32 in the low 32 bits, i64 as is,
 * f32/f64 as their IEEE-754 bits (f32 in the low 32 bits), funcref as an
 * opaque non-zero handle, externref as the host's value; 0 is the null
 * reference for both reference types.
 */
#ifndef SR_WASM_H
#define SR_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"

typedef struct sr_wasm_module sr_wasm_module;
typedef struct sr_wasm_instance sr_wasm_instance;
typedef struct sr_wasm_linker sr_wasm_linker;

/* Defaults used when a field of struct sr_wasm_limits is 0. */
#define SR_WASM_DEFAULT_DEPTH 10000u     /* call depth (frames) */
#define SR_WASM_DEFAULT_STACK (1u << 20) /* value stack, 64-bit slots (8 MiB) */
#define SR_WASM_DEFAULT_TABLE 10000000u  /* table elements, all tables of an instance */
#define SR_WASM_MAX_PAGES 65536u         /* 4 GiB: the Wasm 2.0 32-bit maximum */
#define SR_WASM_PAGE 65536u

struct sr_wasm_limits {
    uint32_t max_pages; /* 64 KiB pages per memory; 0 = the module's declared maximum */
    uint64_t fuel;      /* fuel units before SR_WASM_TRAP_FUEL; 0 = unlimited */
    uint32_t max_depth; /* call depth; 0 = SR_WASM_DEFAULT_DEPTH */
    uint32_t max_stack; /* value stack in 64-bit slots; 0 = SR_WASM_DEFAULT_STACK */
    uint32_t max_table; /* elements of all tables of an instance; 0 = SR_WASM_DEFAULT_TABLE */
};

/* Value types, numbered as in the binary format. */
enum sr_wasm_type {
    SR_WASM_I32 = 0x7f,
    SR_WASM_I64 = 0x7e,
    SR_WASM_F32 = 0x7d,
    SR_WASM_F64 = 0x7c,
    SR_WASM_FUNCREF = 0x70,
    SR_WASM_EXTERNREF = 0x6f,
};

/* Why guest code stopped. Keep in sync with sr_wasm_trap_message() and docs/wasm.md. */
typedef enum sr_wasm_trap {
    SR_WASM_TRAP_NONE = 0,
    SR_WASM_TRAP_UNREACHABLE,   /* "unreachable" */
    SR_WASM_TRAP_MEM_OOB,       /* "out of bounds memory access" */
    SR_WASM_TRAP_TABLE_OOB,     /* "out of bounds table access" */
    SR_WASM_TRAP_DIV_ZERO,      /* "integer divide by zero" */
    SR_WASM_TRAP_INT_OVERFLOW,  /* "integer overflow" */
    SR_WASM_TRAP_INVALID_CONV,  /* "invalid conversion to integer" */
    SR_WASM_TRAP_UNDEF_ELEM,    /* "undefined element" */
    SR_WASM_TRAP_UNINIT_ELEM,   /* "uninitialized element" */
    SR_WASM_TRAP_INDIRECT_TYPE, /* "indirect call type mismatch" */
    SR_WASM_TRAP_CALL_DEPTH,    /* "call stack exhausted" (limit max_depth) */
    SR_WASM_TRAP_VALUE_STACK,   /* "call stack exhausted: value stack" (limit max_stack) */
    SR_WASM_TRAP_FUEL,          /* "out of fuel" (limit fuel) */
    SR_WASM_TRAP_HOST,          /* a host function failed; the message says why */
    SR_WASM_TRAP_EXIT,          /* WASI proc_exit; see sr_wasm_instance_exit_code() */
    SR_WASM_TRAP_COUNT_
} sr_wasm_trap;

/* The spec wording for a trap ("integer divide by zero"). Never NULL. */
const char *sr_wasm_trap_message(sr_wasm_trap trap);

/* ---- modules ---------------------------------------------------------------- */

/* Decodes, validates and translates bytes[0..len) (len <= SR_MAX_MODULE),
 * in time and memory linear in len (docs/wasm.md, "Implementation limits").
 * Copies what it keeps: the caller may free 'bytes' on return. On SR_OK, *out
 * is a new module owned by the caller. SR_EINVAL with a message naming the
 * section and offset for malformed or invalid modules ("malformed: ..." or
 * "invalid: ...", including a module past one of the engine's caps, named),
 * SR_ENOMEM. */
sr_status sr_wasm_module_new(const uint8_t *bytes, size_t len, sr_wasm_module **out, sr_err *err);

/* Frees the module. NULL is a no-op. Instances made from it must be gone. */
void sr_wasm_module_free(sr_wasm_module *mod);

/* Extern kinds, numbered as in the binary format. */
enum sr_wasm_extern {
    SR_WASM_EXTERN_FUNC = 0,
    SR_WASM_EXTERN_TABLE,
    SR_WASM_EXTERN_MEMORY,
    SR_WASM_EXTERN_GLOBAL
};

/* An import or export of a module. Strings are borrowed from the module. */
struct sr_wasm_extern_info {
    const char *module; /* import module name; NULL for exports */
    const char *name;   /* field name (UTF-8, may contain NUL: see name_len) */
    size_t name_len;
    int kind;       /* enum sr_wasm_extern */
    uint32_t index; /* function/table/memory/global index in the module */
};

size_t sr_wasm_module_import_count(const sr_wasm_module *mod);
size_t sr_wasm_module_export_count(const sr_wasm_module *mod);
/* i < the count; returns false otherwise. */
bool sr_wasm_module_import(const sr_wasm_module *mod, size_t i, struct sr_wasm_extern_info *out);
bool sr_wasm_module_export(const sr_wasm_module *mod, size_t i, struct sr_wasm_extern_info *out);

/* ---- instances -------------------------------------------------------------- */

/* Instantiates a module that has no imports. Borrows 'mod' (it must outlive
 * the instance) and copies 'lim' (NULL = all defaults). Runs the start
 * function. SR_EINVAL if the module has imports (message names the first),
 * SR_ELIMIT if its initial memory or table exceeds a limit, SR_ETRAP if a
 * segment or the start function trapped, SR_ENOMEM. */
sr_status sr_wasm_instance_new(const sr_wasm_module *mod, const struct sr_wasm_limits *lim,
                               sr_wasm_instance **out, sr_err *err);

/* Frees an instance made by sr_wasm_instance_new(). NULL is a no-op. Never call
 * it on an instance made by a linker (the linker frees those). */
void sr_wasm_instance_free(sr_wasm_instance *inst);

/* Calls the exported function 'name' with args[0..nargs), writing its results
 * to results[0..nresults). Counts and types are checked (SR_EINVAL). On a trap
 * returns SR_ETRAP (SR_ELIMIT for fuel, call depth and value stack) with the
 * trap wording in err; sr_wasm_instance_trap() gives the kind. Not re-entrant:
 * a host function must not call back into the engine. */
sr_status sr_wasm_call(sr_wasm_instance *inst, const char *name, const uint64_t *args, size_t nargs,
                       uint64_t *results, size_t nresults, sr_err *err);

/* The same, for export names that may contain NUL bytes (name[0..name_len)). */
sr_status sr_wasm_call_n(sr_wasm_instance *inst, const char *name, size_t name_len,
                         const uint64_t *args, size_t nargs, uint64_t *results, size_t nresults,
                         sr_err *err);

/* Reads the exported global 'name'. SR_ENOTFOUND if there is none. */
sr_status sr_wasm_global_read(const sr_wasm_instance *inst, const char *name, int *type,
                              uint64_t *value, sr_err *err);

/* The trap of the last call or instantiation (SR_WASM_TRAP_NONE if it returned). */
sr_wasm_trap sr_wasm_instance_trap(const sr_wasm_instance *inst);
/* Fuel consumed by all calls on this instance so far (the failing block of an
 * out-of-fuel trap is not counted). */
uint64_t sr_wasm_instance_fuel_used(const sr_wasm_instance *inst);
/* The code passed to proc_exit after SR_WASM_TRAP_EXIT. */
uint32_t sr_wasm_instance_exit_code(const sr_wasm_instance *inst);
/* True if memory.grow or table.grow was refused because of a sr_wasm_limits cap
 * (not the module's own maximum): the service reports MEMORY_LIMIT. */
bool sr_wasm_instance_limit_hit(const sr_wasm_instance *inst);

/* ---- fuel in the module (the native tier) ------------------------------------- */

/* The exports sr_wasm_fuel_instrument() adds: a mutable i64 global holding the
 * fuel left, and a mutable i32 global set to 1 just before the module stops
 * with 'unreachable' because a charge exceeded the fuel left (that charge is
 * not taken: fuel used = the initial value - the global). */
#define SR_WASM_FUEL_EXPORT "sealrun:fuel"
#define SR_WASM_FUEL_FLAG_EXPORT "sealrun:fuel_exhausted"

/* Rewrites 'mod' (borrowed) into a module that charges its own fuel: at the
 * same places, in the same amounts and in the same order relative to its
 * traps as the interpreter charges the original (docs/wasm.md, "Fuel in the
 * module"), so that any engine running it reports the interpreter's gas_used.
 * 'fuel' is the initial value of the fuel global (UINT64_MAX for no limit).
 * The result is decoded and validated again; on SR_OK *out (malloc'd, *out_len
 * bytes) is owned by the caller, and so is *checked (the validated module) when
 * 'checked' is not NULL. SR_EINVAL if the module exports one of the names above
 * or the result is not valid (a cap of the engine, such as locals per
 * function; the message names it), SR_ELIMIT if the result would exceed
 * SR_MAX_MODULE, SR_ENOMEM. Linear in the module's size. */
sr_status sr_wasm_fuel_instrument(const sr_wasm_module *mod, uint64_t fuel, uint8_t **out,
                                  size_t *out_len, sr_wasm_module **checked, sr_err *err);

/* What the native tier adds with SR_WASM_FUEL_NATIVE: the start function is
 * no longer run at instantiation but exported as SR_WASM_START_EXPORT (the
 * runtime sets the fuel global first, then calls it: so one compiled module
 * serves every fuel limit), and global 0, when it is a defined mutable i32
 * (the stack pointer of C and Rust programs), is exported as
 * SR_WASM_SP_EXPORT (for the interpreter's stack-exhausted message). */
#define SR_WASM_START_EXPORT "sealrun:start"
#define SR_WASM_SP_EXPORT "sealrun:sp"
#define SR_WASM_FUEL_NATIVE 1u

/* sr_wasm_fuel_instrument() with flags (0 or SR_WASM_FUEL_NATIVE). All four
 * reserved names are refused in the module. */
sr_status sr_wasm_fuel_instrument_ex(const sr_wasm_module *mod, uint64_t fuel, unsigned flags,
                                     uint8_t **out, size_t *out_len, sr_wasm_module **checked,
                                     sr_err *err);

/* ---- host functions and linking ---------------------------------------------- */

/* A host function. Arguments are in slots[0..nparams); it writes its results
 * to slots[0..nresults) (same encoding as above). It returns SR_OK, or the
 * value of sr_wasm_host_trap()/sr_wasm_host_exit(). It must not call back into
 * the engine. */
typedef sr_status (*sr_wasm_host_fn)(void *ctx, sr_wasm_instance *caller, uint64_t *slots);

/* Stops the guest with SR_WASM_TRAP_HOST and a message. Returns SR_ETRAP. */
sr_status sr_wasm_host_trap(sr_wasm_instance *caller, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Stops the guest with SR_WASM_TRAP_EXIT and an exit code. Returns SR_ETRAP. */
sr_status sr_wasm_host_exit(sr_wasm_instance *caller, uint32_t code);

/* The bytes [ptr, ptr + len) of the caller's memory 0, bounds-checked: NULL
 * if any of them is outside it (or it has no memory); len 0 at the end is
 * allowed. Borrowed, valid until the guest runs again (memory.grow may move
 * it). The one way host functions (WASI, sealrun's storage imports) read and
 * write guest memory. */
uint8_t *sr_wasm_guest_bytes(sr_wasm_instance *inst, uint64_t ptr, uint64_t len);

sr_status sr_wasm_linker_new(sr_wasm_linker **out, sr_err *err);
/* Frees every instance the linker made and its host functions. NULL is a no-op. */
void sr_wasm_linker_free(sr_wasm_linker *lk);

/* Defines module.name as a host function with signature 'sig': parameter
 * letters, ':', result letters, with i=i32 I=i64 f=f32 F=f64 r=externref
 * R=funcref, e.g. "iiii:i". Copies the strings; borrows ctx. */
sr_status sr_wasm_linker_define_func(sr_wasm_linker *lk, const char *module, const char *name,
                                     const char *sig, sr_wasm_host_fn fn, void *ctx, sr_err *err);

/* Makes every export of 'inst' (an instance of this linker) importable as
 * module 'as' (the spec's "register"). Later definitions shadow earlier ones. */
sr_status sr_wasm_linker_register(sr_wasm_linker *lk, const char *as, sr_wasm_instance *inst,
                                  sr_err *err);

/* Instantiates 'mod' with imports resolved by the linker. On SR_OK *out is
 * borrowed, valid until sr_wasm_linker_free(). Errors: SR_EINVAL "unknown
 * import 'm.n'" or "incompatible import type for 'm.n'" (nothing was changed),
 * SR_ELIMIT, SR_ETRAP (segments or start trapped: writes already done to
 * imported tables and memories stay, as the spec says), SR_ENOMEM. When a
 * segment or the start function trapped (SR_ETRAP, or SR_ELIMIT for fuel,
 * call depth and value stack), *out is set too: sr_wasm_instance_trap(),
 * _exit_code() and _fuel_used() tell how that run ended. */
sr_status sr_wasm_linker_instantiate(sr_wasm_linker *lk, const sr_wasm_module *mod,
                                     const struct sr_wasm_limits *lim, sr_wasm_instance **out,
                                     sr_err *err);

/* ---- WASI preview 1 -------------------------------------------------------- */

/* Fills buf[0..len) with random bytes; returns 0, or nonzero on failure. */
typedef int (*sr_wasi_random_fn)(void *ctx, uint8_t *buf, size_t len);
/* Reads clock 'id' (0 realtime, 1 monotonic, 2 process CPU, 3 thread CPU)
 * into *ns; 0 on success. */
typedef int (*sr_wasi_clock_fn)(void *ctx, uint32_t id, uint64_t *ns);

/* A host function offered next to WASI (the 'sealrun' storage imports of
 * docs/storage.md). Strings and ctx are borrowed for the run. */
struct sr_wasi_host_func {
    const char *module; /* import module name, e.g. "sealrun" */
    const char *name;
    const char *sig; /* as for sr_wasm_linker_define_func */
    sr_wasm_host_fn fn;
    void *ctx;
};

struct sr_wasi_config {
    const char *const *argv; /* argv[0..argc), copied; argv[0] is the program name */
    size_t argc;
    const char *const *env; /* "NAME=value" strings, copied */
    size_t envc;
    const uint8_t *stdin_data; /* bytes fd 0 reads, borrowed for the run */
    size_t stdin_len;
    size_t stdout_max;        /* bytes; 0 = SR_MAX_OUTPUT (1 MiB) */
    size_t stderr_max;        /* bytes; 0 = SR_MAX_LOG_ENTRIES * SR_MAX_LOG_ENTRY */
    sr_wasi_random_fn random; /* NULL = getrandom(2) */
    void *random_ctx;
    bool fake_clock; /* true: clocks start at 0 and tick 1 us per call (reproducible) */
    const struct sr_wasi_host_func *host_funcs; /* extra imports the guest may use */
    size_t nhost_funcs;
    sr_wasi_clock_fn clock; /* NULL = clock_gettime(2) (or fake_clock); ids > 3 never reach it */
    void *clock_ctx;
};

struct sr_wasi_result {
    uint32_t exit_code;    /* proc_exit code; 0 when _start returned */
    bool exited;           /* true if the guest finished (returned or called proc_exit) */
    sr_wasm_trap trap;     /* SR_WASM_TRAP_NONE, or why it stopped (not EXIT) */
    bool memory_limit;     /* a grow was refused by max_pages/max_table */
    bool stdout_truncated; /* the guest wrote more than stdout_max: writes failed */
    uint64_t fuel_used;
    /* A module made by sr_wasm_fuel_instrument() (it exports SR_WASM_FUEL_EXPORT): */
    bool module_fuel;           /* true: the two fields below are its fuel globals at the end */
    uint64_t module_fuel_left;  /* fuel it had left */
    bool module_fuel_exhausted; /* it stopped because a charge exceeded the fuel left */
    uint8_t *stdout_data;       /* owned by the result: sr_wasi_result_fini() */
    size_t stdout_len;
    uint8_t *stderr_data; /* owned by the result; cut at stderr_max */
    size_t stderr_len;
    char message[512]; /* the trap or error wording, "" if none */
};

/* Instantiates 'mod' (borrowed) with the WASI imports, runs its start
 * function if it has one, then its '_start'. Returns SR_OK when the guest
 * finished (returned or proc_exit with any code, also from the start
 * function: see res->exit_code), SR_ETRAP for a trap, SR_ELIMIT for fuel,
 * call depth, value stack, an initial memory over max_pages or output over
 * its cap, SR_EINVAL for an import sealrun does not offer (named in the
 * message) or a missing '_start', SR_ENOMEM. In every case *res is filled
 * (the fuel of the start function and of '_start', output and logs so far)
 * and must be released with sr_wasi_result_fini().
 * Makes no system call other than memory allocation, clock_gettime and
 * getrandom. */
sr_status sr_wasm_run_wasi(const sr_wasm_module *mod, const struct sr_wasm_limits *lim,
                           const struct sr_wasi_config *cfg, struct sr_wasi_result *res,
                           sr_err *err);

/* Whether every import of 'mod' is one sr_wasm_run_wasi() would give it (WASI
 * preview 1 or cfg's host_funcs; only those two fields of cfg are read).
 * SR_EINVAL naming the first that is not. For checking an upload before
 * anything runs. */
sr_status sr_wasi_check_imports(const sr_wasm_module *mod, const struct sr_wasi_config *cfg,
                                sr_err *err);

/* Frees the buffers of a result. Safe on a zeroed or already finished result. */
void sr_wasi_result_fini(struct sr_wasi_result *res);

/* ---- the native tier (docs/wasm.md, "The native tier") -------------------------- */

typedef struct sr_wasm_native sr_wasm_native;

/* The C that sealrun compiles next to what wasm2c makes of a module: a
 * wasm-rt.h for the generated code (bounds checks, the depth counter), the
 * runtime and one thunk per host function ('runtime', owned), and a file that
 * tells the instance's size ('size'). Generated from sealrun's own tables
 * (WASI plus 'extra', of which only module, name and sig are read), never
 * from a module. */
struct sr_wasm_native_glue {
    const char *header; /* "wasm-rt.h"; static */
    size_t header_len;
    const char *size; /* "s.c"; static */
    size_t size_len;
    char *runtime; /* "g.c"; owned: sr_wasm_native_glue_fini() */
    size_t runtime_len;
};

/* SR_EINVAL for a host function whose signature the glue cannot pass (named),
 * SR_ENOMEM. On SR_OK release *out with sr_wasm_native_glue_fini(). */
sr_status sr_wasm_native_glue(const struct sr_wasi_host_func *extra, size_t nextra,
                              struct sr_wasm_native_glue *out, sr_err *err);
void sr_wasm_native_glue_fini(struct sr_wasm_native_glue *g);

/* Loads a compiled module (so[0..len), the bytes sr_native_get returned):
 * into a memfd, then dlopen of /proc/self/fd/N. Copies the bytes. On SR_OK
 * *out is owned by the caller. SR_EIO when the system refuses (the message
 * says why), SR_EINVAL when the object lacks sealrun's glue, SR_ENOMEM.
 * Running the object's code is trusting it: load only what the daemon's
 * compiler made. */
sr_status sr_wasm_native_load(const uint8_t *so, size_t len, sr_wasm_native **out, sr_err *err);
/* The same from a descriptor that holds the object (a memfd the daemon
 * wrote and sealed, received over the job channel): dlopen of
 * /proc/self/fd/N, the one file a job process opens. Takes fd (closed on
 * error, and by sr_wasm_native_free). Errors as above. */
sr_status sr_wasm_native_load_fd(int fd, sr_wasm_native **out, sr_err *err);
/* dlclose. NULL is a no-op. */
void sr_wasm_native_free(sr_wasm_native *n);

/* sr_wasm_run_wasi() on the native tier: 'n' was compiled from
 * sr_wasm_fuel_instrument_ex(mod, 0, SR_WASM_FUEL_NATIVE) of 'mod' (the
 * original, borrowed: its imports are checked as the interpreter checks
 * them). The same WASI and host functions, the same limits (memory pages,
 * table elements, call depth, fuel), the same statuses, traps, wording and
 * fuel_used as the interpreter on the same module and input; res->module_fuel
 * is false. SR_EINVAL also when the module has a memory that it does not
 * export as "memory" (the host functions could not reach it). Runs on the
 * calling thread's stack: each Wasm call is a C call. */
sr_status sr_wasm_run_wasi_native(const sr_wasm_module *mod, const sr_wasm_native *n,
                                  const struct sr_wasm_limits *lim,
                                  const struct sr_wasi_config *cfg, struct sr_wasi_result *res,
                                  sr_err *err);

#endif /* SR_WASM_H */
