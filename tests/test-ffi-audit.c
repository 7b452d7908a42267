/*
 * test-ffi-audit.c — the FFI capability audit (docs/reliability.md, "Security model"): a script
 * in a context without CRYO_CAP_FFI (the std context, a raw VM, a custom context with packages
 * but no capability, even one that wrongly includes the ffi package) reaches no ffi:: function
 * by any route and cannot make a pointer value; the same scripts work in an FFI context. Also
 * the hostile SyncFunction cases that need cryo_ffi: a callback freed while its SyncFunction is
 * still held, and bursts of SyncFunction calls from many threads.
 */
/* ctest-labels: threads */
#include "test.h"

#include "cryo_ffi.h"

enum { CTX_STD, CTX_RAW, CTX_CUSTOM, CTX_FFI_PKG_NO_CAP, CTX_FFI, CTX__COUNT };
static const char *ctx_names[] = {"std", "raw", "custom", "ffi-package-without-cap", "ffi"};
static cryo_context *ctxs[CTX__COUNT];

static cryo_error_kind host_twice(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)vm;
    (void)ud;
    (void)argc;
    *ret = cryo_int(argv[0]->as.i * 2);
    return CRYO_OK;
}

static int setup(void **state) {
    (void)state;
    cryo_package *host = cryo_package_new("host");
    cryo_package_add(host, "twice", 1, host_twice, NULL);
    cryo_package_seal(host);
    ctxs[CTX_STD] = cryo_context_std();
    ctxs[CTX_RAW] = NULL; /* cryo_vm_new_raw */
    cryo_package *p1[2] = {cryo_package_std(), host};
    cryo_context_config c1 = {.packages = p1, .npackages = 2, .capabilities = 0};
    ctxs[CTX_CUSTOM] = cryo_context_new(&c1);
    /* a host mistake: the ffi package, but not the capability */
    cryo_package *p2[3] = {cryo_package_std(), host, cryo_ffi_package()};
    cryo_context_config c2 = {.packages = p2, .npackages = 3, .capabilities = 0};
    ctxs[CTX_FFI_PKG_NO_CAP] = cryo_context_new(&c2);
    ctxs[CTX_FFI] = cryo_ffi_context_new();
    cryo_package_release(host);
    for (int i = 0; i < CTX__COUNT; i++)
        if (i != CTX_RAW && !ctxs[i]) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctxs[CTX_CUSTOM]);
    cryo_context_release(ctxs[CTX_FFI_PKG_NO_CAP]);
    cryo_context_release(ctxs[CTX_FFI]);
    cryo_vm_pool_clear();
    return 0;
}

/* Runs src in context `ci`; returns the kind; *out gets the debug text of the result or the
 * error message. */
static cryo_error_kind run_in(int ci, const char *src, char *out, size_t size) {
    /* a raw VM is a VM of the raw context */
    return test_run(ci == CTX_RAW ? cryo_context_raw() : ctxs[ci], src, TEST_NO_LIMIT, 0, out,
                    size);
}

static void expect_in(int ci, const char *src, cryo_error_kind want_kind, const char *want_sub) {
    char out[1024];
    cryo_error_kind k = run_in(ci, src, out, sizeof out);
    if (k != want_kind || (want_sub && !strstr(out, want_sub)))
        fprintf(stderr, "[%s] script: %s\n  got (%d): %s\n  want (%d): %s\n", ctx_names[ci], src, k,
                out, want_kind, want_sub ? want_sub : "");
    assert_int_equal(k, want_kind);
    if (want_sub) assert_non_null(strstr(out, want_sub));
}

/* Every function the ffi module defines (ffi/lib_ffi.c, build()), each arity, called with
 * arguments that need no other ffi:: function. In an FFI context each reaches the function
 * (its own result or error); without the capability each is CRYO_ERR_NOT_FOUND naming it. */
static const struct {
    const char *src, *name;
    cryo_error_kind ffi_kind;
    const char *ffi_sub;
} every_fn[] = {
    {"type_of(ffi::open())", "ffi::open", CRYO_OK, "\"ptr\""},
    {"type_of(ffi::open(()))", "ffi::open", CRYO_OK, "\"ptr\""},
    {"ffi::open(\"/nonexistent/libaudit.so\")", "ffi::open", CRYO_ERR_ARGUMENT, "ffi::open"},
    {"ffi::func((), \"int abs(int)\")", "ffi::func", CRYO_ERR_TYPE, "ffi::func"},
    {"ffi::call()", "ffi::call", CRYO_ERR_ARGUMENT, "missing function"},
    {"ffi::call((), 1, 2)", "ffi::call", CRYO_ERR_TYPE, "ffi::call"},
    {"type_of(ffi::callback(|a| a + 1, \"int (*)(int)\"))", "ffi::callback", CRYO_OK, "\"ptr\""},
    {"let p = ffi::new(\"int\"); p[0] = 7; p[0]", "ffi::new", CRYO_OK, "7"},
    {"let p = ffi::new(\"double\", 4); p[3] = 1.5; p[3]", "ffi::new", CRYO_OK, "1.5"},
    {"ffi::cdef(\"struct audit_s { int a; };\")", "ffi::cdef", CRYO_OK, "()"},
    {"ffi::const(\"AUDIT_NONE\")", "ffi::const", CRYO_ERR_NOT_FOUND, "AUDIT_NONE"},
    {"type_of(ffi::cast(0, \"int *\"))", "ffi::cast", CRYO_OK, "\"ptr\""},
    {"ffi::addr(())", "ffi::addr", CRYO_ERR_TYPE, "ffi::addr"},
    {"ffi::string(())", "ffi::string", CRYO_ERR_TYPE, "ffi::string"},
    {"ffi::string((), 3)", "ffi::string", CRYO_ERR_TYPE, "ffi::string"},
    {"type_of(ffi::null())", "ffi::null", CRYO_OK, "\"ptr\""},
    {"ffi::addr(ffi::null())", "ffi::null", CRYO_OK, "0"},
    /* reserved words after ffi:: are names too */
    {"ffi::fn()", "ffi::fn", CRYO_ERR_NOT_FOUND, "ffi::fn"},
};

static void every_ffi_function(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof every_fn / sizeof every_fn[0]; i++) {
        for (int c = 0; c < CTX__COUNT; c++) {
            if (c == CTX_FFI)
                expect_in(c, every_fn[i].src, every_fn[i].ffi_kind, every_fn[i].ffi_sub);
            else
                expect_in(c, every_fn[i].src, CRYO_ERR_NOT_FOUND, every_fn[i].name);
        }
    }
    /* the ffi context can go on after the refused-elsewhere scripts */
    expect_in(CTX_FFI, "let f = ffi::func(ffi::open(), \"int abs(int)\"); f(-3) + f.call(-4)",
              CRYO_OK, "7");
}

/* Indirect routes: function pointers by name (built from pieces too), call(), curry, a map
 * property call, is_def_fn. Fn() refuses any name with '::' in every context, so none of them
 * can name an ffi function; in the FFI context they fail the same way. */
static void indirect_routes(void **state) {
    (void)state;
    static const char *fn_routes[] = {
        "Fn(\"ffi::open\")",
        "call(Fn(\"ffi::new\"), \"int\", 4)",
        "Fn(\"ffi::new\").curry(\"int\").call(4)",
        "let m = #{f: Fn(\"ffi::null\")}; m.f()",
        "Fn(\"ffi\" + \"::new\")",
        "let n = \"ffi\"; n += \"::\"; n += \"null\"; Fn(n).call()",
        "Fn(\"ffi::\" + \"call\").call()",
        "Fn(`ffi::cast`).call(0, \"int *\")",
    };
    for (size_t i = 0; i < sizeof fn_routes / sizeof fn_routes[0]; i++)
        for (int c = 0; c < CTX__COUNT; c++) {
            /* a raw VM does not even have Fn() */
            if (c == CTX_RAW)
                expect_in(c, fn_routes[i], CRYO_ERR_NOT_FOUND, "function not found");
            else
                expect_in(c, fn_routes[i], CRYO_ERR_ARGUMENT, "invalid function name");
        }
    for (int c = 0; c < CTX__COUNT; c++) {
        /* is_def_fn sees script functions only */
        expect_in(c, "is_def_fn(\"ffi::null\", 0)", CRYO_OK, "false");
        /* a bare ffi::name is not a value */
        expect_in(c, "let x = ffi::null; x", CRYO_ERR_PARSE, "not supported");
        /* other namespaces are modules (docs/modules.md), never imported here */
        expect_in(c, "mem::read(0)", CRYO_ERR_NOT_FOUND, "module not imported here: mem::");
    }
    /* a script function named like an ffi function cannot be declared */
    for (int c = 0; c < CTX__COUNT; c++)
        expect_in(c, "fn ffi::new(a) { a } 1", CRYO_ERR_PARSE, NULL);
}

/* No pointer value by any other route: nothing in the std library makes one, and types that
 * convert do not give one (to_int of a string is an integer; indexing an integer reads bits). */
static void no_pointer_values(void **state) {
    (void)state;
    for (int c = 0; c < CTX__COUNT; c++) {
        if (c == CTX_FFI) continue;
        /* indexing an integer reads one bit, not memory */
        expect_in(c, "let x = 140737488355328; [x[0], x[47]]", CRYO_OK, "[false, true]");
        expect_in(c, "type_of(parse_int(\"7fff0000\", 16))",
                  c == CTX_RAW ? CRYO_ERR_NOT_FOUND : CRYO_OK, c == CTX_RAW ? NULL : "\"i64\"");
    }
    /* an integer is never a pointer: the ffi context needs ffi::cast to make one */
    expect_in(CTX_FFI, "let x = 0; type_of(x)", CRYO_OK, "\"i64\"");
}

/* A pointer handed in by the host: a host function registered with cryo_ffi_package_add that
 * returns `int *` gives any script of that context a dereferenceable pointer, capability or not
 * (the capability guards the ffi:: module, not host functions). This is the design: the host
 * must not register such functions for untrusted scripts (docs/reliability.md). The test pins
 * the behaviour so that the documentation stays true. */
static int32_t host_cells[4] = {10, 20, 30, 40};
static int32_t *host_ptr(void) {
    return host_cells;
}

static void host_pointers(void **state) {
    (void)state;
    cryo_ffi_scope *scope = cryo_ffi_scope_new();
    assert_non_null(scope);
    cryo_package *pkg = cryo_package_new("leaky");
    cryo_error *err = NULL;
    assert_int_equal(
        cryo_ffi_package_add(pkg, scope, NULL, "int *host_ptr(void)", (void *)host_ptr, &err),
        CRYO_OK);
    cryo_package_seal(pkg);
    cryo_package *pk[2] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pk, .npackages = 2, .capabilities = 0};
    cryo_context *saved = ctxs[CTX_CUSTOM];
    ctxs[CTX_CUSTOM] = cryo_context_new(&cfg);
    assert_non_null(ctxs[CTX_CUSTOM]);
    expect_in(CTX_CUSTOM, "let p = host_ptr(); type_of(p)", CRYO_OK, "\"ptr\"");
    expect_in(CTX_CUSTOM, "let p = host_ptr(); p[2]", CRYO_OK, "30");
    expect_in(CTX_CUSTOM, "let p = host_ptr(); p[1] = 99; p[1]", CRYO_OK, "99");
    assert_int_equal(host_cells[1], 99);
    host_cells[1] = 20;
    /* raw pointers from C are unbounded: nothing stops p[-1] or p[1000000] but the host's care */
    /* ...but the ffi:: module is still unreachable from that context */
    expect_in(CTX_CUSTOM, "ffi::addr(host_ptr())", CRYO_ERR_NOT_FOUND, "ffi::addr");
    expect_in(CTX_CUSTOM, "ffi::cast(host_ptr(), \"double *\")", CRYO_ERR_NOT_FOUND, "ffi::cast");
    cryo_context_release(ctxs[CTX_CUSTOM]);
    ctxs[CTX_CUSTOM] = saved;
    cryo_package_release(pkg);
    cryo_ffi_scope_free(scope);
}

/* Pointers cannot leave an FFI VM as constants (so they cannot be thawed into another
 * context's VM), and a SyncFunction made in the FFI context keeps its own context: calling it
 * from a std-context script runs it with the FFI capability (a host decision). */
static void pointers_do_not_travel(void **state) {
    (void)state;
    const char *src = "fn mk() { ffi::new(\"int\", 2) } fn cl() { let p = ffi::null(); || p }";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, ctxs[CTX_FFI]);
    cryo_value p;
    assert_int_equal(cryo_vm_call(vm, "mk", 0, NULL, &p), CRYO_OK);
    cryo_const c;
    assert_int_equal(cryo_vm_freeze(vm, p, &c), CRYO_ERR_TYPE);
    cryo_value_release(p);
    cryo_value f;
    assert_int_equal(cryo_vm_call(vm, "cl", 0, NULL, &f), CRYO_OK);
    cryo_sync *s = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, f, &s), CRYO_ERR_TYPE);
    assert_null(s);
    cryo_value_release(f);
    cryo_vm_free(vm);
    cryo_unit_release(u);

    /* A SyncFunction made in the FFI context: cryo_sync_call runs it in a pooled VM of its own
     * context (the capability travels with it: a host decision), but a script of another
     * context calling it in its own VM (g.call(), cryo_sync_call_in) runs it with the calling
     * VM's context, where ffi:: is not found. */
    const char *src2 = "|| type_of(ffi::null())";
    u = cryo_compile(src2, strlen(src2), NULL, NULL);
    assert_non_null(u);
    vm = cryo_vm_new(u, ctxs[CTX_FFI]);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &f), CRYO_OK);
    assert_int_equal(cryo_vm_into_sync(vm, f, &s), CRYO_OK);
    cryo_value_release(f);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    cryo_const r;
    assert_int_equal(cryo_sync_call(s, 0, NULL, &r, NULL), CRYO_OK);
    assert_string_equal(cryo_value_str(r.v, NULL), "ptr");
    cryo_const_release(r);
    const char *src3 = "fn run_g(g) { g.call() }";
    u = cryo_compile(src3, strlen(src3), NULL, NULL);
    assert_non_null(u);
    for (int ci = 0; ci < CTX_FFI; ci++) {
        vm = ci == CTX_RAW ? cryo_vm_new_raw(u) : cryo_vm_new(u, ctxs[ci]);
        cryo_const sc = cryo_const_sync(s);
        cryo_value g, out;
        assert_int_equal(cryo_vm_thaw(vm, sc, &g), CRYO_OK);
        cryo_const_release(sc);
        assert_int_equal(cryo_vm_call(vm, "run_g", 1, &g, &out), CRYO_ERR_NOT_FOUND);
        assert_non_null(strstr(cryo_vm_error(vm)->message, "ffi::null"));
        assert_int_equal(cryo_sync_call_in(s, vm, 0, NULL, &out), CRYO_ERR_NOT_FOUND);
        cryo_value_release(g);
        cryo_vm_free(vm);
    }
    cryo_unit_release(u);
    cryo_sync_release(s);
}

/* --- hostile SyncFunction cases --------------------------------------------------------------- */

/* A callback freed while the host still holds its SyncFunction: the SyncFunction keeps working
 * (the callback retained it and released it on free); freeing NULL is allowed. */
static void callback_freed_sync_kept(void **state) {
    (void)state;
    const char *src = "let k = 3; |a, b| a * b + k";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value fv;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fv), CRYO_OK);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fv, &f), CRYO_OK);
    cryo_value_release(fv);
    for (int round = 0; round < 50; round++) {
        cryo_error *err = NULL;
        cryo_ffi_callback *cb = cryo_ffi_callback_new(f, NULL, "int (*)(int, int)", &err);
        assert_non_null(cb);
        int (*fp)(int, int) = (int (*)(int, int))cryo_ffi_callback_ptr(cb);
        assert_int_equal(fp(round, 2), round * 2 + 3);
        cryo_ffi_callback_free(cb);
        /* the SyncFunction still works, from C and from a script holding it */
        cryo_const args[2] = {cryo_const_int(round), cryo_const_int(5)}, r;
        assert_int_equal(cryo_sync_call(f, 2, args, &r, NULL), CRYO_OK);
        assert_int_equal(r.v.as.i, round * 5 + 3);
        cryo_const_release(r);
    }
    cryo_ffi_callback_free(NULL);
    /* a script holds the SyncFunction while the callback made from it dies */
    const char *src2 = "fn use_it(g) { g.call(6, 7) }";
    cryo_unit *u2 = cryo_compile(src2, strlen(src2), NULL, NULL);
    assert_non_null(u2);
    cryo_vm *vm2 = cryo_vm_new(u2, NULL);
    cryo_value g;
    cryo_const fc = cryo_const_sync(f); /* a new reference; the VM pins its own */
    assert_int_equal(cryo_vm_thaw(vm2, fc, &g), CRYO_OK);
    cryo_const_release(fc);
    cryo_ffi_callback *cb = cryo_ffi_callback_new(f, NULL, "int (*)(int, int)", NULL);
    assert_non_null(cb);
    cryo_sync_release(f); /* now only the callback and vm2's pin hold it */
    cryo_ffi_callback_free(cb);
    cryo_value r;
    assert_int_equal(cryo_vm_call(vm2, "use_it", 1, &g, &r), CRYO_OK);
    assert_int_equal(r.as.i, 45);
    cryo_value_release(g);
    cryo_vm_free(vm2);
    cryo_unit_release(u2);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    /* the same from a script (FFI context): ffi::callback values dropped (their closures freed)
     * while the script keeps the SyncFunction; the C pointer is called only while alive */
    expect_in(CTX_FFI,
              "let s = (|a| a * 2 + 1).into_sync(); let t = 0;"
              "for i in 0..100 {"
              "  let cb = ffi::callback(s, \"int (*)(int)\");"
              "  let f = ffi::func(cb, \"int (*)(int)\");"
              "  t += f(i);"
              "  cb = (); f = ();"
              "  t += s.call(i);"
              "}"
              "t",
              CRYO_OK, "20000");
}

/* Short bursts of SyncFunction calls from many threads, created and joined in rounds, through
 * cryo_sync_call and through a callback pointer. */
enum { BURST_THREADS = 64, BURST_ROUNDS = 3 };
static int burst_calls = 1000;
typedef struct {
    cryo_sync *f;
    int (*fp)(int, int);
    int id;
    int bad, ok;
} burst_arg;

static void *burst(void *p) {
    burst_arg *a = p;
    for (int i = 0; i < burst_calls; i++) {
        int x = a->id * 1000 + i;
        if (i & 1) {
            if (a->fp(x, 3) != x * 3 + 1)
                a->bad++;
            else
                a->ok++;
        } else {
            cryo_const args[2] = {cryo_const_int(x), cryo_const_int(2)}, r;
            if (cryo_sync_call(a->f, 2, args, &r, NULL) != CRYO_OK || r.v.as.i != x * 2 + 1)
                a->bad++;
            else {
                cryo_const_release(r);
                a->ok++;
            }
        }
    }
    cryo_vm_pool_clear();
    return NULL;
}

static void sync_bursts(void **state) {
    (void)state;
    if (getenv("CRYO_UNDER_VALGRIND")) burst_calls = 50;
    const char *src = "|a, b| a * b + 1";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value fv;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fv), CRYO_OK);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fv, &f), CRYO_OK);
    cryo_value_release(fv);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    cryo_ffi_callback *cb = cryo_ffi_callback_new(f, NULL, "int (*)(int, int)", NULL);
    assert_non_null(cb);
    int (*fp)(int, int) = (int (*)(int, int))cryo_ffi_callback_ptr(cb);
    for (int round = 0; round < BURST_ROUNDS; round++) {
        pthread_t th[BURST_THREADS];
        burst_arg args[BURST_THREADS];
        int started = 0;
        for (int t = 0; t < BURST_THREADS; t++) {
            args[t] = (burst_arg){.f = f, .fp = fp, .id = t, .bad = 0, .ok = 0};
            if (pthread_create(&th[t], NULL, burst, &args[t]) != 0) break;
            started++;
        }
        assert_true(started >= 8);
        for (int t = 0; t < started; t++) {
            pthread_join(th[t], NULL);
            assert_int_equal(args[t].bad, 0);
            assert_int_equal(args[t].ok, burst_calls);
        }
    }
    assert_int_equal(cryo_ffi_callback_errors(cb), 0);
    cryo_ffi_callback_free(cb);
    cryo_sync_release(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_ffi_function),
        cmocka_unit_test(indirect_routes),
        cmocka_unit_test(no_pointer_values),
        cmocka_unit_test(host_pointers),
        cmocka_unit_test(pointers_do_not_travel),
        cmocka_unit_test(callback_freed_sync_kept),
        cmocka_unit_test(sync_bursts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
