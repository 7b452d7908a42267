/*
 * test-limits.c — every limit triggered by a script and reported with its kind (operations,
 * call depth, string, array and map size, memory), limits not catchable by try/catch, limits
 * set per context and per VM, the progress callback.
 */
#include "test.h"

/* Runs src with one limit set on the VM; returns the kind and copies the message. */
static cryo_error_kind run_limited(const char *src, cryo_limit which, uint64_t value, char *msg,
                                   size_t msgsz) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_vm_set_limit(vm, which, value);
    assert_int_equal(cryo_vm_get_limit(vm, which), value);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k == CRYO_OK) cryo_value_release(r);
    const cryo_error *e = cryo_vm_error(vm);
    snprintf(msg, msgsz, "%s", e ? e->message : "");
    if (k != CRYO_OK) assert_non_null(e), assert_int_equal(e->kind, k);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return k;
}

typedef struct limit_case {
    cryo_limit which;
    uint64_t value;
    const char *script;
    cryo_error_kind kind;
} limit_case;

static const limit_case cases[] = {
    {CRYO_LIMIT_OPERATIONS, 10000, "loop {}", CRYO_ERR_TOO_MANY_OPERATIONS},
    {CRYO_LIMIT_OPERATIONS, 10000, "let x = 0; while true { x += 1; }",
     CRYO_ERR_TOO_MANY_OPERATIONS},
    {CRYO_LIMIT_OPERATIONS, 1000,
     "fn f(n) { if n == 0 { 0 } else { f(n - 1) + 1 } } "
     "let s = 0; for i in 0..1000 { s += f(5) } s",
     CRYO_ERR_TOO_MANY_OPERATIONS},
    {CRYO_LIMIT_CALL_DEPTH, 10, "fn f(n) { f(n + 1) } f(0)", CRYO_ERR_STACK_OVERFLOW},
    {CRYO_LIMIT_CALL_DEPTH, 64, "fn f(n) { if n == 0 { 0 } else { 1 + f(n - 1) } } f(1000)",
     CRYO_ERR_STACK_OVERFLOW},
    {CRYO_LIMIT_STRING_SIZE, 100, "let s = \"ab\"; loop { s += s; }", CRYO_ERR_DATA_TOO_LARGE},
    {CRYO_LIMIT_STRING_SIZE, 100, "let s = \"\"; for i in 0..1000 { s += \"x\"; }",
     CRYO_ERR_DATA_TOO_LARGE},
    {CRYO_LIMIT_ARRAY_SIZE, 100, "let a = []; loop { a.push(1); }", CRYO_ERR_DATA_TOO_LARGE},
    {CRYO_LIMIT_ARRAY_SIZE, 100, "let a = [1]; loop { a += a; }", CRYO_ERR_DATA_TOO_LARGE},
    {CRYO_LIMIT_MAP_SIZE, 50, "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
     CRYO_ERR_DATA_TOO_LARGE},
    {CRYO_LIMIT_MEMORY, 100000, "let a = []; loop { a.push(\"some text \" + a.len()); }",
     CRYO_ERR_MEMORY},
    {CRYO_LIMIT_MEMORY, 100000, "let s = \"x\"; loop { s += s; }", CRYO_ERR_MEMORY},
};

static void test_each_limit(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const limit_case *c = &cases[i];
        char msg[256];
        cryo_error_kind k = run_limited(c->script, c->which, c->value, msg, sizeof msg);
        if (k != c->kind)
            fail_msg("case %zu (%s): expected %s, got %s: %s", i, c->script,
                     cryo_error_kind_name(c->kind), cryo_error_kind_name(k), msg);
        assert_true(strlen(msg) > 0);
    }
}

/* Within the limit, the same scripts succeed. */
static void test_under_limits(void **state) {
    (void)state;
    char msg[256];
    assert_int_equal(run_limited("let s = 0; for i in 0..100 { s += i } s", CRYO_LIMIT_OPERATIONS,
                                 100000, msg, sizeof msg),
                     CRYO_OK);
    assert_int_equal(run_limited("fn f(n) { if n == 0 { 0 } else { 1 + f(n - 1) } } f(50)",
                                 CRYO_LIMIT_CALL_DEPTH, 64, msg, sizeof msg),
                     CRYO_OK);
    assert_int_equal(run_limited("let s = \"\"; for i in 0..50 { s += \"x\" } s.len()",
                                 CRYO_LIMIT_STRING_SIZE, 100, msg, sizeof msg),
                     CRYO_OK);
    assert_int_equal(run_limited("let a = []; for i in 0..100 { a.push(i) } a.len()",
                                 CRYO_LIMIT_ARRAY_SIZE, 100, msg, sizeof msg),
                     CRYO_OK);
    assert_int_equal(run_limited("let a = []; for i in 0..100 { a.push(i) } a.len()",
                                 CRYO_LIMIT_MEMORY, 100000, msg, sizeof msg),
                     CRYO_OK);
}

/* Scripts cannot catch limit errors. */
static void test_not_catchable(void **state) {
    (void)state;
    char msg[256];
    assert_int_equal(run_limited("try { loop {} } catch (e) { 1 }", CRYO_LIMIT_OPERATIONS, 5000,
                                 msg, sizeof msg),
                     CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_int_equal(run_limited("fn f(n) { f(n + 1) } try { f(0) } catch (e) { 1 }",
                                 CRYO_LIMIT_CALL_DEPTH, 20, msg, sizeof msg),
                     CRYO_ERR_STACK_OVERFLOW);
    assert_int_equal(run_limited("try { let a = []; loop { a.push(1) } } catch (e) { 1 }",
                                 CRYO_LIMIT_ARRAY_SIZE, 10, msg, sizeof msg),
                     CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(run_limited("try { let s = \"x\"; loop { s += s } } catch (e) { 1 }",
                                 CRYO_LIMIT_MEMORY, 50000, msg, sizeof msg),
                     CRYO_ERR_MEMORY);
}

/* The operations limit may fire on any instruction; what the instruction held must be released
 * (SETFIELD counted its operation after retaining the value: each run stopped there kept the
 * string alive, found by fuzz_image). One VM runs the script under every limit from 40 to 240
 * operations, 100 times: a value stranded per stop would add up past the memory limit, and the
 * runs would end with the memory error instead of the operations one. */
static void test_stop_anywhere_releases(void **state) {
    (void)state;
    const char *src = "let s = \"abcdefghijklmnopqrstuvwxyz\" + \"0123456789abcdef\"; "
                      "let o = #{}; loop { o.x = s; o.y = [s]; o[\"z\"] = s; }";
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    assert_non_null(vm);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 16u << 10);
    for (int round = 0; round < 100; round++)
        for (uint64_t ops = 40; ops <= 240; ops++) {
            cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, ops);
            cryo_value r;
            assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_TOO_MANY_OPERATIONS);
        }
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* Limits from the context are the VM's defaults; a VM may change its own; a pooled VM gets
 * the context's back on release. */
static void test_context_limits(void **state) {
    (void)state;
    cryo_package *std = cryo_package_std();
    cryo_context_config cfg = {
        .packages = &std,
        .npackages = 1,
        .limits = {[CRYO_LIMIT_OPERATIONS] = 5000, [CRYO_LIMIT_MAP_SIZE] = 3}};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_unit *u = test_compile("loop {}");
    cryo_unit *m = test_compile("#{a: 1, b: 2, c: 3, d: 4}");
    cryo_vm *vm = cryo_vm_pool_acquire(u, ctx);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_int_equal(cryo_vm_set_unit(vm, m), CRYO_OK);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_DATA_TOO_LARGE);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MAP_SIZE, 0); /* this VM only */
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(cryo_map_len(r), 4);
    cryo_value_release(r);
    cryo_vm_pool_release(vm);
    cryo_vm *again = cryo_vm_pool_acquire(m, ctx);
    assert_ptr_equal(again, vm);
    assert_int_equal(cryo_vm_get_limit(again, CRYO_LIMIT_MAP_SIZE), 3);
    assert_int_equal(cryo_vm_run(again, NULL, 0, NULL), CRYO_ERR_DATA_TOO_LARGE);
    /* Over the std context: no operation limit. */
    assert_int_equal(cryo_vm_set_context(again, NULL), CRYO_OK);
    assert_int_equal(cryo_vm_get_limit(again, CRYO_LIMIT_OPERATIONS), 0);
    assert_int_equal(cryo_vm_run(again, NULL, 0, &r), CRYO_OK);
    cryo_value_release(r);
    cryo_vm_pool_release(again);
    cryo_vm_pool_clear();
    cryo_unit_release(u);
    cryo_unit_release(m);
    cryo_context_release(ctx);
}

/* --- the progress callback ---------------------------------------------------------------------
 */

typedef struct progress {
    int calls;
    int stop_after;
    uint64_t last_ops;
} progress;

static bool on_progress(void *ud, uint64_t ops) {
    progress *p = ud;
    assert_true(ops >= p->last_ops);
    p->last_ops = ops;
    return ++p->calls < p->stop_after;
}

static void test_progress(void **state) {
    (void)state;
    cryo_unit *u = test_compile("loop {}");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    progress p = {0, 5, 0};
    cryo_vm_set_progress(vm, on_progress, &p, 1000);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_INTERRUPTED);
    assert_int_equal(p.calls, 5);
    assert_true(p.last_ops >= 5000);
    assert_true(p.last_ops < 7000);
    assert_string_equal(cryo_vm_error(vm)->message, "stopped by the progress callback");
    /* Runs again from zero: the count restarts each run. */
    p = (progress){0, 2, 0};
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_INTERRUPTED);
    assert_int_equal(p.calls, 2);
    assert_true(p.last_ops < 3000);
    /* With an operation limit as well: whichever comes first. */
    p = (progress){0, 1000000, 0};
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 10500);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_true(p.calls >= 10);
    cryo_vm_free(vm);
    cryo_unit_release(u);

    /* A script that finishes: the callback only observes. */
    u = test_compile("let s = 0; for i in 0..10000 { s += i } s");
    vm = cryo_vm_new(u, NULL);
    p = (progress){0, 1000000, 0};
    cryo_vm_set_progress(vm, on_progress, &p, 100);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 49995000);
    assert_true(p.calls > 10);
    /* Removed: no more calls. */
    cryo_vm_set_progress(vm, NULL, NULL, 0);
    p.calls = 0;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(p.calls, 0);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_limit),    cmocka_unit_test(test_under_limits),
        cmocka_unit_test(test_not_catchable), cmocka_unit_test(test_context_limits),
        cmocka_unit_test(test_progress),      cmocka_unit_test(test_stop_anywhere_releases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
