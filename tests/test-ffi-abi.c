/*
 * test-ffi-abi.c — the ABI-breadth test: every signature of the table in tests/ffi_abi_gen.c
 * (integer widths at their extremes, float and double, 0 to 14 arguments, pointers and strings,
 * structs of 1 to 64 bytes with nested structs and arrays, long double, complex, variadic calls
 * with structs), called from a script through the FFI and called back through a script
 * callback, each compared byte for byte with the same call made directly in C. Also: the
 * lowering that avoids libffi's INTEGER+SSE struct bug splits exactly the affected shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ffi_abi.h"
#include "ffi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cryo_context *ctx;

static void add(cryo_package *pkg, const char *decl, void *fn) {
    cryo_error *err = NULL;
    cryo_error_kind k = cryo_ffi_package_add(pkg, NULL, NULL, decl, fn, &err);
    if (k != CRYO_OK) fprintf(stderr, "%s: %s\n", decl, err ? err->message : "?");
    cryo_error_free(err);
    assert_int_equal(k, CRYO_OK);
}

static int setup(void **state) {
    (void)state;
    cryo_error *err = NULL;
    if (cryo_ffi_cdef(NULL, abi_cdef, &err) != CRYO_OK) {
        fprintf(stderr, "cdef: %s\n", err ? err->message : "?");
        return -1;
    }
    cryo_package *pkg = cryo_package_new("abi");
    add(pkg, "void *abi_ptr(int32_t k)", (void *)abi_ptr);
    for (int i = 0; i < abi_ncases; i++) {
        const abi_case *c = &abi_cases[i];
        add(pkg, c->decl, c->f);
        if (c->sink_decl) add(pkg, c->sink_decl, c->sink);
        if (c->drive_decl) add(pkg, c->drive_decl, c->drive);
    }
    cryo_package_seal(pkg);
    cryo_package *pkgs[3] = {cryo_package_std(), pkg, cryo_ffi_package()};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 3, .capabilities = CRYO_CAP_FFI};
    ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    return ctx ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctx);
    return 0;
}

/* Runs src; false (with the message printed) when it fails. */
static bool run(const char *src) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    if (!u) {
        fprintf(stderr, "compile: %s\n  %s\n", err ? err->message : "?", src);
        cryo_error_free(err);
        return false;
    }
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k == CRYO_OK)
        cryo_value_release(r);
    else
        fprintf(stderr, "run: %s\n  %s\n", cryo_vm_error(vm)->message, src);
    cryo_vm_free(vm);
    return k == CRYO_OK;
}

static void hex(const char *what, const unsigned char *p, size_t n) {
    fprintf(stderr, "  %s (%zu bytes):", what, n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", p[i]);
    fprintf(stderr, "\n");
}

/* Runs the script, then the direct C call; true when both logged the same bytes. */
static bool same_as_c(const abi_case *c, const char *src, void (*direct)(void)) {
    static unsigned char got[1 << 16];
    size_t ngot, nwant;
    abi_log_reset();
    bool ok = run(src);
    const unsigned char *log = abi_log_get(&ngot);
    memcpy(got, log, ngot);
    abi_log_reset();
    direct();
    const unsigned char *want = abi_log_get(&nwant);
    if (ok && ngot == nwant && memcmp(got, want, ngot) == 0) return true;
    fprintf(stderr, "WRONG VALUE: %s\n  script: %s\n", c->decl, src);
    hex("through the FFI", got, ngot);
    hex("direct C call", want, nwant);
    return false;
}

static void test_calls(void **state) {
    (void)state;
    int wrong = 0;
    char src[4096];
    for (int i = 0; i < abi_ncases; i++) {
        const abi_case *c = &abi_cases[i];
        if (c->sink_decl)
            snprintf(src, sizeof src, "abi_sink%d(abi_f%d%s)", i, i, c->args);
        else
            snprintf(src, sizeof src, "abi_f%d%s", i, c->args);
        wrong += !same_as_c(c, src, c->direct);
    }
    fprintf(stderr, "calls: %d signatures, %d wrong\n", abi_ncases, wrong);
    assert_int_equal(wrong, 0);
}

static void test_callbacks(void **state) {
    (void)state;
    int wrong = 0, n = 0;
    char src[4096], params[256];
    for (int i = 0; i < abi_ncases; i++) {
        const abi_case *c = &abi_cases[i];
        if (!c->cb_type) continue;
        size_t len = 0;
        params[0] = '\0';
        for (int j = 0; j < c->nparams; j++)
            len += (size_t)snprintf(params + len, sizeof params - len, "%sa%d", j ? ", " : "", j);
        /* C calls the script callback, which hands what it received to abi_fN and returns its
         * result: both directions of the callback's conversions, and the closure's ABI */
        snprintf(src, sizeof src, "abi_drive%d(ffi::callback(|%s| abi_f%d(%s), \"%s\"))", i, params,
                 i, params, c->cb_type);
        wrong += !same_as_c(c, src, c->direct_cb);
        n++;
    }
    fprintf(stderr, "callbacks: %d signatures, %d wrong\n", n, wrong);
    assert_true(n > 0);
    assert_int_equal(wrong, 0);
}

/* The shape libffi <= 3.4.6 gets wrong is split for ffi_call, and only it; callbacks keep the
 * struct whole (libffi's closure entry reads it right). */
static void test_lowering(void **state) {
    (void)state;
    cryo_error *err = NULL;
    cryo_ffi_sig *bug = cryo_ffi_parse(
        NULL, "int64_t f(int64_t, int64_t, int64_t, int64_t, int64_t, double, struct s16m, double)",
        &err);
    cryo_ffi_sig *fine = cryo_ffi_parse(
        NULL, "int64_t f(int64_t, int64_t, int64_t, int64_t, double, struct s16m, double)", &err);
    cryo_ffi_sig *sse_first =
        cryo_ffi_parse(NULL,
                       "int64_t f(int64_t, int64_t, int64_t, int64_t, int64_t, double, "
                       "struct s16dm, double)",
                       &err);
    assert_non_null(bug);
    assert_non_null(fine);
    assert_non_null(sse_first);
#if defined(__x86_64__) && !defined(_WIN32)
    assert_non_null(bug->fn->split);
    assert_int_equal(bug->fn->split[6], 1);
    assert_int_equal(bug->fn->call_cif.nargs, 9);
    assert_int_equal(bug->fn->cif.nargs, 8); /* the closure's cif: the struct whole */
#endif
    /* the version define came from pkg-config */
    assert_true(strcmp(cryo_ffi_libffi_version(), "unknown") != 0);
    assert_null(fine->fn->split);      /* the struct takes %r8: libffi is right */
    assert_null(sse_first->fn->split); /* SSE first: libffi copies 8 bytes, right */
}

int main(void) {
    fprintf(stderr, "libffi built against: %s\n", cryo_ffi_libffi_version());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_lowering),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
