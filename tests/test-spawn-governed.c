/*
 * test-spawn-governed.c — spawned threads stay inside their parent's bounds: they inherit its
 * limits, share one operations and memory budget with it, stop when it is interrupted or its
 * run ends, count against a thread limit, and need the CRYO_CAP_THREADS capability.
 */
#include "test.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct run_opts {
    uint64_t ops, mem, threads, array;
    cryo_context *ctx;
} run_opts;

/* Runs src under the given limits; returns the kind, the result's debug text or the error
 * message in *text (owned). */
static cryo_error_kind run(const char *src, run_opts o, char **text) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, o.ctx);
    if (o.ops) cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, o.ops);
    if (o.mem) cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, o.mem);
    if (o.threads) cryo_vm_set_limit(vm, CRYO_LIMIT_THREADS, o.threads);
    if (o.array) cryo_vm_set_limit(vm, CRYO_LIMIT_ARRAY_SIZE, o.array);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k == CRYO_OK) {
        *text = cryo_value_to_cstring(r, true);
        cryo_value_release(r);
    } else {
        *text = strdup(cryo_vm_error(vm)->message);
    }
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return k;
}

static void expect_kind(const char *src, run_opts o, cryo_error_kind want, const char *needle) {
    char *s;
    cryo_error_kind k = run(src, o, &s);
    if (k != want || (needle && !strstr(s, needle)))
        fprintf(stderr, "%s\n  -> %s: %s\n", src, cryo_error_kind_name(k), s);
    assert_int_equal(k, want);
    if (needle) assert_non_null(strstr(s, needle));
    free(s);
}

static void test_spawn_join_under_ops_limit_returns_limit_error(void **state) {
    (void)state;
    double t0 = now_s();
    expect_kind("spawn(|| loop {}).join()", (run_opts){.ops = 100000}, CRYO_ERR_TOO_MANY_OPERATIONS,
                "shared with spawned threads");
    /* not catchable in the parent either */
    expect_kind("try { spawn(|| loop {}).join(); 1 } catch (e) { 2 }", (run_opts){.ops = 100000},
                CRYO_ERR_TOO_MANY_OPERATIONS, NULL);
    assert_true(now_s() - t0 < 5.0);
}

static void test_threads_share_the_operations_budget(void **state) {
    (void)state;
    /* one thread of 40,000 operations fits in 100,000; four do not, since they share it */
    const char *one = "spawn(|| { let x = 0; for i in 0..10000 { x += 1 } x }).join()";
    const char *four = "let hs = []; for i in 0..4 { hs.push(spawn(|| { let x = 0; "
                       "for i in 0..10000 { x += 1 } x })) } let t = 0; "
                       "for h in hs { t += h.join() } t";
    char *s;
    assert_int_equal(run(one, (run_opts){.ops = 100000}, &s), CRYO_OK);
    assert_string_equal(s, "10000");
    free(s);
    expect_kind(four, (run_opts){.ops = 100000}, CRYO_ERR_TOO_MANY_OPERATIONS, NULL);
    /* without a limit, the four agree with the sequential sum */
    assert_int_equal(run(four, (run_opts){0}, &s), CRYO_OK);
    assert_string_equal(s, "40000");
    free(s);
}

static void test_threads_share_the_memory_budget(void **state) {
    (void)state;
    const char *child = "spawn(|| { let b = []; for i in 0..100000 { b.push(i) } b.len() }).join()";
    const char *both = "let a = []; for i in 0..100000 { a.push(i) } "
                       "spawn(|| { let b = []; for i in 0..100000 { b.push(i) } b.len() })"
                       ".join() + a.len()";
    char *s;
    assert_int_equal(run(child, (run_opts){.mem = 4000000}, &s), CRYO_OK);
    free(s);
    /* the parent holds half the budget: the child's array no longer fits */
    expect_kind(both, (run_opts){.mem = 4000000}, CRYO_ERR_MEMORY, "4000000");
    assert_int_equal(run(both, (run_opts){.mem = 16000000}, &s), CRYO_OK);
    assert_string_equal(s, "200000");
    free(s);
}

static void test_spawned_thread_inherits_limits(void **state) {
    (void)state;
    /* the parent's array limit applies in the child */
    expect_kind("spawn(|| { let a = []; for i in 0..20 { a.push(i) } a }).join()",
                (run_opts){.array = 10}, CRYO_ERR_DATA_TOO_LARGE, NULL);
}

static cryo_error_kind lower_array_limit(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                         cryo_value *ret) {
    (void)ud, (void)argc, (void)argv, (void)ret;
    cryo_vm_set_limit(vm, CRYO_LIMIT_ARRAY_SIZE, 50);
    return CRYO_OK;
}

static void test_join_result_counts_against_size_limits(void **state) {
    (void)state;
    cryo_package *pk = cryo_package_new("t");
    cryo_package_add(pk, "lower", 0, lower_array_limit, NULL);
    cryo_package *pkgs[2] = {cryo_package_std(), pk};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2, .capabilities = CRYO_CAP_THREADS};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(pk);
    /* the child ran under no array limit; the value it brings back exceeds the parent's */
    expect_kind("let h = spawn(|| { let a = []; for i in 0..60 { a.push(i) } [a] }); lower(); "
                "h.join()",
                (run_opts){.ctx = ctx}, CRYO_ERR_DATA_TOO_LARGE, NULL);
    char *s;
    assert_int_equal(run("let h = spawn(|| { let a = []; for i in 0..40 { a.push(i) } a }); "
                         "lower(); h.join().len()",
                         (run_opts){.ctx = ctx}, &s),
                     CRYO_OK);
    assert_string_equal(s, "40");
    free(s);
    cryo_context_release(ctx);
}

static void test_thread_limit_refuses_catchably(void **state) {
    (void)state;
    const char *src = "let hs = []; for i in 0..3 { hs.push(spawn(|| loop {})) } "
                      "try { spawn(|| 1); \"spawned\" } catch (e) { `${e}` }";
    char *s;
    assert_int_equal(run(src, (run_opts){.threads = 3}, &s), CRYO_OK);
    assert_non_null(strstr(s, "too many threads running (limit 3)"));
    free(s);
    /* the default limit is small (8) */
    assert_int_equal(run("let hs = []; let n = 0; try { for i in 0..100 { hs.push(spawn(|| loop "
                         "{})); n += 1; } } catch (e) { } n",
                         (run_opts){0}, &s),
                     CRYO_OK);
    assert_string_equal(s, "8");
    free(s);
    /* threads that ended free their place: a long loop of spawn/join is fine */
    assert_int_equal(run("let t = 0; for i in 0..50 { t += spawn(|x| x, i).join() } t",
                         (run_opts){.threads = 2}, &s),
                     CRYO_OK);
    assert_string_equal(s, "1225");
    free(s);
    /* dropped handles too: finished threads are reaped at the next spawn */
    assert_int_equal(run("for i in 0..50 { spawn(|| 1); } 7", (run_opts){.threads = 50}, &s),
                     CRYO_OK);
    free(s);
}

static void test_run_end_stops_unjoined_children(void **state) {
    (void)state;
    double t0 = now_s();
    char *s;
    /* without any limit the loops would run forever: the run's end stops and joins them */
    assert_int_equal(
        run("spawn(|| loop {}); spawn(|| { spawn(|| loop {}).join() }); 5", (run_opts){0}, &s),
        CRYO_OK);
    assert_string_equal(s, "5");
    free(s);
    /* an error ending the run does the same */
    expect_kind("spawn(|| loop {}); throw \"out\"", (run_opts){0}, CRYO_ERR_RUNTIME, "out");
    assert_true(now_s() - t0 < 5.0);
}

typedef struct interrupter {
    cryo_vm *vm;
    int delay_ms;
} interrupter;

static void *interrupt_later(void *p) {
    interrupter *it = p;
    struct timespec ts = {0, (long)it->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    cryo_vm_interrupt(it->vm);
    return NULL;
}

static cryo_error_kind run_interrupted(const char *src, int delay_ms) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    interrupter it = {vm, delay_ms};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, interrupt_later, &it), 0);
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, NULL);
    pthread_join(t, NULL);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return k;
}

static void test_interrupt_stops_children(void **state) {
    (void)state;
    double t0 = now_s();
    /* the parent waits in join: the interrupt reaches the join, which returns its error */
    assert_int_equal(run_interrupted("spawn(|| loop {}).join()", 50), CRYO_ERR_INTERRUPTED);
    /* the parent loops while its children (and theirs) loop */
    assert_int_equal(
        run_interrupted("spawn(|| loop {}); spawn(|| spawn(|| loop {}).join()); loop {}", 50),
        CRYO_ERR_INTERRUPTED);
    assert_true(now_s() - t0 < 5.0);
}

static void test_vm_free_joins_children_of_a_returned_handle(void **state) {
    (void)state;
    /* the handle escapes to the host as the result; the thread was still stopped and joined
     * at the run's end, and the handle outlives the VM */
    cryo_unit *u = test_compile("spawn(|| loop {})");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value h;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &h), CRYO_OK);
    assert_int_equal(h.type, CRYO_T_HANDLE);
    cryo_vm_free(vm);
    cryo_value_release(h);
    cryo_unit_release(u);
}

static void test_threads_capability_can_be_withheld(void **state) {
    (void)state;
    cryo_package *pkgs[1] = {cryo_package_std()};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 1};
    cryo_context *ctx = cryo_context_new(&cfg);
    assert_int_equal(cryo_context_capabilities(ctx) & CRYO_CAP_THREADS, 0);
    expect_kind("spawn(|| 1).join()", (run_opts){.ctx = ctx}, CRYO_ERR_NOT_FOUND,
                "lacks CRYO_CAP_THREADS");
    char *s;
    assert_int_equal(run("try { spawn(|| 1); 1 } catch (e) { 2 }", (run_opts){.ctx = ctx}, &s),
                     CRYO_OK);
    assert_string_equal(s, "2");
    free(s);
    /* into_sync stays available: only threads are withheld */
    assert_int_equal(run("(|x| x + 1).into_sync().call(1)", (run_opts){.ctx = ctx}, &s), CRYO_OK);
    assert_string_equal(s, "2");
    free(s);
    cryo_context_release(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_join_under_ops_limit_returns_limit_error),
        cmocka_unit_test(test_threads_share_the_operations_budget),
        cmocka_unit_test(test_threads_share_the_memory_budget),
        cmocka_unit_test(test_spawned_thread_inherits_limits),
        cmocka_unit_test(test_join_result_counts_against_size_limits),
        cmocka_unit_test(test_thread_limit_refuses_catchably),
        cmocka_unit_test(test_run_end_stops_unjoined_children),
        cmocka_unit_test(test_interrupt_stops_children),
        cmocka_unit_test(test_vm_free_joins_children_of_a_returned_handle),
        cmocka_unit_test(test_threads_capability_can_be_withheld),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
