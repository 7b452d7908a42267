/*
 * test-hostile.c — scripts written to break the library: deep nesting, runaway recursion,
 * huge data against the limits, endless loops, integer edge cases, malformed UTF-8 and NUL
 * bytes, errors thrown inside callbacks, deep recursion through host callbacks,
 * self-referencing containers and bursts of VMs on many threads.
 *
 * Every case asserts the exact error kind (or value) and then that the library is still
 * usable: the same VM runs another script, and a fresh compile + run works. The suite runs
 * under ASan+UBSan, ThreadSanitizer (label "threads") and valgrind in CI
 * (docs/reliability.md); regressions found by the fuzzers are added at the end.
 * HOSTILE_SOFT=1 makes run_expect() print mismatches and go on (for exploring).
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
#include <time.h>
#include <unistd.h>

/* --- helpers ---------------------------------------------------------------------------- */

static void quiet(void *userdata, const char *text, size_t len) {
    (void)userdata, (void)text, (void)len;
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* Under valgrind or a sanitizer (10-50x slower) the thread tests do fewer rounds. */
static bool slow_run(void) {
#ifdef SANITIZED
    return true;
#else
    const char *v = getenv("CRYO_UNDER_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
#endif
}

/* A script made of `prefix` + `n` copies of `rep` + `mid` + `n` copies of `close` + `suffix`.
 * Owned by the caller. */
static char *repeat(const char *prefix, const char *rep, size_t n, const char *mid,
                    const char *close, const char *suffix, size_t *len) {
    size_t lp = strlen(prefix), lr = strlen(rep), lm = strlen(mid), lc = strlen(close),
           ls = strlen(suffix);
    size_t total = lp + n * lr + lm + n * lc + ls;
    char *s = malloc(total + 1);
    assert_non_null(s);
    char *p = s;
    memcpy(p, prefix, lp), p += lp;
    for (size_t i = 0; i < n; i++)
        memcpy(p, rep, lr), p += lr;
    memcpy(p, mid, lm), p += lm;
    for (size_t i = 0; i < n; i++)
        memcpy(p, close, lc), p += lc;
    memcpy(p, suffix, ls), p += ls;
    *p = 0;
    *len = total;
    return s;
}

/* Compiling `len` bytes of `src` fails with `kind` (the first error of the chain). */
static void expect_compile_error(const char *src, size_t len, cryo_error_kind kind) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, len, NULL, &err);
    if (u) {
        cryo_unit_release(u);
        fail_msg("compiled, expected %s", cryo_error_kind_name(kind));
    }
    assert_non_null(err);
    if (err->kind != kind)
        fail_msg("got %s (%s), expected %s", cryo_error_kind_name(err->kind), err->message,
                 cryo_error_kind_name(kind));
    char *text = cryo_error_format(err, src, len);
    assert_non_null(text);
    free(text);
    cryo_error_free(err);
}

static cryo_unit *compile_ok(const char *src, size_t len) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, len, NULL, &err);
    if (!u)
        fail_msg("compile failed: %s: %s", err ? cryo_error_kind_name(err->kind) : "?",
                 err ? err->message : "?");
    return u;
}

static cryo_vm *vm_for(const char *src) {
    cryo_unit *u = compile_ok(src, strlen(src));
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    assert_non_null(vm);
    cryo_unit_release(u);
    cryo_vm_set_print(vm, quiet, NULL);
    cryo_vm_set_debug(vm, quiet, NULL);
    return vm;
}

/* The VM and the library still work: the same VM runs its unit again only if asked (the unit
 * may be the hostile one), so swap in a fresh VM for a known script, and also compile anew. */
static void assert_usable(void) {
    cryo_vm *vm = vm_for("let a = [1, 2, 3]; let s = `x${a.len()}`; s.len() * 10 + a[2] + 9");
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.type, CRYO_T_INT);
    assert_int_equal(r.as.i, 2 * 10 + 3 + 9);
    cryo_vm_free(vm);
}

/* Runs `vm` once more on a script function to show that it survived its failure. */
static void assert_vm_usable(cryo_vm *vm) {
    cryo_value r;
    cryo_value arg = cryo_int(41);
    cryo_error_kind k = cryo_vm_call(vm, "ok", 1, &arg, &r);
    if (k != CRYO_OK) fail_msg("vm unusable: %s", cryo_vm_error(vm)->message);
    assert_int_equal(r.type, CRYO_T_INT);
    assert_int_equal(r.as.i, 42);
    assert_null(cryo_vm_error(vm));
}

/* Every hostile runtime script gets this function prepended so that assert_vm_usable can call
 * it on the same VM after the failure. */
#define OK_FN "fn ok(x) { x + 1 }\n"

/* Runs `src` (with OK_FN prepended) in a fresh VM with the given limits (pairs of cryo_limit,
 * value; terminated by -1) and asserts the run ends with `kind`; then the VM and the library
 * are checked usable. Returns nothing; for CRYO_OK the result must be the int `value`. */
static void run_expect(const char *src, cryo_error_kind kind, int64_t value, ...) {
    size_t n = strlen(src);
    char *full = malloc(n + sizeof OK_FN);
    assert_non_null(full);
    memcpy(full, OK_FN, sizeof OK_FN - 1);
    memcpy(full + sizeof OK_FN - 1, src, n + 1);
    cryo_vm *vm = vm_for(full);
    free(full);
    va_list ap;
    va_start(ap, value);
    for (;;) {
        int which = va_arg(ap, int);
        if (which < 0) break;
        cryo_vm_set_limit(vm, (cryo_limit)which, va_arg(ap, uint64_t));
    }
    va_end(ap);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k != kind && getenv("HOSTILE_SOFT")) {
        const cryo_error *e = cryo_vm_error(vm);
        printf("MISMATCH `%s`: got %s (%s), expected %s\n", src, cryo_error_kind_name(k),
               e ? e->message : "no error", cryo_error_kind_name(kind));
        if (k == CRYO_OK) cryo_value_release(r);
        cryo_vm_free(vm);
        return;
    }
    if (k != kind) {
        const cryo_error *e = cryo_vm_error(vm);
        fail_msg("`%s`: got %s (%s), expected %s", src, cryo_error_kind_name(k),
                 e ? e->message : "no error", cryo_error_kind_name(kind));
    }
    if (k == CRYO_OK) {
        if (r.type != CRYO_T_INT || r.as.i != value) {
            char *s = cryo_value_to_cstring(r, true);
            fail_msg("`%s`: got %s, expected %lld", src, s, (long long)value);
        }
        cryo_value_release(r);
    } else {
        const cryo_error *e = cryo_vm_error(vm);
        assert_non_null(e);
        assert_int_equal(e->kind, kind);
        assert_non_null(e->message);
    }
    assert_vm_usable(vm);
    cryo_vm_free(vm);
    assert_usable();
}

#define NOLIMIT       -1
#define LIM(which, v) (int)(which), (uint64_t)(v)

/* --- deep nesting in source: the parser and compiler must not overflow the C stack ------- */

typedef struct nest_case {
    const char *prefix, *rep, *mid, *close, *suffix;
    cryo_error_kind kind;
} nest_case;

static void parse_deep_nesting(void **state) {
    (void)state;
    static const nest_case cases[] = {
        {"", "(", "1", ")", "", CRYO_ERR_PARSE},
        {"", "[", "", "]", "", CRYO_ERR_PARSE},
        {"", "{", "", "}", "", CRYO_ERR_PARSE},
        {"", "#{a: ", "1", "}", "", CRYO_ERR_PARSE},
        {"", "-", "1", "", "", CRYO_ERR_PARSE},
        {"", "!", "true", "", "", CRYO_ERR_PARSE},
        {"", "|| ", "1", "", "", CRYO_ERR_PARSE},
        {"", "if true { ", "1", "}", "", CRYO_ERR_PARSE},
        {"", "while true { ", "break;", "}", "", CRYO_ERR_PARSE},
        {"", "fn f() { ", "", "}", "", CRYO_ERR_PARSE},
        {"", "`${", "1", "}`", "", CRYO_ERR_PARSE},
        {"2", "**2", "", "", "", CRYO_ERR_PARSE},
        {"if false {1} ", "else if false {1} ", "else {2}", "", "", CRYO_ERR_PARSE},
        /* long left-leaning chains are flat for the parser but deep for the compiler */
        {"1", " + 1", "", "", "", CRYO_ERR_COMPILE},
        {"true", " && true", "", "", "", CRYO_ERR_COMPILE},
        {"\"a\"", " + \"a\"", "", "", "", CRYO_ERR_COMPILE},
        {"let x = #{a: 1}; x", ".a", "", "", "", CRYO_ERR_COMPILE},
        {"let x = [1]; x", "[0]", "", "", "", CRYO_ERR_COMPILE},
        {"1", "..1", "", "", "", CRYO_ERR_COMPILE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const nest_case *c = &cases[i];
        size_t len;
        char *src = repeat(c->prefix, c->rep, 100000, c->mid, c->close, c->suffix, &len);
        expect_compile_error(src, len, c->kind);
        free(src);
    }
    /* Just below the limits it still works. */
    size_t len;
    char *src = repeat("", "(", 60, "1", " + 1)", "", &len);
    cryo_unit *u = compile_ok(src, len);
    free(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 61);
    cryo_vm_free(vm);
    assert_usable();
}

/* --- runaway recursion at run time --------------------------------------------------------- */

static void runtime_recursion(void **state) {
    (void)state;
    /* the default call depth (64) */
    run_expect("fn f(x) { f(x + 1) } f(0)", CRYO_ERR_STACK_OVERFLOW, 0, NOLIMIT);
    /* a large explicit depth: frames live on the heap, not the C stack */
    run_expect("fn f(x) { f(x + 1) } f(0)", CRYO_ERR_STACK_OVERFLOW, 0,
               LIM(CRYO_LIMIT_CALL_DEPTH, 100000), NOLIMIT);
    /* mutual recursion and closures */
    run_expect("fn a(x) { b(x) } fn b(x) { a(x) } a(1)", CRYO_ERR_STACK_OVERFLOW, 0, NOLIMIT);
    run_expect("fn f(g) { g.call(g) } f(|h| f(h))", CRYO_ERR_STACK_OVERFLOW, 0, NOLIMIT);
    /* no call-depth limit at all: the memory limit ends it */
    run_expect("fn f(x) { f(x + 1) } f(0)", CRYO_ERR_MEMORY, 0, LIM(CRYO_LIMIT_CALL_DEPTH, 0),
               LIM(CRYO_LIMIT_MEMORY, 16u << 20), NOLIMIT);
    {
        /* ...and it is the memory limit (frames count against it), not a failed malloc */
        cryo_vm *vm = vm_for("fn f(x) { f(x + 1) } f(0)");
        cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 0);
        cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 1u << 20);
        assert_int_equal(cryo_vm_run(vm, NULL, 0, NULL), CRYO_ERR_MEMORY);
        assert_non_null(strstr(cryo_vm_error(vm)->message, "limit"));
        cryo_vm_free(vm);
    }
    /* recursion is caught by try? no: the limit is not catchable */
    run_expect("fn f(x) { f(x + 1) } try { f(0) } catch (e) { 1 }", CRYO_ERR_STACK_OVERFLOW, 0,
               NOLIMIT);
    /* a deep but legal recursion works */
    run_expect("fn f(n) { if n == 0 { 0 } else { f(n - 1) + 1 } } f(5000)", CRYO_OK, 5000,
               LIM(CRYO_LIMIT_CALL_DEPTH, 6000), NOLIMIT);
}

/* Recursion that goes through host functions (array.map calls back into the script) nests C
 * frames: a nesting limit must stop it before the C stack overflows. */
static void recursion_through_callbacks(void **state) {
    (void)state;
    const char *src = "fn f(n) { if n == 0 { 0 } else { [n].map(|x| f(x - 1))[0] + 1 } }\n"
                      "f(1000000)";
    run_expect(src, CRYO_ERR_STACK_OVERFLOW, 0, NOLIMIT);
    run_expect(src, CRYO_ERR_STACK_OVERFLOW, 0, LIM(CRYO_LIMIT_CALL_DEPTH, 0), NOLIMIT);
    run_expect("fn f(n) { [1, 2].reduce(|a, x| f(n + 1), 0) } f(0)", CRYO_ERR_STACK_OVERFLOW, 0,
               LIM(CRYO_LIMIT_CALL_DEPTH, 0), NOLIMIT);
    run_expect("fn f(n) { [3, 1, 2].sort(|a, b| { f(n + 1); a - b }) } f(0)",
               CRYO_ERR_STACK_OVERFLOW, 0, LIM(CRYO_LIMIT_CALL_DEPTH, 0), NOLIMIT);
    /* a shallow one works */
    run_expect("fn f(n) { if n == 0 { 0 } else { [n].map(|x| f(x - 1))[0] + 1 } } f(20)", CRYO_OK,
               20, NOLIMIT);
}

/* --- size and memory limits --------------------------------------------------------------- */

static void huge_data(void **state) {
    (void)state;
    /* doubling a string */
    run_expect("let s = \"ab\"; loop { s += s; }", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_STRING_SIZE, 100000), NOLIMIT);
    run_expect("let s = \"ab\"; loop { s = s + s; }", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_STRING_SIZE, 100000), NOLIMIT);
    run_expect("let s = \"\"; loop { s += 'x'; }", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_STRING_SIZE, 10000), NOLIMIT);
    run_expect("let a = \"x\"; a.pad(5000, 'y'); let b = \"x\"; b.pad(5001, 'z');"
               "let s = `${a}${b}`; s.len()",
               CRYO_ERR_DATA_TOO_LARGE, 0, LIM(CRYO_LIMIT_STRING_SIZE, 10000), NOLIMIT);
    run_expect("\"x\".pad(1000000000, 'y')", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_STRING_SIZE, 10000), NOLIMIT);
    /* arrays */
    run_expect("let a = []; loop { a.push(1); }", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_ARRAY_SIZE, 10000), NOLIMIT);
    run_expect("let a = [1]; loop { a += a; }", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_ARRAY_SIZE, 10000), NOLIMIT);
    run_expect("let a = []; a.pad(1000000000, 0); a.len()", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_ARRAY_SIZE, 10000), NOLIMIT);
    /* maps */
    run_expect("let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }", CRYO_ERR_DATA_TOO_LARGE,
               0, LIM(CRYO_LIMIT_MAP_SIZE, 5000), NOLIMIT);
    /* the memory limit, with no size limits */
    run_expect("let a = []; loop { a.push(\"abcdefghijklmnopqrstuvwxyz\" + a.len()); }",
               CRYO_ERR_MEMORY, 0, LIM(CRYO_LIMIT_MEMORY, 4u << 20), NOLIMIT);
    run_expect("let s = \"ab\"; loop { s += s; }", CRYO_ERR_MEMORY, 0,
               LIM(CRYO_LIMIT_MEMORY, 4u << 20), NOLIMIT);
    run_expect("\"x\".pad(1000000000, 'y')", CRYO_ERR_MEMORY, 0, LIM(CRYO_LIMIT_MEMORY, 4u << 20),
               NOLIMIT);
    run_expect("let a = []; a.pad(1000000000, 0); a.len()", CRYO_ERR_MEMORY, 0,
               LIM(CRYO_LIMIT_MEMORY, 4u << 20), NOLIMIT);
    run_expect("let m = #{}; let i = 0; loop { m[`k${i}`] = [i]; i += 1; }", CRYO_ERR_MEMORY, 0,
               LIM(CRYO_LIMIT_MEMORY, 4u << 20), NOLIMIT);
    /* the limits are not catchable */
    run_expect("try { let s = \"ab\"; loop { s += s; } } catch (e) { 1 }", CRYO_ERR_DATA_TOO_LARGE,
               0, LIM(CRYO_LIMIT_STRING_SIZE, 100000), NOLIMIT);
    /* under the limits it works */
    run_expect("let a = []; for i in 0..1000 { a.push(i); } a.len()", CRYO_OK, 1000,
               LIM(CRYO_LIMIT_ARRAY_SIZE, 1000), LIM(CRYO_LIMIT_MEMORY, 4u << 20), NOLIMIT);
}

/* --- endless loops ---------------------------------------------------------------------- */

static void endless_loops_operation_limit(void **state) {
    (void)state;
    static const char *const loops[] = {
        "loop { }",
        "while true { }",
        "let i = 0; loop { i += 1; }",
        "for x in 0.. { }",
        "fn f() { loop { } } f()",
        "[1, 2, 3].map(|x| { loop { } })",
        "let f = || { while true { } }; f.call()",
        "loop { try { loop { } } catch (e) { } }",
    };
    for (size_t i = 0; i < sizeof loops / sizeof *loops; i++)
        run_expect(loops[i], CRYO_ERR_TOO_MANY_OPERATIONS, 0, LIM(CRYO_LIMIT_OPERATIONS, 100000),
                   NOLIMIT);
}

typedef struct interrupter {
    cryo_vm *vm;
    int delay_ms;
} interrupter;

static void *interrupt_later(void *arg) {
    interrupter *it = arg;
    struct timespec ts = {0, (long)it->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    cryo_vm_interrupt(it->vm);
    return NULL;
}

static void endless_loops_interrupt(void **state) {
    (void)state;
    static const char *const loops[] = {
        "loop { }",
        "let i = 0; while true { i += 1; }",
        "fn f() { loop { } } f()",
        "[1, 2, 3].map(|x| { loop { } })",
        "loop { try { loop { } } catch (e) { } }",
    };
    for (size_t i = 0; i < sizeof loops / sizeof *loops; i++) {
        size_t n = strlen(loops[i]);
        char *src = malloc(n + sizeof OK_FN);
        memcpy(src, OK_FN, sizeof OK_FN - 1);
        memcpy(src + sizeof OK_FN - 1, loops[i], n + 1);
        cryo_vm *vm = vm_for(src);
        free(src);
        interrupter it = {vm, 20};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, interrupt_later, &it), 0);
        cryo_value r;
        cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
        pthread_join(t, NULL);
        if (k != CRYO_ERR_INTERRUPTED) fail_msg("`%s`: %s", loops[i], cryo_error_kind_name(k));
        assert_int_equal(cryo_vm_error(vm)->kind, CRYO_ERR_INTERRUPTED);
        /* the flag is cleared for the next run / call */
        assert_vm_usable(vm);
        cryo_vm_free(vm);
    }
    assert_usable();
}

/* --- integer edge cases --------------------------------------------------------------------- */

#define MIN "(-9223372036854775807 - 1)"
#define MAX "9223372036854775807"

static void integer_edges(void **state) {
    (void)state;
    static const struct {
        const char *src;
        cryo_error_kind kind;
        int64_t value;
    } cases[] = {
        {MAX " + 1", CRYO_ERR_ARITHMETIC, 0},
        {MIN " - 1", CRYO_ERR_ARITHMETIC, 0},
        {MAX " * 2", CRYO_ERR_ARITHMETIC, 0},
        {MIN " * -1", CRYO_ERR_ARITHMETIC, 0},
        {"-1 * " MIN, CRYO_ERR_ARITHMETIC, 0},
        {MIN " / -1", CRYO_ERR_ARITHMETIC, 0},
        {MIN " % -1", CRYO_ERR_ARITHMETIC, 0}, /* as Rhai's checked_rem */
        {MIN " % 1", CRYO_OK, 0},
        {"-7 % -1", CRYO_OK, 0},
        {"1 / 0", CRYO_ERR_ARITHMETIC, 0},
        {"1 % 0", CRYO_ERR_ARITHMETIC, 0},
        {"-" MIN, CRYO_ERR_ARITHMETIC, 0},
        {"let x = " MIN "; -x", CRYO_ERR_ARITHMETIC, 0},
        {"abs(" MIN ")", CRYO_ERR_ARITHMETIC, 0},
        {MIN ".abs()", CRYO_ERR_ARITHMETIC, 0},
        {"let x = " MAX "; x += 1; x", CRYO_ERR_ARITHMETIC, 0},
        {"let x = " MIN "; x -= 1; x", CRYO_ERR_ARITHMETIC, 0},
        {"let x = " MIN "; x /= -1; x", CRYO_ERR_ARITHMETIC, 0},
        {"let x = " MAX "; x *= " MAX "; x", CRYO_ERR_ARITHMETIC, 0},
        {"1 << 64", CRYO_ERR_ARITHMETIC, 0},
        {"1 << 63", CRYO_OK, INT64_MIN},
        {"1 >> 64", CRYO_ERR_ARITHMETIC, 0},
        {MIN " >> 63", CRYO_OK, -1},
        {"1 << -1", CRYO_OK, 0},
        {"8 >> -2", CRYO_OK, 32},
        {"1 << " MIN, CRYO_ERR_ARITHMETIC, 0},
        {"1 >> " MIN, CRYO_ERR_ARITHMETIC, 0},
        {"-1 << 63", CRYO_OK, INT64_MIN},
        {"2 ** 62", CRYO_OK, INT64_C(1) << 62},
        {"2 ** 63", CRYO_ERR_ARITHMETIC, 0},
        {"-2 ** 63", CRYO_OK, INT64_MIN},
        {"2 ** -1", CRYO_ERR_ARITHMETIC, 0},
        {"0 ** 0", CRYO_OK, 1},
        {"1 ** " MAX, CRYO_OK, 1},
        {"(-1) ** " MAX, CRYO_OK, -1},
        {"3 ** " MAX, CRYO_ERR_ARITHMETIC, 0},
        {MIN " ** 2", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"" MAX "\")", CRYO_OK, INT64_MAX},
        {"parse_int(\"-9223372036854775808\")", CRYO_OK, INT64_MIN},
        {"parse_int(\"9223372036854775808\")", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"-9223372036854775809\")", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"99999999999999999999999999999\")", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"\")", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"-\")", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"ff\", 16)", CRYO_OK, 255},
        {"parse_int(\"7fffffffffffffff\", 16)", CRYO_OK, INT64_MAX},
        {"parse_int(\"10000000000000000\", 16)", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"1\", 1)", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"1\", 37)", CRYO_ERR_ARITHMETIC, 0},
        {"parse_int(\"1\", " MIN ")", CRYO_ERR_ARITHMETIC, 0},
        {"(" MAX ").to_float().to_int()", CRYO_ERR_ARITHMETIC, 0},
        {"(1e300).to_int()", CRYO_ERR_ARITHMETIC, 0},
        {"(0.0 / 0.0).to_int()", CRYO_ERR_ARITHMETIC, 0},
        {"let r = 0; for i in (" MAX " - 2).." MAX " { r += 1; } r", CRYO_OK, 2},
        {"let r = 0; for i in (" MAX " - 2)..=" MAX " { r += 1; } r", CRYO_OK, 3},
        {"let r = 0; for i in " MIN "..(" MIN " + 3) { r += 1; } r", CRYO_OK, 3},
        {"[1, 2, 3][" MIN "]", CRYO_ERR_INDEX, 0},
        {"[1, 2, 3][" MAX "]", CRYO_ERR_INDEX, 0},
        {"\"abc\"[" MIN "]", CRYO_ERR_INDEX, 0},
        {"\"abc\".sub_string(" MIN ", " MAX ").len()", CRYO_OK, 3},
        {"[1, 2, 3].extract(" MAX ", " MAX ").len()", CRYO_OK, 0},
        {"[1, 2, 3].split(" MIN ").len()", CRYO_OK, 3},
        {"let s = \"abc\"; s.pad(" MIN ", 'x'); s.len()", CRYO_OK, 3},
        {"(" MIN ").to_string().len()", CRYO_OK, 20},
        {"(" MIN ").to_hex().len()", CRYO_OK, 16},
        {"(" MIN ").to_binary().len()", CRYO_OK, 64},
        {"min(" MIN ", " MAX ")", CRYO_OK, INT64_MIN},
        {"(" MIN ").sign()", CRYO_OK, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_expect(cases[i].src, cases[i].kind, cases[i].value, NOLIMIT);
}

/* --- malformed UTF-8 and NUL bytes ------------------------------------------------------- */

static void bad_bytes_in_source(void **state) {
    (void)state;
    static const struct {
        const char *src;
        size_t len;
    } cases[] = {
#define B(s) {s, sizeof s - 1}
        B("let s = \"a\0b\"; s.len()"),
        B("let x\0 = 1;"),
        B("\0"),
        B("let s = \"a\xff\xfe b\"; s"),
        B("let x = 1;\xff\n x"),
        B("let s = \"\xc3\x28\"; s"),         /* bad continuation */
        B("let s = \"\xe2\x82\"; s"),         /* truncated 3-byte sequence */
        B("let s = \"\xf0\x9f\x98\"; s"),     /* truncated 4-byte sequence */
        B("let s = \"\xc0\xaf\"; s"),         /* overlong '/' */
        B("let s = \"\xed\xa0\x80\"; s"),     /* UTF-16 surrogate */
        B("let s = \"\xf4\x90\x80\x80\"; s"), /* above U+10FFFF */
        B("// comment \xff\n1"),              /* in a comment */
        B("let c = '\xff'; c"),               /* in a char literal */
        B("`\xff${1}`"),                      /* in an interpolated string */
        B("\xef\xbb\xbf\xff"),                /* BOM then garbage */
#undef B
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_compile_error(cases[i].src, cases[i].len, CRYO_ERR_PARSE);
    /* A source cut in the middle of a character, and a NUL right at the end. */
    expect_compile_error("\"\xe2\x82", 3, CRYO_ERR_PARSE);
    expect_compile_error("1\0", 2, CRYO_ERR_PARSE);
    assert_usable();
}

static void bad_bytes_at_run_time(void **state) {
    (void)state;
    /* NUL characters built at run time are ordinary characters */
    run_expect("let s = \"a\\0b\"; s.len()", CRYO_OK, 3, NOLIMIT);
    run_expect("let s = \"a\"; s += to_char(0); s += \"b\"; s.len()", CRYO_OK, 3, NOLIMIT);
    run_expect("let s = \"a\\0b\"; s.index_of('b')", CRYO_OK, 2, NOLIMIT);
    run_expect("let s = \"a\\0b\\0c\"; s.split(to_char(0)).len()", CRYO_OK, 3, NOLIMIT);
    run_expect("let m = #{}; m[\"a\\0b\"] = 1; m[\"a\\0c\"] = 2; m[\"a\\0b\"] + m.len()", CRYO_OK,
               3, NOLIMIT);
    run_expect("let s = `${to_char(0)}x`; s.to_upper().len()", CRYO_OK, 2, NOLIMIT);
    /* chars that are not Unicode scalar values cannot be made */
    run_expect("to_char(0xD800)", CRYO_ERR_ARGUMENT, 0, NOLIMIT);
    run_expect("to_char(0x110000)", CRYO_ERR_ARGUMENT, 0, NOLIMIT);
    run_expect("to_char(-1)", CRYO_ERR_ARGUMENT, 0, NOLIMIT);
    expect_compile_error("\"\\uD800\"", 8, CRYO_ERR_PARSE);

    /* A host string with invalid UTF-8 and NULs becomes a valid string (U+FFFD) */
    static const char bad[] = "a\xff\0b\xc3";
    cryo_value v = cryo_value_string(bad, sizeof bad - 1);
    size_t len = 0;
    const char *s = cryo_value_str(v, &len);
    assert_non_null(s);
    assert_true(len >= 4);
    assert_int_equal(s[len], 0);
    cryo_value_release(v);
    assert_usable();
}

/* --- errors thrown inside callbacks --------------------------------------------------------- */

static void throw_inside_callbacks(void **state) {
    (void)state;
    run_expect("[1, 2, 3].map(|x| throw \"boom\")", CRYO_ERR_RUNTIME, 0, NOLIMIT);
    run_expect("[1, 2, 3].map(|x| if x == 2 { throw x } else { x })", CRYO_ERR_RUNTIME, 0, NOLIMIT);
    run_expect("[1, 2, 3].map(|x| x / 0)", CRYO_ERR_ARITHMETIC, 0, NOLIMIT);
    run_expect("[1, 2, 3].filter(|x| x.nope())", CRYO_ERR_NOT_FOUND, 0, NOLIMIT);
    run_expect("[3, 1, 2].sort(|a, b| throw 1)", CRYO_ERR_RUNTIME, 0, NOLIMIT);
    run_expect("[3, 1, 2].sort(|a, b| \"x\")", CRYO_ERR_TYPE, 0, NOLIMIT);
    run_expect("[1, 2].reduce(|a, x| a + \"s\" * 2, 0)", CRYO_ERR_TYPE, 0, NOLIMIT);
    /* caught by the script, then the script goes on */
    run_expect("let r = try { [1, 2, 3].map(|x| throw x * 10) } catch (e) { e }; r + 1", CRYO_OK,
               11, NOLIMIT);
    run_expect("let n = 0; for i in 0..100 { try { [i].map(|x| throw x); } catch (e) { n += e; } }"
               " n",
               CRYO_OK, 4950, NOLIMIT);
    /* nested callbacks, the inner one throwing */
    run_expect("[[1], [2]].map(|a| a.map(|x| throw \"in\"))", CRYO_ERR_RUNTIME, 0, NOLIMIT);
    run_expect("let r = try { [[1], [2]].map(|a| a.map(|x| throw 7)) } catch (e) { e }; r", CRYO_OK,
               7, NOLIMIT);
    /* from a host-called script function */
    run_expect("fn f(x) { throw x } [1].map(f)", CRYO_ERR_RUNTIME, 0, NOLIMIT);
    run_expect("fn f(x) { throw x } [1].map(Fn(\"f\"))", CRYO_ERR_RUNTIME, 0, NOLIMIT);
}

/* --- self-referencing containers ----------------------------------------------------------- */

static void self_reference(void **state) {
    (void)state;
    /* arrays and maps are values: pushing x into itself copies it (no cycle); the copies share
     * storage until written, so doubling the nesting 40 times costs nothing */
    run_expect("let x = []; x.push(x); x.push(x); x.push(x); x.len()", CRYO_OK, 3, NOLIMIT);
    /* ... but size limits count nested totals, as Rhai's copies would (issue 13): 2^20 items */
    run_expect("let x = [1]; for i in 0..20 { x.push(x); } x.len()", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_ARRAY_SIZE, 1000), NOLIMIT);
    run_expect("let x = [1]; for i in 0..40 { x.push(x); } x.len()", CRYO_OK, 41,
               LIM(CRYO_LIMIT_MEMORY, 8u << 20), NOLIMIT);
    run_expect("let x = [1]; for i in 0..40 { x.push(x); } x[40][39][38][0]", CRYO_OK, 1, NOLIMIT);
    run_expect("let m = #{}; m.m = m; m.m.m = m; m.len()", CRYO_OK, 1, NOLIMIT);
    /* a write through a path whose value is its own root copies that level: no cycle */
    run_expect("let m = #{}; m.m = m; m.m.m = m; m.m.m.m.len()", CRYO_OK, 0, NOLIMIT);
    run_expect("let x = [[1]]; x[0].push(x); x[0].len()", CRYO_OK, 2, NOLIMIT);
    run_expect("let x = []; x.push(x); if x == [[]] { 1 } else { 0 }", CRYO_OK, 1, NOLIMIT);
    /* Closures that capture themselves (reference cycles through captured cells): freed by
     * the cycle collection of cryo_vm_free, so ASan/valgrind see no leak. */
    run_expect("let f = 0; f = |n| if n == 0 { 0 } else { f.call(n - 1) + 1 }; f.call(10)", CRYO_OK,
               10, NOLIMIT);
    run_expect("let g = 0; let h = || g; g = h; let m = #{}; m.f = || m; 1", CRYO_OK, 1, NOLIMIT);
    run_expect("let a = []; for i in 0..100 { let f = 0; f = || f; a.push(f); } a.len()", CRYO_OK,
               100, NOLIMIT);
}

/* --- many short bursts of VMs from several threads ----------------------------------------- */

typedef struct burst {
    cryo_unit *shared;
    int iterations;
    int failures;
    int64_t sum;
} burst;

static void *burst_thread(void *arg) {
    burst *b = arg;
    for (int i = 0; i < b->iterations; i++) {
        /* a shared unit in a fresh VM */
        cryo_vm *vm = cryo_vm_new(b->shared, cryo_context_std());
        if (!vm) {
            b->failures++;
            continue;
        }
        cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 100000);
        cryo_value arg = cryo_int(i);
        cryo_value r;
        if (cryo_vm_call(vm, "work", 1, &arg, &r) == CRYO_OK && r.type == CRYO_T_INT)
            b->sum += r.as.i;
        else
            b->failures++;
        /* a run that fails on a limit, same VM */
        if (cryo_vm_call(vm, "spin", 0, NULL, &r) != CRYO_ERR_TOO_MANY_OPERATIONS) b->failures++;
        cryo_vm_free(vm);
        /* a fresh compile on this thread, every few rounds */
        if (i % 8 == 0) {
            char src[64];
            int n = snprintf(src, sizeof src, "let a = [%d]; a.map(|x| x * 2)[0]", i);
            cryo_unit *u = cryo_compile(src, (size_t)n, NULL, NULL);
            cryo_vm *v2 = u ? cryo_vm_new(u, NULL) : NULL;
            if (!v2 || cryo_vm_run(v2, NULL, 0, &r) != CRYO_OK || r.as.i != 2 * i) b->failures++;
            cryo_vm_free(v2);
            cryo_unit_release(u);
        }
    }
    return NULL;
}

static void thread_bursts(void **state) {
    (void)state;
    const char *src = "fn work(n) { let a = []; for i in 0..n % 16 { a.push(`${i}`); }\n"
                      "  a.map(|s| s.len()).reduce(|x, y| x + y, 0) + n }\n"
                      "fn spin() { loop { } }";
    cryo_unit *u = compile_ok(src, strlen(src));
    enum { NTHREADS = 8 };
    int iterations = slow_run() ? 25 : 200;
    for (int round = 0; round < 3; round++) {
        pthread_t t[NTHREADS];
        burst b[NTHREADS];
        for (int i = 0; i < NTHREADS; i++) {
            b[i] = (burst){cryo_unit_retain(u), iterations, 0, 0};
            assert_int_equal(pthread_create(&t[i], NULL, burst_thread, &b[i]), 0);
        }
        int64_t expect = 0;
        for (int i = 0; i < iterations; i++) {
            int64_t s = 0;
            for (int k = 0; k < i % 16; k++)
                s += k < 10 ? 1 : 2;
            expect += s + i;
        }
        for (int i = 0; i < NTHREADS; i++) {
            pthread_join(t[i], NULL);
            cryo_unit_release(b[i].shared);
            assert_int_equal(b[i].failures, 0);
            assert_int_equal(b[i].sum, expect);
        }
    }
    cryo_unit_release(u);
    assert_usable();
}

/* Interrupting VMs on other threads while they run, repeatedly. */
typedef struct spinner {
    cryo_unit *unit;
    cryo_vm *vm;
    int runs, interrupted;
} spinner;

static void *spin_thread(void *arg) {
    spinner *s = arg;
    for (int i = 0; i < s->runs; i++) {
        cryo_value r;
        cryo_error_kind k = cryo_vm_call(s->vm, "spin", 0, NULL, &r);
        if (k == CRYO_ERR_INTERRUPTED) s->interrupted++;
    }
    return NULL;
}

static void interrupt_storm(void **state) {
    (void)state;
    const char *src = "fn spin() { let i = 0; while i < 300000 { i += 1; } i }";
    cryo_unit *u = compile_ok(src, strlen(src));
    enum { N = 4 };
    spinner s[N];
    pthread_t t[N];
    int runs = slow_run() ? 3 : 20;
    for (int i = 0; i < N; i++) {
        s[i] = (spinner){u, cryo_vm_new(u, NULL), runs, 0};
        assert_non_null(s[i].vm);
        assert_int_equal(pthread_create(&t[i], NULL, spin_thread, &s[i]), 0);
    }
    /* interrupt all of them, many times, while they run (some calls may finish first) */
    for (int k = 0; k < 200; k++) {
        for (int i = 0; i < N; i++)
            cryo_vm_interrupt(s[i].vm);
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cryo_value r;
        /* usable afterwards: the next call starts with the flag cleared */
        assert_int_equal(cryo_vm_call(s[i].vm, "spin", 0, NULL, &r), CRYO_OK);
        assert_int_equal(r.as.i, 300000);
        cryo_vm_free(s[i].vm);
    }
    cryo_unit_release(u);
    assert_usable();
}

/* --- regressions found by the fuzzers (tests/fuzz/, docs/reliability.md) --------------------- */

static void fuzz_regressions(void **state) {
    (void)state;
    /* fuzz-run, timeout: each `x.a = x` nests x one level deeper and, with size limits on,
     * re-counts the whole nested map (quadratic in the nesting). It must end at the map size
     * limit after 4096 levels, quickly. */
    run_expect("let x = #{}; loop { x.a = x; }", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_MAP_SIZE, 4096), LIM(CRYO_LIMIT_OPERATIONS, 1000000), NOLIMIT);
    run_expect("let x = []; loop { x.push(x); }", CRYO_ERR_DATA_TOO_LARGE, 0,
               LIM(CRYO_LIMIT_ARRAY_SIZE, 4096), LIM(CRYO_LIMIT_OPERATIONS, 1000000), NOLIMIT);
    assert_usable();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_deep_nesting),
        cmocka_unit_test(runtime_recursion),
        cmocka_unit_test(recursion_through_callbacks),
        cmocka_unit_test(huge_data),
        cmocka_unit_test(endless_loops_operation_limit),
        cmocka_unit_test(endless_loops_interrupt),
        cmocka_unit_test(integer_edges),
        cmocka_unit_test(bad_bytes_in_source),
        cmocka_unit_test(bad_bytes_at_run_time),
        cmocka_unit_test(throw_inside_callbacks),
        cmocka_unit_test(self_reference),
        cmocka_unit_test(thread_bursts),
        cmocka_unit_test(interrupt_storm),
        cmocka_unit_test(fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
