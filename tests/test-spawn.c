/*
 * test-spawn.c — spawn(f, args...) and h.join() in scripts: results, errors re-raised with
 * their kind and message, four threads computing the same as the sequential version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a script and returns its result as debug text (owned), or the error message. */
static char *run(const char *src, cryo_error_kind *kind) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    if (!u) {
        fprintf(stderr, "compile: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        fail();
    }
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (kind) *kind = k;
    char *s;
    if (k == CRYO_OK) {
        s = cryo_value_to_cstring(r, true);
        cryo_value_release(r);
    } else {
        s = strdup(cryo_vm_error(vm)->message);
    }
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return s;
}

static void expect(const char *src, const char *want) {
    cryo_error_kind k;
    char *s = run(src, &k);
    if (k != CRYO_OK || strcmp(s, want)) fprintf(stderr, "got: %s\n", s);
    assert_int_equal(k, CRYO_OK);
    assert_string_equal(s, want);
    free(s);
}

static void test_spawn_join(void **state) {
    (void)state;
    expect("let k = 2; let h = spawn(|x, y| x * y + k, 6, 7); h.join()", "44");
    expect("let h = spawn(|| \"text\"); type_of(h)", "\"Thread\"");
    /* heap results and arguments cross both ways */
    expect("let h = spawn(|a, m| a + [m.x], [1, 2], #{x: 3}); h.join()", "[1, 2, 3]");
    /* a SyncFunction can be spawned too, and a result is usable (and writable) after join */
    expect("let f = (|x| [x, x]).into_sync(); let r = spawn(f, 5).join(); r.push(6); r",
           "[5, 5, 6]");
    /* a handle dropped without join: the run's end joins the thread */
    expect("spawn(|| 1); 2", "2");
}

static void test_errors(void **state) {
    (void)state;
    cryo_error_kind k;
    char *s = run("let h = spawn(|| throw \"boom\"); h.join()", &k);
    assert_int_equal(k, CRYO_ERR_RUNTIME);
    assert_non_null(strstr(s, "boom"));
    free(s);
    s = run("let h = spawn(|x| x / 0, 1); h.join()", &k);
    assert_int_equal(k, CRYO_ERR_ARITHMETIC);
    free(s);
    /* caught in the script */
    expect("let h = spawn(|| throw \"boom\"); try { h.join(); 0 } catch (e) { `caught ${e}` }",
           "\"caught boom\"");
    /* joined twice */
    s = run("let h = spawn(|| 1); h.join(); h.join()", &k);
    assert_int_equal(k, CRYO_ERR_RUNTIME);
    assert_non_null(strstr(s, "already joined"));
    free(s);
    /* spawn of a closure that cannot be frozen */
    s = run("let n = 0; spawn(|| { n += 1; })", &k);
    assert_int_equal(k, CRYO_ERR_TYPE);
    assert_non_null(strstr(s, "'n'"));
    free(s);
    /* an argument that cannot be frozen: a closure that assigns its capture */
    s = run("let n = 0; let g = || { n = 1; }; spawn(|f| 1, g)", &k);
    assert_int_equal(k, CRYO_ERR_TYPE);
    free(s);
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
    char *a = run(par, NULL), *b = run(seq, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
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
