/*
 * sync.c — SyncFunctions: into_sync (freezing a closure's captures), retain/release, and calls
 * from any thread (cryo_sync_call on the thread's pooled VM) or in a given VM. See sync.h and
 * docs/sync.md.
 */
#include "sync.h"
#include "lang/lang.h" /* cl_error_new */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- contexts ------------------------------------------------------------------------------ */

static cryo_context *context_retain(cryo_context *ctx) {
    return ctx ? cryo_context_retain(ctx) : NULL;
}

static void context_release(cryo_context *ctx) {
    if (ctx) cryo_context_release(ctx);
}

cryo_fn *cfz_sync_destroy(cryo_sync *s) {
    cryo_fn *fn = s->fn;
    /* this thread's VM cache keeps nothing for s's address, which a new SyncFunction may get;
     * another thread's kept VM is checked against the (unit, context) before it is used */
    cvm_cache_forget(s);
    if (s->unit) cryo_unit_release(s->unit);
    context_release(s->ctx);
    if (!(fn->h.flags & CFZ_FN_IN_SYNC)) free(s); /* else freed with fn (const.c) */
    return fn;
}

/* --- into_sync ----------------------------------------------------------------------------- */

static cryo_unit *current_unit(cryo_vm *vm) {
    return vm->nframes > 0 ? vm->frames[vm->nframes - 1].proto->unit : vm->unit;
}

static cryo_error_kind raise_at(cryo_vm *vm, cryo_error_kind kind, int line, int column,
                                const char *fmt, const char *name) {
    cryo_vm_raise(vm, kind, fmt, name, line);
    if (vm->err && line > 0) {
        vm->err->line = line;
        vm->err->column = column;
    }
    return kind;
}

static cryo_string *frozen_name(const cryo_string *name) {
    cryo_const c =
        cryo_const_string(name ? name->data : "anonymous", name ? name->len : strlen("anonymous"));
    return c.v.type == CRYO_T_STRING ? cv_str(c.v) : NULL;
}

cryo_error_kind cfz_sync_from_fn(cryo_vm *vm, cryo_fn *fn, int depth, cryo_sync **out) {
    cryo_freezer fz;
    cfz_freezer_begin(&fz, vm);
    return cfz_freezer_end(&fz, cfz_sync_from_fn_in(&fz, fn, depth, out));
}

/* calloc on the VM's heap: frozen objects are freed with free() (const.c), as cv_alloc's are. */
static void *heap_calloc(cryo_vm *vm, size_t size) {
    void *p = cv_alloc(&vm->heap, size);
    if (p) memset(p, 0, size);
    return p;
}

cryo_error_kind cfz_sync_from_fn_in(cryo_freezer *fz, cryo_fn *fn, int depth, cryo_sync **out) {
    cryo_vm *vm = fz->vm;
    *out = NULL;
    if (fn->h.flags & CRYO_OBJ_FROZEN) {
        /* the shared fn of a SyncFunction is never a value on its own; be safe anyway */
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "into_sync: unexpected frozen function");
    }
    const cryo_proto *p = NULL;
    if (fn->h.extra == CRYO_FN_SCRIPT) {
        p = fn->unit->protos[fn->proto];
        /* Refuse closures that assign their captures, before copying anything. */
        for (uint16_t i = 0; i < fn->ncaps && i < p->ncaps; i++) {
            const cryo_capdesc *cd = &p->caps[i];
            if (cd->assigned)
                return raise_at(vm, CRYO_ERR_TYPE, cd->line, cd->column,
                                "into_sync: the closure assigns the captured variable '%s' "
                                "(line %d); a SyncFunction's captures are read-only",
                                cd->name ? cd->name : "?");
        }
    }
    /* One block: the SyncFunction, then its fn (CFZ_FN_IN_SYNC), for one malloc header less
     * (issue 19: a SyncFunction of one captured int in at most 160 bytes). */
    _Static_assert(sizeof(cryo_sync) % _Alignof(cryo_fn) == 0, "fn after the sync is aligned");
    size_t size = sizeof(cryo_fn) + (size_t)fn->ncaps * sizeof(cryo_cell *);
    cryo_sync *s = heap_calloc(vm, sizeof *s + size);
    if (!s) return cvm_raise_oom(vm);
    cryo_fn *sf = (cryo_fn *)(void *)((char *)s + sizeof *s);
    sf->h.type = CRYO_T_FN;
    sf->h.extra = fn->h.extra;
    sf->h.flags = CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN | CFZ_FN_IN_SYNC;
    sf->h.rc = 1;
    sf->proto = fn->proto;
    sf->ncaps = fn->ncaps;
    sf->ncurry = 0;
    s->h.type = CRYO_T_SYNCFN;
    s->h.flags = CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN;
    s->h.rc = 1;
    s->fn = sf;
    s->ctx = context_retain((cryo_context *)vm->ctx);
    cryo_unit *u = fn->unit ? fn->unit : current_unit(vm);
    s->unit = cryo_unit_retain(u);
    if (fn->unit) sf->unit = cryo_unit_retain(fn->unit);
    s->arity = p ? (int)p->nparams - (int)fn->ncurry : -1;
    s->proto = p;
    s->hot_argc = p && fn->ncurry == 0 ? (int)p->nparams : -1;
    cryo_error_kind k = CRYO_OK;
    /* A script closure's name is its unit's shared string, alive as long as sf->unit: no copy
     * (into_sync in a loop would otherwise allocate four times per function for it). */
    if (fn->unit && fn->name && (fn->name->h.flags & CRYO_OBJ_SHARED) &&
        !(fn->name->h.flags & CRYO_OBJ_FROZEN))
        sf->name = fn->name;
    else
        sf->name = frozen_name(fn->name);
    if (!sf->name) k = cvm_raise_oom(vm);
    if (k == CRYO_OK && fn->ncurry) {
        sf->curry = heap_calloc(vm, (size_t)fn->ncurry * sizeof(cryo_value));
        if (!sf->curry) k = cvm_raise_oom(vm);
        for (uint16_t i = 0; k == CRYO_OK && i < fn->ncurry; i++) {
            k = cfz_freeze_in(fz, fn->curry[i], "a curried argument", depth + 1, &sf->curry[i]);
            if (k == CRYO_OK) sf->ncurry = (uint16_t)(i + 1);
        }
    }
    for (uint16_t i = 0; k == CRYO_OK && i < fn->ncaps; i++) {
        const cryo_capdesc *cd = p && i < p->ncaps ? &p->caps[i] : NULL;
        char what[160];
        snprintf(what, sizeof what, "the captured variable '%s' (line %d)",
                 cd && cd->name ? cd->name : "?", cd ? cd->line : 0);
        /* A frozen cell is never on a heap's list (the cycle collector skips frozen objects
         * and const.c frees it): its list links are left out of the allocation. */
        cryo_cell *cell = heap_calloc(vm, offsetof(cryo_cell, gc_pprev));
        if (!cell) {
            k = cvm_raise_oom(vm);
            break;
        }
        cell->h.type = CRYO_T_CELL;
        cell->h.flags = CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN;
        cell->h.rc = 1;
        sf->caps[i] = cell;
        k = cfz_freeze_in(fz, fn->caps[i]->v, what, depth + 1, &cell->v);
        if (k != CRYO_OK && vm->err && cd && cd->line > 0 && vm->nframes == 0) {
            vm->err->line = cd->line;
            vm->err->column = cd->column;
        }
    }
    if (k != CRYO_OK) {
        cfz_release(&s->h);
        return k;
    }
    *out = s;
    return CRYO_OK;
}

CRYO_API cryo_error_kind cryo_vm_into_sync(cryo_vm *vm, cryo_value fn, cryo_sync **out) {
    if (!out) return CRYO_ERR_API;
    *out = NULL;
    if (!vm) return CRYO_ERR_API;
    while (fn.type == CRYO_T_CELL)
        fn = cv_cell(fn)->v;
    if (fn.type == CRYO_T_SYNCFN) {
        *out = cryo_sync_retain((cryo_sync *)fn.as.obj);
        return CRYO_OK;
    }
    if (fn.type != CRYO_T_FN)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "into_sync: expected a function, got %s",
                             cv_type_name(fn));
    return cfz_sync_from_fn(vm, cv_fn(fn), 0, out);
}

CRYO_API cryo_sync *cryo_sync_retain(cryo_sync *f) {
    if (f) cfz_retain(&f->h);
    return f;
}

CRYO_API void cryo_sync_release(cryo_sync *f) {
    if (f) cfz_release(&f->h);
}

CRYO_API int cryo_sync_arity(const cryo_sync *f) {
    return f ? f->arity : -1;
}

CRYO_API cryo_value cryo_value_sync(cryo_sync *f) {
    if (!f) return cryo_unit_value();
    return cv_from_shared(&f->h);
}

CRYO_API cryo_sync *cryo_value_as_sync(cryo_value v) {
    return v.type == CRYO_T_SYNCFN ? (cryo_sync *)v.as.obj : NULL;
}

CRYO_API cryo_const cryo_const_sync(cryo_sync *f) {
    if (!f) return cryo_const_unit();
    cfz_retain(&f->h);
    return (cryo_const){cv_from_shared(&f->h)};
}

const cryo_fn *cfz_sync_closure(const cryo_obj *o) {
    return ((const cryo_sync *)o)->fn;
}

cryo_value cfz_sync_fn_value(cryo_vm *vm, cryo_value syncv) {
    cryo_sync *s = (cryo_sync *)syncv.as.obj;
    /* Inside a SyncFunction's body every SyncFn value it can call is kept alive by the running
     * function's captures, by the caller's arguments or by a pin made when it was created or
     * thawed: no pin there, so that a pooled VM's reset releases nothing and a call of a nested
     * SyncFunction costs no atomic operation. Elsewhere, pin it (once per VM). */
    const cryo_frame *f = vm->nframes > 0 ? &vm->frames[vm->nframes - 1] : NULL;
    if (!f || !f->closure || !(f->closure->h.flags & CRYO_OBJ_FROZEN))
        cfz_pin(vm, &s->h); /* out of memory: the caller still holds it for the call */
    return cv_from_shared(&s->fn->h);
}

/* --- calls --------------------------------------------------------------------------------- */

/* The calling thread's VM for a call of f: the VM kept for f in the thread's VM cache
 * (vm/cache.c) when it is ready and bound to f's (unit, context) — the hot case, no list walk
 * and no reset — else the cache's slow path. *pooled says the VM was reset since its last call. */
static cryo_vm *acquire_vm(cryo_sync *f, cvm_kept **kept, bool *pooled) {
    cvm_kept *k = cvm_cache_ready(f);
    if (k && k->vm->unit == f->unit && k->vm->ctx == f->ctx) {
        *kept = k;
        *pooled = false;
        return cvm_cache_enter(k);
    }
    return cvm_cache_take(f, f->unit, f->ctx, kept, pooled);
}

/* A clean VM (no error, no pins, no frames) stays kept and ready for f's next call; any other
 * goes to the idle list, whose reset drops its pins and error. */
static void release_vm(cryo_sync *f, cryo_vm *vm, cvm_kept *k) {
    bool clean = !vm->err && vm->npins == 0 && vm->nframes == 0;
    if (k && clean)
        cvm_cache_leave(k, f, true);
    else
        cvm_cache_give(k, vm, clean);
}

/* Prepares an idle VM for a call (the cheap part of a run's reset). */
static cryo_error_kind begin_call(cryo_vm *vm, bool pooled) {
    if (pooled) { /* cryo_vm_pool_release reset it already */
        vm->ops = 0;
        return cvm_prepare(vm) ? CRYO_OK : cvm_raise_oom(vm);
    }
    if (__builtin_expect(!vm->dirty && vm->seg && vm->frames, 1)) {
        /* the hot case (a kept VM's next call): nothing to reset or allocate */
        vm->ops = 0;
        atomic_store_explicit(&vm->interrupt, 0, memory_order_relaxed);
        return CRYO_OK;
    }
    if (vm->err) {
        cryo_error_free(vm->err);
        vm->err = NULL;
    }
    vm->dirty = false;
    if (vm->thrown.type != CRYO_T_UNIT) cv_set(&vm->heap, &vm->thrown, cryo_unit_value());
    vm->thrown_pending = false;
    vm->caught_kind = CRYO_OK;
    vm->ops = 0;
    vm->nhandlers = 0;
    vm->run_level = 0;
    vm->heap.exceeded = false;
    atomic_store_explicit(&vm->interrupt, 0, memory_order_relaxed);
    if (!cvm_prepare(vm)) return cvm_raise_oom(vm);
    return CRYO_OK;
}

/* Runs f's call set up as the VM's first frame; the result lands in *result, () on error. */
static inline __attribute__((always_inline)) cryo_error_kind exec_frame0(cryo_vm *vm, cryo_sync *f,
                                                                         cryo_value *result) {
    cvm_call_arm_fast(vm, &f->ctl);
    cryo_error_kind k = cvm_exec(vm, 0);
    cvm_call_disarm(vm);
    if (__builtin_expect(vm->gov != NULL, 0)) cvm_end_run(vm); /* made by spawn */
    if (__builtin_expect(k != CRYO_OK, 0)) {
        cv_release(&vm->heap, *result);
        cv_clear(result);
    }
    return k;
}

/* Enters f as the VM's first frame (its arguments already in the registers) and runs it; the
 * result lands in *result, () on error. The general path; the hot one (cfz_sync_run_hot) finds
 * the frame already set up but for its start and result. */
static inline __attribute__((always_inline)) cryo_error_kind
run_frame0(cryo_vm *vm, cryo_sync *f, const cryo_binding *b, cryo_value *result) {
    const cryo_proto *p = f->proto;
    cryo_frame *fr = &vm->frames[0];
    fr->proto = p;
    fr->pc = p->code;
    fr->base = vm->seg->slots;
    fr->closure = f->fn;
    fr->this_ref = NULL;
    fr->binding = b;
    fr->ret_slot = result;
    fr->run_level = 0;
    vm->nframes = 1;
    return exec_frame0(vm, f, result);
}

/* A call of f with the wrong number of arguments: names the function as the source writes it
 * (`fn name`, or the closure by the line it is defined on, never its internal "anon$N") and
 * puts the error at that line (CRYO_ERR_NOT_FOUND, as a script call by the wrong arity). */
static cryo_error_kind arity_error(cryo_vm *vm, const cryo_sync *f, int argc) {
    const cryo_proto *p = f->proto;
    int takes = f->arity;
    cryo_error_kind k;
    if (strncmp(p->name, "anon$", 5) != 0)
        k = cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                          "wrong number of arguments: fn %s (line %d) takes %d, called with %d",
                          p->name, p->line, takes, argc);
    else
        k = cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                          "wrong number of arguments: the closure defined at line %d takes %d, "
                          "called with %d",
                          p->line, takes, argc);
    if (vm->err) {
        vm->err->line = p->line;
        vm->err->column = 0;
    }
    return k;
}

/* Runs f on an idle VM with argv (values owned by the caller; retained into registers). */
static cryo_error_kind run_idle(cryo_vm *vm, bool pooled, cryo_sync *f, int argc,
                                const cryo_value *argv, cryo_value *ret) {
    *ret = cryo_unit_value();
    cryo_error_kind k = begin_call(vm, pooled);
    if (k != CRYO_OK) return k;
    cryo_fn *fn = f->fn;
    const cryo_proto *p = f->proto;
    if (!p) {
        /* Fn("name"): resolved by name in the VM (rare: the general path) */
        return cryo_vm_call_value(vm, cv_from_shared(&fn->h), argc, argv, ret);
    }
    int n = (int)fn->ncurry + argc;
    if (n != (int)p->nparams) return arity_error(vm, f, argc);
    const cryo_binding *b = p->unit == vm->unit ? vm->binding : NULL;
    if (!b) {
        b = cvm_binding(vm, p->unit);
        if (!b && p->unit->nhosts) return cvm_raise_oom(vm);
        if (p->unit == vm->unit) vm->binding = b; /* cached for the next call on this VM */
    }
    if (__builtin_expect(p->nregs > vm->seg->size, 0) && !cvm_fit_first(vm, p->nregs))
        return cvm_raise_oom(vm);
    cryo_value *base = vm->seg->slots;
    for (int i = 0; i < fn->ncurry; i++)
        cv_set(&vm->heap, &base[i], fn->curry[i]); /* frozen: uncounted */
    for (int i = 0; i < argc; i++) {
        cv_retain(argv[i]);
        cv_set(&vm->heap, &base[fn->ncurry + i], argv[i]);
    }
    return run_frame0(vm, f, b, ret);
}

static cryo_error *copy_error(const cryo_error *e, cryo_error_kind kind) {
    if (!e) return cl_error_new(kind, NULL, 0, 0, "%s", cryo_error_kind_name(kind));
    cryo_error *c = cl_error_new(e->kind, e->source_name, e->line, e->column, "%s",
                                 e->message ? e->message : "");
    if (c) c->trace = cvm_trace_copy(e->trace); /* the calls inside the SyncFunction */
    return c;
}

CRYO_API void cryo_sync_set_bounds(cryo_sync *f, const cryo_call_bounds *bounds) {
    if (f) cvm_call_ctl_set(&f->ctl, bounds);
}

CRYO_API void cryo_sync_get_bounds(const cryo_sync *f, cryo_call_bounds *out) {
    if (!out) return;
    if (f)
        cvm_call_ctl_get(&f->ctl, out);
    else
        *out = (cryo_call_bounds){0, 0};
}

CRYO_API void cryo_sync_interrupt(cryo_sync *f) {
    if (f) cvm_call_ctl_interrupt(&f->ctl);
}

/* The body of cryo_sync_call and cryo_sync_call_bounded, inlined in both: the unbounded call
 * pays nothing for the bounded one. */
static inline __attribute__((always_inline)) cryo_error_kind
sync_call(cryo_sync *f, const cryo_call_bounds *bounds, int argc, const cryo_const *argv,
          cryo_const *result, cryo_error **err) {
    if (result) *result = cryo_const_unit();
    if (err) *err = NULL;
    if (!f || argc < 0 || argc > 255 || (argc && !argv)) {
        if (err) *err = cl_error_new(CRYO_ERR_API, NULL, 0, 0, "cryo_sync_call: bad arguments");
        return CRYO_ERR_API;
    }
    bool pooled;
    cvm_kept *kept;
    cryo_vm *vm = acquire_vm(f, &kept, &pooled);
    if (!vm) {
        if (err) *err = cl_error_new(CRYO_ERR_MEMORY, NULL, 0, 0, "out of memory");
        return CRYO_ERR_MEMORY;
    }
    cryo_value ret;
    if (bounds) vm->next_bounds = bounds;
    /* cryo_const is a struct of one cryo_value: the arrays have the same layout. */
    cryo_error_kind k = run_idle(vm, pooled, f, argc, (const cryo_value *)argv, &ret);
    if (bounds) vm->next_bounds = NULL;
    if (k == CRYO_OK) {
        if (result && cv_is_heap(ret))
            k = cryo_vm_freeze(vm, ret, result);
        else if (result)
            result->v = ret;
        cv_release(&vm->heap, ret);
    }
    if (k != CRYO_OK && err) *err = copy_error(vm->err, k);
    if (vm->err) {
        cryo_error_free(vm->err);
        vm->err = NULL;
    }
    release_vm(f, vm, kept);
    return k;
}

CRYO_API cryo_error_kind cryo_sync_call(cryo_sync *f, int argc, const cryo_const *argv,
                                        cryo_const *result, cryo_error **err) {
    return sync_call(f, NULL, argc, argv, result, err);
}

CRYO_API cryo_error_kind cryo_sync_call_bounded(cryo_sync *f, const cryo_call_bounds *bounds,
                                                int argc, const cryo_const *argv,
                                                cryo_const *result, cryo_error **err) {
    return sync_call(f, bounds, argc, argv, result, err);
}

CRYO_API cryo_error_kind cfz_sync_run_hot(cryo_sync *f, cryo_vm *vm, cryo_value *result) {
    /* Only what a call changes is set: the op count, the interrupt flag and, of the first
     * frame, which cfz_sync_hot_regs found still f's, where it starts and where the result
     * lands (its base too: the register segment is the VM's to replace between calls). */
    vm->ops = 0;
    atomic_store_explicit(&vm->interrupt, 0, memory_order_relaxed);
    cv_clear(result);
    cryo_frame *fr = &vm->frames[0];
    fr->pc = f->proto->code;
    fr->base = vm->seg->slots;
    fr->ret_slot = result;
    vm->nframes = 1;
    return exec_frame0(vm, f, result);
}

CRYO_API cryo_error_kind cfz_sync_run_end(cryo_vm *vm, cryo_error_kind k, cryo_value *result) {
    if (vm->gov) cvm_end_run(vm); /* made by spawn */
    if (k != CRYO_OK) {
        cv_release(&vm->heap, *result);
        cv_clear(result);
    }
    return k;
}

CRYO_API cryo_error_kind cryo_sync_call_in(cryo_sync *f, cryo_vm *vm, int argc,
                                           const cryo_value *argv, cryo_value *result) {
    if (result) *result = cryo_unit_value();
    if (!f || !vm || argc < 0 || argc > 255 || (argc && !argv)) return CRYO_ERR_API;
    if (f->proto && (int)f->fn->ncurry + argc != (int)f->proto->nparams)
        return arity_error(vm, f, argc);
    /* A callback's cached VM calls the same function again and again: its pin is the last. */
    if (!cfz_sync_pinned_last(f, vm) && !cfz_pin(vm, &f->h)) return cvm_raise_oom(vm);
    cryo_value ret;
    cryo_value *out = result ? result : &ret; /* the result lands there: no copy */
    cryo_error_kind k;
    cryo_value *regs = cfz_sync_hot_regs(f, vm, argc);
    if (regs) {
        for (int i = 0; i < argc; i++) {
            cv_retain(argv[i]);
            cv_set(&vm->heap, &regs[i], argv[i]);
        }
        k = cfz_sync_run_hot(f, vm, out);
    } else if (vm->nframes == 0)
        k = run_idle(vm, false, f, argc, argv, out);
    else
        k = cryo_vm_call_value(vm, cv_from_shared(&f->fn->h), argc, argv, out);
    if (!result) cv_release(&vm->heap, ret);
    return k;
}
