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
#include "bench_ffi.h"
#include "cryo_ffi.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        cryo_sync *s = bench_freeze(BENCH_CMP_SCRIPT);
        cryo_ffi_callback *cb = cryo_ffi_callback_new_ex(s, NULL, BENCH_CMP_SIG, flags, NULL);
        int (*f)(const void *, const void *) =
            (int (*)(const void *, const void *))cryo_ffi_callback_ptr(cb);
        for (long i = 0; i < n; i++)
            sum += f(&xs[i & 1], &xs[(i + 1) & 1]);
        cryo_ffi_callback_free(cb);
        cryo_sync_release(s);
    } else if (!strcmp(mode, "inc")) {
        cryo_sync *s = bench_freeze("|x| x + 1");
        cryo_ffi_callback *cb = cryo_ffi_callback_new_ex(s, NULL, "int (*)(int)", flags, NULL);
        int (*f)(int) = (int (*)(int))cryo_ffi_callback_ptr(cb);
        for (long i = 0; i < n; i++)
            sum += f((int)i);
        cryo_ffi_callback_free(cb);
        cryo_sync_release(s);
    } else if (!strcmp(mode, "sync")) {
        cryo_sync *s = bench_freeze("let k = 7; |x| x + k");
        for (long i = 0; i < n; i++) {
            cryo_const a = cryo_const_int(i), r;
            cryo_sync_call(s, 1, &a, &r, NULL);
            sum += r.v.as.i;
        }
        cryo_sync_release(s);
    } else if (!strcmp(mode, "lua")) {
        if (!bench_lua_open()) return 1;
        for (long i = 0; i < n; i++)
            sum += bench_lua_cmp(&xs[i & 1], &xs[(i + 1) & 1]);
        bench_lua_close();
    }
    cryo_vm_pool_clear();
    printf("%ld\n", (long)sum);
    return 0;
}
