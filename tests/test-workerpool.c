/*
 * test-workerpool.c — pools: 100,000 submissions answered correctly and exactly once,
 * round-robin and least-loaded choice, broadcast loads, back-pressure from many threads,
 * shutdown with queued work, statistics, and scripts submitting to a pool.
 * CRYO_TEST_SCALE (a divisor, e.g. 20 under valgrind) shrinks the big counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cryo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int scaled(int n) {
    const char *s = getenv("CRYO_TEST_SCALE");
    int d = s ? atoi(s) : 1;
    return d > 1 ? n / d : n;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static cryo_sync *make_sync(const char *src) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value fn;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fn), CRYO_OK);
    cryo_sync *s = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fn, &s), CRYO_OK);
    cryo_value_release(fn);
    cryo_vm_free(vm);
    return s;
}

static void test_100k_sync_submissions(void **state) {
    (void)state;
    int n = scaled(100000);
    cryo_sync *s = make_sync("let base = 1000; |x| x * 2 + base");
    cryo_pool_config cfg = {.nworkers = 4};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    assert_non_null(p);
    assert_int_equal(cryo_worker_pool_size(p), 4);
    cryo_future **fs = malloc(sizeof(cryo_future *) * (size_t)n);
    for (int i = 0; i < n; i++) {
        cryo_const a = cryo_const_int(i);
        cryo_query q = {.kind = CRYO_QUERY_SYNC, .fn = s, .argv = &a, .argc = 1};
        fs[i] = cryo_worker_pool_submit(p, &q);
        assert_non_null(fs[i]);
    }
    for (int i = 0; i < n; i++) {
        assert_int_equal(cryo_future_wait(fs[i]), CRYO_FUTURE_DONE);
        assert_int_equal(cryo_future_value(fs[i]).v.as.i, (int64_t)i * 2 + 1000);
        cryo_future_release(fs[i]);
    }
    free(fs);
    cryo_worker_stats st;
    cryo_worker_pool_get_stats(p, &st);
    assert_int_equal(st.done, (uint64_t)n);
    assert_int_equal(st.failed + st.cancelled + st.rejected + st.queued + st.running, 0);
    cryo_worker_pool_free(p);
    cryo_sync_release(s);
}

/* Exactly once, counted by the handler itself: each message id must be handled once. */
static atomic_int *handled;

static cryo_error_kind count_handler(void *st, cryo_job *job, cryo_const msg, cryo_const *result,
                                     cryo_error **err) {
    (void)st;
    (void)job;
    (void)err;
    atomic_fetch_add(&handled[msg.v.as.i], 1);
    *result = cryo_const_int(-msg.v.as.i);
    return CRYO_OK;
}

typedef struct submitter {
    cryo_worker_pool *p;
    int from, to;
    cryo_future **fs;
} submitter;

static void *submit_range(void *arg) {
    submitter *s = arg;
    for (int i = s->from; i < s->to; i++) {
        cryo_query q = {.kind = CRYO_QUERY_MESSAGE, .message = cryo_const_int(i)};
        s->fs[i] = cryo_worker_pool_submit(s->p, &q);
    }
    return NULL;
}

static void test_100k_exactly_once_many_submitters(void **state) {
    (void)state;
    int n = scaled(100000);
    handled = calloc((size_t)n, sizeof *handled);
    cryo_pool_config cfg = {.nworkers = 3,
                            .policy = CRYO_POOL_LEAST_LOADED,
                            .worker = {.handler = count_handler, .queue_capacity = 64}};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    cryo_future **fs = calloc((size_t)n, sizeof *fs);
    enum { T = 4 };
    pthread_t th[T];
    submitter sub[T];
    for (int t = 0; t < T; t++) {
        sub[t] = (submitter){p, n * t / T, n * (t + 1) / T, fs};
        pthread_create(&th[t], NULL, submit_range, &sub[t]);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < n; i++) {
        assert_int_equal(cryo_future_wait(fs[i]), CRYO_FUTURE_DONE);
        assert_int_equal(cryo_future_value(fs[i]).v.as.i, -i);
        cryo_future_release(fs[i]);
    }
    cryo_worker_pool_free(p);
    for (int i = 0; i < n; i++)
        assert_int_equal(atomic_load(&handled[i]), 1);
    free(fs);
    free(handled);
}

static void test_least_loaded_avoids_busy_worker(void **state) {
    (void)state;
    cryo_pool_config cfg = {.nworkers = 2, .policy = CRYO_POOL_LEAST_LOADED};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    cryo_query spin = {.kind = CRYO_QUERY_EVAL, .source = "loop {}"};
    cryo_future *busy = cryo_worker_pool_submit(p, &spin);
    while (cryo_future_poll(busy) == CRYO_FUTURE_PENDING)
        sleep_ms(1);
    /* Every quick query must go to the idle worker and finish while the other spins. */
    for (int i = 0; i < 50; i++) {
        cryo_query q = {.kind = CRYO_QUERY_EVAL, .source = "21 * 2"};
        cryo_future *f = cryo_worker_pool_submit(p, &q);
        assert_int_equal(cryo_future_wait_for(f, 5000), CRYO_FUTURE_DONE);
        assert_int_equal(cryo_future_value(f).v.as.i, 42);
        cryo_future_release(f);
    }
    assert_true(cryo_future_cancel(busy));
    assert_int_equal(cryo_future_wait(busy), CRYO_FUTURE_CANCELLED);
    cryo_future_release(busy);
    cryo_worker_pool_free(p);
}

static void test_round_robin_and_broadcast(void **state) {
    (void)state;
    cryo_pool_config cfg = {.nworkers = 3};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    cryo_query load = {.kind = CRYO_QUERY_LOAD, .source = "fn sq(x) { x * x }"};
    cryo_future *fs[3];
    assert_int_equal(cryo_worker_pool_broadcast(p, &load, fs), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cryo_future_wait(fs[i]), CRYO_FUTURE_DONE);
        cryo_future_release(fs[i]);
    }
    /* Round robin: 30 calls, every worker has the function loaded. */
    cryo_future *calls[30];
    for (int i = 0; i < 30; i++) {
        cryo_const a = cryo_const_int(i);
        cryo_query q = {.kind = CRYO_QUERY_CALL, .name = "sq", .argv = &a, .argc = 1};
        calls[i] = cryo_worker_pool_submit(p, &q);
    }
    for (int i = 0; i < 30; i++) {
        assert_int_equal(cryo_future_wait(calls[i]), CRYO_FUTURE_DONE);
        assert_int_equal(cryo_future_value(calls[i]).v.as.i, i * i);
        cryo_future_release(calls[i]);
    }
    cryo_worker_pool_free(p);
}

static void test_shutdown_with_queued_work(void **state) {
    (void)state;
    int n = scaled(5000);
    cryo_pool_config cfg = {.nworkers = 2, .worker = {.queue_capacity = (size_t)n}};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    cryo_future **fs = malloc(sizeof(cryo_future *) * (size_t)n);
    for (int i = 0; i < n; i++) {
        cryo_query q = {.kind = CRYO_QUERY_EVAL,
                        .source =
                            i % 100 == 0 ? "loop {}" : "let s = 0; for i in 0..100 { s += i } s"};
        fs[i] = cryo_worker_pool_submit(p, &q);
    }
    sleep_ms(5);
    cryo_worker_pool_shutdown(p, CRYO_SHUTDOWN_CANCEL, 0);
    int done = 0, cancelled = 0;
    for (int i = 0; i < n; i++) {
        cryo_future_state s = cryo_future_poll(fs[i]);
        assert_true(s == CRYO_FUTURE_DONE || s == CRYO_FUTURE_CANCELLED);
        if (s == CRYO_FUTURE_DONE) {
            assert_int_equal(cryo_future_value(fs[i]).v.as.i, 4950);
            done++;
        } else {
            assert_int_equal(cryo_future_error(fs[i])->kind, CRYO_ERR_INTERRUPTED);
            cancelled++;
        }
        cryo_future_release(fs[i]);
    }
    assert_int_equal(done + cancelled, n);
    cryo_worker_stats st;
    cryo_worker_pool_get_stats(p, &st);
    assert_int_equal(st.done, (uint64_t)done);
    assert_int_equal(st.cancelled, (uint64_t)cancelled);
    assert_int_equal(st.queued + st.running, 0);
    cryo_query q = {.kind = CRYO_QUERY_EVAL, .source = "1"};
    cryo_future *late = cryo_worker_pool_submit(p, &q);
    assert_int_equal(cryo_future_poll(late), CRYO_FUTURE_REJECTED);
    cryo_future_release(late);
    cryo_worker_pool_free(p);
    free(fs);
}

/* Cancels racing with completion: every future ends DONE (right value) or CANCELLED, once. */
static void test_cancel_races(void **state) {
    (void)state;
    int n = scaled(20000);
    cryo_sync *s = make_sync("|x| { let t = 0; for i in 0..x % 40 { t += i; } t }");
    cryo_pool_config cfg = {.nworkers = 2, .policy = CRYO_POOL_LEAST_LOADED};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    cryo_future **fs = malloc(sizeof(cryo_future *) * (size_t)n);
    int said_cancel = 0;
    bool *will = calloc((size_t)n, sizeof *will);
    for (int i = 0; i < n; i++) {
        cryo_const a = cryo_const_int(i);
        cryo_query q = {.kind = CRYO_QUERY_SYNC, .fn = s, .argv = &a, .argc = 1};
        fs[i] = cryo_worker_pool_submit(p, &q);
        if (i >= 3 && i % 3 == 0) { /* cancel an earlier one: queued, running or done */
            will[i - 3] = cryo_future_cancel(fs[i - 3]);
            said_cancel += will[i - 3];
        }
    }
    int done = 0, cancelled = 0;
    for (int i = 0; i < n; i++) {
        cryo_future_state st = cryo_future_wait(fs[i]);
        int64_t m = i % 40;
        if (will[i]) {
            assert_int_equal(st, CRYO_FUTURE_CANCELLED);
            cancelled++;
        } else {
            assert_int_equal(st, CRYO_FUTURE_DONE);
            assert_int_equal(cryo_future_value(fs[i]).v.as.i, m * (m - 1) / 2);
            done++;
        }
        cryo_future_release(fs[i]);
    }
    cryo_worker_stats st;
    cryo_worker_pool_get_stats(p, &st);
    assert_int_equal(st.done, (uint64_t)done);
    assert_int_equal(st.cancelled, (uint64_t)said_cancel);
    assert_int_equal(done + cancelled, n);
    cryo_worker_pool_free(p);
    cryo_sync_release(s);
    free(will);
    free(fs);
}

static void test_script_submit_and_join(void **state) {
    (void)state;
    cryo_pool_config cfg = {.nworkers = 2};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    cryo_package *pkg = cryo_package_new("pool");
    assert_int_equal(cryo_worker_pool_expose(p, pkg), CRYO_OK);
    cryo_package_seal(pkg);
    cryo_package *pkgs[2] = {pkg, cryo_package_std()}; /* ours first: join */
    /* the script also spawns: a host-made context grants threads only when asked */
    cryo_context_config cc = {.packages = pkgs, .npackages = 2, .capabilities = CRYO_CAP_THREADS};
    cryo_context *ctx = cryo_context_new(&cc);
    cryo_package_release(pkg);
    const char *src = "let k = 10;\n"
                      "let hs = [];\n"
                      "for i in 0..8 { hs.push(submit(|x| x * k, i)); }\n"
                      "let total = 0;\n"
                      "for h in hs { total += join(h); }\n"
                      "let e = submit(|| throw \"bad\");\n"
                      "let msg = try { join(e); \"no\" } catch (err) { \"caught\" };\n"
                      "let t = spawn(|| 5);\n" /* the standard join still serves spawn */
                      "[total, msg, type_of(e), t.join() + join(spawn(|| 1))]";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (k != CRYO_OK) fprintf(stderr, "%s\n", cryo_vm_error(vm)->message);
    assert_int_equal(k, CRYO_OK);
    char *s = cryo_value_to_cstring(r, true);
    assert_string_equal(s, "[280, \"caught\", \"Future\", 6]");
    free(s);
    cryo_value_release(r);
    cryo_vm_free(vm);
    cryo_context_release(ctx);
    cryo_worker_pool_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_100k_sync_submissions),
        cmocka_unit_test(test_100k_exactly_once_many_submitters),
        cmocka_unit_test(test_least_loaded_avoids_busy_worker),
        cmocka_unit_test(test_round_robin_and_broadcast),
        cmocka_unit_test(test_shutdown_with_queued_work),
        cmocka_unit_test(test_cancel_races),
        cmocka_unit_test(test_script_submit_and_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
