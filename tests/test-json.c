/*
 * test-json — parse_json / to_json in scripts and cryo_value_from_json / cryo_value_to_json in
 * the C API: round trips of every value kind, ints and floats kept apart, escapes, errors with
 * line and column, nesting and size limits, values JSON cannot hold.
 */
#include "test.h"

/* run(src, out, n): test_run on the standard context, no limit. */
static cryo_error_kind run(const char *src, char *out, size_t n) {
    return test_run(NULL, src, TEST_NO_LIMIT, 0, out, n);
}

/* --- scripts ------------------------------------------------------------------------------ */

static void parse_kinds(void **state) {
    (void)state;
    EXPECT("parse_json(`{\"a\": 1, \"b\": [true, false, null], \"c\": \"x\", \"d\": 2.5}`)",
           "#{\"a\": 1, \"b\": [true, false, ()], \"c\": \"x\", \"d\": 2.5}");
    /* Ints and floats stay apart: a fraction or an exponent makes a float. */
    EXPECT("type_of(parse_json(\"1\"))", "\"i64\"");
    EXPECT("type_of(parse_json(\"-0\"))", "\"i64\"");
    EXPECT("type_of(parse_json(\"1.0\"))", "\"f64\"");
    EXPECT("type_of(parse_json(\"1e2\"))", "\"f64\"");
    EXPECT("parse_json(\"9223372036854775807\") == 9223372036854775807", "true");
    EXPECT("parse_json(\"-9223372036854775808\") < 0", "true");
    EXPECT("parse_json(\"  [ ]  \")", "[]");
    EXPECT("parse_json(\"{}\")", "#{}");
    EXPECT("parse_json(\"null\")", "()");
}

static void parse_escapes(void **state) {
    (void)state;
    /* \u escapes, a surrogate pair, the short escapes, and a NUL kept inside the string. */
    EXPECT("parse_json(`\"\\u00e9\\ud83d\\ude00\"`) == \"é😀\"", "true");
    EXPECT("parse_json(`\"a\\tb\\n\\\"\\\\/\"`) == \"a\\tb\\n\\\"\\\\/\"", "true");
    EXPECT("parse_json(`\"a\\u0000b\"`).len()", "3");
    EXPECT("parse_json(`{\"k\\u00e9y\": 1}`).keys()", "[\"kéy\"]");
}

static void parse_duplicate_keys_last_wins(void **state) {
    (void)state;
    EXPECT("parse_json(`{\"a\": 1, \"a\": 2}`)", "#{\"a\": 2}");
}

static void to_json_kinds(void **state) {
    (void)state;
    EXPECT("to_json(())", "\"null\"");
    EXPECT("to_json(true)", "\"true\"");
    EXPECT("to_json(-42)", "\"-42\"");
    EXPECT("to_json(1.0)", "\"1.0\"");
    EXPECT("to_json(0.1)", "\"0.1\"");
    EXPECT("to_json('é')", "\"\\\"é\\\"\"");
    EXPECT("to_json([1, [2.5], #{}])", "\"[1,[2.5],{}]\"");
    /* The method form on maps, as Rhai's map.to_json(); keys in key order. */
    EXPECT("#{b: 1, a: [()]}.to_json()", "\"{\\\"a\\\":[null],\\\"b\\\":1}\"");
    /* Control characters are escaped; other UTF-8 is written as is. */
    EXPECT("to_json(\"q\\\"\\\\\\n\\t\\x01é\") == `\"q\\\"\\\\\\n\\t\\u0001é\"`", "true");
}

static void round_trips(void **state) {
    (void)state;
    EXPECT("let v = #{u: (), b: false, i: 9223372036854775807, j: -9223372036854775807 - 1,"
           " f: 0.1, g: -2.5e-7, h: 1e300, z: 0.0, s: \"é\\n\\\"x\\\\\", e: \"\","
           " a: [1, 2.0, [\"x\", #{}], []], m: #{n: #{o: [true]}}};"
           "let w = parse_json(to_json(v)); w == v && type_of(w.f) == \"f64\""
           " && type_of(w.i) == \"i64\" && type_of(w.a[1]) == \"f64\"",
           "true");
    /* A char comes back as a one-character string (JSON has no char). */
    EXPECT("let c = parse_json(to_json('x')); type_of(c) + c", "\"stringx\"");
    /* Text -> value -> text is stable (compact, sorted keys). */
    EXPECT("to_json(parse_json(`{\"b\":[1,2.5,\"x\"],\"a\":null}`))",
           "\"{\\\"a\\\":null,\\\"b\\\":[1,2.5,\\\"x\\\"]}\"");
}

static void parse_errors_have_positions(void **state) {
    (void)state;
    EXPECT_ERR("parse_json(\"[1,\\n 2,\\n x]\")", CRYO_ERR_PARSE, "line 3, column 2");
    EXPECT_ERR("parse_json(\"{\\\"a\\\": }\")", CRYO_ERR_PARSE, "line 1, column 7");
    EXPECT_ERR("parse_json(\"\")", CRYO_ERR_PARSE, "parse_json:");
    EXPECT_ERR("parse_json(\"[1] x\")", CRYO_ERR_PARSE, "end of file expected");
    EXPECT_ERR("parse_json(\"{a: 1}\")", CRYO_ERR_PARSE, "line 1, column 2");
    EXPECT_ERR("parse_json(\"123456789012345678901234\")", CRYO_ERR_PARSE, "must fit in i64");
    EXPECT_ERR("parse_json(\"1e999\")", CRYO_ERR_PARSE, "overflow");
    EXPECT_ERR("parse_json(42)", CRYO_ERR_NOT_FOUND, "i64)");
    /* A script catches a bad-JSON error like any other. */
    EXPECT("try { parse_json(\"[\") } catch (e) { \"caught: \" + e }",
           "\"caught: parse_json: ']' expected near end of file at line 1, column 1\"");
}

static void to_json_refuses_what_json_cannot_hold(void **state) {
    (void)state;
    EXPECT_ERR("to_json(|x| x)", CRYO_ERR_TYPE, "type Fn cannot");
    EXPECT_ERR("to_json([1, Fn(\"print\")])", CRYO_ERR_TYPE, "type Fn cannot");
    EXPECT_ERR("to_json(#{f: (|| 1).into_sync()})", CRYO_ERR_TYPE, "type SyncFn cannot");
    EXPECT_ERR("to_json(1..3)", CRYO_ERR_TYPE, "type range cannot");
    EXPECT_ERR("to_json(0.0 / 0.0)", CRYO_ERR_ARGUMENT, "NaN");
    EXPECT_ERR("to_json([1.0 / 0.0])", CRYO_ERR_ARGUMENT, "infinite");
}

/* Builds `n` nested arrays as a script expression's JSON text. */
static void nested_src(char *buf, size_t cap, int n, const char *wrap) {
    size_t o = (size_t)snprintf(buf, cap, "%s(\"", wrap);
    for (int i = 0; i < n; i++)
        buf[o++] = '[';
    for (int i = 0; i < n; i++)
        buf[o++] = ']';
    snprintf(buf + o, cap - o, "\")");
}

static void depth_follows_the_vm_limit(void **state) {
    (void)state;
    char src[1024], out[512];
    nested_src(src, sizeof src, 64, "parse_json"); /* the default call depth: 64 */
    assert_int_equal(run(src, out, sizeof out), CRYO_OK);
    nested_src(src, sizeof src, 65, "parse_json");
    assert_int_equal(run(src, out, sizeof out), CRYO_ERR_STACK_OVERFLOW);
    assert_non_null(strstr(out, "deeper than 64"));
    nested_src(src, sizeof src, 11, "parse_json");
    assert_int_equal(test_run(NULL, src, CRYO_LIMIT_CALL_DEPTH, 10, out, sizeof out),
                     CRYO_ERR_STACK_OVERFLOW);
    assert_non_null(strstr(out, "deeper than 10"));
    /* to_json is bounded the same way (a value built deeper than the limit). */
    const char *deep = "let v = []; for i in 0..20 { v = [v]; } to_json(v)";
    assert_int_equal(test_run(NULL, deep, CRYO_LIMIT_CALL_DEPTH, 10, out, sizeof out),
                     CRYO_ERR_STACK_OVERFLOW);
    assert_int_equal(test_run(NULL, deep, CRYO_LIMIT_CALL_DEPTH, 30, out, sizeof out), CRYO_OK);
}

static void size_limits_apply(void **state) {
    (void)state;
    char out[512];
    assert_int_equal(
        test_run(NULL, "parse_json(\"[1,2,3,4,5]\")", CRYO_LIMIT_ARRAY_SIZE, 4, out, sizeof out),
        CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(test_run(NULL, "parse_json(`{\"a\":1,\"b\":2,\"c\":3}`)", CRYO_LIMIT_MAP_SIZE,
                              2, out, sizeof out),
                     CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(
        test_run(NULL, "to_json([\"abc\", \"def\"])", CRYO_LIMIT_STRING_SIZE, 10, out, sizeof out),
        CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(
        test_run(NULL, "to_json([\"abc\"])", CRYO_LIMIT_STRING_SIZE, 10, out, sizeof out), CRYO_OK);
    assert_int_equal(test_run(NULL,
                              "let s = \"[\"; for i in 0..2000 { s += \"\\\"xxxxxxxx\\\",\" }"
                              " s += \"1]\"; parse_json(s).len()",
                              CRYO_LIMIT_MEMORY, 60000, out, sizeof out),
                     CRYO_ERR_MEMORY);
}

/* Shared nested data has far more paths than objects: 2^30 of them here. Writing them is
 * work the operations limit stops (one operation per element), as it stops printing. */
static void to_json_work_is_charged(void **state) {
    (void)state;
    char out[512];
    const char *src = "let a = [1]; for i in 0..30 { a = [a, a]; } to_json(a).len()";
    assert_int_equal(test_run(NULL, src, CRYO_LIMIT_OPERATIONS, 100000, out, sizeof out),
                     CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_int_equal(test_run(NULL, "to_json([1, [2, 3]]).len()", CRYO_LIMIT_OPERATIONS, 100000,
                              out, sizeof out),
                     CRYO_OK);
    assert_string_equal(out, "9");
}

/* Every allocation of parse_json and to_json may fail under a memory limit: sweep the limit
 * so that each failure path runs (ASan and valgrind check them for leaks and double frees). */
static void memory_limit_sweep(void **state) {
    (void)state;
    const char *src = "let t = `{\"a\": [1, 2.5, \"xyz\", {\"b\": [true, null, \"\u00e9\"]}],"
                      " \"c\": {\"d\": {\"e\": [[], {}, \"long string value\"]}}}`;"
                      "let v = parse_json(t); to_json(v) + to_json([v, v])";
    char out[512];
    int failed = 0, passed = 0;
    for (uint64_t lim = 64; lim < 8000; lim += 29) {
        cryo_error_kind k = test_run(NULL, src, CRYO_LIMIT_MEMORY, lim, out, sizeof out);
        if (k != CRYO_OK && k != CRYO_ERR_MEMORY)
            fail_msg("limit %llu: %d %s", (unsigned long long)lim, k, out);
        k == CRYO_OK ? passed++ : failed++;
    }
    assert_true(failed > 0); /* the sweep reached the failure paths */
    assert_true(passed > 0); /* and the limits that are enough */
}

/* --- the C API ---------------------------------------------------------------------------- */

static void c_api_round_trip(void **state) {
    (void)state;
    const char *text = "{\"n\":[1,-2,3.5,1e-7],\"s\":\"a\\u0000\\u00e9\",\"t\":true,\"z\":null}";
    cryo_value v;
    cryo_error *err = (cryo_error *)1;
    assert_int_equal(cryo_value_from_json(text, strlen(text), &v, &err), CRYO_OK);
    assert_null(err);
    assert_int_equal(v.type, CRYO_T_MAP);
    cryo_value n, s;
    assert_true(cryo_map_find(v, "n", &n));
    assert_int_equal(cryo_array_get(n, 1).type, CRYO_T_INT);
    assert_int_equal(cryo_array_get(n, 1).as.i, -2);
    assert_int_equal(cryo_array_get(n, 2).type, CRYO_T_FLOAT);
    assert_true(cryo_map_find(v, "s", &s));
    size_t slen;
    const char *sp = cryo_value_str(s, &slen);
    assert_int_equal(slen, 4);
    assert_memory_equal(sp, "a\0\xc3\xa9", 4);
    size_t len = 0;
    char *back = cryo_value_to_json(v, &len, &err);
    assert_non_null(back);
    assert_null(err);
    assert_string_equal(back, "{\"n\":[1,-2,3.5,1e-7],\"s\":\"a\\u0000é\",\"t\":true,\"z\":null}");
    assert_int_equal(len, strlen(back));
    free(back);
    cryo_value_release(v);

    cryo_value str = cryo_value_string("x", 1);
    back = cryo_value_to_json(str, NULL, NULL);
    assert_string_equal(back, "\"x\"");
    free(back);
    cryo_value_release(str);
}

static void c_api_errors(void **state) {
    (void)state;
    cryo_value v = cryo_int(7);
    cryo_error *err = NULL;
    const char *bad = "{\n  \"a\": [1,\n  2,,]\n}";
    assert_int_equal(cryo_value_from_json(bad, strlen(bad), &v, &err), CRYO_ERR_PARSE);
    assert_int_equal(v.type, CRYO_T_UNIT);
    assert_non_null(err);
    assert_int_equal(err->kind, CRYO_ERR_PARSE);
    assert_int_equal(err->line, 3);
    assert_int_equal(err->column, 5);
    assert_non_null(strstr(err->message, "line 3, column 5"));
    cryo_error_free(err);

    /* Invalid UTF-8 is refused by the parser, with its position. */
    assert_int_equal(cryo_value_from_json("\"\xff\"", 3, &v, &err), CRYO_ERR_PARSE);
    cryo_error_free(err);
    /* The C API bounds nesting at 200. */
    char deep[512];
    memset(deep, '[', 201);
    memset(deep + 201, ']', 201);
    assert_int_equal(cryo_value_from_json(deep, 402, &v, &err), CRYO_ERR_STACK_OVERFLOW);
    cryo_error_free(err);
    assert_int_equal(cryo_value_from_json(deep + 1, 400, &v, &err), CRYO_OK);
    cryo_value_release(v);

    assert_int_equal(cryo_value_from_json(NULL, 3, &v, &err), CRYO_ERR_API);
    cryo_error_free(err);
    assert_int_equal(cryo_value_from_json("1", 1, NULL, &err), CRYO_ERR_API);
    cryo_error_free(err);
    assert_int_equal(cryo_value_from_json("1", 1, &v, NULL), CRYO_OK); /* err optional */

    static const cryo_handle_type ht = {.name = "thing"};
    static int thing;
    cryo_value h = cryo_value_handle(&ht, &thing);
    assert_null(cryo_value_to_json(h, NULL, &err));
    assert_non_null(err);
    assert_int_equal(err->kind, CRYO_ERR_TYPE);
    assert_non_null(strstr(err->message, "thing"));
    cryo_error_free(err);
    cryo_value_release(h);
    assert_null(cryo_value_to_json(cryo_float(0.0 / 0.0), NULL, &err));
    assert_int_equal(err->kind, CRYO_ERR_ARGUMENT);
    cryo_error_free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_kinds),
        cmocka_unit_test(parse_escapes),
        cmocka_unit_test(parse_duplicate_keys_last_wins),
        cmocka_unit_test(to_json_kinds),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(parse_errors_have_positions),
        cmocka_unit_test(to_json_refuses_what_json_cannot_hold),
        cmocka_unit_test(depth_follows_the_vm_limit),
        cmocka_unit_test(size_limits_apply),
        cmocka_unit_test(to_json_work_is_charged),
        cmocka_unit_test(memory_limit_sweep),
        cmocka_unit_test(c_api_round_trip),
        cmocka_unit_test(c_api_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
