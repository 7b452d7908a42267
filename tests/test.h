/*
 * test.h — the helpers cryo's tests share: compile a script, run it in a context (with one
 * limit), read a value as text, compare a script's outcome with what is expected (EXPECT*),
 * freeze a script's function (test_sync), read malloc's statistics (test_heap_*), and a custom
 * worker whose handler holds queries at a gate (test_gate_*) for futures and queues.
 *
 * Public API only (cryo.h): a test that also reads internals includes their headers itself.
 * Header-only (static functions): each test is one executable, with one copy. Include it
 * instead of cmocka.h (it includes cmocka with the headers cmocka needs before it).
 *
 * A failing expectation names the test's own line (the macros pass __FILE__ and __LINE__), the
 * script, what it gave and what was wanted.
 */
#ifndef CRYO_TEST_H
#define CRYO_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cryo.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* No limit for test_run's `limit` argument. */
#define TEST_NO_LIMIT (-1)

/* Compiles `src` with `opts` (may be NULL); a compile error fails the test at the caller's
 * line, with the error as the CLI shows it. The unit is owned by the caller
 * (cryo_unit_release). */
static inline cryo_unit *test_compile_at(const char *file, int line, const char *src,
                                         const cryo_compile_options *opts) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), opts, &err);
    if (!u) {
        char *t = cryo_error_format(err, src, strlen(src));
        print_error("compile failed: %s\n", t ? t : "(no error)");
        free(t);
        cryo_error_free(err);
        _fail(file, line);
    }
    return u;
}
#define test_compile(src)            test_compile_at(__FILE__, __LINE__, (src), NULL)
#define test_compile_opts(src, opts) test_compile_at(__FILE__, __LINE__, (src), (opts))

/* The debug text of a value (as debug() shows it: strings quoted), owned by the caller
 * (free()). Never NULL: "(out of memory)" when the text cannot be made. */
static inline char *test_text(cryo_value v) {
    char *s = cryo_value_to_cstring(v, true);
    return s ? s : strdup("(out of memory)");
}

/* Runs `src` in a new VM of `ctx` (NULL = the standard context) with the limit `limit` set to
 * `value` first (TEST_NO_LIMIT: the context's defaults). Returns the kind; `out` (n bytes) gets
 * the debug text of the result on success, else the error's message. A compile error is
 * returned as its kind with the message "compile: ..." (some tests expect parse errors). */
static inline cryo_error_kind test_run(cryo_context *ctx, const char *src, int limit,
                                       uint64_t value, char *out, size_t n) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    if (!u) {
        cryo_error_kind k = err ? err->kind : CRYO_ERR_MEMORY;
        snprintf(out, n, "compile: %s", err ? err->message : "out of memory");
        cryo_error_free(err);
        return k;
    }
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u); /* the VM holds its own reference */
    if (!vm) {
        snprintf(out, n, "cryo_vm_new failed");
        return CRYO_ERR_MEMORY;
    }
    if (limit >= 0) cryo_vm_set_limit(vm, (cryo_limit)limit, value);
    cryo_value r = cryo_unit_value();
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k == CRYO_OK) {
        char *s = test_text(r);
        snprintf(out, n, "%s", s);
        free(s);
        cryo_value_release(r);
    } else {
        const cryo_error *e = cryo_vm_error(vm);
        snprintf(out, n, "%s", e && e->message ? e->message : "(no error message)");
    }
    cryo_vm_free(vm);
    return k;
}

/* The script must succeed and its result's debug text must be `want`. */
static inline void test_expect_at(const char *file, int line, cryo_context *ctx, const char *src,
                                  const char *want) {
    char out[4096];
    cryo_error_kind k = test_run(ctx, src, TEST_NO_LIMIT, 0, out, sizeof out);
    if (k != CRYO_OK) {
        print_error("script: %s\nfailed with %s: %s\nwanted: %s\n", src, cryo_error_kind_name(k),
                    out, want);
        _fail(file, line);
    }
    if (strcmp(out, want) != 0) {
        print_error("script: %s\ngave:   %s\nwanted: %s\n", src, out, want);
        _fail(file, line);
    }
}

/* The script (with `limit` set to `value`, or TEST_NO_LIMIT) must fail with `kind` and a
 * message containing `part`. */
static inline void test_expect_err_at(const char *file, int line, cryo_context *ctx,
                                      const char *src, int limit, uint64_t value,
                                      cryo_error_kind kind, const char *part) {
    char out[4096];
    cryo_error_kind k = test_run(ctx, src, limit, value, out, sizeof out);
    if (k != kind) {
        print_error("script: %s\nended with %s (%s)\nwanted:    %s containing '%s'\n", src,
                    k == CRYO_OK ? "success" : cryo_error_kind_name(k), out,
                    cryo_error_kind_name(kind), part);
        _fail(file, line);
    }
    if (!strstr(out, part)) {
        print_error("script: %s\nmessage: %s\nlacks:   %s\n", src, out, part);
        _fail(file, line);
    }
}

#define EXPECT(src, want)         test_expect_at(__FILE__, __LINE__, NULL, (src), (want))
#define EXPECT_IN(ctx, src, want) test_expect_at(__FILE__, __LINE__, (ctx), (src), (want))
#define EXPECT_ERR(src, kind, part)                                                                \
    test_expect_err_at(__FILE__, __LINE__, NULL, (src), TEST_NO_LIMIT, 0, (kind), (part))
#define EXPECT_ERR_IN(ctx, src, kind, part)                                                        \
    test_expect_err_at(__FILE__, __LINE__, (ctx), (src), TEST_NO_LIMIT, 0, (kind), (part))
#define EXPECT_ERR_LIMIT(ctx, src, limit, value, kind, part)                                       \
    test_expect_err_at(__FILE__, __LINE__, (ctx), (src), (limit), (value), (kind), (part))

/* Runs `src` (whose value must be a function) in a new VM of `ctx` and freezes that function:
 * returns a SyncFunction owned by the caller (cryo_sync_release). Any failure fails the test at
 * the caller's line. */
static inline cryo_sync *test_sync_at(const char *file, int line, cryo_context *ctx,
                                      const char *src) {
    cryo_unit *u = test_compile_at(file, line, src, NULL);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value fn = cryo_unit_value();
    cryo_sync *f = NULL;
    cryo_error_kind k = vm ? cryo_vm_run(vm, NULL, 0, &fn) : CRYO_ERR_MEMORY;
    if (k == CRYO_OK) k = cryo_vm_into_sync(vm, fn, &f);
    if (k != CRYO_OK) {
        const cryo_error *e = vm ? cryo_vm_error(vm) : NULL;
        print_error("script: %s\ngave no SyncFunction: %s\n", src, e ? e->message : "?");
        cryo_value_release(fn);
        cryo_vm_free(vm);
        _fail(file, line);
    }
    cryo_value_release(fn);
    cryo_vm_free(vm); /* the SyncFunction holds its own unit and context references */
    return f;
}
#define test_sync(ctx, src) test_sync_at(__FILE__, __LINE__, (ctx), (src))

/* --- malloc statistics ----------------------------------------------------------------------
 * The bytes malloc holds (glibc's mallinfo2), for tests that check what an operation allocates
 * or frees. glibc keeps small freed blocks in a per-thread cache (tcache) that these statistics
 * count as in use, and sanitizers and valgrind bring their own allocator: test_heap_counted()
 * says whether a malloc and a free of `size` bytes both show, and tests skip their byte checks
 * when not. ctest runs such tests with GLIBC_TUNABLES=glibc.malloc.tcache_count=0 (CMakeLists). */
static inline size_t test_heap_in_use(void) {
    return mallinfo2().uordblks;
}
static inline bool test_heap_counted(size_t size) {
    size_t b0 = test_heap_in_use();
    void *volatile probe = malloc(size); /* volatile: the compiler may not drop the pair */
    size_t b1 = test_heap_in_use();
    free(probe);
    size_t b2 = test_heap_in_use();
    bool counted = probe && b1 >= b0 + size && b1 >= b2 + size;
    if (!counted)
        print_message("malloc statistics do not show a %zu-byte block (sanitizer, valgrind or "
                      "tcache): byte checks skipped\n",
                      size);
    return counted;
}

/* --- a gated custom worker (futures, queues) ------------------------------------------------
 * A custom worker whose handler holds each MESSAGE at a gate: it records the message (ints, in
 * arrival order), then waits until the test opens the gate or the job is cancelled (then it
 * returns CRYO_ERR_INTERRUPTED). Past the gate it answers the message itself, or fails with
 * CRYO_ERR_ARGUMENT (no error of its own: the worker makes the message up) for the string
 * "fail". So a test can hold a query RUNNING and others PENDING behind it, deterministically. */
typedef struct test_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a message enters */
    bool open;
    int entered;       /* messages that reached the handler */
    int64_t seen[256]; /* the int messages, in arrival order */
    int nseen;
} test_gate;

static inline void test_gate_init(test_gate *g) {
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}
static inline void test_gate_destroy(test_gate *g) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}
static inline void test_gate_open(test_gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_mutex_unlock(&g->mu);
}
/* Blocks until `n` messages have entered the handler. */
static inline void test_gate_wait_entered(test_gate *g, int n) {
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}
static inline void test_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline cryo_error_kind test_gate_handler(void *state, cryo_job *job, cryo_const msg,
                                                cryo_const *result, cryo_error **err) {
    (void)err;
    test_gate *g = state;
    pthread_mutex_lock(&g->mu);
    g->entered++;
    if (cryo_const_type(msg) == CRYO_T_INT && g->nseen < 256) g->seen[g->nseen++] = msg.v.as.i;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_mutex_unlock(&g->mu);
        if (cryo_job_cancelled(job)) return CRYO_ERR_INTERRUPTED;
        test_sleep_ms(1);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    size_t len = 0;
    const char *s = cryo_value_str(msg.v, &len);
    if (s && len == 4 && memcmp(s, "fail", 4) == 0) return CRYO_ERR_ARGUMENT;
    *result = cryo_const_retain(msg);
    return CRYO_OK;
}
static inline void *test_gate_init_state(void *userdata) {
    return userdata;
}

/* A gated worker with a queue of `capacity` (fail_when_full as given); NULL fails the test. */
static inline cryo_worker *test_gate_worker_at(const char *file, int line, test_gate *g,
                                               size_t capacity, bool fail_when_full) {
    cryo_worker_config cfg = {.queue_capacity = capacity,
                              .fail_when_full = fail_when_full,
                              .handler = test_gate_handler,
                              .init = test_gate_init_state,
                              .userdata = g};
    cryo_worker *w = cryo_worker_new_custom(&cfg);
    if (!w) {
        print_error("cryo_worker_new_custom failed\n");
        _fail(file, line);
    }
    return w;
}
#define test_gate_worker(g, capacity, fail_when_full)                                              \
    test_gate_worker_at(__FILE__, __LINE__, (g), (capacity), (fail_when_full))

#endif
