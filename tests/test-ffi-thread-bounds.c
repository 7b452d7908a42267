/*
 * test-ffi-thread-bounds.c — bounded callbacks: an operations budget and a deadline per
 * callback (or from its SyncFunction), and cryo_ffi_callback_interrupt stopping every running
 * call of a callback from another thread. A stopped call returns the default result and
 * reports the error; the hot path (scalar arguments) is bounded as well as the general one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_ffi.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct errlog {
    atomic_int calls;
    _Atomic cryo_error_kind kind;
} errlog;

static void on_error(void *ud, const cryo_ffi_callback *cb, const cryo_error *err) {
    (void)cb;
    errlog *l = ud;
    atomic_store(&l->kind, err->kind);
    atomic_fetch_add(&l->calls, 1);
}

/* n >= 0: n iterations, returns n; n < 0: endless */
static const char *spin = "|n| { let x = 0; if n < 0 { loop { x += 1; } } "
                          "for i in 0..n { x += 1 } x }";

typedef int (*int_fn)(int);

static void test_callback_operations_budget(void **state) {
    (void)state;
    cryo_sync *s = test_sync(NULL, spin);
    cryo_ffi_callback *cb = cryo_ffi_callback_new(s, NULL, "int (*)(int)", NULL);
    assert_non_null(cb);
    errlog log = {0};
    cryo_ffi_callback_set_error_handler(cb, on_error, &log);
    int def = -7;
    cryo_ffi_callback_set_default(cb, &def, sizeof def);
    int_fn fn = (int_fn)cryo_ffi_callback_ptr(cb);
    cryo_call_bounds b = {.operations = 20000};
    cryo_ffi_callback_set_bounds(cb, &b);
    for (int i = 0; i < 3; i++) /* cold, then the hot path */
        assert_int_equal(fn(100), 100);
    assert_int_equal(fn(-1), -7);
    assert_int_equal(atomic_load(&log.calls), 1);
    assert_int_equal(atomic_load(&log.kind), CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_int_equal(fn(100), 100); /* the next call has its own budget */
    /* cleared: the SyncFunction's default applies */
    cryo_ffi_callback_set_bounds(cb, NULL);
    assert_int_equal(fn(100000), 100000);
    cryo_sync_set_bounds(s, &b);
    assert_int_equal(fn(100000), -7);
    assert_int_equal(atomic_load(&log.calls), 2);
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);
}

static void test_callback_deadline(void **state) {
    (void)state;
    cryo_sync *s = test_sync(NULL, spin);
    cryo_ffi_callback *cb = cryo_ffi_callback_new(s, NULL, "int (*)(int)", NULL);
    errlog log = {0};
    cryo_ffi_callback_set_error_handler(cb, on_error, &log);
    cryo_call_bounds b = {.timeout_ms = 30};
    cryo_ffi_callback_set_bounds(cb, &b);
    int_fn fn = (int_fn)cryo_ffi_callback_ptr(cb);
    assert_int_equal(fn(5), 5);
    double t0 = now_s();
    assert_int_equal(fn(-1), 0);
    assert_true(now_s() - t0 < 3.0);
    assert_int_equal(atomic_load(&log.kind), CRYO_ERR_INTERRUPTED);
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);
}

typedef struct caller {
    int_fn fn;
    int result;
    atomic_int *done;
} caller;

static void *call_thread(void *p) {
    caller *c = p;
    c->fn(5); /* warms this thread's VM: the endless call takes the hot path */
    c->result = c->fn(-1);
    atomic_fetch_add(c->done, 1);
    return NULL;
}

static void stop_all(void (*interrupt)(void *), void *what, atomic_int *done, int n) {
    double t0 = now_s();
    while (atomic_load(done) < n && now_s() - t0 < 10) {
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
        interrupt(what);
    }
}

static void cb_interrupt(void *cb) {
    cryo_ffi_callback_interrupt(cb);
}
static void fn_interrupt(void *f) {
    cryo_sync_interrupt(f);
}

static void run_interrupted(void (*interrupt)(void *), bool by_function) {
    cryo_sync *s = test_sync(NULL, spin);
    cryo_ffi_callback *cb = cryo_ffi_callback_new(s, NULL, "int (*)(int)", NULL);
    errlog log = {0};
    cryo_ffi_callback_set_error_handler(cb, on_error, &log);
    int def = 99;
    cryo_ffi_callback_set_default(cb, &def, sizeof def);
    enum { N = 3 };
    pthread_t t[N];
    caller c[N];
    atomic_int done = 0;
    for (int i = 0; i < N; i++) {
        c[i] = (caller){(int_fn)cryo_ffi_callback_ptr(cb), 0, &done};
        assert_int_equal(pthread_create(&t[i], NULL, call_thread, &c[i]), 0);
    }
    stop_all(interrupt, by_function ? (void *)s : (void *)cb, &done, N);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].result, 99);
    }
    assert_int_equal(atomic_load(&log.calls), N);
    assert_int_equal(atomic_load(&log.kind), CRYO_ERR_INTERRUPTED);
    /* later calls are not affected */
    assert_int_equal(((int_fn)cryo_ffi_callback_ptr(cb))(4), 4);
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);
}

static void test_callback_interrupt_stops_calls_on_every_thread(void **state) {
    (void)state;
    run_interrupted(cb_interrupt, false);
}

static void test_sync_interrupt_stops_its_callbacks(void **state) {
    (void)state;
    run_interrupted(fn_interrupt, true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callback_operations_budget),
        cmocka_unit_test(test_callback_deadline),
        cmocka_unit_test(test_callback_interrupt_stops_calls_on_every_thread),
        cmocka_unit_test(test_sync_interrupt_stops_its_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
