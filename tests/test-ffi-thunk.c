/*
 * test-ffi-thunk.c — direct thunks (ffi/thunk.c) and the libffi path side by side: every
 * signature of ffi/thunk_table.h through both paths with its result checked, and a throwing
 * callback on both (its default result, the counted error, the handler); declarations outside
 * the table take libffi; all slots of a signature taken -> libffi, then a freed slot reused;
 * 8 threads calling callbacks while 2 others create and free callbacks of the same signatures.
 *
 * CRYO_TEST_FFI_CALLS sets the calls per thread (default 100000; 5000 under scripts/valgrind.sh).
 */
/* ctest-labels: threads */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_ffi.h"
#include "thunk_table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- every signature of the table, both paths ----------------------------------------------
 * Each case calls the pointer with fixed arguments and returns what it saw as a double: the
 * result, or for void callbacks what the script wrote through a pointer argument. `ok` is the
 * value when the script ran, `fail` the value when it threw (the default result set below, or
 * the untouched memory). */

static int marker;
static const void *const P_DEFAULT = (const void *)(uintptr_t)0x1234;

static double c_I_PP(void *fn) {
    int a = 3, b = 5;
    return ((int (*)(const int *, const int *))fn)(&a, &b);
}
static double c_V_P(void *fn) {
    int x = 20;
    ((void (*)(int *))fn)(&x);
    return x;
}
static double c_P_P(void *fn) {
    void *r = ((void *(*)(int *))fn)(&marker);
    return r == &marker ? 1 : r == P_DEFAULT ? 2 : 0;
}
static double c_I_P(void *fn) {
    int x = 41;
    return ((int (*)(int *))fn)(&x);
}
static double c_V_PP(void *fn) {
    int a = 7, b = 0;
    ((void (*)(int *, int *))fn)(&a, &b);
    return b;
}
static double c_I_I(void *fn) {
    int (*f)(int) = (int (*)(int))fn;
    return f(20) * 1000 + f(-5); /* 41, -9: the sign survives both ways */
}
static double c_L_L(void *fn) {
    return (double)((int64_t(*)(int64_t))fn)((int64_t)1 << 40);
}
static double c_D_D(void *fn) {
    return ((double (*)(double))fn)(3.0);
}
static double c_D_DD(void *fn) {
    return ((double (*)(double, double))fn)(10.5, 0.25);
}
static double c_I_PIPP(void *fn) {
    int ud = 100;
    char *vals[] = {"a", NULL}, *names[] = {"col", NULL};
    return ((int (*)(int *, int, char **, char **))fn)(&ud, 3, vals, names);
}
static double c_V_PIP(void *fn) {
    int ctx = 0;
    void *argv[] = {NULL, NULL};
    ((void (*)(int *, int, void **))fn)(&ctx, 6, argv);
    return ctx;
}
static double c_I_PIPIP(void *fn) {
    int ud = 1000, a = 9, b = 4;
    return ((int (*)(int *, int, const int *, int, const int *))fn)(&ud, 2, &a, 3, &b);
}
static double c_V_(void *fn) {
    ((void (*)(void))fn)();
    return 0;
}
static double c_V_I(void *fn) {
    ((void (*)(int))fn)(7);
    return 0;
}
static double c_I_II(void *fn) {
    return ((int (*)(int, int))fn)(3, 4);
}
static double c_V_PPP(void *fn) {
    int a = 4, b = 2, c = 0;
    ((void (*)(int *, int *, int *))fn)(&a, &b, &c);
    return c;
}
static double c_I_PPP(void *fn) {
    int a = 3, b = 8, ud = -2;
    return ((int (*)(const int *, const int *, int *))fn)(&a, &b, &ud);
}
static double c_U_PUUP(void *fn) {
    char buf[] = "abcd";
    return (double)((size_t(*)(char *, size_t, size_t, void *))fn)(buf, 2, 3, NULL);
}

typedef struct tcase {
    const char *key;    /* the thunk_table.h ID */
    const char *type;   /* the declaration as a user writes it */
    const char *script; /* the callback */
    int nparams;
    double (*call)(void *fn);
    double ok, fail;
} tcase;

static const tcase cases[] = {
    {"I_PP", "int (*)(const int *, const int *)", "|a, b| a[0] - b[0]", 2, c_I_PP, -2, -7},
    {"V_P", "void (*)(int *)", "|p| { p[0] = p[0] * 2 + 1; }", 1, c_V_P, 41, 20},
    {"P_P", "void *(*)(int *)", "|p| p", 1, c_P_P, 1, 2},
    {"I_P", "int (*)(int *)", "|p| p[0] + 1", 1, c_I_P, 42, -7},
    {"V_PP", "void (*)(const int *, int *)", "|a, b| { b[0] = a[0] * 3; }", 2, c_V_PP, 21, 0},
    {"I_I", "int (*)(int)", "|x| x * 2 + 1", 1, c_I_I, 41 * 1000 - 9, -7 * 1000 - 7},
    {"L_L", "int64_t (*)(int64_t)", "|x| x * 3", 1, c_L_L, 3.0 * (double)((int64_t)1 << 40), -7},
    {"D_D", "double (*)(double)", "|x| x * 0.5", 1, c_D_D, 1.5, -7.5},
    {"D_DD", "double (*)(double, double)", "|a, b| a - b", 2, c_D_DD, 10.25, -7.5},
    {"I_PIPP", "int (*)(int *, int, char **, char **)", "|ud, n, vals, names| ud[0] + n", 4,
     c_I_PIPP, 103, -7},
    {"V_PIP", "void (*)(int *, int, void **)", "|ctx, n, argv| { ctx[0] = n * 7; }", 3, c_V_PIP, 42,
     0},
    {"I_PIPIP", "int (*)(int *ud, int n1, const int *a, int n2, const int *b);",
     "|ud, n1, a, n2, b| ud[0] + n1 * 100 + n2 * 10 + a[0] - b[0]", 5, c_I_PIPIP, 1235, -7},
    {"V_", "void (*)(void)", "|| ()", 0, c_V_, 0, 0},
    {"V_I", "void (*)(int)", "|x| { if x != 7 { throw \"not 7\"; } }", 1, c_V_I, 0, 0},
    {"I_II", "int (*)(int, int)", "|a, b| a * 10 + b", 2, c_I_II, 34, -7},
    {"V_PPP", "void (*)(int *, int *, int *)", "|a, b, c| { c[0] = a[0] * 10 + b[0]; }", 3, c_V_PPP,
     42, 0},
    {"I_PPP", "int (*)(const int *, const int *, int *)", "|a, b, ud| (a[0] - b[0]) * ud[0]", 3,
     c_I_PPP, 10, -7},
    {"U_PUUP", "size_t (*)(char *, size_t, size_t, void *)",
     "|s, size, n, ud| s.len() * 100 + size * n", 4, c_U_PUUP, 406, 7},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

/* A closure of n parameters that throws. */
static const char *failing(int n) {
    static char buf[128];
    static const char *params[] = {"||",        "|a|",          "|a, b|",
                                   "|a, b, c|", "|a, b, c, d|", "|a, b, c, d, e|"};
    snprintf(buf, sizeof buf, "%s throw \"thunk fail\"", params[n]);
    return buf;
}

/* The default result for the case's return class. */
static void set_default(cryo_ffi_callback *cb, char ret) {
    int i = -7;
    int64_t l = -7;
    uint64_t u = 7;
    double d = -7.5;
    const void *p = P_DEFAULT;
    switch (ret) {
    case 'I': assert_int_equal(cryo_ffi_callback_set_default(cb, &i, sizeof i), CRYO_OK); break;
    case 'L': assert_int_equal(cryo_ffi_callback_set_default(cb, &l, sizeof l), CRYO_OK); break;
    case 'U': assert_int_equal(cryo_ffi_callback_set_default(cb, &u, sizeof u), CRYO_OK); break;
    case 'D': assert_int_equal(cryo_ffi_callback_set_default(cb, &d, sizeof d), CRYO_OK); break;
    case 'P': assert_int_equal(cryo_ffi_callback_set_default(cb, &p, sizeof p), CRYO_OK); break;
    default: break;
    }
}

#define KEY_OF(ID, R, N, ...) #ID,
static const char *const table_keys[] = {CRYO_THUNK_TABLE(KEY_OF)};

static void test_every_signature_both_paths(void **state) {
    (void)state;
    /* the cases cover the table exactly */
    size_t nkeys = sizeof table_keys / sizeof table_keys[0];
    assert_int_equal(nkeys, NCASES);
    for (size_t k = 0; k < nkeys; k++) {
        bool found = false;
        for (int c = 0; c < NCASES; c++)
            found |= strcmp(cases[c].key, table_keys[k]) == 0;
        if (!found) fprintf(stderr, "no test case for thunk signature %s\n", table_keys[k]);
        assert_true(found);
    }
    for (int c = 0; c < NCASES; c++) {
        const tcase *t = &cases[c];
        for (int forced = 0; forced < 2; forced++) {
            unsigned flags = forced ? CRYO_FFI_CALLBACK_LIBFFI : 0;
            cryo_ffi_path want = forced ? CRYO_FFI_PATH_LIBFFI : CRYO_FFI_PATH_THUNK;
            cryo_ffi_callback *cb = test_cb_of(NULL, t->script, t->type, flags);
            if (cryo_ffi_callback_path(cb) != want)
                fprintf(stderr, "%s: path %d, expected %d\n", t->type,
                        (int)cryo_ffi_callback_path(cb), (int)want);
            assert_int_equal(cryo_ffi_callback_path(cb), want);
            /* twice: the first call takes the general path, the second the hot one */
            for (int i = 0; i < 2; i++) {
                double got = t->call(cryo_ffi_callback_ptr(cb));
                if (got != t->ok)
                    fprintf(stderr, "%s (%s): %g, expected %g\n", t->type,
                            forced ? "libffi" : "thunk", got, t->ok);
                assert_true(got == t->ok);
            }
            assert_int_equal(cryo_ffi_callback_errors(cb), 0);
            cryo_ffi_callback_free(cb);

            /* failures: the default result, the count, the handler, the kept error */
            cb = test_cb_of(NULL, failing(t->nparams), t->type, flags);
            assert_int_equal(cryo_ffi_callback_path(cb), want);
            set_default(cb, t->key[0]);
            test_errlog log = {0};
            cryo_ffi_callback_set_error_handler(cb, test_errlog_handler, &log);
            for (int i = 0; i < 2; i++)
                assert_true(t->call(cryo_ffi_callback_ptr(cb)) == t->fail);
            int calls = strcmp(t->key, "I_I") == 0 ? 4 : 2; /* c_I_I calls twice */
            assert_int_equal(cryo_ffi_callback_errors(cb), calls);
            assert_int_equal(log.calls, calls);
            assert_non_null(strstr(log.msg, "thunk fail"));
            cryo_error *first = NULL, *last = NULL;
            assert_int_equal(cryo_ffi_callback_failures(cb, &first, &last), calls);
            assert_non_null(first);
            assert_non_null(strstr(first->message, "thunk fail"));
            assert_int_equal(first->line, 1);
            cryo_error_free(first);
            cryo_error_free(last);
            cryo_ffi_callback_free(cb);
        }
    }
    /* V_I's script throws unless its argument arrived: 8 is refused on both paths */
    for (int forced = 0; forced < 2; forced++) {
        cryo_ffi_callback *cb = test_cb_of(NULL, cases[13].script, "void (*)(int)",
                                           forced ? CRYO_FFI_CALLBACK_LIBFFI : 0);
        test_errlog log = {0};
        cryo_ffi_callback_set_error_handler(cb, test_errlog_handler, &log);
        ((void (*)(int))cryo_ffi_callback_ptr(cb))(8);
        assert_int_equal(cryo_ffi_callback_errors(cb), 1);
        assert_non_null(strstr(log.msg, "not 7"));
        cryo_ffi_callback_free(cb);
    }
    assert_int_equal(cryo_ffi_take_unhandled(NULL), 0);
}

/* A result of the wrong type is a failure on both paths, reported as CRYO_ERR_TYPE. */
static void test_wrong_result(void **state) {
    (void)state;
    for (int forced = 0; forced < 2; forced++) {
        cryo_ffi_callback *cb = test_cb_of(NULL, "|x| \"no\"", "double (*)(double)",
                                           forced ? CRYO_FFI_CALLBACK_LIBFFI : 0);
        test_errlog log = {0};
        cryo_ffi_callback_set_error_handler(cb, test_errlog_handler, &log);
        double d = 2.25;
        assert_int_equal(cryo_ffi_callback_set_default(cb, &d, sizeof d), CRYO_OK);
        assert_true(((double (*)(double))cryo_ffi_callback_ptr(cb))(1.0) == 2.25);
        assert_int_equal(log.calls, 1);
        assert_int_equal(log.kind, CRYO_ERR_TYPE);
        cryo_ffi_callback_free(cb);
    }
}

/* Declarations outside the table's classes take libffi and work. */
static void test_outside_the_table(void **state) {
    (void)state;
    cryo_ffi_callback *cb = test_cb_of(NULL, "|x| x + 1", "unsigned (*)(unsigned)", 0);
    assert_int_equal(cryo_ffi_callback_path(cb), CRYO_FFI_PATH_LIBFFI);
    assert_int_equal(((unsigned (*)(unsigned))cryo_ffi_callback_ptr(cb))(41u), 42u);
    cryo_ffi_callback_free(cb);
    cb = test_cb_of(NULL, "|x| x * 2.0", "float (*)(float)", 0);
    assert_int_equal(cryo_ffi_callback_path(cb), CRYO_FFI_PATH_LIBFFI);
    assert_true(((float (*)(float))cryo_ffi_callback_ptr(cb))(1.5f) == 3.0f);
    cryo_ffi_callback_free(cb);
    cb = test_cb_of(NULL, "|a, b| a - b", "short (*)(short, short)", 0);
    assert_int_equal(cryo_ffi_callback_path(cb), CRYO_FFI_PATH_LIBFFI);
    assert_int_equal(((short (*)(short, short))cryo_ffi_callback_ptr(cb))(5, 9), -4);
    cryo_ffi_callback_free(cb);
    cb = test_cb_of(NULL, "|a, b, c, d, e, f| a + f", "int (*)(int, int, int, int, int, int)", 0);
    assert_int_equal(cryo_ffi_callback_path(cb), CRYO_FFI_PATH_LIBFFI);
    assert_int_equal(
        ((int (*)(int, int, int, int, int, int))cryo_ffi_callback_ptr(cb))(1, 0, 0, 0, 0, 9), 10);
    cryo_ffi_callback_free(cb);
    /* an int64_t spelled `long long` shares the class; `char` is not an int */
    cb = test_cb_of(NULL, "|x| x - 1", "long long (*)(long long)", 0);
    assert_int_equal(cryo_ffi_callback_path(cb), CRYO_FFI_PATH_THUNK);
    assert_int_equal(((long long (*)(long long))cryo_ffi_callback_ptr(cb))(-5), -6);
    cryo_ffi_callback_free(cb);
    cb = test_cb_of(NULL, "|x| x", "int (*)(char)", 0);
    assert_int_equal(cryo_ffi_callback_path(cb), CRYO_FFI_PATH_LIBFFI);
    cryo_ffi_callback_free(cb);
    assert_int_equal(cryo_ffi_callback_path(NULL), CRYO_FFI_PATH_NONE);
    /* reserved flag bits are refused */
    cryo_sync *s = test_sync(NULL, "|x| x");
    cryo_error *err = NULL;
    assert_null(cryo_ffi_callback_new_ex(s, NULL, "int (*)(int)", 2, &err));
    assert_non_null(err);
    assert_int_equal(err->kind, CRYO_ERR_API);
    assert_non_null(strstr(err->message, "unknown flags"));
    cryo_error_free(err);
    cryo_sync_release(s);
}

/* All slots of a signature taken: the next callback is a libffi closure that works; a freed
 * slot goes to the next callback, whose pointer is the freed one's thunk. */
static void test_slots_exhausted_and_reused(void **state) {
    (void)state;
    enum { N = CRYO_THUNK_SLOTS + 2 };
    cryo_ffi_callback *cbs[N];
    for (int i = 0; i < N; i++) {
        char src[64];
        snprintf(src, sizeof src, "|a, b| a * b + %d", i);
        cbs[i] = test_cb_of(NULL, src, "double (*)(double, double)", 0);
        assert_int_equal(cryo_ffi_callback_path(cbs[i]),
                         i < CRYO_THUNK_SLOTS ? CRYO_FFI_PATH_THUNK : CRYO_FFI_PATH_LIBFFI);
    }
    for (int i = 0; i < N; i++) {
        double (*f)(double, double) = (double (*)(double, double))cryo_ffi_callback_ptr(cbs[i]);
        assert_true(f(2.0, 3.5) == 7.0 + i);
    }
    /* forcing libffi takes no slot */
    cryo_ffi_callback *forced = test_cb_of(NULL, "|a, b| a", "double (*)(double, double)", 1);
    assert_int_equal(cryo_ffi_callback_path(forced), CRYO_FFI_PATH_LIBFFI);
    cryo_ffi_callback_free(forced);
    void *freed = cryo_ffi_callback_ptr(cbs[5]);
    cryo_ffi_callback_free(cbs[5]);
    cbs[5] = test_cb_of(NULL, "|a, b| a - b", "double (*)(double, double)", 0);
    assert_int_equal(cryo_ffi_callback_path(cbs[5]), CRYO_FFI_PATH_THUNK);
    assert_ptr_equal(cryo_ffi_callback_ptr(cbs[5]), freed);
    assert_true(((double (*)(double, double))freed)(2.0, 3.5) == -1.5);
    for (int i = 0; i < N; i++)
        cryo_ffi_callback_free(cbs[i]);
    /* every slot free again */
    for (int i = 0; i < CRYO_THUNK_SLOTS; i++)
        cbs[i] = test_cb_of(NULL, "|a, b| a + b", "double (*)(double, double)", 0);
    for (int i = 0; i < CRYO_THUNK_SLOTS; i++) {
        assert_int_equal(cryo_ffi_callback_path(cbs[i]), CRYO_FFI_PATH_THUNK);
        cryo_ffi_callback_free(cbs[i]);
    }
}

/* --- threads: 8 callers, 2 threads creating and freeing callbacks of the same signatures ---- */

typedef struct caller {
    int (*f)(int);
    int (*cmp)(const void *, const void *);
    int calls;
    long bad;
} caller;

static void *caller_body(void *arg) {
    caller *c = arg;
    int v[64];
    for (int i = 0; i < c->calls; i++) {
        if (c->f(i) != i * 2 + 3) c->bad++;
        if ((i & 1023) == 0) { /* now and then a sort through the comparator */
            for (int k = 0; k < 64; k++)
                v[k] = (k * 37 + i) % 64;
            qsort(v, 64, sizeof v[0], c->cmp);
            for (int k = 1; k < 64; k++)
                if (v[k - 1] > v[k]) c->bad++;
        }
    }
    return NULL;
}

typedef struct churner {
    cryo_sync *s[4]; /* |x| x * 2 + k, k = 0..3 */
    int rounds;
    long bad, thunks, libffi;
} churner;

static void *churn_body(void *arg) {
    churner *c = arg;
    enum { LIVE = 24 }; /* more than the slots the test leaves free: some fall back */
    cryo_ffi_callback *cbs[LIVE];
    for (int r = 0; r < c->rounds; r++) {
        for (int i = 0; i < LIVE; i++) {
            cbs[i] = cryo_ffi_callback_new(c->s[i & 3], NULL, "int (*)(int)", NULL);
            if (!cbs[i]) {
                c->bad++;
                continue;
            }
            if (cryo_ffi_callback_path(cbs[i]) == CRYO_FFI_PATH_THUNK)
                c->thunks++;
            else
                c->libffi++;
        }
        for (int i = 0; i < LIVE; i++) {
            if (!cbs[i]) continue;
            int (*f)(int) = (int (*)(int))cryo_ffi_callback_ptr(cbs[i]);
            if (f(r) != r * 2 + (i & 3)) c->bad++;
        }
        for (int i = 0; i < LIVE; i++)
            cryo_ffi_callback_free(cbs[i]);
    }
    return NULL;
}

static void test_threads_with_churn(void **state) {
    (void)state;
    const char *env = getenv("CRYO_TEST_FFI_CALLS");
    int calls = env ? atoi(env) : getenv("CRYO_UNDER_VALGRIND") ? 5000 : 100000;
    cryo_ffi_callback *f = test_cb_of(NULL, "|x| x * 2 + 3", "int (*)(int)", 0);
    cryo_ffi_callback *cmp =
        test_cb_of(NULL, "|a, b| if a[0] < b[0] { -1 } else if a[0] > b[0] { 1 } else { 0 }",
                   "int (*)(const int *, const int *)", 0);
    assert_int_equal(cryo_ffi_callback_path(f), CRYO_FFI_PATH_THUNK);
    assert_int_equal(cryo_ffi_callback_path(cmp), CRYO_FFI_PATH_THUNK);
    /* held for the whole run: with f, 21 of the int (*)(int) slots are taken, so each churner
     * falls back to libffi in every round whatever the scheduling, and reuses the other 11 */
    enum { HELD = 20 };
    cryo_sync *hs = test_sync(NULL, "|x| x * 2 + 3");
    cryo_ffi_callback *held[HELD];
    for (int i = 0; i < HELD; i++) {
        held[i] = cryo_ffi_callback_new(hs, NULL, "int (*)(int)", NULL);
        assert_int_equal(cryo_ffi_callback_path(held[i]), CRYO_FFI_PATH_THUNK);
    }
    enum { NCALL = 8, NCHURN = 2 };
    pthread_t t[NCALL + NCHURN];
    caller callers[NCALL];
    churner churners[NCHURN];
    for (int i = 0; i < NCALL; i++) {
        callers[i] =
            (caller){(int (*)(int))cryo_ffi_callback_ptr(i & 1 ? f : held[i]),
                     (int (*)(const void *, const void *))cryo_ffi_callback_ptr(cmp), calls, 0};
        assert_int_equal(pthread_create(&t[i], NULL, caller_body, &callers[i]), 0);
    }
    for (int i = 0; i < NCHURN; i++) {
        churners[i] = (churner){{0}, calls / 2000 + 5, 0, 0, 0};
        for (int k = 0; k < 4; k++) {
            char src[32];
            snprintf(src, sizeof src, "|x| x * 2 + %d", k);
            churners[i].s[k] = test_sync(NULL, src);
        }
        assert_int_equal(pthread_create(&t[NCALL + i], NULL, churn_body, &churners[i]), 0);
    }
    for (int i = 0; i < NCALL + NCHURN; i++)
        pthread_join(t[i], NULL);
    long thunks = 0, libffi = 0;
    for (int i = 0; i < NCALL; i++)
        assert_int_equal(callers[i].bad, 0);
    for (int i = 0; i < NCHURN; i++) {
        assert_int_equal(churners[i].bad, 0);
        thunks += churners[i].thunks;
        libffi += churners[i].libffi;
        for (int k = 0; k < 4; k++)
            cryo_sync_release(churners[i].s[k]);
    }
    /* both paths were taken while the callers ran */
    assert_true(thunks > 0);
    assert_true(libffi > 0);
    assert_int_equal(cryo_ffi_callback_errors(f), 0);
    assert_int_equal(cryo_ffi_callback_errors(cmp), 0);
    for (int i = 0; i < HELD; i++)
        cryo_ffi_callback_free(held[i]);
    cryo_sync_release(hs);
    cryo_ffi_callback_free(f);
    cryo_ffi_callback_free(cmp);
    /* and every slot came back: CRYO_THUNK_SLOTS int (*)(int) callbacks are thunks again */
    cryo_sync *s = test_sync(NULL, "|x| x");
    cryo_ffi_callback *cbs[CRYO_THUNK_SLOTS];
    for (int i = 0; i < CRYO_THUNK_SLOTS; i++) {
        cbs[i] = cryo_ffi_callback_new(s, NULL, "int (*)(int)", NULL);
        assert_int_equal(cryo_ffi_callback_path(cbs[i]), CRYO_FFI_PATH_THUNK);
    }
    for (int i = 0; i < CRYO_THUNK_SLOTS; i++)
        cryo_ffi_callback_free(cbs[i]);
    cryo_sync_release(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_signature_both_paths),
        cmocka_unit_test(test_wrong_result),
        cmocka_unit_test(test_outside_the_table),
        cmocka_unit_test(test_slots_exhausted_and_reused),
        cmocka_unit_test(test_threads_with_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
