/*
 * test-ffi-callback-cache.c — FFI callbacks on the thread's VM cache (src/vm/cache.c): a freed
 * callback's thunk slot, taken again by a new callback of the same C type, never runs on the VM
 * kept ready for the old one; callbacks of two units alternating on one thread each keep their
 * own VM and give the right results.
 */

#include "test_ffi.h"

typedef int (*int1)(int);

static void test_reused_thunk_slot_runs_the_new_function(void **state) {
    (void)state;
    cryo_ffi_callback *a = test_cb_of(NULL, "|x| x + 1", "int (*)(int)", 0);
    assert_int_equal(cryo_ffi_callback_path(a), CRYO_FFI_PATH_THUNK);
    int1 fa = (int1)cryo_ffi_callback_ptr(a);
    for (int i = 0; i < 3; i++) /* the second and third calls take the hot path */
        assert_int_equal(fa(i), i + 1);
    cryo_ffi_callback_free(a);
    cryo_ffi_callback *b = test_cb_of(NULL, "|x| x * 10", "int (*)(int)", 0);
    int1 fb = (int1)cryo_ffi_callback_ptr(b);
    assert_ptr_equal((void *)fb, (void *)fa); /* the freed slot, taken again */
    for (int i = 0; i < 3; i++)
        assert_int_equal(fb(i + 1), (i + 1) * 10);
    cryo_ffi_callback_free(b);
    cryo_vm_pool_clear();
}

static void test_alternating_callbacks_keep_their_results(void **state) {
    (void)state;
    cryo_ffi_callback *a = test_cb_of(NULL, "let k = 100; |x| x + k", "int (*)(int)", 0);
    cryo_ffi_callback *b = test_cb_of(NULL, "|x| x - 1", "int (*)(int)", 0);
    int1 fa = (int1)cryo_ffi_callback_ptr(a), fb = (int1)cryo_ffi_callback_ptr(b);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(fa(i), i + 100);
        assert_int_equal(fb(i), i - 1);
        assert_int_equal(fb(i), i - 1);
    }
    cryo_ffi_callback_free(a);
    assert_int_equal(fb(7), 6);
    cryo_ffi_callback_free(b);
    cryo_vm_pool_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reused_thunk_slot_runs_the_new_function),
        cmocka_unit_test(test_alternating_callbacks_keep_their_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
