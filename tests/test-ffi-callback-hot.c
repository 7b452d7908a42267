/*
 * test-ffi-callback-hot.c — the hot path of FFI callbacks (a thread's cached VM calling the
 * same SyncFunction again with its arguments written straight into the first frame's
 * registers): results across many calls, errors in the middle of a run (default value, error
 * handler, the next calls unaffected), a caught throw (the VM's caught state is reset before
 * the next call), the operation limit per call, two callbacks alternating on one thread, a
 * general-path callback (string argument), interleaved callbacks, and the hot path on threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryo_ffi.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cryo_sync *sync_of(const char *src) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    if (!u) fprintf(stderr, "compile: %s\n", err ? err->message : "?");
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value f;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &f), CRYO_OK);
    cryo_sync *s = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, f, &s), CRYO_OK);
    cryo_value_release(f);
    cryo_vm_free(vm);
    return s;
}

static cryo_ffi_callback *cb_of(const char *src, const char *type) {
    cryo_sync *s = sync_of(src);
    cryo_error *err = NULL;
    cryo_ffi_callback *cb = cryo_ffi_callback_new(s, NULL, type, &err);
    if (!cb) fprintf(stderr, "callback: %s\n", err ? err->message : "?");
    assert_non_null(cb);
    cryo_sync_release(s);
    return cb;
}

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
    cryo_ffi_callback *cb = cb_of("|a, b| a[0] - b[0]", "int (*)(const int *, const int *)");
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
    cryo_ffi_callback *cb = cb_of("|x| { if x == 3 { throw \"three\" } if x == 4 { let a = [1]; "
                                  "a[5] } else { x * 10 } }",
                                  "int64_t (*)(int64_t)");
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
    cryo_ffi_callback *cb = cb_of("|x| { let r = 0; try { if x % 2 == 0 { throw x } r = x; } "
                                  "catch (e) { r = e + 1000 } r }",
                                  "int64_t (*)(int64_t)");
    i64f f = (i64f)cryo_ffi_callback_ptr(cb);
    for (int64_t x = 0; x < 200; x++)
        assert_int_equal(f(x), x % 2 == 0 ? x + 1000 : x);
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
}

static void test_alternating_and_general(void **state) {
    (void)state;
    cryo_ffi_callback *a = cb_of("|x| x + 1", "int64_t (*)(int64_t)");
    cryo_ffi_callback *b = cb_of("|x| x * 2", "int64_t (*)(int64_t)");
    cryo_ffi_callback *s = cb_of("|t| t.len()", "int64_t (*)(const char *)");
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
    cryo_ffi_callback *inner = cb_of("|x| x * 3", "int64_t (*)(int64_t)");
    inner_fn = (i64f)cryo_ffi_callback_ptr(inner);
    for (int64_t i = 0; i < 100; i++)
        assert_int_equal(host_inner(i), i * 3 + 1);
    cryo_ffi_callback *outer = cb_of("|a, b| a[0] - b[0]", "int (*)(const int *, const int *)");
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
    cryo_ffi_callback *cb = cb_of("|a, b| a[0] - b[0]", "int (*)(const int *, const int *)");
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_calls),
        cmocka_unit_test(test_errors_between_calls),
        cmocka_unit_test(test_caught_throw_then_calls),
        cmocka_unit_test(test_alternating_and_general),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
