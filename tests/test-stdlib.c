/*
 * test-stdlib — the standard library's host functions, called directly through their
 * registration entries (clib_* tables) with hand-made values, on a real VM whose unit
 * provides the script functions and closures that callbacks need.
 */
#include "lib.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The script behind the VM: named fns for Fn("name") and a few closures, returned in an array
 * (closures need the unit that the VM keeps alive). */
static const char SCRIPT[] = "fn is_two(x) { x == 2 }\n"
                             "fn add(a, b) { a + b }\n"
                             "fn sub(a, b) { a - b }\n"
                             "[ |x| x * 2, |x| x > 1, |a, b| b - a, |s, v| s + v,\n"
                             "  || this + 1, |x, i| x * i, |k, v| v > 1, |v| if v > 1 { v },\n"
                             "  |i| this += i ]\n";
enum { F_DOUBLE, F_GT1, F_DESC, F_SUM, F_THIS1, F_MULIDX, F_KV_GT1, F_FINDMAP, F_ADDIDX };

typedef struct fixture {
    cryo_unit *unit;
    cryo_vm *vm;
    cryo_value fns; /* the array of closures */
    char printed[256];
} fixture;

static fixture *F; /* the current test's fixture, for the helpers */

static void capture(void *ud, const char *text, size_t len) {
    fixture *f = ud;
    snprintf(f->printed, sizeof f->printed, "%.*s", (int)len, text);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    cryo_error *err = NULL;
    f->unit = cryo_compile(SCRIPT, strlen(SCRIPT), NULL, &err);
    if (!f->unit) {
        fprintf(stderr, "compile: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return -1;
    }
    f->vm = cryo_vm_new(f->unit, NULL);
    if (cryo_vm_run(f->vm, NULL, 0, &f->fns) != CRYO_OK) return -1;
    cryo_vm_set_print(f->vm, capture, f);
    cryo_vm_set_debug(f->vm, capture, f);
    F = f;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    cryo_value_release(f->fns);
    cryo_vm_free(f->vm);
    cryo_unit_release(f->unit);
    free(f);
    return 0;
}

/* --- building values -------------------------------------------------------------------------- */

static cryo_value S(const char *s) {
    cryo_string *str = cv_string_new(&F->vm->heap, s, strlen(s));
    return cv_from_obj(&str->h);
}
static cryo_value I(int64_t i) {
    return cryo_int(i);
}
static cryo_value D(double d) {
    return cryo_float(d);
}
static cryo_value C(uint32_t c) {
    return cryo_char(c);
}
static cryo_value B(bool b) {
    return cryo_bool(b);
}

/* An array of ints; n values follow. */
static cryo_value A(int n, ...) {
    cryo_array *a = cv_array_new(&F->vm->heap, (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        cv_array_push(&F->vm->heap, a, cryo_int(va_arg(ap, int)));
    va_end(ap);
    return cv_from_obj(&a->h);
}

/* A map of int values: n (key, value) pairs follow. */
static cryo_value M(int n, ...) {
    cryo_map *m = cv_map_new(&F->vm->heap, (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *);
        cryo_string *key = cv_string_new(&F->vm->heap, k, strlen(k));
        cv_map_set(&F->vm->heap, m, key, cryo_int(va_arg(ap, int)));
        cv_release(&F->vm->heap, cv_from_obj(&key->h));
    }
    va_end(ap);
    return cv_from_obj(&m->h);
}

static cryo_value FN(int i) {
    cryo_value v = cryo_array_get(F->fns, i);
    cv_retain(v);
    return v;
}

static cryo_value NAMED(const char *name) {
    cryo_fn *f = cv_fn_new(&F->vm->heap, CRYO_FN_NAMED, 0);
    f->name = cv_string_new(&F->vm->heap, name, strlen(name));
    return cv_from_obj(&f->h);
}

/* --- calling ---------------------------------------------------------------------------------- */

static const cryo_libreg *find(const char *name, int arity) {
    const cryo_libreg *tables[] = {clib_core, clib_math, clib_string, clib_array, clib_map};
    const cryo_libreg *any = NULL;
    for (size_t t = 0; t < 5; t++)
        for (const cryo_libreg *r = tables[t]; r->name; r++) {
            if (strcmp(r->name, name) != 0) continue;
            if (r->arity == arity) return r;
            if (r->arity == -1) any = r;
        }
    return any;
}

typedef struct result {
    cryo_error_kind kind;
    cryo_value ret;
    char *text;      /* debug form of ret, or the error message */
    cryo_value a[8]; /* the arguments after the call (receivers changed in place) */
    char *recv;      /* debug form of a[0] after the call */
} result;

static result R; /* the last call's result, freed by the next call */

static void clear_result(void) {
    cryo_value_release(R.ret);
    for (int i = 0; i < 8; i++)
        cryo_value_release(R.a[i]);
    free(R.text);
    free(R.recv);
    memset(&R, 0, sizeof R);
}

/* Calls name with argc arguments (their references are taken). */
static result *call(const char *name, int argc, ...) {
    clear_result();
    const cryo_libreg *reg = find(name, argc);
    if (!reg) fail_msg("no registration for %s/%d", name, argc);
    cryo_value *argv[8];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        R.a[i] = va_arg(ap, cryo_value);
        argv[i] = &R.a[i];
    }
    va_end(ap);
    R.ret = cryo_unit_value();
    R.kind = reg->fn(F->vm, reg->userdata, argc, argv, &R.ret);
    if (R.kind == CRYO_OK) {
        R.text = cryo_value_to_cstring(R.ret, true);
        if (argc) R.recv = cryo_value_to_cstring(R.a[0], true);
    } else {
        R.text = strdup(F->vm->err ? F->vm->err->message : "?");
    }
    return &R;
}

/* Takes the last result's value out of R (owned by the caller). */
static cryo_value RET(result *r) {
    cryo_value v = r->ret;
    r->ret = cryo_unit_value();
    return v;
}

#define OK(expected_text, r)                                                                       \
    do {                                                                                           \
        result *r_ = (r);                                                                          \
        if (r_->kind != CRYO_OK) fail_msg("unexpected error: %s", r_->text);                       \
        assert_string_equal(r_->text, expected_text);                                              \
    } while (0)

#define RECV(expected_text) assert_string_equal(R.recv, expected_text)

#define ERR(kind_, substring, r)                                                                   \
    do {                                                                                           \
        result *r_ = (r);                                                                          \
        assert_int_equal(r_->kind, kind_);                                                         \
        if (!strstr(r_->text, substring))                                                          \
            fail_msg("message '%s' lacks '%s'", r_->text, substring);                              \
    } while (0)

/* --- core ------------------------------------------------------------------------------------- */

static void test_print_debug(void **state) {
    fixture *f = *state;
    OK("()", call("print", 1, S("hi")));
    assert_string_equal(f->printed, "hi");
    OK("()", call("debug", 1, S("hi")));
    assert_string_equal(f->printed, "\"hi\"");
    OK("()", call("print", 1, A(2, 1, 2)));
    assert_string_equal(f->printed, "[1, 2]");
}

static void test_type_of_and_text(void **state) {
    (void)state;
    OK("\"i64\"", call("type_of", 1, I(1)));
    OK("\"f64\"", call("type_of", 1, D(1)));
    OK("\"string\"", call("type_of", 1, S("")));
    OK("\"array\"", call("type_of", 1, A(0)));
    OK("\"map\"", call("type_of", 1, M(0)));
    OK("\"Fn\"", call("type_of", 1, FN(0)));
    OK("\"42\"", call("to_string", 1, I(42)));
    OK("\"x\"", call("to_string", 1, S("x")));
    OK("\"\\\"x\\\"\"", call("to_debug", 1, S("x")));
    OK("false", call("is_shared", 1, I(1)));
}

static void test_fn_call_curry(void **state) {
    (void)state;
    OK("\"Fn\"", call("type_of", 1, RET(call("Fn", 1, S("add")))));
    ERR(CRYO_ERR_ARGUMENT, "invalid function name", call("Fn", 1, S("1x")));
    ERR(CRYO_ERR_NOT_FOUND, "Fn(i64)", call("Fn", 1, I(1)));
    OK("5", call("call", 3, NAMED("add"), I(2), I(3)));
    OK("6", call("call", 2, FN(F_DOUBLE), I(3)));
    /* x.call(f) binds this = x */
    OK("42", call("call", 2, I(41), FN(F_THIS1)));
    /* curry: Fn("sub").curry(10).call(1) == 9 */
    cryo_value curried = RET(call("curry", 2, NAMED("sub"), I(10)));
    cv_retain(curried);
    OK("9", call("call", 2, curried, I(1)));
    OK("[9, 8, 7]", call("map", 2, A(3, 1, 2, 3), curried));
}

static void test_range(void **state) {
    (void)state;
    OK("\"range\"", call("type_of", 1, RET(call("range", 2, I(1), I(5)))));
    OK("[1, 4, 7]", call("range", 3, I(1), I(10), I(3)));
    OK("[10, 8, 6, 4, 2]", call("range", 3, I(10), I(1), I(-2)));
    OK("[]", call("range", 3, I(10), I(1), I(2)));
    OK("[]", call("range", 3, I(INT64_MAX), I(0), I(INT64_MAX)));
    OK("[1.0, 3.0]", call("range", 3, D(1), D(4), D(2)));
    ERR(CRYO_ERR_ARGUMENT, "step", call("range", 3, I(1), I(2), I(0)));
    ERR(CRYO_ERR_DATA_TOO_LARGE, "steps", call("range", 3, D(0), D(1), D(1e-300)));
    OK("\"range\"", call("type_of", 1, RET(call("range", 3, I(1), I(5), I(1)))));
    cryo_range *r = cv_range_new(&F->vm->heap, 1, 5, true);
    OK("5", call("len", 1, cv_from_obj(&r->h)));
}

/* --- math
 * ------------------------------------------------------------------------------------------ */

static void test_math(void **state) {
    (void)state;
    OK("5", call("abs", 1, I(-5)));
    OK("2.5", call("abs", 1, D(-2.5)));
    ERR(CRYO_ERR_ARITHMETIC, "overflow", call("abs", 1, I(INT64_MIN)));
    ERR(CRYO_ERR_NOT_FOUND, "function not found: abs(string)", call("abs", 1, S("x")));
    OK("-1", call("sign", 1, I(-9)));
    OK("1", call("sign", 1, D(0.5)));
    OK("4.0", call("sqrt", 1, D(16)));
    OK("4.0", call("sqrt", 1, I(16)));
    OK("2.0", call("floor", 1, D(2.7)));
    OK("3.0", call("ceiling", 1, D(2.1)));
    OK("-3.0", call("round", 1, D(-2.5)));
    OK("2.0", call("int", 1, D(2.9)));
    OK("0.5", call("fraction", 1, D(2.5)));
    OK("2.0", call("log", 1, D(100)));
    OK("3.0", call("log", 2, D(8), D(2)));
    OK("0.0", call("sin", 1, D(0)));
    OK("2.5", call("max", 2, I(1), D(2.5)));
    OK("1", call("min", 2, I(1), I(2)));
    OK("\"b\"", call("max", 2, S("a"), S("b")));
    OK("true", call("is_odd", 1, I(3)));
    OK("true", call("is_even", 1, I(-4)));
    OK("true", call("is_zero", 1, D(0)));
    OK("true", call("is_nan", 1, D(0.0 / 0.0)));
    OK("false", call("is_finite", 1, D(1.0 / 0.0)));
}

static void test_conversions(void **state) {
    (void)state;
    OK("3", call("to_int", 1, D(3.9)));
    OK("-3", call("to_int", 1, D(-3.9)));
    OK("97", call("to_int", 1, C('a')));
    ERR(CRYO_ERR_ARITHMETIC, "overflow", call("to_int", 1, D(9.3e18)));
    ERR(CRYO_ERR_ARITHMETIC, "overflow", call("to_int", 1, D(0.0 / 0.0)));
    OK("3.0", call("to_float", 1, I(3)));
    OK("'A'", call("to_char", 1, I(65)));
    ERR(CRYO_ERR_ARGUMENT, "valid", call("to_char", 1, I(0xD800)));
    OK("42", call("parse_int", 1, S(" 42 ")));
    OK("-42", call("parse_int", 1, S("-42")));
    OK("66", call("parse_int", 2, S("42"), I(16)));
    OK("11259375", call("parse_int", 2, S("abcdef"), I(16)));
    OK("-9223372036854775808", call("parse_int", 1, S("-9223372036854775808")));
    ERR(CRYO_ERR_ARITHMETIC, "parsing", call("parse_int", 1, S("9223372036854775808")));
    ERR(CRYO_ERR_ARITHMETIC, "parsing", call("parse_int", 1, S("")));
    ERR(CRYO_ERR_ARITHMETIC, "parsing", call("parse_int", 1, S("12x")));
    ERR(CRYO_ERR_ARITHMETIC, "radix", call("parse_int", 2, S("1"), I(37)));
    OK("9.9999", call("parse_float", 1, S("9.9999")));
    OK("1500.0", call("parse_float", 1, S("1.5e3")));
    ERR(CRYO_ERR_ARITHMETIC, "parsing", call("parse_float", 1, S("0x10")));
    ERR(CRYO_ERR_ARITHMETIC, "parsing", call("parse_float", 1, S("1.5z")));
    OK("\"ff\"", call("to_hex", 1, I(255)));
    OK("\"ffffffffffffffff\"", call("to_hex", 1, I(-1)));
    OK("\"17\"", call("to_octal", 1, I(15)));
    OK("\"101\"", call("to_binary", 1, I(5)));
    OK("\"0\"", call("to_binary", 1, I(0)));
}

/* --- strings
 * ---------------------------------------------------------------------------------------- */

#define HEARTS "\xe2\x9d\xa4\xe2\x9d\xa4\xe2\x9d\xa4"
#define HELLO  HEARTS " hello! " HEARTS

static void test_string_basics(void **state) {
    (void)state;
    OK("14", call("len", 1, S(HELLO)));
    OK("26", call("bytes", 1, S(HELLO)));
    OK("true", call("is_empty", 1, S("")));
    ERR(CRYO_ERR_NOT_FOUND, "function not found: len(bool)", call("len", 1, B(true)));
    OK("true", call("contains", 2, S("hello"), S("ell")));
    OK("true", call("contains", 2, S("hello"), C('o')));
    OK("false", call("contains", 2, S("hello"), C('z')));
    OK("true", call("starts_with", 2, S("hello"), S("he")));
    OK("true", call("ends_with", 2, S("hello"), C('o')));
    OK("'o'", call("get", 2, S("hello"), I(-1)));
    OK("()", call("get", 2, S("hello"), I(5)));
    OK("()", call("set", 3, S("hello"), I(0), C('J')));
    RECV("\"Jello\"");
    OK("()", call("set", 3, S("hello"), I(9), C('J')));
    RECV("\"hello\"");
}

static void test_string_positions(void **state) {
    (void)state;
    OK("\""
       "\xe2\x9d\xa4\xe2\x9d\xa4"
       "\"",
       call("sub_string", 3, S("hello! " HEARTS), I(-2), I(2)));
    OK("\"\xe2\x9d\xa4\xe2\x9d\xa4 he\"", call("sub_string", 3, S(HELLO), I(1), I(5)));
    OK("\"\"", call("sub_string", 2, S(HELLO), I(99)));
    OK("\"\"", call("sub_string", 3, S(HELLO), I(1), I(-1)));
    OK("\"llo\"", call("sub_string", 2, S("hello"), I(-3)));
    OK("\"hello\"", call("sub_string", 3, S("hello"), I(INT64_MIN), I(INT64_MAX)));
    OK("()", call("crop", 3, S(HELLO), I(4), I(6)));
    RECV("\"hello!\"");
    OK("()", call("crop", 3, S(HELLO), I(1), I(-1)));
    RECV("\"\"");
    OK("0", call("index_of", 2, S(HELLO), C(0x2764)));
    OK("11", call("index_of", 3, S(HELLO), C(0x2764), I(5)));
    OK("11", call("index_of", 3, S(HELLO), C(0x2764), I(-6)));
    OK("-1", call("index_of", 3, S(HELLO), C(0x2764), I(999)));
    OK("-1", call("index_of", 2, S(HELLO), C('x')));
    OK("4", call("index_of", 2, S(HELLO), S("hello")));
    OK("()", call("truncate", 2, S("hello"), I(2)));
    RECV("\"he\"");
    OK("()", call("truncate", 2, S("hello"), I(-2)));
    RECV("\"\"");
}

static void test_string_edit(void **state) {
    (void)state;
    OK("'o'", call("pop", 1, S("hello")));
    RECV("\"hell\"");
    OK("()", call("pop", 1, S("")));
    OK("\"llo\"", call("pop", 2, S("hello"), I(3)));
    RECV("\"he\"");
    OK("\"hello\"", call("pop", 2, S("hello"), I(10)));
    OK("\"\"", call("pop", 2, S("hello"), I(-42)));
    OK("()", call("append", 2, S("a"), I(42)));
    RECV("\"a42\"");
    OK("()", call("push", 2, S("a"), C(0x2764)));
    RECV("\"a\xe2\x9d\xa4\"");
    OK("()", call("clear", 1, S("abc")));
    RECV("\"\"");
    OK("()", call("replace", 3, S("banana"), S("an"), S("AN")));
    RECV("\"bANANa\"");
    OK("()", call("replace", 3, S("banana"), C('a'), C('o')));
    RECV("\"bonono\"");
    OK("()", call("replace", 3, S("ab"), S(""), S("-")));
    RECV("\"-a-b-\"");
    OK("()", call("remove", 2, S("banana"), S("an")));
    RECV("\"ba\"");
    OK("()", call("trim", 1, S(" \t x y \n")));
    RECV("\"x y\"");
    OK("()", call("trim_start", 1, S("  x ")));
    RECV("\"x \"");
    OK("()", call("trim_end", 1, S("  x ")));
    RECV("\"  x\"");
    OK("()", call("pad", 3, S("ab"), I(5), S("xyz")));
    RECV("\"abxyz\"");
    OK("()", call("pad", 3, S("ab"), I(4), C('!')));
    RECV("\"ab!!\"");
    OK("()", call("pad", 3, S("abc"), I(2), C('!')));
    RECV("\"abc\"");
}

static void test_string_case_chars(void **state) {
    (void)state;
    OK("\"\xc3\x84"
       "BC\"",
       call("to_upper", 1,
            S("\xc3\xa4"
              "bc")));
    OK("\"abc\"", call("to_lower", 1, S("ABC")));
    OK("'A'", call("to_upper", 1, C('a')));
    OK("()", call("make_upper", 1, S("hi")));
    RECV("\"HI\"");
    OK("()", call("make_lower", 1, S("HI")));
    RECV("\"hi\"");
    OK("['a', 'b']", call("chars", 1, S("ab")));
    OK("['l', 'l']", call("chars", 2, S("hello"), RET(call("range", 2, I(2), I(4)))));
    OK("['e', 'l']", call("chars", 3, S("hello"), I(1), I(2)));
}

static void test_string_split(void **state) {
    (void)state;
    OK("[\"a\", \"b\", \"c\"]", call("split", 2, S("a,b,c"), S(",")));
    OK("[\"a\", \"b,c\"]", call("split", 3, S("a,b,c"), S(","), I(2)));
    OK("[\"a\", \"b\", \"c\"]", call("split", 2, S("a,b,c"), C(',')));
    OK("[\"a\", \"b\", \"c\"]", call("split", 1, S(" a  b\tc ")));
    OK("[\"hel\", \"lo\"]", call("split", 2, S("hello"), I(3)));
    OK("[\"hel\", \"lo\"]", call("split", 2, S("hello"), I(-2)));
    OK("[\"\", \"hello\"]", call("split", 2, S("hello"), I(INT64_MIN)));
    OK("[\"c\", \"b\", \"a\"]", call("split_rev", 2, S("a,b,c"), S(",")));
    OK("[\"c\", \"a,b\"]", call("split_rev", 3, S("a,b,c"), C(','), I(2)));
    OK("[\"\", \"a\", \"b\", \"\"]", call("split", 2, S("ab"), S("")));
}

/* --- arrays
 * ----------------------------------------------------------------------------------------- */

static void test_array_edit(void **state) {
    (void)state;
    OK("()", call("push", 2, A(1, 1), I(2)));
    RECV("[1, 2]");
    OK("()", call("append", 2, A(1, 1), A(2, 2, 3)));
    RECV("[1, 2, 3]");
    OK("()", call("insert", 3, A(3, 1, 2, 3), I(-2), I(4)));
    RECV("[1, 4, 2, 3]");
    OK("()", call("insert", 3, A(3, 1, 2, 3), I(999), I(4)));
    RECV("[1, 2, 3, 4]");
    OK("()", call("insert", 3, A(3, 1, 2, 3), I(-999), I(4)));
    RECV("[4, 1, 2, 3]");
    OK("3", call("pop", 1, A(3, 1, 2, 3)));
    RECV("[1, 2]");
    OK("()", call("pop", 1, A(0)));
    OK("1", call("shift", 1, A(3, 1, 2, 3)));
    RECV("[2, 3]");
    OK("2", call("remove", 2, A(3, 1, 2, 3), I(1)));
    RECV("[1, 3]");
    OK("3", call("remove", 2, A(3, 1, 2, 3), I(-1)));
    OK("()", call("remove", 2, A(3, 1, 2, 3), I(3)));
    OK("()", call("remove", 2, A(3, 1, 2, 3), I(-4)));
    OK("2", call("get", 2, A(3, 1, 2, 3), I(-2)));
    OK("()", call("set", 3, A(3, 1, 2, 3), I(0), I(9)));
    RECV("[9, 2, 3]");
    OK("()", call("pad", 3, A(3, 1, 2, 3), I(5), I(0)));
    RECV("[1, 2, 3, 0, 0]");
    OK("()", call("truncate", 2, A(3, 1, 2, 3), I(1)));
    RECV("[1]");
    OK("()", call("chop", 2, A(3, 1, 2, 3), I(1)));
    RECV("[3]");
    OK("()", call("reverse", 1, A(3, 1, 2, 3)));
    RECV("[3, 2, 1]");
    OK("()", call("clear", 1, A(3, 1, 2, 3)));
    RECV("[]");
}

static void test_array_spans(void **state) {
    (void)state;
    OK("[2, 3]", call("extract", 3, A(3, 1, 2, 3), I(1), I(10)));
    OK("[1]", call("extract", 3, A(3, 1, 2, 3), I(-3), I(1)));
    OK("[1, 2]", call("extract", 3, A(3, 1, 2, 3), I(-99), I(2)));
    OK("[]", call("extract", 3, A(3, 1, 2, 3), I(99), I(1)));
    OK("[2, 3]", call("extract", 2, A(3, 1, 2, 3), I(1)));
    OK("[2, 3]", call("drain", 3, A(5, 1, 2, 3, 4, 5), I(1), I(2)));
    RECV("[1, 4, 5]");
    OK("[1, 4, 5]", call("retain", 3, A(5, 1, 2, 3, 4, 5), I(1), I(2)));
    RECV("[2, 3]");
    OK("()", call("splice", 4, A(5, 1, 2, 3, 4, 5), I(1), I(2), A(3, 9, 9, 9)));
    RECV("[1, 9, 9, 9, 4, 5]");
    OK("[3, 4, 5]", call("split", 2, A(5, 1, 2, 3, 4, 5), I(2)));
    RECV("[1, 2]");
    OK("[2, 3]", call("drain", 2, A(3, 1, 2, 3), RET(call("range", 2, I(1), I(9)))));
}

static void test_array_search(void **state) {
    (void)state;
    OK("true", call("contains", 2, A(3, 1, 2, 3), I(2)));
    OK("true", call("contains", 2, A(3, 1, 2, 3), D(2.0)));
    OK("false", call("contains", 2, A(3, 1, 2, 3), S("2")));
    OK("1", call("index_of", 2, A(3, 1, 2, 3), I(2)));
    OK("-1", call("index_of", 2, A(3, 1, 2, 3), S("foo")));
    OK("1", call("index_of", 2, A(4, 1, 2, 3, 2), S("is_two")));
    OK("3", call("index_of", 3, A(4, 1, 2, 3, 2), S("is_two"), I(2)));
    OK("1", call("index_of", 2, A(3, 1, 2, 3), FN(F_GT1)));
    OK("2", call("find", 2, A(3, 1, 2, 3), FN(F_GT1)));
    OK("()", call("find", 2, A(1, 1), FN(F_GT1)));
    OK("3", call("find_map", 3, A(3, 1, 2, 3), FN(F_FINDMAP), I(2)));
}

static void test_array_callbacks(void **state) {
    (void)state;
    OK("[2, 4, 6]", call("map", 2, A(3, 1, 2, 3), FN(F_DOUBLE)));
    OK("[0, 2, 6]", call("map", 2, A(3, 1, 2, 3), FN(F_MULIDX)));
    OK("[2, 3, 4]", call("map", 2, A(3, 1, 2, 3), FN(F_THIS1)));
    OK("[2, 3]", call("filter", 2, A(3, 1, 2, 3), FN(F_GT1)));
    OK("[1, 3]", call("filter", 2, A(3, 1, 2, 3), S("is_odd")));
    OK("[4, 6]", call("zip", 3, A(2, 1, 2), A(3, 3, 4, 5), NAMED("add")));
    OK("true", call("some", 2, A(3, 1, 2, 3), FN(F_GT1)));
    OK("false", call("all", 2, A(3, 1, 2, 3), FN(F_GT1)));
    OK("6", call("reduce", 3, A(3, 1, 2, 3), FN(F_SUM), I(0)));
    OK("16", call("reduce_rev", 3, A(3, 1, 2, 3), FN(F_SUM), I(10)));
    OK("()", call("for_each", 2, A(3, 1, 2, 3), FN(F_THIS1)));
    RECV("[1, 2, 3]");
    OK("()", call("for_each", 2, A(3, 1, 2, 3), FN(F_ADDIDX)));
    RECV("[1, 3, 5]");
    OK("[1]", call("retain", 2, A(3, 1, 2, 3), FN(F_GT1)));
    RECV("[2, 3]");
    OK("[2, 3]", call("drain", 2, A(3, 1, 2, 3), FN(F_GT1)));
    RECV("[1]");
    ERR(CRYO_ERR_TYPE, "bool", call("filter", 2, A(1, 1), FN(F_DOUBLE)));
    ERR(CRYO_ERR_TYPE, "function", call("map", 2, A(1, 1), I(3)));
}

static void test_array_sort(void **state) {
    (void)state;
    OK("()", call("sort", 1, A(4, 3, 1, 4, 2)));
    RECV("[1, 2, 3, 4]");
    OK("()", call("sort", 2, A(4, 3, 1, 4, 2), FN(F_DESC)));
    RECV("[4, 3, 2, 1]");
    OK("()", call("sort_desc", 1, A(4, 3, 1, 3, 2)));
    RECV("[3, 3, 2, 1]");
    OK("()", call("dedup", 1, A(6, 1, 1, 2, 2, 1, 1)));
    RECV("[1, 2, 1]");
    ERR(CRYO_ERR_TYPE, "i64", call("sort", 2, A(2, 1, 2), FN(F_KV_GT1)));
}

static void test_array_limits(void **state) {
    fixture *f = *state;
    cryo_vm_set_limit(f->vm, CRYO_LIMIT_ARRAY_SIZE, 10);
    OK("()", call("pad", 3, A(6, 1, 2, 3, 4, 5, 6), I(10), I(42)));
    ERR(CRYO_ERR_DATA_TOO_LARGE, "", call("pad", 3, A(6, 1, 2, 3, 4, 5, 6), I(11), I(42)));
    ERR(CRYO_ERR_DATA_TOO_LARGE, "", call("pad", 3, A(1, 1), I(INT64_MAX), I(0)));
    ERR(CRYO_ERR_DATA_TOO_LARGE, "", call("range", 3, I(0), I(100), I(2)));
    cryo_vm_set_limit(f->vm, CRYO_LIMIT_ARRAY_SIZE, 0);
    cryo_vm_set_limit(f->vm, CRYO_LIMIT_STRING_SIZE, 10);
    ERR(CRYO_ERR_DATA_TOO_LARGE, "", call("pad", 3, S("hello"), I(100), C('!')));
    ERR(CRYO_ERR_DATA_TOO_LARGE, "", call("append", 2, S("hello"), S("world!")));
    cryo_vm_set_limit(f->vm, CRYO_LIMIT_STRING_SIZE, 0);
}

/* --- maps
 * ----------------------------------------------------------------------------------------- */

static void test_maps(void **state) {
    fixture *f = *state;
    OK("3", call("len", 1, M(3, "a", 1, "b", 2, "c", 3)));
    OK("[\"a\", \"b\"]", call("keys", 1, M(2, "b", 2, "a", 1)));
    OK("[1, 2]", call("values", 1, M(2, "b", 2, "a", 1)));
    OK("true", call("contains", 2, M(1, "a", 1), S("a")));
    OK("2", call("get", 2, M(2, "a", 1, "b", 2), S("b")));
    OK("()", call("get", 2, M(0), S("b")));
    OK("()", call("set", 3, M(1, "a", 1), S("b"), I(2)));
    RECV("#{\"a\": 1, \"b\": 2}");
    OK("3", call("remove", 2, M(3, "a", 1, "b", 2, "c", 3), S("c")));
    RECV("#{\"a\": 1, \"b\": 2}");
    OK("()", call("remove", 2, M(1, "a", 1), S("z")));
    OK("()", call("mixin", 2, M(3, "a", 1, "b", 2, "c", 3), M(2, "b", 42, "d", 9)));
    RECV("#{\"a\": 1, \"b\": 42, \"c\": 3, \"d\": 9}");
    OK("()", call("fill_with", 2, M(2, "a", 1, "b", 2), M(2, "b", 42, "d", 9)));
    RECV("#{\"a\": 1, \"b\": 2, \"d\": 9}");
    OK("#{\"b\": 2}", call("filter", 2, M(2, "a", 1, "b", 2), FN(F_KV_GT1)));
    OK("#{\"b\": 2}", call("drain", 2, M(2, "a", 1, "b", 2), FN(F_KV_GT1)));
    RECV("#{\"a\": 1}");
    OK("#{\"a\": 1}", call("retain", 2, M(2, "a", 1, "b", 2), FN(F_KV_GT1)));
    RECV("#{\"b\": 2}");
    OK("()", call("clear", 1, M(1, "a", 1)));
    RECV("#{}");
    cryo_vm_set_limit(f->vm, CRYO_LIMIT_MAP_SIZE, 2);
    ERR(CRYO_ERR_DATA_TOO_LARGE, "", call("set", 3, M(2, "a", 1, "b", 2), S("c"), I(3)));
    OK("()", call("set", 3, M(2, "a", 1, "b", 2), S("b"), I(3)));
    cryo_vm_set_limit(f->vm, CRYO_LIMIT_MAP_SIZE, 0);
}

/* Shared receivers are copied, never changed under another holder. */
static void test_copy_on_write(void **state) {
    (void)state;
    cryo_value a = A(2, 1, 2);
    cryo_value keep = a;
    cv_retain(keep);
    OK("()", call("push", 2, a, I(3)));
    RECV("[1, 2, 3]");
    char *text = cryo_value_to_cstring(keep, true);
    assert_string_equal(text, "[1, 2]");
    free(text);
    cryo_value_release(keep);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_print_debug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_of_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fn_call_curry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_math, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_case_chars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_spans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_sort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_on_write, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    clear_result();
    return rc;
}
