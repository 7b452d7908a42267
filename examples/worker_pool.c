/*
 * worker_pool.c — a pool of 4 worker threads: a script closure frozen into a SyncFunction is
 * called 10,000 times on the pool while one long-running script runs alongside; every result
 * is checked, the long task is stopped by its timeout, and the pool shuts down cleanly.
 *
 * Build against an installed cryo:  cc worker_pool.c $(pkg-config --cflags --libs cryo)
 */
#include <cryo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The script returns a closure; `into_sync` freezes it (and its captured `offset`). */
static const char script[] = "let offset = 7;\n"
                             "|x| { let s = 0; for i in 0..x % 50 { s += i; } s + offset }";

static int64_t expected(int64_t x) {
    int64_t n = x % 50;
    return n * (n - 1) / 2 + 7;
}

int main(void) {
    /* 1. Compile, run once, freeze the closure into a SyncFunction. */
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(script, strlen(script), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return 1;
    }
    cryo_vm *vm = cryo_vm_new(unit, NULL);
    cryo_unit_release(unit);
    cryo_value closure;
    cryo_sync *fn = NULL;
    if (cryo_vm_run(vm, NULL, 0, &closure) != CRYO_OK ||
        cryo_vm_into_sync(vm, closure, &fn) != CRYO_OK) {
        fprintf(stderr, "freeze: %s\n", cryo_vm_error(vm)->message);
        return 1;
    }
    cryo_value_release(closure);
    cryo_vm_free(vm); /* the SyncFunction keeps what it needs */

    /* 2. A pool of 4 workers, least-loaded submission so the long task does not hold work. */
    cryo_pool_config cfg = {.nworkers = 4, .policy = CRYO_POOL_LEAST_LOADED};
    cryo_worker_pool *pool = cryo_worker_pool_new(&cfg);
    if (!pool) return 1;

    /* 3. One long-running task: an endless loop with a 300 ms timeout. */
    cryo_query long_task = {
        .kind = CRYO_QUERY_EVAL, .source = "let n = 0; loop { n += 1; }", .timeout_ms = 300};
    cryo_future *slow = cryo_worker_pool_submit(pool, &long_task);

    /* 4. 10,000 calls of the SyncFunction; arguments are consts (copied into the query). */
    enum { N = 10000 };
    cryo_future **calls = malloc(sizeof(cryo_future *) * N);
    for (int i = 0; i < N; i++) {
        cryo_const arg = cryo_const_int(i);
        cryo_query q = {.kind = CRYO_QUERY_SYNC, .fn = fn, .argv = &arg, .argc = 1};
        calls[i] = cryo_worker_pool_submit(pool, &q);
    }
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        if (cryo_future_wait(calls[i]) != CRYO_FUTURE_DONE ||
            cryo_future_value(calls[i]).v.as.i != expected(i))
            wrong++;
        cryo_future_release(calls[i]);
    }
    free(calls);
    printf("%d calls, %d wrong\n", N, wrong);

    /* 5. The long task ends by its timeout: an error value, not a crash or a hang. */
    cryo_future_state s = cryo_future_wait(slow);
    const cryo_error *e = cryo_future_error(slow);
    printf("long task: %s (%s)\n", s == CRYO_FUTURE_FAILED ? "failed" : "?", e ? e->message : "-");
    bool slow_ok = s == CRYO_FUTURE_FAILED && e && e->kind == CRYO_ERR_INTERRUPTED;
    cryo_future_release(slow);

    cryo_worker_stats st;
    cryo_worker_pool_get_stats(pool, &st);
    printf("stats: done %llu, failed %llu, cancelled %llu\n", (unsigned long long)st.done,
           (unsigned long long)st.failed, (unsigned long long)st.cancelled);

    /* 6. Orderly shutdown: finish what is queued, join the threads. */
    cryo_worker_pool_free(pool);
    cryo_sync_release(fn);
    return wrong == 0 && slow_ok && st.done == N ? 0 : 1;
}
