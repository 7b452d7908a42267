/* test-ops.c — operators, indexing, properties and size limits on values (ops.c). */
#define _GNU_SOURCE /* vasprintf */
#include "vm.h"

#include "opcodes.h"
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

/* --- a minimal VM: only `heap`, `limits`, `ctx` and `err` are used; errors, limits and host
 * lookups are the library's own (vm_call.c, context.c). */

static cryo_context fake_ctx;

static int setup(void **state) {
    cryo_vm *vm = calloc(1, sizeof *vm);
    /* Host lookups (property getters on non-maps: `len`) go through the std package. */
    static cryo_package *std;
    std = cryo_package_std();
    fake_ctx.packages = &std;
    fake_ctx.npackages = 1;
    vm->ctx = &fake_ctx;
    *state = vm;
    return 0;
}

static int teardown(void **state) {
    cryo_vm *vm = *state;
    assert_int_equal(vm->heap.bytes, 0); /* every test releases what it made */
    cryo_error_free(vm->err);
    free(vm);
    return 0;
}

/* --- helpers -------------------------------------------------------------------------------------
 */

static cryo_value S(cryo_vm *vm, const char *s) {
    cryo_string *o = cv_string_new(&vm->heap, s, strlen(s));
    assert_non_null(o);
    return cv_from_obj(&o->h);
}

static cryo_value A(cryo_vm *vm, int n, ...) {
    cryo_array *a = cv_array_new(&vm->heap, (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        cv_array_push(&vm->heap, a, va_arg(ap, cryo_value));
    va_end(ap);
    return cv_from_obj(&a->h);
}

static cryo_value M(cryo_vm *vm, const char *k1, cryo_value v1, const char *k2, cryo_value v2) {
    cryo_map *m = cv_map_new(&vm->heap, 2);
    cryo_string *k = cv_string_new(&vm->heap, k1, strlen(k1));
    cv_map_set(&vm->heap, m, k, v1);
    cv_release(&vm->heap, cv_from_obj(&k->h));
    if (k2) {
        k = cv_string_new(&vm->heap, k2, strlen(k2));
        cv_map_set(&vm->heap, m, k, v2);
        cv_release(&vm->heap, cv_from_obj(&k->h));
    }
    return cv_from_obj(&m->h);
}

static cryo_value R(cryo_vm *vm, int64_t a, int64_t b, bool incl) {
    return cv_from_obj(&cv_range_new(&vm->heap, a, b, incl)->h);
}

static void rel(cryo_vm *vm, cryo_value v) {
    cv_release(&vm->heap, v);
}

static cryo_value bin_ok(cryo_vm *vm, int op, cryo_value a, cryo_value b) {
    cryo_value out;
    cryo_error_kind k = cvm_op_binary(vm, op, a, b, &out);
    if (k != CRYO_OK) fail_msg("op %d failed: %s", op, vm->err ? vm->err->message : "?");
    return out;
}

static int64_t ibin(cryo_vm *vm, int op, int64_t a, int64_t b) {
    cryo_value r = bin_ok(vm, op, cryo_int(a), cryo_int(b));
    assert_int_equal(r.type, CRYO_T_INT);
    return r.as.i;
}

static bool bbin(cryo_vm *vm, int op, cryo_value a, cryo_value b) {
    cryo_value r = bin_ok(vm, op, a, b);
    assert_int_equal(r.type, CRYO_T_BOOL);
    return r.as.b;
}

static double fbin(cryo_vm *vm, int op, cryo_value a, cryo_value b) {
    cryo_value r = bin_ok(vm, op, a, b);
    assert_int_equal(r.type, CRYO_T_FLOAT);
    return r.as.f;
}

/* Expects an error of `kind` whose message contains `part`. */
static void bin_err(cryo_vm *vm, int op, cryo_value a, cryo_value b, cryo_error_kind kind,
                    const char *part) {
    cryo_value out = cryo_unit_value();
    assert_int_equal(cvm_op_binary(vm, op, a, b, &out), kind);
    assert_non_null(vm->err);
    if (!strstr(vm->err->message, part)) fail_msg("'%s' lacks '%s'", vm->err->message, part);
}

static void assert_str(cryo_vm *vm, cryo_value v, const char *want) {
    assert_int_equal(v.type, CRYO_T_STRING);
    assert_string_equal(cv_str(v)->data, want);
    rel(vm, v);
}

static void assert_err_has(cryo_vm *vm, const char *part) {
    assert_non_null(vm->err);
    if (!strstr(vm->err->message, part)) fail_msg("'%s' lacks '%s'", vm->err->message, part);
}

/* --- arithmetic
 * ------------------------------------------------------------------------------------ */

static void test_int_arith(void **state) {
    cryo_vm *vm = *state;
    assert_int_equal(ibin(vm, OP_ADD, 10, 4), 14);
    assert_int_equal(ibin(vm, OP_ADDI, 10, -4), 6);
    assert_int_equal(ibin(vm, OP_SUB, 10, 4), 6);
    assert_int_equal(ibin(vm, OP_MUL, 10, 4), 40);
    assert_int_equal(ibin(vm, OP_DIV, 10, 4), 2);
    assert_int_equal(ibin(vm, OP_DIV, -7, 2), -3);
    assert_int_equal(ibin(vm, OP_MOD, 10, 4), 2);
    assert_int_equal(ibin(vm, OP_MOD, -7, 2), -1);
    assert_int_equal(ibin(vm, OP_MOD, INT64_MAX, -1), 0);
    assert_int_equal(ibin(vm, OP_POW, 10, 4), 10000);
    assert_int_equal(ibin(vm, OP_POW, -2, 3), -8);
    assert_int_equal(ibin(vm, OP_POW, 2, 62), INT64_C(1) << 62);
    assert_int_equal(ibin(vm, OP_POW, 1, INT64_MAX), 1);
    assert_int_equal(ibin(vm, OP_POW, 7, 0), 1);
    assert_int_equal(ibin(vm, OP_SHL, 10, 4), 160);
    assert_int_equal(ibin(vm, OP_SHR, 10, 4), 0);
    assert_int_equal(ibin(vm, OP_SHL, 10, -1), 5);
    assert_int_equal(ibin(vm, OP_SHR, 10, -2), 40);
    assert_int_equal(ibin(vm, OP_SHR, -16, 2), -4);
    assert_int_equal(ibin(vm, OP_BAND, 10, 4), 0);
    assert_int_equal(ibin(vm, OP_BOR, 10, 4), 14);
    assert_int_equal(ibin(vm, OP_BXOR, 10, 4), 14);
}

static void test_int_errors(void **state) {
    cryo_vm *vm = *state;
    bin_err(vm, OP_ADD, cryo_int(INT64_MAX), cryo_int(1), CRYO_ERR_ARITHMETIC, "overflow");
    bin_err(vm, OP_SUB, cryo_int(INT64_MIN), cryo_int(1), CRYO_ERR_ARITHMETIC, "overflow");
    bin_err(vm, OP_MUL, cryo_int(INT64_MAX), cryo_int(2), CRYO_ERR_ARITHMETIC, "overflow");
    bin_err(vm, OP_DIV, cryo_int(INT64_MAX), cryo_int(0), CRYO_ERR_ARITHMETIC, "division by zero");
    bin_err(vm, OP_DIV, cryo_int(INT64_MIN), cryo_int(-1), CRYO_ERR_ARITHMETIC, "overflow");
    bin_err(vm, OP_MOD, cryo_int(1), cryo_int(0), CRYO_ERR_ARITHMETIC, "modulo by zero");
    bin_err(vm, OP_MOD, cryo_int(INT64_MIN), cryo_int(-1), CRYO_ERR_ARITHMETIC, "overflow");
    bin_err(vm, OP_POW, cryo_int(2), cryo_int(-1), CRYO_ERR_ARITHMETIC, "negative");
    bin_err(vm, OP_POW, cryo_int(2), cryo_int(63), CRYO_ERR_ARITHMETIC, "overflow");
    bin_err(vm, OP_POW, cryo_int(3), cryo_int(1000), CRYO_ERR_ARITHMETIC, "3 ** 1000");
    bin_err(vm, OP_SHL, cryo_int(1), cryo_int(64), CRYO_ERR_ARITHMETIC, "too many bits");
    bin_err(vm, OP_SHR, cryo_int(1), cryo_int(-64), CRYO_ERR_ARITHMETIC, "too many bits");
    bin_err(vm, OP_SHL, cryo_int(1), cryo_int(INT64_MIN), CRYO_ERR_ARITHMETIC, "too many bits");
    cryo_value out;
    assert_int_equal(cvm_op_unary(vm, OP_NEG, cryo_int(INT64_MIN), &out), CRYO_ERR_ARITHMETIC);
}

static void test_float_arith(void **state) {
    cryo_vm *vm = *state;
    assert_true(fbin(vm, OP_ADD, cryo_float(10), cryo_float(4)) == 14.0);
    assert_true(fbin(vm, OP_SUB, cryo_float(10), cryo_int(4)) == 6.0);
    assert_true(fbin(vm, OP_MUL, cryo_int(10), cryo_float(4)) == 40.0);
    assert_true(fbin(vm, OP_DIV, cryo_int(10), cryo_float(4)) == 2.5);
    assert_true(fbin(vm, OP_MOD, cryo_float(10), cryo_float(4)) == 2.0);
    assert_true(fbin(vm, OP_POW, cryo_int(10), cryo_float(4)) == 10000.0);
    assert_true(fbin(vm, OP_POW, cryo_float(2), cryo_float(-2)) == 0.25);
    assert_true(fbin(vm, OP_ADDI, cryo_float(1.5), cryo_int(1)) == 2.5);
    assert_true(isinf(fbin(vm, OP_DIV, cryo_float(1), cryo_float(0))));
    bin_err(vm, OP_SHL, cryo_float(1), cryo_int(1), CRYO_ERR_TYPE,
            "cannot apply '<<' to f64 and i64");
    bin_err(vm, OP_BAND, cryo_float(1), cryo_float(1), CRYO_ERR_TYPE, "'&'");
    cryo_value out;
    assert_int_equal(cvm_op_unary(vm, OP_NEG, cryo_float(2.5), &out), CRYO_OK);
    assert_true(out.as.f == -2.5);
    assert_int_equal(cvm_op_unary(vm, OP_NEG, cryo_int(7), &out), CRYO_OK);
    assert_int_equal(out.as.i, -7);
    assert_int_equal(cvm_op_unary(vm, OP_NOT, cryo_bool(false), &out), CRYO_OK);
    assert_true(out.as.b);
    assert_int_equal(cvm_op_unary(vm, OP_NOT, cryo_int(1), &out), CRYO_ERR_TYPE);
    assert_err_has(vm, "cannot apply '!' to i64");
    cryo_value s = S(vm, "x");
    assert_int_equal(cvm_op_unary(vm, OP_NEG, s, &out), CRYO_ERR_TYPE);
    assert_err_has(vm, "'-' to string");
    rel(vm, s);
}

static void test_bool_ops(void **state) {
    cryo_vm *vm = *state;
    assert_false(bbin(vm, OP_BAND, cryo_bool(true), cryo_bool(false)));
    assert_true(bbin(vm, OP_BOR, cryo_bool(true), cryo_bool(false)));
    assert_true(bbin(vm, OP_BXOR, cryo_bool(true), cryo_bool(false)));
    assert_false(bbin(vm, OP_BXOR, cryo_bool(true), cryo_bool(true)));
    bin_err(vm, OP_ADD, cryo_bool(true), cryo_bool(true), CRYO_ERR_TYPE,
            "cannot apply '+' to bool and bool");
    bin_err(vm, OP_ADD, cryo_int(1), cryo_bool(true), CRYO_ERR_TYPE,
            "cannot apply '+' to i64 and bool");
    bin_err(vm, OP_MUL, cryo_unit_value(), cryo_int(1), CRYO_ERR_TYPE, "() and i64");
}

/* --- strings, arrays, maps -----------------------------------------------------------------------
 */

static void test_string_add(void **state) {
    cryo_vm *vm = *state;
    cryo_value hello = S(vm, "hello"), world = S(vm, ", world");
    assert_str(vm, bin_ok(vm, OP_ADD, hello, world), "hello, world");
    assert_str(vm, bin_ok(vm, OP_ADD, hello, cryo_char('!')), "hello!");
    assert_str(vm, bin_ok(vm, OP_ADD, hello, cryo_int(42)), "hello42");
    assert_str(vm, bin_ok(vm, OP_ADD, hello, cryo_float(123.4556)), "hello123.4556");
    assert_str(vm, bin_ok(vm, OP_ADD, hello, cryo_unit_value()), "hello");
    assert_str(vm, bin_ok(vm, OP_ADD, cryo_int(42), hello), "42hello");
    assert_str(vm, bin_ok(vm, OP_ADD, cryo_char('a'), cryo_char('b')), "ab");
    assert_str(vm, bin_ok(vm, OP_ADD, cryo_char('a'), hello), "ahello");
    assert_str(vm, bin_ok(vm, OP_ADD, cryo_bool(true), hello), "truehello");
    cryo_value arr = A(vm, 2, cryo_int(1), S(vm, "a"));
    assert_str(vm, bin_ok(vm, OP_ADD, hello, arr), "hello[1, \"a\"]");
    assert_str(vm, bin_ok(vm, OP_ADD, arr, hello), "[1, \"a\"]hello");
    cryo_value el = S(vm, "el"), l = S(vm, "l");
    assert_str(vm, bin_ok(vm, OP_SUB, hello, el), "hlo");
    assert_str(vm, bin_ok(vm, OP_SUB, hello, cryo_char('l')), "heo");
    assert_str(vm, bin_ok(vm, OP_SUB, hello, l), "heo");
    bin_err(vm, OP_SUB, hello, cryo_int(1), CRYO_ERR_TYPE, "'-' to string and i64");
    bin_err(vm, OP_MUL, hello, cryo_int(2), CRYO_ERR_TYPE, "'*' to string and i64");
    bin_err(vm, OP_ADD, cryo_char('a'), cryo_int(1), CRYO_ERR_TYPE, "char and i64");
    rel(vm, arr);
    rel(vm, el);
    rel(vm, l);
    rel(vm, hello);
    rel(vm, world);
}

static void test_array_map_add(void **state) {
    cryo_vm *vm = *state;
    cryo_value x = A(vm, 3, cryo_int(1), cryo_int(2), cryo_int(3));
    cryo_value y = A(vm, 2, cryo_int(4), cryo_int(5));
    cryo_value r = bin_ok(vm, OP_ADD, x, y);
    char *s = cv_to_cstring(r, false);
    assert_string_equal(s, "[1, 2, 3, 4, 5]");
    free(s);
    assert_int_equal(cv_arr(x)->len, 3); /* operands untouched */
    rel(vm, r);
    r = bin_ok(vm, OP_ADD, x, cryo_int(4)); /* `y += 4` pushes */
    assert_int_equal(cv_arr(r)->len, 4);
    rel(vm, r);

    cryo_value m1 = M(vm, "a", cryo_int(1), "b", cryo_int(2));
    cryo_value m2 = M(vm, "b", cryo_int(42), "d", cryo_int(9));
    r = bin_ok(vm, OP_ADD, m1, m2);
    s = cv_to_cstring(r, false);
    assert_string_equal(s, "#{\"a\": 1, \"b\": 42, \"d\": 9}");
    free(s);
    assert_int_equal(cv_map(m1)->len, 2);
    rel(vm, r);
    bin_err(vm, OP_ADD, m1, cryo_int(1), CRYO_ERR_TYPE, "map and i64");
    bin_err(vm, OP_SUB, x, y, CRYO_ERR_TYPE, "'-' to array and array");
    rel(vm, m1);
    rel(vm, m2);
    rel(vm, x);
    rel(vm, y);
}

static void test_op_assign_in_place(void **state) {
    cryo_vm *vm = *state;
    cryo_value s = S(vm, "");
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(cvm_op_assign(vm, OP_ADD, &s, cryo_char('x')), CRYO_OK);
    }
    assert_int_equal(cv_str(s)->len, 100000);
    cryo_value shared = s;
    cv_retain(shared); /* `let t = s; s += "y"` copies once, t keeps its value */
    cryo_value y = S(vm, "y");
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &s, y), CRYO_OK);
    assert_ptr_not_equal(s.as.obj, shared.as.obj);
    assert_int_equal(cv_str(shared)->len, 100000);
    assert_int_equal(cv_str(s)->len, 100001);
    rel(vm, shared);
    rel(vm, s);

    cryo_value a = A(vm, 0);
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(cvm_op_assign(vm, OP_ADD, &a, cryo_int(i)), CRYO_OK);
    }
    assert_int_equal(cv_arr(a)->len, 100000);
    cryo_value b = A(vm, 2, cryo_int(1), y);
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &a, b), CRYO_OK);
    assert_int_equal(cv_arr(a)->len, 100002);
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &a, a), CRYO_OK); /* a += a */
    assert_int_equal(cv_arr(a)->len, 200004);
    rel(vm, a);
    rel(vm, b);

    /* a captured variable: the register holds a cell, the value is changed inside it */
    cryo_value cell = cv_from_obj(&cv_cell_new(&vm->heap, S(vm, "ab"))->h);
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &cell, cryo_char('c')), CRYO_OK);
    assert_int_equal(cell.type, CRYO_T_CELL);
    assert_string_equal(cv_str(cv_cell(cell)->v)->data, "abc");
    assert_int_equal(cvm_op_setindex(vm, &cell, cryo_int(0), cryo_char('X')), CRYO_OK);
    assert_string_equal(cv_str(cv_cell(cell)->v)->data, "Xbc");
    assert_int_equal(cvm_op_assign(vm, OP_MUL, &cell, cryo_int(2)), CRYO_ERR_TYPE);
    rel(vm, cell);

    cryo_value n = cryo_int(10);
    assert_int_equal(cvm_op_assign(vm, OP_SHL, &n, cryo_int(-1)), CRYO_OK);
    assert_int_equal(n.as.i, 5);
    cryo_value m = M(vm, "a", cryo_int(1), NULL, cryo_unit_value());
    cryo_value m2 = M(vm, "b", cryo_int(2), NULL, cryo_unit_value());
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &m, m2), CRYO_OK);
    assert_int_equal(cv_map(m)->len, 2);
    rel(vm, m);
    rel(vm, m2);
}

/* --- comparisons and `in`
 * ------------------------------------------------------------------------- */

static void test_comparisons(void **state) {
    cryo_vm *vm = *state;
    cryo_value x = S(vm, "x"), a = S(vm, "a"), s42 = S(vm, "42"), hello = S(vm, "hello");
    assert_true(bbin(vm, OP_EQ, cryo_int(42), cryo_int(42)));
    assert_true(bbin(vm, OP_GE, cryo_int(42), cryo_int(42)));
    assert_false(bbin(vm, OP_GT, cryo_int(42), cryo_int(42)));
    assert_true(bbin(vm, OP_EQ, cryo_int(42), cryo_float(42.0)));
    assert_false(bbin(vm, OP_NE, cryo_int(42), cryo_float(42.0)));
    assert_false(bbin(vm, OP_GT, cryo_int(42), cryo_float(42.0)));
    assert_true(bbin(vm, OP_LT, cryo_float(1e-19), cryo_float(1e-18)));
    assert_false(bbin(vm, OP_LT, cryo_int(0), cryo_float(1e-16)));
    assert_true(bbin(vm, OP_LT, cryo_int(0), cryo_float(1e-15)));
    assert_false(bbin(vm, OP_LT, cryo_float(NAN), cryo_float(1)));
    assert_false(bbin(vm, OP_GE, cryo_float(NAN), cryo_float(1)));
    assert_true(bbin(vm, OP_NE, cryo_float(NAN), cryo_float(NAN)));
    assert_true(bbin(vm, OP_LT, a, x));
    assert_true(bbin(vm, OP_EQ, x, cryo_char('x')));
    assert_false(bbin(vm, OP_GT, x, cryo_char('x')));
    assert_false(bbin(vm, OP_LT, x, cryo_char('x')));
    assert_true(bbin(vm, OP_GT, hello, cryo_char('c')));
    assert_true(bbin(vm, OP_GT, cryo_char('x'), hello));
    /* different types: == false, != true, ordering false (no error) */
    assert_false(bbin(vm, OP_EQ, cryo_bool(true), cryo_int(42)));
    assert_true(bbin(vm, OP_NE, cryo_bool(true), cryo_int(42)));
    assert_false(bbin(vm, OP_GT, cryo_bool(true), cryo_int(42)));
    assert_false(bbin(vm, OP_EQ, s42, cryo_int(42)));
    assert_false(bbin(vm, OP_GT, s42, cryo_int(42)));
    assert_true(bbin(vm, OP_EQ, cryo_unit_value(), cryo_unit_value()));
    assert_true(bbin(vm, OP_LT, cryo_bool(false), cryo_bool(true)));
    cryo_value arr = A(vm, 1, cryo_int(1)), arr2 = A(vm, 1, cryo_float(1.0));
    assert_true(bbin(vm, OP_EQ, arr, arr2));
    bin_err(vm, OP_LT, arr, arr2, CRYO_ERR_TYPE, "cannot apply '<' to array and array");
    cryo_value vals[] = {x, a, s42, hello, arr, arr2};
    for (size_t i = 0; i < 6; i++)
        rel(vm, vals[i]);
}

static void test_in(void **state) {
    cryo_vm *vm = *state;
    cryo_value y = A(vm, 3, cryo_int(1), cryo_int(2), S(vm, "three"));
    cryo_value three = S(vm, "three"), s = S(vm, "hello, world!"), world = S(vm, "world"),
               hey = S(vm, "hey"), c = S(vm, "c");
    assert_true(bbin(vm, OP_IN, cryo_int(2), y));
    assert_true(bbin(vm, OP_IN, cryo_float(2.0), y));
    assert_true(bbin(vm, OP_IN, three, y));
    assert_false(bbin(vm, OP_IN, cryo_int(4), y));
    assert_true(bbin(vm, OP_IN, world, s));
    assert_true(bbin(vm, OP_IN, cryo_char('w'), s));
    assert_false(bbin(vm, OP_IN, hey, s));
    cryo_value m = M(vm, "a", cryo_int(1), "c", cryo_int(3));
    assert_true(bbin(vm, OP_IN, c, m));
    assert_false(bbin(vm, OP_IN, hey, m));
    cryo_value r = R(vm, 1, 3, false), ri = R(vm, 1, 3, true);
    assert_true(bbin(vm, OP_IN, cryo_int(1), r));
    assert_false(bbin(vm, OP_IN, cryo_int(3), r));
    assert_true(bbin(vm, OP_IN, cryo_int(3), ri));
    bin_err(vm, OP_IN, cryo_int(1), s, CRYO_ERR_TYPE, "'in' to i64 and string");
    bin_err(vm, OP_IN, cryo_int(1), cryo_int(2), CRYO_ERR_TYPE, "'in'");
    cryo_value vals[] = {y, three, s, world, hey, c, m, r, ri};
    for (size_t i = 0; i < 9; i++)
        rel(vm, vals[i]);
}

/* --- indexing
 * -------------------------------------------------------------------------------------- */

static cryo_value get_ok(cryo_vm *vm, cryo_value obj, cryo_value idx) {
    cryo_value out;
    if (cvm_op_getindex(vm, obj, idx, &out) != CRYO_OK) fail_msg("%s", vm->err->message);
    return out;
}

static void test_getindex(void **state) {
    cryo_vm *vm = *state;
    cryo_value y = A(vm, 3, cryo_int(1), cryo_int(2), cryo_int(3));
    assert_int_equal(get_ok(vm, y, cryo_int(1)).as.i, 2);
    assert_int_equal(get_ok(vm, y, cryo_int(-1)).as.i, 3);
    assert_int_equal(get_ok(vm, y, cryo_int(-3)).as.i, 1);
    cryo_value out;
    assert_int_equal(cvm_op_getindex(vm, y, cryo_int(3), &out), CRYO_ERR_INDEX);
    assert_err_has(vm, "3");
    assert_err_has(vm, "length 3");
    assert_int_equal(cvm_op_getindex(vm, y, cryo_int(-4), &out), CRYO_ERR_INDEX);
    cryo_value sx = S(vm, "x");
    assert_int_equal(cvm_op_getindex(vm, y, sx, &out), CRYO_ERR_TYPE);
    assert_err_has(vm, "cannot index array with string");

    cryo_value s = S(vm, "h\xc3\xa9llo\xe2\x9d\xa4"); /* héllo❤ */
    assert_int_equal(get_ok(vm, s, cryo_int(1)).as.c, 0xE9);
    assert_int_equal(get_ok(vm, s, cryo_int(-1)).as.c, 0x2764);
    assert_int_equal(get_ok(vm, s, cryo_int(4)).as.c, 'o');
    assert_int_equal(cvm_op_getindex(vm, s, cryo_int(6), &out), CRYO_ERR_INDEX);
    assert_err_has(vm, "string index 6");

    cryo_value hello = S(vm, "hello");
    struct {
        int64_t a, b;
        bool incl;
        const char *want;
    } rs[] = {{1, 3, false, "el"},
              {1, -1, false, "ell"},
              {0, 18, false, "hello"},
              {1, 3, true, "ell"},
              {1, -4, false, ""},
              {2, -18, false, ""},
              {0, 2, false, "he"},
              {0, INT64_MAX, false, "hello"},
              {0, INT64_MAX, true, "hello"},
              {0, 2, true, "hel"},
              {1, -1, true, "ello"},
              {1, -4, true, ""}};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        cryo_value r = R(vm, rs[i].a, rs[i].b, rs[i].incl);
        assert_str(vm, get_ok(vm, hello, r), rs[i].want);
        rel(vm, r);
    }
    cryo_value r = R(vm, 1, 3, false);
    assert_str(vm, get_ok(vm, s, r), "\xc3\xa9l");
    rel(vm, r);

    cryo_value m = M(vm, "a", cryo_int(1), "b", S(vm, "bee"));
    cryo_value kb = S(vm, "b"), kz = S(vm, "z");
    assert_str(vm, get_ok(vm, m, kb), "bee");
    assert_int_equal(get_ok(vm, m, kz).type, CRYO_T_UNIT);
    assert_int_equal(cvm_op_getindex(vm, m, cryo_int(1), &out), CRYO_ERR_TYPE);

    assert_true(get_ok(vm, cryo_int(10), cryo_int(1)).as.b);
    assert_false(get_ok(vm, cryo_int(10), cryo_int(0)).as.b);
    assert_true(get_ok(vm, cryo_int(-1), cryo_int(-1)).as.b);
    assert_false(get_ok(vm, cryo_int(INT64_MAX), cryo_int(-1)).as.b);
    assert_int_equal(cvm_op_getindex(vm, cryo_int(1), cryo_int(64), &out), CRYO_ERR_INDEX);
    assert_int_equal(cvm_op_getindex(vm, cryo_int(1), cryo_int(-65), &out), CRYO_ERR_INDEX);
    r = R(vm, 4, 11, true);
    assert_int_equal(get_ok(vm, cryo_int(0xABC), r).as.i, 0xAB);
    rel(vm, r);
    r = R(vm, 0, 100, false);
    assert_int_equal(get_ok(vm, cryo_int(-1), r).as.i, -1);
    rel(vm, r);
    assert_int_equal(cvm_op_getindex(vm, cryo_bool(true), cryo_int(0), &out), CRYO_ERR_TYPE);
    assert_err_has(vm, "cannot index bool");

    cryo_value vals[] = {y, sx, s, hello, m, kb, kz};
    for (size_t i = 0; i < 7; i++)
        rel(vm, vals[i]);
}

static void test_setindex(void **state) {
    cryo_vm *vm = *state;
    cryo_value y = A(vm, 3, cryo_int(1), cryo_int(2), cryo_int(3));
    cryo_value alias = y;
    cv_retain(alias); /* `let z = y` */
    assert_int_equal(cvm_op_setindex(vm, &y, cryo_int(1), cryo_int(5)), CRYO_OK);
    assert_int_equal(cv_arr(y)->items[1].as.i, 5);
    assert_int_equal(cv_arr(alias)->items[1].as.i, 2); /* copy on write */
    assert_int_equal(cvm_op_setindex(vm, &y, cryo_int(-1), S(vm, "last")), CRYO_OK);
    assert_int_equal(cvm_op_setindex(vm, &y, cryo_int(3), S(vm, "x")), CRYO_ERR_INDEX);
    assert_int_equal(cvm_op_setindex(vm, &y, cryo_bool(true), S(vm, "x")), CRYO_ERR_TYPE);
    char *s = cv_to_cstring(y, false);
    assert_string_equal(s, "[1, 5, \"last\"]");
    free(s);

    cryo_value m = M(vm, "a", cryo_int(1), NULL, cryo_unit_value());
    cryo_value kb = S(vm, "b"), ka = S(vm, "a");
    assert_int_equal(cvm_op_setindex(vm, &m, kb, cryo_int(2)), CRYO_OK);
    assert_int_equal(cvm_op_setindex(vm, &m, ka, cryo_int(3)), CRYO_OK);
    s = cv_to_cstring(m, false);
    assert_string_equal(s, "#{\"a\": 3, \"b\": 2}");
    free(s);

    cryo_value str = S(vm, "hello");
    assert_int_equal(cvm_op_setindex(vm, &str, cryo_int(2), cryo_char('$')), CRYO_OK);
    assert_string_equal(cv_str(str)->data, "he$lo");
    assert_int_equal(cvm_op_setindex(vm, &str, cryo_int(-1), cryo_char(0x2764)), CRYO_OK);
    assert_string_equal(cv_str(str)->data, "he$l\xe2\x9d\xa4");
    assert_int_equal(cv_str(str)->nchars, 5);
    assert_int_equal(cvm_op_setindex(vm, &str, cryo_int(0), cryo_int(1)), CRYO_ERR_TYPE);
    assert_int_equal(cvm_op_setindex(vm, &str, cryo_int(5), cryo_char('a')), CRYO_ERR_INDEX);
    rel(vm, str);
    struct {
        int64_t a, b;
        bool incl;
        const char *with, *want;
    } rs[] = {{1, 3, false, "iii", "hiiilo"}, {1, 2, false, "i", "hillo"},
              {1, 3, false, "i", "hilo"},     {1, 2, true, "iii", "hiiilo"},
              {0, INT64_MAX, true, "x", "x"}, {3, INT64_MAX, false, "xyz", "helxyz"}};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        str = S(vm, "hello");
        cryo_value r = R(vm, rs[i].a, rs[i].b, rs[i].incl);
        assert_int_equal(cvm_op_setindex(vm, &str, r, S(vm, rs[i].with)), CRYO_OK);
        assert_str(vm, str, rs[i].want);
        rel(vm, r);
    }

    cryo_value n = cryo_int(0);
    assert_int_equal(cvm_op_setindex(vm, &n, cryo_int(3), cryo_bool(true)), CRYO_OK);
    assert_int_equal(n.as.i, 8);
    assert_int_equal(cvm_op_setindex(vm, &n, cryo_int(-1), cryo_bool(true)), CRYO_OK);
    assert_int_equal(n.as.i, INT64_MIN + 8);
    assert_int_equal(cvm_op_setindex(vm, &n, cryo_int(3), cryo_bool(false)), CRYO_OK);
    assert_int_equal(n.as.i, INT64_MIN);
    n = cryo_int(0xFFFF);
    cryo_value r = R(vm, 4, 11, true);
    assert_int_equal(cvm_op_setindex(vm, &n, r, cryo_int(0x12)), CRYO_OK);
    assert_int_equal(n.as.i, 0xF12F);
    rel(vm, r);
    assert_int_equal(cvm_op_setindex(vm, &n, cryo_int(1), cryo_int(1)), CRYO_ERR_TYPE);

    cryo_value f = cryo_float(1);
    assert_int_equal(cvm_op_setindex(vm, &f, cryo_int(0), S(vm, "leak?")), CRYO_ERR_TYPE);

    cryo_value vals[] = {y, alias, m, kb, ka};
    for (size_t i = 0; i < 5; i++)
        rel(vm, vals[i]);
}

static void test_fields(void **state) {
    cryo_vm *vm = *state;
    cryo_string *name_a = cv_string_new(&vm->heap, "a", 1);
    cryo_string *name_z = cv_string_new_shared("z", 1);
    cryo_string *name_len = cv_string_new(&vm->heap, "len", 3);
    cryo_value m = M(vm, "a", cryo_int(1), NULL, cryo_unit_value());
    cryo_value out;
    assert_int_equal(cvm_op_getfield(vm, &m, name_a, &out), CRYO_OK);
    assert_int_equal(out.as.i, 1);
    assert_int_equal(cvm_op_getfield(vm, &m, name_z, &out), CRYO_OK);
    assert_int_equal(out.type, CRYO_T_UNIT);

    cryo_value alias = m;
    cv_retain(alias);
    assert_int_equal(cvm_op_setfield(vm, &m, name_z, S(vm, "zed")), CRYO_OK);
    assert_int_equal(cv_map(m)->len, 2);
    assert_int_equal(cv_map(alias)->len, 1);
    assert_int_equal(cvm_op_getfield(vm, &m, name_z, &out), CRYO_OK);
    assert_str(vm, out, "zed");

    cryo_value s = S(vm, "h\xc3\xa9llo");
    assert_int_equal(cvm_op_getfield(vm, &s, name_len, &out), CRYO_OK);
    assert_int_equal(out.as.i, 5);
    assert_int_equal(cvm_op_getfield(vm, &s, name_a, &out), CRYO_ERR_NOT_FOUND);
    assert_err_has(vm, "'a'");
    assert_int_equal(cvm_op_setfield(vm, &s, name_a, cryo_int(1)), CRYO_ERR_NOT_FOUND);

    rel(vm, s);
    rel(vm, m);
    rel(vm, alias);
    rel(vm, cv_from_obj(&name_a->h));
    rel(vm, cv_from_obj(&name_len->h));
    cv_string_free_shared(name_z);
}

static void test_concat(void **state) {
    cryo_vm *vm = *state;
    cryo_string *s = cv_string_new_cap(&vm->heap, 0);
    cryo_value arr = A(vm, 2, cryo_int(1), S(vm, "a"));
    cryo_value w = S(vm, " worlds");
    cryo_value hello = S(vm, "hello ");
    assert_int_equal(cvm_op_concat(vm, &s, hello), CRYO_OK);
    rel(vm, hello);
    assert_int_equal(cvm_op_concat(vm, &s, cryo_int(42)), CRYO_OK);
    assert_int_equal(cvm_op_concat(vm, &s, w), CRYO_OK);
    assert_int_equal(cvm_op_concat(vm, &s, cryo_unit_value()), CRYO_OK);
    assert_int_equal(cvm_op_concat(vm, &s, cryo_float(0.5)), CRYO_OK);
    assert_int_equal(cvm_op_concat(vm, &s, arr), CRYO_OK);
    assert_string_equal(s->data, "hello 42 worlds0.5[1, \"a\"]");
    rel(vm, cv_from_obj(&s->h));
    rel(vm, arr);
    rel(vm, w);
}

/* --- size limits
 * ----------------------------------------------------------------------------------- */

static void test_size_limits(void **state) {
    cryo_vm *vm = *state;
    vm->limits[CRYO_LIMIT_STRING_SIZE] = 10;
    vm->limits[CRYO_LIMIT_ARRAY_SIZE] = 3;
    vm->limits[CRYO_LIMIT_MAP_SIZE] = 1;
    cryo_value a = S(vm, "hello, "), b = S(vm, "world!");
    bin_err(vm, OP_ADD, a, b, CRYO_ERR_DATA_TOO_LARGE, "");
    bin_err(vm, OP_ADD, a, cryo_int(12345), CRYO_ERR_DATA_TOO_LARGE, "");
    cryo_value ok = bin_ok(vm, OP_ADD, a, cryo_int(1));
    rel(vm, ok);
    cryo_value t = a;
    cv_retain(t);
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &t, b), CRYO_ERR_DATA_TOO_LARGE);
    rel(vm, t);
    cryo_string *s = cv_string_new(&vm->heap, "123456789", 9);
    assert_int_equal(cvm_op_concat(vm, &s, cryo_int(42)), CRYO_ERR_DATA_TOO_LARGE);
    rel(vm, cv_from_obj(&s->h));
    cryo_value str = S(vm, "hello");
    cryo_value r = R(vm, 0, 1, false);
    cryo_value big = S(vm, "0123456789");
    assert_int_equal(cvm_op_setindex(vm, &str, r, big), CRYO_ERR_DATA_TOO_LARGE);
    rel(vm, r);
    rel(vm, str);

    cryo_value arr = A(vm, 2, cryo_int(1), cryo_int(2));
    cryo_value arr2 = A(vm, 2, cryo_int(1), cryo_int(2));
    bin_err(vm, OP_ADD, arr, arr2, CRYO_ERR_DATA_TOO_LARGE, "");
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &arr, cryo_int(3)), CRYO_OK);
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &arr, cryo_int(4)), CRYO_ERR_DATA_TOO_LARGE);

    cryo_value m = M(vm, "a", cryo_int(1), NULL, cryo_unit_value());
    cryo_value kb = S(vm, "b"), ka = S(vm, "a");
    assert_int_equal(cvm_op_setindex(vm, &m, ka, cryo_int(2)), CRYO_OK); /* replace: fine */
    assert_int_equal(cvm_op_setindex(vm, &m, kb, cryo_int(2)), CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(cvm_op_setfield(vm, &m, cv_str(kb), cryo_int(2)), CRYO_ERR_DATA_TOO_LARGE);
    cryo_value m2 = M(vm, "c", cryo_int(1), NULL, cryo_unit_value());
    bin_err(vm, OP_ADD, m, m2, CRYO_ERR_DATA_TOO_LARGE, "");

    cryo_value vals[] = {a, b, arr, arr2, m, kb, ka, m2};
    for (size_t i = 0; i < 8; i++)
        rel(vm, vals[i]);
    memset(vm->limits, 0, sizeof vm->limits);
}

static void test_nested_size_limits(void **state) {
    cryo_vm *vm = *state;
    vm->limits[CRYO_LIMIT_ARRAY_SIZE] = 10;
    vm->limits[CRYO_LIMIT_MAP_SIZE] = 10;
    /* let x = [42]; loop { x[0] = x; } */
    cryo_value x = A(vm, 1, cryo_int(42));
    int rounds = 0;
    cryo_error_kind k;
    do {
        cv_retain(x);
        k = cvm_op_setindex(vm, &x, cryo_int(0), x);
        rounds++;
    } while (k == CRYO_OK && rounds < 100);
    assert_int_equal(k, CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(rounds, 10);
    rel(vm, x);

    /* let x = [1, 2]; [x, x, x] is 9 elements; a fourth x makes 12 */
    x = A(vm, 2, cryo_int(1), cryo_int(2));
    cryo_value y = A(vm, 0);
    cv_retain(x);
    cryo_value one = A(vm, 1, x); /* [x] */
    for (int i = 0; i < 3; i++)
        assert_int_equal(cvm_op_assign(vm, OP_ADD, &y, one), CRYO_OK);
    assert_int_equal(cvm_op_check_size(vm, y), CRYO_OK);
    assert_int_equal(cvm_op_assign(vm, OP_ADD, &y, one), CRYO_ERR_DATA_TOO_LARGE);
    rel(vm, one);
    rel(vm, y);

    /* #{u: x, v: x, w: x, z: x} with x = [1, 2, 3]: 12 array elements */
    rel(vm, x);
    x = A(vm, 3, cryo_int(1), cryo_int(2), cryo_int(3));
    cryo_value m = M(vm, "a", cryo_int(1), NULL, cryo_unit_value());
    const char *keys[] = {"u", "v", "w", "z"};
    k = CRYO_OK;
    for (int i = 0; i < 4 && k == CRYO_OK; i++) {
        cryo_value key = S(vm, keys[i]);
        cv_retain(x);
        k = cvm_op_setindex(vm, &m, key, x);
        rel(vm, key);
    }
    assert_int_equal(k, CRYO_ERR_DATA_TOO_LARGE);
    rel(vm, m);

    /* let x = #{}; loop { x.a = x; } */
    m = M(vm, "b", cryo_int(0), NULL, cryo_unit_value());
    cryo_string *a = cv_string_new(&vm->heap, "a", 1);
    rounds = 0;
    do {
        cv_retain(m);
        k = cvm_op_setfield(vm, &m, a, m);
        rounds++;
    } while (k == CRYO_OK && rounds < 100);
    assert_int_equal(k, CRYO_ERR_DATA_TOO_LARGE);
    assert_true(rounds < 10);
    rel(vm, m);
    rel(vm, cv_from_obj(&a->h));
    assert_int_equal(cvm_op_check_size(vm, x), CRYO_OK);
    rel(vm, x);
    memset(vm->limits, 0, sizeof vm->limits);
}

static void test_memory_limit(void **state) {
    cryo_vm *vm = *state;
    cryo_value a = S(vm, "hello");
    vm->heap.limit = vm->heap.bytes + 8;
    cryo_value out;
    assert_int_equal(cvm_op_binary(vm, OP_ADD, a, a, &out), CRYO_ERR_MEMORY);
    assert_true(vm->heap.exceeded);
    vm->heap.limit = 0;
    vm->heap.exceeded = false;
    rel(vm, a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_int_arith, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_arith, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_map_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op_assign_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comparisons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getindex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setindex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_size_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
