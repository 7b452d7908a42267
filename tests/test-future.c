/*
 * test-future.c — futures (cryo.h, "Futures"): the states a query goes through (PENDING,
 * RUNNING, then exactly one of DONE, FAILED, CANCELLED, REJECTED), wait / wait_for / poll,
 * cancellation of a pending and of a running query, the value and the error of each final state
 * (kinds, messages, positions), references (retain/release; dropping an unresolved future does
 * not cancel it; a value outlives its future when retained) and many threads waiting on one
 * future. Queries go to a gated custom worker (test.h), so that each state is held as long as
 * the test needs it, without timing.
 */
/* ctest-labels: threads */
#include "test.h"

static cryo_future *send_int(cryo_worker *w, int64_t i) {
    cryo_future *f = cryo_worker_send(w, cryo_const_int(i));
    assert_non_null(f);
    return f;
}

static void test_states_in_order(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 8, false);
    cryo_future *f1 = send_int(w, 1);
    test_gate_wait_entered(&g, 1);
    cryo_future *f2 = send_int(w, 2);
    assert_int_equal(cryo_future_poll(f1), CRYO_FUTURE_RUNNING);
    assert_int_equal(cryo_future_poll(f2), CRYO_FUTURE_PENDING);
    assert_false(cryo_future_state_final(CRYO_FUTURE_RUNNING));
    /* nothing to read before the end */
    assert_int_equal(cryo_const_type(cryo_future_value(f1)), CRYO_T_UNIT);
    assert_null(cryo_future_error(f1));
    /* a wait that times out gives the state then, and cancels nothing */
    assert_int_equal(cryo_future_wait_for(f2, 20), CRYO_FUTURE_PENDING);
    assert_int_equal(cryo_future_wait_for(f1, 0), CRYO_FUTURE_RUNNING);
    assert_int_equal(cryo_future_poll(f2), CRYO_FUTURE_PENDING);

    test_gate_open(&g);
    assert_int_equal(cryo_future_wait(f1), CRYO_FUTURE_DONE);
    assert_true(cryo_future_state_final(cryo_future_poll(f1)));
    assert_int_equal(cryo_future_value(f1).v.as.i, 1);
    assert_null(cryo_future_error(f1));
    assert_int_equal(cryo_future_wait_for(f2, 60000), CRYO_FUTURE_DONE);
    assert_int_equal(cryo_future_value(f2).v.as.i, 2);
    /* a resolved future stays resolved: wait again returns at once */
    assert_int_equal(cryo_future_wait(f2), CRYO_FUTURE_DONE);

    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.done, 2);
    assert_int_equal(st.failed + st.cancelled + st.rejected, 0);
    cryo_future_release(f1);
    cryo_future_release(f2);
    cryo_worker_free(w);
    test_gate_destroy(&g);
}

static void test_failed_keeps_the_error(void **state) {
    (void)state;
    /* a script error: kind, message, line and column as the script raised it */
    cryo_worker *w = cryo_worker_new(NULL);
    assert_non_null(w);
    cryo_future *f = cryo_worker_eval(w, "let x = 1;\nlet y = x + 1;\n  throw `bad ${y}`;");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    const cryo_error *e = cryo_future_error(f);
    assert_non_null(e);
    assert_int_equal(e->kind, CRYO_ERR_RUNTIME);
    assert_non_null(strstr(e->message, "bad 2"));
    assert_int_equal(e->line, 3);
    assert_int_equal(e->column, 3);
    assert_int_equal(cryo_const_type(cryo_future_value(f)), CRYO_T_UNIT);
    cryo_future_release(f);
    /* a compile error fails the query too */
    f = cryo_worker_eval(w, "1 +");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_PARSE);
    cryo_future_release(f);
    cryo_worker_free(w);

    /* a handler's error without a message: the worker makes one up, with the handler's kind */
    test_gate g;
    test_gate_init(&g);
    test_gate_open(&g);
    w = test_gate_worker(&g, 4, false);
    cryo_const fail = cryo_const_string("fail", 4);
    f = cryo_worker_send(w, fail);
    cryo_const_release(fail);
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_FAILED);
    e = cryo_future_error(f);
    assert_non_null(e);
    assert_int_equal(e->kind, CRYO_ERR_ARGUMENT);
    assert_non_null(e->message);
    assert_true(strlen(e->message) > 0);
    cryo_future_release(f);
    cryo_worker_free(w);
    test_gate_destroy(&g);
}

static void test_cancel(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 8, false);
    cryo_future *running = send_int(w, 1);
    test_gate_wait_entered(&g, 1);
    cryo_future *pending = send_int(w, 2);

    /* pending: CANCELLED at once, and it never runs */
    assert_true(cryo_future_cancel(pending));
    assert_int_equal(cryo_future_poll(pending), CRYO_FUTURE_CANCELLED);
    const cryo_error *e = cryo_future_error(pending);
    assert_non_null(e);
    assert_int_equal(e->kind, CRYO_ERR_INTERRUPTED);
    assert_string_equal(e->message, "query cancelled before it started");
    assert_false(cryo_future_cancel(pending)); /* twice: harmless, already resolved */
    assert_int_equal(cryo_future_poll(pending), CRYO_FUTURE_CANCELLED);

    /* running: the handler sees the cancellation and the future ends CANCELLED */
    assert_true(cryo_future_cancel(running));
    assert_int_equal(cryo_future_wait(running), CRYO_FUTURE_CANCELLED);
    assert_non_null(cryo_future_error(running));
    assert_int_equal(cryo_future_error(running)->kind, CRYO_ERR_INTERRUPTED);

    /* a DONE future cannot be cancelled: it keeps its value */
    test_gate_open(&g);
    cryo_future *done = send_int(w, 3);
    assert_int_equal(cryo_future_wait(done), CRYO_FUTURE_DONE);
    assert_false(cryo_future_cancel(done));
    assert_int_equal(cryo_future_poll(done), CRYO_FUTURE_DONE);
    assert_int_equal(cryo_future_value(done).v.as.i, 3);

    cryo_worker_free(w);
    /* the handler saw 1 and 3, never the cancelled 2 */
    assert_int_equal(g.nseen, 2);
    assert_int_equal(g.seen[0], 1);
    assert_int_equal(g.seen[1], 3);
    cryo_future_release(running);
    cryo_future_release(pending);
    cryo_future_release(done);
    test_gate_destroy(&g);
}

static void test_cancel_running_script(void **state) {
    (void)state;
    cryo_worker *w = cryo_worker_new(NULL);
    cryo_future *f = cryo_worker_eval(w, "loop {}");
    while (cryo_future_poll(f) == CRYO_FUTURE_PENDING)
        test_sleep_ms(1);
    assert_true(cryo_future_cancel(f));
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_CANCELLED);
    assert_int_equal(cryo_future_error(f)->kind, CRYO_ERR_INTERRUPTED);
    cryo_future_release(f);
    /* the worker goes on serving */
    f = cryo_worker_eval(w, "6 * 7");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_DONE);
    assert_int_equal(cryo_future_value(f).v.as.i, 42);
    cryo_future_release(f);
    cryo_worker_free(w);
}

static void test_rejected(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 1, true);
    cryo_future *running = send_int(w, 1);
    test_gate_wait_entered(&g, 1);
    cryo_future *queued = send_int(w, 2);
    cryo_future *full = send_int(w, 3); /* the queue holds 1: REJECTED, never queued */
    assert_int_equal(cryo_future_poll(full), CRYO_FUTURE_REJECTED);
    assert_int_equal(cryo_future_wait(full), CRYO_FUTURE_REJECTED);
    assert_non_null(cryo_future_error(full));
    assert_false(cryo_future_cancel(full));
    test_gate_open(&g);
    cryo_worker_shutdown(w, CRYO_SHUTDOWN_FINISH, 0);
    /* on return from shutdown every future is resolved */
    assert_int_equal(cryo_future_poll(running), CRYO_FUTURE_DONE);
    assert_int_equal(cryo_future_poll(queued), CRYO_FUTURE_DONE);
    cryo_future *late = send_int(w, 4); /* after shutdown */
    assert_int_equal(cryo_future_poll(late), CRYO_FUTURE_REJECTED);
    assert_non_null(cryo_future_error(late));
    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.done, 2);
    assert_int_equal(st.rejected, 2);
    cryo_future_release(running);
    cryo_future_release(queued);
    cryo_future_release(full);
    cryo_future_release(late);
    cryo_worker_free(w);
    assert_int_equal(g.nseen, 2);
    test_gate_destroy(&g);
}

static void test_references(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 8, false);
    /* dropping the last host reference of an unresolved future does not cancel it */
    cryo_future *f = send_int(w, 7);
    test_gate_wait_entered(&g, 1);
    cryo_future *queued = send_int(w, 8);
    cryo_future_release(f);
    cryo_future_release(queued);
    /* a retained future is the same object, alive until both references go */
    cryo_const text = cryo_const_string("kept", 4);
    f = cryo_worker_send(w, text);
    cryo_const_release(text);
    assert_ptr_equal(cryo_future_retain(f), f);
    cryo_future_release(f);
    test_gate_open(&g);
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_DONE);
    /* the value is borrowed from the future: retained, it outlives it */
    cryo_const v = cryo_const_retain(cryo_future_value(f));
    cryo_future_release(f);
    size_t len = 0;
    assert_string_equal(cryo_value_str(v.v, &len), "kept");
    assert_int_equal(len, 4);
    cryo_const_release(v);
    cryo_future_release(NULL);
    cryo_worker_shutdown(w, CRYO_SHUTDOWN_FINISH, 0);
    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.done, 3); /* 7 and 8 ran and were answered, with nobody to read them */
    assert_int_equal(st.cancelled, 0);
    assert_int_equal(g.nseen, 2);
    assert_int_equal(g.seen[0], 7);
    assert_int_equal(g.seen[1], 8);
    cryo_worker_free(w);
    test_gate_destroy(&g);
}

/* --- many waiters ---------------------------------------------------------------------------- */

enum { WAITERS = 8 };

typedef struct waiter {
    cryo_future *f;
    int how; /* 0: wait, 1: wait_for, 2: poll */
    cryo_future_state got;
    int64_t value;
} waiter;

static void *wait_thread(void *p) {
    waiter *wt = p;
    if (wt->how == 0) {
        wt->got = cryo_future_wait(wt->f);
    } else if (wt->how == 1) {
        wt->got = cryo_future_wait_for(wt->f, 60000);
    } else {
        while (!cryo_future_state_final(wt->got = cryo_future_poll(wt->f)))
            test_sleep_ms(1);
    }
    wt->value = cryo_future_value(wt->f).v.as.i;
    cryo_future_release(wt->f); /* each thread drops its own reference */
    return NULL;
}

static void test_many_threads_wait_on_one_future(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 8, false);
    cryo_future *f = send_int(w, 99);
    waiter wt[WAITERS];
    pthread_t th[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        wt[i] = (waiter){.f = cryo_future_retain(f), .how = i % 3};
        assert_int_equal(pthread_create(&th[i], NULL, wait_thread, &wt[i]), 0);
    }
    test_gate_wait_entered(&g, 1);
    test_sleep_ms(5); /* let the waiters block (not needed for correctness) */
    test_gate_open(&g);
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(wt[i].got, CRYO_FUTURE_DONE);
        assert_int_equal(wt[i].value, 99);
    }
    cryo_future_release(f);
    cryo_worker_free(w);
    test_gate_destroy(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states_in_order),
        cmocka_unit_test(test_failed_keeps_the_error),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_running_script),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_many_threads_wait_on_one_future),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
