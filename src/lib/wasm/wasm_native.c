/* SPDX-License-Identifier: MIT
 *
 * wasm_native.c - the native tier's runtime (docs/wasm.md, "The native tier"):
 * the C glue compiled into every native module, loading a compiled module in
 * the job process, and running it against the same host functions as the
 * interpreter.
 *
 * The glue is sealrun's own C, generated here from the tables of host
 * functions (never from a guest's module), and compiled next to what wasm2c
 * made of the module (sr_native_get). It implements wasm2c's runtime
 * interface (wasm-rt.h: memories and tables under the job's caps, function
 * types, traps by longjmp), one thunk per host function that passes its
 * arguments as 64-bit slots to the host through a table of function
 * pointers, and sealrun_native_run(), the one entry point. Linear memory
 * is guarded by pages, not checked on every access: its memory32 address
 * range (8 GiB and a page) is reserved PROT_NONE, the pages it has are
 * made readable and writable as it grows, and while guest code runs a
 * SIGSEGV/SIGBUS handler on an alternate stack turns a fault inside that
 * range into the out-of-bounds trap (any other fault stays a crash); the
 * call depth is wasm2c's counter, compared with the job's max_depth.
 *
 * Loading: the object's bytes go into a memfd, which dlopen() maps through
 * /proc/self/fd (the job process's seccomp filter allows exactly the openat
 * dlopen makes: read-only, close-on-exec; docs/security-model.md).
 *
 * Sections: the glue's text; loading; running.
 */
#include "wasm_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sealrun/sr_buf.h"

/* Bumped with every change of struct glue_host or the glue's behaviour. */
#define GLUE_ABI 2u

/* Why the glue stopped the guest (its side of the ABI). */
enum {
    G_NONE = 0,
    G_UNREACHABLE,
    G_MEM_OOB,
    G_TABLE_OOB,
    G_DIV_ZERO,
    G_INT_OVERFLOW,
    G_INVALID_CONV,
    G_CALL_INDIRECT,
    G_DEPTH,
    G_HOST,
    G_MEM_INIT_LIMIT,
    G_TABLE_INIT_LIMIT,
    G_NOMEM,
    G_NO_START,
    G_OTHER,
    G_NO_HANDLER,
};

/* Shared with the glue's struct sr_host (same order and types). */
struct glue_host {
    uint32_t abi;
    uint32_t max_pages;
    uint64_t max_table;
    uint32_t max_depth;
    uint32_t pad;
    uint64_t fuel;
    void *ctx;
    int (*call)(void *ctx, uint32_t idx, uint64_t *slots, uint8_t *mem, uint64_t mem_size);
    uint32_t trap;
    uint32_t limit_hit;
    uint32_t has_fuel;
    uint32_t fuel_exhausted;
    uint64_t fuel_left;
    uint32_t has_sp;
    uint32_t sp;
    uint64_t mem_size;
    uint64_t init_size; /* pages or elements asked for when G_*_INIT_LIMIT */
};

/* ---- the glue's text ------------------------------------------------------------------------ */

/* wasm-rt.h as the generated code sees it: the system's, configured for
 * guard pages (no check in the generated loads and stores; the bulk
 * operations and data segments still check) and a call-depth counter,
 * with wasm_rt_trap() telling memory from table accesses by the function
 * that trapped. Every static inline function after it (the generated
 * code's load and store helpers; the standard headers come before it) is
 * always inlined: gcc -O2 otherwise leaves some of them out of line in
 * large functions, which made matmul's inner loop 2.4x slower
 * (bench/results/2026-12-04-native2.md). isnan() is a quiet compare (under
 * -fsignaling-nans gcc would test the bits: nbody 35% slower). */
static const char glue_header[] =
    "/* sealrun native tier: wasm-rt.h for the generated code (guard pages, depth count) */\n"
    "#ifndef SEALRUN_WASM_RT_H\n"
    "#define SEALRUN_WASM_RT_H\n"
    "#include <stdint.h>\n"
    "#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 1\n"
    "#define WASM_RT_USE_STACK_DEPTH_COUNT 1\n"
    "#define WASM_RT_MAX_CALL_STACK_DEPTH sealrun_native_max_depth\n"
    "extern uint32_t sealrun_native_max_depth;\n"
    "#include \"/usr/include/wasm-rt.h\"\n"
    "WASM_RT_NO_RETURN void sealrun_native_trap(wasm_rt_trap_t trap, const char *where);\n"
    "#define wasm_rt_trap(t) sealrun_native_trap((t), __func__)\n"
    "/* wasm2c's memory access helpers are static inline; in a large function gcc\n"
    " * leaves many of them out of line (\"call is unlikely\"), one call per access */\n"
    "#define inline inline __attribute__((always_inline))\n"
    "/* under -fsignaling-nans gcc tests isnan() with integer operations, so that a\n"
    " * signalling NaN raises no invalid flag (no Wasm program can see the flags): a\n"
    " * quiet unordered compare gives the same answer. Only where math.h came first\n"
    " * (the generated code's); a math.h after this would define its own again. */\n"
    "#ifdef isnan\n"
    "#undef isnan\n"
    "#define isnan(x) __builtin_isunordered((x), (x))\n"
    "#endif\n"
    "#endif\n";

/* The instance's size, known only to the generated header. */
static const char glue_size[] = "#include \"m.h\"\n"
                                "const unsigned long sealrun_native_instance_size = "
                                "sizeof(Z_m_instance_t);\n";

/* The runtime, in pieces of under 4095 bytes (ISO C's string length). */
static const char *const glue_runtime[] = {
    "/* sealrun native tier: runtime glue (generated by sealrun from its own tables) */\n"
    "#define _GNU_SOURCE /* REG_RIP, REG_RSP */\n"
    "#include <setjmp.h>\n"
    "#include <signal.h>\n"
    "#include <stdarg.h>\n"
    "#include <stdbool.h>\n"
    "#include <stdint.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#include <sys/mman.h>\n"
    "#include <ucontext.h>\n"
    "#include \"wasm-rt.h\"\n"
    "enum { G_NONE, G_UNREACHABLE, G_MEM_OOB, G_TABLE_OOB, G_DIV_ZERO, G_INT_OVERFLOW,\n"
    "       G_INVALID_CONV, G_CALL_INDIRECT, G_DEPTH, G_HOST, G_MEM_INIT_LIMIT,\n"
    "       G_TABLE_INIT_LIMIT, G_NOMEM, G_NO_START, G_OTHER, G_NO_HANDLER };\n"
    "struct sr_host {\n"
    "  uint32_t abi, max_pages; uint64_t max_table; uint32_t max_depth, pad; uint64_t fuel;\n"
    "  void *ctx;\n"
    "  int (*call)(void *ctx, uint32_t idx, uint64_t *slots, uint8_t *mem, uint64_t size);\n"
    "  uint32_t trap, limit_hit, has_fuel, fuel_exhausted; uint64_t fuel_left;\n"
    "  uint32_t has_sp, sp; uint64_t mem_size, init_size;\n"
    "};\n"
    "static struct sr_host *H;\n"
    "static jmp_buf *volatile JB;\n"
    "static wasm_rt_memory_t *MEM;\n"
    "static uint64_t table_elems;\n"
    "uint32_t wasm_rt_call_stack_depth;\n"
    "uint32_t sealrun_native_max_depth;\n"
    "static WASM_RT_NO_RETURN void stop(int code) { longjmp(*JB, code); }\n"
    "static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }\n"
    "WASM_RT_NO_RETURN void sealrun_native_trap(wasm_rt_trap_t t, const char *where) {\n"
    "  switch (t) {\n"
    "  case WASM_RT_TRAP_OOB:\n"
    "    stop(starts(where, \"funcref_table\") || starts(where, \"externref_table\") ||\n"
    "         starts(where, \"init_elem\") || starts(where, \"init_tables\")\n"
    "         ? G_TABLE_OOB : G_MEM_OOB);\n"
    "  case WASM_RT_TRAP_INT_OVERFLOW: stop(G_INT_OVERFLOW);\n"
    "  case WASM_RT_TRAP_DIV_BY_ZERO: stop(G_DIV_ZERO);\n"
    "  case WASM_RT_TRAP_INVALID_CONVERSION: stop(G_INVALID_CONV);\n"
    "  case WASM_RT_TRAP_UNREACHABLE: stop(G_UNREACHABLE);\n"
    "  case WASM_RT_TRAP_CALL_INDIRECT: stop(G_CALL_INDIRECT);\n"
    "  case WASM_RT_TRAP_EXHAUSTION: stop(G_DEPTH);\n"
    "  default: stop(G_OTHER);\n"
    "  }\n"
    "}\n"
    "void (wasm_rt_trap)(wasm_rt_trap_t t) { sealrun_native_trap(t, \"\"); }\n"
    "void wasm_rt_init(void) {}\n"
    "bool wasm_rt_is_initialized(void) { return true; }\n"
    "void wasm_rt_free(void) {}\n"
    "const char *wasm_rt_strerror(wasm_rt_trap_t t) { (void)t; return \"trap\"; }\n"
    "/* function types: ids are dense (0, 1, ...), found through a hash index so\n"
    " * that a module with many types registers them in linear time */\n"
    "struct ft { uint32_t np, nr; uint8_t *t; };\n"
    "static struct ft *fts; static uint32_t nfts, capfts;\n"
    "static uint32_t *fti; static uint32_t capfti; /* id + 1, 0 = free */\n"
    "static uint32_t ft_hash(uint32_t np, uint32_t nr, const uint8_t *t) {\n"
    "  uint32_t h = 2166136261u ^ np ^ (nr << 16);\n"
    "  for (uint64_t i = 0; i < (uint64_t)np + nr; i++) h = (h ^ t[i]) * 16777619u;\n"
    "  return h;\n"
    "}\n",
    "static void ft_grow(void) {\n"
    "  uint32_t cap = capfti ? capfti * 2 : 64;\n"
    "  uint32_t *n = calloc(cap, sizeof(*n));\n"
    "  struct ft *v = realloc(fts, (size_t)cap * sizeof(*v));\n"
    "  if (!n || !v) { free(n); if (v) fts = v; stop(G_NOMEM); }\n"
    "  fts = v; capfts = cap;\n"
    "  for (uint32_t id = 0; id < nfts; id++) {\n"
    "    uint32_t j = ft_hash(fts[id].np, fts[id].nr, fts[id].t) & (cap - 1);\n"
    "    while (n[j]) j = (j + 1) & (cap - 1);\n"
    "    n[j] = id + 1;\n"
    "  }\n"
    "  free(fti); fti = n; capfti = cap;\n"
    "}\n"
    "uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {\n"
    "  uint64_t n = (uint64_t)params + results;\n"
    "  uint8_t *t = malloc(n ? n : 1);\n"
    "  if (!t) stop(G_NOMEM);\n"
    "  va_list ap; va_start(ap, results);\n"
    "  for (uint64_t i = 0; i < n; i++) t[i] = (uint8_t)va_arg(ap, int);\n"
    "  va_end(ap);\n"
    "  if ((uint64_t)(nfts + 1) * 2 > capfti) ft_grow();\n"
    "  uint32_t j = ft_hash(params, results, t) & (capfti - 1);\n"
    "  for (; fti[j]; j = (j + 1) & (capfti - 1)) {\n"
    "    const struct ft *f = &fts[fti[j] - 1];\n"
    "    if (f->np == params && f->nr == results && memcmp(f->t, t, n) == 0) {\n"
    "      free(t); return fti[j] - 1;\n"
    "    }\n"
    "  }\n"
    "  fts[nfts] = (struct ft){params, results, t};\n"
    "  fti[j] = nfts + 1;\n"
    "  return nfts++;\n"
    "}\n"
    "static void ft_free(void) {\n"
    "  for (uint32_t i = 0; i < nfts; i++) free(fts[i].t);\n"
    "  free(fts); free(fti); fts = NULL; fti = NULL; nfts = capfts = capfti = 0;\n"
    "}\n"
    "/* linear memory: RESERVE bytes of addresses, PROT_NONE, hold every address a\n"
    " * memory32 access can form (32-bit index + 32-bit offset + the access's width);\n"
    " * the memory's pages are made readable and writable as it grows, every other\n"
    " * page faults, and on_fault turns a fault inside RES into the trap */\n"
    "#define RESERVE ((size_t)0x200000000ull + 65536u)\n"
    "#define RW (PROT_READ | PROT_WRITE)\n"
    "static uint8_t *volatile RES; /* the reservation of the memory in use */\n"
    "static volatile sig_atomic_t IN_HOST; /* a host function runs: its faults are crashes */\n"
    "void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial, uint32_t max) {\n"
    "  if (initial > H->max_pages) { H->init_size = initial; stop(G_MEM_INIT_LIMIT); }\n"
    "  void *p = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,\n"
    "                 -1, 0);\n"
    "  if (p == MAP_FAILED) stop(G_NOMEM);\n"
    "  if (initial && mprotect(p, (size_t)initial * 65536u, RW) != 0) {\n"
    "    munmap(p, RESERVE); stop(G_NOMEM);\n"
    "  }\n"
    "  m->data = p; RES = p;\n"
    "  m->pages = initial; m->max_pages = max; m->size = initial * 65536u;\n"
    "}\n"
    "uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta) {\n"
    "  uint64_t old = m->pages, np = old + delta;\n"
    "  if (np > m->max_pages || np > 65536u) return (uint32_t)-1;\n"
    "  if (np > H->max_pages) { H->limit_hit = 1; return (uint32_t)-1; }\n"
    "  if (delta == 0) return (uint32_t)old;\n"
    "  /* fresh pages of an anonymous mapping are zero */\n"
    "  if (mprotect(m->data + old * 65536u, (size_t)delta * 65536u, RW) != 0) {\n"
    "    H->limit_hit = 1; return (uint32_t)-1;\n"
    "  }\n"
    "  m->pages = (uint32_t)np; m->size = (uint32_t)(np * 65536u);\n"
    "  return (uint32_t)old;\n"
    "}\n",
    "void wasm_rt_free_memory(wasm_rt_memory_t *m) {\n"
    "  if (!m->data) return;\n"
    "  if (RES == m->data) RES = NULL;\n"
    "  munmap(m->data, RESERVE); m->data = NULL;\n"
    "}\n"
    "#define TABLE_FUNCS(kind, T, nul)                                                  \\\n"
    "  void wasm_rt_allocate_##kind##_table(wasm_rt_##kind##_table_t *t, uint32_t n,     \\\n"
    "                                       uint32_t max) {                              \\\n"
    "    if (table_elems + n > H->max_table) { H->init_size = n; stop(G_TABLE_INIT_LIMIT); } \\\n"
    "    t->data = calloc(n ? n : 1, sizeof(T));                                         \\\n"
    "    if (!t->data) stop(G_NOMEM);                                                    \\\n"
    "    for (uint32_t i = 0; i < n; i++) t->data[i] = nul;                              \\\n"
    "    t->size = n; t->max_size = max; table_elems += n;                               \\\n"
    "  }                                                                                 \\\n"
    "  void wasm_rt_free_##kind##_table(wasm_rt_##kind##_table_t *t) {                   \\\n"
    "    free(t->data); t->data = NULL;                                                  \\\n"
    "  }                                                                                 \\\n"
    "  uint32_t wasm_rt_grow_##kind##_table(wasm_rt_##kind##_table_t *t, uint32_t delta, \\\n"
    "                                       T init) {                                    \\\n"
    "    uint64_t old = t->size, ns = old + delta;                                       \\\n"
    "    if (ns > t->max_size) return (uint32_t)-1;                                      \\\n"
    "    if (table_elems + delta > H->max_table) { H->limit_hit = 1; return (uint32_t)-1; } \\\n"
    "    if (delta == 0) return (uint32_t)old;                                           \\\n"
    "    T *p = realloc(t->data, (size_t)ns * sizeof(T));                                \\\n"
    "    if (!p) { H->limit_hit = 1; return (uint32_t)-1; }                              \\\n"
    "    for (uint64_t i = old; i < ns; i++) p[i] = init;                                \\\n"
    "    t->data = p; t->size = (uint32_t)ns; table_elems += delta;                      \\\n"
    "    return (uint32_t)old;                                                           \\\n"
    "  }\n"
    "TABLE_FUNCS(funcref, wasm_rt_funcref_t, wasm_rt_funcref_null_value)\n"
    "TABLE_FUNCS(externref, wasm_rt_externref_t, wasm_rt_externref_null_value)\n"
    "static void host_call(uint32_t idx, uint64_t *s) {\n"
    "  IN_HOST = 1;\n"
    "  int rc = H->call(H->ctx, idx, s, MEM ? MEM->data : NULL, MEM ? MEM->size : 0);\n"
    "  IN_HOST = 0;\n"
    "  if (rc != 0) stop(G_HOST);\n"
    "}\n",
    "/* faults: a SIGSEGV or SIGBUS the kernel raised for an address inside the\n"
    " * memory's reservation while guest code runs is the out-of-bounds trap: the\n"
    " * handler returns into oob_trap() on the guest's own stack (below its red\n"
    " * zone, aligned as at a call), which ends the run as every trap does, off the\n"
    " * signal stack (ASan's longjmp would look up that stack's bounds in\n"
    " * /proc/self/maps, which the job process cannot open). Any other fault puts\n"
    " * back the action the process had and returns, so it happens again under\n"
    " * it (a crash, as without this handler). The handler runs on a stack of its\n"
    " * own, so a fault on an exhausted C stack reaches it. */\n"
    "#if defined(__x86_64__)\n"
    "#define UC_PC(u) ((u)->uc_mcontext.gregs[REG_RIP])\n"
    "#define UC_SP(u) ((u)->uc_mcontext.gregs[REG_RSP])\n"
    "#define CALL_SLOT 8u /* where a call would have put its return address */\n"
    "#elif defined(__aarch64__)\n"
    "#define UC_PC(u) ((u)->uc_mcontext.pc)\n"
    "#define UC_SP(u) ((u)->uc_mcontext.sp)\n"
    "#define CALL_SLOT 0u\n"
    "#else\n"
    "#error \"the native tier's fault handler knows x86-64 and AArch64 only\"\n"
    "#endif\n"
    "#define ALT_SIZE (64u * 1024u)\n"
    "static struct sigaction old_segv, old_bus;\n"
    "static stack_t old_ss;\n"
    "static void *alt; /* the alternate stack, kept for the process */\n"
    "static WASM_RT_NO_RETURN void oob_trap(void) { stop(G_MEM_OOB); }\n"
    "static void on_fault(int sig, siginfo_t *si, void *ctx) {\n"
    "  ucontext_t *uc = ctx;\n"
    "  const uint8_t *a = (const uint8_t *)si->si_addr, *r = RES;\n"
    "  if (si->si_code > 0 && r && JB && !IN_HOST && a >= r && (size_t)(a - r) < RESERVE) {\n"
    "    uintptr_t sp = (((uintptr_t)UC_SP(uc) - 256u) & ~(uintptr_t)15) - CALL_SLOT;\n"
    "    UC_SP(uc) = sp;\n"
    "    UC_PC(uc) = (uintptr_t)oob_trap;\n"
    "    return;\n"
    "  }\n"
    "  sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);\n"
    "}\n"
    "static int faults_on(void) {\n"
    "  if (!alt) {\n"
    "    void *p = mmap(NULL, ALT_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
    "    if (p == MAP_FAILED) return -1;\n"
    "    alt = p;\n"
    "  }\n"
    "  stack_t ss = {.ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0};\n"
    "  if (sigaltstack(&ss, &old_ss) != 0) return -1;\n"
    "  struct sigaction sa;\n"
    "  memset(&sa, 0, sizeof(sa));\n"
    "  sa.sa_sigaction = on_fault;\n"
    "  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;\n"
    "  sigemptyset(&sa.sa_mask);\n"
    "  if (sigaction(SIGSEGV, &sa, &old_segv) != 0) { sigaltstack(&old_ss, NULL); return -1; }\n"
    "  if (sigaction(SIGBUS, &sa, &old_bus) != 0) {\n"
    "    sigaction(SIGSEGV, &old_segv, NULL); sigaltstack(&old_ss, NULL); return -1;\n"
    "  }\n"
    "  return 0;\n"
    "}\n"
    "static void faults_off(void) {\n"
    "  sigaction(SIGSEGV, &old_segv, NULL);\n"
    "  sigaction(SIGBUS, &old_bus, NULL);\n"
    "  sigaltstack(&old_ss, NULL);\n"
    "}\n",
    "static uint64_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }\n"
    "static uint64_t f64_bits(double f) { uint64_t u; memcpy(&u, &f, 8); return u; }\n"
    "static float bits_f32(uint64_t b) { uint32_t u = (uint32_t)b; float f; memcpy(&f, &u, 4);\n"
    "  return f; }\n"
    "static double bits_f64(uint64_t b) { double f; memcpy(&f, &b, 8); return f; }\n"
    "/* the generated code's entry points; what the module lacks is NULL (weak) */\n"
    "extern const unsigned long sealrun_native_instance_size;\n"
    "void Z_m_init_module(void);\n"
    "/* one pointer per imported module (at most two: wasi_snapshot_preview1 and\n"
    " * sealrun); all get the same context. Passing more arguments than the\n"
    " * function takes is harmless in the SysV x86-64 and AArch64 calling conventions. */\n"
    "void Z_m_instantiate(void *, void *, void *, void *, void *, void *);\n"
    "void Z_m_free(void *);\n"
    "extern void Z_mZ__start(void *) __attribute__((weak));\n"
    "extern void Z_mZ_sealrunZ3Astart(void *) __attribute__((weak));\n"
    "extern wasm_rt_memory_t *Z_mZ_memory(void *) __attribute__((weak));\n"
    "extern uint64_t *Z_mZ_sealrunZ3Afuel(void *) __attribute__((weak));\n"
    "extern uint32_t *Z_mZ_sealrunZ3Afuel_exhausted(void *) __attribute__((weak));\n"
    "extern uint32_t *Z_mZ_sealrunZ3Asp(void *) __attribute__((weak));\n"
    "int sealrun_native_run(struct sr_host *h) {\n"
    "  if (h->abi != SEALRUN_GLUE_ABI) return -1;\n"
    "  jmp_buf jb;\n"
    "  H = h; JB = NULL; MEM = NULL; RES = NULL; IN_HOST = 0; table_elems = 0;\n"
    "  /* the interpreter's max_depth counts the frames below the entry function */\n"
    "  wasm_rt_call_stack_depth = 0; sealrun_native_max_depth = h->max_depth + 1;\n"
    "  void *volatile inst = calloc(1, sealrun_native_instance_size);\n"
    "  volatile int made = 0;\n"
    "  if (!inst) { h->trap = G_NOMEM; return 0; }\n"
    "  if (faults_on() != 0) { free(inst); h->trap = G_NO_HANDLER; return 0; }\n"
    "  int code = setjmp(jb);\n"
    "  JB = &jb;\n"
    "  if (code == 0) {\n"
    "    Z_m_init_module();\n"
    "    made = 1;\n"
    "    Z_m_instantiate(inst, h->ctx, h->ctx, h->ctx, h->ctx, h->ctx);\n"
    "    if (Z_mZ_memory) MEM = Z_mZ_memory(inst);\n"
    "    if (Z_mZ_sealrunZ3Afuel) { *Z_mZ_sealrunZ3Afuel(inst) = h->fuel; h->has_fuel = 1; }\n"
    "    if (Z_mZ_sealrunZ3Astart) Z_mZ_sealrunZ3Astart(inst);\n"
    "    if (Z_mZ__start) Z_mZ__start(inst); else h->trap = G_NO_START;\n"
    "  } else {\n"
    "    h->trap = (uint32_t)code;\n"
    "  }\n"
    "  if (h->has_fuel) {\n"
    "    h->fuel_left = *Z_mZ_sealrunZ3Afuel(inst);\n"
    "    h->fuel_exhausted = Z_mZ_sealrunZ3Afuel_exhausted &&\n"
    "                        *Z_mZ_sealrunZ3Afuel_exhausted(inst) == 1;\n"
    "  }\n"
    "  if (Z_mZ_sealrunZ3Asp) { h->has_sp = 1; h->sp = *Z_mZ_sealrunZ3Asp(inst); }\n"
    "  if (MEM) h->mem_size = MEM->size;\n"
    "  if (made) Z_m_free(inst);\n"
    "  JB = NULL; RES = NULL;\n"
    "  faults_off();\n"
    "  free(inst);\n"
    "  ft_free();\n"
    "  return 0;\n"
    "}\n",
};

static void
mangle(sr_buf *b, const char *s, sr_status *st)
{
    for (const unsigned char *p = (const unsigned char *)s; *p && *st == SR_OK; p++) {
        char c[4];
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Y') || (*p >= '0' && *p <= '9') ||
            *p == '_')
            *st = sr_buf_append(b, p, 1, NULL);
        else {
            (void)snprintf(c, sizeof(c), "Z%02X", *p);
            *st = sr_buf_append(b, c, 3, NULL);
        }
    }
}

static const char *
c_type(char t)
{
    switch (t) {
    case 'i':
        return "uint32_t";
    case 'I':
        return "uint64_t";
    case 'f':
        return "float";
    case 'F':
        return "double";
    case 'r':
        return "void *";
    default:
        return NULL;
    }
}

static const char *
to_slot(char t)
{
    return t == 'f' ? "f32_bits" : t == 'F' ? "f64_bits" : t == 'r' ? "(uint64_t)(uintptr_t)" : "";
}

/* One thunk: RESULT Z_<module>Z_<name>(void *c, ARGS) { slots; host_call; result }. */
static sr_status
put_thunk(sr_buf *b, uint32_t idx, const char *module, const char *name, const char *sig,
          sr_err *err)
{
    const char *colon = strchr(sig, ':');
    const size_t np = colon ? (size_t)(colon - sig) : strlen(sig);
    const char *res = colon ? colon + 1 : "";
    const size_t nr = strlen(res);
    for (const char *p = sig; *p; p++)
        if (*p != ':' && !c_type(*p))
            return sr_err_set(err, SR_EINVAL,
                              "host function '%s.%s': signature '%s' has a type the native tier "
                              "cannot pass (i, I, f, F and r only)",
                              module, name, sig);
    if (nr > 1)
        return sr_err_set(err, SR_EINVAL,
                          "host function '%s.%s': signature '%s' has more than one result", module,
                          name, sig);
    sr_status st = sr_buf_append_str(b, nr ? c_type(res[0]) : "void", NULL);
    if (st == SR_OK)
        st = sr_buf_append_str(b, " Z_", NULL);
    mangle(b, module, &st);
    if (st == SR_OK)
        st = sr_buf_append_str(b, "Z_", NULL);
    mangle(b, name, &st);
    char tmp[160];
    if (st == SR_OK)
        st = sr_buf_append_str(b, "(void *c", NULL);
    for (size_t i = 0; i < np && st == SR_OK; i++) {
        (void)snprintf(tmp, sizeof(tmp), ", %s a%zu", c_type(sig[i]), i);
        st = sr_buf_append_str(b, tmp, NULL);
    }
    (void)snprintf(tmp, sizeof(tmp), ") {\n  (void)c;\n  uint64_t s[%zu] = {0};\n",
                   (np > nr ? np : nr) + 1);
    if (st == SR_OK)
        st = sr_buf_append_str(b, tmp, NULL);
    for (size_t i = 0; i < np && st == SR_OK; i++) {
        (void)snprintf(tmp, sizeof(tmp), "  s[%zu] = %s(a%zu);\n", i, to_slot(sig[i]), i);
        st = sr_buf_append_str(b, tmp, NULL);
    }
    (void)snprintf(tmp, sizeof(tmp), "  host_call(%uu, s);\n", idx);
    if (st == SR_OK)
        st = sr_buf_append_str(b, tmp, NULL);
    if (nr) {
        const char r = res[0];
        (void)snprintf(tmp, sizeof(tmp), "  return %s;\n",
                       r == 'i'   ? "(uint32_t)s[0]"
                       : r == 'I' ? "s[0]"
                       : r == 'f' ? "bits_f32(s[0])"
                       : r == 'F' ? "bits_f64(s[0])"
                                  : "(void *)(uintptr_t)s[0]");
        if (st == SR_OK)
            st = sr_buf_append_str(b, tmp, NULL);
    }
    if (st == SR_OK)
        st = sr_buf_append_str(b, "}\n", NULL);
    return st == SR_OK ? SR_OK : sr_err_set(err, st, "out of memory writing the native glue");
}

/* The import table the glue names its thunks by: "module\tname\tsig". */
static sr_status
put_table(sr_buf *b, const struct sr_wasi_host_func *funcs, size_t n, sr_err *err)
{
    sr_status st = sr_buf_append_str(b, "const char *const sealrun_native_imports[] = {\n", NULL);
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        st = sr_buf_append_str(b, "  \"", NULL);
        const char *parts[3] = {funcs[i].module, funcs[i].name, funcs[i].sig};
        for (int k = 0; k < 3 && st == SR_OK; k++) {
            for (const char *p = parts[k]; *p && st == SR_OK; p++) {
                if (*p == '"' || *p == '\\' || *p == '\t' || (unsigned char)*p < 0x20)
                    return sr_err_set(err, SR_EINVAL, "host function name '%s.%s' cannot be quoted",
                                      funcs[i].module, funcs[i].name);
                st = sr_buf_append(b, p, 1, NULL);
            }
            if (k < 2 && st == SR_OK)
                st = sr_buf_append_str(b, "\\t", NULL);
        }
        if (st == SR_OK)
            st = sr_buf_append_str(b, "\",\n", NULL);
    }
    char tmp[96];
    (void)snprintf(tmp, sizeof(tmp), "  0};\nconst unsigned sealrun_native_nimports = %zuu;\n", n);
    if (st == SR_OK)
        st = sr_buf_append_str(b, tmp, NULL);
    return st == SR_OK ? SR_OK : sr_err_set(err, st, "out of memory writing the native glue");
}

sr_status
sr_wasm_native_glue(const struct sr_wasi_host_func *extra, size_t nextra,
                    struct sr_wasm_native_glue *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    const size_t nw = sr_wasm__wasi_count();
    struct sr_wasi_host_func *all = calloc(nw + nextra + 1, sizeof(*all));
    if (!all)
        return sr_err_set(err, SR_ENOMEM, "out of memory writing the native glue");
    for (size_t i = 0; i < nw; i++)
        sr_wasm__wasi_entry(i, &all[i]);
    for (size_t i = 0; i < nextra; i++)
        all[nw + i] = extra[i];
    sr_buf b;
    sr_buf_init(&b, 4u << 20);
    char abi[64];
    (void)snprintf(abi, sizeof(abi), "#define SEALRUN_GLUE_ABI %uu\n", GLUE_ABI);
    sr_status st = sr_buf_append_str(&b, abi, err);
    for (size_t i = 0; i < sizeof(glue_runtime) / sizeof(glue_runtime[0]) && st == SR_OK; i++)
        st = sr_buf_append_str(&b, glue_runtime[i], err);
    for (size_t i = 0; i < nw + nextra && st == SR_OK; i++)
        st = put_thunk(&b, (uint32_t)i, all[i].module, all[i].name, all[i].sig, err);
    if (st == SR_OK)
        st = put_table(&b, all, nw + nextra, err);
    free(all);
    if (st != SR_OK) {
        sr_buf_fini(&b);
        return st;
    }
    out->runtime_len = b.len;
    out->runtime = sr_buf_steal(&b);
    if (!out->runtime)
        return sr_err_set(err, SR_ENOMEM, "out of memory writing the native glue");
    out->header = glue_header;
    out->header_len = sizeof(glue_header) - 1;
    out->size = glue_size;
    out->size_len = sizeof(glue_size) - 1;
    return SR_OK;
}

void
sr_wasm_native_glue_fini(struct sr_wasm_native_glue *g)
{
    free(g->runtime);
    memset(g, 0, sizeof(*g));
}

/* ---- loading ------------------------------------------------------------------------------- */

typedef int (*run_fn)(struct glue_host *h);

struct sr_wasm_native {
    void *dl;
    int fd; /* the memfd, open while loaded: dlopen knows objects by path, so no other
               object may get the same /proc/self/fd/N meanwhile */
    run_fn run;
    const char *const *imports;
    uint32_t nimports;
};

sr_status
sr_wasm_native_load(const uint8_t *so, size_t len, sr_wasm_native **out, sr_err *err)
{
    *out = NULL;
    const int fd = memfd_create("sealrun-native", MFD_CLOEXEC);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot load native code: memfd_create: %s",
                          strerror(errno));
    size_t off = 0;
    while (off < len) {
        const ssize_t k = write(fd, so + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            const int e = errno;
            close(fd);
            return sr_err_set(err, SR_EIO, "cannot load native code: writing the memfd: %s",
                              strerror(e));
        }
        off += (size_t)k;
    }
    return sr_wasm_native_load_fd(fd, out, err);
}

sr_status
sr_wasm_native_load_fd(int fd, sr_wasm_native **out, sr_err *err)
{
    *out = NULL;
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        close(fd);
        return sr_err_set(err, SR_EIO, "cannot load native code: %s", why ? why : "dlopen failed");
    }
    sr_wasm_native *n = calloc(1, sizeof(*n));
    if (!n) {
        dlclose(dl);
        close(fd);
        return sr_err_set(err, SR_ENOMEM, "out of memory loading native code");
    }
    n->dl = dl;
    n->fd = fd;
    void *sym = dlsym(dl, "sealrun_native_run");
    memcpy(&n->run, &sym, sizeof(sym)); /* POSIX: a data pointer to a function's address */
    n->imports = (const char *const *)dlsym(dl, "sealrun_native_imports");
    const unsigned *cnt = (const unsigned *)dlsym(dl, "sealrun_native_nimports");
    if (!n->run || !n->imports || !cnt) {
        sr_wasm_native_free(n);
        return sr_err_set(err, SR_EINVAL,
                          "native code lacks sealrun's glue (sealrun_native_run): not made by "
                          "this tier");
    }
    n->nimports = *cnt;
    *out = n;
    return SR_OK;
}

void
sr_wasm_native_free(sr_wasm_native *n)
{
    if (!n)
        return;
    dlclose(n->dl);
    close(n->fd);
    free(n);
}

/* ---- running ------------------------------------------------------------------------------- */

struct run_ctx {
    sr_wasm_instance *shim; /* what host functions see as their caller */
    struct sr_wasm__mem mem;
    const struct sr_wasi_host_func *by_idx[SR_WASM__NATIVE_MAX_IMPORTS];
};

static int
host_call(void *ctx, uint32_t idx, uint64_t *slots, uint8_t *mem, uint64_t mem_size)
{
    struct run_ctx *rc = ctx;
    if (idx >= SR_WASM__NATIVE_MAX_IMPORTS || !rc->by_idx[idx]) {
        (void)sr_wasm_host_trap(rc->shim, "native code called a host function sealrun does not "
                                          "offer here");
        return 1;
    }
    rc->mem.data = mem;
    rc->mem.size = mem_size;
    const struct sr_wasi_host_func *im = rc->by_idx[idx];
    return im->fn(im->ctx, rc->shim, slots) == SR_OK ? 0 : 1;
}

static sr_wasm_trap
glue_trap(uint32_t g)
{
    switch (g) {
    case G_UNREACHABLE:
        return SR_WASM_TRAP_UNREACHABLE;
    case G_MEM_OOB:
        return SR_WASM_TRAP_MEM_OOB;
    case G_TABLE_OOB:
        return SR_WASM_TRAP_TABLE_OOB;
    case G_DIV_ZERO:
        return SR_WASM_TRAP_DIV_ZERO;
    case G_INT_OVERFLOW:
        return SR_WASM_TRAP_INT_OVERFLOW;
    case G_INVALID_CONV:
        return SR_WASM_TRAP_INVALID_CONV;
    case G_CALL_INDIRECT:
        return SR_WASM_TRAP_INDIRECT_TYPE;
    case G_DEPTH:
        return SR_WASM_TRAP_CALL_DEPTH;
    default:
        return SR_WASM_TRAP_HOST;
    }
}

/* Maps the glue's ending to the interpreter's: the trap, its status and
 * wording in err (as set_trap_err in wasm_inst.c words them). */
static sr_status
glue_end(const sr_wasm_module *mod, const struct glue_host *h, struct run_ctx *rc,
         const struct sr_wasm_limits *lim, struct sr_wasm__native_end *end, sr_err *err)
{
    end->has_fuel = h->has_fuel != 0;
    end->fuel_left = h->fuel_left;
    end->fuel_exhausted = h->fuel_exhausted != 0;
    end->limit_hit = h->limit_hit != 0;
    switch (h->trap) {
    case G_NONE:
        return SR_OK;
    case G_NO_START:
        return sr_err_set(err, SR_EINVAL, "module has no '_start' function of type [] -> []");
    case G_NOMEM:
        return sr_err_set(err, SR_ENOMEM, "out of memory running native code");
    case G_NO_HANDLER:
        return sr_err_set(err, SR_EIO,
                          "cannot install the native tier's fault handler (sigaltstack, "
                          "sigaction) in the job process");
    case G_MEM_INIT_LIMIT:
        return sr_err_set(err, SR_ELIMIT,
                          "initial memory of %llu pages exceeds the limit of %u pages",
                          (unsigned long long)h->init_size, lim->max_pages);
    case G_TABLE_INIT_LIMIT:
        return sr_err_set(err, SR_ELIMIT,
                          "initial table of %llu elements exceeds the limit of %u elements",
                          (unsigned long long)h->init_size,
                          lim->max_table ? lim->max_table : SR_WASM_DEFAULT_TABLE);
    case G_HOST:
        end->trap = rc->shim->ex.trap;
        end->exit_code = rc->shim->ex.exit_code;
        if (end->trap == SR_WASM_TRAP_EXIT)
            return sr_err_set(err, SR_ETRAP, "exit with code %u", end->exit_code);
        return sr_err_set(err, SR_ETRAP, "%s",
                          rc->shim->ex.msg[0] ? rc->shim->ex.msg
                                              : sr_wasm_trap_message(SR_WASM_TRAP_HOST));
    default:
        break;
    }
    sr_wasm_trap t = glue_trap(h->trap);
    if (t == SR_WASM_TRAP_UNREACHABLE && h->fuel_exhausted)
        t = SR_WASM_TRAP_FUEL;
    end->trap = t;
    if (t == SR_WASM_TRAP_MEM_OOB && h->has_sp && sr_wasm__stack_exhausted(mod, h->sp, h->mem_size))
        return sr_err_set(err, SR_ETRAP,
                          "%s: the program's stack in linear memory is exhausted (its stack "
                          "pointer, global 0, went below the bottom of the stack): deep "
                          "recursion or large local variables; link it with a larger stack "
                          "(clang -Wl,-z,stack-size=N; rustc -C link-arg=-zstack-size=N) or "
                          "recurse less",
                          sr_wasm_trap_message(t));
    return sr_err_set(err, sr_wasm__trap_status(t), "%s", sr_wasm_trap_message(t));
}

sr_status
sr_wasm__native_run(const sr_wasm_native *n, const sr_wasm_module *mod,
                    const struct sr_wasi_host_func *imports, size_t nimports,
                    const struct sr_wasm_limits *lim, struct sr_wasm__native_end *end, sr_err *err)
{
    memset(end, 0, sizeof(*end));
    struct run_ctx *rc = calloc(1, sizeof(*rc));
    sr_wasm_instance *shim = calloc(1, sizeof(*shim));
    if (!rc || !shim) {
        free(rc);
        free(shim);
        return sr_err_set(err, SR_ENOMEM, "out of memory running native code");
    }
    shim->mod = mod;
    shim->mem = &rc->mem;
    rc->shim = shim;
    /* the glue's thunks by index -> the host functions offered now, by name and signature */
    for (uint32_t i = 0; i < n->nimports && i < SR_WASM__NATIVE_MAX_IMPORTS; i++) {
        const char *e = n->imports[i];
        const char *t1 = e ? strchr(e, '\t') : NULL;
        const char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        for (size_t k = 0; t2 && k < nimports; k++) {
            const struct sr_wasi_host_func *im = &imports[k];
            if (strlen(im->module) == (size_t)(t1 - e) && memcmp(im->module, e, t1 - e) == 0 &&
                strlen(im->name) == (size_t)(t2 - t1 - 1) &&
                memcmp(im->name, t1 + 1, t2 - t1 - 1) == 0 && strcmp(im->sig, t2 + 1) == 0) {
                rc->by_idx[i] = im;
                break;
            }
        }
    }
    /* every import of the module must reach a host function through a thunk of the glue */
    for (uint32_t i = 0; i < mod->nimports; i++) {
        const struct sr_wasm__import *im = &mod->imports[i];
        bool found = false;
        for (uint32_t k = 0; !found && k < n->nimports && k < SR_WASM__NATIVE_MAX_IMPORTS; k++)
            found = rc->by_idx[k] && strcmp(rc->by_idx[k]->module, im->module) == 0 &&
                    strcmp(rc->by_idx[k]->name, im->name) == 0;
        if (!found) {
            free(rc);
            free(shim);
            return sr_err_set(err, SR_EINVAL,
                              "import '%s.%s' has no host function in this native code: "
                              "compiled for another set of host functions",
                              im->module, im->name);
        }
    }
    const uint32_t cap_pages = lim->max_pages ? lim->max_pages : SR_WASM_MAX_PAGES;
    struct glue_host h = {
        .abi = GLUE_ABI,
        /* wasm2c keeps the size in 32 bits: 65535 pages is the most it can hold */
        .max_pages = cap_pages < SR_WASM_MAX_PAGES ? cap_pages : SR_WASM_MAX_PAGES - 1,
        .max_table = lim->max_table ? lim->max_table : SR_WASM_DEFAULT_TABLE,
        .max_depth = lim->max_depth ? lim->max_depth : SR_WASM_DEFAULT_DEPTH,
        .fuel = lim->fuel ? lim->fuel : UINT64_MAX,
        .ctx = rc,
        .call = host_call,
    };
    sr_status st;
    if (n->run(&h) != 0)
        st = sr_err_set(err, SR_EINVAL, "native code was made for another version of sealrun");
    else
        st = glue_end(mod, &h, rc, lim, end, err);
    free(rc);
    free(shim);
    return st;
}
