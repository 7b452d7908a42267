/*
 * test-threads.c — one Unit, one Context and one Package shared by VMs on several threads at
 * once (fresh VMs and pooled ones), per-thread pools freed at thread exit, and an interrupt
 * from another thread stopping an endless loop. Run it under ThreadSanitizer too
 * (-DCMAKE_C_FLAGS=-fsanitize=thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cryo.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTHREADS 8
#define NITER    200

static const char SCRIPT[] = "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }\n"
                             "fn work(seed) {\n"
                             "  let a = [];\n"
                             "  for i in 0..20 { a.push(hmul(seed, i)); }\n"
                             "  let m = #{};\n"
                             "  m[`k${seed}`] = a.reduce(|s, x| s + x, 0);\n"
                             "  m[`k${seed}`] + fib(10) + `${seed}`.len()\n"
                             "}\n"
                             "work(1)\n";

/* The expected value of work(seed). */
static int64_t expect_work(int64_t seed) {
    int64_t s = 0;
    for (int i = 0; i < 20; i++)
        s += seed * i;
    char buf[32];
    return s + 55 + (int64_t)snprintf(buf, sizeof buf, "%lld", (long long)seed);
}

static atomic_long host_calls;

static cryo_error_kind h_mul(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)vm, (void)ud, (void)argc;
    atomic_fetch_add_explicit(&host_calls, 1, memory_order_relaxed);
    *ret = cryo_int(argv[0]->as.i * argv[1]->as.i);
    return CRYO_OK;
}

typedef struct shared {
    cryo_unit *unit;
    cryo_context *ctx;
    int id;
    int failures;
    bool pooled;
} shared;

static void *worker(void *arg) {
    shared *s = arg;
    for (int i = 0; i < NITER; i++) {
        cryo_vm *vm =
            s->pooled ? cryo_vm_pool_acquire(s->unit, s->ctx) : cryo_vm_new(s->unit, s->ctx);
        if (!vm) {
            s->failures++;
            continue;
        }
        int64_t seed = s->id * 1000 + i;
        cryo_value arg = cryo_int(seed), r;
        if (cryo_vm_call(vm, "work", 1, &arg, &r) != CRYO_OK || r.type != CRYO_T_INT ||
            r.as.i != expect_work(seed))
            s->failures++;
        if (i % 10 == 0) {
            if (cryo_vm_run(vm, NULL, 0, &r) != CRYO_OK || r.as.i != expect_work(1)) s->failures++;
        }
        if (s->pooled)
            cryo_vm_pool_release(vm);
        else
            cryo_vm_free(vm);
    }
    /* Pooled VMs left in this thread's pool are freed when the thread exits. */
    return NULL;
}

static cryo_context *make_context(void) {
    cryo_package *p = cryo_package_new("mul");
    assert_int_equal(cryo_package_add(p, "hmul", 2, h_mul, NULL), CRYO_OK);
    assert_int_equal(cryo_package_include(p, cryo_package_std()), CRYO_OK);
    cryo_package_seal(p);
    cryo_context_config cfg = {.packages = &p, .npackages = 1};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(p);
    return ctx;
}

static void run_threads(bool pooled) {
    cryo_error *err = NULL;
    /* A fresh unit each time: the threads race to bind it to the context. */
    cryo_unit *u = cryo_compile(SCRIPT, strlen(SCRIPT), NULL, &err);
    assert_non_null(u);
    cryo_context *ctx = make_context();
    atomic_store(&host_calls, 0);
    pthread_t th[NTHREADS];
    shared s[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        s[t] = (shared){u, ctx, t + 1, 0, pooled};
        assert_int_equal(pthread_create(&th[t], NULL, worker, &s[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(s[t].failures, 0);
    }
    assert_int_equal(atomic_load(&host_calls), (long)NTHREADS * NITER * 20 + NTHREADS * 20 * 20);
    /* The VMs (and the pools, freed at thread exit) dropped their references. */
    cryo_context_release(ctx);
    cryo_unit_release(u);
}

static void test_shared_unit_fresh_vms(void **state) {
    (void)state;
    run_threads(false);
}

static void test_shared_unit_pooled_vms(void **state) {
    (void)state;
    run_threads(true);
}

/* --- interrupt from another thread ------------------------------------------------------------ */

typedef struct looper {
    cryo_vm *vm;
    atomic_int started;
    atomic_int done, ack;
    cryo_error_kind kind;
} looper;

static bool mark_started(void *ud, uint64_t ops) {
    (void)ops;
    atomic_store(&((looper *)ud)->started, 1);
    return true;
}

static void *run_loop(void *arg) {
    looper *l = arg;
    l->kind = cryo_vm_run(l->vm, NULL, 0, NULL);
    return NULL;
}

static void test_interrupt(void **state) {
    (void)state;
    const char *src = "let x = 0; loop { x += 1; }";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    for (int round = 0; round < 3; round++) {
        looper l = {.vm = cryo_vm_new(u, NULL), .kind = CRYO_OK};
        atomic_init(&l.started, 0);
        cryo_vm_set_progress(l.vm, mark_started, &l, 100000);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, run_loop, &l), 0);
        while (!atomic_load(&l.started)) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        cryo_vm_interrupt(l.vm);
        pthread_join(th, NULL);
        assert_int_equal(l.kind, CRYO_ERR_INTERRUPTED);
        assert_int_equal(cryo_vm_error(l.vm)->kind, CRYO_ERR_INTERRUPTED);
        /* The flag is cleared by the next run. */
        cryo_vm_set_limit(l.vm, CRYO_LIMIT_OPERATIONS, 1000);
        assert_int_equal(cryo_vm_run(l.vm, NULL, 0, NULL), CRYO_ERR_TOO_MANY_OPERATIONS);
        cryo_vm_free(l.vm);
    }
    cryo_unit_release(u);
}

/* Interrupting a pooled VM running on a worker, with no progress callback (the flag alone). */
static void *run_loop_pooled(void *arg) {
    looper *l = arg;
    cryo_unit *u = cryo_compile("loop {}", 7, NULL, NULL);
    cryo_vm *vm = cryo_vm_pool_acquire(u, NULL);
    cryo_unit_release(u);
    __atomic_store_n(&l->vm, vm, __ATOMIC_RELEASE);
    atomic_store(&l->started, 1);
    l->kind = cryo_vm_run(vm, NULL, 0, NULL);
    atomic_store(&l->done, 1);
    while (!atomic_load(&l->ack)) /* the main thread no longer touches the VM */
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    cryo_vm_pool_release(vm);
    return NULL;
}

static void test_interrupt_pooled(void **state) {
    (void)state;
    looper l = {.vm = NULL, .kind = CRYO_OK};
    atomic_init(&l.started, 0);
    atomic_init(&l.done, 0);
    atomic_init(&l.ack, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_loop_pooled, &l), 0);
    while (!atomic_load(&l.started)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    /* The run may not have started yet (a run clears the flag): keep asking until it ends. */
    while (!atomic_load(&l.done)) {
        cryo_vm_interrupt(__atomic_load_n(&l.vm, __ATOMIC_ACQUIRE));
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&l.ack, 1);
    pthread_join(th, NULL);
    assert_int_equal(l.kind, CRYO_ERR_INTERRUPTED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_unit_fresh_vms),
        cmocka_unit_test(test_shared_unit_pooled_vms),
        cmocka_unit_test(test_interrupt),
        cmocka_unit_test(test_interrupt_pooled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
