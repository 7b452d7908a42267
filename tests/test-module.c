/* ctest-labels: threads */
/*
 * test-module.c — modules (docs/modules.md): import/export, private fns, `name::f()`,
 * `name::K`, nested modules, `global::`, imports inside blocks and fns; the file resolver
 * (relative to the importer, search paths), static modules, the host resolver; the context's
 * unit cache (compiled once, counted through the host resolver) and its invalidation; one run
 * of a module's top level per VM; the errors (missing module, cycle, a module's compile error,
 * unknown members); SyncFunctions calling module functions from 8 threads; 8 threads importing
 * at once.
 *
 * Runs in the source folder (ctest's WORKING_DIRECTORY): the file fixtures are those of the
 * CLI test, tests/cli/modules.
 */
#include "test.h"

#include <limits.h>
#include <stdatomic.h>

#define FIXTURES "tests/cli/modules"

/* --- the host side: a counter the modules bump, the host resolver's sources ---------------- */

static atomic_int bumps;

static cryo_error_kind h_bump(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)vm, (void)ud, (void)argc, (void)argv;
    *ret = cryo_int(atomic_fetch_add(&bumps, 1) + 1);
    return CRYO_OK;
}

static cryo_error_kind h_add(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_INT || argv[1]->type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "add: ints wanted");
    *ret = cryo_int(argv[0]->as.i + argv[1]->as.i);
    return CRYO_OK;
}

/* Modules the host resolver serves by name. */
static const struct {
    const char *path, *src;
} host_sources[] = {
    {"counted", "bump(); export const C = 7; fn get() { 7 }"},
    {"cyc_a", "import \"cyc_b\" as b; export const A = 1;"},
    {"cyc_b", "import \"cyc_a\" as a; export const B = 2;"},
    {"broken", "export const X = 1;\nlet y = ;"},
    {"vars", "let a = 1; let b = 2; export a; export b as bee; export let c = a + b;"
             "fn pub(x) { priv(x) + 1 } private fn priv(x) { x * 10 }"
             "fn over() { 0 } fn over(x) { x }"},
    {"effects", "bump();"},
    {"alt1", "fn who() { 1 }"},
    {"alt2", "fn who() { 2 }"},
    /* A module whose fns read its own constants (exported or not) and imports. */
    {"envmod", "import \"lib/util\" as u; export const K = 21; const P = 2;"
               "fn twice(x) { x * P } fn k2() { twice(K) } fn viau() { u::twice(K) }"
               "fn glob() { global::K } fn later() { |x| x + u::K + P }"},
    {"thrower", "throw \"module failed\";"},
};

static atomic_int resolver_calls;
static bool give_unit; /* answer with a compiled unit instead of source text */

static const char *hot_src = "fn v() { 1 }"; /* "hot": a module the test edits */

static bool host_resolver(void *ud, const char *path, const char *importer,
                          cryo_module_source *out) {
    (void)ud, (void)importer;
    if (strcmp(path, "hot") == 0) {
        out->source = hot_src;
        out->len = strlen(hot_src);
        return true;
    }
    for (size_t i = 0; i < sizeof host_sources / sizeof host_sources[0]; i++) {
        if (strcmp(host_sources[i].path, path) != 0) continue;
        atomic_fetch_add(&resolver_calls, 1);
        if (give_unit) {
            cryo_compile_options o = {.source_name = path};
            out->unit = cryo_compile(host_sources[i].src, strlen(host_sources[i].src), &o, NULL);
            return out->unit != NULL;
        }
        out->source = host_sources[i].src;
        out->len = strlen(host_sources[i].src);
        out->name = path;
        return true;
    }
    return false;
}

static cryo_context *ctx; /* std + bump, files (search path), static "mathx", host resolver */

static cryo_context *make_context(void) {
    cryo_package *p = cryo_package_new("test");
    cryo_package_add(p, "bump", 0, h_bump, NULL);
    cryo_package *mathx = cryo_package_new("mathx");
    cryo_package_add(mathx, "add", 2, h_add, NULL);
    cryo_package *pk[2] = {cryo_package_std(), p};
    cryo_context_config cfg = {
        .packages = pk, .npackages = 2, .capabilities = CRYO_CAP_THREADS | CRYO_CAP_EVAL};
    cryo_context *c = cryo_context_new(&cfg);
    const char *paths[] = {FIXTURES};
    cryo_static_module statics[] = {{"mathx", mathx}};
    cryo_module_config mc = {.statics = statics,
                             .nstatics = 1,
                             .resolver = host_resolver,
                             .files = true,
                             .search_paths = paths,
                             .nsearch_paths = 1};
    if (c && cryo_context_set_modules(c, &mc) != CRYO_OK) {
        cryo_context_release(c);
        c = NULL;
    }
    cryo_package_release(p);
    cryo_package_release(mathx);
    return c;
}

static int setup(void **state) {
    (void)state;
    ctx = make_context();
    return ctx ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctx);
    return 0;
}

/* Runs `src` compiled with source name `name` in a new VM of ctx; returns the VM (the caller
 * frees it) and the kind in *k, the result's debug text in out. */
static cryo_vm *run_named(const char *src, const char *name, cryo_error_kind *k, char *out,
                          size_t n) {
    cryo_compile_options o = {.source_name = name};
    cryo_unit *u = test_compile_opts(src, &o);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    assert_non_null(vm);
    cryo_value r = cryo_unit_value();
    *k = cryo_vm_run(vm, NULL, 0, &r);
    if (*k == CRYO_OK) {
        char *s = test_text(r);
        snprintf(out, n, "%s", s);
        free(s);
    }
    cryo_value_release(r);
    return vm;
}

/* --- syntax and semantics ------------------------------------------------------------------ */

static void file_import_search_path(void **state) {
    (void)state;
    EXPECT_IN(ctx, "import \"lib/util\" as u; u::twice(u::K)", "42");
    EXPECT_IN(ctx, "import \"lib/util.rhai\" as u; u::greet(\"x\")", "\"hello, x\"");
}

static void file_import_relative_to_importer(void **state) {
    (void)state;
    /* No search path would find "math" alone: it is next to lib/util.rhai, which imports it. */
    EXPECT_IN(ctx, "import \"lib/util\" as u; u::m::triple(5)", "15");
    cryo_error_kind k;
    char out[256];
    cryo_vm *vm = run_named("import \"lib/math\" as m; m::triple(3)", FIXTURES "/x.rhai", &k, out,
                            sizeof out);
    assert_int_equal(k, CRYO_OK);
    assert_string_equal(out, "9");
    cryo_vm_free(vm);
}

static void exports_and_visibility(void **state) {
    (void)state;
    EXPECT_IN(ctx, "import \"vars\" as v; [v::a, v::bee, v::c]", "[1, 2, 3]");
    EXPECT_IN(ctx, "import \"vars\" as v; v::pub(2)", "21");
    EXPECT_IN(ctx, "import \"vars\" as v; [v::over(), v::over(5)]", "[0, 5]");
    EXPECT_ERR_IN(ctx, "import \"vars\" as v; v::priv(2)", CRYO_ERR_NOT_FOUND,
                  "function 'priv' with 1 argument(s) not found in module 'vars'");
    EXPECT_ERR_IN(ctx, "import \"vars\" as v; v::b", CRYO_ERR_NOT_FOUND,
                  "variable 'b' not found in module 'vars'");
    EXPECT_ERR_IN(ctx, "import \"lib/util\" as u; u::hidden", CRYO_ERR_NOT_FOUND,
                  "variable 'hidden' not found");
    EXPECT_ERR_IN(ctx, "import \"lib/util\" as u; u::nope::f()", CRYO_ERR_NOT_FOUND,
                  "sub-module 'nope' not found");
    /* A main script's exports go nowhere; its fns still work. */
    EXPECT_IN(ctx, "export let x = 3; export x as y; x", "3");
}

static void imports_in_blocks_and_fns(void **state) {
    (void)state;
    EXPECT_IN(ctx, "let r = { import \"lib/util\" as u; u::twice(4) }; r", "8");
    EXPECT_IN(ctx, "fn f(x) { import \"lib/util\" as u; u::twice(x) } f(5) + f(6)", "22");
    /* A module alias is scoped like a variable: not visible outside its block; a fn sees only
     * the top-level ones (its script's environment). */
    EXPECT_ERR_IN(ctx, "{ import \"lib/util\" as u; } u::K", CRYO_ERR_NOT_FOUND, "u::");
    EXPECT_ERR_IN(ctx, "{ import \"lib/util\" as u; } fn f() { u::K } f()", CRYO_ERR_NOT_FOUND,
                  "module not imported here: u::");
    /* Closures capture it. */
    EXPECT_IN(ctx, "import \"lib/util\" as u; let f = |x| u::twice(x); f.call(7)", "14");
}

static void import_for_effects_only(void **state) {
    (void)state;
    int before = atomic_load(&bumps);
    EXPECT_IN(ctx, "import \"effects\"; 1", "1");
    assert_int_equal(atomic_load(&bumps), before + 1);
}

static void global_constants(void **state) {
    (void)state;
    EXPECT_IN(ctx, "const G = 5; fn f() { global::G * 2 } f()", "10");
    EXPECT_IN(ctx, "const G = [1, 2]; fn f() { global::G.len() } f() + global::G[1]", "4");
    EXPECT_ERR_IN(ctx, "fn f() { global::NOPE } f()", CRYO_ERR_NOT_FOUND,
                  "global constant 'NOPE' not found");
    EXPECT_ERR_IN(ctx, "global::f()", CRYO_ERR_PARSE, "global::NAME");
}

/* --- the encapsulated environment: what a fn sees of its script's top level ------------------ */

static void fns_see_top_level(void **state) {
    (void)state;
    EXPECT_IN(ctx, "import \"lib/util\" as u; fn f() { u::twice(u::K) } f()", "42");
    EXPECT_IN(ctx, "import \"lib/util\" as u; fn f() { u::m::triple(2) } fn g() { f() } g()", "6");
    EXPECT_IN(ctx, "const K = 5; fn f(x) { x * K } f(3)", "15");
    /* closures and fn pointers made inside fns, fn pointers to them */
    EXPECT_IN(ctx, "const K = 3; fn mk() { |x| x + K } let g = mk(); g.call(4)", "7");
    EXPECT_IN(ctx, "const K = 3; fn f(x) { x * K } [1, 2].map(f)", "[3, 6]");
    EXPECT_IN(ctx, "const K = 3; fn f(x) { x * K } let p = Fn(\"f\"); p.call(2)", "6");
    /* a parameter or local shadows it; the last top-level declaration wins */
    EXPECT_IN(ctx, "const K = 5; fn f(K) { K } f(1)", "1");
    EXPECT_IN(ctx, "const K = 5; fn f() { let K = 2; K } f()", "2");
    EXPECT_IN(ctx, "const K = 1; const K = 2; fn f() { K } f()", "2");
    /* pure reads of a constant are fine */
    EXPECT_IN(ctx, "const A = [1, 2]; fn f() { A.len() + A[1] } f()", "4");
    /* `let` stays invisible (fns are pure), as do constants of inner blocks */
    EXPECT_ERR_IN(ctx, "let v = 1; fn f() { v } f()", CRYO_ERR_NOT_FOUND, "variable not found: v");
    EXPECT_ERR_IN(ctx, "{ const B = 1; } fn f() { B } f()", CRYO_ERR_NOT_FOUND,
                  "variable not found: B");
    /* a fn that runs before the top level declared the constant */
    EXPECT_ERR_IN(ctx, "fn f() { K } let a = f(); const K = 1; a", CRYO_ERR_NOT_FOUND,
                  "constant 'K' of this script is not set in this VM");
}

static void fn_writes_to_constant(void **state) {
    (void)state;
    EXPECT_ERR_IN(ctx, "const K = 1; fn f() { K = 2 } f()", CRYO_ERR_COMPILE,
                  "cannot assign to constant 'K'");
    EXPECT_ERR_IN(ctx, "const K = 1; fn f() { K += 2 } f()", CRYO_ERR_COMPILE,
                  "cannot assign to constant 'K'");
    EXPECT_ERR_IN(ctx, "const K = [1]; fn f() { K.push(1) } f()", CRYO_ERR_COMPILE,
                  "cannot call 'push' on constant 'K'");
    EXPECT_ERR_IN(ctx, "const K = [1]; fn f() { K[0] = 5 } f()", CRYO_ERR_COMPILE,
                  "cannot assign to constant 'K'");
    EXPECT_ERR_IN(ctx, "const M = #{a: 1}; fn f() { M.a = 5 } f()", CRYO_ERR_COMPILE,
                  "cannot assign to constant 'M'");
    EXPECT_ERR_IN(ctx, "const K = [1]; fn f() { let g = || K.clear(); g.call() } f()",
                  CRYO_ERR_COMPILE, "cannot call 'clear' on constant 'K'");
}

static void module_fns_see_their_module(void **state) {
    (void)state;
    EXPECT_IN(ctx, "import \"envmod\" as e; e::k2()", "42");
    EXPECT_IN(ctx, "import \"envmod\" as e; e::viau()", "42");
    EXPECT_IN(ctx, "import \"envmod\" as e; fn f() { e::k2() + e::viau() } f()", "84");
    /* global:: in a module's fn: that module's constant, not the importer's */
    EXPECT_IN(ctx, "const K = 1; import \"envmod\" as e; fn f() { e::glob() } [f(), global::K]",
              "[21, 1]");
    EXPECT_IN(ctx, "import \"envmod\" as e; let c = e::later(); c.call(1)", "24");
    /* the private constant stays private to the importer */
    EXPECT_ERR_IN(ctx, "import \"envmod\" as e; e::P", CRYO_ERR_NOT_FOUND,
                  "variable 'P' not found in module 'envmod'");
}

/* A `::` call site remembers its target per VM: keyed by the module value, so one site called
 * with different modules, an alias imported again, and a reloaded module all call the right
 * fn. */
static void call_cache(void **state) {
    (void)state;
    EXPECT_IN(ctx,
              "let r = []; for p in [\"alt1\", \"alt2\", \"alt1\"] { import p as m; "
              "r.push(m::who()); } r",
              "[1, 2, 1]");
    EXPECT_IN(ctx,
              "import \"alt1\" as a; fn f() { a::who() } let x = f(); import \"alt2\" as a; "
              "x * 10 + f()",
              "12");
    /* hot reload: the next run of the VM imports the reloaded module */
    cryo_unit *u = test_compile("import \"hot\" as h; fn f() { h::v() } f() * 10 + h::v()");
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value r = cryo_unit_value();
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 11);
    hot_src = "fn v() { 2 }";
    assert_int_equal(cryo_context_invalidate_modules(ctx, "hot"), 1);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 22);
    cryo_vm_free(vm);
    hot_src = "fn v() { 1 }";
    cryo_context_invalidate_modules(ctx, "hot");
}

/* An eval'd text is a script of its own: its fns see its top level, module calls work from
 * its top level and its fns, in an eval at the top level or inside a fn. */
static void module_calls_from_evals(void **state) {
    (void)state;
    EXPECT_IN(ctx, "eval(\"import \\\"lib/util\\\" as u; u::twice(3)\")", "6");
    EXPECT_IN(ctx,
              "fn f() { eval(\"import \\\"envmod\\\" as e; const Q = 1;"
              " fn g() { e::k2() + Q } g()\") } f() + f()",
              "86");
}

static void syntax_errors(void **state) {
    (void)state;
    EXPECT_ERR_IN(ctx, "if true { export let x = 1; }", CRYO_ERR_PARSE,
                  "'export' is only allowed at the top level");
    EXPECT_ERR_IN(ctx, "import \"a\" as ;", CRYO_ERR_PARSE, "a module name after 'as'");
    EXPECT_ERR_IN(ctx, "import \"lib/util\" as u; u::", CRYO_ERR_PARSE, "a name after '::'");
    EXPECT_ERR_IN(ctx, "import 42 as u;", CRYO_ERR_TYPE, "module path must be a string");
}

/* --- resolvers ----------------------------------------------------------------------------- */

static void static_module(void **state) {
    (void)state;
    EXPECT_IN(ctx, "import \"mathx\" as mx; mx::add(2, 3)", "5");
    EXPECT_ERR_IN(ctx, "import \"mathx\" as mx; mx::sub(2, 3)", CRYO_ERR_NOT_FOUND,
                  "function 'sub' with 2 argument(s) not found in module 'mathx'");
    EXPECT_ERR_IN(ctx, "import \"mathx\" as mx; mx::add(2, \"x\")", CRYO_ERR_TYPE,
                  "add: ints wanted");
}

static void host_resolver_compiles_once(void **state) {
    (void)state;
    cryo_context_invalidate_modules(ctx, "counted");
    atomic_store(&resolver_calls, 0);
    int before = atomic_load(&bumps);
    /* Two imports in one VM: compiled once, top level run once. */
    EXPECT_IN(ctx, "import \"counted\" as a; import \"counted\" as b; a::get() + b::C", "14");
    assert_int_equal(atomic_load(&resolver_calls), 1);
    assert_int_equal(atomic_load(&bumps), before + 1);
    /* Another VM: the unit comes from the context's cache; its top level runs again. */
    EXPECT_IN(ctx, "import \"counted\" as a; a::C", "7");
    assert_int_equal(atomic_load(&resolver_calls), 1);
    assert_int_equal(atomic_load(&bumps), before + 2);
    /* Invalidated: compiled again. */
    assert_int_equal(cryo_context_invalidate_modules(ctx, "counted"), 1);
    assert_int_equal(cryo_context_invalidate_modules(ctx, "counted"), 0);
    EXPECT_IN(ctx, "import \"counted\" as a; a::C", "7");
    assert_int_equal(atomic_load(&resolver_calls), 2);
    /* A resolver answering with a unit. */
    cryo_context_invalidate_modules(ctx, NULL);
    give_unit = true;
    EXPECT_IN(ctx, "import \"vars\" as v; v::pub(1)", "11");
    give_unit = false;
    assert_int_equal(atomic_load(&resolver_calls), 3);
}

static void file_cache_invalidation(void **state) {
    (void)state;
    cryo_context_invalidate_modules(ctx, NULL);
    EXPECT_IN(ctx, "import \"lib/math\" as m; m::triple(1)", "3");
    EXPECT_IN(ctx, "import \"lib/math\" as m; m::triple(2)", "6");
    /* Files are keyed by their real path. */
    char real[4096];
    assert_non_null(realpath(FIXTURES "/lib/math.rhai", real));
    assert_int_equal(cryo_context_invalidate_modules(ctx, real), 1);
    assert_int_equal(cryo_context_invalidate_modules(ctx, NULL), 0);
}

static void no_resolver(void **state) {
    (void)state;
    EXPECT_ERR("import \"lib/util\" as u; u::K", CRYO_ERR_NOT_FOUND,
               "this context has no module resolver");
    cryo_module_config mc = {.files = true};
    assert_int_equal(cryo_context_set_modules(cryo_context_std(), &mc), CRYO_ERR_API);
    assert_int_equal(cryo_context_set_modules(ctx, &mc), CRYO_ERR_API); /* already set */
    assert_int_equal(cryo_context_set_modules(NULL, &mc), CRYO_ERR_API);
    cryo_context *c = cryo_context_new(NULL);
    cryo_module_config bad = {.nsearch_paths = 1};
    assert_int_equal(cryo_context_set_modules(c, &bad), CRYO_ERR_API);
    cryo_context_release(c);
}

/* --- errors -------------------------------------------------------------------------------- */

static void missing_module(void **state) {
    (void)state;
    cryo_error_kind k;
    char out[64];
    cryo_vm *vm =
        run_named("let x = 1;\n  import \"nothere\" as n;", "main.rhai", &k, out, sizeof out);
    assert_int_equal(k, CRYO_ERR_NOT_FOUND);
    const cryo_error *e = cryo_vm_error(vm);
    assert_string_equal(e->message, "module not found: 'nothere' (imported from main.rhai)");
    assert_int_equal(e->line, 2);
    assert_int_equal(e->column, 3);
    assert_string_equal(e->source_name, "main.rhai");
    cryo_vm_free(vm);
}

static void cycle(void **state) {
    (void)state;
    EXPECT_ERR_IN(ctx, "import \"cyc_a\" as a; a::A", CRYO_ERR_RUNTIME,
                  "module import cycle: cyc_a -> cyc_b -> cyc_a");
    /* Files, through the main script itself. */
    cryo_error_kind k;
    char out[64];
    cryo_vm *vm =
        run_named("import \"cycle_b\" as b;", FIXTURES "/cycle_a.rhai", &k, out, sizeof out);
    assert_int_equal(k, CRYO_ERR_RUNTIME);
    const char *m = cryo_vm_error(vm)->message;
    assert_non_null(strstr(m, "module import cycle: " FIXTURES "/cycle_a.rhai -> " FIXTURES
                              "/cycle_b.rhai -> " FIXTURES "/cycle_a.rhai"));
    cryo_vm_free(vm);
}

static void module_compile_error(void **state) {
    (void)state;
    cryo_error_kind k;
    char out[64];
    cryo_vm *vm = run_named("import \"broken\" as b;", "main.rhai", &k, out, sizeof out);
    assert_int_equal(k, CRYO_ERR_PARSE);
    const cryo_error *e = cryo_vm_error(vm);
    assert_string_equal(e->source_name, "broken");
    assert_int_equal(e->line, 2);
    assert_int_equal(e->column, 9);
    assert_non_null(strstr(e->message, "in module 'broken'"));
    cryo_vm_free(vm);
    /* A module that throws: the error passes through the import, which can be retried. */
    EXPECT_ERR_IN(ctx, "import \"thrower\" as t;", CRYO_ERR_RUNTIME, "module failed");
    EXPECT_IN(ctx,
              "let n = 0; for i in 0..2 { try { import \"thrower\" as t; } catch { n += 1; } } n",
              "2");
}

/* --- images (docs/serialization.md) --------------------------------------------------------- */

/* A unit image keeps the import statement, not the module: the loaded unit resolves it when it
 * runs. A SyncFunction that captured a module value holds fns of two units: refused. */
static void images(void **state) {
    (void)state;
    const char *src = "import \"lib/util\" as u; |x| u::twice(x)";
    cryo_unit *u = test_compile(src);
    size_t n = 0;
    cryo_error *err = NULL;
    void *img = cryo_unit_to_image_alloc(u, &n, &err);
    cryo_unit_release(u);
    assert_non_null(img);
    cryo_unit *loaded = cryo_unit_from_image(img, n, &err);
    free(img);
    assert_non_null(loaded);
    cryo_vm *vm = cryo_vm_new(loaded, ctx);
    cryo_unit_release(loaded);
    cryo_value fn = cryo_unit_value(), r = cryo_unit_value();
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fn), CRYO_OK);
    cryo_value arg = cryo_int(21);
    assert_int_equal(cryo_vm_call_value(vm, fn, 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, 42);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fn, &f), CRYO_OK);
    cryo_value_release(fn);
    cryo_vm_free(vm);
    cryo_const c = cryo_const_sync(f);
    img = cryo_const_to_image_alloc(c, 0, &n, &err);
    assert_null(img);
    assert_non_null(err);
    assert_non_null(strstr(err->message, "more than one unit"));
    cryo_error_free(err);
    cryo_const_release(c);
    cryo_sync_release(f);
}

/* --- threads ------------------------------------------------------------------------------- */

typedef struct call_arg {
    cryo_sync *f;
    int64_t base;
    int fails;
} call_arg;

static void *call_thread(void *p) {
    call_arg *a = p;
    for (int i = 0; i < 200; i++) {
        cryo_const arg = cryo_const_int(a->base + i), r = cryo_const_unit();
        cryo_error *err = NULL;
        cryo_error_kind k = cryo_sync_call(a->f, 1, &arg, &r, &err);
        if (err && a->fails == 0) fprintf(stderr, "sync call: %s\n", err->message);
        cryo_error_free(err);
        if (k != CRYO_OK || r.v.type != CRYO_T_INT ||
            r.v.as.i != 2 * (a->base + i) + 3 * (a->base + i))
            a->fails++;
        cryo_const_release(r);
    }
    return NULL;
}

static void sync_functions_on_threads(void **state) {
    (void)state;
    cryo_sync *f = test_sync(ctx, "import \"lib/util\" as u;\n"
                                  "|x| u::twice(x) + u::m::triple(x)");
    enum { N = 8 };
    pthread_t t[N];
    call_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (call_arg){f, i * 1000, 0};
        assert_int_equal(pthread_create(&t[i], NULL, call_thread, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    cryo_sync_release(f);
    cryo_vm_pool_clear();
}

/* A module's fn that reads its module's constants and imports, called through a SyncFunction
 * from 8 threads: each thread's VM runs the module's top level once, where the fn finds them. */
typedef struct env_arg {
    cryo_sync *f;
    int fails;
} env_arg;

static void *env_thread(void *p) {
    env_arg *a = p;
    for (int i = 0; i < 200; i++) {
        cryo_const arg = cryo_const_int(i), r = cryo_const_unit();
        cryo_error *err = NULL;
        cryo_error_kind k = cryo_sync_call(a->f, 1, &arg, &r, &err);
        if (err && a->fails == 0) fprintf(stderr, "sync call: %s\n", err->message);
        cryo_error_free(err);
        if (k != CRYO_OK || r.v.type != CRYO_T_INT || r.v.as.i != 84 + i) a->fails++;
        cryo_const_release(r);
    }
    return NULL;
}

static void sync_module_env_on_threads(void **state) {
    (void)state;
    cryo_sync *f = test_sync(ctx, "import \"envmod\" as e;\n"
                                  "|x| e::k2() + e::viau() + x");
    enum { N = 8 };
    pthread_t t[N];
    env_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (env_arg){f, 0};
        assert_int_equal(pthread_create(&t[i], NULL, env_thread, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    cryo_sync_release(f);
    cryo_vm_pool_clear();
}

static void *env_error_thread(void *p) {
    cryo_sync *f = p;
    cryo_const arg = cryo_const_int(1), r = cryo_const_unit();
    cryo_error *err = NULL;
    cryo_error_kind k = cryo_sync_call(f, 1, &arg, &r, &err);
    bool ok = k == CRYO_ERR_NOT_FOUND && err &&
              (strstr(err->message, "constant 'K' of main.rhai is not set in this VM") ||
               strstr(err->message, "module 'u' of main.rhai is not set in this VM")) &&
              strstr(err->message, "SyncFunction");
    cryo_error_free(err);
    cryo_const_release(r);
    return ok ? p : NULL;
}

static void sync_main_env_error(const char *src);

/* A main script's fn frozen into a SyncFunction runs without the script's top level: reading
 * its constant is a clear error (not "variable not found"), on any thread. */
static void sync_main_env_is_an_error(void **state) {
    (void)state;
    sync_main_env_error("const K = 2; fn f(x) { x * K } |x| f(x)");
    sync_main_env_error("import \"lib/util\" as u; fn f(x) { u::twice(x) } |x| f(x)");
}

static void sync_main_env_error(const char *src) {
    cryo_compile_options o = {.source_name = "main.rhai"};
    cryo_unit *u = test_compile_opts(src, &o);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value fn = cryo_unit_value(), r = cryo_unit_value();
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fn), CRYO_OK);
    cryo_value arg = cryo_int(21);
    assert_int_equal(cryo_vm_call_value(vm, fn, 1, &arg, &r), CRYO_OK); /* here: it ran */
    assert_int_equal(r.as.i, 42);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fn, &f), CRYO_OK);
    cryo_value_release(fn);
    cryo_vm_free(vm);
    pthread_t t;
    void *res = NULL;
    assert_int_equal(pthread_create(&t, NULL, env_error_thread, f), 0);
    pthread_join(t, &res);
    assert_ptr_equal(res, f);
    cryo_sync_release(f);
    cryo_vm_pool_clear();
}

/* 8 threads import at once, each in its own VM: the context's cache (one mutex) compiles the
 * module once; every thread gets the right result. */
static void *import_thread(void *p) {
    int *ok = p;
    char out[64];
    for (int i = 0; i < 20; i++) {
        cryo_error_kind k = test_run(ctx,
                                     "import \"counted\" as c; import \"lib/util\" as u; "
                                     "u::twice(c::C)",
                                     TEST_NO_LIMIT, 0, out, sizeof out);
        if (k == CRYO_OK && strcmp(out, "14") == 0) (*ok)++;
    }
    return NULL;
}

static void concurrent_imports(void **state) {
    (void)state;
    cryo_context_invalidate_modules(ctx, NULL);
    atomic_store(&resolver_calls, 0);
    enum { N = 8 };
    pthread_t t[N];
    int ok[N] = {0};
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, import_thread, &ok[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(ok[i], 20);
    }
    assert_int_equal(atomic_load(&resolver_calls), 1); /* "counted": compiled once */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_import_search_path),
        cmocka_unit_test(file_import_relative_to_importer),
        cmocka_unit_test(exports_and_visibility),
        cmocka_unit_test(imports_in_blocks_and_fns),
        cmocka_unit_test(import_for_effects_only),
        cmocka_unit_test(global_constants),
        cmocka_unit_test(fns_see_top_level),
        cmocka_unit_test(fn_writes_to_constant),
        cmocka_unit_test(module_fns_see_their_module),
        cmocka_unit_test(module_calls_from_evals),
        cmocka_unit_test(call_cache),
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test(static_module),
        cmocka_unit_test(host_resolver_compiles_once),
        cmocka_unit_test(file_cache_invalidation),
        cmocka_unit_test(no_resolver),
        cmocka_unit_test(missing_module),
        cmocka_unit_test(cycle),
        cmocka_unit_test(module_compile_error),
        cmocka_unit_test(images),
        cmocka_unit_test(sync_functions_on_threads),
        cmocka_unit_test(sync_module_env_on_threads),
        cmocka_unit_test(sync_main_env_is_an_error),
        cmocka_unit_test(concurrent_imports),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
