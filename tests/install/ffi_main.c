/* A consumer of an installed cryo_ffi: a C function registered by its declaration and called
 * from a script, and a script comparator handed to qsort as a C function pointer. Run with
 * LD_BIND_NOW=1, so that a symbol the shared library needs but libcryo does not export fails
 * at start-up instead of at its first call. */
#include <cryo.h>
#include <cryo_ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int twice(int x) {
    return 2 * x;
}

static cryo_value run(const char *src, cryo_context *ctx, cryo_vm **vm_out) {
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(src, strlen(src), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile failed: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        exit(1);
    }
    cryo_vm *vm = cryo_vm_new(unit, ctx);
    cryo_unit_release(unit);
    cryo_value v = cryo_unit_value();
    if (!vm || cryo_vm_run(vm, NULL, 0, &v) != CRYO_OK) {
        const cryo_error *e = vm ? cryo_vm_error(vm) : NULL;
        fprintf(stderr, "run failed: %s\n", e && e->message ? e->message : "?");
        exit(1);
    }
    *vm_out = vm;
    return v;
}

int main(void) {
    cryo_error *err = NULL;
    cryo_package *pkg = cryo_package_new("host");
    if (cryo_ffi_package_add(pkg, NULL, NULL, "int twice(int)", (void *)twice, &err) != CRYO_OK) {
        fprintf(stderr, "register failed: %s\n", err ? err->message : "?");
        return 1;
    }
    cryo_package_seal(pkg);
    cryo_package *pkgs[] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_vm *vm;
    cryo_value v = run("twice(21)", ctx, &vm);
    int ok = v.type == CRYO_T_INT && v.as.i == 42;
    cryo_vm_free(vm);

    cryo_value f = run("|a, b| a[0] - b[0]", NULL, &vm);
    cryo_sync *s = NULL;
    cryo_vm_into_sync(vm, f, &s);
    cryo_value_release(f);
    cryo_vm_free(vm);
    cryo_ffi_callback *cb =
        s ? cryo_ffi_callback_new(s, NULL, "int (*)(const int *, const int *)", &err) : NULL;
    if (!cb) {
        fprintf(stderr, "callback failed: %s\n", err ? err->message : "?");
        return 1;
    }
    int a[100];
    for (int i = 0; i < 100; i++)
        a[i] = (i * 37) % 101;
    qsort(a, 100, sizeof *a, (int (*)(const void *, const void *))cryo_ffi_callback_ptr(cb));
    for (int i = 1; i < 100; i++)
        if (a[i - 1] > a[i]) ok = 0;
    cryo_ffi_callback_free(cb);
    cryo_sync_release(s);
    cryo_context_release(ctx);
    cryo_package_release(pkg);
    printf("consumer_ffi: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
