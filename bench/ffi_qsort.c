/*
 * ffi_qsort.c — callbacks through C: qsort of 1,000,000 ints (the same data in every row) with
 *   1. a C comparator,
 *   2. a bare libffi closure around the C comparator (the floor of any libffi callback),
 *   3. a cryo script comparator (cryo_ffi_callback_new),
 *   4. a Lua 5.4 comparator called through lua_call from a C comparator,
 *   5. a LuaJIT ffi.cast callback (a `luajit` process, when installed),
 * then a trivial `int (*)(int)` cryo callback called from 1 and 2 threads (scaling).
 * Never part of the test run: bench/run.sh builds and runs it.
 */
#include "cryo.h"
#include "cryo_ffi.h"

#include <ffi.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 1000000

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void fill(int *v) {
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = (int)(s >> 1) % 1000000;
    }
}

static long ncmp;
static int cmp_c(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static int cmp_count(const void *a, const void *b) {
    ncmp++;
    return cmp_c(a, b);
}

static int check(const int *v) {
    for (int i = 1; i < N; i++)
        if (v[i - 1] > v[i]) return 0;
    return 1;
}

static void row(const char *name, double secs, int ok) {
    printf("%-44s %8.1f ms  %6.1f ns/compare%s\n", name, secs * 1e3, secs * 1e9 / (double)ncmp,
           ok ? "" : "  (NOT SORTED)");
}

typedef int (*cmp_fn)(const void *, const void *);

static double time_sort(int *v, cmp_fn f) {
    fill(v);
    double t0 = now();
    qsort(v, N, sizeof *v, f);
    return now() - t0;
}

/* --- bare libffi closure ----------------------------------------------------------------- */
static void bare_handler(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    (void)ud;
    *(ffi_sarg *)ret = cmp_c(*(const void **)args[0], *(const void **)args[1]);
}

/* --- Lua 5.4 through lua_call -------------------------------------------------------------- */
static lua_State *L;
static int lua_cmp(const void *a, const void *b) {
    lua_pushvalue(L, 1); /* the comparator */
    lua_pushinteger(L, *(const int *)a);
    lua_pushinteger(L, *(const int *)b);
    lua_call(L, 2, 1);
    int r = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return r;
}

/* --- threads ------------------------------------------------------------------------------- */
typedef struct tjob {
    int (*f)(int);
    long calls;
    long sum;
} tjob;
static void *tbody(void *arg) {
    tjob *j = arg;
    long s = 0;
    for (long i = 0; i < j->calls; i++)
        s += j->f((int)(i & 1023));
    j->sum = s;
    return NULL;
}
static double run_threads(int (*f)(int), int nthreads, long calls) {
    pthread_t t[8];
    tjob j[8];
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        j[i] = (tjob){f, calls, 0};
        pthread_create(&t[i], NULL, tbody, &j[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    return (double)nthreads * (double)calls / (now() - t0);
}

static cryo_sync *freeze(const char *src) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    if (!u) return NULL;
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value f;
    cryo_sync *s = NULL;
    if (cryo_vm_run(vm, NULL, 0, &f) == CRYO_OK) {
        cryo_vm_into_sync(vm, f, &s);
        cryo_value_release(f);
    }
    cryo_vm_free(vm);
    return s;
}

int main(int argc, char **argv) {
    const char *luajit = argc > 1 ? argv[1] : "luajit";
    int *v = malloc(N * sizeof *v);
    fill(v);
    qsort(v, N, sizeof *v, cmp_count); /* the number of comparisons for this data */
    printf("qsort of %d ints: %ld comparisons\n", N, ncmp);

    double t = time_sort(v, cmp_c);
    row("C comparator", t, check(v));

    ffi_cif cif;
    ffi_type *at[2] = {&ffi_type_pointer, &ffi_type_pointer};
    void *code;
    ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
    ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, at);
    ffi_prep_closure_loc(cl, &cif, bare_handler, NULL, code);
    t = time_sort(v, (cmp_fn)code);
    row("bare libffi closure around the C comparator", t, check(v));
    ffi_closure_free(cl);

    cryo_sync *s = freeze("|a, b| a[0] - b[0]");
    cryo_ffi_callback *cb =
        cryo_ffi_callback_new(s, NULL, "int (*)(const int *, const int *)", NULL);
    t = time_sort(v, (cmp_fn)cryo_ffi_callback_ptr(cb));
    row("cryo script comparator |a, b| a[0] - b[0]", t, check(v));
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);

    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_dostring(L, "return function(a, b) return a - b end");
    t = time_sort(v, lua_cmp);
    row("Lua 5.4 comparator through lua_call", t, check(v));
    lua_close(L);

    /* LuaJIT: the same data and qsort, timed inside the luajit process. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s -e '"
             "local ffi = require(\"ffi\")\n"
             "ffi.cdef[[void qsort(void *, size_t, size_t, int (*)(const int *, const int *));]]\n"
             "local n = %d\n"
             "local v = ffi.new(\"int[?]\", n)\n"
             "local s = 12345\n"
             "for i = 0, n - 1 do s = (s * 1103515245 + 12345) %% 4294967296; "
             "v[i] = math.floor(s / 2) %% 1000000 end\n"
             "local cb = ffi.cast(\"int (*)(const int *, const int *)\", "
             "function(a, b) return a[0] - b[0] end)\n"
             "local t0 = os.clock()\n"
             "ffi.C.qsort(v, n, 4, cb)\n"
             "local t = os.clock() - t0\n"
             "local ok = 1 for i = 1, n - 1 do if v[i - 1] > v[i] then ok = 0 end end\n"
             "io.write(string.format(\"%%.6f %%d\\n\", t, ok))\n"
             "cb:free()' 2>/dev/null",
             luajit, N);
    FILE *p = popen(cmd, "r");
    double lt;
    int lok;
    if (p && fscanf(p, "%lf %d", &lt, &lok) == 2)
        row("LuaJIT ffi.cast callback", lt, lok);
    else
        printf("%-44s (luajit not available)\n", "LuaJIT ffi.cast callback");
    if (p) pclose(p);

    /* Scaling of a trivial callback. */
    s = freeze("|x| x + 1");
    cb = cryo_ffi_callback_new(s, NULL, "int (*)(int)", NULL);
    int (*f)(int) = (int (*)(int))cryo_ffi_callback_ptr(cb);
    long calls = 5000000;
    run_threads(f, 1, calls / 10); /* warm up */
    double r1 = run_threads(f, 1, calls), r2 = run_threads(f, 2, calls);
    printf("trivial int(int) callback: 1 thread %.1f M calls/s (%.1f ns), 2 threads %.1f M calls/s"
           " (scaling %.2fx)\n",
           r1 / 1e6, 1e9 / r1, r2 / 1e6, r2 / r1);
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);
    free(v);
    return 0;
}
