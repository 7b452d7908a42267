/* ctest-labels: threads */
/*
 * test-trace.c — stack traces of runtime errors (cryo_error_frame_count, cryo_error_frame):
 * script frames with their lines, host and builtin frames, a host calling back into script
 * code, a SyncFunction's error on another thread, spawn/join, a caught error, the cut of a deep
 * recursion, the text cryo_error_format writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cryo.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cryo_unit *compile(const char *src) {
    cryo_compile_options o = {.source_name = "t.rhai"};
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), &o, &err);
    if (!u) {
        char *t = cryo_error_format(err, src, strlen(src));
        fail_msg("compile failed: %s", t ? t : "?");
    }
    return u;
}

/* Runs `src` in a fresh VM of `ctx` (NULL = std) and expects it to fail: the VM is returned
 * with its error for the caller to inspect and free. */
static cryo_vm *run_failing(cryo_context *ctx, const char *src, cryo_error_kind want) {
    cryo_unit *u = compile(src);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    assert_non_null(vm);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k == CRYO_OK) cryo_value_release(r);
    assert_int_equal(k, want);
    assert_non_null(cryo_vm_error(vm));
    return vm;
}

static void expect_frame(const cryo_error *e, int i, cryo_frame_kind kind, const char *fn,
                         int line) {
    const cryo_trace_frame *f = cryo_error_frame(e, i);
    if (!f) fail_msg("no frame %d (the trace has %d)", i, cryo_error_frame_count(e));
    if (f->kind != kind || strcmp(f->function, fn) != 0 || f->line != line)
        fail_msg("frame %d: %s %s line %d, expected %s %s line %d", i,
                 cryo_frame_kind_name(f->kind), f->function, f->line, cryo_frame_kind_name(kind),
                 fn, line);
    if (kind == CRYO_FRAME_SCRIPT) {
        assert_non_null(f->source_name);
        assert_string_equal(f->source_name, "t.rhai");
        assert_true(f->column > 0);
    } else {
        assert_null(f->source_name);
        assert_int_equal(f->column, 0);
    }
}

static const char *THREE_DEEP = "fn inner(x) {\n"  /* 1 */
                                "    x / 0\n"      /* 2 */
                                "}\n"              /* 3 */
                                "fn middle(x) {\n" /* 4 */
                                "    inner(x + 1)\n"
                                "}\n"
                                "fn outer(x) {\n"
                                "    middle(x * 2)\n" /* 8 */
                                "}\n"
                                "outer(1)\n"; /* 10 */

/* The case: an error three calls deep has every frame, innermost first, with the line
 * of the call each frame was making. */
static void three_calls_deep(void **state) {
    (void)state;
    cryo_vm *vm = run_failing(NULL, THREE_DEEP, CRYO_ERR_ARITHMETIC);
    const cryo_error *e = cryo_vm_error(vm);
    assert_int_equal(e->line, 2);
    assert_int_equal(cryo_error_frame_count(e), 4);
    expect_frame(e, 0, CRYO_FRAME_SCRIPT, "inner", 2);
    expect_frame(e, 1, CRYO_FRAME_SCRIPT, "middle", 5);
    expect_frame(e, 2, CRYO_FRAME_SCRIPT, "outer", 8);
    expect_frame(e, 3, CRYO_FRAME_SCRIPT, "<main>", 10);
    assert_int_equal(cryo_error_frame(e, 0)->column, 5);
    assert_null(cryo_error_frame(e, 4));
    assert_null(cryo_error_frame(e, -1));

    char *text = cryo_error_format(e, THREE_DEEP, strlen(THREE_DEEP));
    assert_non_null(text);
    assert_non_null(strstr(text, "stack trace (innermost call first):\n"
                                 "  at inner (t.rhai:2:5)\n"
                                 "  at middle (t.rhai:5:5)\n"
                                 "  at outer (t.rhai:8:5)\n"
                                 "  at <main> (t.rhai:10:1)\n"));
    free(text);
    cryo_vm_free(vm);
}

/* An error at the top level has one frame, and cryo_error_format adds no trace to it. */
static void top_level_one_frame(void **state) {
    (void)state;
    const char *src = "let x = 1;\nx.foo()";
    cryo_vm *vm = run_failing(NULL, src, CRYO_ERR_NOT_FOUND);
    const cryo_error *e = cryo_vm_error(vm);
    assert_int_equal(cryo_error_frame_count(e), 1);
    expect_frame(e, 0, CRYO_FRAME_SCRIPT, "<main>", 2);
    char *text = cryo_error_format(e, src, strlen(src));
    assert_null(strstr(text, "stack trace"));
    free(text);
    cryo_vm_free(vm);
    /* errors that are not runtime errors have none */
    cryo_error *err = NULL;
    assert_null(cryo_compile("fn (", 4, NULL, &err));
    assert_non_null(err);
    assert_int_equal(cryo_error_frame_count(err), 0);
    assert_null(cryo_error_frame(err, 0));
    cryo_error_free(err);
    assert_int_equal(cryo_error_frame_count(NULL), 0);
}

/* A builtin that raises, called from a closure that a builtin (map) calls: each C function
 * is a frame of its own, builtin-marked, between the script frames. */
static void builtin_frames(void **state) {
    (void)state;
    const char *src = "fn f(s) {\n"
                      "    parse_int(s)\n"
                      "}\n"
                      "[1].map(|x| f(\"zz\"))";
    cryo_vm *vm = run_failing(NULL, src, CRYO_ERR_ARITHMETIC);
    const cryo_error *e = cryo_vm_error(vm);
    assert_int_equal(cryo_error_frame_count(e), 5);
    expect_frame(e, 0, CRYO_FRAME_BUILTIN, "parse_int", 0);
    expect_frame(e, 1, CRYO_FRAME_SCRIPT, "f", 2);
    expect_frame(e, 2, CRYO_FRAME_SCRIPT, "<closure>", 4);
    expect_frame(e, 3, CRYO_FRAME_BUILTIN, "map", 0);
    expect_frame(e, 4, CRYO_FRAME_SCRIPT, "<main>", 4);
    cryo_vm_free(vm);
}

/* call(Fn("abs"), ..): a builtin called by a builtin, both frames, the inner one first. */
static void builtin_called_by_builtin(void **state) {
    (void)state;
    cryo_vm *vm = run_failing(NULL, "fn g() {\n  call(Fn(\"parse_int\"), \"q\")\n}\ng()",
                              CRYO_ERR_ARITHMETIC);
    const cryo_error *e = cryo_vm_error(vm);
    assert_int_equal(cryo_error_frame_count(e), 4);
    expect_frame(e, 0, CRYO_FRAME_BUILTIN, "parse_int", 0);
    expect_frame(e, 1, CRYO_FRAME_BUILTIN, "call", 0);
    expect_frame(e, 2, CRYO_FRAME_SCRIPT, "g", 2);
    expect_frame(e, 3, CRYO_FRAME_SCRIPT, "<main>", 4);
    cryo_vm_free(vm);
}

static cryo_error_kind host_fail(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                 cryo_value *ret) {
    (void)ud, (void)argc, (void)argv, (void)ret;
    return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "the host says no");
}

/* Calls its argument (a function value) with 7, passing its error on. */
static cryo_error_kind host_apply(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud, (void)argc;
    cryo_value seven = cryo_int(7);
    return cryo_vm_call_value(vm, *argv[0], 1, &seven, ret);
}

static cryo_context *host_context(void) {
    cryo_package *p = cryo_package_new("app");
    assert_int_equal(cryo_package_add(p, "check", 1, host_fail, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "apply", 1, host_apply, NULL), CRYO_OK);
    assert_int_equal(cryo_package_add(p, "level", 1, host_fail, NULL), CRYO_OK); /* a getter */
    cryo_package *pkgs[] = {p, cryo_package_std()};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(p);
    assert_non_null(ctx);
    return ctx;
}

/* Host functions are marked host, not builtin; a host that calls back into the script keeps
 * the script's frames above its own; a property getter is a host frame too. */
static void host_frames(void **state) {
    (void)state;
    cryo_context *ctx = host_context();
    cryo_vm *vm = run_failing(ctx, "fn f(x) {\n  check(x)\n}\nf(1)", CRYO_ERR_ARGUMENT);
    const cryo_error *e = cryo_vm_error(vm);
    assert_int_equal(cryo_error_frame_count(e), 3);
    expect_frame(e, 0, CRYO_FRAME_HOST, "check", 0);
    expect_frame(e, 1, CRYO_FRAME_SCRIPT, "f", 2);
    expect_frame(e, 2, CRYO_FRAME_SCRIPT, "<main>", 4);
    cryo_vm_free(vm);

    vm = run_failing(ctx,
                     "fn g(n) {\n"
                     "  n / (n - 7)\n"
                     "}\n"
                     "fn f() {\n"
                     "  apply(|x| g(x))\n"
                     "}\n"
                     "f()",
                     CRYO_ERR_ARITHMETIC);
    e = cryo_vm_error(vm);
    assert_int_equal(cryo_error_frame_count(e), 5);
    expect_frame(e, 0, CRYO_FRAME_SCRIPT, "g", 2);
    expect_frame(e, 1, CRYO_FRAME_SCRIPT, "<closure>", 5);
    expect_frame(e, 2, CRYO_FRAME_HOST, "apply", 0);
    expect_frame(e, 3, CRYO_FRAME_SCRIPT, "f", 5);
    expect_frame(e, 4, CRYO_FRAME_SCRIPT, "<main>", 7);
    char *text = cryo_error_format(e, NULL, 0);
    assert_non_null(strstr(text, "  at apply [host]\n"));
    free(text);
    cryo_vm_free(vm);

    vm = run_failing(ctx, "fn f(o) {\n  o.level\n}\nf(5)", CRYO_ERR_ARGUMENT);
    e = cryo_vm_error(vm);
    assert_int_equal(cryo_error_frame_count(e), 3);
    expect_frame(e, 0, CRYO_FRAME_HOST, "level", 0);
    expect_frame(e, 1, CRYO_FRAME_SCRIPT, "f", 2);
    cryo_vm_free(vm);
    cryo_context_release(ctx);
}

/* A caught error leaves no trace behind; a throw after the catch has its own, from its line. */
static void caught_then_thrown(void **state) {
    (void)state;
    cryo_vm *vm = run_failing(NULL,
                              "fn bad() { 1 / 0 }\n"
                              "fn h() {\n"
                              "  try { bad() } catch (e) { }\n"
                              "  throw \"again\"\n"
                              "}\n"
                              "h()",
                              CRYO_ERR_RUNTIME);
    const cryo_error *e = cryo_vm_error(vm);
    assert_int_equal(cryo_error_frame_count(e), 2);
    expect_frame(e, 0, CRYO_FRAME_SCRIPT, "h", 4);
    expect_frame(e, 1, CRYO_FRAME_SCRIPT, "<main>", 6);
    cryo_vm_free(vm);
}

/* A recursion deeper than CRYO_TRACE_MAX keeps its innermost and outermost frames and says how
 * many it left out; the count adds up to the real depth. */
static void deep_recursion_cut(void **state) {
    (void)state;
    cryo_unit *u = compile("fn f(n) {\n  if n == 0 { 1 / 0 } else { f(n - 1) }\n}\nf(500)");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 1000);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_ARITHMETIC);
    const cryo_error *e = cryo_vm_error(vm);
    int n = cryo_error_frame_count(e);
    assert_int_equal(n, CRYO_TRACE_MAX);
    int total = 0, elided = 0;
    for (int i = 0; i < n; i++) {
        const cryo_trace_frame *f = cryo_error_frame(e, i);
        if (f->kind == CRYO_FRAME_ELIDED) {
            elided++;
            total += f->line;
        } else {
            total++;
        }
    }
    assert_int_equal(elided, 1);
    assert_int_equal(total, 502); /* f(500) .. f(0) and the top level */
    expect_frame(e, 0, CRYO_FRAME_SCRIPT, "f", 2);
    expect_frame(e, n - 1, CRYO_FRAME_SCRIPT, "<main>", 4);
    char *text = cryo_error_format(e, NULL, 0);
    assert_non_null(strstr(text, "  ... 439 more calls ...\n"));
    free(text);
    cryo_vm_free(vm);
}

/* A spawned thread's error keeps the thread's own frames, then a thread frame, then join and
 * the frames of the joining script. */
static void spawn_join(void **state) {
    (void)state;
    cryo_vm *vm = run_failing(NULL,
                              "fn work(x) {\n"
                              "  throw `bad ${x}`\n"
                              "}\n"
                              "let t = spawn(|| work(3));\n"
                              "join(t)",
                              CRYO_ERR_RUNTIME);
    const cryo_error *e = cryo_vm_error(vm);
    assert_string_equal(e->message, "bad 3");
    assert_int_equal(cryo_error_frame_count(e), 5);
    expect_frame(e, 0, CRYO_FRAME_SCRIPT, "work", 2);
    expect_frame(e, 1, CRYO_FRAME_SCRIPT, "<closure>", 4);
    expect_frame(e, 2, CRYO_FRAME_THREAD, "<spawned thread>", 0);
    expect_frame(e, 3, CRYO_FRAME_BUILTIN, "join", 0);
    expect_frame(e, 4, CRYO_FRAME_SCRIPT, "<main>", 5);
    cryo_vm_free(vm);
}

typedef struct sync_job {
    cryo_sync *f;
    cryo_error *err;
    cryo_error_kind k;
} sync_job;

static void *sync_thread(void *p) {
    sync_job *j = p;
    cryo_const arg = {cryo_int(0)}, res;
    j->k = cryo_sync_call(j->f, 1, &arg, &res, &j->err);
    return NULL;
}

/* A SyncFunction called on another thread hands back its error with the frames it ran. */
static void sync_function_on_thread(void **state) {
    (void)state;
    cryo_unit *u = compile("fn div(a, b) {\n  a / b\n}\n|x| div(10, x)");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value fv;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fv), CRYO_OK);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fv, &f), CRYO_OK);
    cryo_value_release(fv);
    cryo_vm_free(vm);
    sync_job j = {f, NULL, CRYO_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sync_thread, &j), 0);
    pthread_join(t, NULL);
    assert_int_equal(j.k, CRYO_ERR_ARITHMETIC);
    assert_non_null(j.err);
    assert_int_equal(cryo_error_frame_count(j.err), 2);
    expect_frame(j.err, 0, CRYO_FRAME_SCRIPT, "div", 2);
    expect_frame(j.err, 1, CRYO_FRAME_SCRIPT, "<closure>", 4);
    cryo_error_free(j.err);
    cryo_sync_release(f);
}

/* A worker's script that fails: its future's error has the frames of the worker's run. */
static void worker_future(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    assert_non_null(w);
    cryo_future *f =
        cryo_worker_eval(w, "fn half(n) {\n  n / 0\n}\nfn outer() {\n  half(4)\n}\nouter()");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    const cryo_error *e = cryo_future_error(f);
    assert_non_null(e);
    assert_int_equal(e->kind, CRYO_ERR_ARITHMETIC);
    assert_int_equal(cryo_error_frame_count(e), 3);
    const char *fns[] = {"half", "outer", "<main>"};
    const int lines[] = {2, 5, 7};
    for (int i = 0; i < 3; i++) {
        const cryo_trace_frame *fr = cryo_error_frame(e, i);
        assert_int_equal(fr->kind, CRYO_FRAME_SCRIPT);
        assert_string_equal(fr->function, fns[i]);
        assert_int_equal(fr->line, lines[i]);
    }
    cryo_future_release(f);
    cryo_worker_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_calls_deep),
        cmocka_unit_test(top_level_one_frame),
        cmocka_unit_test(builtin_frames),
        cmocka_unit_test(builtin_called_by_builtin),
        cmocka_unit_test(host_frames),
        cmocka_unit_test(caught_then_thrown),
        cmocka_unit_test(deep_recursion_cut),
        cmocka_unit_test(spawn_join),
        cmocka_unit_test(sync_function_on_thread),
        cmocka_unit_test(worker_future),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
