/*
 * test-ffi-callback.c — SyncFunctions as C function pointers: every supported type as argument
 * and result, typed pointers and structs by value, a throwing callback and a wrong result type
 * (default value + error handler, no unwinding), qsort with a script comparator, callbacks
 * called from 8 threads at once, and creating/freeing many closures (run under valgrind to see
 * that none leaks).
 *
 * CRYO_TEST_FFI_CALLS sets the calls per thread (default 100000; fewer under valgrind/TSan).
 */
/* ctest-labels: threads */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_ffi.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cryo_ffi_scope *scope;

static int setup(void **state) {
    (void)state;
    scope = cryo_ffi_scope_new();
    cryo_error *err = NULL;
    assert_int_equal(cryo_ffi_cdef(scope,
                                   "struct point { double x, y; };"
                                   "struct small { uint8_t a; int16_t b; };",
                                   &err),
                     CRYO_OK);
    return 0;
}
static int teardown(void **state) {
    (void)state;
    cryo_ffi_scope_free(scope);
    return 0;
}

/* Every scalar type through `|x| x` and through a transforming closure. */
#define ROUNDTRIP(T, decl, ...)                                                                    \
    do {                                                                                           \
        cryo_ffi_callback *cb = test_cb_of(scope, "|x| x", decl, 0);                               \
        T (*fp)(T) = (T(*)(T))cryo_ffi_callback_ptr(cb);                                           \
        T vals[] = {__VA_ARGS__};                                                                  \
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)                                  \
            assert_true(fp(vals[i]) == vals[i]);                                                   \
        assert_int_equal(cryo_ffi_callback_errors(cb), 0);                                         \
        cryo_ffi_callback_free(cb);                                                                \
    } while (0)

static void test_scalars(void **state) {
    (void)state;
    ROUNDTRIP(bool, "bool (*)(bool)", true, false);
    ROUNDTRIP(char, "char (*)(char)", -128, 0, 127);
    ROUNDTRIP(signed char, "signed char (*)(signed char)", -128, 127);
    ROUNDTRIP(unsigned char, "unsigned char (*)(unsigned char)", 0, 200, 255);
    ROUNDTRIP(short, "short (*)(short)", -32768, 32767);
    ROUNDTRIP(unsigned short, "unsigned short (*)(unsigned short)", 0, 65535);
    ROUNDTRIP(int, "int (*)(int)", INT32_MIN, -1, 0, INT32_MAX);
    ROUNDTRIP(unsigned, "unsigned (*)(unsigned)", 0, UINT32_MAX);
    ROUNDTRIP(long, "long (*)(long)", INT64_MIN, INT64_MAX);
    ROUNDTRIP(long long, "long long (*)(long long)", -5, 5);
    ROUNDTRIP(int8_t, "int8_t (*)(int8_t)", -128, 127);
    ROUNDTRIP(uint8_t, "uint8_t (*)(uint8_t)", 0, 255);
    ROUNDTRIP(int16_t, "int16_t (*)(int16_t)", -32768, 32767);
    ROUNDTRIP(uint16_t, "uint16_t (*)(uint16_t)", 0, 65535);
    ROUNDTRIP(int32_t, "int32_t (*)(int32_t)", INT32_MIN, INT32_MAX);
    ROUNDTRIP(uint32_t, "uint32_t (*)(uint32_t)", 0, UINT32_MAX);
    ROUNDTRIP(int64_t, "int64_t (*)(int64_t)", INT64_MIN, INT64_MAX);
    ROUNDTRIP(uint64_t, "uint64_t (*)(uint64_t)", 0, (uint64_t)INT64_MAX);
    ROUNDTRIP(size_t, "size_t (*)(size_t)", 0, 123456789);
    ROUNDTRIP(ssize_t, "ssize_t (*)(ssize_t)", -1, 1);
    ROUNDTRIP(intptr_t, "intptr_t (*)(intptr_t)", -1, 1);
    ROUNDTRIP(uintptr_t, "uintptr_t (*)(uintptr_t)", 0, 99);
    ROUNDTRIP(float, "float (*)(float)", -1.5f, 0.0f, 3.25f);
    ROUNDTRIP(double, "double (*)(double)", -1e300, 0.0, 2.5);
    ROUNDTRIP(void *, "void *(*)(void *)", NULL, (void *)&scope);

    /* transformations: the values really are the script's */
    cryo_ffi_callback *cb = test_cb_of(scope, "|a, b| a * 10 + b", "int (*)(int, int)", 0);
    assert_int_equal(((int (*)(int, int))cryo_ffi_callback_ptr(cb))(4, 2), 42);
    cryo_ffi_callback_free(cb);
    cb = test_cb_of(scope, "|x, f| x.to_float() * f", "double (*)(int8_t, float)", 0);
    assert_true(((double (*)(int8_t, float))cryo_ffi_callback_ptr(cb))(-4, 0.5f) == -2.0);
    cryo_ffi_callback_free(cb);
    cb = test_cb_of(scope, "|b| !b", "_Bool (*)(_Bool)", 0);
    assert_true(((bool (*)(bool))cryo_ffi_callback_ptr(cb))(false));
    cryo_ffi_callback_free(cb);
    /* a negative small result is sign-extended through ffi_arg */
    cb = test_cb_of(scope, "|x| -x", "int16_t (*)(int16_t)", 0);
    assert_int_equal(((int16_t(*)(int16_t))cryo_ffi_callback_ptr(cb))(300), -300);
    cryo_ffi_callback_free(cb);
    /* an int result for a double return converts */
    cb = test_cb_of(scope, "|x| x + 1", "double (*)(int)", 0);
    assert_true(((double (*)(int))cryo_ffi_callback_ptr(cb))(1) == 2.0);
    cryo_ffi_callback_free(cb);
    /* void callbacks */
    cb = test_cb_of(scope, "|p| { p[0] = p[0] + 1; }", "void (*)(int *)", 0);
    int v = 41;
    ((void (*)(int *))cryo_ffi_callback_ptr(cb))(&v);
    assert_int_equal(v, 42);
    cryo_ffi_callback_free(cb);
}

struct point {
    double x, y;
};
struct small {
    uint8_t a;
    int16_t b;
};

static void test_pointers_and_structs(void **state) {
    (void)state;
    cryo_ffi_callback *cb =
        test_cb_of(scope, "|p, n| { let s = 0.0; for i in 0..n { s += p[i]; } s }",
                   "double (*)(const double *, int)", 0);
    double d[4] = {1, 2, 3, 4.5};
    assert_true(((double (*)(const double *, int))cryo_ffi_callback_ptr(cb))(d, 4) == 10.5);
    cryo_ffi_callback_free(cb);

    cb = test_cb_of(scope, "|p| p.x * p.y", "double (*)(struct point)", 0);
    assert_true(((double (*)(struct point))cryo_ffi_callback_ptr(cb))((struct point){3, 4}) == 12);
    cryo_ffi_callback_free(cb);

    cb = test_cb_of(scope, "|d| #{x: d, y: -d}", "struct point (*)(double)", 0);
    struct point p = ((struct point(*)(double))cryo_ffi_callback_ptr(cb))(2.5);
    assert_true(p.x == 2.5 && p.y == -2.5);
    cryo_ffi_callback_free(cb);

    cb = test_cb_of(scope, "|s| #{a: s.b, b: -s.a}", "struct small (*)(struct small)", 0);
    struct small s =
        ((struct small(*)(struct small))cryo_ffi_callback_ptr(cb))((struct small){7, 9});
    assert_int_equal(s.a, 9);
    assert_int_equal(s.b, -7);
    cryo_ffi_callback_free(cb);

    cb = test_cb_of(scope, "|s| s", "const char *(*)(const char *)", 0);
    /* a char * argument arrives as a string; returning a string as a pointer is refused */
    test_errlog log = {0};
    cryo_ffi_callback_set_error_handler(cb, test_errlog_handler, &log);
    assert_null(((const char *(*)(const char *))cryo_ffi_callback_ptr(cb))("abc"));
    assert_int_equal(log.calls, 1);
    assert_non_null(strstr(log.msg, "string cannot be returned"));
    cryo_ffi_callback_free(cb);

    cb = test_cb_of(scope, "|s| s.len()", "int (*)(const char *)", 0);
    assert_int_equal(((int (*)(const char *))cryo_ffi_callback_ptr(cb))("héllo"), 5);
    cryo_ffi_callback_free(cb);
}

static void test_errors(void **state) {
    (void)state;
    cryo_ffi_callback *cb =
        test_cb_of(scope, "|x| { if x < 0 { throw \"negative: \" + x } x * 2 }", "int (*)(int)", 0);
    int (*fp)(int) = (int (*)(int))cryo_ffi_callback_ptr(cb);
    /* no handler: the default (zero) comes back, nothing unwinds */
    assert_int_equal(fp(-1), 0);
    assert_int_equal(fp(21), 42);
    test_errlog log = {0};
    cryo_ffi_callback_set_error_handler(cb, test_errlog_handler, &log);
    int def = -7;
    assert_int_equal(cryo_ffi_callback_set_default(cb, &def, sizeof def), CRYO_OK);
    assert_int_equal(fp(-5), -7);
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.kind, CRYO_ERR_RUNTIME);
    assert_non_null(strstr(log.msg, "negative: -5"));
    assert_int_equal(fp(5), 10);
    assert_int_equal(cryo_ffi_callback_errors(cb), 2);
    /* a default bigger than the return type is refused */
    int64_t big = 1;
    assert_int_equal(cryo_ffi_callback_set_default(cb, &big, sizeof big), CRYO_ERR_API);
    cryo_ffi_callback_free(cb);

    /* wrong result types */
    cb = test_cb_of(scope, "|x| \"not an int\"", "int (*)(int)", 0);
    cryo_ffi_callback_set_error_handler(cb, test_errlog_handler, &log);
    log.calls = 0;
    assert_int_equal(((int (*)(int))cryo_ffi_callback_ptr(cb))(1), 0);
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.kind, CRYO_ERR_TYPE);
    assert_non_null(strstr(log.msg, "callback result"));
    cryo_ffi_callback_free(cb);

    cb = test_cb_of(scope, "|x| 300", "uint8_t (*)(int)", 0);
    cryo_ffi_callback_set_error_handler(cb, test_errlog_handler, &log);
    uint8_t d8 = 9;
    cryo_ffi_callback_set_default(cb, &d8, 1);
    assert_int_equal(((uint8_t(*)(int))cryo_ffi_callback_ptr(cb))(1), 9);
    assert_int_equal(log.kind, CRYO_ERR_ARITHMETIC);
    cryo_ffi_callback_free(cb);

    cb = test_cb_of(scope, "|x| 1.5", "struct point (*)(int)", 0);
    struct point dp = {-1, -2};
    cryo_ffi_callback_set_default(cb, &dp, sizeof dp);
    struct point r = ((struct point(*)(int))cryo_ffi_callback_ptr(cb))(1);
    assert_true(r.x == -1 && r.y == -2);
    cryo_ffi_callback_free(cb);

    /* a wrong number of parameters in the closure: refused when the callback is made
     * (tests/test-ffi-failures.c checks the message) */
    cryo_sync *one = test_sync(NULL, "|a| a");
    cryo_error *aerr = NULL;
    assert_null(cryo_ffi_callback_new(one, scope, "int (*)(int, int)", &aerr));
    assert_int_equal(aerr->kind, CRYO_ERR_ARGUMENT);
    cryo_error_free(aerr);
    cryo_sync_release(one);

    /* bad types */
    cryo_sync *s = test_sync(NULL, "|x| x");
    cryo_error *err = NULL;
    assert_null(cryo_ffi_callback_new(s, scope, "int (*)(int, ...)", &err));
    assert_non_null(err);
    assert_non_null(strstr(err->message, "variadic"));
    cryo_error_free(err);
    assert_null(cryo_ffi_callback_new(s, scope, "int (*)(struct nope)", &err));
    assert_int_equal(err->kind, CRYO_ERR_PARSE);
    assert_int_equal(err->column, 16);
    cryo_error_free(err);
    cryo_sync_release(s);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void test_qsort(void **state) {
    (void)state;
    cryo_ffi_callback *cb =
        test_cb_of(scope, "|a, b| a[0] - b[0]", "int (*)(const int *, const int *)", 0);
    int n = 10000;
    int *v = malloc(sizeof(int) * (size_t)n), *w = malloc(sizeof(int) * (size_t)n);
    unsigned seed = 1;
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = w[i] = (int)(seed >> 8) % 100000;
    }
    qsort(v, (size_t)n, sizeof(int),
          (int (*)(const void *, const void *))cryo_ffi_callback_ptr(cb));
    qsort(w, (size_t)n, sizeof(int), cmp_int);
    assert_memory_equal(v, w, sizeof(int) * (size_t)n);
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    free(v);
    free(w);
    cryo_ffi_callback_free(cb);
}

/* --- threads -----------------------------------------------------------------------------------
 */

typedef struct job {
    int (*fp)(int);
    double (*fd)(struct point);
    int calls;
    int64_t sum;
    double dsum;
} job;

static void *worker(void *arg) {
    job *j = arg;
    for (int i = 0; i < j->calls; i++) {
        j->sum += j->fp(i);
        if ((i & 15) == 0) j->dsum += j->fd((struct point){i, 1});
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    const char *env = getenv("CRYO_TEST_FFI_CALLS");
    int calls = env ? atoi(env) : 100000;
    cryo_ffi_callback *cb = test_cb_of(
        scope, "let k = 3; let tbl = [1, 2, 3]; |x| x * 2 + k + tbl[x % 3]", "int (*)(int)", 0);
    cryo_ffi_callback *cd = test_cb_of(scope, "|p| p.x + p.y", "double (*)(struct point)", 0);
    enum { N = 8 };
    pthread_t t[N];
    job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){(int (*)(int))cryo_ffi_callback_ptr(cb),
                        (double (*)(struct point))cryo_ffi_callback_ptr(cd), calls, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    int64_t want = 0;
    double dwant = 0;
    for (int i = 0; i < calls; i++) {
        want += i * 2 + 3 + (i % 3 + 1);
        if ((i & 15) == 0) dwant += i + 1;
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].sum, want);
        assert_true(jobs[i].dsum == dwant);
    }
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
    cryo_ffi_callback_free(cd);
}

static void test_many_closures(void **state) {
    (void)state;
    cryo_sync *s = test_sync(NULL, "|x| x + 1");
    for (int i = 0; i < 1000; i++) {
        cryo_ffi_callback *cb = cryo_ffi_callback_new(s, scope, "long (*)(long)", NULL);
        assert_non_null(cb);
        assert_int_equal(((long (*)(long))cryo_ffi_callback_ptr(cb))(i), i + 1);
        cryo_ffi_callback_free(cb);
    }
    cryo_sync_release(s);
    cryo_ffi_callback_free(NULL);
}

/* Script-made callbacks (ffi::callback) are freed with their value. */
static void test_script_callbacks(void **state) {
    (void)state;
    const char *src =
        "let c = ffi::open();"
        "let qsort = ffi::func(c, \"void qsort(void *, size_t, size_t, "
        "int (*)(const void *, const void *))\");"
        "let buf = ffi::new(\"double\", 6);"
        "let xs = [3.5, -1.0, 2.0, 9.0, 0.0, 2.5];"
        "for i in 0..6 { buf[i] = xs[i] }"
        "let desc = ffi::callback(|a, b| { let d = b[0] - a[0]; if d < 0.0 { -1 } else if d > 0.0 "
        "{ 1 } else { 0 } }, \"int (*)(const double *, const double *)\");"
        "qsort(buf, 6, 8, desc);"
        "let out = []; for i in 0..6 { out.push(buf[i]) } out";
    cryo_context *ctx = cryo_ffi_context_new();
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k) fprintf(stderr, "%s\n", cryo_vm_error(vm)->message);
    assert_int_equal(k, CRYO_OK);
    char *s = cryo_value_to_cstring(r, true);
    assert_string_equal(s, "[9.0, 3.5, 2.5, 2.0, 0.0, -1.0]");
    free(s);
    cryo_value_release(r);
    /* a closure that cannot be frozen is refused with into_sync's error */
    const char *bad = "let n = 0; ffi::callback(|x| { n += x; n }, \"int (*)(int)\")";
    u = cryo_compile(bad, strlen(bad), NULL, NULL);
    assert_non_null(u);
    cryo_vm_free(vm);
    vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    k = cryo_vm_run(vm, NULL, 0, NULL);
    assert_int_not_equal(k, CRYO_OK);
    assert_non_null(strstr(cryo_vm_error(vm)->message, "n"));
    cryo_vm_free(vm);
    cryo_context_release(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),          cmocka_unit_test(test_pointers_and_structs),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_qsort),
        cmocka_unit_test(test_threads),          cmocka_unit_test(test_many_closures),
        cmocka_unit_test(test_script_callbacks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
