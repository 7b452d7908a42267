/*
 * qsort_callback.c — a script closure as a C function pointer: sorts 1,000,000 ints through
 * libc's qsort with the comparator `|a, b| a[0] - b[0]` written in cryo.
 *
 * The closure is frozen (into_sync) into a SyncFunction; cryo_ffi_callback_new() wraps it in a
 * libffi closure whose code pointer is a real `int (*)(const void *, const void *)`. qsort calls
 * it on this thread; each call runs the script on the thread's pooled VM.
 *
 * Build against an installed cryo:  cc qsort_callback.c $(pkg-config --cflags --libs cryo_ffi)
 */
#include <cryo.h>
#include <cryo_ffi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The script's value is the comparator. The arguments are typed pointers (`const int *`), so
 * `a[0]` reads the int. */
static const char script[] = "|a, b| if a[0] < b[0] { -1 } else if a[0] > b[0] { 1 } else { 0 }";

/* Errors inside the comparator never unwind through qsort: they land here. */
static void on_error(void *userdata, const cryo_ffi_callback *cb, const cryo_error *err) {
    (void)cb;
    int *errors = userdata;
    if ((*errors)++ == 0) fprintf(stderr, "comparator failed: %s\n", err->message);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(script, strlen(script), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile: %s\n", err->message);
        cryo_error_free(err);
        return 1;
    }
    cryo_vm *vm = cryo_vm_new(unit, NULL);
    cryo_unit_release(unit);
    cryo_value fn;
    cryo_sync *cmp = NULL;
    if (cryo_vm_run(vm, NULL, 0, &fn) != CRYO_OK || cryo_vm_into_sync(vm, fn, &cmp) != CRYO_OK) {
        fprintf(stderr, "%s\n", cryo_vm_error(vm)->message);
        return 1;
    }
    cryo_value_release(fn);
    cryo_vm_free(vm); /* the SyncFunction keeps what it needs */

    cryo_ffi_callback *cb =
        cryo_ffi_callback_new(cmp, NULL, "int (*)(const int *, const int *)", &err);
    cryo_sync_release(cmp); /* the callback holds its own reference */
    if (!cb) {
        fprintf(stderr, "callback: %s\n", err ? err->message : "out of memory");
        cryo_error_free(err);
        return 1;
    }
    int errors = 0;
    cryo_ffi_callback_set_error_handler(cb, on_error, &errors);

    int *v = malloc(n * sizeof *v);
    if (!v) return 1;
    srand(42);
    for (size_t i = 0; i < n; i++)
        v[i] = rand();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qsort(v, n, sizeof *v, (int (*)(const void *, const void *))cryo_ffi_callback_ptr(cb));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    size_t bad = 0;
    for (size_t i = 1; i < n; i++)
        bad += v[i - 1] > v[i];
    printf("sorted %zu ints with a script comparator in %.1f ms: %s\n", n,
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
           bad || errors ? "NOT SORTED" : "ok");
    free(v);
    cryo_ffi_callback_free(cb); /* qsort has returned: nobody holds the pointer any more */
    return bad || errors ? 1 : 0;
}
