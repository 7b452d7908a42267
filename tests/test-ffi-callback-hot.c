/*
 * test-ffi-callback-hot.c — the hot path of FFI callbacks (a thread's cached VM calling the
 * same SyncFunction again with its arguments written straight into the first frame's
 * registers): results across many calls, errors in the middle of a run (default value, error
 * handler, the next calls unaffected), a caught throw (the VM's caught state is reset before
 * the next call), the operation limit per call, two callbacks alternating on one thread, a
 * general-path callback (string argument), interleaved callbacks, the hot path on threads,
 * every kind of hot-path argument, and a thread whose cached callback is freed and replaced
 * (by one that may live at the same address), and a callback whose script pins a new
 * SyncFunction on every call (the thread's cached VM must not keep them all).
 */
/* ctest-labels: threads */
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_ffi.h"
#include "vm.h" /* vm->npins */

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*cmp2)(const int *, const int *);
typedef int64_t (*i64f)(int64_t);

static int nhandled;
static char last_msg[256];
static void on_error(void *ud, const cryo_ffi_callback *cb, const cryo_error *e) {
    (void)ud;
    (void)cb;
    nhandled++;
    snprintf(last_msg, sizeof last_msg, "%s", e && e->message ? e->message : "");
}

static void test_many_calls(void **state) {
    (void)state;
    cryo_ffi_callback *cb =
        test_cb_of(NULL, "|a, b| a[0] - b[0]", "int (*)(const int *, const int *)", 0);
    cmp2 f = (cmp2)cryo_ffi_callback_ptr(cb);
    for (int i = -500; i < 500; i++) {
        int x = i * 7, y = 3 - i;
        assert_int_equal(f(&x, &y), x - y);
    }
    int v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = (i * 7919) % 1009 - 500;
    qsort(v, 1000, sizeof *v, (int (*)(const void *, const void *))f);
    for (int i = 1; i < 1000; i++)
        assert_true(v[i - 1] <= v[i]);
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
}

static void test_errors_between_calls(void **state) {
    (void)state;
    cryo_ffi_callback *cb =
        test_cb_of(NULL,
                   "|x| { if x == 3 { throw \"three\" } if x == 4 { let a = [1]; "
                   "a[5] } else { x * 10 } }",
                   "int64_t (*)(int64_t)", 0);
    int64_t def = -1;
    assert_int_equal(cryo_ffi_callback_set_default(cb, &def, sizeof def), CRYO_OK);
    cryo_ffi_callback_set_error_handler(cb, on_error, NULL);
    i64f f = (i64f)cryo_ffi_callback_ptr(cb);
    nhandled = 0;
    for (int round = 0; round < 3; round++) {
        for (int64_t x = 0; x < 8; x++) {
            int64_t r = f(x);
            if (x == 3 || x == 4)
                assert_int_equal(r, -1);
            else
                assert_int_equal(r, x * 10);
        }
    }
    assert_int_equal(nhandled, 6);
    assert_int_equal(cryo_ffi_callback_errors(cb), 6);
    cryo_ffi_callback_free(cb);
}

static void test_caught_throw_then_calls(void **state) {
    (void)state;
    cryo_ffi_callback *cb = test_cb_of(NULL,
                                       "|x| { let r = 0; try { if x % 2 == 0 { throw x } r = x; } "
                                       "catch (e) { r = e + 1000 } r }",
                                       "int64_t (*)(int64_t)", 0);
    i64f f = (i64f)cryo_ffi_callback_ptr(cb);
    for (int64_t x = 0; x < 200; x++)
        assert_int_equal(f(x), x % 2 == 0 ? x + 1000 : x);
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
}

static void test_alternating_and_general(void **state) {
    (void)state;
    cryo_ffi_callback *a = test_cb_of(NULL, "|x| x + 1", "int64_t (*)(int64_t)", 0);
    cryo_ffi_callback *b = test_cb_of(NULL, "|x| x * 2", "int64_t (*)(int64_t)", 0);
    cryo_ffi_callback *s = test_cb_of(NULL, "|t| t.len()", "int64_t (*)(const char *)", 0);
    i64f fa = (i64f)cryo_ffi_callback_ptr(a), fb = (i64f)cryo_ffi_callback_ptr(b);
    int64_t (*fs)(const char *) = (int64_t(*)(const char *))cryo_ffi_callback_ptr(s);
    for (int64_t i = 0; i < 300; i++) {
        assert_int_equal(fa(i), i + 1);
        assert_int_equal(fa(i), i + 1);
        assert_int_equal(fb(i), i * 2);
        assert_int_equal(fs("hello"), 5);
    }
    cryo_ffi_callback_free(a);
    cryo_ffi_callback_free(b);
    cryo_ffi_callback_free(s);
}

/* Calls of one callback through a C wrapper, interleaved with calls of another. */
static i64f inner_fn;
static int64_t host_inner(int64_t x) {
    return inner_fn(x) + 1;
}

static void test_nested(void **state) {
    (void)state;
    cryo_ffi_callback *inner = test_cb_of(NULL, "|x| x * 3", "int64_t (*)(int64_t)", 0);
    inner_fn = (i64f)cryo_ffi_callback_ptr(inner);
    for (int64_t i = 0; i < 100; i++)
        assert_int_equal(host_inner(i), i * 3 + 1);
    cryo_ffi_callback *outer =
        test_cb_of(NULL, "|a, b| a[0] - b[0]", "int (*)(const int *, const int *)", 0);
    cmp2 fo = (cmp2)cryo_ffi_callback_ptr(outer);
    for (int i = 0; i < 100; i++) {
        int x = i, y = 50;
        assert_int_equal(fo(&x, &y), i - 50);
        assert_int_equal(inner_fn(i), 3 * i);
    }
    cryo_ffi_callback_free(outer);
    cryo_ffi_callback_free(inner);
}

static void *thread_body(void *arg) {
    cmp2 f = (cmp2)arg;
    long bad = 0;
    for (int i = 0; i < 20000; i++) {
        int x = i, y = 20000 - i;
        if (f(&x, &y) != x - y) bad++;
    }
    return (void *)bad;
}

static void test_threads(void **state) {
    (void)state;
    cryo_ffi_callback *cb =
        test_cb_of(NULL, "|a, b| a[0] - b[0]", "int (*)(const int *, const int *)", 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_body, cryo_ffi_callback_ptr(cb)), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
}

/* Every parameter kind the hot path converts inline: i32 (sign-extended), i64, double, typed
 * pointers of several element types. */
typedef int64_t (*mixf)(int32_t, int64_t, double, const uint8_t *, const double *);
static void test_hot_kinds(void **state) {
    (void)state;
    cryo_ffi_callback *cb =
        test_cb_of(NULL, "|a, b, c, p, q| a + b + (c * 2.0).to_int() + p[1] + q[1].to_int()",
                   "int64_t (*)(int32_t, int64_t, double, const uint8_t *, const "
                   "double *)",
                   0);
    mixf f = (mixf)cryo_ffi_callback_ptr(cb);
    uint8_t bytes[2] = {1, 255};
    double ds[2] = {0.5, -7.0};
    for (int i = 0; i < 50; i++) {
        int64_t big = (int64_t)1 << 40;
        assert_int_equal(f(-3 - i, big, 1.25 + i, bytes, ds),
                         -3 - i + big + (int64_t)(2.5 + 2 * i) + 255 - 7);
    }
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
}

/* A thread caches callback A's VM; A is freed elsewhere and B created (malloc may hand B A's
 * address); the thread's next call of B must run B's function, in B's unit. */
static sem_t go_a, a_done, go_b;
static i64f fn_a, fn_b;
static int64_t got_a, got_b;
static void *reuse_body(void *arg) {
    (void)arg;
    sem_wait(&go_a);
    got_a = fn_a(2) + fn_a(3); /* the second call takes the hot path */
    sem_post(&a_done);
    sem_wait(&go_b);
    got_b = fn_b(2) + fn_b(3);
    return NULL;
}
static void test_freed_then_new(void **state) {
    (void)state;
    sem_init(&go_a, 0, 0);
    sem_init(&a_done, 0, 0);
    sem_init(&go_b, 0, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reuse_body, NULL), 0);
    cryo_ffi_callback *a = test_cb_of(NULL, "|x| x + 1", "int64_t (*)(int64_t)", 0);
    fn_a = (i64f)cryo_ffi_callback_ptr(a);
    sem_post(&go_a);
    sem_wait(&a_done);
    /* B's function first, so that B's callback is the next allocation after A's free */
    cryo_sync *sb = test_sync(NULL, "fn k() { 100 } |x| x * k() + \"abc\".len() - 3");
    cryo_ffi_callback_free(a);
    cryo_ffi_callback *b = cryo_ffi_callback_new(sb, NULL, "int64_t (*)(int64_t)", NULL);
    assert_non_null(b);
    cryo_sync_release(sb);
    fn_b = (i64f)cryo_ffi_callback_ptr(b);
    sem_post(&go_b);
    pthread_join(t, NULL);
    assert_int_equal(got_a, 3 + 4);
    assert_int_equal(got_b, 200 + 300);
    cryo_ffi_callback_free(b);
    sem_destroy(&go_a);
    sem_destroy(&a_done);
    sem_destroy(&go_b);
}

static cryo_error_kind host_npins(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud, (void)argc, (void)argv;
    *ret = cryo_int(vm->npins);
    return CRYO_OK;
}

static void test_pins_stay_bounded(void **state) {
    (void)state;
    cryo_package *pkg = cryo_package_new("t");
    assert_int_equal(cryo_package_add(pkg, "npins", 0, host_npins, NULL), CRYO_OK);
    cryo_package *pkgs[] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_sync *s = test_sync(
        ctx, "|x| { let g = |y| y + x; let s = g.into_sync(); s.call(x) + npins() * 1000 }");
    cryo_ffi_callback *cb = cryo_ffi_callback_new(s, NULL, "int64_t (*)(int64_t)", NULL);
    assert_non_null(cb);
    i64f f = (i64f)cryo_ffi_callback_ptr(cb);
    int64_t most = 0;
    for (int64_t i = 0; i < 2000; i++) {
        int64_t r = f(i);
        assert_int_equal(r % 1000, 2 * i % 1000);
        if (r / 1000 > most) most = r / 1000;
    }
    /* the callback's function plus what each call pins, until the VM is recycled (past 16 pins):
     * bounded, where keeping them all would reach thousands */
    assert_true(most >= 2);
    assert_true(most <= 32);
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);
    cryo_context_release(ctx);
    cryo_package_release(pkg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_calls),
        cmocka_unit_test(test_errors_between_calls),
        cmocka_unit_test(test_caught_throw_then_calls),
        cmocka_unit_test(test_alternating_and_general),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_hot_kinds),
        cmocka_unit_test(test_freed_then_new),
        cmocka_unit_test(test_pins_stay_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
