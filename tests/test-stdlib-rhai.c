/*
 * test-stdlib-rhai — the standard-library functions added to match the Rhai book's reference
 * (issue 15): map filter/drain/retain with the one-parameter form (`this` = the value), map on
 * maps, and the array sorts sort_by / order / order_by / order_desc; each with its error cases.
 * Scripts run on a std VM, results compared by their debug text.
 */
#include "test.h"

/* --- maps ---------------------------------------------------------------------------------- */

static void map_filter_forms(void **state) {
    (void)state;
    /* The Rhai book's examples: fn(key) with this = value, and fn(key, value). */
    EXPECT("#{a:1, b:2, c:3, d:4, e:5}.filter(|k| this >= 3)", "#{\"c\": 3, \"d\": 4, \"e\": 5}");
    EXPECT("#{a:1, b:2, c:3, d:4, e:5}.filter(|k, v| k != \"d\" && v < 5)",
           "#{\"a\": 1, \"b\": 2, \"c\": 3}");
    EXPECT("fn big(k, v) { v > 1 } #{a:1, b:2}.filter(\"big\")", "#{\"b\": 2}");
    EXPECT("fn big_this(k) { this > 1 } #{a:1, b:2}.filter(Fn(\"big_this\"))", "#{\"b\": 2}");
    EXPECT("#{}.filter(|k| true)", "#{}");
    /* The receiver is not changed, even when the callback writes to `this`. */
    EXPECT("let x = #{a:1}; x.filter(|k| { this += 10; true }); x", "#{\"a\": 1}");
    EXPECT_ERR("#{a:1}.filter(|k| 1)", CRYO_ERR_TYPE, "must return a bool");
    EXPECT_ERR("#{a:1}.filter(42)", CRYO_ERR_TYPE, "expected a function");
    EXPECT_ERR("#{a:1}.filter(|k| throw \"no\")", CRYO_ERR_RUNTIME, "no");
}

static void map_drain_retain_forms(void **state) {
    (void)state;
    EXPECT("let x = #{a:1, b:2, c:3, d:4, e:5}; let y = x.drain(|k| this < 3); [x, y]",
           "[#{\"c\": 3, \"d\": 4, \"e\": 5}, #{\"a\": 1, \"b\": 2}]");
    EXPECT("let x = #{c:3, d:4, e:5}; let z = x.drain(|k, v| k == \"c\" || v >= 5); [x, z]",
           "[#{\"d\": 4}, #{\"c\": 3, \"e\": 5}]");
    EXPECT("let x = #{a:1, b:2, c:3, d:4, e:5}; let y = x.retain(|k| this < 3); [x, y]",
           "[#{\"a\": 1, \"b\": 2}, #{\"c\": 3, \"d\": 4, \"e\": 5}]");
    EXPECT("let y = #{c:3, d:4, e:5}; let z = y.retain(|k, v| k == \"c\" || v >= 5); [y, z]",
           "[#{\"c\": 3, \"e\": 5}, #{\"d\": 4}]");
    /* A failing callback leaves the map as it was. */
    EXPECT("let x = #{a:1, b:2}; try { x.drain(|k| if k == \"b\" { throw 1 } else { true }) }"
           " catch { } x",
           "#{\"a\": 1, \"b\": 2}");
    EXPECT_ERR("let x = #{a:1}; x.retain(|k| ())", CRYO_ERR_TYPE, "must return a bool");
}

static void map_map(void **state) {
    (void)state;
    EXPECT("#{a:1, b:2, c:3}.map(|k| this * 2)", "#{\"a\": 2, \"b\": 4, \"c\": 6}");
    EXPECT("#{a:1, bb:2}.map(|k, v| v + k.len())", "#{\"a\": 2, \"bb\": 4}");
    EXPECT("#{a:1}.map(|k, v| `${k}=${v}`)", "#{\"a\": \"a=1\"}");
    EXPECT("fn twice(k, v) { v * 2 } #{a:1}.map(\"twice\")", "#{\"a\": 2}");
    EXPECT("#{}.map(|k| 1)", "#{}");
    EXPECT("let x = #{a:1}; let y = x.map(|k| { this += 1; this }); [x, y]",
           "[#{\"a\": 1}, #{\"a\": 2}]");
    /* Arrays keep their map. */
    EXPECT("[1, 2].map(|v| v * 3)", "[3, 6]");
    EXPECT_ERR("#{a:1}.map(|k| this / 0)", CRYO_ERR_ARITHMETIC, "");
    EXPECT_ERR("#{a:1}.map(\"nope\")", CRYO_ERR_NOT_FOUND, "nope");
    EXPECT_ERR("#{a:1}.map(1)", CRYO_ERR_TYPE, "expected a function");
    EXPECT_ERR("\"s\".map(|x| x)", CRYO_ERR_NOT_FOUND, "map");
    /* Results count toward the map size limit like any other entry. */
    char out[512];
    assert_int_equal(
        test_run(NULL, "#{a:1, b:2, c:3}.map(|k| this)", CRYO_LIMIT_MAP_SIZE, 2, out, sizeof out),
        CRYO_ERR_DATA_TOO_LARGE);
}

/* --- arrays ------------------------------------------------------------------------------- */

static void array_sort_by(void **state) {
    (void)state;
    EXPECT("let a = [3, 1, 2]; a.sort_by(|x, y| y - x); a", "[3, 2, 1]");
    EXPECT("fn cmp(x, y) { x - y } let a = [3, 1, 2]; a.sort_by(\"cmp\"); a", "[1, 2, 3]");
    /* Stable: equal keys keep their order. */
    EXPECT("let a = [[1, \"a\"], [0, \"b\"], [1, \"c\"]]; a.sort_by(|x, y| x[0] - y[0]); a",
           "[[0, \"b\"], [1, \"a\"], [1, \"c\"]]");
    EXPECT_ERR("let a = [2, 1]; a.sort_by(|x, y| true)", CRYO_ERR_TYPE, "must return an i64");
    EXPECT_ERR("let a = [2, 1]; a.sort_by(5)", CRYO_ERR_TYPE, "expected a function");
    EXPECT_ERR("let a = #{}; a.sort_by(|x, y| 0)", CRYO_ERR_NOT_FOUND, "sort_by");
}

static void array_order(void **state) {
    (void)state;
    /* order* return a sorted copy and leave the receiver alone. */
    EXPECT("let a = [3, 1, 2]; let b = a.order(); [a, b]", "[[3, 1, 2], [1, 2, 3]]");
    EXPECT("let a = [\"b\", \"c\", \"a\"]; a.order_desc()", "[\"c\", \"b\", \"a\"]");
    EXPECT("let a = [3, 1, 2]; let b = a.order_desc(); [a, b]", "[[3, 1, 2], [3, 2, 1]]");
    EXPECT("let a = [3, 1, 2]; let b = a.order_by(|x, y| y - x); [a, b]", "[[3, 1, 2], [3, 2, 1]]");
    EXPECT("[].order()", "[]");
    EXPECT("[1.5, 0.5, 1].order()", "[0.5, 1, 1.5]");
    EXPECT_ERR("[2, 1].order_by(|x, y| \"x\")", CRYO_ERR_TYPE, "must return an i64");
    EXPECT_ERR("[2, 1].order_by(())", CRYO_ERR_TYPE, "expected a function");
    EXPECT_ERR("order(5)", CRYO_ERR_NOT_FOUND, "order");
    EXPECT_ERR("\"ab\".order_desc()", CRYO_ERR_NOT_FOUND, "order_desc");
    /* A failing comparer leaves the receiver as it was. */
    EXPECT("let a = [3, 1, 2]; try { a.sort_by(|x, y| throw 1) } catch { } a", "[3, 1, 2]");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_filter_forms), cmocka_unit_test(map_drain_retain_forms),
        cmocka_unit_test(map_map),          cmocka_unit_test(array_sort_by),
        cmocka_unit_test(array_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
