/*
 * test-pool.c — the per-thread VM pool (cryo.h, "Pooled VMs"): an idle VM set up for the same
 * (unit, context) is preferred, else an idle VM is swapped to the new unit and context, else a
 * new VM is made; a released VM comes back reset (no error, no progress callback, userdata
 * NULL, the context's default limits); at most 16 idle VMs per thread (the rest are freed, seen
 * through malloc's statistics); idle VMs keep their unit alive; each thread has its own pool;
 * a VM released from inside its own run is left alone; cryo_vm_pool_clear gives the memory
 * back; and threads using their pools at once (TSan).
 */
#include "test.h"

static const char *SRC_A = "fn twice(x) { x * 2 } 21 * 2";
static const char *SRC_B = "\"b\"";

static int64_t run_int(cryo_vm *vm) {
    cryo_value r = cryo_unit_value();
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k != CRYO_OK) fail_msg("run: %s", cryo_vm_error(vm)->message);
    assert_int_equal(r.type, CRYO_T_INT);
    return r.as.i;
}

static void test_prefers_a_vm_set_up_for_the_unit(void **state) {
    (void)state;
    cryo_vm_pool_clear();
    cryo_unit *ua = test_compile(SRC_A), *ub = test_compile(SRC_B);
    cryo_vm *a = cryo_vm_pool_acquire(ua, NULL);
    cryo_vm *b = cryo_vm_pool_acquire(ub, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    cryo_vm_pool_release(a);
    cryo_vm_pool_release(b); /* b is now first in the pool */
    assert_ptr_equal(cryo_vm_pool_acquire(ua, NULL), a);
    assert_ptr_equal(cryo_vm_pool_acquire(ub, cryo_context_std()), b); /* NULL = std */
    assert_int_equal(run_int(a), 42);
    /* the only idle VM is swapped to another unit: same VM, the new unit runs */
    cryo_vm_pool_release(b);
    assert_ptr_equal(cryo_vm_pool_acquire(ua, NULL), b);
    assert_int_equal(run_int(b), 42);
    /* an empty pool makes a new VM */
    cryo_vm *c = cryo_vm_pool_acquire(ub, NULL);
    assert_non_null(c);
    assert_ptr_not_equal(c, a);
    assert_ptr_not_equal(c, b);
    /* any VM may be released into the pool, pooled or not */
    cryo_vm *d = cryo_vm_new(ub, NULL);
    cryo_vm_pool_release(d);
    assert_ptr_equal(cryo_vm_pool_acquire(ub, NULL), d);
    cryo_vm_pool_release(a);
    cryo_vm_pool_release(b);
    cryo_vm_pool_release(c);
    cryo_vm_pool_release(d);
    cryo_vm_pool_clear();
    cryo_unit_release(ua);
    cryo_unit_release(ub);
    assert_null(cryo_vm_pool_acquire(NULL, NULL));
    cryo_vm_pool_release(NULL);
}

static int progress_calls;
static bool count_progress(void *ud, uint64_t ops) {
    (void)ud, (void)ops;
    progress_calls++;
    return true;
}

static void test_released_vms_come_back_reset(void **state) {
    (void)state;
    cryo_vm_pool_clear();
    cryo_context_config cfg = {.packages = (cryo_package *[]){cryo_package_std()}, .npackages = 1};
    cfg.limits[CRYO_LIMIT_OPERATIONS] = 1000000;
    cryo_context *ctx = cryo_context_new(&cfg);
    assert_non_null(ctx);
    cryo_unit *u =
        test_compile("let s = 0; for i in 0..1000 { s += i } if s > 0 { throw `e${s}` }");
    cryo_vm *vm = cryo_vm_pool_acquire(u, ctx);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_OPERATIONS), 1000000);
    int marker = 0;
    cryo_vm_set_userdata(vm, &marker);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 100);
    cryo_vm_set_progress(vm, count_progress, NULL, 1);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_true(progress_calls > 0);
    assert_non_null(cryo_vm_error(vm));
    cryo_vm_pool_release(vm);

    progress_calls = 0;
    assert_ptr_equal(cryo_vm_pool_acquire(u, ctx), vm);
    assert_null(cryo_vm_error(vm));
    assert_null(cryo_vm_userdata(vm));
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_OPERATIONS), 1000000);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_RUNTIME); /* the limit is gone */
    assert_string_equal(cryo_vm_error(vm)->message, "e499500");
    assert_int_equal(progress_calls, 0); /* and so is the progress callback */
    cryo_vm_pool_release(vm);
    cryo_vm_pool_clear();
    cryo_unit_release(u);
    cryo_context_release(ctx);
}

static void test_idle_vms_keep_their_unit(void **state) {
    (void)state;
    cryo_vm_pool_clear();
    cryo_unit *u = test_compile(SRC_A);
    cryo_vm *vm = cryo_vm_pool_acquire(u, NULL);
    cryo_vm_pool_release(vm);
    cryo_unit_release(u); /* the idle VM's reference keeps it (ASan would see a use after free) */
    cryo_vm *again = cryo_vm_pool_acquire(u, NULL);
    assert_ptr_equal(again, vm);
    assert_int_equal(run_int(again), 42);
    cryo_value r;
    cryo_value x = cryo_int(5);
    assert_int_equal(cryo_vm_call(again, "twice", 1, &x, &r), CRYO_OK);
    assert_int_equal(r.as.i, 10);
    cryo_vm_pool_release(again);
    cryo_vm_pool_clear(); /* the last reference goes with the VM */
}

static void test_at_most_16_idle_vms(void **state) {
    (void)state;
    cryo_vm_pool_clear();
    cryo_unit *u = test_compile(SRC_A);
    enum { N = 17 };
    cryo_vm *vm[N];
    for (int i = 0; i < N; i++) {
        vm[i] = cryo_vm_pool_acquire(u, NULL);
        assert_non_null(vm[i]);
    }
    cryo_vm_pool_release(vm[0]); /* makes the thread's pool */
    bool counted = test_heap_counted(600);
    size_t b0 = test_heap_in_use();
    for (int i = 1; i < 16; i++)
        cryo_vm_pool_release(vm[i]);
    size_t b16 = test_heap_in_use();
    cryo_vm_pool_release(vm[16]); /* the 17th: freed */
    size_t b17 = test_heap_in_use();
    /* the 16 idle ones are handed out again, every one of them */
    cryo_vm *again[16];
    for (int i = 0; i < 16; i++) {
        again[i] = cryo_vm_pool_acquire(u, NULL);
        bool known = false;
        for (int j = 0; j < 16; j++)
            known = known || again[i] == vm[j];
        assert_true(known);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(again[i], again[j]);
    }
    for (int i = 0; i < 16; i++)
        cryo_vm_pool_release(again[i]);
    size_t before_clear = test_heap_in_use();
    cryo_vm_pool_clear();
    size_t after_clear = test_heap_in_use();
    cryo_unit_release(u);
    if (!counted) return;
    assert_int_equal(b16, b0); /* keeping a VM idle frees nothing */
    assert_true(b17 < b16);    /* the one past 16 is freed */
    assert_true(after_clear + 16 * (b16 - b17) <= before_clear); /* clear frees all 16 */
}

/* A host function that releases its own VM into the pool: refused quietly. */
static cryo_error_kind h_release_me(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                    cryo_value *ret) {
    (void)ud, (void)argc, (void)argv;
    cryo_vm_pool_release(vm);
    *ret = cryo_int(1);
    return CRYO_OK;
}

static void test_release_inside_a_run_is_ignored(void **state) {
    (void)state;
    cryo_vm_pool_clear();
    cryo_package *pkg = cryo_package_new("pool");
    assert_int_equal(cryo_package_add(pkg, "release_me", 0, h_release_me, NULL), CRYO_OK);
    cryo_context_config cfg = {.packages = &pkg, .npackages = 1};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    cryo_unit *u = test_compile("let a = 2; release_me() + a");
    cryo_vm *vm = cryo_vm_pool_acquire(u, ctx);
    assert_int_equal(run_int(vm), 3);
    /* the VM was not pooled: a new acquire gives another VM */
    cryo_vm *other = cryo_vm_pool_acquire(u, ctx);
    assert_ptr_not_equal(other, vm);
    assert_int_equal(run_int(vm), 3); /* still the caller's, still usable */
    cryo_vm_pool_release(other);
    cryo_vm_pool_release(vm);
    cryo_vm_pool_clear();
    cryo_unit_release(u);
    cryo_context_release(ctx);
}

/* --- threads -----------------------------------------------------------------------------------
 */

typedef struct pool_thread {
    cryo_unit *ua, *ub;
    cryo_vm *idle_elsewhere; /* a VM idle in the main thread's pool */
    int errors;
    bool got_foreign;
} pool_thread;

static void *pool_thread_main(void *p) {
    pool_thread *t = p;
    for (int i = 0; i < 200; i++) {
        cryo_unit *u = i % 2 ? t->ua : t->ub;
        cryo_vm *vm = cryo_vm_pool_acquire(u, NULL);
        if (vm == t->idle_elsewhere) t->got_foreign = true;
        cryo_value r = cryo_unit_value();
        if (!vm || cryo_vm_run(vm, NULL, 0, &r) != CRYO_OK) {
            t->errors++;
        } else if (i % 2 ? r.type != CRYO_T_INT || r.as.i != 42 : r.type != CRYO_T_STRING) {
            t->errors++;
        }
        cryo_value_release(r);
        cryo_vm_pool_release(vm);
    }
    cryo_vm_pool_clear();
    return NULL;
}

static void test_each_thread_has_its_own_pool(void **state) {
    (void)state;
    cryo_vm_pool_clear();
    cryo_unit *ua = test_compile(SRC_A), *ub = test_compile(SRC_B);
    cryo_vm *mine = cryo_vm_pool_acquire(ua, NULL);
    cryo_vm_pool_release(mine); /* idle here, for ua: never handed to another thread */
    enum { T = 4 };
    pool_thread t[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        t[i] = (pool_thread){.ua = ua, .ub = ub, .idle_elsewhere = mine};
        assert_int_equal(pthread_create(&th[i], NULL, pool_thread_main, &t[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].errors, 0);
        assert_false(t[i].got_foreign);
    }
    assert_ptr_equal(cryo_vm_pool_acquire(ua, NULL), mine);
    cryo_vm_pool_release(mine);
    cryo_vm_pool_clear();
    cryo_unit_release(ua);
    cryo_unit_release(ub);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefers_a_vm_set_up_for_the_unit),
        cmocka_unit_test(test_released_vms_come_back_reset),
        cmocka_unit_test(test_idle_vms_keep_their_unit),
        cmocka_unit_test(test_at_most_16_idle_vms),
        cmocka_unit_test(test_release_inside_a_run_is_ignored),
        cmocka_unit_test(test_each_thread_has_its_own_pool),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    cryo_vm_pool_clear();
    return r;
}
