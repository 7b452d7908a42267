/*
 * call_cost.c — one call path in a loop, for counting instructions per call with callgrind
 * (instruction counts do not depend on the machine's load; wall clock does):
 *   bench-call-cost MODE CALLS [libffi]
 * MODE: cmp  the qsort comparator |a, b| a[0] - b[0] as `int (*)(const int *, const int *)`
 *       inc  |x| x + 1 as `int (*)(int)`
 *       sync cryo_sync_call of |x| x + k (k captured)
 *       lua  a Lua 5.4 comparator through lua_call from a C comparator (bench-ffi-qsort's row)
 * `libffi` forces the callbacks through a libffi closure (CRYO_FFI_CALLBACK_LIBFFI).
 * Per call: run it under `valgrind --tool=callgrind` with CALLS = 100000 and 200000 and divide
 * the difference of the totals by 100000 (set-up and exit cancel). docs/performance.md, "A
 * shorter call".
 */
#include "cryo.h"
#include "cryo_ffi.h"
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static cryo_sync *freeze(const char *src) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value f;
    cryo_sync *s = NULL;
    if (cryo_vm_run(vm, NULL, 0, &f) == CRYO_OK) {
        cryo_vm_into_sync(vm, f, &s);
        cryo_value_release(f);
    }
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return s;
}
static lua_State *L;
static int lua_cmp(const void *a, const void *b) {
    lua_pushvalue(L, 1);
    lua_pushinteger(L, *(const int *)a);
    lua_pushinteger(L, *(const int *)b);
    lua_call(L, 2, 1);
    int r = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return r;
}
int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench-call-cost cmp|inc|sync|lua CALLS [libffi]\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    unsigned flags = argc > 3 && !strcmp(argv[3], "libffi") ? CRYO_FFI_CALLBACK_LIBFFI : 0;
    volatile long sum = 0;
    int xs[2] = {3, 5};
    if (!strcmp(mode, "cmp")) {
        cryo_sync *s = freeze("|a, b| a[0] - b[0]");
        cryo_ffi_callback *cb =
            cryo_ffi_callback_new_ex(s, NULL, "int (*)(const int *, const int *)", flags, NULL);
        int (*f)(const void *, const void *) =
            (int (*)(const void *, const void *))cryo_ffi_callback_ptr(cb);
        for (long i = 0; i < n; i++)
            sum += f(&xs[i & 1], &xs[(i + 1) & 1]);
        cryo_ffi_callback_free(cb);
        cryo_sync_release(s);
    } else if (!strcmp(mode, "inc")) {
        cryo_sync *s = freeze("|x| x + 1");
        cryo_ffi_callback *cb = cryo_ffi_callback_new_ex(s, NULL, "int (*)(int)", flags, NULL);
        int (*f)(int) = (int (*)(int))cryo_ffi_callback_ptr(cb);
        for (long i = 0; i < n; i++)
            sum += f((int)i);
        cryo_ffi_callback_free(cb);
        cryo_sync_release(s);
    } else if (!strcmp(mode, "sync")) {
        cryo_sync *s = freeze("let k = 7; |x| x + k");
        for (long i = 0; i < n; i++) {
            cryo_const a = cryo_const_int(i), r;
            cryo_sync_call(s, 1, &a, &r, NULL);
            sum += r.v.as.i;
        }
        cryo_sync_release(s);
    } else if (!strcmp(mode, "lua")) {
        L = luaL_newstate();
        luaL_openlibs(L);
        luaL_dostring(L, "return function(a, b) return a - b end");
        for (long i = 0; i < n; i++)
            sum += lua_cmp(&xs[i & 1], &xs[(i + 1) & 1]);
        lua_close(L);
    }
    cryo_vm_pool_clear();
    printf("%ld\n", (long)sum);
    return 0;
}
