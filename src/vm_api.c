/*
 * vm_api.c — the public VM functions of cryo.h: creation, runs, calls, hooks and limits.
 */
#include "vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CALL_DEPTH 64 /* Rhai's max_call_levels in release builds */

CRYO_API cryo_vm *cryo_vm_new(cryo_unit *unit, cryo_context *ctx) {
    if (!unit) return NULL;
    /* Registers and frames are allocated by the first run: creation is one allocation. */
    cryo_vm *vm = calloc(1, sizeof *vm);
    if (!vm) return NULL;
    vm->unit = cryo_unit_retain(unit);
    vm->ctx = ctx ? ctx : cryo_context_std();
    vm->limits[CRYO_LIMIT_CALL_DEPTH] = DEFAULT_CALL_DEPTH;
    return vm;
}

CRYO_API void cryo_vm_free(cryo_vm *vm) {
    if (!vm) return;
    cryo_vm_unwind(vm, 0);
    cv_release(&vm->heap, vm->thrown);
    cryo_segment *s = vm->seg;
    while (s && s->prev)
        s = s->prev;
    while (s) {
        cryo_segment *n = s->next;
        for (size_t i = 0; i < s->size; i++)
            cv_release(&vm->heap, s->slots[i]);
        free(s);
        s = n;
    }
    free(vm->frames);
    free(vm->handlers);
    cryo_error_free(vm->err);
    cryo_unit_release(vm->unit);
    free(vm);
}

/* Resets the per-run state; false (with vm->err set) when the VM cannot run now. */
static cryo_error_kind begin_run(cryo_vm *vm) {
    if (vm->nframes > 0) return cryo_vm_raise(vm, CRYO_ERR_API, "the VM is already running");
    cryo_error_free(vm->err);
    vm->err = NULL;
    cv_set(&vm->heap, &vm->thrown, cryo_unit_value());
    vm->thrown_pending = false;
    vm->caught_kind = CRYO_OK;
    vm->ops = 0;
    vm->nhandlers = 0;
    vm->run_level = 0;
    vm->heap.limit = (size_t)vm->limits[CRYO_LIMIT_MEMORY];
    vm->heap.exceeded = false;
    atomic_store_explicit(&vm->interrupt, 0, memory_order_relaxed);
    if (!cryo_vm_prepare(vm)) return cryo_vm_raise_oom(vm);
    if (!vm->binding) {
        vm->binding = cryo_unit_bind(vm->unit, vm->ctx);
        if (!vm->binding && vm->unit->nhosts) return cryo_vm_raise_oom(vm);
    }
    return CRYO_OK;
}

/* Runs proto `pi` with `nargs` values already in the first segment's registers. */
static cryo_error_kind run_proto(cryo_vm *vm, uint32_t pi, cryo_value *result) {
    const cryo_proto *p = vm->unit->protos[pi];
    cryo_value ret = cryo_unit_value();
    cryo_frame *f = &vm->frames[0];
    f->proto = p;
    f->pc = p->code;
    f->base = vm->seg->slots;
    f->closure = NULL;
    f->this_ref = NULL;
    f->binding = vm->binding;
    f->ret_slot = &ret;
    f->run_level = 0;
    vm->nframes = 1;
    cryo_error_kind k = cryo_vm_exec(vm, 0);
    if (k != CRYO_OK) {
        cv_release(&vm->heap, ret);
        if (result) *result = cryo_unit_value();
        return k;
    }
    if (result)
        *result = ret;
    else
        cv_release(&vm->heap, ret);
    /* A host function may have swallowed an error of a callback: the run still succeeded. */
    cryo_error_free(vm->err);
    vm->err = NULL;
    vm->thrown_pending = false;
    return CRYO_OK;
}

static void load_args(cryo_vm *vm, int argc, const cryo_value *argv) {
    for (int i = 0; i < argc; i++) {
        cv_retain(argv[i]);
        cv_set(&vm->heap, &vm->seg->slots[i], argv[i]);
    }
}

CRYO_API cryo_error_kind cryo_vm_run(cryo_vm *vm, const cryo_value *globals, int nglobals,
                                     cryo_value *result) {
    if (result) *result = cryo_unit_value();
    if (!vm) return CRYO_ERR_API;
    cryo_error_kind k = begin_run(vm);
    if (k != CRYO_OK) return k;
    if (nglobals < 0 || (uint32_t)nglobals > vm->unit->nglobals || (nglobals && !globals))
        return cryo_vm_raise(vm, CRYO_ERR_API, "expected %u globals, got %d", vm->unit->nglobals,
                             nglobals);
    load_args(vm, nglobals, globals);
    return run_proto(vm, 0, result);
}

CRYO_API cryo_error_kind cryo_vm_call(cryo_vm *vm, const char *name, int argc,
                                      const cryo_value *argv, cryo_value *result) {
    if (result) *result = cryo_unit_value();
    if (!vm) return CRYO_ERR_API;
    cryo_error_kind k = begin_run(vm);
    if (k != CRYO_OK) return k;
    if (!name || argc < 0 || argc > CRYO_MAX_REGS || (argc && !argv))
        return cryo_vm_raise(vm, CRYO_ERR_API, "invalid arguments to cryo_vm_call");
    size_t len = strlen(name);
    int fi = cryo_unit_find_fn(vm->unit, name, len, (uint32_t)argc);
    if (fi < 0) {
        cryo_value *ptrs[argc > 0 ? argc : 1];
        for (int i = 0; i < argc; i++)
            ptrs[i] = (cryo_value *)&argv[i];
        return cryo_vm_fn_not_found(vm, name, len, argc, ptrs);
    }
    load_args(vm, argc, argv);
    return run_proto(vm, vm->unit->fns[fi].proto, result);
}

CRYO_API const cryo_error *cryo_vm_error(const cryo_vm *vm) {
    return vm ? vm->err : NULL;
}

CRYO_API void cryo_vm_set_print(cryo_vm *vm, cryo_print_fn fn, void *userdata) {
    if (!vm) return;
    vm->print_fn = fn;
    vm->print_ud = userdata;
}

CRYO_API void cryo_vm_set_debug(cryo_vm *vm, cryo_print_fn fn, void *userdata) {
    if (!vm) return;
    vm->debug_fn = fn;
    vm->debug_ud = userdata;
}

static void write_line(FILE *out, const char *text, size_t len) {
    fwrite(text, 1, len, out);
    fputc('\n', out);
    fflush(out);
}

void cryo_vm_print(cryo_vm *vm, const char *text, size_t len) {
    if (vm->print_fn)
        vm->print_fn(vm->print_ud, text, len);
    else
        write_line(stdout, text, len);
}

void cryo_vm_debug(cryo_vm *vm, const char *text, size_t len) {
    if (vm->debug_fn)
        vm->debug_fn(vm->debug_ud, text, len);
    else
        write_line(stderr, text, len);
}

CRYO_API void cryo_vm_set_limit(cryo_vm *vm, cryo_limit which, uint64_t value) {
    if (!vm || (unsigned)which >= CRYO_LIMIT__COUNT) return;
    vm->limits[which] = value;
    if (which == CRYO_LIMIT_MEMORY) vm->heap.limit = (size_t)value;
}

CRYO_API uint64_t cryo_vm_get_limit(const cryo_vm *vm, cryo_limit which) {
    if (!vm || (unsigned)which >= CRYO_LIMIT__COUNT) return 0;
    return vm->limits[which];
}

CRYO_API void cryo_vm_interrupt(cryo_vm *vm) {
    if (vm) atomic_store_explicit(&vm->interrupt, 1, memory_order_relaxed);
}
