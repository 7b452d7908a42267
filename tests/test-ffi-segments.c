/*
 * test-ffi-segments.c — the VM's register segments (src/vm/stack.c) after issue 19: the first
 * segment is sized to the unit's top level, so a small script's VM stays small; a deep
 * recursion grows it segment by segment and gives the right result, again on the same VM; a
 * first frame that needs more registers than the first segment holds (cryo_vm_call, a
 * SyncFunction called in a VM, its hot path) makes it bigger; and a callback re-entering itself
 * through a host function, recursing at every level, computes right on the thunk and on the
 * libffi path.
 */
#include "test.h"

#include "cryo_ffi.h"
#include "vm.h"

/* `fn big(a)` and a closure of 80 locals each: more registers than a small first segment. */
static char *big_source(void) {
    size_t cap = 8192, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int form = 0; form < 2; form++) {
        n += (size_t)snprintf(s + n, cap - n, form ? "let c = |a| {" : "fn big(a) {");
        for (int i = 0; i < 80; i++) {
            char prev[8] = "a";
            if (i) snprintf(prev, sizeof prev, "v%d", i - 1);
            n += (size_t)snprintf(s + n, cap - n, " let v%d = %s + %d;", i, prev, i);
        }
        n += (size_t)snprintf(s + n, cap - n, form ? " v79 };\n" : " v79 }\n");
    }
    n += (size_t)snprintf(s + n, cap - n, "c");
    return s;
}

static void test_small_first_segment_and_deep_recursion(void **state) {
    (void)state;
    cryo_unit *u = test_compile("fn d(n) { if n == 0 { 0 } else { 1 + d(n - 1) } } d(3)");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 3);
    assert_true(vm->seg->size <= 64); /* sized to the top level, not 512 values */
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, UINT64_MAX);
    for (int round = 0; round < 2; round++) { /* the second reuses the segments */
        cryo_value arg = cryo_int(5000);
        assert_int_equal(cryo_vm_call(vm, "d", 1, &arg, &r), CRYO_OK);
        assert_int_equal(r.as.i, 5000);
        assert_null(vm->seg->prev); /* back on the first segment */
        assert_non_null(vm->seg->next);
    }
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 3);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void test_first_frame_bigger_than_first_segment(void **state) {
    (void)state;
    char *src = big_source();
    cryo_unit *u = test_compile(src);
    free(src);
    int64_t want = 7 + 79 * 80 / 2;
    /* cryo_vm_call of big on a VM whose first segment was sized to the small top level */
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value c, r, arg = cryo_int(7);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &c), CRYO_OK);
    size_t before = vm->seg->size;
    assert_int_equal(cryo_vm_call(vm, "big", 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, want);
    assert_true(vm->seg->size > before);
    /* the closure, frozen, called in a fresh VM of the unit: the general path, then the hot */
    cryo_sync *f;
    assert_int_equal(cryo_vm_into_sync(vm, c, &f), CRYO_OK);
    cryo_value_release(c);
    cryo_vm_free(vm);
    vm = cryo_vm_new(u, NULL);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &c), CRYO_OK);
    cryo_value_release(c);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cryo_sync_call_in(f, vm, 1, &arg, &r), CRYO_OK);
        assert_int_equal(r.as.i, want);
    }
    cryo_vm_free(vm);
    /* and in a VM of another, tiny unit, never run */
    cryo_unit *tiny = test_compile("1");
    vm = cryo_vm_new(tiny, NULL);
    assert_int_equal(cryo_sync_call_in(f, vm, 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, want);
    cryo_vm_free(vm);
    cryo_const ca = cryo_const_int(1), cr;
    assert_int_equal(cryo_sync_call(f, 1, &ca, &cr, NULL), CRYO_OK);
    assert_int_equal(cr.v.as.i, want - 6);
    cryo_sync_release(f);
    cryo_unit_release(tiny);
    cryo_unit_release(u);
    cryo_vm_pool_clear();
}

/* A callback whose script calls a host function that calls the callback again: each level
 * runs on a VM of its own and recurses there (20 calls deep) before going down a level. */
typedef int64_t (*i64f)(int64_t);
static i64f reenter_fn;

static cryo_error_kind host_reenter(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                    cryo_value *ret) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_int(reenter_fn(argv[0]->as.i));
    return CRYO_OK;
}

static void test_callback_reentering(void **state) {
    (void)state;
    cryo_package *pkg = cryo_package_new("t");
    assert_int_equal(cryo_package_add(pkg, "reenter", 1, host_reenter, NULL), CRYO_OK);
    cryo_package *pkgs[] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_sync *f = test_sync(ctx, "fn d(n) { if n == 0 { 0 } else { 1 + d(n - 1) } }\n"
                                  "|n| if n <= 0 { d(20) } else { d(20) + reenter(n - 1) }");
    unsigned flags[] = {0, CRYO_FFI_CALLBACK_LIBFFI};
    for (int i = 0; i < 2; i++) {
        cryo_error *err = NULL;
        cryo_ffi_callback *cb =
            cryo_ffi_callback_new_ex(f, NULL, "int64_t (*)(int64_t)", flags[i], &err);
        assert_non_null(cb);
        reenter_fn = (i64f)cryo_ffi_callback_ptr(cb);
        for (int round = 0; round < 3; round++) { /* cold, then each level's VM kept */
            assert_int_equal(reenter_fn(10), 11 * 20);
            assert_int_equal(reenter_fn(0), 20);
        }
        assert_int_equal(cryo_ffi_callback_errors(cb), 0);
        cryo_ffi_callback_free(cb);
    }
    cryo_sync_release(f);
    cryo_context_release(ctx);
    cryo_package_release(pkg);
    cryo_vm_pool_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_first_segment_and_deep_recursion),
        cmocka_unit_test(test_first_frame_bigger_than_first_segment),
        cmocka_unit_test(test_callback_reentering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
