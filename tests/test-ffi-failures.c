/* ctest-labels: threads */
/*
 * test-ffi-failures.c — failures that cannot be missed: each callback counts its failed calls
 * and keeps the first and the last error (C API and ffi::failures), failures without an error
 * handler go to the process-wide log (cryo_ffi_take_unhandled, what the CLI reports), counted
 * exactly from 8 threads; a callback type that passes another number of arguments than the
 * function takes is refused when the callback is made; a wrong argument count to
 * cryo_sync_call names the function by its source line, not its internal name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_ffi.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* throws for negative arguments, at line 2 */
static const char thrower[] = "|x| {\n"
                              "    if x < 0 { throw `negative: ${x}`; }\n"
                              "    x * 2\n"
                              "}";

static void first_and_last(void **state) {
    (void)state;
    cryo_ffi_take_unhandled(NULL); /* a clean log */
    cryo_ffi_callback *cb = test_cb_of(NULL, thrower, "int (*)(int)", 0);
    int (*f)(int) = (int (*)(int))cryo_ffi_callback_ptr(cb);
    cryo_error *first, *last;
    assert_int_equal(cryo_ffi_callback_failures(cb, &first, &last), 0);
    assert_null(first);
    assert_null(last);
    assert_int_equal(f(4), 8);
    assert_int_equal(f(-1), 0); /* the default result */
    assert_int_equal(f(5), 10);
    assert_int_equal(f(-2), 0);
    assert_int_equal(f(-3), 0);
    assert_int_equal(cryo_ffi_callback_failures(cb, &first, &last), 3);
    assert_int_equal(cryo_ffi_callback_errors(cb), 3);
    assert_non_null(strstr(first->message, "negative: -1"));
    assert_non_null(strstr(last->message, "negative: -3"));
    assert_int_equal(first->line, 2);
    assert_true(first->column > 0);
    assert_int_equal(last->line, 2);
    cryo_error_free(first);
    cryo_error_free(last);

    /* no handler: the process-wide log has them, once */
    cryo_error *log = NULL;
    assert_int_equal(cryo_ffi_take_unhandled(&log), 3);
    assert_non_null(log);
    assert_non_null(strstr(log->message, "callback 'int (*)(int)'"));
    assert_non_null(strstr(log->message, "the closure defined at line 1"));
    assert_non_null(strstr(log->message, "3 failed calls that nothing handled"));
    assert_non_null(strstr(log->message, "negative: -1"));
    assert_int_equal(log->line, 2);
    assert_non_null(log->next);
    assert_non_null(strstr(log->next->message, "the last failure: negative: -3"));
    assert_null(log->next->next);
    cryo_error_free(log);
    assert_int_equal(cryo_ffi_take_unhandled(&log), 0);
    assert_null(log);

    /* a failure the log keeps after its callback is freed */
    assert_int_equal(f(-7), 0);
    cryo_ffi_callback_free(cb);
    assert_int_equal(cryo_ffi_take_unhandled(&log), 1);
    assert_non_null(strstr(log->message, "1 failed call that nothing handled: negative: -7"));
    assert_null(log->next);
    cryo_error_free(log);
}

static void count_errors(void *ud, const cryo_ffi_callback *cb, const cryo_error *err) {
    (void)cb;
    (void)err;
    atomic_fetch_add((atomic_int *)ud, 1);
}

#define NTHREADS 8
#define NCALLS   500

static void *hammer(void *arg) {
    int (*f)(int) = (int (*)(int))cryo_ffi_callback_ptr(arg);
    intptr_t wrong = 0;
    for (int i = 0; i < NCALLS; i++) {
        int x = i % 2 ? -i : i; /* half of them fail */
        if (f(x) != (x < 0 ? 0 : 2 * x)) wrong++;
    }
    return (void *)wrong;
}

/* Counted exactly from 8 threads; with a handler nothing is logged as unhandled. */
static void threads_and_handler(void **state) {
    (void)state;
    cryo_ffi_take_unhandled(NULL);
    for (int handled = 0; handled < 2; handled++) {
        cryo_ffi_callback *cb = test_cb_of(NULL, thrower, "int (*)(int)", 0);
        atomic_int seen = 0;
        if (handled) cryo_ffi_callback_set_error_handler(cb, count_errors, &seen);
        pthread_t th[NTHREADS];
        for (int i = 0; i < NTHREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, hammer, cb), 0);
        for (int i = 0; i < NTHREADS; i++) {
            void *wrong;
            pthread_join(th[i], &wrong);
            assert_int_equal((intptr_t)wrong, 0);
        }
        uint64_t want = NTHREADS * (NCALLS / 2);
        cryo_error *first, *last;
        assert_int_equal(cryo_ffi_callback_failures(cb, &first, &last), want);
        assert_non_null(strstr(first->message, "negative: -"));
        assert_non_null(strstr(last->message, "negative: -"));
        cryo_error_free(first);
        cryo_error_free(last);
        assert_int_equal(cryo_ffi_take_unhandled(NULL), handled ? 0 : want);
        assert_int_equal(atomic_load(&seen), handled ? (int)want : 0);
        cryo_ffi_callback_free(cb);
    }
}

/* The arity is checked when the callback is made. */
static void arity_at_creation(void **state) {
    (void)state;
    cryo_sync *s = test_sync(NULL, "\n|a, b| a + b");
    cryo_error *err = NULL;
    assert_null(cryo_ffi_callback_new(s, NULL, "int (*)(int)", &err));
    assert_non_null(err);
    assert_int_equal(err->kind, CRYO_ERR_ARGUMENT);
    assert_string_equal(err->message,
                        "callback type 'int (*)(int)' passes 1 argument; the function "
                        "(the closure defined at line 2) takes 2");
    assert_int_equal(err->line, 2);
    cryo_error_free(err);
    assert_null(cryo_ffi_callback_new(s, NULL, "int (*)(int, int, int)", &err));
    assert_non_null(strstr(err->message, "passes 3 arguments"));
    cryo_error_free(err);
    cryo_ffi_callback *cb = cryo_ffi_callback_new(s, NULL, "int (*)(int, int)", &err);
    assert_non_null(cb);
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);
}

/* A wrong argument count to cryo_sync_call names the function as the source writes it. */
static void sync_call_arity(void **state) {
    (void)state;
    cryo_sync *s = test_sync(NULL, "let k = 1;\n\n|a, b| a + b + k");
    cryo_const args[1] = {cryo_const_int(1)};
    cryo_const r;
    cryo_error *err = NULL;
    assert_int_equal(cryo_sync_call(s, 1, args, &r, &err), CRYO_ERR_NOT_FOUND);
    assert_non_null(err);
    assert_string_equal(err->message, "wrong number of arguments: the closure defined at line 3 "
                                      "takes 2, called with 1");
    assert_int_equal(err->line, 3);
    assert_null(strstr(err->message, "anon$"));
    cryo_error_free(err);
    cryo_sync_release(s);

    s = test_sync(NULL, "fn add(a, b) {\n a + b\n}\nlet f = |x| add(x, 1); f");
    assert_int_equal(cryo_sync_call(s, 0, NULL, &r, &err), CRYO_ERR_NOT_FOUND);
    assert_non_null(strstr(err->message, "the closure defined at line 4 takes 1, called with 0"));
    cryo_error_free(err);
    cryo_sync_release(s);
}

/* From a script: ffi::failures(cb) reads them, and takes note (the log forgets them). */
static void script_failures(void **state) {
    (void)state;
    cryo_ffi_take_unhandled(NULL);
    cryo_context *ctx = cryo_ffi_context_new();
    const char *src =
        "let qsort = ffi::func(ffi::open(), \"void qsort(void *, size_t, size_t, "
        "int (*)(const void *, const void *))\");\n"
        "let buf = ffi::new(\"int\", 3); buf[0] = 3; buf[1] = 1; buf[2] = 2;\n"
        "let cmp = ffi::callback(|a, b| a[0] - b,\n"
        "                        \"int (*)(const int *, const int *)\");\n"
        "let before = ffi::failures(cmp);\n"
        "qsort(buf, 3, 4, cmp);\n"
        "let f = ffi::failures(cmp);\n"
        "`${before.count} ${before.first} ${f.count > 0} ${f.first.kind} ${f.first.line} "
        "${f.first.column} ${f.first.message} | ${f.last.message}`";
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value v;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_OK);
    char *s = cryo_value_to_cstring(v, false);
    assert_string_equal(s, "0  true type error 3 32 cannot apply '-' to i64 and ptr | "
                           "cannot apply '-' to i64 and ptr");
    free(s);
    cryo_value_release(v);
    cryo_vm_free(vm);
    /* the script read them: nothing unhandled */
    assert_int_equal(cryo_ffi_take_unhandled(NULL), 0);
    cryo_context_release(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_and_last),    cmocka_unit_test(threads_and_handler),
        cmocka_unit_test(arity_at_creation), cmocka_unit_test(sync_call_arity),
        cmocka_unit_test(script_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
