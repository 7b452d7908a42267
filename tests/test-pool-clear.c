/*
 * test-pool-clear.c — cryo_vm_pool_clear frees every VM the calling thread keeps: the idle
 * pooled VMs and the VM of its last cryo_sync_call (kept ready in the thread's VM cache), so no
 * unit or context stays referenced by that thread afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryo.h"
#include "unit.h" /* the unit's reference count */

#include <string.h>

static unsigned refs(cryo_unit *u) {
    return atomic_load(&u->refcount);
}

static void test_pool_clear_frees_the_last_sync_call_vm(void **state) {
    (void)state;
    const char *src = "|x| x * 2";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value v;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_OK);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, v, &f), CRYO_OK);
    cryo_value_release(v);
    cryo_vm_free(vm);
    cryo_vm_pool_clear();
    unsigned before = refs(u);

    cryo_const a = cryo_const_int(21), r;
    assert_int_equal(cryo_sync_call(f, 1, &a, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 42);
    assert_true(refs(u) > before); /* the thread's hot VM holds the unit */
    cryo_vm_pool_clear();
    assert_int_equal(refs(u), before);

    /* and a pooled VM besides the hot one */
    cryo_vm *p = cryo_vm_pool_acquire(u, NULL);
    cryo_vm_pool_release(p);
    assert_int_equal(cryo_sync_call(f, 1, &a, &r, NULL), CRYO_OK);
    assert_true(refs(u) > before);
    cryo_vm_pool_clear();
    assert_int_equal(refs(u), before);
    /* calls still work after a clear */
    assert_int_equal(cryo_sync_call(f, 1, &a, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 42);
    cryo_vm_pool_clear();
    cryo_sync_release(f);
    cryo_unit_release(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_clear_frees_the_last_sync_call_vm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
