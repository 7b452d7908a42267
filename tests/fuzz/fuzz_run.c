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
 *
 * Threads mode: an input whose first byte is 0xFF (never the start of a UTF-8 script) runs the
 * rest with a small memory limit (256 KB), at most 4 threads and threads granted, so spawn,
 * join and the budget shared with spawned threads are fuzzed; when the script's value is a
 * function it is also frozen and called with bounds (cryo_sync_call_bounded). Seeds:
 * tests/fuzz/corpus/run/threads-*.
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

static void check_error(cryo_error_kind k, const cryo_error *e) {
    if (k > CRYO_ERR_API || !e || e->kind != k || !e->message) __builtin_trap();
}

/* A function value: freeze it and call it with bounds, as a host would. */
static void call_bounded(cryo_vm *vm, cryo_value f) {
    cryo_sync *s = NULL;
    if (cryo_vm_into_sync(vm, f, &s) != CRYO_OK) return;
    cryo_call_bounds b = {.operations = 5000, .timeout_ms = 2000};
    cryo_const args[2] = {cryo_const_int(3), cryo_const_int(4)};
    int argc = cryo_sync_arity(s);
    if (argc < 0 || argc > 2) argc = 0;
    cryo_const r;
    cryo_error *err = NULL;
    cryo_error_kind k = cryo_sync_call_bounded(s, &b, argc, args, &r, &err);
    if (k == CRYO_OK)
        cryo_const_release(r);
    else
        check_error(k, err);
    cryo_error_free(err);
    cryo_sync_release(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0; /* long inputs only slow the search down */
    bool threads = size > 0 && data[0] == 0xFF;
    if (threads) data++, size--;
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
    cryo_vm_set_limit(vm, CRYO_LIMIT_THREADS, threads ? 4 : 2);
    if (threads) cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 256u << 10);

    for (int round = 0; round < 2; round++) {
        cryo_value result;
        cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &result);
        if (k == CRYO_OK) {
            char *s = cryo_value_to_cstring(result, true);
            free(s);
            if (threads && round == 0 && (result.type == CRYO_T_FN || result.type == CRYO_T_SYNCFN))
                call_bounded(vm, result);
            cryo_value_release(result);
        } else {
            check_error(k, cryo_vm_error(vm));
        }
    }
    cryo_vm_free(vm);
    return 0;
}
