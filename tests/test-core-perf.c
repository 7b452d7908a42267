/*
 * test-core-perf.c — the language core's fast paths and memory behaviour that the benches rely
 * on: in-place string/array append for `s += x`, SUBI, GETINDEXI, closures sharing their
 * proto's name, compares with () as a type test, and the collection of reference cycles among
 * captured cells.
 */
#include "test.h"

#include "unit.h"
#include "vm.h"

/* Compiles and runs `src` in a new VM; the VM is returned for inspection (*out: the result). */
static cryo_vm *run(const char *src, cryo_value *out) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    assert_non_null(vm);
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, out);
    if (k != CRYO_OK) fail_msg("run: %s", cryo_vm_error(vm)->message);
    return vm;
}

static void test_append_in_place_keeps_value_semantics(void **state) {
    (void)state;
    EXPECT("let s = \"ab\"; let t = s; s += \"c\"; s += 'd'; [s, t]", "[\"abcd\", \"ab\"]");
    EXPECT("let s = \"ab\"; s += s; s", "\"abab\"");
    EXPECT("let a = [1]; let b = a; a += a; a += 5; a = a + [9]; [a, b]", "[[1, 1, 5, 9], [1]]");
    EXPECT("let a = [1]; a += \"x\"; a", "\"[1]x\""); /* array + string is text */
    EXPECT("let s = \"\"; for i in 0..1000 { s += \"x\"; } s.len()", "1000");
    EXPECT("let x = 1; let f = || x; let s = \"a\"; s += x; s", "\"a1\"");
}

static void test_append_is_amortised(void **state) {
    (void)state;
    /* 200,000 appends: quadratic copying would move 20 GB */
    cryo_value v;
    cryo_vm *vm = run("let s = \"\"; for i in 0..200000 { s += \"x\"; } s.len()", &v);
    assert_int_equal(v.type, CRYO_T_INT);
    assert_int_equal(v.as.i, 200000);
    cryo_vm_free(vm);
}

static void test_subi(void **state) {
    (void)state;
    EXPECT("let n = 10; n - 1", "9");
    EXPECT("let n = 10; n -= 128; n", "-118");
    EXPECT("let n = 1.5; n - 1", "0.5");
    EXPECT("fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } } fib(15)", "610");
    cryo_value v;
    cryo_error *err = NULL;
    const char *src = "let s = \"abc\"; s - 1";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_ERR_TYPE); /* not "abc-1" */
    cryo_vm_free(vm);
    err = NULL;
    u = cryo_compile("-9223372036854775807 - 2", 24, NULL, &err);
    vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_ERR_ARITHMETIC);
    cryo_vm_free(vm);
}

/* Counts the instructions with opcode `op` in the unit's protos. */
static int count_op(const char *src, unsigned op) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(u);
    int n = 0;
    for (uint32_t p = 0; p < u->nprotos; p++)
        for (uint32_t pc = 0; pc < u->protos[p]->ncode; pc++)
            n += CRYO_OP(u->protos[p]->code[pc]) == op;
    cryo_unit_release(u);
    return n;
}

static void test_getindexi(void **state) {
    (void)state;
    /* a constant index 0..255 is an operand; others (negative, larger, computed) a register */
    assert_int_equal(count_op("let a = [1]; a[0] + a[255]", OP_GETINDEXI), 2);
    assert_int_equal(count_op("let a = [1]; a[0] + a[255]", OP_GETINDEX), 0);
    assert_int_equal(count_op("let a = [1]; a[-1] + a[256]", OP_GETINDEXI), 0);
    assert_int_equal(count_op("let a = [1]; let i = 0; a[i]", OP_GETINDEXI), 0);
    /* every indexable type behaves as through GETINDEX */
    EXPECT("let a = [10, 20, 30]; [a[0], a[2], a[-1], a[1 + 1]]", "[10, 30, 30, 30]");
    EXPECT("let a = [[1, 2], [3]]; a[0][1] + a[1][0]", "5");
    EXPECT("\"h\xc3\xa9llo\"[1]", "'\xc3\xa9'");
    EXPECT("let x = 5; [x[0], x[1], x[2]]", "[true, false, true]");
    EXPECT("let m = #{a: 1}; let s = [m]; s[0].a", "1");
    EXPECT("let a = [1]; let b = a; b[0] = 2; [a[0], b[0]]", "[1, 2]");
    EXPECT("let f = |v| v[3]; f([0, 1, 2, 3])", "3");
    EXPECT_ERR("let a = [1, 2]; a[2]", CRYO_ERR_INDEX, "length 2");
    EXPECT_ERR("let a = []; a[255]", CRYO_ERR_INDEX, "255");
    EXPECT_ERR("let m = #{a: 1}; m[0]", CRYO_ERR_TYPE, "cannot index map with i64");
    EXPECT_ERR("let b = true; b[0]", CRYO_ERR_TYPE, "cannot index bool");
    EXPECT_ERR("let x = 1; x[64]", CRYO_ERR_INDEX, "64");
}

static void test_closures_share_the_proto_name(void **state) {
    (void)state;
    cryo_value v;
    cryo_vm *vm = run("let fs = []; for i in 0..3 { let k = i; fs.push(|| k); } fs", &v);
    assert_int_equal(cryo_array_len(v), 3);
    const cryo_fn *a = cv_fn(cryo_array_get(v, 0)), *b = cv_fn(cryo_array_get(v, 2));
    assert_non_null(a->name);
    assert_ptr_equal(a->name, b->name);
    assert_true(a->name->h.flags & CRYO_OBJ_SHARED);
    cryo_value_release(v);
    cryo_vm_free(vm);
    EXPECT("let f = |x| x; type_of(f)", "\"Fn\"");
}

static void test_cycles_are_collected(void **state) {
    (void)state;
    cryo_value v;
    cryo_vm *vm = run("let x = #{}; x.a = || x; let f = 0; f = || f; ()", &v);
    size_t before = vm->heap.bytes;
    assert_true(before > 0); /* only the cycles hold memory now */
    cv_collect_cycles(&vm->heap);
    assert_int_equal(vm->heap.bytes, 0);
    assert_null(vm->heap.cells);
    cryo_vm_free(vm);
}

static void test_live_cycles_are_kept(void **state) {
    (void)state;
    cryo_value v;
    cryo_vm *vm = run("let x = #{n: 7}; x.a = || x; x", &v); /* the host holds the cycle */
    cv_collect_cycles(&vm->heap);
    cryo_value a, n;
    assert_true(cryo_map_find(v, "a", &a));
    assert_int_equal(a.type, CRYO_T_FN);
    assert_true(cryo_map_find(v, "n", &n));
    assert_int_equal(n.as.i, 7);
    cryo_value_release(v); /* now only the cycle holds it */
    cv_collect_cycles(&vm->heap);
    assert_int_equal(vm->heap.bytes, 0);
    cryo_vm_free(vm);
}

static void test_cycles_freed_with_the_vm(void **state) {
    (void)state;
    /* run under valgrind: nothing may leak */
    cryo_value v;
    cryo_vm *vm = run("fn mk() { let s = #{}; s.self = || s; s } let q = [];"
                      "for i in 0..50 { q.push(mk()); } let x; let d = #{ foo: || x = this };"
                      "d.foo(); q.len()",
                      &v);
    assert_int_equal(v.as.i, 50);
    cryo_vm_free(vm);
}

/* Float and int/float compares run inline in the dispatch loop (vm.c, NUM_PAIR), also fused
 * with the branch that follows; they keep Rhai's rules: epsilon equality, NaN unordered and
 * unequal to itself, infinities ordered. The same answers as cvm_op_binary (test-ops). */
static void test_number_compares_inline(void **state) {
    (void)state;
    EXPECT("[1.0 < 2.0, 2 < 1.5, 1 < 1.5, 1.5 <= 1, 1.5 >= 1, 2.5 > 2]",
           "[true, false, true, false, true, true]");
    EXPECT("[0 < 1e-16, 0 == 1e-17, 0 != 1e-17, 1.0 == 1, 1.0 != 1, 1e-19 < 1e-18, "
           "1.0 + 1e-16 > 1.0, 1.0 + 1e-15 > 1.0]",
           "[false, true, false, true, false, true, false, true]");
    EXPECT("let n = 0.0 / 0.0; [n < 1.0, n > 1.0, n == n, n != n, n <= n, n >= 1]",
           "[false, false, false, true, false, false]");
    EXPECT("let inf = 1e300 * 1e300; [inf > 1e308, inf == inf, -inf < inf, inf <= 1.0, 1 < inf]",
           "[true, true, true, false, true]");
    /* in conditions (the compare fused with its JMPF) */
    EXPECT("let x = 0.0; let c = 0; while x < 10 { x += 0.5; c += 1; } c", "20");
    EXPECT("let y = 10; let d = 0; while y >= 0.5 { y -= 0.25; d += 1; } d", "39");
    EXPECT("let n = 0.0 / 0.0; let e = 0; if n < 1.0 { e += 1 } if n != n { e += 10 } "
           "if 1 == 1.0 { e += 100 } if 0 >= 1e-17 { e += 1000 } if 2.0 > 1 { e += 10000 } e",
           "11110");
}

/* `x == ()` and `x != ()` are a type test in the dispatch loop (the List benchmark's `x != ()` on
 * maps); a captured variable (a cell) still compares its contents. */
static void test_unit_compares_inline(void **state) {
    (void)state;
    EXPECT("let r = []; for x in [(), 1, 0, false, \"\", [], #{}, 'c', 0.0] { r.push(x == ()); "
           "r.push(() != x); } r",
           "[true, false, false, true, false, true, false, true, false, true, false, true, false, "
           "true, false, true, false, true]");
    EXPECT("let m = #{n: ()}; let c = (); let d = 5; let f = || [c == (), d != (), () == c]; "
           "[m.n == (), m.k != (), f.call()]",
           "[true, false, [true, true, true]]");
    EXPECT("let e = 0; let x = #{}; if x != () { e += 1 } if () == () { e += 10 } "
           "if x == () { e += 100 } while x != () { x = (); e += 1000 } e",
           "1011");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_compares_inline),
        cmocka_unit_test(test_append_in_place_keeps_value_semantics),
        cmocka_unit_test(test_number_compares_inline),
        cmocka_unit_test(test_append_is_amortised),
        cmocka_unit_test(test_subi),
        cmocka_unit_test(test_getindexi),
        cmocka_unit_test(test_closures_share_the_proto_name),
        cmocka_unit_test(test_cycles_are_collected),
        cmocka_unit_test(test_live_cycles_are_kept),
        cmocka_unit_test(test_cycles_freed_with_the_vm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
