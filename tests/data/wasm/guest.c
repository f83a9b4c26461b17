/*
 * guest.c - a WASI test program for sealrun's engine, built at build time
 * with clang --target=wasm32-wasi (tests/data/wasm/CMakeLists.txt).
 * argv[1] picks the behaviour; tests/unit/wasm_wasi_test.c checks each one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
echo(void)
{
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
        fwrite(buf, 1, n, stdout);
    fprintf(stderr, "echo done\n");
    return 0;
}

static int
args(int argc, char **argv)
{
    printf("argc=%d", argc);
    for (int i = 0; i < argc; i++)
        printf(" [%s]", argv[i]);
    const char *g = getenv("GREETING");
    printf(" GREETING=%s\n", g ? g : "(unset)");
    return 0;
}

/* Allocates 1 MiB blocks until malloc fails; prints how many it got. */
static int
grow(void)
{
    static void *volatile sink; /* keeps clang from eliding the allocations */
    int n = 0;
    while ((sink = malloc(1 << 20)) != NULL) {
        memset(sink, 1, 1 << 20);
        n++;
    }
    printf("%d\n", n);
    return 0;
}

/* Real recursion (optnone: clang -O2 would turn it into a loop); each level is one
 * wasm call, so the engine's call depth limit stops it. */
static int __attribute__((optnone)) depth(int n)
{
    if (n == 0)
        return 0;
    return 1 + depth(n - 1);
}

/* Recursion whose frames (4 KiB of locals each) exhaust the 1 MiB stack in
 * linear memory long before the engine's call depth: the stack pointer runs
 * over the data below the stack, wraps below 0 and the next access traps. */
static int __attribute__((optnone)) stack(int n)
{
    volatile char frame[4096];
    frame[0] = (char)n;
    frame[sizeof(frame) - 1] = (char)n;
    return n == 0 ? 0 : stack(n - 1) + frame[0] - frame[sizeof(frame) - 1] + 1;
}

static int
spin(void)
{
    volatile unsigned x = 0;
    for (;;)
        x++;
}

static int
random_hex(void)
{
    unsigned char b[16];
    if (getentropy(b, sizeof(b)) != 0)
        return 2;
    for (size_t i = 0; i < sizeof(b); i++)
        printf("%02x", b[i]);
    printf("\n");
    return 0;
}

static int
clock_ok(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%d\n", a.tv_sec > 0 && (b.tv_sec > 0 || b.tv_nsec > 0));
    return 0;
}

static int
big_output(void)
{
    static char line[1024];
    memset(line, 'x', sizeof(line) - 1);
    for (int i = 0; i < 4096; i++)
        puts(line);
    return 0;
}

/* stderr lines: 'count' of them, 'len' bytes each (the log caps). */
static int
log_lines(int count, int len)
{
    static char line[16384];
    if (len < 1 || len >= (int)sizeof(line))
        return 65;
    for (int i = 0; i < count; i++) {
        int n = snprintf(line, sizeof(line), "line %d ", i);
        memset(line + n, 'y', (size_t)(len > n ? len - n : 0));
        line[len > n ? len : n] = '\0';
        fprintf(stderr, "%s\n", line);
    }
    puts("{}");
    return 0;
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "echo";
    volatile int zero = 0;
    if (strcmp(mode, "echo") == 0)
        return echo();
    if (strcmp(mode, "args") == 0)
        return args(argc, argv);
    if (strcmp(mode, "exit") == 0)
        exit(argc > 2 ? (int)strtol(argv[2], NULL, 10) : 0);
    if (strcmp(mode, "grow") == 0)
        return grow();
    if (strcmp(mode, "depth") == 0) {
        printf("%d\n", depth(argc > 2 ? (int)strtol(argv[2], NULL, 10) : 10));
        return 0;
    }
    if (strcmp(mode, "spin") == 0)
        return spin();
    if (strcmp(mode, "stack") == 0) {
        printf("%d\n", stack(argc > 2 ? (int)strtol(argv[2], NULL, 10) : 100000));
        return 0;
    }
    if (strcmp(mode, "random") == 0)
        return random_hex();
    if (strcmp(mode, "clock") == 0)
        return clock_ok();
    if (strcmp(mode, "bigout") == 0)
        return big_output();
    if (strcmp(mode, "logs") == 0 && argc > 3)
        return log_lines((int)strtol(argv[2], NULL, 10), (int)strtol(argv[3], NULL, 10));
    if (strcmp(mode, "trap") == 0)
        __builtin_trap();
    if (strcmp(mode, "div0") == 0)
        return 10 / zero;
    if (strcmp(mode, "oob") == 0)
        return *(volatile int *)(uintptr_t)0xfffffff0u;
    fprintf(stderr, "unknown mode '%s'\n", mode);
    return 64;
}
