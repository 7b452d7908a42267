/*
 * test-ffi-thread-frozen.c — ffi::func values freeze: a closure capturing C functions made by
 * ffi::func is frozen (into_sync from C, `.into_sync()`, spawn) and called from 8 threads at
 * once; the frozen C function keeps the capability rule (its calls go through ffi::call).
 */
#include "test.h"

#include "cryo_ffi.h"

#define NTHREADS 8
#define NCALLS   2000

static cryo_value run(cryo_context *ctx, const char *src, cryo_vm **vm_out) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value v;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &v);
    if (k) fprintf(stderr, "run: %s\n", cryo_vm_error(vm)->message);
    assert_int_equal(k, CRYO_OK);
    *vm_out = vm;
    return v;
}

/* abs and strlen from the process, a variadic snprintf into a buffer made in the call */
static const char closure_src[] =
    "let lib = ffi::open();\n"
    "let abs = ffi::func(lib, \"int abs(int)\");\n"
    "let len = ffi::func(lib, \"size_t strlen(const char *s);\");\n"
    "let fmt = ffi::func(lib, \"int snprintf(char *buf, size_t n, const char *fmt, ...)\");\n"
    "|x, s| {\n"
    "    let buf = ffi::new(\"char\", 32);\n"
    "    fmt(buf, 32, \"%d\", x);\n"
    "    abs(x) * 1000 + len(s) * 10 + len(ffi::string(buf))\n"
    "}\n";

static void *worker(void *arg) {
    cryo_sync *f = arg;
    intptr_t bad = 0;
    for (int i = 0; i < NCALLS; i++) {
        int x = (i % 2 ? -1 : 1) * (i % 97);
        char s[16];
        int n = i % 13;
        memset(s, 'a', (size_t)n);
        s[n] = '\0';
        cryo_const args[2] = {cryo_const_int(x), cryo_const_string(s, (size_t)n)};
        cryo_const r;
        cryo_error *err = NULL;
        if (cryo_sync_call(f, 2, args, &r, &err) != CRYO_OK) {
            bad++;
            cryo_error_free(err);
        } else {
            char want[32];
            int digits = snprintf(want, sizeof want, "%d", x);
            snprintf(want, sizeof want, "%d", abs(x) * 1000 + n * 10 + digits);
            char *got = cryo_const_to_cstring(r, false);
            if (!got || strcmp(got, want) != 0) bad++;
            free(got);
            cryo_const_release(r);
        }
        cryo_const_release(args[1]);
    }
    return (void *)bad;
}

static void frozen_from_8_threads(void **state) {
    (void)state;
    cryo_context *ctx = cryo_ffi_context_new();
    cryo_vm *vm;
    cryo_value fv = run(ctx, closure_src, &vm);
    cryo_sync *f = NULL;
    cryo_error_kind k = cryo_vm_into_sync(vm, fv, &f);
    if (k) fprintf(stderr, "into_sync: %s\n", cryo_vm_error(vm)->message);
    assert_int_equal(k, CRYO_OK);
    cryo_value_release(fv);
    cryo_vm_free(vm); /* the frozen closure keeps the C functions alive */
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, f), 0);
    for (int i = 0; i < NTHREADS; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    cryo_sync_release(f);
    cryo_context_release(ctx);
}

/* From a script alone: `.into_sync()`, spawn on other threads, and a callback calling C. */
static void frozen_in_scripts(void **state) {
    (void)state;
    cryo_context *ctx = cryo_ffi_context_new();
    cryo_vm *vm;
    cryo_value v =
        run(ctx,
            "let abs = ffi::func(ffi::open(), \"int abs(int)\");\n"
            "let f = (|x| abs(x) + 1).into_sync();\n"
            "let hs = [];\n"
            "for i in 0..8 { hs.push(spawn(|n| { let t = 0; for j in 0..100 "
            "{ t += abs(-n) } t }, i)); }\n"
            "let sum = 0; for h in hs { sum += h.join(); }\n"
            "let qsort = ffi::func(ffi::open(), \"void qsort(void *, size_t, size_t, "
            "int (*)(const void *, const void *))\");\n"
            "let buf = ffi::new(\"int\", 4); buf[0] = -3; buf[1] = 2; buf[2] = -1; "
            "buf[3] = 0;\n"
            "qsort(buf, 4, 4, ffi::callback(|a, b| abs(a[0]) - abs(b[0]), "
            "\"int (*)(const int *, const int *)\"));\n"
            "`${type_of(f)} ${f.call(-41)} ${sum} ${buf[0]},${buf[1]},${buf[2]},${buf[3]}`",
            &vm);
    char *s = cryo_value_to_cstring(v, false);
    assert_string_equal(s, "SyncFn 42 2800 0,-1,2,-3");
    free(s);
    cryo_value_release(v);
    cryo_vm_free(vm);
    cryo_context_release(ctx);
}

/* A frozen ffi::func handed to a context without the capability cannot be called there. */
static void capability_still_applies(void **state) {
    (void)state;
    cryo_context *ctx = cryo_ffi_context_new();
    cryo_vm *vm;
    cryo_value fv = run(ctx, "ffi::func(ffi::open(), \"int abs(int)\")", &vm);
    cryo_const c;
    assert_int_equal(cryo_vm_freeze(vm, fv, &c), CRYO_OK);
    cryo_value_release(fv);
    cryo_vm_free(vm);
    const char *src = "fn call_it(f) { f.call(-3) }";
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(u);
    cryo_vm *plain = cryo_vm_new(u, NULL); /* the standard context: no CRYO_CAP_FFI */
    cryo_unit_release(u);
    cryo_value arg, r;
    assert_int_equal(cryo_vm_thaw(plain, c, &arg), CRYO_OK);
    assert_int_not_equal(cryo_vm_call(plain, "call_it", 1, &arg, &r), CRYO_OK);
    assert_non_null(strstr(cryo_vm_error(plain)->message, "ffi::call"));
    cryo_value_release(arg);
    cryo_vm_free(plain);
    cryo_const_release(c);
    cryo_context_release(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frozen_from_8_threads),
        cmocka_unit_test(frozen_in_scripts),
        cmocka_unit_test(capability_still_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
