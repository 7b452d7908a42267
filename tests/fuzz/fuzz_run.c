/*
 * fuzz_run.c — libFuzzer target: compile and run arbitrary scripts under tight limits.
 *
 * Seeded with the Rhai conformance scripts. Each input that compiles runs in a fresh VM with
 * the standard library, an operation limit, a memory limit and size limits, so endless loops
 * and runaway allocation end as errors; print/debug output is discarded. Then, to check that a
 * failed run leaves the VM usable, the same VM runs the unit once more. Any crash, sanitizer
 * report, leak, or a run that ends with a kind outside the enum is a bug.
 *
 * The size limits are small on purpose: with them on, every container write re-counts the
 * nested data (as Rhai does), so one operation can cost O(limit) and the operation limit alone
 * does not bound the time of a run (docs/reliability.md, "Known limits").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cryo.h>

static void quiet(void *userdata, const char *text, size_t len) {
    (void)userdata, (void)text, (void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0; /* long inputs only slow the search down */
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile((const char *)data, size, NULL, &err);
    if (!u) {
        cryo_error_free(err);
        return 0;
    }
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    cryo_unit_release(u); /* the VM holds its own reference */
    if (!vm) return 0;
    cryo_vm_set_print(vm, quiet, NULL);
    cryo_vm_set_debug(vm, quiet, NULL);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 20000);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 8u << 20);
    cryo_vm_set_limit(vm, CRYO_LIMIT_STRING_SIZE, 16u << 10);
    cryo_vm_set_limit(vm, CRYO_LIMIT_ARRAY_SIZE, 1024);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MAP_SIZE, 1024);
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 48);

    for (int round = 0; round < 2; round++) {
        cryo_value result;
        cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &result);
        if (k == CRYO_OK) {
            char *s = cryo_value_to_cstring(result, true);
            free(s);
            cryo_value_release(result);
        } else {
            const cryo_error *e = cryo_vm_error(vm);
            if (k > CRYO_ERR_API || !e || e->kind != k || !e->message) __builtin_trap();
        }
    }
    cryo_vm_free(vm);
    return 0;
}
