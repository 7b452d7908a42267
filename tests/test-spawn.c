/*
 * test-spawn.c — spawn(f, args...) and h.join() in scripts: results, errors re-raised with
 * their kind and message, four threads computing the same as the sequential version.
 */
#include "test.h"

static void test_spawn_join(void **state) {
    (void)state;
    EXPECT("let k = 2; let h = spawn(|x, y| x * y + k, 6, 7); h.join()", "44");
    EXPECT("let h = spawn(|| \"text\"); type_of(h)", "\"Thread\"");
    /* heap results and arguments cross both ways */
    EXPECT("let h = spawn(|a, m| a + [m.x], [1, 2], #{x: 3}); h.join()", "[1, 2, 3]");
    /* a SyncFunction can be spawned too, and a result is usable (and writable) after join */
    EXPECT("let f = (|x| [x, x]).into_sync(); let r = spawn(f, 5).join(); r.push(6); r",
           "[5, 5, 6]");
    /* a handle dropped without join: the run's end joins the thread */
    EXPECT("spawn(|| 1); 2", "2");
}

static void test_errors(void **state) {
    (void)state;
    EXPECT_ERR("let h = spawn(|| throw \"boom\"); h.join()", CRYO_ERR_RUNTIME, "boom");
    EXPECT_ERR("let h = spawn(|x| x / 0, 1); h.join()", CRYO_ERR_ARITHMETIC, "division by zero");
    /* caught in the script */
    EXPECT("let h = spawn(|| throw \"boom\"); try { h.join(); 0 } catch (e) { `caught ${e}` }",
           "\"caught boom\"");
    /* joined twice */
    EXPECT_ERR("let h = spawn(|| 1); h.join(); h.join()", CRYO_ERR_RUNTIME, "already joined");
    /* spawn of a closure that cannot be frozen */
    EXPECT_ERR("let n = 0; spawn(|| { n += 1; })", CRYO_ERR_TYPE, "'n'");
    /* an argument that cannot be frozen: a closure that assigns its capture */
    EXPECT_ERR("let n = 0; let g = || { n = 1; }; spawn(|f| 1, g)", CRYO_ERR_TYPE, "'n'");
}

/* The same work split over 4 threads gives the sequential result. */
static void test_four_threads(void **state) {
    (void)state;
    const char *par =
        "let work = |from, to| { let s = 0; for i in from..to { s += i * i % 7; } s };\n"
        "let hs = [];\n"
        "for t in 0..4 { hs.push(spawn(work, t * 25000, (t + 1) * 25000)); }\n"
        "let total = 0;\n"
        "for h in hs { total += h.join(); }\n"
        "total";
    const char *seq =
        "let work = |from, to| { let s = 0; for i in from..to { s += i * i % 7; } s };\n"
        "work.call(0, 100000)";
    char a[64], b[64];
    assert_int_equal(test_run(NULL, par, TEST_NO_LIMIT, 0, a, sizeof a), CRYO_OK);
    assert_int_equal(test_run(NULL, seq, TEST_NO_LIMIT, 0, b, sizeof b), CRYO_OK);
    assert_string_equal(a, b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_join),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_four_threads),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    cryo_vm_pool_clear();
    return r;
}
