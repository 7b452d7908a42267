/*
 * test-package-context.c — packages and contexts (cryo.h, "Packages" and "Contexts"): building
 * a package and its errors (sealed, bad names and arities, NULL, self-inclusion), the lookup
 * rules (a package's own functions first and the first registration wins, then its includes in
 * order; an exact arity wins over a variadic one anywhere in the context; the context's
 * packages in order), a unit bound once per context, references (a context keeps its packages;
 * the std and raw contexts and the std package are static), default limits and capabilities
 * (threads, eval), invalid configurations, host errors raised with cryo_vm_raise, and threads
 * binding one unit in one context at once.
 */
/* ctest-labels: threads */
#include "test.h"

/* Returns the int its userdata points to: which registration answered. */
static cryo_error_kind h_tag(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)vm, (void)argc, (void)argv;
    *ret = cryo_int(*(const int *)ud);
    return CRYO_OK;
}

static const int TAG[] = {0, 1, 2, 3, 4, 5, 6, 7};

/* A sealed package `name` with `fn`/`arity` answering `tag`. */
static cryo_package *pkg_with(const char *fn, int arity, int tag) {
    cryo_package *p = cryo_package_new("p");
    assert_non_null(p);
    assert_int_equal(cryo_package_add(p, fn, arity, h_tag, (void *)&TAG[tag]), CRYO_OK);
    return p;
}

static cryo_context *ctx_of(cryo_package *a, cryo_package *b) {
    cryo_package *pk[2] = {a, b};
    cryo_context_config cfg = {.packages = pk, .npackages = b ? 2 : 1};
    cryo_context *c = cryo_context_new(&cfg);
    assert_non_null(c);
    return c;
}

static void test_package_errors(void **state) {
    (void)state;
    cryo_package *p = cryo_package_new(NULL); /* a name is optional */
    assert_non_null(p);
    assert_int_equal(cryo_package_add(p, "ok", 0, h_tag, (void *)&TAG[1]), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "any", -1, h_tag, (void *)&TAG[1]), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "max", 255, h_tag, (void *)&TAG[1]), CRYO_OK);
    /* invalid names, arities and functions */
    const char *bad_names[] = {"", "a b", "f(", "g)", "h,i"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        assert_int_equal(cryo_package_add(p, bad_names[i], 0, h_tag, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(p, NULL, 0, h_tag, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(p, "f", 256, h_tag, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(p, "f", -2, h_tag, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(p, "f", 0, NULL, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(NULL, "f", 0, h_tag, NULL), CRYO_ERR_API);
    /* includes */
    assert_int_equal(cryo_package_include(p, p), CRYO_ERR_API);
    assert_int_equal(cryo_package_include(p, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_include(NULL, p), CRYO_ERR_API);
    cryo_package *other = pkg_with("o", 0, 2);
    assert_int_equal(cryo_package_include(p, other), CRYO_OK);
    /* an included package is sealed by the include */
    assert_int_equal(cryo_package_add(other, "late", 0, h_tag, NULL), CRYO_ERR_API);
    cryo_package_release(other); /* p keeps it */
    /* sealing: nothing more can be added or included; twice is a no-op */
    cryo_package_seal(p);
    cryo_package_seal(p);
    cryo_package_seal(NULL);
    assert_int_equal(cryo_package_add(p, "late", 0, h_tag, NULL), CRYO_ERR_API);
    cryo_package *third = pkg_with("t", 0, 3);
    assert_int_equal(cryo_package_include(p, third), CRYO_ERR_API);
    cryo_package_release(third);
    /* what was added works, the included package too */
    cryo_context *c = ctx_of(p, NULL);
    EXPECT_IN(c, "[ok(), any(1, 2, 3), o()]", "[1, 1, 2]");
    EXPECT_ERR_IN(c, "ok(1)", CRYO_ERR_NOT_FOUND, "ok");
    cryo_context_release(c);
    assert_ptr_equal(cryo_package_retain(p), p);
    cryo_package_release(p);
    cryo_package_release(p);
    cryo_package_release(NULL);
}

static void test_lookup_rules(void **state) {
    (void)state;
    /* the first registration of (name, arity) wins */
    cryo_package *a = pkg_with("f", 1, 1);
    assert_int_equal(cryo_package_add(a, "f", 1, h_tag, (void *)&TAG[2]), CRYO_OK);
    /* own functions before includes, includes in order */
    cryo_package *inc1 = pkg_with("g", 0, 5), *inc2 = pkg_with("g", 0, 6);
    assert_int_equal(cryo_package_add(inc2, "h", 0, h_tag, (void *)&TAG[6]), CRYO_OK);
    cryo_package *own = pkg_with("g", 1, 4);
    assert_int_equal(cryo_package_include(own, inc1), CRYO_OK);
    assert_int_equal(cryo_package_include(own, inc2), CRYO_OK);
    assert_int_equal(cryo_package_add(own, "f", 1, h_tag, (void *)&TAG[4]), CRYO_OK);
    cryo_package_release(inc1);
    cryo_package_release(inc2);
    /* a variadic f in a package searched first */
    cryo_package *var = pkg_with("f", -1, 3);

    cryo_context *c = ctx_of(var, a);
    /* exact arity anywhere beats the variadic registration of the first package */
    EXPECT_IN(c, "f(0)", "1");
    EXPECT_IN(c, "[f(), f(1, 2)]", "[3, 3]");
    cryo_context_release(c);
    c = ctx_of(own, a);
    EXPECT_IN(c, "[f(0), g(), g(0), h()]", "[4, 5, 4, 6]");
    cryo_context_release(c);
    c = ctx_of(a, own);
    EXPECT_IN(c, "f(0)", "1"); /* the context's packages in order */
    EXPECT_ERR_IN(c, "f(1, 2)", CRYO_ERR_NOT_FOUND, "f");
    cryo_context_release(c);
    cryo_package_release(a);
    cryo_package_release(own);
    cryo_package_release(var);
}

/* One unit run in two contexts binds its calls once per context: each sees its own function. */
static void test_unit_bound_per_context(void **state) {
    (void)state;
    cryo_package *p1 = pkg_with("which", 0, 1), *p2 = pkg_with("which", 0, 2);
    cryo_context *c1 = ctx_of(p1, NULL), *c2 = ctx_of(p2, NULL);
    cryo_package_release(p1); /* the contexts keep them */
    cryo_package_release(p2);
    cryo_unit *u = test_compile("which() * 10");
    cryo_context *order[] = {c1, c2, c1, c2, cryo_context_std()};
    int64_t want[] = {10, 20, 10, 20, -1};
    for (int i = 0; i < 5; i++) {
        cryo_vm *vm = cryo_vm_new(u, order[i]);
        cryo_value r = cryo_unit_value();
        cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
        if (want[i] < 0) {
            assert_int_equal(k, CRYO_ERR_NOT_FOUND); /* std has no which() */
            assert_non_null(strstr(cryo_vm_error(vm)->message, "which"));
        } else {
            assert_int_equal(k, CRYO_OK);
            assert_int_equal(r.as.i, want[i]);
        }
        cryo_vm_free(vm);
    }
    cryo_unit_release(u);
    cryo_context_release(c1);
    cryo_context_release(c2);
}

static void test_context_config(void **state) {
    (void)state;
    /* invalid configurations */
    cryo_context_config bad = {.npackages = -1};
    assert_null(cryo_context_new(&bad));
    cryo_package *none[2] = {cryo_package_std(), NULL};
    bad = (cryo_context_config){.packages = none, .npackages = 2};
    assert_null(cryo_context_new(&bad));
    bad = (cryo_context_config){.packages = NULL, .npackages = 1};
    assert_null(cryo_context_new(&bad));
    /* no config: no packages, no capabilities; operators and script functions still work */
    cryo_context *c = cryo_context_new(NULL);
    assert_non_null(c);
    assert_int_equal(cryo_context_capabilities(c), 0);
    EXPECT_IN(c, "fn f(x) { x + 1 } f(1) * 3", "6");
    EXPECT_ERR_IN(c, "\"ab\".len()", CRYO_ERR_NOT_FOUND, "len");
    EXPECT_ERR_IN(c, "spawn(|| 1)", CRYO_ERR_NOT_FOUND, "function not found: spawn");
    cryo_context_release(c);
    /* an unsealed package is sealed by the context */
    cryo_package *p = pkg_with("x", 0, 7);
    c = ctx_of(p, NULL);
    assert_int_equal(cryo_package_add(p, "late", 0, h_tag, NULL), CRYO_ERR_API);
    cryo_package_release(p);
    EXPECT_IN(c, "x()", "7");
    assert_ptr_equal(cryo_context_retain(c), c);
    cryo_context_release(c);
    EXPECT_IN(c, "x()", "7"); /* still held once */
    cryo_context_release(c);
}

static void test_default_limits(void **state) {
    (void)state;
    cryo_package *std = cryo_package_std();
    cryo_context_config cfg = {.packages = &std, .npackages = 1};
    cfg.limits[CRYO_LIMIT_OPERATIONS] = 500;
    cfg.limits[CRYO_LIMIT_ARRAY_SIZE] = 3;
    cryo_context *c = cryo_context_new(&cfg);
    cryo_unit *u = test_compile("1");
    cryo_vm *vm = cryo_vm_new(u, c);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_OPERATIONS), 500);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_CALL_DEPTH), 64); /* 0 = the default */
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_THREADS), 8);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_MEMORY), 0);
    cryo_vm_free(vm);
    EXPECT_ERR_IN(c, "loop {}", CRYO_ERR_TOO_MANY_OPERATIONS, "too many operations");
    EXPECT_ERR_IN(c, "[1, 2, 3, 4]", CRYO_ERR_DATA_TOO_LARGE, "array");
    EXPECT_IN(c, "[1, 2, 3]", "[1, 2, 3]");
    cryo_context_release(c);
    /* UINT64_MAX = unlimited for the two limits whose 0 means a default */
    cfg.limits[CRYO_LIMIT_CALL_DEPTH] = UINT64_MAX;
    cfg.limits[CRYO_LIMIT_THREADS] = UINT64_MAX;
    c = cryo_context_new(&cfg);
    vm = cryo_vm_new(u, c);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_CALL_DEPTH), 0);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_THREADS), 0);
    cryo_vm_free(vm);
    cryo_context_release(c);
    cryo_unit_release(u);
}

static void test_capabilities(void **state) {
    (void)state;
    assert_int_equal(cryo_context_capabilities(NULL), 0);
    assert_true(cryo_context_capabilities(cryo_context_std()) & CRYO_CAP_THREADS);
    assert_false(cryo_context_capabilities(cryo_context_std()) & CRYO_CAP_FFI);
    assert_false(cryo_context_capabilities(cryo_context_std()) & CRYO_CAP_EVAL);
    cryo_package *std = cryo_package_std();
    cryo_context_config cfg = {.packages = &std, .npackages = 1};
    cryo_context *plain = cryo_context_new(&cfg);
    cfg.capabilities = CRYO_CAP_THREADS | CRYO_CAP_EVAL;
    cryo_context *both = cryo_context_new(&cfg);
    assert_int_equal(cryo_context_capabilities(both), CRYO_CAP_THREADS | CRYO_CAP_EVAL);
    /* without the capabilities: catchable NOT_FOUND errors naming them */
    EXPECT_ERR_IN(plain, "spawn(|| 1).join()", CRYO_ERR_NOT_FOUND, "CRYO_CAP_THREADS");
    EXPECT_IN(plain, "try { spawn(|| 1) } catch (e) { \"caught\" }", "\"caught\"");
    EXPECT_ERR_IN(plain, "eval(\"1 + 2\")", CRYO_ERR_NOT_FOUND, "CRYO_CAP_EVAL");
    EXPECT_ERR_IN(NULL, "eval(\"1 + 2\")", CRYO_ERR_NOT_FOUND, "CRYO_CAP_EVAL");
    /* with them */
    EXPECT_IN(both, "spawn(|x| x * 2, 21).join()", "42");
    EXPECT_IN(both, "eval(\"1 + 2\")", "3");
    cryo_unit *u = test_compile("1");
    cryo_vm *vm = cryo_vm_new(u, both);
    assert_int_equal(cryo_vm_capabilities(vm), CRYO_CAP_THREADS | CRYO_CAP_EVAL);
    assert_int_equal(cryo_vm_set_context(vm, plain), CRYO_OK);
    assert_int_equal(cryo_vm_capabilities(vm), 0);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    cryo_context_release(plain);
    cryo_context_release(both);
}

static void test_static_contexts_and_std_package(void **state) {
    (void)state;
    cryo_context *std = cryo_context_std(), *raw = cryo_context_raw();
    assert_ptr_equal(cryo_context_std(), std); /* built once */
    assert_ptr_equal(cryo_context_retain(std), std);
    cryo_context_release(std);
    cryo_context_release(std); /* no-ops: still usable */
    cryo_context_release(raw);
    cryo_package_release(cryo_package_std());
    EXPECT_IN(std, "\"abc\".len()", "3");
    EXPECT_ERR_IN(raw, "\"abc\".len()", CRYO_ERR_NOT_FOUND, "len");
    EXPECT_IN(raw, "let a = [1, 2]; a[1] + 40", "42");
    cryo_unit *u = test_compile("\"abc\".len()");
    cryo_vm *vm = cryo_vm_new_raw(u);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_NOT_FOUND);
    cryo_vm_free(vm);
    /* a package that includes the std package (sealed, never freed) */
    cryo_package *p = pkg_with("extra", 0, 5);
    assert_int_equal(cryo_package_include(p, cryo_package_std()), CRYO_OK);
    cryo_context *c = ctx_of(p, NULL);
    cryo_package_release(p);
    EXPECT_IN(c, "\"abc\".len() + extra()", "8");
    cryo_context_release(c);
    cryo_unit_release(u);
}

/* A host function raising a script error: kind and message reach the host and the script. */
static cryo_error_kind h_check(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "check: expected an i64, got %s",
                             cryo_type_name((cryo_type)argv[0]->type));
    *ret = cryo_int(argv[0]->as.i);
    return CRYO_OK;
}

static void test_host_errors(void **state) {
    (void)state;
    cryo_package *p = cryo_package_new("checks");
    assert_int_equal(cryo_package_add(p, "check", 1, h_check, NULL), CRYO_OK);
    cryo_context *c = ctx_of(cryo_package_std(), p);
    cryo_package_release(p);
    EXPECT_IN(c, "check(5)", "5");
    EXPECT_ERR_IN(c, "check(\"x\")", CRYO_ERR_ARGUMENT, "check: expected an i64, got string");
    EXPECT_IN(c, "try { check(1.5) } catch (e) { `caught: ${e}` }",
              "\"caught: check: expected an i64, got f64\"");
    /* the position is the call's */
    cryo_unit *u = test_compile("let a = 1;\nlet b = check(());");
    cryo_vm *vm = cryo_vm_new(u, c);
    cryo_unit_release(u);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_ARGUMENT);
    assert_int_equal(cryo_vm_error(vm)->line, 2);
    cryo_vm_free(vm);
    cryo_context_release(c);
}

/* --- threads -----------------------------------------------------------------------------------
 */

enum { BINDERS = 4 };

typedef struct binder {
    cryo_unit *u;
    cryo_context *ctx;
    pthread_barrier_t *start;
    int64_t got;
} binder;

static void *bind_thread(void *p) {
    binder *b = p;
    pthread_barrier_wait(b->start);
    cryo_vm *vm = cryo_vm_new(b->u, b->ctx);
    cryo_value r = cryo_unit_value();
    b->got = vm && cryo_vm_run(vm, NULL, 0, &r) == CRYO_OK && r.type == CRYO_T_INT ? r.as.i : -1;
    cryo_vm_free(vm);
    return NULL;
}

/* A unit's first run in a context binds it: threads doing so at once all get the same answer. */
static void test_threads_bind_one_unit_at_once(void **state) {
    (void)state;
    for (int round = 0; round < 20; round++) {
        cryo_package *p = pkg_with("which", 0, 7);
        cryo_context *c = ctx_of(cryo_package_std(), p);
        cryo_package_release(p);
        cryo_unit *u = test_compile("which() + \"abcd\".len()");
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, BINDERS);
        binder b[BINDERS];
        pthread_t th[BINDERS];
        for (int i = 0; i < BINDERS; i++) {
            b[i] = (binder){.u = u, .ctx = c, .start = &start};
            assert_int_equal(pthread_create(&th[i], NULL, bind_thread, &b[i]), 0);
        }
        for (int i = 0; i < BINDERS; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(b[i].got, 11);
        }
        pthread_barrier_destroy(&start);
        cryo_unit_release(u);
        cryo_context_release(c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_package_errors),
        cmocka_unit_test(test_lookup_rules),
        cmocka_unit_test(test_unit_bound_per_context),
        cmocka_unit_test(test_context_config),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_static_contexts_and_std_package),
        cmocka_unit_test(test_host_errors),
        cmocka_unit_test(test_threads_bind_one_unit_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
