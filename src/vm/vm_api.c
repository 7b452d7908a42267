/*
 * vm_api.c — the public VM functions of cryo.h: creation, runs, calls, hooks and limits.
 */
#include "vm.h"
#include "govern.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cvm_limits_changed(cryo_vm *vm) {
    uint64_t d = vm->limits[CRYO_LIMIT_CALL_DEPTH];
    vm->depth_max = d ? d : (uint64_t)INT_MAX;
    vm->data_limits = (vm->limits[CRYO_LIMIT_STRING_SIZE] | vm->limits[CRYO_LIMIT_ARRAY_SIZE] |
                       vm->limits[CRYO_LIMIT_MAP_SIZE]) != 0;
    vm->heap.limit = (size_t)vm->limits[CRYO_LIMIT_MEMORY];
}

static void load_context_limits(cryo_vm *vm) {
    memcpy(vm->limits, vm->ctx->limits, sizeof vm->limits);
    cvm_limits_changed(vm);
}

void cvm_update_ops_max(cryo_vm *vm) {
    uint64_t limit = vm->limits[CRYO_LIMIT_OPERATIONS];
    uint64_t m = limit ? limit : UINT64_MAX;
    if (vm->progress_fn && vm->progress_next > 0 && vm->progress_next - 1 < m)
        m = vm->progress_next - 1;
    if (vm->watch && vm->watch_max < m) m = vm->watch_max;
    vm->ops_max = m;
}

static cryo_vm *vm_create(cryo_unit *unit, cryo_context *ctx) {
    if (!unit || !ctx) return NULL;
    /* Registers and frames are allocated by the first run: creation is one allocation. */
    cryo_vm *vm = calloc(1, sizeof *vm);
    if (!vm) return NULL;
    vm->unit = cryo_unit_retain(unit);
    vm->ctx = cryo_context_retain(ctx);
    load_context_limits(vm);
    cvm_update_ops_max(vm);
    return vm;
}

CRYO_API cryo_vm *cryo_vm_new(cryo_unit *unit, cryo_context *ctx) {
    return vm_create(unit, ctx ? ctx : cryo_context_std());
}

CRYO_API cryo_vm *cryo_vm_new_raw(cryo_unit *unit) {
    return vm_create(unit, cryo_context_raw());
}

CRYO_API void cryo_vm_free(cryo_vm *vm) {
    if (!vm) return;
    cvm_end_run(vm); /* threads still running are stopped and joined, never left behind */
    cvm_unwind(vm, 0);
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
    cvm_module_vm_release(vm);
    free(vm->frames);
    free(vm->handlers);
    cryo_error_free(vm->err);
    cv_collect_cycles(&vm->heap); /* what only cycles of captured cells still hold */
    cv_detach_cells(&vm->heap);   /* cells the host still holds outlive the heap's list */
    cfz_release_pins(vm);         /* after the values that may point into pinned consts */
    clib_vm_release_evals(vm);
    cryo_unit_release(vm->unit);
    cryo_context_release((cryo_context *)vm->ctx);
    free(vm);
}

void cvm_reset(cryo_vm *vm) {
    cvm_end_run(vm);
    cvm_unwind(vm, 0);
    cryo_error_free(vm->err);
    vm->err = NULL;
    vm->dirty = false;
    cv_set(&vm->heap, &vm->thrown, cryo_unit_value());
    vm->thrown_pending = false;
    vm->caught_kind = CRYO_OK;
    vm->nhandlers = 0;
    vm->run_level = 0;
    vm->print_fn = vm->debug_fn = NULL;
    vm->print_ud = vm->debug_ud = NULL;
    vm->progress_fn = NULL;
    vm->progress_ud = NULL;
    vm->progress_every = 0;
    vm->line_hook = NULL;
    vm->line_ud = NULL;
    vm->userdata = NULL;
    cvm_module_vm_release(vm); /* module values: the next run imports afresh */
    /* Closures left in reference cycles by the last run (cheap when no cell was made). */
    cv_collect_cycles(&vm->heap);
    /* Values handed to the host were freed without this heap's accounting: start afresh. */
    vm->heap.bytes = 0;
    vm->heap.exceeded = false;
    cfz_release_pins(vm); /* no value of the VM points into a pinned const any more */
    clib_vm_release_evals(vm);
    vm->stop = NULL;
    vm->next_cb_ctl = NULL;
    vm->next_bounds = NULL;
    cvm_call_disarm(vm);
    vm->call_ops = vm->call_deadline = 0;
    load_context_limits(vm);
    cvm_update_watch(vm);
    atomic_store_explicit(&vm->interrupt, 0, memory_order_relaxed);
}

CRYO_API cryo_error_kind cryo_vm_set_unit(cryo_vm *vm, cryo_unit *unit) {
    if (!vm || !unit) return CRYO_ERR_API;
    if (vm->nframes > 0) return cryo_vm_raise(vm, CRYO_ERR_API, "the VM is running");
    if (unit == vm->unit) return CRYO_OK;
    cryo_unit_retain(unit);
    cryo_unit_release(vm->unit);
    vm->unit = unit;
    vm->binding = NULL;
    return CRYO_OK;
}

CRYO_API cryo_error_kind cryo_vm_set_context(cryo_vm *vm, cryo_context *ctx) {
    if (!vm) return CRYO_ERR_API;
    if (!ctx) ctx = cryo_context_std();
    if (vm->nframes > 0) return cryo_vm_raise(vm, CRYO_ERR_API, "the VM is running");
    if (ctx == vm->ctx) return CRYO_OK;
    cryo_context_retain(ctx);
    cryo_context_release((cryo_context *)vm->ctx);
    vm->ctx = ctx;
    vm->binding = NULL;
    cvm_module_vm_release(vm); /* module values name the old context's static modules */
    load_context_limits(vm);
    cvm_update_ops_max(vm);
    return CRYO_OK;
}

CRYO_API void *cryo_vm_userdata(const cryo_vm *vm) {
    return vm ? vm->userdata : NULL;
}

CRYO_API void cryo_vm_set_userdata(cryo_vm *vm, void *userdata) {
    if (vm) vm->userdata = userdata;
}

CRYO_API void cryo_vm_set_progress(cryo_vm *vm, cryo_progress_fn fn, void *userdata,
                                   uint64_t every) {
    if (!vm) return;
    vm->progress_fn = fn;
    vm->progress_ud = userdata;
    vm->progress_every = fn ? (every ? every : 1) : 0;
    vm->progress_next = vm->ops + vm->progress_every;
    cvm_update_ops_max(vm);
}

CRYO_API unsigned cryo_vm_capabilities(const cryo_vm *vm) {
    return vm && vm->ctx ? vm->ctx->capabilities : 0;
}

/* Resets the per-run state; false (with vm->err set) when the VM cannot run now. */
static cryo_error_kind begin_run(cryo_vm *vm) {
    if (vm->nframes > 0) return cryo_vm_raise(vm, CRYO_ERR_API, "the VM is already running");
    /* threads left by a call made outside a run (cryo_vm_call_value on an idle VM) */
    if (vm->jobs || vm->gov_owner) cvm_end_run(vm);
    cryo_error_free(vm->err);
    vm->err = NULL;
    vm->dirty = false;
    cv_set(&vm->heap, &vm->thrown, cryo_unit_value());
    vm->thrown_pending = false;
    vm->caught_kind = CRYO_OK;
    vm->ops = 0;
    vm->progress_next = vm->progress_every;
    cvm_call_disarm(vm);
    vm->call_ops = vm->call_deadline = 0;
    cvm_update_watch(vm);
    vm->nhandlers = 0;
    vm->run_level = 0;
    vm->heap.limit = (size_t)vm->limits[CRYO_LIMIT_MEMORY];
    vm->heap.exceeded = false;
    atomic_store_explicit(&vm->interrupt, 0, memory_order_relaxed);
    if (!cvm_prepare(vm)) return cvm_raise_oom(vm);
    if (!vm->binding) {
        vm->binding = cvm_unit_bind(vm->unit, vm->ctx);
        if (!vm->binding && vm->unit->nhosts) return cvm_raise_oom(vm);
    }
    return CRYO_OK;
}

/* --- results owned by the caller -------------------------------------------------------------
 * Inside a VM, values may point to shared data without a count: the unit's constant strings,
 * thawed ConstValues. A result handed to the host must not depend on the unit or the VM, so
 * such parts of it are copied (a scan of the result; scalars cost one test). */

/* A key the host may not keep as is (a frozen key lives with its pin); an interned key is
 * the map's own reference and lives as long as the map. */
static bool shared_str(const cryo_string *s) {
    return (s->h.flags & (CRYO_OBJ_SHARED | CRYO_OBJ_INTERNED)) == CRYO_OBJ_SHARED;
}

/* `seen` holds the shared containers already scanned (and found clean): data reachable by many
 * paths (`a = [a, a]` forty times) is scanned once per object, not once per path. */
static bool needs_own_in(cryo_value v, int depth, cv_seen *seen) {
    if (v.type < CRYO_T_STRING || v.type > CRYO_T_MAP) return false;
    if (!(v.flags & CRYO_VF_COUNTED)) return true;
    if (depth > 64) return false;
    if (v.type != CRYO_T_STRING && v.as.obj->rc > 1 && cv_seen_add(seen, v.as.obj, NULL) == 0)
        return false;
    if (v.type == CRYO_T_ARRAY) {
        const cryo_array *a = cv_arr(v);
        for (uint32_t i = 0; i < a->len; i++)
            if (needs_own_in(a->items[i], depth + 1, seen)) return true;
    } else if (v.type == CRYO_T_MAP) {
        const cryo_map *m = cv_map(v);
        for (uint32_t i = 0; i < m->len; i++)
            if (shared_str(m->entries[i].key) || needs_own_in(m->entries[i].value, depth + 1, seen))
                return true;
    }
    return false;
}

static bool needs_own(cryo_value v, int depth) {
    cv_seen seen = {0};
    bool r = needs_own_in(v, depth, &seen);
    cv_seen_free(&seen);
    return r;
}

static bool own_value(cryo_heap *h, cryo_value *slot, int depth) {
    if (!needs_own(*slot, depth)) return true;
    if (!cv_make_unique(h, slot)) return false;
    if (slot->type == CRYO_T_ARRAY) {
        cryo_array *a = cv_arr(*slot);
        for (uint32_t i = 0; i < a->len; i++)
            if (!own_value(h, &a->items[i], depth + 1)) return false;
    } else if (slot->type == CRYO_T_MAP) {
        cryo_map *m = cv_map(*slot);
        for (uint32_t i = 0; i < m->len; i++) {
            cryo_map_entry *e = &m->entries[i];
            if (shared_str(e->key)) {
                cryo_string *k = cv_string_new(h, e->key->data, e->key->len);
                if (!k) return false;
                e->key = k; /* the shared key had no count to drop */
            }
            if (!own_value(h, &e->value, depth + 1)) return false;
        }
    }
    return true;
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
    cryo_error_kind k = cvm_exec(vm, 0);
    if (vm->jobs || vm->gov_owner) cvm_end_run(vm);
    if (k != CRYO_OK) {
        cv_release(&vm->heap, ret);
        if (result) *result = cryo_unit_value();
        return k;
    }
    if (result && !own_value(&vm->heap, &ret, 0)) {
        cv_release(&vm->heap, ret);
        *result = cryo_unit_value();
        return cvm_raise_oom(vm);
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
    if (!cvm_fit_first(vm, vm->unit->protos[0]->nregs)) return cvm_raise_oom(vm);
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
    int fi = cl_unit_find_fn(vm->unit, name, len, (uint32_t)argc);
    if (fi < 0) {
        cryo_value *ptrs[argc > 0 ? argc : 1];
        for (int i = 0; i < argc; i++)
            ptrs[i] = (cryo_value *)&argv[i];
        return cvm_fn_not_found(vm, name, len, argc, ptrs);
    }
    uint32_t pi = vm->unit->fns[fi].proto;
    if (!cvm_fit_first(vm, vm->unit->protos[pi]->nregs)) return cvm_raise_oom(vm);
    load_args(vm, argc, argv);
    return run_proto(vm, pi, result);
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

void cvm_print(cryo_vm *vm, const char *text, size_t len) {
    if (vm->print_fn)
        vm->print_fn(vm->print_ud, text, len);
    else
        write_line(stdout, text, len);
}

void cvm_debug(cryo_vm *vm, const char *text, size_t len) {
    if (vm->debug_fn)
        vm->debug_fn(vm->debug_ud, text, len);
    else
        write_line(stderr, text, len);
}

CRYO_API void cryo_vm_set_limit(cryo_vm *vm, cryo_limit which, uint64_t value) {
    if (!vm || (unsigned)which >= CRYO_LIMIT__COUNT) return;
    vm->limits[which] = value;
    cvm_limits_changed(vm);
    if (which == CRYO_LIMIT_OPERATIONS) cvm_update_ops_max(vm);
}

CRYO_API uint64_t cryo_vm_get_limit(const cryo_vm *vm, cryo_limit which) {
    if (!vm || (unsigned)which >= CRYO_LIMIT__COUNT) return 0;
    return vm->limits[which];
}

CRYO_API void cryo_vm_interrupt(cryo_vm *vm) {
    if (vm) atomic_store_explicit(&vm->interrupt, 1, memory_order_relaxed);
}
