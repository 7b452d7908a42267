/*
 * test-worker.c — one worker: every query kind, errors that leave the worker serving, limits,
 * cancellation and timeouts of `loop {}`, back-pressure, shutdown, custom handlers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cryo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until f is RUNNING (or final). */
static void wait_running(cryo_future *f) {
    while (cryo_future_poll(f) == CRYO_FUTURE_PENDING)
        sleep_ms(1);
}

static int64_t int_of(cryo_future *f) {
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_DONE);
    cryo_const v = cryo_future_value(f);
    assert_int_equal(cryo_const_type(v), CRYO_T_INT);
    return v.v.as.i;
}

static void test_eval(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    assert_non_null(w);
    cryo_future *f = cryo_worker_eval(w, "40 + 2");
    assert_int_equal(int_of(f), 42);
    assert_null(cryo_future_error(f));
    cryo_future_release(f);

    f = cryo_worker_eval(w, "let a = [1, \"two\", #{x: 3.5}]; a");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_DONE);
    char *s = cryo_const_to_cstring(cryo_future_value(f), true);
    assert_string_equal(s, "[1, \"two\", #{\"x\": 3.5}]");
    free(s);
    cryo_future_release(f);
    cryo_worker_free(w);
}

static void test_load_and_call(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    cryo_query call = {.kind = CRYO_QUERY_CALL, .name = "add"};
    cryo_future *f = cryo_worker_submit(w, &call);
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED); /* nothing loaded yet */
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_API);
    cryo_future_release(f);

    cryo_query load = {.kind = CRYO_QUERY_LOAD,
                       .source = "fn add(a, b) { a + b }\nfn greet(n) { `hi ${n}` }\n7"};
    f = cryo_worker_submit(w, &load);
    assert_int_equal(int_of(f), 7);
    cryo_future_release(f);

    cryo_const args[2] = {cryo_const_int(40), cryo_const_int(2)};
    call.argv = args;
    call.argc = 2;
    f = cryo_worker_submit(w, &call);
    assert_int_equal(int_of(f), 42);
    cryo_future_release(f);

    cryo_const name = cryo_const_string("bob", 3);
    cryo_query greet = {.kind = CRYO_QUERY_CALL, .name = "greet", .argv = &name, .argc = 1};
    f = cryo_worker_submit(w, &greet);
    cryo_const_release(name); /* the query holds its own reference */
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_DONE);
    assert_string_equal(cryo_value_str(cryo_future_value(f).v, NULL), "hi bob");
    cryo_future_release(f);

    /* A unit compiled by the host loads the same way. */
    cryo_unit *u = cryo_compile("fn add(a, b) { a * b }", 22, NULL, NULL);
    assert_non_null(u);
    cryo_query load2 = {.kind = CRYO_QUERY_LOAD, .unit = u};
    f = cryo_worker_submit(w, &load2);
    cryo_unit_release(u);
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_DONE);
    cryo_future_release(f);
    f = cryo_worker_submit(w, &call);
    assert_int_equal(int_of(f), 80);
    cryo_future_release(f);
    cryo_worker_free(w);
}

static void test_errors_keep_serving(void **state) {
    (void)state;
    cryo_worker_config cfg = {.limits[CRYO_LIMIT_OPERATIONS] = 100000};
    cryo_worker *w = cryo_worker_new(&cfg);
    cryo_future *f = cryo_worker_eval(w, "let x = 1;\nx / 0");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    const cryo_error *e = cryo_future_error(f);
    assert_int_equal(e->kind, CRYO_ERR_ARITHMETIC);
    assert_int_equal(e->line, 2);
    cryo_future_release(f);

    f = cryo_worker_eval(w, "1 +");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_PARSE);
    cryo_future_release(f);

    f = cryo_worker_eval(w, "throw \"boom\"");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_RUNTIME);
    cryo_future_release(f);

    f = cryo_worker_eval(w, "loop {}"); /* the operation limit stops it */
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_TOO_MANY_OPERATIONS);
    cryo_future_release(f);

    f = cryo_worker_eval(w, "fn f(n) { f(n + 1) } f(0)");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_STACK_OVERFLOW);
    cryo_future_release(f);

    f = cryo_worker_eval(w, "6 * 7");
    assert_int_equal(int_of(f), 42);
    cryo_future_release(f);

    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.done, 1);
    assert_int_equal(st.failed, 5);
    assert_int_equal(st.queued + st.running, 0);
    cryo_worker_free(w);
}

static void test_cancel_running_loop(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    for (int round = 0; round < 3; round++) {
        cryo_future *f = cryo_worker_eval(w, "let i = 0; loop { i += 1; }");
        wait_running(f);
        assert_int_equal(cryo_future_wait_for(f, 20), CRYO_FUTURE_RUNNING); /* no cancel */
        assert_true(cryo_future_cancel(f));
        assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_CANCELLED);
        assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_INTERRUPTED);
        assert_false(cryo_future_cancel(f)); /* already resolved */
        cryo_future_release(f);
        f = cryo_worker_eval(w, "1 + 1");
        assert_int_equal(int_of(f), 2);
        cryo_future_release(f);
    }
    /* Cancelling right after submitting, before or as the run starts, also stops it. */
    for (int i = 0; i < 20; i++) {
        cryo_future *f = cryo_worker_eval(w, "loop {}");
        if (i % 2) sleep_ms(1);
        assert_true(cryo_future_cancel(f));
        assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_CANCELLED);
        cryo_future_release(f);
    }
    cryo_worker_free(w);
}

static void test_cancel_pending(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    cryo_future *busy = cryo_worker_eval(w, "loop {}");
    cryo_future *queued = cryo_worker_eval(w, "42");
    wait_running(busy);
    assert_int_equal(cryo_future_poll(queued), CRYO_FUTURE_PENDING);
    assert_true(cryo_future_cancel(queued));
    assert_int_equal(cryo_future_poll(queued), CRYO_FUTURE_CANCELLED); /* at once */
    assert_true(cryo_future_cancel(busy));
    assert_int_equal(cryo_future_wait(busy), CRYO_FUTURE_CANCELLED);
    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.cancelled, 2);
    cryo_future_release(busy);
    cryo_future_release(queued);
    cryo_worker_free(w);
}

static void test_timeout(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    cryo_query q = {.kind = CRYO_QUERY_EVAL, .source = "loop {}", .timeout_ms = 50};
    cryo_future *f = cryo_worker_submit(w, &q);
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_INTERRUPTED);
    assert_non_null(strstr(cryo_future_error(f)->message, "timed out"));
    cryo_future_release(f);
    /* A worker-wide default applies to every query. */
    cryo_worker_config cfg = {.timeout_ms = 30};
    cryo_worker *w2 = cryo_worker_new(&cfg);
    f = cryo_worker_eval(w2, "let s = 0; for i in 0..1000000000 { s += i } s");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    cryo_future_release(f);
    f = cryo_worker_eval(w2, "5");
    assert_int_equal(int_of(f), 5);
    cryo_future_release(f);
    cryo_worker_free(w2);
    cryo_worker_free(w);
}

static void test_sync_function(void **state) {
    (void)state;
    const char *src = "let k = 3; |x| x * k + 1";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value fn;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fn), CRYO_OK);
    cryo_sync *s = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fn, &s), CRYO_OK);
    cryo_value_release(fn);
    cryo_vm_free(vm);

    cryo_worker *w = cryo_worker_new(NULL);
    cryo_future *fs[10];
    for (int i = 0; i < 10; i++) {
        cryo_const a = cryo_const_int(i);
        fs[i] = cryo_worker_call_sync(w, s, 1, &a);
    }
    cryo_sync_release(s); /* queries hold their own references */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(int_of(fs[i]), i * 3 + 1);
        cryo_future_release(fs[i]);
    }
    cryo_worker_free(w);
}

/* A SyncFunction that never returns is stopped by cancel and by a timeout as well. */
static void test_sync_function_cancel_and_timeout(void **state) {
    (void)state;
    const char *src = "let step = 1; |n| { let i = 0; loop { i += step; } }";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value fn;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fn), CRYO_OK);
    cryo_sync *s = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fn, &s), CRYO_OK);
    cryo_value_release(fn);
    cryo_vm_free(vm);

    cryo_worker *w = cryo_worker_new(NULL);
    cryo_const a = cryo_const_int(1);
    cryo_future *f = cryo_worker_call_sync(w, s, 1, &a);
    wait_running(f);
    assert_int_equal(cryo_future_wait_for(f, 20), CRYO_FUTURE_RUNNING);
    assert_true(cryo_future_cancel(f));
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_CANCELLED);
    cryo_future_release(f);

    cryo_query q = {.kind = CRYO_QUERY_SYNC, .fn = s, .argv = &a, .argc = 1, .timeout_ms = 30};
    f = cryo_worker_submit(w, &q);
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_INTERRUPTED);
    cryo_future_release(f);

    f = cryo_worker_eval(w, "9");
    assert_int_equal(int_of(f), 9);
    cryo_future_release(f);
    cryo_sync_release(s);
    cryo_worker_free(w);
}

static void test_backpressure_fail(void **state) {
    (void)state;
    cryo_worker_config cfg = {.queue_capacity = 2, .fail_when_full = true};
    cryo_worker *w = cryo_worker_new(&cfg);
    cryo_future *busy = cryo_worker_eval(w, "loop {}");
    wait_running(busy);
    cryo_future *a = cryo_worker_eval(w, "1");
    cryo_future *b = cryo_worker_eval(w, "2");
    cryo_future *c = cryo_worker_eval(w, "3");
    assert_int_equal(cryo_future_poll(c), CRYO_FUTURE_REJECTED);
    assert_int_equal(cryo_future_error(c)->kind, CRYO_ERR_API);
    cryo_future_cancel(busy);
    assert_int_equal(int_of(a), 1);
    assert_int_equal(int_of(b), 2);
    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.rejected, 1);
    cryo_future_release(busy);
    cryo_future_release(a);
    cryo_future_release(b);
    cryo_future_release(c);
    cryo_worker_free(w);
}

typedef struct blocker_arg {
    cryo_worker *w;
    cryo_future *f;
} blocker_arg;

static void *submit_blocking(void *p) {
    blocker_arg *a = p;
    a->f = cryo_worker_eval(a->w, "3");
    return NULL;
}

static void test_backpressure_block(void **state) {
    (void)state;
    cryo_worker_config cfg = {.queue_capacity = 1};
    cryo_worker *w = cryo_worker_new(&cfg);
    cryo_future *busy = cryo_worker_eval(w, "loop {}");
    wait_running(busy);
    cryo_future *a = cryo_worker_eval(w, "1"); /* fills the queue */
    blocker_arg arg = {w, NULL};
    pthread_t t;
    pthread_create(&t, NULL, submit_blocking, &arg);
    cryo_worker_stats st;
    for (int i = 0; i < 5000; i++) { /* a, and the blocked submission (counted already) */
        cryo_worker_get_stats(w, &st);
        if (st.queued == 2) break;
        sleep_ms(1);
    }
    assert_int_equal(st.queued, 2);
    sleep_ms(10);
    assert_null(arg.f); /* still blocked: the queue is full */
    cryo_future_cancel(busy);
    pthread_join(t, NULL);
    assert_int_equal(int_of(a), 1);
    assert_int_equal(int_of(arg.f), 3);
    cryo_future_release(busy);
    cryo_future_release(a);
    cryo_future_release(arg.f);
    cryo_worker_free(w);
}

static void test_shutdown_cancel_loses_nothing(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    enum { N = 200 };
    cryo_future *fs[N];
    fs[0] = cryo_worker_eval(w, "loop {}");
    for (int i = 1; i < N; i++)
        fs[i] = cryo_worker_eval(w, i % 2 ? "1" : "loop {}");
    wait_running(fs[0]);
    cryo_worker_shutdown(w, CRYO_SHUTDOWN_CANCEL, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(cryo_future_poll(fs[i]), CRYO_FUTURE_CANCELLED);
        cryo_future_release(fs[i]);
    }
    cryo_future *late = cryo_worker_eval(w, "1");
    assert_int_equal(cryo_future_poll(late), CRYO_FUTURE_REJECTED);
    cryo_future_release(late);
    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.cancelled, N);
    assert_int_equal(st.queued + st.running, 0);
    cryo_worker_free(w);
}

static void test_shutdown_finish(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    enum { N = 100 };
    cryo_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = cryo_worker_eval(w, "let s = 0; for i in 0..1000 { s += i } s");
    cryo_worker_shutdown(w, CRYO_SHUTDOWN_FINISH, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(cryo_future_poll(fs[i]), CRYO_FUTURE_DONE);
        assert_int_equal(cryo_future_value(fs[i]).v.as.i, 499500);
        cryo_future_release(fs[i]);
    }
    cryo_worker_free(w);

    /* FINISH with a grace period turns into CANCEL for a runaway script. */
    w = cryo_worker_new(NULL);
    cryo_future *busy = cryo_worker_eval(w, "loop {}");
    cryo_future *after = cryo_worker_eval(w, "1");
    cryo_worker_shutdown(w, CRYO_SHUTDOWN_FINISH, 50);
    assert_int_equal(cryo_future_poll(busy), CRYO_FUTURE_CANCELLED);
    assert_int_equal(cryo_future_poll(after), CRYO_FUTURE_CANCELLED);
    cryo_future_release(busy);
    cryo_future_release(after);
    cryo_worker_free(w);
}

/* --- custom workers --- */

typedef struct custom_state {
    int inits, finis, handled;
} custom_state;

static void *custom_init(void *ud) {
    custom_state *s = ud;
    s->inits++;
    return s;
}

static void custom_fini(void *st) {
    ((custom_state *)st)->finis++;
}

static cryo_error_kind custom_handler(void *st, cryo_job *job, cryo_const msg, cryo_const *result,
                                      cryo_error **err) {
    custom_state *s = st;
    s->handled++;
    if (cryo_const_type(msg) == CRYO_T_STRING) {
        /* "spin": long work that polls for cancellation */
        while (!cryo_job_cancelled(job))
            sleep_ms(1);
        return CRYO_ERR_INTERRUPTED;
    }
    if (cryo_const_type(msg) != CRYO_T_INT) {
        (void)err;
        return CRYO_ERR_TYPE;
    }
    *result = cryo_const_int(msg.v.as.i * 2);
    return CRYO_OK;
}

static void test_custom_worker(void **state) {
    (void)state;
    custom_state cs = {0};
    cryo_worker_config cfg = {
        .handler = custom_handler, .init = custom_init, .fini = custom_fini, .userdata = &cs};
    cryo_worker *w = cryo_worker_new_custom(&cfg);
    assert_non_null(w);
    cryo_future *f = cryo_worker_send(w, cryo_const_int(21));
    assert_int_equal(int_of(f), 42);
    cryo_future_release(f);
    f = cryo_worker_send(w, cryo_const_float(1.5));
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_TYPE);
    cryo_future_release(f);
    cryo_const spin = cryo_const_string("spin", 4);
    f = cryo_worker_send(w, spin);
    cryo_const_release(spin);
    wait_running(f);
    assert_true(cryo_future_cancel(f));
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_CANCELLED);
    cryo_future_release(f);
    /* A timeout reaches the handler through cryo_job_cancelled too. */
    cryo_query q = {
        .kind = CRYO_QUERY_MESSAGE, .message = cryo_const_string("spin", 4), .timeout_ms = 20};
    f = cryo_worker_submit(w, &q);
    cryo_const_release(q.message);
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_INTERRUPTED);
    cryo_future_release(f);
    /* The standard queries work on custom workers too. */
    f = cryo_worker_eval(w, "2 + 3");
    assert_int_equal(int_of(f), 5);
    cryo_future_release(f);
    cryo_worker_free(w);
    assert_int_equal(cs.inits, 1);
    assert_int_equal(cs.finis, 1);
    assert_int_equal(cs.handled, 4);
    /* A plain worker refuses messages. */
    w = cryo_worker_new(NULL);
    f = cryo_worker_send(w, cryo_const_int(1));
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    cryo_future_release(f);
    cryo_worker_free(w);
    assert_null(cryo_worker_new_custom(NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_load_and_call),
        cmocka_unit_test(test_errors_keep_serving),
        cmocka_unit_test(test_cancel_running_loop),
        cmocka_unit_test(test_cancel_pending),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_sync_function),
        cmocka_unit_test(test_sync_function_cancel_and_timeout),
        cmocka_unit_test(test_backpressure_fail),
        cmocka_unit_test(test_backpressure_block),
        cmocka_unit_test(test_shutdown_cancel_loses_nothing),
        cmocka_unit_test(test_shutdown_finish),
        cmocka_unit_test(test_custom_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
