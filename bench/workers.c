/*
 * workers.c — benchmarks of workers, pools and the bridge:
 *   1. round-trip latency of one query to an idle worker (median, 99th percentile): a
 *      SyncFunction call, a custom-handler echo, an eval of "1";
 *   2. throughput of a pool with 1 and 2 workers on a CPU-bound SyncFunction (and the ratio);
 *   3. round-trip latency of a bridge call (script -> host thread -> script);
 *   4. the machine's own 1 -> 2 thread scaling (pure C loop, hw_baseline.h) in the same run,
 *      and the pool's speed-up as a fraction of it.
 * Never part of the test run; see run.sh.
 */
#include "hw_baseline.h"

#include <cryo.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *lat, int n) {
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("%-44s median %7.2f us   p99 %7.2f us   (n=%d)\n", what, lat[n / 2],
           lat[(int)((double)n * 0.99)], n);
}

static cryo_sync *make_sync(const char *src) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    if (!u) exit(1);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value fn;
    cryo_sync *s = NULL;
    if (cryo_vm_run(vm, NULL, 0, &fn) != CRYO_OK || cryo_vm_into_sync(vm, fn, &s) != CRYO_OK)
        exit(1);
    cryo_value_release(fn);
    cryo_vm_free(vm);
    return s;
}

static cryo_error_kind echo(void *st, cryo_job *job, cryo_const msg, cryo_const *result,
                            cryo_error **err) {
    (void)st, (void)job, (void)err;
    *result = cryo_const_retain(msg);
    return CRYO_OK;
}

static void latency(int n) {
    double *lat = malloc(sizeof(double) * (size_t)n);
    cryo_sync *inc = make_sync("|x| x + 1");
    cryo_worker *w = cryo_worker_new(NULL);
    for (int i = 0; i < n + 1000; i++) { /* 1000 warm-up round trips */
        cryo_const a = cryo_const_int(i);
        double t0 = now_us();
        cryo_future *f = cryo_worker_call_sync(w, inc, 1, &a);
        cryo_future_wait(f);
        double t1 = now_us();
        if (cryo_future_value(f).v.as.i != i + 1) exit(2);
        cryo_future_release(f);
        if (i >= 1000) lat[i - 1000] = t1 - t0;
    }
    report("round trip, SyncFunction |x| x + 1", lat, n);
    for (int i = 0; i < n + 1000; i++) {
        double t0 = now_us();
        cryo_future *f = cryo_worker_eval(w, "1");
        cryo_future_wait(f);
        double t1 = now_us();
        cryo_future_release(f);
        if (i >= 1000) lat[i - 1000] = t1 - t0;
    }
    report("round trip, eval \"1\" (compile + run)", lat, n);
    cryo_worker_free(w);

    cryo_worker_config cfg = {.handler = echo};
    w = cryo_worker_new_custom(&cfg);
    for (int i = 0; i < n + 1000; i++) {
        double t0 = now_us();
        cryo_future *f = cryo_worker_send(w, cryo_const_int(i));
        cryo_future_wait(f);
        double t1 = now_us();
        cryo_future_release(f);
        if (i >= 1000) lat[i - 1000] = t1 - t0;
    }
    report("round trip, custom worker echo", lat, n);
    cryo_worker_free(w);
    cryo_sync_release(inc);
    free(lat);
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Calls per wall-clock second; *per_cpu gets calls per CPU-second (process CPU time), which
 * stays the same from 1 to 2 workers when nothing is contended, whatever else runs. */
static double throughput(cryo_sync *work, int nworkers, int calls, double *per_cpu) {
    cryo_pool_config cfg = {.nworkers = nworkers};
    cryo_worker_pool *p = cryo_worker_pool_new(&cfg);
    cryo_future **fs = malloc(sizeof(cryo_future *) * (size_t)calls);
    double t0 = now_us(), c0 = cpu_s();
    for (int i = 0; i < calls; i++) {
        cryo_const a = cryo_const_int(20000 + i % 7);
        cryo_query q = {.kind = CRYO_QUERY_SYNC, .fn = work, .argv = &a, .argc = 1};
        fs[i] = cryo_worker_pool_submit(p, &q);
    }
    for (int i = 0; i < calls; i++) {
        if (cryo_future_wait(fs[i]) != CRYO_FUTURE_DONE) exit(3);
        cryo_future_release(fs[i]);
    }
    double t1 = now_us();
    *per_cpu = (double)calls / (cpu_s() - c0);
    free(fs);
    cryo_worker_pool_free(p);
    return (double)calls / ((t1 - t0) / 1e6);
}

static void *host_thread(void *arg) {
    cryo_bridge_call *c;
    while ((c = cryo_bridge_next(arg, -1)) != NULL)
        cryo_bridge_reply(c, cryo_const_retain(cryo_bridge_call_arg(c, 0)));
    return NULL;
}

static void bridge(int n) {
    cryo_bridge *b = cryo_bridge_new(0);
    cryo_package *pkg = cryo_package_new("b");
    cryo_bridge_register(b, pkg, "ping", 1, 0, NULL);
    cryo_package_seal(pkg);
    cryo_package *pkgs[2] = {cryo_package_std(), pkg};
    cryo_context_config cc = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cc);
    cryo_package_release(pkg);
    pthread_t host;
    pthread_create(&host, NULL, host_thread, b);
    const char *src = "fn p(x) { ping(x) }";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    double *lat = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n + 1000; i++) {
        cryo_value a = cryo_int(i), r;
        double t0 = now_us();
        if (cryo_vm_call(vm, "p", 1, &a, &r) != CRYO_OK || r.as.i != i) exit(4);
        double t1 = now_us();
        if (i >= 1000) lat[i - 1000] = t1 - t0;
    }
    report("bridge round trip, script -> host -> script", lat, n);
    free(lat);
    cryo_vm_free(vm);
    cryo_bridge_close(b);
    pthread_join(host, NULL);
    cryo_bridge_free(b);
    cryo_context_release(ctx);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    latency(n);
    cryo_sync *work = make_sync("|n| { let s = 0; for i in 0..n { s += i * i % 7; } s }");
    int calls = 800;
    double c1, c2;
    double t1 = throughput(work, 1, calls, &c1), t2 = throughput(work, 2, calls, &c2);
    double hw = hw_scaling((double)calls / t1); /* as long as the 1-worker run */
    printf("pool throughput, CPU-bound SyncFunction:    1 worker %6.0f calls/s, 2 workers %6.0f "
           "calls/s, speed-up %.2fx\n",
           t1, t2, t2 / t1);
    printf("  hardware baseline (pure C loop, same run): 1 -> 2 threads %.2fx; cryo %.2fx = %.0f%% "
           "of the machine's %.2fx\n",
           hw, t2 / t1, 100.0 * (t2 / t1) / hw, hw);
    printf("  per CPU-second:                           1 worker %6.0f calls,   2 workers %6.0f "
           "calls   (ratio %.2f; 1.00 = no contention)\n",
           c1, c2, c2 / c1);
    cryo_sync_release(work);
    bridge(n);
    cryo_vm_pool_clear();
    return 0;
}
