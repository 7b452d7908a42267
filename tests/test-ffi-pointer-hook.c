/*
 * test-ffi-pointer-hook.c — pointer values live in ffi/pointer.c and the core reaches them only
 * through the value-type hook cv_pointer_hooks (docs/architecture.md, "Layers"): printing,
 * p[i] reads and writes with their errors, and freeing an owned pointer, each seen from a
 * script in a context with the FFI, plus the hook table the FFI installs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryo_ffi.h"
#include "ffi_internal.h" /* cf_pointer_install, and through ext.h the hook's getter */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cryo_context *ctx;

/* Runs src; returns the error kind; *out gets the result's text or the error message. */
static cryo_error_kind run(const char *src, char *out, size_t size) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    if (!u) {
        snprintf(out, size, "%s", err ? err->message : "?");
        cryo_error_free(err);
        return CRYO_ERR_PARSE;
    }
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k == CRYO_OK) {
        char *s = cryo_value_to_cstring(r, false);
        snprintf(out, size, "%s", s ? s : "?");
        free(s);
        cryo_value_release(r);
    } else {
        snprintf(out, size, "%s", cryo_vm_error(vm)->message);
    }
    cryo_vm_free(vm);
    return k;
}

static void expect(const char *src, cryo_error_kind want_kind, const char *want) {
    char out[512];
    cryo_error_kind k = run(src, out, sizeof out);
    if (k != want_kind || !strstr(out, want))
        fail_msg("%s\n  got kind %d: %s\n  want kind %d containing: %s", src, (int)k, out,
                 (int)want_kind, want);
}

static void test_hook_installed(void **state) {
    (void)state;
    const cv_pointer_hooks *h = cv_pointer_hooks_get();
    assert_non_null(h); /* cryo_ffi_context_new (setup) installed it */
    assert_non_null(h->free);
    assert_non_null(h->repr);
    assert_non_null(h->get);
    assert_non_null(h->set);
    cf_pointer_install(); /* idempotent: the same table */
    assert_ptr_equal(cv_pointer_hooks_get(), h);
}

static void test_text_form(void **state) {
    (void)state;
    expect("to_string(ffi::new(\"int\", 2))", CRYO_OK, "ptr<i32>(0x");
    expect("`${ffi::new(\"double\")}`", CRYO_OK, "ptr<f64>(0x");
    expect("let p = ffi::new(\"int\", 2); [p].to_string()", CRYO_OK, "[ptr<i32>(0x");
}

static void test_index_through_hook(void **state) {
    (void)state;
    expect("let p = ffi::new(\"int64_t\", 3); p[2] = -5; p[1] = 4; p[1] + p[2]", CRYO_OK, "-1");
    expect("let p = ffi::new(\"uint8_t\", 1); p[0] = 300", CRYO_ERR_ARITHMETIC,
           "300 is out of range for u8");
    expect("let p = ffi::new(\"int\", 2); p[2]", CRYO_ERR_INDEX,
           "pointer index 2 out of bounds (2 elements)");
    expect("let p = ffi::new(\"int\", 2); p[\"a\"] = 1", CRYO_ERR_TYPE,
           "a pointer index must be an i64, not string");
    expect("ffi::null()[0]", CRYO_ERR_TYPE, "cannot index a void pointer");
}

static void test_owned_freed(void **state) {
    (void)state;
    /* Many owned buffers made and dropped: each is freed through the hook (ASan/valgrind see a
     * leak otherwise), and the result shows the loop ran. */
    expect(
        "let n = 0; for i in 0..1000 { let p = ffi::new(\"char\", 64); p[63] = 1; n += p[63] } n",
        CRYO_OK, "1000");
}

static int setup(void **state) {
    (void)state;
    ctx = cryo_ffi_context_new();
    return ctx ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctx);
    cryo_vm_pool_clear();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_installed),
        cmocka_unit_test(test_text_form),
        cmocka_unit_test(test_index_through_hook),
        cmocka_unit_test(test_owned_freed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
