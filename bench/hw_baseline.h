/*
 * hw_baseline.h — the machine's own 1 -> 2 thread scaling, measured in the same run as a
 * benchmark: a pure C CPU-bound loop (each thread sums in a register, shares nothing, takes no
 * lock) timed on 1 thread and on 2 threads doing the same work each. Its throughput ratio is
 * the best any program can reach here (2.00x on two idle cores; less on shared or SMT vCPUs),
 * so a benchmark prints its own scaling as a fraction of it.
 */
#ifndef CRYO_BENCH_HW_BASELINE_H
#define CRYO_BENCH_HW_BASELINE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static double hw_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *hw_loop(void *p) {
    uint64_t n = *(uint64_t *)p, s = 0;
    for (uint64_t i = 0; i < n; i++) {
        s += i * i % 7;
        __asm__ __volatile__("" : "+r"(s)); /* keep the loop, in a register */
    }
    *(uint64_t *)p = s;
    return NULL;
}

/* Wall time of `nthreads` (1 or 2) threads each running n iterations. */
static double hw_run(int nthreads, uint64_t n) {
    pthread_t th[2];
    uint64_t arg[2] = {n, n};
    double t0 = hw_now_s();
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, hw_loop, &arg[i]);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    return hw_now_s() - t0;
}

/* The 2-thread / 1-thread throughput ratio of the pure C loop, each run lasting about
 * `seconds` on one thread (calibrated first). Each configuration runs twice, alternated, and
 * its faster run counts: on a shared machine this is the best the hardware gave, which makes
 * "cryo as a fraction of it" conservative. */
static double hw_scaling(double seconds) {
    uint64_t n = 1000000;
    double t = hw_run(1, n);
    if (t > 0) n = (uint64_t)((double)n * seconds / t);
    if (n < 1000000) n = 1000000;
    double t1 = hw_run(1, n), t2 = hw_run(2, n), u1 = hw_run(1, n), u2 = hw_run(2, n);
    if (u1 < t1) t1 = u1;
    if (u2 < t2) t2 = u2;
    return 2.0 * t1 / t2;
}

#endif
