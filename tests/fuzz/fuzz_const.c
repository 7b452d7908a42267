/*
 * fuzz_const.c — libFuzzer target: ConstValue freeze/thaw round trips.
 *
 * The input is a script, run under the same limits as fuzz_run.c. When it ends with a value,
 * the value is frozen in its VM, thawed in a second VM of the same unit and frozen again: the
 * two ConstValues must be equal (cryo_const_equal) and print the same (debug form). Freezing
 * may fail only with a valid kind and an error message (e.g. a closure capturing itself).
 *
 * Threads mode, as in fuzz_run.c: a first byte 0xFF runs the rest in a first VM with a 256 KiB
 * memory limit and 4 threads (spawn, join, freezing under a small limit); the second VM keeps
 * the ordinary limits, so that what froze in the first always thaws and freezes there.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cryo.h>

static void quiet(void *userdata, const char *text, size_t len) {
    (void)userdata, (void)text, (void)len;
}

static cryo_vm *limited_vm(cryo_unit *u, bool threads) {
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    if (!vm) return NULL;
    cryo_vm_set_print(vm, quiet, NULL);
    cryo_vm_set_debug(vm, quiet, NULL);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 20000);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 8u << 20);
    cryo_vm_set_limit(vm, CRYO_LIMIT_STRING_SIZE, 16u << 10);
    cryo_vm_set_limit(vm, CRYO_LIMIT_ARRAY_SIZE, 1024);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MAP_SIZE, 1024);
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 48);
    cryo_vm_set_limit(vm, CRYO_LIMIT_THREADS, threads ? 4 : 2);
    if (threads) cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 256u << 10);
    return vm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0;
    bool threads = size > 0 && data[0] == 0xFF;
    if (threads) data++, size--;
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile((const char *)data, size, NULL, &err);
    if (!u) {
        cryo_error_free(err);
        return 0;
    }
    cryo_vm *vm = limited_vm(u, threads), *vm2 = limited_vm(u, false);
    cryo_unit_release(u);
    cryo_value v;
    if (vm && vm2 && cryo_vm_run(vm, NULL, 0, &v) == CRYO_OK) {
        cryo_const c1;
        cryo_error_kind k = cryo_vm_freeze(vm, v, &c1);
        if (k == CRYO_OK) {
            cryo_value t;
            if (cryo_vm_thaw(vm2, c1, &t) != CRYO_OK) __builtin_trap();
            cryo_const c2;
            if (cryo_vm_freeze(vm2, t, &c2) != CRYO_OK) __builtin_trap();
            if (!cryo_const_equal(c1, c2)) {
                /* NaN is not equal to itself: compare the printed forms then */
                char *a = cryo_const_to_cstring(c1, true), *b = cryo_const_to_cstring(c2, true);
                if (a && b && strcmp(a, b) != 0) __builtin_trap();
                free(a);
                free(b);
            }
            char *a = cryo_const_to_cstring(c1, true), *b = cryo_const_to_cstring(c2, true);
            if (a && b && strcmp(a, b) != 0) __builtin_trap();
            free(a);
            free(b);
            cryo_value_release(t);
            cryo_const_release(c2);
            cryo_const_release(c1);
        } else {
            const cryo_error *e = cryo_vm_error(vm);
            if (k > CRYO_ERR_API || !e || e->kind != k || !e->message) __builtin_trap();
        }
        cryo_value_release(v);
    }
    cryo_vm_free(vm2);
    cryo_vm_free(vm);
    return 0;
}
