/*
 * sync_call.c — throughput of calling one SyncFunction `|x| x + k` (k captured) with
 * cryo_sync_call from 1 and from 2 threads, and the per-call cost against a Lua 5.4 lua_call
 * of the same closure, measured in the same run.
 *
 * Usage: bench-sync-call [calls per thread]   (default 5,000,000)
 * Targets (issue "Function values, into_sync and ConstValue"): 2 threads >= 1.8x the
 * throughput of 1; per call within 2x of lua_call. The machine's own 1 -> 2 thread scaling (a
 * pure C loop, hw_baseline.h) is measured in the same run and cryo's ratio printed against it.
 */
#include "cryo.h"
#include "hw_baseline.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_of(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double now(void) {
    return clock_of(CLOCK_MONOTONIC);
}
static double cpu_now(void) {
    return clock_of(CLOCK_PROCESS_CPUTIME_ID);
}

static double last_cpu; /* CPU seconds of the last cryo_run, all threads */

typedef struct job {
    cryo_sync *f;
    long calls;
    int64_t sum;
    int ok;
} job;

static void *run_calls(void *p) {
    job *j = p;
    int64_t sum = 0;
    for (long i = 0; i < j->calls; i++) {
        cryo_const a = cryo_const_int(i), r;
        if (cryo_sync_call(j->f, 1, &a, &r, NULL) != CRYO_OK) {
            j->ok = 0;
            break;
        }
        sum += r.v.as.i;
    }
    j->sum = sum;
    cryo_vm_pool_clear();
    return NULL;
}

/* Wall time of `nthreads` threads each making `calls` calls. */
static double cryo_run(cryo_sync *f, int nthreads, long calls) {
    pthread_t th[8];
    job jobs[8];
    double t0 = now(), c0 = cpu_now();
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (job){f, calls, 0, 1};
        pthread_create(&th[i], NULL, run_calls, &jobs[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    double t = now() - t0;
    last_cpu = cpu_now() - c0;
    int64_t want = (int64_t)calls * (calls - 1) / 2 + (int64_t)calls * 1;
    for (int i = 0; i < nthreads; i++)
        if (!jobs[i].ok || jobs[i].sum != want) fprintf(stderr, "wrong result in thread %d\n", i);
    return t;
}

static double lua_run(long calls) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_dostring(L, "local k = 1; return function(x) return x + k end") != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 0;
    }
    int fi = lua_gettop(L);
    int64_t sum = 0;
    double t0 = now(), c0 = cpu_now();
    for (long i = 0; i < calls; i++) {
        lua_pushvalue(L, fi);
        lua_pushinteger(L, i);
        lua_call(L, 1, 1);
        sum += lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    double t = now() - t0;
    last_cpu = cpu_now() - c0;
    if (sum != (int64_t)calls * (calls - 1) / 2 + calls) fprintf(stderr, "lua: wrong result\n");
    lua_close(L);
    return t;
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 5000000;
    if (calls <= 0) calls = 5000000;
    const char *src = "let k = 1; |x| x + k";
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    if (!u) {
        fprintf(stderr, "compile failed\n");
        return 1;
    }
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value fv;
    cryo_sync *f = NULL;
    if (cryo_vm_run(vm, NULL, 0, &fv) != CRYO_OK || cryo_vm_into_sync(vm, fv, &f) != CRYO_OK) {
        fprintf(stderr, "into_sync failed\n");
        return 1;
    }
    cryo_value_release(fv);
    cryo_vm_free(vm);
    cryo_unit_release(u);

    cryo_run(f, 1, calls / 10); /* warm up */
    double t1 = cryo_run(f, 1, calls);
    double cpu1 = last_cpu;
    double t2 = cryo_run(f, 2, calls);
    double cpu2 = last_cpu;
    double tl = lua_run(calls);
    double cpul = last_cpu;
    double ns1 = t1 * 1e9 / (double)calls, nsl = tl * 1e9 / (double)calls;
    double tp1 = (double)calls / t1, tp2 = 2.0 * (double)calls / t2;
    printf("sync_call |x| x + k, %ld calls per thread\n", calls);
    printf("  cryo 1 thread : %8.1f ns/call  %10.0f calls/s\n", ns1, tp1);
    printf("  cryo 2 threads: %8.1f ns/call  %10.0f calls/s  ratio %.2fx (target >= 1.8x)\n",
           t2 * 1e9 / (double)calls, tp2, tp2 / tp1);
    double hw = hw_scaling(t1); /* a pure C loop as long as the 1-thread cryo run */
    printf("  hardware baseline (pure C loop, same run): 1 -> 2 threads %.2fx; cryo %.2fx = %.0f%% "
           "of the machine's %.2fx\n",
           hw, tp2 / tp1, 100.0 * (tp2 / tp1) / hw, hw);
    /* CPU time per call: equal for 1 and 2 threads when the threads do not contend (shared
     * cache lines, locks); the wall-clock ratio also needs two idle cores. */
    printf("  cpu time per call: 1 thread %.1f ns, 2 threads %.1f ns (%.2fx; 1.00x = no "
           "contention)\n",
           cpu1 * 1e9 / (double)calls, cpu2 * 1e9 / (2.0 * (double)calls), (cpu2 / 2.0) / cpu1);
    printf("  lua 5.4 lua_call: %6.1f ns/call  cryo/lua %.2fx (target <= 2x)\n", nsl, ns1 / nsl);
    printf("  cpu time per call: cryo %.1f ns, lua %.1f ns, cryo/lua %.2fx\n",
           cpu1 * 1e9 / (double)calls, cpul * 1e9 / (double)calls, cpu1 / cpul);
    cryo_sync_release(f);
    cryo_vm_pool_clear();
    return 0;
}
