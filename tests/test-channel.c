/*
 * test-channel.c — the bounded channels under workers and the bridge, through the public API
 * (the channel itself is internal: cryo.h, "Concurrency"). A worker's queue keeps its order
 * (FIFO), holds exactly queue_capacity queries (1024 when 0), then rejects (fail_when_full) or
 * blocks the submitter until there is room, counting blocked submitters as queued; closing it
 * (shutdown) wakes a blocked submitter and resolves every future. Many producers lose and
 * duplicate nothing. The bridge's command channel serves many VM threads from many host
 * threads (each call gets its own answer), polls without blocking, times out, and its close
 * wakes every host thread blocked in cryo_bridge_next. Queries are held by the gated worker of
 * test.h, so that "full" and "blocked" are states, not timings.
 */
/* ctest-labels: threads */
#include "test.h"

#include <stdatomic.h>

static cryo_future *send_int(cryo_worker *w, int64_t i) {
    cryo_future *f = cryo_worker_send(w, cryo_const_int(i));
    assert_non_null(f);
    return f;
}

static void test_queue_is_fifo(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 64, false);
    cryo_future *f[50];
    f[0] = send_int(w, 0);
    test_gate_wait_entered(&g, 1); /* the others queue behind it */
    for (int i = 1; i < 50; i++)
        f[i] = send_int(w, i);
    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.queued, 49);
    assert_int_equal(st.running, 1);
    test_gate_open(&g);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(cryo_future_wait(f[i]), CRYO_FUTURE_DONE);
        assert_int_equal(cryo_future_value(f[i]).v.as.i, i);
        cryo_future_release(f[i]);
    }
    cryo_worker_free(w);
    assert_int_equal(g.nseen, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(g.seen[i], i);
    test_gate_destroy(&g);
}

/* Fills a fail_when_full queue of `capacity` (0 = the default) behind one running query and
 * returns how many submissions it took to get a REJECTED one. */
static size_t fill_until_rejected(size_t capacity) {
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, capacity, true);
    size_t cap = 4096, n = 0;
    cryo_future **f = calloc(cap, sizeof *f);
    f[n++] = send_int(w, 0);
    test_gate_wait_entered(&g, 1);
    while (n < cap) {
        f[n] = send_int(w, (int64_t)n);
        if (cryo_future_poll(f[n++]) == CRYO_FUTURE_REJECTED) break;
    }
    cryo_worker_stats st;
    cryo_worker_get_stats(w, &st);
    assert_int_equal(st.queued, n - 2); /* all but the running one and the rejected one */
    assert_int_equal(st.rejected, 1);
    assert_non_null(cryo_future_error(f[n - 1]));
    test_gate_open(&g);
    cryo_worker_free(w); /* FINISH: everything queued runs */
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(cryo_future_poll(f[i]), CRYO_FUTURE_DONE);
    for (size_t i = 0; i < n; i++)
        cryo_future_release(f[i]);
    free(f);
    test_gate_destroy(&g);
    return n;
}

static void test_capacity_is_exact(void **state) {
    (void)state;
    /* running + capacity queued + the rejected one */
    assert_int_equal(fill_until_rejected(1), 1 + 1 + 1);
    assert_int_equal(fill_until_rejected(5), 1 + 5 + 1);
    assert_int_equal(fill_until_rejected(0), 1 + 1024 + 1);
}

typedef struct submitter {
    cryo_worker *w;
    int64_t value;
    cryo_future *f;
    atomic_bool returned;
} submitter;

static void *submit_thread(void *p) {
    submitter *s = p;
    s->f = cryo_worker_send(s->w, cryo_const_int(s->value));
    atomic_store(&s->returned, true);
    return NULL;
}

/* Waits until the worker counts `n` queued (blocked submitters included). */
static void wait_queued(cryo_worker *w, uint64_t n) {
    cryo_worker_stats st;
    for (;;) {
        cryo_worker_get_stats(w, &st);
        if (st.queued >= n) return;
        test_sleep_ms(1);
    }
}

static void test_full_queue_blocks_until_room(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 1, false);
    cryo_future *f1 = send_int(w, 1);
    test_gate_wait_entered(&g, 1);
    cryo_future *f2 = send_int(w, 2); /* fills the queue */
    submitter s = {.w = w, .value = 3};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, submit_thread, &s), 0);
    wait_queued(w, 2); /* the blocked submitter counts as queued */
    test_sleep_ms(20);
    assert_false(atomic_load(&s.returned)); /* still blocked: no room */
    test_gate_open(&g);
    pthread_join(th, NULL);
    assert_non_null(s.f);
    assert_int_equal(cryo_future_wait(s.f), CRYO_FUTURE_DONE);
    assert_int_equal(cryo_future_value(s.f).v.as.i, 3);
    assert_int_equal(cryo_future_wait(f2), CRYO_FUTURE_DONE);
    cryo_worker_free(w);
    assert_int_equal(g.nseen, 3);
    assert_int_equal(g.seen[0], 1);
    assert_int_equal(g.seen[1], 2);
    assert_int_equal(g.seen[2], 3);
    cryo_future_release(f1);
    cryo_future_release(f2);
    cryo_future_release(s.f);
    test_gate_destroy(&g);
}

static void test_shutdown_wakes_a_blocked_submitter(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    cryo_worker *w = test_gate_worker(&g, 1, false);
    cryo_future *f1 = send_int(w, 1);
    test_gate_wait_entered(&g, 1);
    cryo_future *f2 = send_int(w, 2);
    submitter s = {.w = w, .value = 3};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, submit_thread, &s), 0);
    wait_queued(w, 2);
    /* the gate never opens: only the cancelling shutdown ends the running query */
    cryo_worker_shutdown(w, CRYO_SHUTDOWN_CANCEL, 0);
    pthread_join(th, NULL);
    assert_non_null(s.f);
    cryo_future_state st3 = cryo_future_poll(s.f);
    assert_true(st3 == CRYO_FUTURE_REJECTED || st3 == CRYO_FUTURE_CANCELLED);
    assert_int_equal(cryo_future_poll(f1), CRYO_FUTURE_CANCELLED);
    assert_int_equal(cryo_future_poll(f2), CRYO_FUTURE_CANCELLED);
    cryo_worker_free(w);
    assert_int_equal(g.nseen, 1); /* 2 and 3 never reached the handler */
    cryo_future_release(f1);
    cryo_future_release(f2);
    cryo_future_release(s.f);
    test_gate_destroy(&g);
}

/* --- many producers ----------------------------------------------------------------------------
 */

enum { PRODUCERS = 4, PER_PRODUCER = 60 };

typedef struct producer {
    cryo_worker *w;
    int id;
    cryo_future *f[PER_PRODUCER];
} producer;

static void *produce(void *p) {
    producer *pr = p;
    for (int i = 0; i < PER_PRODUCER; i++)
        pr->f[i] = cryo_worker_send(pr->w, cryo_const_int(pr->id * 1000 + i));
    return NULL;
}

static void test_many_producers_lose_nothing(void **state) {
    (void)state;
    test_gate g;
    test_gate_init(&g);
    test_gate_open(&g);
    cryo_worker *w = test_gate_worker(&g, 8, false); /* small: producers block often */
    producer pr[PRODUCERS];
    pthread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        pr[i] = (producer){.w = w, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &pr[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < PRODUCERS; i++)
        for (int j = 0; j < PER_PRODUCER; j++) {
            assert_int_equal(cryo_future_wait(pr[i].f[j]), CRYO_FUTURE_DONE);
            assert_int_equal(cryo_future_value(pr[i].f[j]).v.as.i, i * 1000 + j);
            cryo_future_release(pr[i].f[j]);
        }
    cryo_worker_free(w);
    /* each message once, and each producer's messages in the order it sent them */
    assert_int_equal(g.nseen, PRODUCERS * PER_PRODUCER);
    int next[PRODUCERS] = {0};
    for (int k = 0; k < g.nseen; k++) {
        int id = (int)(g.seen[k] / 1000), i = (int)(g.seen[k] % 1000);
        assert_in_range(id, 0, PRODUCERS - 1);
        assert_int_equal(i, next[id]);
        next[id]++;
    }
    test_gate_destroy(&g);
}

/* --- the bridge's command channel --------------------------------------------------------------
 */

enum { VM_THREADS = 4, HOST_THREADS = 2, CALLS = 25 };

typedef struct bridge_fx {
    cryo_bridge *b;
    cryo_context *ctx;
    atomic_int served;
    atomic_int bad; /* calls that were not ask(x) (counted: no cmocka assert off the main thread) */
} bridge_fx;

/* A host thread: answers ask(x) with x * 2 until the bridge is closed and drained. */
static void *host_thread(void *p) {
    bridge_fx *fx = p;
    cryo_bridge_call *c;
    while ((c = cryo_bridge_next(fx->b, -1)) != NULL) {
        if (strcmp(cryo_bridge_call_name(c), "ask") != 0 || cryo_bridge_call_argc(c) != 1)
            atomic_fetch_add(&fx->bad, 1);
        int64_t x = cryo_bridge_call_arg(c, 0).v.as.i;
        atomic_fetch_add(&fx->served, 1);
        cryo_bridge_reply(c, cryo_const_int(x * 2));
    }
    return NULL;
}

typedef struct vm_thread {
    bridge_fx *fx;
    int id;
    cryo_error_kind kind;
    int64_t result;
} vm_thread;

/* A VM thread: CALLS calls, each checking its own answer; the result is their sum. */
static void *vm_thread_main(void *p) {
    vm_thread *t = p;
    char src[256];
    snprintf(src, sizeof src,
             "let s = 0; for i in 0..%d { let x = %d * 1000 + i; let r = ask(x);"
             " if r != x * 2 { throw `wrong answer ${r} for ${x}`; } s += r; } s",
             CALLS, t->id);
    char out[256];
    t->kind = test_run(t->fx->ctx, src, TEST_NO_LIMIT, 0, out, sizeof out);
    t->result = t->kind == CRYO_OK ? strtoll(out, NULL, 10) : -1;
    cryo_vm_pool_clear();
    return NULL;
}

static void test_bridge_many_to_many(void **state) {
    (void)state;
    bridge_fx fx = {.b = cryo_bridge_new(2)};
    assert_non_null(fx.b);
    cryo_package *pkg = cryo_package_new("bridge");
    assert_int_equal(cryo_bridge_register(fx.b, pkg, "ask", 1, 0, NULL), CRYO_OK);
    cryo_package *pk[2] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pk, .npackages = 2};
    fx.ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    /* an empty channel: a poll and a short wait give NULL */
    assert_null(cryo_bridge_next(fx.b, 0));
    assert_null(cryo_bridge_next(fx.b, 10));

    pthread_t hosts[HOST_THREADS], vms[VM_THREADS];
    vm_thread vt[VM_THREADS];
    for (int i = 0; i < HOST_THREADS; i++)
        assert_int_equal(pthread_create(&hosts[i], NULL, host_thread, &fx), 0);
    for (int i = 0; i < VM_THREADS; i++) {
        vt[i] = (vm_thread){.fx = &fx, .id = i + 1};
        assert_int_equal(pthread_create(&vms[i], NULL, vm_thread_main, &vt[i]), 0);
    }
    for (int i = 0; i < VM_THREADS; i++) {
        pthread_join(vms[i], NULL);
        assert_int_equal(vt[i].kind, CRYO_OK);
        int64_t want = 0;
        for (int c = 0; c < CALLS; c++)
            want += ((int64_t)vt[i].id * 1000 + c) * 2;
        assert_int_equal(vt[i].result, want);
    }
    assert_int_equal(atomic_load(&fx.served), VM_THREADS * CALLS);
    assert_int_equal(atomic_load(&fx.bad), 0);
    /* the host threads are blocked in cryo_bridge_next(-1): closing wakes them all (NULL) */
    cryo_bridge_close(fx.b);
    for (int i = 0; i < HOST_THREADS; i++)
        pthread_join(hosts[i], NULL);
    assert_null(cryo_bridge_next(fx.b, 0));
    /* a call after the close raises a catchable error */
    EXPECT_ERR_IN(fx.ctx, "ask(1)", CRYO_ERR_RUNTIME, "the bridge is closed");
    EXPECT_IN(fx.ctx, "try { ask(1) } catch (e) { \"caught\" }", "\"caught\"");
    cryo_context_release(fx.ctx);
    cryo_bridge_free(fx.b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_is_fifo),
        cmocka_unit_test(test_capacity_is_exact),
        cmocka_unit_test(test_full_queue_blocks_until_room),
        cmocka_unit_test(test_shutdown_wakes_a_blocked_submitter),
        cmocka_unit_test(test_many_producers_lose_nothing),
        cmocka_unit_test(test_bridge_many_to_many),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    cryo_vm_pool_clear();
    return r;
}
