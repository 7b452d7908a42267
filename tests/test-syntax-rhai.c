/*
 * test-syntax-rhai — the parts of Rhai's language added for issue 15: `?.`, `?[`, `??`, typed
 * methods (`fn string.shout()`), the max_functions compile option, eval behind CRYO_CAP_EVAL,
 * take(), the Fn properties, and the error messages around them (positions, no doubled kind,
 * the ffi:: capability hint), and the order of an assignment's evaluation (right side first).
 */
#include "cryo.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The outcome of a run: the value's debug text, or the error. */
typedef struct outcome {
    cryo_error_kind kind; /* CRYO_OK for a value */
    char text[512];       /* debug text of the value, or the error message */
    int line, column;
    char source_name[32]; /* of the error */
} outcome;

static uint64_t max_ops; /* an operation limit for the next runs (0 = none) */

static outcome run_opts(const char *src, const cryo_compile_options *opts, unsigned caps) {
    outcome o = {0};
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), opts, &err);
    if (!u) {
        o.kind = err ? err->kind : CRYO_ERR_API;
        snprintf(o.text, sizeof o.text, "%s", err && err->message ? err->message : "?");
        o.line = err ? err->line : 0;
        o.column = err ? err->column : 0;
        cryo_error_free(err);
        return o;
    }
    cryo_package *std = cryo_package_std();
    cryo_context_config cfg = {.packages = &std, .npackages = 1, .capabilities = caps};
    cryo_context *ctx = cryo_context_new(&cfg);
    assert_non_null(ctx);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    assert_non_null(vm);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, max_ops);
    cryo_value v = cryo_unit_value();
    o.kind = cryo_vm_run(vm, NULL, 0, &v);
    if (o.kind == CRYO_OK) {
        char *s = cryo_value_to_cstring(v, true);
        snprintf(o.text, sizeof o.text, "%s", s ? s : "?");
        free(s);
    } else {
        const cryo_error *e = cryo_vm_error(vm);
        snprintf(o.text, sizeof o.text, "%s", e && e->message ? e->message : "?");
        o.line = e ? e->line : 0;
        o.column = e ? e->column : 0;
        snprintf(o.source_name, sizeof o.source_name, "%s",
                 e && e->source_name ? e->source_name : "");
    }
    cryo_value_release(v);
    cryo_vm_free(vm);
    cryo_context_release(ctx);
    cryo_unit_release(u);
    return o;
}

static outcome run(const char *src) {
    return run_opts(src, NULL, 0);
}

/* The script's value must print (debug form) as `want`. */
#define assert_value(src, want)                                                                    \
    do {                                                                                           \
        outcome o_ = run(src);                                                                     \
        if (o_.kind != CRYO_OK) fail_msg("%s\n  failed: %s", src, o_.text);                        \
        if (strcmp(o_.text, want) != 0) fail_msg("%s\n  want %s\n  got  %s", src, want, o_.text);  \
    } while (0)

/* The script must fail with `kind` and a message containing `part`. */
static outcome expect_error(const char *src, cryo_error_kind kind, const char *part) {
    outcome o = run(src);
    if (o.kind != kind)
        fail_msg("%s\n  want %s, got %s: %s", src, cryo_error_kind_name(kind),
                 cryo_error_kind_name(o.kind), o.text);
    if (!strstr(o.text, part)) fail_msg("%s\n  want '%s' in: %s", src, part, o.text);
    return o;
}

/* --- max_functions ---------------------------------------------------------------------------- */

static void test_max_functions(void **state) {
    (void)state;
    const char *src = "fn a() { 1 }\nfn b() { 2 }\nfn c() { 3 }\na() + b() + c()";
    cryo_compile_options opts = {.max_functions = 3};
    outcome o = run_opts(src, &opts, 0);
    assert_int_equal(o.kind, CRYO_OK);
    assert_string_equal(o.text, "6");
    opts.max_functions = 2;
    o = run_opts(src, &opts, 0);
    assert_int_equal(o.kind, CRYO_ERR_PARSE);
    assert_non_null(strstr(o.text, "too many functions"));
    assert_non_null(strstr(o.text, "'c'"));
    assert_int_equal(o.line, 3); /* the first definition past the limit */
    assert_int_equal(o.column, 1);
    opts.max_functions = 0; /* unlimited */
    assert_int_equal(run_opts(src, &opts, 0).kind, CRYO_OK);
}

/* --- error messages --------------------------------------------------------------------------- */

static void test_error_format_not_doubled(void **state) {
    (void)state;
    const char *src = "foo(1)";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_NOT_FOUND);
    char *text = cryo_error_format(cryo_vm_error(vm), src, strlen(src));
    assert_non_null(text);
    assert_null(strstr(text, "not found: function not found"));
    assert_non_null(strstr(text, ":1:1: function not found: foo(i64)"));
    free(text);
    /* a message that does not name its kind keeps the kind in front */
    char msg[] = "bad operand", name[] = "s";
    cryo_error e = {
        .kind = CRYO_ERR_TYPE, .line = 2, .column = 3, .message = msg, .source_name = name};
    text = cryo_error_format(&e, NULL, 0);
    assert_string_equal(text, "s:2:3: type error: bad operand\n");
    free(text);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void test_method_error_column(void **state) {
    (void)state;
    outcome o = expect_error("let x = 1; x.foo()", CRYO_ERR_NOT_FOUND, "foo(i64)");
    assert_int_equal(o.column, 14);
    o = expect_error("let s = \"a\";\n  s.len().nope(2)", CRYO_ERR_NOT_FOUND, "nope(i64, i64)");
    assert_int_equal(o.line, 2);
    assert_int_equal(o.column, 11);
    /* property and index errors still point at the start of the chain */
    o = expect_error("let a = [1];\na[5]", CRYO_ERR_INDEX, "");
    assert_int_equal(o.line, 2);
    assert_int_equal(o.column, 1);
}

static void test_ffi_without_capability(void **state) {
    (void)state;
    outcome o = expect_error("ffi::open(())", CRYO_ERR_NOT_FOUND, "CRYO_CAP_FFI");
    assert_non_null(strstr(o.text, "--ffi"));
    assert_non_null(strstr(o.text, "ffi::open"));
    /* other unknown functions carry no hint */
    o = expect_error("nope()", CRYO_ERR_NOT_FOUND, "nope()");
    assert_null(strstr(o.text, "CRYO_CAP_FFI"));
}

/* --- ?. ?[ ?? --------------------------------------------------------------------------------- */

static void test_elvis_reads(void **state) {
    (void)state;
    assert_value("let m = #{a: #{b: 1}}; m?.a?.b", "1");
    assert_value("let m = #{a: #{b: 1}}; m?.x?.b", "()");
    assert_value("let m = (); m?.a", "()");
    assert_value("let m = (); m?.a.b.c", "()"); /* the whole chain is skipped */
    assert_value("let a = [1, [2, 3]]; a?[1]?[0]", "2");
    assert_value("let a = (); a?[1]", "()");
    assert_value("let s = \"héllo\"; s?[1]", "'é'");
    assert_value("let m = #{k: 7}; m?[\"k\"]", "7");
    assert_value("let x = (); x?.len()", "()");
    assert_value("let x = \"ab\"; x?.len()", "2");
    assert_value("let x = (); x?.call()", "()");
    assert_value("let f = |x| x + 1; f?.call(1)", "2");
    /* a skipped chain evaluates nothing after the () */
    assert_value("let n = 0; let a = (); let v = a?[{ n += 1; 0 }]; [v, n]", "[(), 0]");
    assert_value("let n = 0; let m = (); m?.f({ n += 1; 0 }); n", "0");
    /* a captured receiver (a cell) and `this` */
    assert_value("let m = (); let g = || m; m?.a ?? \"none\"", "\"none\"");
    assert_value("fn peek() { this?.a } let m = #{a: 4}; let u = (); [m.peek(), u.peek()]",
                 "[4, ()]");
    /* in a larger expression, a chain's () is just a value */
    assert_value("let m = (); `${m?.a}` + \"!\"", "\"!\"");
}

static void test_elvis_on_other_values(void **state) {
    (void)state;
    /* on a value that is not () `?.` is `.`: the same errors */
    outcome o = expect_error("let x = 1; x?.foo", CRYO_ERR_NOT_FOUND, "foo");
    outcome o2 = expect_error("let x = 1; x.foo", CRYO_ERR_NOT_FOUND, "foo");
    assert_string_equal(o.text, o2.text);
    expect_error("let x = 1; x?.nope()", CRYO_ERR_NOT_FOUND, "nope(i64)");
    expect_error("let a = [1]; a?[5]", CRYO_ERR_INDEX, "");
    expect_error("let m = #{a: 1}; m?.a.b", CRYO_ERR_NOT_FOUND, "b");
}

static void test_elvis_writes(void **state) {
    (void)state;
    assert_value("let m = (); m?.a = 5; m", "()");
    assert_value("let m = #{}; m?.a = 5; m", "#{\"a\": 5}");
    assert_value("let m = #{a: #{}}; m?.a.b = 5; m", "#{\"a\": #{\"b\": 5}}");
    assert_value("let m = #{a: ()}; m.a?.b = 5; m", "#{\"a\": ()}");
    assert_value("let m = #{a: [1]}; m?.a.push(2); m", "#{\"a\": [1, 2]}");
    assert_value("let m = (); let r = m?.a.push(2); [m, r]", "[(), ()]");
    assert_value("let a = [()]; a[0]?[0] = 1; a", "[()]");
    /* the assigned value is not evaluated when the chain is skipped */
    assert_value("let n = 0; let m = (); m?.a = { n += 1; n }; n", "0");
}

static void test_coalesce(void **state) {
    (void)state;
    assert_value("() ?? 5", "5");
    assert_value("1 ?? 5", "1");
    assert_value("false ?? true", "false");
    assert_value("() ?? () ?? 7", "7");
    assert_value("let m = #{}; m.x ?? \"d\"", "\"d\"");
    assert_value("let m = (); m?.a?.b ?? 0", "0");
    /* b is evaluated only when a is () */
    assert_value("let n = 0; let v = 1 ?? { n += 1; 2 }; [v, n]", "[1, 0]");
    assert_value("let n = 0; let v = () ?? { n += 1; 2 }; [v, n]", "[2, 1]");
    /* precedence 135: tighter than comparisons, looser than ranges and arithmetic */
    assert_value("() ?? 1 + 2", "3");
    assert_value("1 < () ?? 2", "true");
    assert_value("() ?? 1 == 1", "true");
    assert_value("let r = () ?? 1..3; r.end", "3");
    assert_value("let x = (); x ?? 4 * 2", "8");
    outcome o = run("1 ?");
    assert_int_equal(o.kind, CRYO_ERR_PARSE);
}

/* --- take, Fn properties --------------------------------------------------------------------- */

static void test_take(void **state) {
    (void)state;
    assert_value("let x = [1, 2]; let y = take(x); [x, y]", "[(), [1, 2]]");
    assert_value("let x = [1, 2]; let y = x.take(); [x, y]", "[(), [1, 2]]");
    assert_value("let m = #{a: \"s\"}; let y = m.a.take(); [m, y]", "[#{\"a\": ()}, \"s\"]");
    assert_value("let a = [[1], [2]]; let y = a[1].take(); [a, y]", "[[[1], ()], [2]]");
    assert_value("take(5)", "5");
    assert_value("let x = (); take(x)", "()");
    /* a captured variable: the closure sees the () left behind */
    assert_value("let x = 5; let f = || x; let y = take(x); [x, y, f.call()]", "[(), 5, ()]");
    assert_value("fn t() { take(this) } let x = 3; let y = x.t(); [x, y]", "[(), 3]");
    /* the copy a value semantics gives stays: only the variable taken from is emptied */
    assert_value("let a = [1]; let b = a; let c = take(b); [a, b, c]", "[[1], (), [1]]");
    expect_error("take()", CRYO_ERR_NOT_FOUND, "take()");
    /* a constant cannot be emptied (a script's own take() is its business) */
    outcome o = run("const K = [1];\nlet v = take(K);");
    assert_int_equal(o.kind, CRYO_ERR_COMPILE);
    assert_non_null(strstr(o.text, "cannot take from constant 'K'"));
    assert_int_equal(o.line, 2);
    assert_int_equal(run("const K = [1]; K.take()").kind, CRYO_ERR_COMPILE);
    assert_int_equal(run("const K = #{a: 1}; K.a.take()").kind, CRYO_ERR_COMPILE);
    assert_value("fn take(x) { 7 } const K = 1; take(K)", "7");
}

static void test_fn_properties(void **state) {
    (void)state;
    assert_value("let f = |x| x; [f.name, f.is_anonymous]", "[\"anon$0\", true]");
    assert_value("fn foo() {} [Fn(\"foo\").name, Fn(\"foo\").is_anonymous]", "[\"foo\", false]");
    assert_value("fn foo() {} let f = foo; [f.name, name(f), is_anonymous(f)]",
                 "[\"foo\", \"foo\", false]");
    assert_value("let f = Fn(\"len\").curry([1]); [f.name, f.is_anonymous]", "[\"len\", false]");
    assert_value("let f = |x| x; let s = f.into_sync(); [s.name, s.is_anonymous]",
                 "[\"anon$0\", true]");
    expect_error("let x = 1; x.is_anonymous", CRYO_ERR_NOT_FOUND, "is_anonymous(i64)");
    expect_error("name(\"f\")", CRYO_ERR_NOT_FOUND, "name(string)");
}

/* --- typed methods -------------------------------------------------------------------------- */

static void test_typed_methods(void **state) {
    (void)state;
    assert_value("fn string.shout() { this.to_upper() + \"!\" } \"abc\".shout()", "\"ABC!\"");
    /* `this` is bound by reference */
    assert_value("fn int.double() { this *= 2 } let x = 21; x.double(); x", "42");
    assert_value("fn i64.twice() { this *= 2 } let x = 4; x.twice(); x", "8");
    assert_value("fn array.add(x) { this.push(x) } let a = []; a.add(1); a.add(2); a", "[1, 2]");
    assert_value("fn map.get_a() { this.a } let m = #{a: #{a: 5}}; m.a.get_a()", "5");
    assert_value("fn \"()\".what() { \"unit\" } let u = (); u.what()", "\"unit\"");
    /* one per type, and an untyped fn for the others */
    assert_value("fn float.f() { 1 } fn i64.f() { 2 } fn f() { 3 } [1.5.f(), 1.f(), \"s\".f()]",
                 "[1, 2, 3]");
    /* a typed method is chosen over a library function for its type only */
    assert_value("fn string.len() { 99 } [\"abc\".len(), [1, 2].len()]", "[99, 2]");
    /* a captured receiver (a cell) and `this` as the receiver */
    assert_value("fn i64.inc() { this += 1 } let x = 5; let f = || x; x.inc(); f.call()", "6");
    assert_value("fn i64.inc() { this += 1 } fn i64.inc2() { this.inc(); this.inc() } "
                 "let x = 1; x.inc2(); x",
                 "3");
    assert_value("fn string.s() { this } let x = (); x?.s()", "()");
}

static void test_typed_method_errors(void **state) {
    (void)state;
    /* only on values of that type, and only as a method */
    outcome o = expect_error("fn string.shout() { this + \"!\" } 1.shout()", CRYO_ERR_NOT_FOUND,
                             "function not found: shout(i64)");
    assert_int_equal(o.column, 36); /* under the method's name */
    expect_error("fn string.shout() { this } shout(\"a\")", CRYO_ERR_NOT_FOUND, "shout(string)");
    expect_error("fn string.shout(n) { this } \"a\".shout()", CRYO_ERR_NOT_FOUND, "shout(string)");
    o = run("fn string.shout() {}\nfn string.shout() {}");
    assert_int_equal(o.kind, CRYO_ERR_PARSE);
    assert_non_null(strstr(o.text, "already defined"));
    assert_int_equal(o.line, 2);
    /* a typed and an untyped definition of one name may coexist */
    assert_value("fn shout() { 1 } fn string.shout() { 2 } [\"a\".shout(), 5.shout()]", "[2, 1]");
    o = run("fn \"\".f() {}");
    assert_int_equal(o.kind, CRYO_ERR_PARSE);
    assert_non_null(strstr(o.text, "cannot be empty"));
}

/* --- eval ----------------------------------------------------------------------------------- */

static outcome run_eval(const char *src) {
    return run_opts(src, NULL, CRYO_CAP_EVAL);
}

#define assert_eval(src, want)                                                                     \
    do {                                                                                           \
        outcome o_ = run_eval(src);                                                                \
        if (o_.kind != CRYO_OK) fail_msg("%s\n  failed: %s", src, o_.text);                        \
        if (strcmp(o_.text, want) != 0) fail_msg("%s\n  want %s\n  got  %s", src, want, o_.text);  \
    } while (0)

static void test_eval_needs_capability(void **state) {
    (void)state;
    outcome o = expect_error("eval(\"1 + 1\")", CRYO_ERR_NOT_FOUND, "CRYO_CAP_EVAL");
    assert_non_null(strstr(o.text, "eval is not allowed"));
    o = run_opts("eval(\"1 + 1\")", NULL, CRYO_CAP_FFI); /* another capability is not enough */
    assert_int_equal(o.kind, CRYO_ERR_NOT_FOUND);
    /* the std context grants nothing */
    const char *src = "eval(\"1\")";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_NOT_FOUND);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void test_eval_values(void **state) {
    (void)state;
    assert_eval("eval(\"40 + 2\")", "42");
    assert_eval("eval(\"let y = 20; fn f(x) { x * 2 } f(y) + 2\")", "42");
    assert_eval("let s = \"1 +\"; s += \" 2\"; eval(s)", "3");
    assert_eval("eval(\"\")", "()");
    assert_eval("eval(\"eval(\\\"1 + 2\\\")\")", "3");
    /* values made by the eval'd script outlive it: its constants stay with the VM */
    assert_eval("let f = eval(\"|| \\\"x\\\"\"); let s = f.call(); f = (); s + \"y\"", "\"xy\"");
    assert_eval("let a = eval(\"[\\\"p\\\", #{k: \\\"q\\\"}]\"); a", "[\"p\", #{\"k\": \"q\"}]");
    /* a repeated text runs again (compiled once) */
    assert_eval("let t = 0; for i in 0..50 { t += eval(\"let z = 2; z\") } t", "100");
    /* the caller's variables are not visible, nor are its variables changed */
    outcome o = run_eval("let x = 1; eval(\"x\")");
    assert_int_equal(o.kind, CRYO_ERR_NOT_FOUND);
    assert_non_null(strstr(o.text, "variable not found: x"));
    assert_eval("let x = 1; eval(\"let x = 5; x\") + x", "6");
    o = run_eval("eval(1)");
    assert_int_equal(o.kind, CRYO_ERR_NOT_FOUND);
    assert_non_null(strstr(o.text, "eval(i64)"));
}

static void test_eval_errors(void **state) {
    (void)state;
    /* errors report positions in the eval'd text */
    outcome o = run_eval("let a = 1;\neval(\"1 +\")");
    assert_int_equal(o.kind, CRYO_ERR_PARSE);
    assert_int_equal(o.line, 1);
    assert_int_equal(o.column, 4);
    assert_string_equal(o.source_name, "eval");
    o = run_eval("let a = 1;\neval(\"let x = 1;\\n  x.foo()\")");
    assert_int_equal(o.kind, CRYO_ERR_NOT_FOUND);
    assert_non_null(strstr(o.text, "foo(i64)"));
    assert_int_equal(o.line, 2);
    assert_int_equal(o.column, 5);
    assert_string_equal(o.source_name, "eval");
    /* formatted, the error shows no line of the caller's source under the eval'd position */
    char msg[] = "function not found: foo(i64)", name[] = "eval";
    cryo_error e = {
        .kind = CRYO_ERR_NOT_FOUND, .line = 1, .column = 1, .message = msg, .source_name = name};
    const char *caller = "eval(\"1.foo()\")";
    char *text = cryo_error_format(&e, caller, strlen(caller));
    assert_string_equal(text, "eval:1:1: function not found: foo(i64)\n");
    free(text);
    /* script errors inside are catchable, parse errors too */
    assert_eval("try { eval(\"throw 5\") } catch (e) { e + 1 }", "6");
    assert_eval("try { eval(\"1 +\") } catch (e) { type_of(e) }", "\"string\"");
    /* the VM's limits apply inside */
    max_ops = 1000;
    o = run_eval("eval(\"loop { }\")");
    max_ops = 0;
    assert_int_equal(o.kind, CRYO_ERR_TOO_MANY_OPERATIONS);
}

/* --- assignment order ----------------------------------------------------------------------- */

/* Rhai evaluates an assignment's right side before its target: a right side that changes the
 * target's container is seen by the write (a stale copy of `this` was written back). */
static void test_assignment_evaluates_right_side_first(void **state) {
    (void)state;
    assert_value("fn m() { this.a = 1; 5 } fn g() { this.b = this.m(); } "
                 "let s = #{a: 0, b: 0}; s.g(); s",
                 "#{\"a\": 1, \"b\": 5}");
    assert_value("fn m() { this.a = 1; 5 } fn g() { this.b += this.m(); } "
                 "let s = #{a: 0, b: 2}; s.g(); s",
                 "#{\"a\": 1, \"b\": 7}");
    assert_value("fn m() { this.x.z = 1; 5 } let s = #{x: #{y: 0, z: 0}}; s.x.y = s.m(); s",
                 "#{\"x\": #{\"y\": 5, \"z\": 1}}");
    assert_value("let a = [[0, 0]]; a[0][1] = { a[0][0] = 9; 5 }; a", "[[9, 5]]");
    assert_value("fn m() { this += 1; 5 } fn g() { this += this.m(); } let s = 1; s.g(); s", "7");
    assert_value("let x = 1; let f = || { x = 10; 2 }; x += f(); x", "12");
    /* literals and variables keep their short forms and give the same results */
    assert_value("let m = #{n: 1}; let k = 2; m.n += 1; m.n += k; m.n = k; m", "#{\"n\": 2}");
}

/* A fn name from a script string may hold a NUL: it names no script fn, even when the part
 * before the NUL does (the lookup once read past the stored name). Fn() refuses such a name;
 * is_def_fn and index_of look it up. */
static void test_fn_name_with_nul(void **state) {
    (void)state;
    outcome o = run("fn f(a) { a } Fn(\"f\\0x\").call(1)");
    assert_int_equal(o.kind, CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(o.text, "invalid function name"));
    assert_value("fn f(a) { a } [is_def_fn(\"f\\0x\", 1), is_def_fn(\"f\\0\", 1), "
                 "is_def_fn(\"f\", 1)]",
                 "[false, false, true]");
    assert_value("fn is_two(x) { x == 2 } [1, 2].index_of(\"is_two\\0\")", "-1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_functions),
        cmocka_unit_test(test_error_format_not_doubled),
        cmocka_unit_test(test_method_error_column),
        cmocka_unit_test(test_ffi_without_capability),
        cmocka_unit_test(test_elvis_reads),
        cmocka_unit_test(test_elvis_on_other_values),
        cmocka_unit_test(test_elvis_writes),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_fn_properties),
        cmocka_unit_test(test_fn_name_with_nul),
        cmocka_unit_test(test_typed_methods),
        cmocka_unit_test(test_typed_method_errors),
        cmocka_unit_test(test_eval_needs_capability),
        cmocka_unit_test(test_eval_values),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_assignment_evaluates_right_side_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
