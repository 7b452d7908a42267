/*
 * bench-footprint — heap bytes per object, cryo vs Lua 5.4, measured the same way for both in
 * one run (issue 19's table): glibc's malloc statistics (mallinfo2().uordblks, which counts
 * each block's header too) before and after making the objects, Lua's garbage collected first.
 * glibc's per-thread cache (tcache) keeps freed blocks counted as in use, so the program
 * re-executes itself once with GLIBC_TUNABLES=glibc.malloc.tcache_count=0.
 *
 * Rows:
 *   - a C callback (cryo_ffi_callback_new of `int (*)(int, int)`), the first of a declaration
 *     and each further one (the average of N), on the thunk and on the libffi path, beside a
 *     libffi closure alone (ffi_closure_alloc + ffi_prep_closure_loc);
 *   - a SyncFunction `|x| x + k` of one captured int (into_sync of `mk(k)`'s closure, the
 *     average of N, after the VM that made them is freed) beside a Lua closure with one upvalue;
 *   - a VM after its first run (std context) beside a bare luaL_newstate and one with all
 *     libraries;
 *   - a map of 1,000 keys built as `"k" + i` while another map holds the same keys, and a map
 *     of 1,000 keys unique to it, beside Lua tables built the same way.
 * Usage: bench-footprint. Never part of the test run.
 */
#define _GNU_SOURCE
#include "cryo.h"
#include "cryo_ffi.h"

#include <ffi.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 256 /* objects per average */

static long heap(void) {
    return (long)mallinfo2().uordblks;
}

static void row(const char *what, double cryo, const char *lua_what, double lua) {
    printf("  %-48s %8.0f B   %-34s %8.0f B\n", what, cryo, lua_what, lua);
}

static void die(const char *what, const cryo_error *e) {
    fprintf(stderr, "bench-footprint: %s: %s\n", what, e && e->message ? e->message : "failed");
    exit(1);
}

static cryo_unit *compile(const char *src) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    if (!u) die("compile", err);
    return u;
}

/* --- callbacks ---------------------------------------------------------------------------- */

static cryo_sync *make_sync(const char *src) {
    cryo_unit *u = compile(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value fn;
    cryo_sync *f = NULL;
    if (cryo_vm_run(vm, NULL, 0, &fn) != CRYO_OK || cryo_vm_into_sync(vm, fn, &f) != CRYO_OK)
        die("into_sync", cryo_vm_error(vm));
    cryo_value_release(fn);
    cryo_vm_free(vm);
    return f;
}

static void noop_handler(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif, (void)ret, (void)args, (void)ud;
}

/* Bytes of the first callback of a fresh declaration and the average of N more. */
static void callback_bytes(cryo_sync *f, const char *decl, unsigned flags, double *first,
                           double *each, int *thunks) {
    static cryo_ffi_callback *cbs[N];
    long m0 = heap();
    cryo_error *err = NULL;
    cbs[0] = cryo_ffi_callback_new_ex(f, NULL, decl, flags, &err);
    if (!cbs[0]) die("callback", err);
    long m1 = heap();
    *thunks = cryo_ffi_callback_path(cbs[0]) == CRYO_FFI_PATH_THUNK;
    for (int i = 1; i < N; i++) {
        cbs[i] = cryo_ffi_callback_new_ex(f, NULL, decl, flags, &err);
        if (!cbs[i]) die("callback", err);
        *thunks += cryo_ffi_callback_path(cbs[i]) == CRYO_FFI_PATH_THUNK;
    }
    long m2 = heap();
    *first = (double)(m1 - m0);
    *each = (double)(m2 - m1) / (N - 1);
    for (int i = 0; i < N; i++)
        cryo_ffi_callback_free(cbs[i]);
}

static double libffi_closure_bytes(void) {
    static ffi_closure *cl[N];
    static ffi_cif cif;
    static ffi_type *args[2] = {&ffi_type_sint32, &ffi_type_sint32};
    ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint32, args);
    void *code;
    ffi_closure_free(ffi_closure_alloc(sizeof(ffi_closure), &code)); /* libffi's first setup */
    long m0 = heap();
    for (int i = 0; i < N; i++) {
        cl[i] = ffi_closure_alloc(sizeof(ffi_closure), &code);
        if (!cl[i] || ffi_prep_closure_loc(cl[i], &cif, noop_handler, NULL, code) != FFI_OK)
            die("ffi_closure_alloc", NULL);
    }
    double each = (double)(heap() - m0) / N;
    for (int i = 0; i < N; i++)
        ffi_closure_free(cl[i]);
    return each;
}

/* --- SyncFunctions ------------------------------------------------------------------------ */

static double sync_bytes(void) {
    static cryo_sync *fs[N];
    cryo_unit *u = compile("fn mk(k) { |x| x + k }");
    cryo_value arg = cryo_int(0), fn;
    /* warm: the VM's first call and first into_sync */
    cryo_vm *warm = cryo_vm_new(u, NULL);
    if (cryo_vm_call(warm, "mk", 1, &arg, &fn) != CRYO_OK ||
        cryo_vm_into_sync(warm, fn, &fs[0]) != CRYO_OK)
        die("mk", cryo_vm_error(warm));
    cryo_value_release(fn);
    cryo_sync_release(fs[0]);
    cryo_vm_free(warm);

    long m0 = heap();
    cryo_vm *vm = cryo_vm_new(u, NULL);
    for (int i = 0; i < N; i++) {
        arg = cryo_int(i + 1000);
        if (cryo_vm_call(vm, "mk", 1, &arg, &fn) != CRYO_OK ||
            cryo_vm_into_sync(vm, fn, &fs[i]) != CRYO_OK)
            die("mk", cryo_vm_error(vm));
        cryo_value_release(fn);
    }
    cryo_vm_free(vm); /* what stays is what the SyncFunctions hold */
    double each = (double)(heap() - m0) / N;
    for (int i = 0; i < N; i++)
        cryo_sync_release(fs[i]);
    cryo_unit_release(u);
    return each;
}

static double lua_closure_bytes(void) {
    lua_State *L = luaL_newstate();
    if (luaL_dostring(L, "return function(k) return function(x) return x + k end end"))
        die("lua", NULL);
    lua_createtable(L, N, 0); /* the array part exists before the count: no growth measured */
    lua_pushvalue(L, -2);
    lua_pushinteger(L, 0);
    lua_call(L, 1, 1);
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT);
    lua_gc(L, LUA_GCSTOP);
    long m0 = heap();
    for (int i = 0; i < N; i++) {
        lua_pushvalue(L, -2);
        lua_pushinteger(L, i + 1000);
        lua_call(L, 1, 1);
        lua_rawseti(L, -2, i + 1);
    }
    double each = (double)(heap() - m0) / N;
    lua_close(L);
    return each;
}

/* --- VMs ---------------------------------------------------------------------------------- */

static const char *first_run = "fn add(a, b) { a + b } let x = 40; add(x, 2)";

static double vm_bytes(cryo_context *ctx) {
    cryo_unit *u = compile(first_run);
    cryo_vm *warm = cryo_vm_new(u, ctx); /* the context's one-time setup is not the VM's */
    cryo_vm_run(warm, NULL, 0, NULL);
    cryo_vm_free(warm);
    long m0 = heap();
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_value r;
    if (cryo_vm_run(vm, NULL, 0, &r) != CRYO_OK || r.as.i != 42) die("run", cryo_vm_error(vm));
    double b = (double)(heap() - m0);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return b;
}

static double lua_state_bytes(bool libs) {
    lua_close(luaL_newstate()); /* a first state's one-time costs */
    long m0 = heap();
    lua_State *L = luaL_newstate();
    if (libs) luaL_openlibs(L);
    lua_gc(L, LUA_GCCOLLECT);
    double b = (double)(heap() - m0);
    lua_close(L);
    return b;
}

/* --- maps --------------------------------------------------------------------------------- */

static const char *build_src = "fn build(p) { let m = #{}; for i in 0..1000 { m[p + i] = i; } m }";

/* The bytes of build(second) while build(first) is held (first NULL: nothing held). */
static double map_bytes(const char *first, const char *second) {
    cryo_unit *u = compile(build_src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value held = cryo_unit_value(), m, arg = cryo_value_string("w", strlen("w"));
    if (cryo_vm_call(vm, "build", 1, &arg, &m) != CRYO_OK) die("build", cryo_vm_error(vm));
    cryo_value_release(m); /* warm: the VM's segments and frames */
    cryo_value_release(arg);
    if (first) {
        arg = cryo_value_string(first, strlen(first));
        if (cryo_vm_call(vm, "build", 1, &arg, &held) != CRYO_OK) die("build", cryo_vm_error(vm));
        cryo_value_release(arg);
    }
    arg = cryo_value_string(second, strlen(second));
    long m0 = heap();
    if (cryo_vm_call(vm, "build", 1, &arg, &m) != CRYO_OK || cryo_map_len(m) != 1000)
        die("build", cryo_vm_error(vm));
    double b = (double)(heap() - m0);
    cryo_value_release(arg);
    cryo_value_release(m);
    cryo_value_release(held);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return b;
}

static double lua_map_bytes(const char *first, const char *second) {
    lua_State *L = luaL_newstate();
    if (luaL_dostring(L, "return function(p) local m = {} for i = 0, 999 do m[p .. i] = i end "
                         "return m end"))
        die("lua", NULL);
    lua_pushvalue(L, -1);
    lua_pushstring(L, "w");
    lua_call(L, 1, 1);
    lua_pop(L, 1);
    if (first) {
        lua_pushvalue(L, -1);
        lua_pushstring(L, first);
        lua_call(L, 1, 1);
        lua_insert(L, -2); /* held below the builder */
        /* a dry run of the measured build: Lua's string table grows to hold its temporary
         * strings (the numbers converted for `..`) once, as cryo's VM is warmed above */
        lua_pushvalue(L, -1);
        lua_pushstring(L, first);
        lua_call(L, 1, 1);
        lua_pop(L, 1);
    }
    lua_pushstring(L, second);
    lua_gc(L, LUA_GCCOLLECT);
    long m0 = heap();
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);
    lua_gc(L, LUA_GCCOLLECT); /* the table and its keys stay, garbage goes */
    double b = (double)(heap() - m0);
    lua_close(L);
    return b;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *tun = getenv("GLIBC_TUNABLES");
    if (!tun || !strstr(tun, "tcache_count=0")) {
        setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "bench-footprint: re-exec failed; tcache blocks count as in use\n");
    }
    printf("bench-footprint: heap bytes per object (mallinfo2 deltas, block headers included)\n");
    printf("  %-48s %10s   %-34s %10s\n", "cryo", "", "Lua 5.4 (or libffi)", "");

    cryo_sync *f2 = make_sync("|a, b| a - b");
    double first, each, lib_first, lib_each;
    int thunks, lib_thunks;
    callback_bytes(f2, "int (*)(int, int)", 0, &first, &each, &thunks);
    callback_bytes(f2, "int (*)(int, int)", CRYO_FFI_CALLBACK_LIBFFI, &lib_first, &lib_each,
                   &lib_thunks);
    double closure = libffi_closure_bytes();
    char label[96];
    row("callback, first of its declaration", first, "libffi closure (mmap, not malloc)", closure);
    snprintf(label, sizeof label, "callback, each further one (%d/%d thunks)", thunks, N);
    row(label, each, "libffi closure (mmap, not malloc)", closure);
    row("callback, libffi path, first", lib_first, "libffi closure (mmap, not malloc)", closure);
    row("callback, libffi path, each further one", lib_each, "libffi closure (mmap, not malloc)",
        closure);
    cryo_sync_release(f2);

    row("SyncFunction |x| x + k", sync_bytes(), "closure with one upvalue", lua_closure_bytes());
    double vm = vm_bytes(NULL);
    row("VM after its first run (std context)", vm, "bare luaL_newstate", lua_state_bytes(false));
    row("  (Lua with all libraries)", vm, "luaL_newstate + luaL_openlibs", lua_state_bytes(true));
    row("map of 1,000 keys \"k\" + i (keys held elsewhere)", map_bytes("k", "k"),
        "table, same keys", lua_map_bytes("k", "k"));
    row("map of 1,000 keys unique to it", map_bytes(NULL, "u"), "table, keys unique to it",
        lua_map_bytes(NULL, "u"));
    cryo_vm_pool_clear();
    return 0;
}
