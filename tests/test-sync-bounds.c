/*
 * test-sync-bounds.c — bounded SyncFunction calls: an operations budget and a deadline per
 * call or as the function's default, and cryo_sync_interrupt stopping every running call of a
 * function from another thread (and no call started afterwards).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryo.h"

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

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The SyncFunction the script `src` evaluates to. */
static cryo_sync *make_sync(const char *src) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value v;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_OK);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, v, &f), CRYO_OK);
    cryo_value_release(v);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return f;
}

static cryo_error_kind call1(cryo_sync *f, const cryo_call_bounds *b, int64_t arg, int64_t *out,
                             char **msg) {
    cryo_const a = cryo_const_int(arg), r;
    cryo_error *err = NULL;
    cryo_error_kind k = cryo_sync_call_bounded(f, b, 1, &a, &r, &err);
    if (out) *out = r.v.as.i;
    if (msg) *msg = err ? strdup(err->message) : NULL;
    cryo_error_free(err);
    cryo_const_release(r);
    return k;
}

static const char *spin = "|n| { let x = 0; if n < 0 { loop { x += 1; } } "
                          "for i in 0..n { x += 1 } x }";

static void test_sync_call_operations_budget(void **state) {
    (void)state;
    cryo_sync *f = make_sync(spin);
    int64_t r;
    char *msg;
    cryo_call_bounds b = {.operations = 10000};
    assert_int_equal(call1(f, &b, 100, &r, NULL), CRYO_OK);
    assert_int_equal(r, 100);
    assert_int_equal(call1(f, &b, -1, NULL, &msg), CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_non_null(strstr(msg, "budget 10000"));
    free(msg);
    /* each call has the whole budget: it is not used up by the calls before */
    for (int i = 0; i < 20; i++)
        assert_int_equal(call1(f, &b, 500, NULL, NULL), CRYO_OK);
    /* the function's default, and a call overriding it with "none" */
    cryo_sync_set_bounds(f, &b);
    cryo_call_bounds got;
    cryo_sync_get_bounds(f, &got);
    assert_int_equal(got.operations, 10000);
    assert_int_equal(call1(f, NULL, 100000, NULL, NULL), CRYO_ERR_TOO_MANY_OPERATIONS);
    cryo_call_bounds none = {.operations = UINT64_MAX};
    assert_int_equal(call1(f, &none, 100000, &r, NULL), CRYO_OK);
    assert_int_equal(r, 100000);
    cryo_sync_set_bounds(f, NULL);
    assert_int_equal(call1(f, NULL, 100000, NULL, NULL), CRYO_OK);
    cryo_sync_release(f);
}

static void test_sync_call_deadline(void **state) {
    (void)state;
    cryo_sync *f = make_sync(spin);
    char *msg;
    cryo_call_bounds b = {.timeout_ms = 50};
    double t0 = now_s();
    assert_int_equal(call1(f, &b, -1, NULL, &msg), CRYO_ERR_INTERRUPTED);
    double dt = now_s() - t0;
    assert_non_null(strstr(msg, "timed out (50 ms)"));
    free(msg);
    assert_true(dt >= 0.045 && dt < 3.0);
    /* a short call within the deadline is untouched */
    int64_t r;
    assert_int_equal(call1(f, &b, 10, &r, NULL), CRYO_OK);
    assert_int_equal(r, 10);
    /* as the function's default */
    cryo_sync_set_bounds(f, &b);
    assert_int_equal(call1(f, NULL, -1, NULL, NULL), CRYO_ERR_INTERRUPTED);
    cryo_sync_release(f);
}

typedef struct caller {
    cryo_sync *f;
    int64_t arg;
    cryo_error_kind kind;
    atomic_int *done;
} caller;

static void *call_thread(void *p) {
    caller *c = p;
    c->kind = call1(c->f, NULL, c->arg, NULL, NULL);
    atomic_fetch_add(c->done, 1);
    return NULL;
}

static void test_interrupt_stops_running_calls_on_every_thread(void **state) {
    (void)state;
    cryo_sync *f = make_sync(spin);
    enum { N = 4 };
    pthread_t t[N];
    caller c[N];
    atomic_int done = 0;
    for (int i = 0; i < N; i++) {
        c[i] = (caller){f, -1, CRYO_OK, &done};
        assert_int_equal(pthread_create(&t[i], NULL, call_thread, &c[i]), 0);
    }
    /* a call that starts after an interrupt is not affected by it, so interrupt until every
     * thread's endless call has ended */
    double t0 = now_s();
    while (atomic_load(&done) < N && now_s() - t0 < 10) {
        sleep_ms(5);
        cryo_sync_interrupt(f);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].kind, CRYO_ERR_INTERRUPTED);
    }
    /* calls after the interrupt run normally */
    int64_t r;
    assert_int_equal(call1(f, NULL, 7, &r, NULL), CRYO_OK);
    assert_int_equal(r, 7);
    cryo_sync_release(f);
}

static void test_interrupt_reaches_a_call_waiting_in_join(void **state) {
    (void)state;
    cryo_sync *f = make_sync("|n| spawn(|| loop {}).join()");
    atomic_int done = 0;
    caller c = {f, 0, CRYO_OK, &done};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
    double t0 = now_s();
    while (atomic_load(&done) < 1 && now_s() - t0 < 10) {
        sleep_ms(5);
        cryo_sync_interrupt(f);
    }
    pthread_join(t, NULL);
    assert_int_equal(c.kind, CRYO_ERR_INTERRUPTED);
    cryo_sync_release(f);
}

static void test_interrupt_of_another_function_leaves_calls_alone(void **state) {
    (void)state;
    cryo_sync *f = make_sync(spin), *g = make_sync(spin);
    atomic_int done = 0;
    caller c = {f, 3000000, CRYO_OK, &done};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
    while (atomic_load(&done) < 1) {
        cryo_sync_interrupt(g);
        sleep_ms(1);
    }
    pthread_join(t, NULL);
    assert_int_equal(c.kind, CRYO_OK);
    cryo_sync_release(f);
    cryo_sync_release(g);
}

/* Setting bounds marks the function's control in the same word as its interrupt epoch
 * (govern.h): a call running meanwhile must not take that for an interrupt, and an interrupt
 * after bounds were set and cleared must still stop a call. */
static void test_setting_bounds_is_no_interrupt(void **state) {
    (void)state;
    cryo_sync *f = make_sync(spin);
    atomic_int done = 0;
    caller c = {f, 20000000, CRYO_ERR_RUNTIME, &done};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
    cryo_call_bounds none = {.operations = UINT64_MAX, .timeout_ms = UINT64_MAX};
    sleep_ms(20); /* the call has started: the first bound set changes the word under it */
    while (atomic_load(&done) < 1) {
        cryo_sync_set_bounds(f, &none);
        cryo_sync_set_bounds(f, NULL);
        sleep_ms(1);
    }
    pthread_join(t, NULL);
    assert_int_equal(c.kind, CRYO_OK);
    /* the bounds are cleared: a long call runs to its end; an interrupt still stops one */
    int64_t r;
    assert_int_equal(call1(f, NULL, 100000, &r, NULL), CRYO_OK);
    assert_int_equal(r, 100000);
    caller d = {f, -1, CRYO_OK, &done};
    assert_int_equal(pthread_create(&t, NULL, call_thread, &d), 0);
    while (atomic_load(&done) < 2) {
        cryo_sync_interrupt(f);
        sleep_ms(1);
    }
    pthread_join(t, NULL);
    assert_int_equal(d.kind, CRYO_ERR_INTERRUPTED);
    cryo_sync_release(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_call_operations_budget),
        cmocka_unit_test(test_sync_call_deadline),
        cmocka_unit_test(test_interrupt_stops_running_calls_on_every_thread),
        cmocka_unit_test(test_interrupt_reaches_a_call_waiting_in_join),
        cmocka_unit_test(test_interrupt_of_another_function_leaves_calls_alone),
        cmocka_unit_test(test_setting_bounds_is_no_interrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
