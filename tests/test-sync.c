/*
 * test-sync.c — SyncFunctions: into_sync of a closure capturing ints, strings, arrays, maps and
 * another closure, called from 8 threads at once with results checked; into_sync failures with
 * their documented errors; mutating the originals after freezing; hot reload; calls from C in a
 * VM; SyncFunctions as script values.
 *
 * CRYO_TEST_SYNC_CALLS sets the calls per thread (default 100000, or 2000 when
 * CRYO_UNDER_VALGRIND is set, as scripts/valgrind.sh does).
 */
#include "test.h"

/* The closure of the big test: every kind of capture. Its result for x is
 * x + k + len(s) + sum(a) + m.y + g(x) = x + 7 + 5 + 6 + 100 + 3x = 4x + 118. */
static const char *BIG =
    "let k = 7;\n"
    "let s = \"hello\";\n"
    "let a = [1, 2, 3];\n"
    "let m = #{y: 100, name: \"m\"};\n"
    "let g = |z| z * 3;\n"
    "let f = |x| x + k + s.len() + a.reduce(|acc, v| acc + v, 0) + m.y + g.call(x);\n"
    "f";

static int64_t big_expected(int64_t x) {
    return 4 * x + 118;
}

static void test_call_from_c(void **state) {
    (void)state;
    cryo_sync *f = test_sync(NULL, BIG);
    assert_int_equal(cryo_sync_arity(f), 1);
    for (int64_t x = -5; x < 5; x++) {
        cryo_const arg = cryo_const_int(x), r;
        cryo_error *err = NULL;
        assert_int_equal(cryo_sync_call(f, 1, &arg, &r, &err), CRYO_OK);
        assert_null(err);
        assert_int_equal(cryo_const_type(r), CRYO_T_INT);
        assert_int_equal(r.v.as.i, big_expected(x));
    }
    cryo_sync_release(f);
}

typedef struct worker {
    cryo_sync *f;
    int id;
    long calls;
    long bad;
} worker;

static void *worker_main(void *p) {
    worker *w = p;
    for (long i = 0; i < w->calls; i++) {
        int64_t x = (int64_t)w->id * 1000003 + i;
        cryo_const arg = cryo_const_int(x), r;
        if (cryo_sync_call(w->f, 1, &arg, &r, NULL) != CRYO_OK || r.v.type != CRYO_T_INT ||
            r.v.as.i != big_expected(x))
            w->bad++;
    }
    cryo_vm_pool_clear();
    return NULL;
}

static long calls_per_thread(void) {
    const char *e = getenv("CRYO_TEST_SYNC_CALLS");
    /* scripts/valgrind.sh sets CRYO_UNDER_VALGRIND: fewer calls there, unless told */
    long n = e ? atol(e) : getenv("CRYO_UNDER_VALGRIND") ? 2000 : 100000;
    return n > 0 ? n : 100000;
}

static void test_eight_threads(void **state) {
    (void)state;
    cryo_sync *f = test_sync(NULL, BIG);
    enum { N = 8 };
    pthread_t th[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){cryo_sync_retain(f), i, calls_per_thread(), 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    cryo_sync_release(f); /* the threads hold their own references */
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
        cryo_sync_release(w[i].f);
    }
}

/* Captures of every kind, with string/array/map results crossing back as consts. */
static void test_heap_results(void **state) {
    (void)state;
    cryo_sync *f = test_sync(NULL, "let pre = \"<\"; let tail = [9]; let m = #{a: 1};\n"
                                   "|s| #{text: pre + s, list: tail + [s.len()], m: m}");
    cryo_const arg = cryo_const_string("abc", 3), r;
    assert_int_equal(cryo_sync_call(f, 1, &arg, &r, NULL), CRYO_OK);
    cryo_const_release(arg);
    assert_int_equal(cryo_const_type(r), CRYO_T_MAP);
    char *text = cryo_const_to_cstring(r, true);
    assert_string_equal(text, "#{\"list\": [9, 3], \"m\": #{\"a\": 1}, \"text\": \"<abc\"}");
    free(text);
    cryo_value t;
    assert_true(cryo_map_find(r.v, "text", &t));
    size_t len;
    assert_string_equal(cryo_value_str(t, &len), "<abc");
    cryo_const_release(r);
    cryo_sync_release(f);
}

/* Mutating the original variables (and the closure's captured cells) after freezing does not
 * change the frozen function's results. */
static void test_mutate_after_freeze(void **state) {
    (void)state;
    cryo_unit *u = test_compile("let k = 1; let a = [1]; let m = #{v: 1};\n"
                                "let f = |x| x + k + a[0] + m.v;\n"
                                "let sf = f.into_sync();\n"
                                "let before = sf.call(0);\n"
                                "k = 100; a[0] = 100; m.v = 100;\n"
                                "[before, sf.call(0), f.call(0)]");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    char *s = cryo_value_to_cstring(r, true);
    assert_string_equal(s, "[3, 3, 300]");
    free(s);
    cryo_value_release(r);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* Each into_sync failure with its documented error: kind, variable, line. */
static void expect_fail(const char *src, cryo_error_kind kind, const char *needle, int line) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    assert_int_equal(k, kind);
    const cryo_error *e = cryo_vm_error(vm);
    assert_non_null(e);
    if (!strstr(e->message, needle)) fprintf(stderr, "message: %s\n", e->message);
    assert_non_null(strstr(e->message, needle));
    if (line) assert_int_equal(e->line, line);
    cryo_vm_free(vm);
}

static void test_failures(void **state) {
    (void)state;
    /* a closure that assigns a captured variable */
    expect_fail("let n = 0;\nlet inc = || { n += 1; n };\ninc.into_sync()", CRYO_ERR_TYPE,
                "assigns the captured variable 'n' (line 2)", 2);
    /* ... also when a nested closure does the assigning */
    expect_fail("let n = 0;\nlet f = || { let g = || n = 5; g.call(); n };\nf.into_sync()",
                CRYO_ERR_TYPE, "captured variable 'n'", 0);
    /* a closure capturing a closure that assigns: the nested freeze fails */
    expect_fail("let c = 0;\nlet g = || { c = 1; };\nlet f = || g.call();\nf.into_sync()",
                CRYO_ERR_TYPE, "assigns the captured variable 'c'", 2);
    /* a value that is not a function */
    expect_fail("let x = 1; x.into_sync()", CRYO_ERR_TYPE, "expected a function, got i64", 0);
    /* a closure that captures itself (through a variable assigned after creation); the
     * script catches the error and breaks the cycle so that nothing leaks */
    expect_fail("let f = 0;\nf = |x| if x > 0 { f.call(x - 1) } else { 0 };\n"
                "let r = try { f.into_sync(); \"\" } catch (e) { e };\nf = 0;\nthrow r",
                CRYO_ERR_RUNTIME, "nested too deeply (a closure that captures itself?)", 0);
}

/* A host handle that is not sendable cannot be frozen; a sendable one can. */
static int live_handles;
static void h_destroy(void *p) {
    (void)p;
    __atomic_fetch_sub(&live_handles, 1, __ATOMIC_RELAXED);
}
static void h_retain(void *p) {
    (void)p;
    __atomic_fetch_add(&live_handles, 1, __ATOMIC_RELAXED);
}
static const cryo_handle_type local_type = {"Local", h_destroy, NULL, NULL, NULL};
static const cryo_handle_type send_type = {"Sendable", NULL, h_retain, h_destroy, NULL};

static void test_handles(void **state) {
    (void)state;
    static const char *const globals[] = {"h"};
    cryo_compile_options opts = {.globals = globals, .nglobals = 1};
    const char *src = "let f = |x| type_of(h) + x; f.into_sync()";
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), &opts, &err);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    live_handles = 1;
    cryo_value h = cryo_value_handle(&local_type, NULL);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, &h, 1, &r), CRYO_ERR_TYPE);
    assert_non_null(strstr(cryo_vm_error(vm)->message,
                           "captured variable 'h' (line 1): it holds a host handle of type "
                           "'Local' that is not sendable"));
    cryo_value_release(h);
    assert_int_equal(live_handles, 0);

    live_handles = 1;
    h = cryo_value_handle(&send_type, NULL);
    assert_int_equal(cryo_vm_run(vm, &h, 1, &r), CRYO_OK);
    cryo_sync *sf = cryo_value_as_sync(r);
    assert_non_null(sf);
    cryo_sync_retain(sf);
    cryo_value_release(h);
    cryo_vm_free(vm); /* drops the VM's pin; sf still holds the frozen handle */
    assert_int_equal(live_handles, 1);
    cryo_const arg = cryo_const_string("!", 1), res;
    assert_int_equal(cryo_sync_call(sf, 1, &arg, &res, NULL), CRYO_OK);
    char *s = cryo_const_to_cstring(res, false);
    assert_string_equal(s, "Sendable!");
    free(s);
    cryo_const_release(res);
    cryo_const_release(arg);
    cryo_sync_release(sf);
    assert_int_equal(live_handles, 0);
    cryo_unit_release(u);
}

/* Hot reload: SyncFunctions of an old unit keep working after the host compiled a new one
 * and dropped the old. */
static void test_hot_reload(void **state) {
    (void)state;
    cryo_sync *v1 = test_sync(NULL, "let k = 1; |x| x + k");
    cryo_sync *v2 = test_sync(NULL, "let k = 2; |x| x * 10 + k");
    cryo_const a = cryo_const_int(5), r1, r2;
    assert_int_equal(cryo_sync_call(v1, 1, &a, &r1, NULL), CRYO_OK);
    assert_int_equal(cryo_sync_call(v2, 1, &a, &r2, NULL), CRYO_OK);
    assert_int_equal(r1.v.as.i, 6);
    assert_int_equal(r2.v.as.i, 52);
    cryo_sync_release(v1); /* the old unit goes with its last SyncFunction */
    assert_int_equal(cryo_sync_call(v2, 1, &a, &r2, NULL), CRYO_OK);
    assert_int_equal(r2.v.as.i, 52);
    cryo_sync_release(v2);
}

/* Errors from a call: kind and message, the VM reusable afterwards. */
static void test_call_errors(void **state) {
    (void)state;
    cryo_sync *f = test_sync(NULL, "|x| if x == 0 { throw \"zero!\" } else { 100 / x }");
    cryo_const a = cryo_const_int(0), r;
    cryo_error *err = NULL;
    assert_int_equal(cryo_sync_call(f, 1, &a, &r, &err), CRYO_ERR_RUNTIME);
    assert_non_null(err);
    assert_non_null(strstr(err->message, "zero!"));
    cryo_error_free(err);
    a = cryo_const_int(4);
    assert_int_equal(cryo_sync_call(f, 1, &a, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 25);
    /* wrong number of arguments */
    assert_int_equal(cryo_sync_call(f, 0, NULL, &r, &err), CRYO_ERR_NOT_FOUND);
    cryo_error_free(err);
    cryo_sync_release(f);
}

/* cryo_sync_call_in: a VM the caller holds, of another unit. */
static void test_call_in(void **state) {
    (void)state;
    cryo_sync *f = test_sync(NULL, "let t = [1, 2]; |x| t + [x]");
    cryo_unit *u = test_compile("40 + 2");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value arg = cryo_int(3), r;
    assert_int_equal(cryo_sync_call_in(f, vm, 1, &arg, &r), CRYO_OK);
    char *s = cryo_value_to_cstring(r, true);
    assert_string_equal(s, "[1, 2, 3]");
    free(s);
    cryo_value_release(r);
    cryo_sync_release(f); /* the VM's pin keeps it alive while the VM may hold its values */
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 42);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* What a SyncFunction of one captured int holds once the VM that froze it is gone (issue 19:
 * at most 160 bytes: the SyncFunction and its fn in one block, a frozen cell without list
 * links), and that such SyncFunctions, and closures that outlive them holding their frozen
 * capture, still compute right. */
static void test_sync_bytes(void **state) {
    (void)state;
    enum { N = 64 };
    cryo_unit *u = test_compile("fn mk(k) { |x| x + k } fn mk2(k) { |x| |y| x + y + k }");
    cryo_sync *fs[N];
    cryo_value arg = cryo_int(0), fn;
    bool counted = test_heap_counted(64);
    cryo_vm *vm = cryo_vm_new(u, NULL); /* warm: what the VM and into_sync set up once */
    assert_int_equal(cryo_vm_call(vm, "mk", 1, &arg, &fn), CRYO_OK);
    assert_int_equal(cryo_vm_into_sync(vm, fn, &fs[0]), CRYO_OK);
    cryo_value_release(fn);
    cryo_sync_release(fs[0]);
    size_t b0 = test_heap_in_use();
    for (int i = 0; i < N; i++) {
        arg = cryo_int(i * 10);
        assert_int_equal(cryo_vm_call(vm, "mk", 1, &arg, &fn), CRYO_OK);
        assert_int_equal(cryo_vm_into_sync(vm, fn, &fs[i]), CRYO_OK);
        cryo_value_release(fn);
    }
    if (counted) {
        size_t each = (test_heap_in_use() - b0) / N;
        print_message("a SyncFunction |x| x + k: %zu bytes\n", each);
        assert_true(each <= 164); /* 160, and the VM's own lists growing now and then */
    }
    cryo_vm_free(vm);
    for (int i = 0; i < N; i++) {
        cryo_const a = cryo_const_int(i), r;
        assert_int_equal(cryo_sync_call(fs[i], 1, &a, &r, NULL), CRYO_OK);
        assert_int_equal(r.v.as.i, i * 11);
        cryo_sync_release(fs[i]);
    }
    /* the inner closure, frozen as the call's result, keeps the outer's frozen capture */
    vm = cryo_vm_new(u, NULL);
    arg = cryo_int(100);
    cryo_sync *outer;
    assert_int_equal(cryo_vm_call(vm, "mk2", 1, &arg, &fn), CRYO_OK);
    assert_int_equal(cryo_vm_into_sync(vm, fn, &outer), CRYO_OK);
    cryo_value_release(fn);
    cryo_vm_free(vm);
    cryo_const a = cryo_const_int(20), inner;
    assert_int_equal(cryo_sync_call(outer, 1, &a, &inner, NULL), CRYO_OK);
    cryo_sync_release(outer); /* the inner one outlives it */
    assert_int_equal(cryo_const_type(inner), CRYO_T_SYNCFN);
    cryo_sync *g = cryo_sync_retain((cryo_sync *)inner.v.as.obj);
    cryo_const_release(inner);
    cryo_const b = cryo_const_int(3), r;
    assert_int_equal(cryo_sync_call(g, 1, &b, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 123);
    cryo_sync_release(g);
    cryo_unit_release(u);
    cryo_vm_pool_clear();
}

/* A SyncFunction handed to a script as a value (through a const), stored in arrays and maps,
 * captured by another closure that is frozen again. */
static void test_script_values(void **state) {
    (void)state;
    cryo_sync *f = test_sync(NULL, "let k = 3; |x| x * k");
    static const char *const globals[] = {"sf"};
    cryo_compile_options opts = {.globals = globals, .nglobals = 1};
    const char *src = "let arr = [sf]; let m = #{f: sf};\n"
                      "let g = |x| arr[0].call(x) + m.f.call(1);\n"
                      "let h = g.into_sync();\n"
                      "[type_of(sf), h.call(2), sf == arr[0]]";
    cryo_unit *u = cryo_compile(src, strlen(src), &opts, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value g;
    cryo_const c = cryo_const_sync(f);
    assert_int_equal(cryo_vm_thaw(vm, c, &g), CRYO_OK);
    cryo_const_release(c);
    cryo_sync_release(f);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, &g, 1, &r);
    if (k) fprintf(stderr, "%s\n", cryo_vm_error(vm)->message);
    assert_int_equal(k, CRYO_OK);
    char *s = cryo_value_to_cstring(r, true);
    assert_string_equal(s, "[\"SyncFn\", 9, true]");
    free(s);
    cryo_value_release(r);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_from_c),  cmocka_unit_test(test_eight_threads),
        cmocka_unit_test(test_heap_results), cmocka_unit_test(test_mutate_after_freeze),
        cmocka_unit_test(test_failures),     cmocka_unit_test(test_handles),
        cmocka_unit_test(test_hot_reload),   cmocka_unit_test(test_call_errors),
        cmocka_unit_test(test_call_in),      cmocka_unit_test(test_script_values),
        cmocka_unit_test(test_sync_bytes),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    cryo_vm_pool_clear();
    return r;
}
