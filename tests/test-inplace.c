/*
 * test-inplace.c — writes through index/property paths (SETPATH, src/vm_path.c) are done in
 * place and keep Rhai's value semantics: copies made before a write never change (variables,
 * captured cells, arrays of maps, maps of arrays, `this` in methods, constants and frozen
 * captures), an error in the middle of a path leaves every value as it was, limits still hold,
 * and the write copies nothing (a memory limit just above the live data is never crossed).
 * Method calls on a path (`o.cons.push(c)`, `o.l[i].m()`) run on the element in place with the
 * same guarantees; what they leave on an error or when the call replaces its own container.
 * A local passed to a fn as its last use moves (the callee writes it without copying), and
 * only then: loops, captures, receivers, `this`, try/catch and other branches keep it.
 */
#include "test.h"

#include "ext.h" /* cv_ffi_heap, and value.h */

/* heap_bytes(): the bytes the VM heap holds now. */
static cryo_error_kind h_heap_bytes(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                    cryo_value *ret) {
    (void)ud, (void)argc, (void)argv;
    *ret = cryo_int((int64_t)cv_ffi_heap(vm)->bytes);
    return CRYO_OK;
}

/* tight_memory(n): sets the memory limit to what the heap holds now plus n bytes. */
static cryo_error_kind h_tight_memory(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                      cryo_value *ret) {
    (void)ud, (void)argc, (void)ret;
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY,
                      (uint64_t)cv_ffi_heap(vm)->bytes + (uint64_t)argv[0]->as.i);
    return CRYO_OK;
}

static cryo_context *ctx;

static int setup(void **state) {
    (void)state;
    cryo_package *p = cryo_package_new("inplace");
    cryo_package_add(p, "heap_bytes", 0, h_heap_bytes, NULL);
    cryo_package_add(p, "tight_memory", 1, h_tight_memory, NULL);
    cryo_package *pk[2] = {cryo_package_std(), p};
    cryo_context_config cfg = {pk, 2, 0, {0}};
    ctx = cryo_context_new(&cfg);
    cryo_package_release(p);
    return ctx ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctx);
    return 0;
}

/* Runs src in ctx with an optional limit (0: none); returns the kind, the result's debug text or
 * the error's message in out. */
static cryo_error_kind run(const char *src, cryo_limit which, uint64_t limit, char *out,
                           size_t outsz) {
    return test_run(ctx, src, limit ? (int)which : TEST_NO_LIMIT, limit, out, outsz);
}

static void test_copies_do_not_change(void **state) {
    (void)state;
    /* maps of arrays, arrays of maps, three levels, negative indexes */
    EXPECT_IN(
        ctx,
        "let o = #{arr: [1, 2, 3], m: #{k: 1}}; let b = o; let a = o.arr;"
        "o.arr[0] = 10; o.arr[-1] += 5; o.m.k *= 7;"
        "[o, b, a]",
        "[#{\"arr\": [10, 2, 8], \"m\": #{\"k\": 7}}, #{\"arr\": [1, 2, 3], \"m\": #{\"k\": 1}}, "
        "[1, 2, 3]]");
    EXPECT_IN(ctx,
              "let a = [#{x: 1}, #{x: 2}]; let c = a; let e = a[1];"
              "a[1].x = 5; a[0].y = [0]; a[0].y[0] -= 1; [a, c, e]",
              "[[#{\"x\": 1, \"y\": [-1]}, #{\"x\": 5}], [#{\"x\": 1}, #{\"x\": 2}], #{\"x\": 2}]");
    EXPECT_IN(ctx,
              "let m = #{a: #{b: [1, [2, 3]]}}; let s = m.a.b; let w = m;"
              "m.a.b[1][0] = 7; [m.a.b, s, w.a.b]",
              "[[1, [7, 3]], [1, [2, 3]], [1, [2, 3]]]");
    /* a value written into its own path is a copy: no cycle, the source unchanged */
    EXPECT_IN(ctx, "let o = #{a: #{b: 1}}; o.a.c = o.a; o.a.c.b = 2; o",
              "#{\"a\": #{\"b\": 1, \"c\": #{\"b\": 2}}}");
}

static void test_cells_and_captures(void **state) {
    (void)state;
    /* o is captured: main writes the cell's value (root cell), the closure its capture */
    EXPECT_IN(ctx,
              "let o = #{n: [0], k: #{v: 1}}; let keep = o;"
              "let f = || { o.n[0] += 1; o.k.v = o.n[0]; };"
              "f(); f(); o.n[0] += 10; [o, keep]",
              "[#{\"k\": #{\"v\": 2}, \"n\": [12]}, #{\"k\": #{\"v\": 1}, \"n\": [0]}]");
    EXPECT_IN(ctx,
              "let a = [[1, 2]]; let g = || a; let before = g();"
              "a[0][1] = 9; [a, before, g()]",
              "[[[1, 9]], [[1, 2]], [[1, 9]]]");
}

static void test_this_in_methods(void **state) {
    (void)state;
    EXPECT_IN(ctx,
              "fn bump(v) { this.arr[0] = v; this.n += 1; this.m.k = v; this.x = this.n * 10; }"
              "let r = #{arr: [0], n: 0, m: #{k: 0}, x: 0}; let r0 = r;"
              "r.bump(3); r.bump(4); [r, r0]",
              "[#{\"arr\": [4], \"m\": #{\"k\": 4}, \"n\": 2, \"x\": 20}, "
              "#{\"arr\": [0], \"m\": #{\"k\": 0}, \"n\": 0, \"x\": 0}]");
    /* this on an array element and on a captured variable */
    EXPECT_IN(ctx,
              "fn inc() { this.c += 1; this.h[0] = this.c; }"
              "let l = [#{c: 0, h: [0]}]; let l0 = l; l[0].inc(); l[0].inc();"
              "let o = #{c: 5, h: [0]}; let f = || o.c; o.inc(); [l, l0, o, f()]",
              "[[#{\"c\": 2, \"h\": [2]}], [#{\"c\": 0, \"h\": [0]}], #{\"c\": 6, \"h\": [6]}, 6]");
}

static void test_constants_and_frozen(void **state) {
    (void)state;
    EXPECT_IN(ctx, "const C = #{a: [1]}; let x = C; x.a[0] = 5; [C, x]",
              "[#{\"a\": [1]}, #{\"a\": [5]}]");
    /* a frozen capture is shared, uncounted data: writing a copy of it copies */
    EXPECT_IN(ctx,
              "let d = #{a: [1]}; let f = (|| { let y = d; y.a[0] = 9; [y, d] }).into_sync();"
              "[f.call(), f.call(), d]",
              "[[#{\"a\": [9]}, #{\"a\": [1]}], [#{\"a\": [9]}, #{\"a\": [1]}], #{\"a\": [1]}]");
}

static void test_errors_leave_values_intact(void **state) {
    (void)state;
    EXPECT_IN(ctx,
              "let o = #{arr: [1, 2, 3], m: #{k: 1}, s: \"ab\"}; let b = o; let n = 0;"
              "try { o.arr[10] = 5; } catch { n += 1 }"
              "try { o.arr[-4][0] = 5; } catch { n += 1 }"
              "try { o.m.k.x = 1; } catch { n += 1 }"
              "try { o.nope.x = 1; } catch { n += 1 }"
              "try { o.arr[0] /= 0; } catch { n += 1 }"
              "try { o.m.k -= (); } catch { n += 1 }"
              "try { o.arr[\"x\"] = 1; } catch { n += 1 }"
              "try { o.s[5] = 'x'; } catch { n += 1 }"
              "[n, o, o == b]",
              "[8, #{\"arr\": [1, 2, 3], \"m\": #{\"k\": 1}, \"s\": \"ab\"}, true]");
    EXPECT_IN(ctx,
              "fn bad() { this.a[0] = 1; this.a[99] = 2; }"
              "let r = #{a: [0]}; let e = \"\"; try { r.bad(); } catch (x) { e = x; } [r, e]",
              "[#{\"a\": [1]}, \"array index 99 out of bounds (length 1)\"]");
}

static void test_limits(void **state) {
    (void)state;
    char out[512];
    assert_int_equal(run("let o = #{a: [[1, 2]]}; o.a[0] = [1, 2, 3, 4, 5, 6, 7, 8, 9]; o",
                         CRYO_LIMIT_ARRAY_SIZE, 8, out, sizeof out),
                     CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(run("let o = #{a: [[]]}; for i in 0..100 { o.a[0] += [i]; } o",
                         CRYO_LIMIT_ARRAY_SIZE, 50, out, sizeof out),
                     CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(run("let o = #{a: [[]]}; for i in 0..100 { o.a[0].push(i); } o",
                         CRYO_LIMIT_ARRAY_SIZE, 50, out, sizeof out),
                     CRYO_ERR_DATA_TOO_LARGE);
    /* not catchable */
    assert_int_equal(run("let o = #{m: #{}}; try { for i in 0..100 { o.m[`k${i}`] = i; } } catch {}"
                         " o",
                         CRYO_LIMIT_MAP_SIZE, 10, out, sizeof out),
                     CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(run("let o = #{a: [\"\"]}; loop { o.a[0] += \"0123456789abcdef\"; }",
                         CRYO_LIMIT_MEMORY, 1 << 20, out, sizeof out),
                     CRYO_ERR_MEMORY);
}

/* Method calls whose receiver is a path (SETPATH PIN / UNPIN around the call, vm_path.c). */
static void test_methods_on_paths(void **state) {
    (void)state;
    /* host and script methods on an array element, a nested field, a negative index, from a
     * method's `this`; copies taken before never change */
    EXPECT_IN(
        ctx,
        "fn inc() { this.c += 1; this.h.push(this.c); }"
        "let o = #{cons: [], l: [#{c: 0, h: []}, #{c: 10, h: []}], m: #{n: #{c: 0, h: []}}};"
        "let e = o.l[1]; let w = o;"
        "o.cons.push(1); o.cons.push(2); o.l[1].inc(); o.l[-1].inc(); o.m.n.inc();"
        "[o, e == w.l[1], w.cons, w.m.n.c]",
        "[#{\"cons\": [1, 2], \"l\": [#{\"c\": 0, \"h\": []}, #{\"c\": 12, \"h\": [11, 12]}], "
        "\"m\": #{\"n\": #{\"c\": 1, \"h\": [1]}}}, true, [], 0]");
    EXPECT_IN(ctx,
              "fn add(c) { this.cons.push(c); this.vars[0].cs.push(c); this.cons[0].n += 1; }"
              "let p = #{cons: [#{n: 0}], vars: [#{cs: []}]}; let p0 = p; p.add(5); p.add(6);"
              "[p, p0]",
              "[#{\"cons\": [#{\"n\": 2}, 5, 6], \"vars\": [#{\"cs\": [5, 6]}]}, "
              "#{\"cons\": [#{\"n\": 0}], \"vars\": [#{\"cs\": []}]}]");
    /* the receiver or its container as an argument is a copy taken before the call */
    EXPECT_IN(ctx, "let r = #{a: [[1]]}; r.a[0].append(r.a); r.a[0].push(r); r.a[0].len()", "3");
    EXPECT_IN(ctx, "let r = #{a: [[1]]}; r.a[0].append(r.a); r.a", "[[1, [1]]]");
    /* a map's function field called as a method, on a local array (one step) and a capture */
    EXPECT_IN(ctx,
              "let a = [#{n: 0, f: |x| { this.n += x; }}]; a[0].f(2); a[0].f(3);"
              "let u = #{a: []}; let g = || { u.a.push(3); u.a.len() }; [a[0].n, g(), u]",
              "[5, 1, #{\"a\": [3]}]");
    /* the general route where the walk cannot reach a slot: a missing key */
    EXPECT_IN(ctx,
              "fn set7() { this = 7; } let s = #{t: \"ab\", m: #{}}; s.t.append(\"cd\");"
              "s.m.k.set7(); let n = 0; try { s.q.push(1); } catch { n += 1 } [s, n]",
              "[#{\"m\": #{\"k\": 7}, \"t\": \"abcd\"}, 1]");
}

/* What a method on a path leaves when it raises, or when it replaces its own container. */
static void test_methods_on_paths_edges(void **state) {
    (void)state;
    /* an error: the element keeps what the method wrote before raising, as a method on a
     * variable does; nothing else changes and later calls still work in place */
    EXPECT_IN(
        ctx,
        "fn boom() { this.c += 100; throw \"boom\"; } fn inc() { this.c += 1; }"
        "let o = #{l: [#{c: 0}], k: 1}; let x = #{c: 0}; let w = o;"
        "try { o.l[0].boom(); } catch {} try { x.boom(); } catch {}"
        "o.l[0].inc(); [o, x, w]",
        "[#{\"k\": 1, \"l\": [#{\"c\": 101}]}, #{\"c\": 100}, #{\"k\": 1, \"l\": [#{\"c\": 0}]}]");
    EXPECT_IN(ctx, "let o = #{l: [1]}; let n = 0; try { o.l[5].push(1); } catch { n += 1 } [o, n]",
              "[#{\"l\": [1]}, 1]");
    /* the container replaced during the call (through a captured variable): the receiver's
     * final value is stored back at the path, as the general route's write-back did */
    EXPECT_IN(ctx,
              "fn run(f) { this.c += 1; f.call(); this.c += 1; }"
              "let p = #{arr: [#{c: 0}], z: 1}; let r = || { p.arr = [9, 8]; p.z = 2; };"
              "p.arr[0].run(r); p",
              "#{\"arr\": [#{\"c\": 2}, 8], \"z\": 2}");
    /* another element overwritten during the call: both writes stay */
    EXPECT_IN(ctx,
              "fn run(f) { this.c += 1; f.call(); this.c += 10; }"
              "let p = #{arr: [#{c: 0}, #{c: 5}]}; let r = || { p.arr[0] = #{c: -1}; };"
              "p.arr[1].run(r); p",
              "#{\"arr\": [#{\"c\": -1}, #{\"c\": 16}]}");
}

/* Host and script methods on a path write in place: 10 000 calls on arrays of 10 000 elements
 * under a memory limit 4 KB above the live data (a copy of an array would cross it; the first
 * push/pop, before the limit, makes the room pushes then reuse). */
static void test_path_methods_copy_nothing(void **state) {
    (void)state;
    const char *src = "fn put(i) { this.cs[i] = i; }"
                      "let o = #{vs: [#{cs: []}], big: []}; o.big.pad(10000, 0);"
                      "o.vs[0].cs.pad(10000, 0); o.big.push(0); o.big.pop(); o.vs[0].cs.push(0);"
                      "o.vs[0].cs.pop(); let before = heap_bytes(); tight_memory(4096);"
                      "for i in 0..10000 { o.vs[0].cs.push(i); o.vs[0].cs.pop(); o.vs[0].put(i);"
                      " o.big.push(i); o.big.pop(); }"
                      "[heap_bytes() - before < 256, o.vs[0].cs[9999], o.big.len()]";
    char out[512];
    assert_int_equal(run(src, CRYO_LIMIT_MEMORY, 0, out, sizeof out), CRYO_OK);
    assert_string_equal(out, "[true, 9999, 10000]");
    /* shared: the first push must copy the array, which crosses the limit */
    const char *copy = "let o = #{big: []}; o.big.pad(10000, 0); let b = o;"
                       "tight_memory(4096); o.big.push(1);";
    assert_int_equal(run(copy, CRYO_LIMIT_MEMORY, 0, out, sizeof out), CRYO_ERR_MEMORY);
}

/* 10 000 writes through paths into a 10 000-element array under a memory limit 4 KB above
 * the live data: a copy of the array (160 KB) would cross it. The heap ends where it began
 * (but for the loop's range). */
static void test_writes_copy_nothing(void **state) {
    (void)state;
    const char *src = "fn put(i) { this.arr[i] = i; this.n += 1; }"
                      "let o = #{arr: [], w: [#{v: []}], n: 0};"
                      "o.arr.pad(10000, 0); o.w[0].v.pad(10000, 0);"
                      "let before = heap_bytes(); tight_memory(4096);"
                      "for i in 0..10000 { o.arr[i] = i; o.w[0].v[i] += i; o.put(i); }"
                      "[heap_bytes() - before < 256, o.arr[9999], o.w[0].v[9999], o.n]";
    char out[512];
    assert_int_equal(run(src, CRYO_LIMIT_MEMORY, 0, out, sizeof out), CRYO_OK);
    assert_string_equal(out, "[true, 9999, 9999, 10000]");
    /* the limit is tight enough: a write that must copy (b shares the array) crosses it */
    const char *copy = "let o = #{arr: []}; o.arr.pad(10000, 0); let b = o;"
                       "tight_memory(4096); o.arr[0] = 1;";
    assert_int_equal(run(copy, CRYO_LIMIT_MEMORY, 0, out, sizeof out), CRYO_ERR_MEMORY);
}

/* Last-use moves of call arguments: every case where the caller still needs the value after
 * the call sees it unchanged. */
static void test_moves_keep_semantics(void **state) {
    (void)state;
    const char *w = "fn w(a) { a[0] = 9; a } ";
    char src[1024];
#define MOVE_CASE(body, want)                                                                      \
    snprintf(src, sizeof src, "%s%s", w, body);                                                    \
    EXPECT_IN(ctx, src, want)
    /* moved: the caller never reads x again */
    MOVE_CASE("fn f() { let x = [1, 2]; w(x) } f()", "[9, 2]");
    /* read after the call, in the same or another branch, or in a later loop iteration */
    MOVE_CASE("fn f() { let x = [1, 2]; let y = w(x); [x, y] } f()", "[[1, 2], [9, 2]]");
    MOVE_CASE("fn f(c) { let x = [1, 2]; if c { w(x); } else { return x; } x } [f(true), f(false)]",
              "[[1, 2], [1, 2]]");
    MOVE_CASE(
        "fn f() { let x = [1]; let s = []; for i in 0..3 { s.push(w(x)); s.push(x); } s } f()",
        "[[9], [1], [9], [1], [9], [1]]");
    MOVE_CASE("fn f() { let x = [1]; let n = 0; while n < 2 { n += 1; w(x); } x } f()", "[1]");
    MOVE_CASE("fn f() { let x = [1]; let n = 0; do { n += 1; w(x); } while n < 2; x } f()", "[1]");
    /* declared inside the loop: a fresh value each iteration, moved */
    MOVE_CASE("fn f() { let s = []; for i in 0..2 { let x = [i]; s.push(w(x)); } s } f()",
              "[[9], [9]]");
    /* captured by a closure (before or after), or read by the catch block */
    MOVE_CASE("fn f() { let x = [1]; let g = || x; w(x); g.call() } f()", "[1]");
    MOVE_CASE("fn f() { let x = [1]; w(x); let g = || x; g.call() } f()", "[1]");
    MOVE_CASE("fn f() { let x = [1]; try { w(x); throw 1; } catch { return x; } } f()", "[1]");
    MOVE_CASE("fn f() { let x = [1]; try { w(x); throw 1; } catch (e) { } x } f()", "[1]");
    /* a place or receiver written after its operands run */
    MOVE_CASE("fn f() { let x = [1, 2]; x[1] = w(x)[0]; x } f()", "[1, 9]");
    MOVE_CASE("fn f() { let x = [1, 2]; x.push(w(x)); x } f()", "[1, 2, [9, 2]]");
    MOVE_CASE("fn f() { let x = [1, 2]; x += w(x); x } f()", "[1, 2, 9, 2]");
    MOVE_CASE("fn f() { let x = [1, 2]; pad(x, w(x).len() + 1, 0); x } f()", "[1, 2, 0]");
    MOVE_CASE("fn f() { let x = [1, 2]; x = w(x); x } f()", "[9, 2]");
    /* an index of the place is read after the value too */
    MOVE_CASE("fn id(v) { v } fn f() { let a = [0, 0]; let k = 1; a[k] = id(k); a } f()", "[0, 1]");
    MOVE_CASE("fn id(v) { v } fn f() { let a = [0, 0]; let k = 1; a[k] += id(k); a } f()",
              "[0, 1]");
    MOVE_CASE("fn id(v) { v } fn f() { let o = [#{x: 1}]; let k = 0; o[k].x = id(k); o } f()",
              "[#{\"x\": 0}]");
    MOVE_CASE("fn f() { let a = [[0], [0]]; let k = [1]; a[k[0]] = w(k); a } f()", "[[0], [9]]");
    MOVE_CASE("fn id(v) { v } fn f() { let a = [[0], [5]]; let k = 1; a[k].push(id(k)); a } f()",
              "[[0], [5, 1]]");
    /* an operand read from its register after the call: in an expression, a block inside one */
    MOVE_CASE("fn f() { let k = [1]; k + w(k) } f()", "[1, 9]");
    MOVE_CASE("fn f() { let k = [1]; [k, w(k), k.len() + w(k).len()] } f()", "[[1], [9], 2]");
    MOVE_CASE("fn f() { let k = [1]; k + { w(k) } } f()", "[1, 9]");
    MOVE_CASE("fn f(c) { let k = [1]; k + if c { w(k) } else { [] } } f(true)", "[1, 9]");
    MOVE_CASE("fn f() { let k = [1]; `${k}${w(k)}` } f()", "\"[1][9]\"");
    MOVE_CASE("fn f() { let k = [1]; #{x: k, y: w(k)} } f()", "#{\"x\": [1], \"y\": [9]}");
    /* twice in one call, a closure's own local, `this` and its fields */
    MOVE_CASE("fn f() { let x = [1]; [w(x), x] } f()", "[[9], [1]]");
    MOVE_CASE("fn g(a, b) { a[0] = 5; [a, b] } fn f() { let x = [1]; g(x, x) } f()", "[[5], [1]]");
    MOVE_CASE("let h = |n| { let x = [n]; w(x) }; [h.call(1), h.call(2)]", "[[9], [9]]");
    MOVE_CASE("fn m() { let x = this.a; w(x); w(this.a); this.a } let o = #{a: [1]}; [o.m(), o]",
              "[[1], #{\"a\": [1]}]");
    /* the top level does not move; parameters do */
    MOVE_CASE("let x = [1]; let y = w(x); y", "[9]");
    MOVE_CASE("fn f(p) { w(p) } let x = [1]; [f(x), x]", "[[9], [1]]");
#undef MOVE_CASE
}

/* A 10 000-element array passed as its last use and written by the callee under a memory
 * limit 4 KB above the live data: no copy. Read after the call, the write must copy and
 * crosses the limit. */
static void test_moves_copy_nothing(void **state) {
    (void)state;
    char out[512];
    const char *moved = "fn w(a) { a[0] = 1; a.len() }"
                        "fn f() { let x = []; x.pad(10000, 0); tight_memory(4096); w(x) } f()";
    assert_int_equal(run(moved, CRYO_LIMIT_MEMORY, 0, out, sizeof out), CRYO_OK);
    assert_string_equal(out, "10000");
    const char *kept = "fn w(a) { a[0] = 1; a.len() }"
                       "fn f() { let x = []; x.pad(10000, 0); tight_memory(4096); w(x) + x.len() }"
                       "f()";
    assert_int_equal(run(kept, CRYO_LIMIT_MEMORY, 0, out, sizeof out), CRYO_ERR_MEMORY);
    /* the top level's variables stay (debuggers show them after their last use) */
    const char *top = "fn w(a) { a[0] = 1; a.len() }"
                      "let x = []; x.pad(10000, 0); tight_memory(4096); w(x)";
    assert_int_equal(run(top, CRYO_LIMIT_MEMORY, 0, out, sizeof out), CRYO_ERR_MEMORY);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_do_not_change),
        cmocka_unit_test(test_cells_and_captures),
        cmocka_unit_test(test_this_in_methods),
        cmocka_unit_test(test_constants_and_frozen),
        cmocka_unit_test(test_errors_leave_values_intact),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_writes_copy_nothing),
        cmocka_unit_test(test_methods_on_paths),
        cmocka_unit_test(test_methods_on_paths_edges),
        cmocka_unit_test(test_path_methods_copy_nothing),
        cmocka_unit_test(test_moves_keep_semantics),
        cmocka_unit_test(test_moves_copy_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
