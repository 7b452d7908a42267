/*
 * test-pool-cache.c — the per-thread VM cache's rule (src/vm/cache.c, docs/notes/vm-cache.md):
 * a kept VM is never handed out for another key, nor while a call runs on it (a nested call of
 * the same key takes a second VM); forgetting a key (a SyncFunction released, a callback freed)
 * leaves nothing ready for it; a thread's kept VMs are freed when it exits.
 */
#include "test.h"

#include "unit.h" /* the unit's reference count */
#include "vm.h"   /* cvm_cache_* */

static unsigned refs(cryo_unit *u) {
    return atomic_load(&u->refcount);
}

/* Keys are opaque addresses; these are never freed. */
static const char key_a, key_b;

static void test_cache_never_gives_a_kept_vm_to_another_key(void **state) {
    (void)state;
    cryo_unit *u = test_compile("|x| x + 1");
    cvm_kept *ka, *kb, *k2;
    bool fresh;
    cryo_vm *a = cvm_cache_take(&key_a, u, NULL, &ka, &fresh);
    assert_non_null(a);
    assert_non_null(ka);
    assert_true(ka->busy);
    /* while a's call runs, another key gets another VM */
    cryo_vm *b = cvm_cache_take(&key_b, u, NULL, &kb, &fresh);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    cvm_cache_give(kb, b, true);
    cvm_cache_leave(ka, &key_a, true);
    assert_ptr_equal(cvm_cache_ready(&key_a), ka);
    assert_null(cvm_cache_ready(&key_b)); /* kept, but nobody said it is ready */
    /* idle now, a's VM still goes to a only: b finds its own */
    cryo_vm *b2 = cvm_cache_take(&key_b, u, NULL, &k2, &fresh);
    assert_ptr_equal(b2, b);
    assert_false(fresh);                           /* kept, not reset */
    assert_ptr_equal(cvm_cache_ready(&key_a), ka); /* untouched by b's call */
    cvm_cache_give(k2, b2, true);
    cryo_vm *a2 = cvm_cache_take(&key_a, u, NULL, &k2, &fresh);
    assert_ptr_equal(a2, a);
    assert_null(cvm_cache_ready(&key_a)); /* taken: not ready while it runs */
    cvm_cache_give(k2, a2, true);
    cryo_vm_pool_clear();
    cryo_unit_release(u);
}

static void test_cache_nested_call_of_a_key_takes_a_second_vm(void **state) {
    (void)state;
    cryo_unit *u = test_compile("|x| x + 1");
    cvm_kept *k1, *k2;
    bool fresh;
    cryo_vm *v1 = cvm_cache_take(&key_a, u, NULL, &k1, &fresh);
    assert_non_null(k1);
    cryo_vm *v2 = cvm_cache_take(&key_a, u, NULL, &k2, &fresh);
    assert_non_null(v2);
    assert_ptr_not_equal(v1, v2);
    assert_null(k2); /* not kept: the key's VM is busy */
    cvm_cache_give(k2, v2, true);
    cvm_cache_leave(k1, &key_a, true);
    /* the hot path: a nested call while the ready VM runs finds nothing ready */
    cvm_kept *k = cvm_cache_ready(&key_a);
    assert_ptr_equal(k, k1);
    assert_ptr_equal(cvm_cache_enter(k), v1);
    assert_null(cvm_cache_ready(&key_a));
    cryo_vm *v3 = cvm_cache_take(&key_a, u, NULL, &k2, &fresh);
    assert_ptr_not_equal(v3, v1);
    assert_null(k2);
    cvm_cache_give(k2, v3, true);
    cvm_cache_leave(k, &key_a, true);
    assert_ptr_equal(cvm_cache_ready(&key_a), k1);
    cryo_vm_pool_clear();
    assert_null(cvm_cache_ready(&key_a));
    cryo_unit_release(u);
}

static void test_cache_forgotten_key_has_nothing_ready(void **state) {
    (void)state;
    cryo_unit *u = test_compile("|x| x + 1");
    cvm_kept *k;
    bool fresh;
    cryo_vm *v = cvm_cache_take(&key_a, u, NULL, &k, &fresh);
    cvm_cache_leave(k, &key_a, true);
    assert_non_null(cvm_cache_ready(&key_a));
    cvm_cache_forget(&key_a);
    assert_null(cvm_cache_ready(&key_a));
    cryo_vm *w = cvm_cache_take(&key_a, u, NULL, &k, &fresh);
    assert_true(fresh); /* the old VM went through the idle list's reset */
    (void)v;
    /* forgotten while its call runs: given back at the end, never ready again */
    cvm_cache_forget(&key_a);
    cvm_cache_leave(k, &key_a, true);
    assert_null(cvm_cache_ready(&key_a));
    w = cvm_cache_take(&key_a, u, NULL, &k, &fresh);
    assert_true(fresh);
    cvm_cache_give(k, w, true);
    cryo_vm_pool_clear();
    cryo_unit_release(u);
}

/* A SyncFunction is its calls' key: its last release forgets it, so a new SyncFunction at the
 * same address never finds a VM ready for the old one. */
static void test_cache_sync_call_keeps_a_ready_vm_until_release(void **state) {
    (void)state;
    cryo_sync *f = test_sync(NULL, "|x| x + 1");
    cryo_const arg = cryo_const_int(41), r;
    assert_int_equal(cryo_sync_call(f, 1, &arg, &r, NULL), CRYO_OK);
    cvm_kept *k = cvm_cache_ready(f);
    assert_non_null(k);
    cryo_vm *vm = k->vm;
    assert_int_equal(cryo_sync_call(f, 1, &arg, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 42);
    assert_ptr_equal(cvm_cache_ready(f), k);
    assert_ptr_equal(k->vm, vm); /* the same VM, no reset in between */
    const void *key = f;
    cryo_sync_release(f);
    assert_null(cvm_cache_ready(key));
    cryo_vm_pool_clear();
}

/* More keys than kept entries: the oldest not running gives its VM back; none is lost. */
static void test_cache_evicts_past_its_bound(void **state) {
    (void)state;
    cryo_unit *u = test_compile("|x| x + 1");
    static const char keys[CVM_CACHE_KEPT + 2];
    unsigned before = refs(u);
    for (int i = 0; i < CVM_CACHE_KEPT + 2; i++) {
        cvm_kept *k;
        bool fresh;
        cryo_vm *v = cvm_cache_take(&keys[i], u, NULL, &k, &fresh);
        assert_non_null(k);
        cvm_cache_leave(k, &keys[i], true);
        assert_ptr_equal(cvm_cache_ready(&keys[i]), k);
        (void)v;
    }
    int kept = 0;
    for (int i = 0; i < CVM_CACHE_KEPT; i++)
        kept += cvm_tc.kept[i].vm != NULL;
    assert_int_equal(kept, CVM_CACHE_KEPT);
    assert_true(refs(u) > before);
    cryo_vm_pool_clear();
    assert_int_equal(refs(u), before); /* every VM, kept or idle, freed */
    cryo_unit_release(u);
}

static void *call_and_exit(void *arg) {
    cryo_sync *f = arg;
    cryo_const a = cryo_const_int(1), r;
    cryo_error_kind k = cryo_sync_call(f, 1, &a, &r, NULL);
    /* the thread keeps a VM ready for f, and exits without cryo_vm_pool_clear */
    return (void *)(intptr_t)(k == CRYO_OK && cvm_cache_ready(f) != NULL);
}

static void test_cache_thread_exit_frees_kept_vms(void **state) {
    (void)state;
    const char *src = "|x| x + 1";
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value v;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_OK);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, v, &f), CRYO_OK);
    cryo_value_release(v);
    cryo_vm_free(vm);
    unsigned before = refs(u);
    pthread_t t;
    void *kept = NULL;
    assert_int_equal(pthread_create(&t, NULL, call_and_exit, f), 0);
    assert_int_equal(pthread_join(t, &kept), 0);
    assert_true(kept != NULL);
    /* the kept VM held a unit reference: the thread's exit freed it */
    assert_int_equal(refs(u), before);
    cryo_sync_release(f);
    cryo_unit_release(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_never_gives_a_kept_vm_to_another_key),
        cmocka_unit_test(test_cache_nested_call_of_a_key_takes_a_second_vm),
        cmocka_unit_test(test_cache_forgotten_key_has_nothing_ready),
        cmocka_unit_test(test_cache_sync_call_keeps_a_ready_vm_until_release),
        cmocka_unit_test(test_cache_evicts_past_its_bound),
        cmocka_unit_test(test_cache_thread_exit_frees_kept_vms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
