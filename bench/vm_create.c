/*
 * bench-vm-create — what an execution state costs, cryo vs Lua 5.4, side by side:
 *   - cryo: VM create + destroy over a shared unit and the std package (context)
 *   - cryo: the same plus one call of a small script function (the "engine per call" pattern)
 *   - cryo: pooled acquire + release (per-thread pool)
 *   - Lua 5.4: luaL_newstate + luaL_openlibs + lua_close, and bare luaL_newstate + lua_close
 * and the cost of calling a host (C) function from a script:
 *   - 10,000,000 calls of a host `add(a, b)` from a cryo loop vs a Lua loop calling a
 *     lua_CFunction, with the ratio.
 * Every number is the best of 5 batches.
 */
#include "cryo.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BEST_OF 5

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef void (*bench_fn)(void *arg, long n);

/* Best time per iteration (ns) over BEST_OF batches of n. */
static double best_ns(bench_fn fn, void *arg, long n) {
    double best = 1e30;
    for (int r = 0; r < BEST_OF; r++) {
        double t0 = now_s();
        fn(arg, n);
        double t = (now_s() - t0) * 1e9 / (double)n;
        if (t < best) best = t;
    }
    return best;
}

static volatile long sink;

/* --- cryo ----------------------------------------------------------------------------------- */

typedef struct cryo_args {
    cryo_unit *unit;
    cryo_context *ctx;
} cryo_args;

static void cryo_create_free(void *arg, long n) {
    cryo_args *a = arg;
    for (long i = 0; i < n; i++) {
        cryo_vm *vm = cryo_vm_new(a->unit, a->ctx);
        sink += vm != NULL;
        cryo_vm_free(vm);
    }
}

static void cryo_create_call_free(void *arg, long n) {
    cryo_args *a = arg;
    for (long i = 0; i < n; i++) {
        cryo_vm *vm = cryo_vm_new(a->unit, a->ctx);
        cryo_value x = cryo_int(i), r;
        if (cryo_vm_call(vm, "f", 1, &x, &r) == CRYO_OK) sink += r.as.i;
        cryo_vm_free(vm);
    }
}

static void cryo_pool(void *arg, long n) {
    cryo_args *a = arg;
    for (long i = 0; i < n; i++) {
        cryo_vm *vm = cryo_vm_pool_acquire(a->unit, a->ctx);
        sink += vm != NULL;
        cryo_vm_pool_release(vm);
    }
}

static void cryo_pool_call(void *arg, long n) {
    cryo_args *a = arg;
    for (long i = 0; i < n; i++) {
        cryo_vm *vm = cryo_vm_pool_acquire(a->unit, a->ctx);
        cryo_value x = cryo_int(i), r;
        if (cryo_vm_call(vm, "f", 1, &x, &r) == CRYO_OK) sink += r.as.i;
        cryo_vm_pool_release(vm);
    }
}

/* --- Lua 5.4 -------------------------------------------------------------------------------- */

static void lua_bare(void *arg, long n) {
    (void)arg;
    for (long i = 0; i < n; i++) {
        lua_State *L = luaL_newstate();
        sink += L != NULL;
        lua_close(L);
    }
}

static void lua_libs(void *arg, long n) {
    (void)arg;
    for (long i = 0; i < n; i++) {
        lua_State *L = luaL_newstate();
        luaL_openlibs(L);
        sink += L != NULL;
        lua_close(L);
    }
}

/* --- host function calls -----------------------------------------------------------------------
 */

static cryo_error_kind host_add(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_INT || argv[1]->type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "add: ints expected");
    *ret = cryo_int(argv[0]->as.i + argv[1]->as.i);
    return CRYO_OK;
}

static int lua_add(lua_State *L) {
    lua_Integer a = luaL_checkinteger(L, 1), b = luaL_checkinteger(L, 2);
    lua_pushinteger(L, a + b);
    return 1;
}

#define NCALLS 10000000L

static double time_cryo_host_calls(long *result) {
    const char *src = "let s = 0; for i in 0..10000000 { s = add(s, i) } s";
    cryo_package *p = cryo_package_new("bench");
    cryo_package_add(p, "add", 2, host_add, NULL);
    cryo_package_seal(p);
    cryo_context_config cfg = {.packages = &p, .npackages = 1};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(p);
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        cryo_vm *vm = cryo_vm_new(u, ctx);
        cryo_value v;
        double t0 = now_s();
        cryo_vm_run(vm, NULL, 0, &v);
        double t = now_s() - t0;
        *result = (long)v.as.i;
        if (t < best) best = t;
        cryo_vm_free(vm);
    }
    cryo_unit_release(u);
    cryo_context_release(ctx);
    return best;
}

static double time_lua_host_calls(long *result) {
    const char *src = "local s = 0; for i = 0, 9999999 do s = add(s, i) end; return s";
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        lua_State *L = luaL_newstate();
        luaL_openlibs(L);
        lua_register(L, "add", lua_add);
        luaL_loadstring(L, src);
        double t0 = now_s();
        lua_call(L, 0, 1);
        double t = now_s() - t0;
        *result = (long)lua_tointeger(L, -1);
        if (t < best) best = t;
        lua_close(L);
    }
    return best;
}

int main(void) {
    const char *src = "fn f(x) { x + 1 }\nlet y = [1, 2, 3];\ny.len()";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    if (!u) return 1;
    cryo_args a = {u, cryo_context_std()};
    /* Bind the unit to the context once (cached), as a server would after its first VM. */
    cryo_vm_free(cryo_vm_new(u, a.ctx));
    {
        cryo_vm *vm = cryo_vm_new(u, a.ctx);
        cryo_vm_run(vm, NULL, 0, NULL);
        cryo_vm_free(vm);
    }

    const long N = 1000000, NL = 20000;
    double c_new = best_ns(cryo_create_free, &a, N);
    double c_new_call = best_ns(cryo_create_call_free, &a, N);
    double c_pool = best_ns(cryo_pool, &a, N);
    double c_pool_call = best_ns(cryo_pool_call, &a, N);
    double l_bare = best_ns(lua_bare, NULL, NL * 10);
    double l_libs = best_ns(lua_libs, NULL, NL);

    printf("VM creation (ns per create+destroy, best of %d)\n", BEST_OF);
    printf("  %-58s %10.1f ns\n", "cryo: cryo_vm_new + cryo_vm_free (shared unit, std)", c_new);
    printf("  %-58s %10.1f ns\n", "cryo: new + call f(x) + free", c_new_call);
    printf("  %-58s %10.1f ns\n", "cryo: cryo_vm_pool_acquire + release", c_pool);
    printf("  %-58s %10.1f ns\n", "cryo: pool acquire + call f(x) + release", c_pool_call);
    printf("  %-58s %10.1f ns\n", "Lua 5.4: luaL_newstate + lua_close", l_bare);
    printf("  %-58s %10.1f ns\n", "Lua 5.4: luaL_newstate + luaL_openlibs + lua_close", l_libs);
    printf("  ratio Lua bare / cryo new:       %6.1fx (target >= 10x)\n", l_bare / c_new);
    printf("  ratio Lua+libs / cryo new:       %6.1fx\n", l_libs / c_new);
    printf("  ratio Lua bare / cryo pooled:    %6.1fx\n", l_bare / c_pool);

    long rc = 0, rl = 0;
    double tc = time_cryo_host_calls(&rc);
    double tl = time_lua_host_calls(&rl);
    printf("\nHost function calls: %ld calls of add(s, i) in a script loop (best of 3)\n", NCALLS);
    printf("  %-58s %10.3f s  (%5.1f ns/call)\n", "cryo: host add (cryo_host_fn)", tc,
           tc * 1e9 / (double)NCALLS);
    printf("  %-58s %10.3f s  (%5.1f ns/call)\n", "Lua 5.4: lua_CFunction add", tl,
           tl * 1e9 / (double)NCALLS);
    printf("  ratio Lua / cryo: %.2fx%s\n", tl / tc, rc == rl ? "" : "  (RESULTS DIFFER!)");
    cryo_unit_release(u);
    cryo_vm_pool_clear();
    return rc == rl ? 0 : 1;
}
