/*
 * bench_ffi.h — what bench/ffi_qsort.c (wall clock) and bench/call_cost.c (instructions per call)
 * share, so that both measure the same comparator, signature and Lua peer: the script, freezing
 * it into a SyncFunction, and the Lua 5.4 comparator called through lua_call from a C
 * comparator. Header-only (static functions): each bench is one translation unit.
 */
#ifndef CRYO_BENCH_FFI_H
#define CRYO_BENCH_FFI_H

#include "cryo.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

/* The script comparator and the C type it is called through in both benches. */
#define BENCH_CMP_SCRIPT "|a, b| a[0] - b[0]"
#define BENCH_CMP_SIG    "int (*)(const int *, const int *)"

/* The SyncFunction a script evaluates to (NULL on any failure); *unit (when not NULL) gets a
 * reference to its unit. */
static inline cryo_sync *bench_freeze_in(const char *src, cryo_unit **unit) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    if (!u) return NULL;
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value f;
    cryo_sync *s = NULL;
    if (vm && cryo_vm_run(vm, NULL, 0, &f) == CRYO_OK) {
        cryo_vm_into_sync(vm, f, &s);
        cryo_value_release(f);
    }
    cryo_vm_free(vm);
    if (unit)
        *unit = u;
    else
        cryo_unit_release(u);
    return s;
}
static inline cryo_sync *bench_freeze(const char *src) {
    return bench_freeze_in(src, NULL);
}

/* The Lua 5.4 peer: a comparator function at stack index 1 of bench_lua, called through
 * lua_call from a C comparator of qsort's type, as a C programmer would embed Lua. */
static lua_State *bench_lua;
static inline int bench_lua_open(void) {
    bench_lua = luaL_newstate();
    if (!bench_lua) return 0;
    luaL_openlibs(bench_lua);
    return luaL_dostring(bench_lua, "return function(a, b) return a - b end") == LUA_OK;
}
static inline void bench_lua_close(void) {
    lua_close(bench_lua);
    bench_lua = NULL;
}
static inline int bench_lua_cmp(const void *a, const void *b) {
    lua_pushvalue(bench_lua, 1); /* the comparator */
    lua_pushinteger(bench_lua, *(const int *)a);
    lua_pushinteger(bench_lua, *(const int *)b);
    lua_call(bench_lua, 2, 1);
    int r = (int)lua_tointeger(bench_lua, -1);
    lua_pop(bench_lua, 1);
    return r;
}

#endif
