/*
 * test-embed.c — the embedding API: packages (add, include, seal), contexts (packages,
 * capabilities, default limits), host functions (errors, every value type in and out, methods,
 * property getters, callbacks into the script), pooled VMs (reuse, reset, swapping unit and
 * context), raw VMs, userdata, print hooks, handles with destructors.
 */
#include "test.h"

#include "vm.h" /* internals: the heap's cell list */

/* --- helpers ------------------------------------------------------------------------------- */

static cryo_unit *compile_g(const char *src, const char *const *globals, int nglobals) {
    cryo_compile_options o = {.source_name = "test", .globals = globals, .nglobals = nglobals};
    return test_compile_opts(src, &o);
}

static cryo_unit *compile(const char *src) {
    return compile_g(src, NULL, 0);
}

/* Runs `src` in a fresh VM of `ctx`; returns the kind; *out gets the result (owned). */
static cryo_error_kind run_in(cryo_context *ctx, const char *src, cryo_value *out, char *msg,
                              size_t msgsz) {
    cryo_unit *u = compile(src);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, out);
    if (msg) {
        const cryo_error *e = cryo_vm_error(vm);
        snprintf(msg, msgsz, "%s", e ? e->message : "");
    }
    cryo_vm_free(vm);
    return k;
}

static int64_t run_int(cryo_context *ctx, const char *src) {
    cryo_value r = cryo_unit_value();
    char msg[256];
    cryo_error_kind k = run_in(ctx, src, &r, msg, sizeof msg);
    if (k != CRYO_OK) fail_msg("run failed (%s): %s", cryo_error_kind_name(k), msg);
    if (r.type != CRYO_T_INT) fail_msg("expected an int, got %s", cryo_type_name(r.type));
    return r.as.i;
}

static char *run_text(cryo_context *ctx, const char *src) {
    cryo_value r = cryo_unit_value();
    char msg[256];
    cryo_error_kind k = run_in(ctx, src, &r, msg, sizeof msg);
    if (k != CRYO_OK) fail_msg("run failed (%s): %s", cryo_error_kind_name(k), msg);
    char *t = cryo_value_to_cstring(r, false);
    cryo_value_release(r);
    return t;
}

/* --- host functions -------------------------------------------------------------------------- */

static cryo_error_kind h_add(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud;
    (void)argc;
    if (argv[0]->type != CRYO_T_INT || argv[1]->type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "add: expected two ints");
    *ret = cryo_int(argv[0]->as.i + argv[1]->as.i);
    return CRYO_OK;
}

/* Returns the userdata (an int) registered with the function. */
static cryo_error_kind h_ud(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)vm, (void)argc, (void)argv;
    *ret = cryo_int(*(int *)ud);
    return CRYO_OK;
}

/* Variadic: the number of arguments. */
static cryo_error_kind h_count(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)vm, (void)ud, (void)argv;
    *ret = cryo_int(argc);
    return CRYO_OK;
}

/* Raises an argument error naming its argument. */
static cryo_error_kind h_fail(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc, (void)ret;
    char *t = cryo_value_to_cstring(*argv[0], true);
    cryo_error_kind k = cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "bad value %s", t ? t : "?");
    free(t);
    return k;
}

/* Type names of all arguments joined by ','. Receives every value type. */
static cryo_error_kind h_types(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)vm, (void)ud;
    char buf[512] = "";
    for (int i = 0; i < argc; i++) {
        const char *n = cryo_type_name(argv[i]->type);
        if (argv[i]->type == CRYO_T_HANDLE) n = "handle";
        strcat(buf, i ? "," : "");
        strcat(buf, n);
    }
    *ret = cryo_value_string(buf, strlen(buf));
    return CRYO_OK;
}

/* Echoes its argument back (a new reference): any value type out. */
static cryo_error_kind h_echo(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)vm, (void)ud, (void)argc;
    cryo_value_retain(*argv[0]);
    *ret = *argv[0];
    return CRYO_OK;
}

/* Makes a value of the kind named by the int argument. */
static cryo_error_kind h_make(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc;
    switch (argv[0]->as.i) {
    case 0: *ret = cryo_unit_value(); break;
    case 1: *ret = cryo_bool(true); break;
    case 2: *ret = cryo_int(-7); break;
    case 3: *ret = cryo_float(2.5); break;
    case 4: *ret = cryo_char(0x263A); break;
    case 5: *ret = cryo_value_string("héllo", strlen("héllo")); break;
    default: return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "no such kind");
    }
    return CRYO_OK;
}

/* Method: doubles an int receiver in place (x.twice()) and returns the old value. */
static cryo_error_kind h_twice(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_INT) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "twice: not an int");
    *ret = *argv[0];
    argv[0]->as.i *= 2;
    return CRYO_OK;
}

/* Property getter: `x.cube` for ints. */
static cryo_error_kind h_cube(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_INT) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cube: not an int");
    int64_t x = argv[0]->as.i;
    *ret = cryo_int(x * x * x);
    return CRYO_OK;
}

/* Calls a script function value with an argument: apply(f, x). */
static cryo_error_kind h_apply(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)ud, (void)argc;
    return cryo_vm_call_value(vm, *argv[0], 1, argv[1], ret);
}

static int seven = 7, eight = 8;

static cryo_package *test_package(void) {
    cryo_package *p = cryo_package_new("test");
    assert_non_null(p);
    assert_int_equal(cryo_package_add(p, "add", 2, h_add, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "ud", 0, h_ud, &seven), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "count", -1, h_count, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "fail", 1, h_fail, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "types", -1, h_types, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "echo", 1, h_echo, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "make", 1, h_make, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "twice", 1, h_twice, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "cube", 1, h_cube, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "apply", 2, h_apply, NULL), CRYO_OK);
    /* Bad registrations. */
    assert_int_equal(cryo_package_add(p, "", 1, h_add, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(p, "x", 1, NULL, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(p, "x", -2, h_add, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add(NULL, "x", 1, h_add, NULL), CRYO_ERR_API);
    cryo_package_seal(p);
    assert_int_equal(cryo_package_add(p, "late", 1, h_add, NULL), CRYO_ERR_API);
    return p;
}

/* A context of the test package plus std. */
static cryo_context *test_context(unsigned caps) {
    cryo_package *p = test_package();
    cryo_package *pk[] = {p, cryo_package_std()};
    cryo_context_config cfg = {.packages = pk, .npackages = 2, .capabilities = caps};
    cryo_context *ctx = cryo_context_new(&cfg);
    assert_non_null(ctx);
    cryo_package_release(p); /* the context holds its own reference */
    return ctx;
}

static void test_host_calls(void **state) {
    (void)state;
    cryo_context *ctx = test_context(0);
    assert_int_equal(run_int(ctx, "add(40, 2)"), 42);
    assert_int_equal(run_int(ctx, "let s = 0; for i in 0..100 { s = add(s, i) } s"), 4950);
    assert_int_equal(run_int(ctx, "ud()"), 7);
    assert_int_equal(run_int(ctx, "count() + count(1) * 10 + count(1, 2, 3) * 100"), 310);
    /* std is still there, after the test package. */
    assert_int_equal(run_int(ctx, "[1, 2, 3].len() + \"abcd\".len()"), 7);
    /* Calls a script closure back. */
    assert_int_equal(run_int(ctx, "let k = 5; apply(|x| x * k, 3)"), 15);
    assert_int_equal(run_int(ctx, "fn sq(x) { x * x } apply(Fn(\"sq\"), 9)"), 81);
    /* A host function by name through Fn(). */
    assert_int_equal(run_int(ctx, "let f = Fn(\"add\"); f.call(1, 2) + call(f, 3, 4)"), 10);
    cryo_context_release(ctx);
}

static void test_host_errors(void **state) {
    (void)state;
    cryo_context *ctx = test_context(0);
    char msg[256];
    cryo_value r;
    assert_int_equal(run_in(ctx, "let x = 1;\nfail([1, \"a\"])", &r, msg, sizeof msg),
                     CRYO_ERR_ARGUMENT);
    assert_string_equal(msg, "bad value [1, \"a\"]");
    assert_int_equal(run_in(ctx, "add(1, \"x\")", &r, msg, sizeof msg), CRYO_ERR_TYPE);
    assert_string_equal(msg, "add: expected two ints");
    /* The error has the position of the call. */
    cryo_unit *u = compile("let a = 1;\nlet b = 2;\n  fail(a)");
    cryo_vm *vm = cryo_vm_new(u, ctx);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_ARGUMENT);
    assert_int_equal(cryo_vm_error(vm)->line, 3);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    /* Scripts catch host errors. */
    assert_int_equal(run_int(ctx, "try { fail(1); 0 } catch (e) { 5 }"), 5);
    /* Wrong arity: not found, naming the types. */
    assert_int_equal(run_in(ctx, "add(1)", &r, msg, sizeof msg), CRYO_ERR_NOT_FOUND);
    assert_string_equal(msg, "function not found: add(i64)");
    cryo_context_release(ctx);
}

static void test_host_value_types(void **state) {
    (void)state;
    cryo_context *ctx = test_context(0);
    char *t = run_text(ctx, "types((), true, 1, 2.0, 'c', \"s\", [1], #{a: 1}, |x| x, 1..2)");
    assert_string_equal(t, "(),bool,i64,f64,char,string,array,map,Fn,range");
    free(t);
    /* Every type out: echo returns it unchanged. */
    t = run_text(ctx, "[echo(()), echo(true), echo(1), echo(2.5), echo('c'), echo(\"s\"), "
                      "echo([1, 2]), echo(#{a: 1}), echo(1..3)]");
    assert_string_equal(t, "[(), true, 1, 2.5, 'c', \"s\", [1, 2], #{\"a\": 1}, 1..3]");
    free(t);
    assert_int_equal(run_int(ctx, "let f = echo(|x| x + 1); f.call(1)"), 2);
    t = run_text(ctx, "[make(0), make(1), make(2), make(3), make(4), make(5)]");
    assert_string_equal(t, "[(), true, -7, 2.5, '☺', \"héllo\"]");
    free(t);
    assert_int_equal(run_int(ctx, "make(5).len()"), 5);
    /* An echoed array keeps value semantics: changing the copy leaves the original. */
    assert_int_equal(
        run_int(ctx, "let a = [1]; let b = echo(a); b.push(2); a.len() * 10 + b.len()"), 12);
    cryo_context_release(ctx);
}

static void test_methods_and_properties(void **state) {
    (void)state;
    cryo_context *ctx = test_context(0);
    /* x.f(): the receiver is argv[0] and may be changed in place. */
    assert_int_equal(run_int(ctx, "let x = 21; let old = x.twice(); x * 100 + old"), 4221);
    assert_int_equal(run_int(ctx, "let x = 3; x.add(4)"), 7);
    /* x.name on a non-map calls the 1-argument host function `name`. */
    assert_int_equal(run_int(ctx, "let x = 3; x.cube"), 27);
    assert_int_equal(run_int(ctx, "(2).cube + 1"), 9);
    /* On a map, x.name is the map's property. */
    assert_int_equal(run_int(ctx, "let m = #{cube: 5}; m.cube"), 5);
    char msg[256];
    cryo_value r;
    assert_int_equal(run_in(ctx, "let s = \"a\"; s.cube", &r, msg, sizeof msg), CRYO_ERR_TYPE);
    assert_int_equal(run_in(ctx, "let x = 1; x.nonesuch", &r, msg, sizeof msg), CRYO_ERR_NOT_FOUND);
    cryo_context_release(ctx);
}

/* --- packages and contexts -------------------------------------------------------------------- */

static void test_package_include(void **state) {
    (void)state;
    cryo_package *base = test_package();
    cryo_package *over = cryo_package_new("over");
    /* `ud` here overrides the included one; `add` comes from the include. */
    assert_int_equal(cryo_package_add(over, "ud", 0, h_ud, &eight), CRYO_OK);
    assert_int_equal(cryo_package_include(over, base), CRYO_OK);
    assert_int_equal(cryo_package_include(over, cryo_package_std()), CRYO_OK);
    assert_int_equal(cryo_package_include(over, over), CRYO_ERR_API);
    cryo_package_seal(over);
    assert_int_equal(cryo_package_include(over, base), CRYO_ERR_API); /* sealed */
    cryo_package_release(base);                                       /* `over` keeps it alive */
    cryo_context_config cfg = {.packages = &over, .npackages = 1};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(over);
    assert_int_equal(run_int(ctx, "ud() * 100 + add(1, 2)"), 803);
    assert_int_equal(run_int(ctx, "[1, 2].len()"), 2); /* std through the include */
    /* The first package of a context wins over later ones. */
    cryo_package *p7 = cryo_package_new("p7"), *p8 = cryo_package_new("p8");
    cryo_package_add(p7, "ud", 0, h_ud, &seven);
    cryo_package_add(p8, "ud", 0, h_ud, &eight);
    cryo_package_seal(p7);
    cryo_package_seal(p8);
    cryo_package *order[] = {p8, p7};
    cryo_context_config c2 = {.packages = order, .npackages = 2};
    cryo_context *ctx2 = cryo_context_new(&c2);
    assert_int_equal(run_int(ctx2, "ud()"), 8);
    cryo_context_release(ctx2);
    cryo_package_release(p7);
    cryo_package_release(p8);
    /* A package shared by many contexts: retained, not copied. */
    for (int i = 0; i < 100; i++) {
        cryo_context *c = cryo_context_new(&cfg);
        cryo_context_release(c);
    }
    cryo_context_release(ctx);
}

static void test_context_capabilities_and_limits(void **state) {
    (void)state;
    cryo_context *ctx = test_context(CRYO_CAP_FFI);
    assert_int_equal(cryo_context_capabilities(ctx), CRYO_CAP_FFI);
    /* the standard context grants threads (spawn is part of the language); raw has nothing */
    assert_int_equal(cryo_context_capabilities(cryo_context_std()), CRYO_CAP_THREADS);
    assert_int_equal(cryo_context_capabilities(cryo_context_raw()), 0);
    cryo_unit *u = compile("1");
    cryo_vm *vm = cryo_vm_new(u, ctx);
    assert_int_equal(cryo_vm_capabilities(vm), CRYO_CAP_FFI);
    assert_int_equal(cryo_vm_set_context(vm, cryo_context_std()), CRYO_OK);
    assert_int_equal(cryo_vm_capabilities(vm), CRYO_CAP_THREADS);
    cryo_vm_free(vm);
    cryo_context_release(ctx);

    /* Default limits come from the context; 0 call depth = the default 64. */
    cryo_context_config cfg = {
        .limits = {[CRYO_LIMIT_OPERATIONS] = 1000, [CRYO_LIMIT_STRING_SIZE] = 10}};
    cryo_context *lc = cryo_context_new(&cfg);
    vm = cryo_vm_new(u, lc);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_OPERATIONS), 1000);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_STRING_SIZE), 10);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_CALL_DEPTH), 64);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_MEMORY), 0);
    cryo_vm_free(vm);
    vm = cryo_vm_new(u, NULL); /* std */
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_OPERATIONS), 0);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_CALL_DEPTH), 64);
    cryo_vm_free(vm);
    cryo_context_release(lc);
    cryo_unit_release(u);
    /* Bad configs. */
    cryo_context_config bad = {.packages = NULL, .npackages = 2};
    assert_null(cryo_context_new(&bad));
    /* A NULL config: no packages (like raw). */
    cryo_context *empty = cryo_context_new(NULL);
    assert_non_null(empty);
    char msg[128];
    cryo_value r;
    assert_int_equal(run_in(empty, "print(1)", &r, msg, sizeof msg), CRYO_ERR_NOT_FOUND);
    cryo_context_release(empty);
}

static void test_raw_vm(void **state) {
    (void)state;
    cryo_unit *u = compile("fn f(x) { x + 1 } [1].len()");
    cryo_vm *vm = cryo_vm_new_raw(u);
    assert_non_null(vm);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_NOT_FOUND);
    /* Script functions work without packages. */
    cryo_value arg = cryo_int(41), r;
    assert_int_equal(cryo_vm_call(vm, "f", 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, 42);
    /* The same VM over std. */
    assert_int_equal(cryo_vm_set_context(vm, NULL), CRYO_OK);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 1);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* --- pooled VMs ------------------------------------------------------------------------------- */

static void on_print(void *ud, const char *text, size_t len) {
    (void)text;
    *(size_t *)ud += len;
}

static void test_pool(void **state) {
    (void)state;
    cryo_unit *u1 = compile("fn f(x) { x * 2 } print(\"abc\"); 1");
    cryo_unit *u2 = compile("fn f(x) { x * 3 } 2");
    cryo_vm *vm = cryo_vm_pool_acquire(u1, NULL);
    assert_non_null(vm);
    size_t printed = 0;
    int tag = 5;
    cryo_vm_set_print(vm, on_print, &printed);
    cryo_vm_set_userdata(vm, &tag);
    assert_ptr_equal(cryo_vm_userdata(vm), &tag);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 3);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(printed, 3);
    /* Leave an error in it. */
    assert_int_equal(cryo_vm_call(vm, "nonesuch", 0, NULL, &r), CRYO_ERR_NOT_FOUND);
    assert_non_null(cryo_vm_error(vm));
    cryo_vm_pool_release(vm);

    /* The same VM comes back, reset. */
    cryo_vm *again = cryo_vm_pool_acquire(u1, NULL);
    assert_ptr_equal(again, vm);
    assert_null(cryo_vm_error(again));
    assert_null(cryo_vm_userdata(again));
    assert_int_equal(cryo_vm_get_limit(again, CRYO_LIMIT_OPERATIONS), 0);
    cryo_value arg = cryo_int(21);
    assert_int_equal(cryo_vm_call(again, "f", 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, 42);

    /* Two at once are different VMs; released ones are reused for another unit. */
    cryo_vm *other = cryo_vm_pool_acquire(u2, NULL);
    assert_ptr_not_equal(other, again);
    cryo_vm_pool_release(other);
    cryo_vm_pool_release(again);
    cryo_vm *v3 = cryo_vm_pool_acquire(u2, NULL);
    assert_ptr_equal(v3, other); /* prefers the VM already set up for u2 */
    assert_int_equal(cryo_vm_call(v3, "f", 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, 63);
    cryo_vm *v4 = cryo_vm_pool_acquire(u2, cryo_context_raw());
    assert_ptr_equal(v4, vm); /* swapped from (u1, std) to (u2, raw) */
    assert_int_equal(cryo_vm_call(v4, "f", 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, 63);
    assert_int_equal(cryo_vm_run(v4, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 2);

    /* Swapping the unit of a VM by hand. */
    assert_int_equal(cryo_vm_set_unit(v4, u1), CRYO_OK);
    assert_int_equal(cryo_vm_set_context(v4, NULL), CRYO_OK);
    printed = 0;
    cryo_vm_set_print(v4, on_print, &printed);
    assert_int_equal(cryo_vm_run(v4, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 1);
    assert_int_equal(printed, 3);
    assert_int_equal(cryo_vm_set_unit(v4, NULL), CRYO_ERR_API);

    cryo_vm_pool_release(v3);
    cryo_vm_pool_release(v4);
    /* The units may go: idle VMs keep their own references. */
    cryo_unit_release(u1);
    cryo_unit_release(u2);
    cryo_vm_pool_clear();
    cryo_vm_pool_clear(); /* twice is fine */
    assert_null(cryo_vm_pool_acquire(NULL, NULL));
    cryo_vm_pool_release(NULL);
}

/* Many pooled runs reuse at most a few VMs and leak nothing (valgrind). */
static void test_pool_many(void **state) {
    (void)state;
    cryo_unit *u = compile("fn f(x) { let a = [x, x + 1]; a[1] } f(1)");
    cryo_vm *first = NULL;
    for (int i = 0; i < 1000; i++) {
        cryo_vm *vm = cryo_vm_pool_acquire(u, NULL);
        if (!first) first = vm;
        assert_ptr_equal(vm, first);
        cryo_value arg = cryo_int(i), r;
        assert_int_equal(cryo_vm_call(vm, "f", 1, &arg, &r), CRYO_OK);
        assert_int_equal(r.as.i, i + 1);
        cryo_vm_pool_release(vm);
    }
    /* More VMs held at once than the pool keeps: the extras are freed on release. */
    cryo_vm *many[40];
    for (int i = 0; i < 40; i++)
        many[i] = cryo_vm_pool_acquire(u, NULL);
    for (int i = 0; i < 40; i++)
        cryo_vm_pool_release(many[i]);
    cryo_unit_release(u);
    cryo_vm_pool_clear();
}

/* A pooled VM does not keep the closure cycles of its runs: release collects them. */
static void test_pool_collects_cycles(void **state) {
    (void)state;
    cryo_unit *u = compile("let f = 0; f = |x| if x == 0 { 0 } else { f.call(x - 1) }; f.call(3)");
    for (int i = 0; i < 10; i++) {
        cryo_vm *vm = cryo_vm_pool_acquire(u, NULL);
        cryo_value r;
        assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
        assert_non_null(vm->heap.cells); /* the cycle f -> closure -> cell(f) */
        cryo_vm_pool_release(vm);
        assert_null(vm->heap.cells);
    }
    cryo_unit_release(u);
    cryo_vm_pool_clear();
}

/* --- handles ---------------------------------------------------------------------------------- */

typedef struct counter {
    int value;
    int *destroyed;
} counter;

static void counter_destroy(void *p) {
    counter *c = p;
    ++*c->destroyed;
    free(c);
}

static const cryo_handle_type counter_type = {"Counter", counter_destroy, NULL, NULL, NULL};
static const cryo_handle_type other_type = {"Other", NULL, NULL, NULL, NULL};

static cryo_value new_counter(int *destroyed, int value) {
    counter *c = malloc(sizeof *c);
    c->value = value;
    c->destroyed = destroyed;
    return cryo_value_handle(&counter_type, c);
}

static int destroyed_count;

/* counter(n): a new handle; c.get / c.bump() read and change it. */
static cryo_error_kind h_counter(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                 cryo_value *ret) {
    (void)vm, (void)ud, (void)argc;
    *ret = new_counter(&destroyed_count, (int)argv[0]->as.i);
    return CRYO_OK;
}
static cryo_error_kind h_get(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc;
    counter *c = cryo_value_as_handle(*argv[0], &counter_type);
    if (!c) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "not a Counter");
    *ret = cryo_int(c->value);
    return CRYO_OK;
}
static cryo_error_kind h_bump(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc, (void)ret;
    counter *c = cryo_value_as_handle(*argv[0], &counter_type);
    if (!c) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "not a Counter");
    c->value++;
    return CRYO_OK;
}

static void test_handles(void **state) {
    (void)state;
    cryo_package *p = cryo_package_new("counters");
    cryo_package_add(p, "counter", 1, h_counter, NULL);
    cryo_package_add(p, "get", 1, h_get, NULL);
    cryo_package_add(p, "bump", 1, h_bump, NULL);
    cryo_package_include(p, cryo_package_std());
    cryo_package_seal(p);
    cryo_context_config cfg = {.packages = &p, .npackages = 1};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(p);

    destroyed_count = 0;
    assert_int_equal(run_int(ctx, "let c = counter(4); c.bump(); c.bump(); c.get"), 6);
    assert_int_equal(destroyed_count, 1);
    char *t = run_text(ctx, "let c = counter(1); let d = c; [type_of(c), `${c}`, "
                            "(c == d).to_string(), (c == counter(1)).to_string()]");
    assert_string_equal(t, "[\"Counter\", \"<Counter>\", \"true\", \"false\"]");
    free(t);
    assert_int_equal(destroyed_count, 3);
    /* Handles in containers are freed with them. */
    assert_int_equal(run_int(ctx, "let a = []; for i in 0..10 { a.push(counter(i)) } "
                                  "let m = #{c: a[3]}; m.c.get"),
                     3);
    assert_int_equal(destroyed_count, 13);

    /* A host handle passed in as a global, returned out. */
    const char *const names[] = {"h"};
    cryo_unit *u = compile_g("h.bump(); [h, type_of(h)]", names, 1);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    int mine = 0;
    cryo_value h = new_counter(&mine, 10);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, &h, 1, &r), CRYO_OK);
    counter *c = cryo_value_as_handle(h, &counter_type);
    assert_non_null(c);
    assert_int_equal(c->value, 11);
    assert_null(cryo_value_as_handle(h, &other_type));
    assert_null(cryo_value_as_handle(cryo_int(1), &counter_type));
    assert_ptr_equal(cryo_value_as_handle(cryo_array_get(r, 0), &counter_type), c);
    char *s = cryo_value_to_cstring(r, false);
    assert_string_equal(s, "[<Counter>, \"Counter\"]");
    free(s);
    cryo_value_release(h);
    assert_int_equal(mine, 0); /* r still holds it */
    cryo_value_release(r);
    assert_int_equal(mine, 1);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    /* A handle without a destructor. */
    cryo_value o = cryo_value_handle(&other_type, &mine);
    assert_int_equal(o.type, CRYO_T_HANDLE);
    cryo_value_release(o);
    assert_int_equal(cryo_value_handle(NULL, &mine).type, CRYO_T_UNIT);
    cryo_context_release(ctx);
}

/* --- print hooks and calls ---------------------------------------------------------------------
 */

static void test_print_hooks(void **state) {
    (void)state;
    cryo_unit *u = compile("print(\"hello\"); debug(\"x\"); 0");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    size_t p = 0, d = 0;
    cryo_vm_set_print(vm, on_print, &p);
    cryo_vm_set_debug(vm, on_print, &d);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_OK);
    assert_int_equal(p, 5);
    assert_int_equal(d, 3); /* "x" quoted */
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void test_call_script_functions(void **state) {
    (void)state;
    cryo_unit *u = compile("fn join(a, b) { `${a}-${b}` } fn none() { } let top = 1;");
    cryo_vm *vm = cryo_vm_pool_acquire(u, NULL);
    cryo_value args[2] = {cryo_value_string("x", 1), cryo_int(3)}, r;
    assert_int_equal(cryo_vm_call(vm, "join", 2, args, &r), CRYO_OK);
    assert_string_equal(cryo_value_str(r, NULL), "x-3");
    cryo_value_release(r);
    assert_int_equal(cryo_vm_call(vm, "none", 0, NULL, &r), CRYO_OK);
    assert_int_equal(r.type, CRYO_T_UNIT);
    assert_int_equal(cryo_vm_call(vm, "join", 1, args, &r), CRYO_ERR_NOT_FOUND);
    cryo_value_release(args[0]);
    cryo_vm_pool_release(vm);
    cryo_unit_release(u);
    cryo_vm_pool_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_calls),
        cmocka_unit_test(test_host_errors),
        cmocka_unit_test(test_host_value_types),
        cmocka_unit_test(test_methods_and_properties),
        cmocka_unit_test(test_package_include),
        cmocka_unit_test(test_context_capabilities_and_limits),
        cmocka_unit_test(test_raw_vm),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_many),
        cmocka_unit_test(test_pool_collects_cycles),
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_print_hooks),
        cmocka_unit_test(test_call_script_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
