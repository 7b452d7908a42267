/*
 * vm_call.c — the VM's call machinery outside the hot loop: host calls (CALLH), function-value
 * calls (CALLV) and re-entrant calls from hosts. The register stack is in stack.c, errors and
 * limits in limits.c.
 */
#include "vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- bindings ------------------------------------------------------------------------------ */

const cryo_binding *cvm_binding(cryo_vm *vm, cryo_unit *u) {
    if (u == vm->unit && vm->binding) return vm->binding;
    return cvm_unit_bind(u, vm->ctx);
}

/* --- calling function values ------------------------------------------------------------ */

/* What a function value resolves to for a call with `nargs` arguments (curried included). */
typedef struct callee {
    const cryo_proto *proto; /* script function, or NULL */
    cryo_fn *closure;
    const cryo_libreg *host; /* host function, or NULL */
} callee;

static cryo_unit *current_unit(cryo_vm *vm) {
    return vm->nframes > 0 ? vm->frames[vm->nframes - 1].proto->unit : vm->unit;
}

static cryo_error_kind resolve(cryo_vm *vm, cryo_value fv, int nargs, cryo_value *const *argv,
                               callee *out) {
    out->proto = NULL;
    out->closure = NULL;
    out->host = NULL;
    if (fv.type != CRYO_T_FN)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot call a value of type %s as a function",
                             cv_type_name(fv));
    cryo_fn *fn = cv_fn(fv);
    const char *name = fn->name ? fn->name->data : "anonymous";
    size_t len = fn->name ? fn->name->len : strlen(name);
    if (fn->h.extra == CRYO_FN_SCRIPT) {
        const cryo_proto *p = fn->unit->protos[fn->proto];
        if (p->nparams != nargs) goto not_found;
        out->proto = p;
        out->closure = fn;
        return CRYO_OK;
    }
    cryo_unit *u = current_unit(vm);
    int fi = u ? cl_unit_find_fn(u, name, len, (uint32_t)nargs) : -1;
    if (fi >= 0) {
        out->proto = u->protos[u->fns[fi].proto];
        return CRYO_OK;
    }
    out->host = cvm_context_find(vm->ctx, name, len, nargs);
    if (out->host) return CRYO_OK;
not_found:;
    /* The message lists the call's own arguments after the curried ones. */
    cryo_value *types[256];
    int n = 0;
    for (int i = 0; i < fn->ncurry && n < 255; i++)
        types[n++] = &fn->curry[i];
    for (int i = 0; i + fn->ncurry < nargs && n < 255; i++)
        types[n++] = argv[i];
    return cvm_fn_not_found(vm, name, len, n, types);
}

/* Calls a resolved host function with curried + given arguments. */
static cryo_error_kind call_host(cryo_vm *vm, const cryo_libreg *reg, cryo_fn *fn, int argc,
                                 cryo_value *const *argv, cryo_value *ret) {
    int n = fn->ncurry + argc;
    cryo_value *ptrs[n > 0 ? n : 1];
    for (int i = 0; i < fn->ncurry; i++)
        ptrs[i] = &fn->curry[i];
    for (int i = 0; i < argc; i++)
        ptrs[fn->ncurry + i] = argv[i];
    cryo_value r = cryo_unit_value();
    /* The fn value may be dropped by the host (e.g. a receiver replaced): keep it alive.
     * A SyncFunction's shared fn is kept alive by the VM's pins instead (sync.h). */
    bool counted = !(fn->h.flags & CRYO_OBJ_SHARED);
    if (counted) fn->h.rc++;
    cryo_error_kind k = reg->fn(vm, reg->userdata, n, ptrs, &r);
    if (counted) cv_release(&vm->heap, cv_from_obj(&fn->h));
    if (k != CRYO_OK) {
        cvm_trace_add_host(vm->err, reg->name, reg, vm->nframes - 1);
        cv_release(&vm->heap, r);
        return k;
    }
    cv_set(&vm->heap, ret, r);
    return CRYO_OK;
}

/* Runs a script callee in a nested dispatch loop (host -> script re-entry). The fn value is
 * borrowed by the caller for the length of the call. */
static cryo_error_kind invoke_script(cryo_vm *vm, const callee *c, cryo_fn *fn,
                                     cryo_value *this_ref, int argc, cryo_value *const *argv,
                                     cryo_value *ret) {
    uint64_t depth = vm->limits[CRYO_LIMIT_CALL_DEPTH];
    if (vm->run_level >= CRYO_VM_MAX_RUN_LEVEL || (depth && (uint64_t)vm->nframes > depth))
        return cryo_vm_raise(vm, CRYO_ERR_STACK_OVERFLOW, "stack overflow: too many nested calls");
    if (!cvm_prepare(vm) || !cvm_grow_frames(vm)) return cvm_raise_oom(vm);
    const cryo_proto *p = c->proto;
    /* Rhai refuses to bind `this` to a shared variable the closure also captures. */
    for (int i = 0; this_ref && fn && i < fn->ncaps; i++)
        if (this_ref == &fn->caps[i]->v)
            return cryo_vm_raise(vm, CRYO_ERR_RUNTIME,
                                 "data race: 'this' is a variable the closure captures");
    const cryo_binding *b = cvm_binding(vm, p->unit);
    if (!b && p->unit->nhosts) return cvm_raise_oom(vm);
    cryo_value *top = vm->seg->slots;
    if (vm->nframes > 0) {
        const cryo_frame *cur = &vm->frames[vm->nframes - 1];
        top = cur->base + cur->proto->nregs;
    }
    cryo_value *nb = cvm_fit_frame(vm, top, p->nregs, 0);
    if (!nb) return cvm_raise_oom(vm);
    int ncurry = fn ? fn->ncurry : 0;
    for (int i = 0; i < ncurry; i++) {
        cv_retain(fn->curry[i]);
        cv_set(&vm->heap, &nb[i], fn->curry[i]);
    }
    for (int i = 0; i < argc; i++) {
        cv_retain(*argv[i]);
        cv_set(&vm->heap, &nb[ncurry + i], *argv[i]);
    }
    cvm_release_regs(&vm->heap, nb + ncurry + argc, p->nregs - (size_t)(ncurry + argc));
    int stop = vm->nframes;
    cryo_frame *f = &vm->frames[vm->nframes++];
    f->proto = p;
    f->pc = p->code;
    f->base = nb;
    f->closure = c->closure;
    f->this_ref = this_ref;
    f->binding = b;
    f->ret_slot = ret;
    f->run_level = ++vm->run_level;
    /* the closure's captures must outlive the call (a SyncFunction's: pinned, sync.h) */
    bool counted = fn && !(fn->h.flags & CRYO_OBJ_SHARED);
    if (counted) fn->h.rc++;
    cryo_error_kind k = cvm_exec(vm, stop);
    vm->run_level--;
    if (counted) cv_release(&vm->heap, cv_from_obj(&fn->h));
    return k;
}

static cryo_error_kind invoke(cryo_vm *vm, cryo_value fv, cryo_value *this_ref, int argc,
                              cryo_value *const *argv, cryo_value *ret) {
    if (fv.type == CRYO_T_SYNCFN) fv = cfz_sync_fn_value(vm, fv);
    if (fv.type != CRYO_T_FN) return resolve(vm, fv, argc, argv, &(callee){0});
    cryo_fn *fn = cv_fn(fv);
    callee c;
    cryo_error_kind k = resolve(vm, fv, fn->ncurry + argc, argv, &c);
    if (k != CRYO_OK) return k;
    if (c.host) return call_host(vm, c.host, fn, argc, argv, ret);
    return invoke_script(vm, &c, fn, this_ref, argc, argv, ret);
}

cryo_error_kind cvm_call_method(cryo_vm *vm, cryo_value fn, cryo_value *this_ref, int argc,
                                const cryo_value *argv, cryo_value *ret) {
    *ret = cryo_unit_value();
    if (argc < 0 || argc > 255)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "too many arguments (%d)", argc);
    cryo_value *ptrs[argc > 0 ? argc : 1];
    for (int i = 0; i < argc; i++)
        ptrs[i] = (cryo_value *)&argv[i];
    return invoke(vm, fn, this_ref, argc, ptrs, ret);
}

cryo_error_kind cryo_vm_call_value(cryo_vm *vm, cryo_value fn, int argc, const cryo_value *argv,
                                   cryo_value *ret) {
    return cvm_call_method(vm, fn, NULL, argc, argv, ret);
}

/* --- CALLH ------------------------------------------------------------------------------- */

/* An unbound method-style call on a map holding a function under the method's name calls that
 * function with `this` = the map (Rhai's object-map methods). */
static cryo_error_kind call_map_method(cryo_vm *vm, const cryo_hostslot *hs, int argc,
                                       cryo_value **argv, cryo_value *ret, bool *done) {
    *done = false;
    cryo_value *recv = argv[0];
    if (recv->type != CRYO_T_MAP) return CRYO_OK;
    cryo_map_entry *e = cv_map_find(cv_map(*recv), hs->name, strlen(hs->name));
    if (!e || e->value.type != CRYO_T_FN) return CRYO_OK;
    *done = true;
    cryo_value fv = e->value;
    cv_retain(fv); /* the callee may replace the map's entry */
    cryo_error_kind k = invoke(vm, fv, recv, argc - 1, argv + 1, ret);
    cv_release(&vm->heap, fv);
    return k;
}

cryo_error_kind cvm_op_callh(cryo_vm *vm, cryo_value *base, cryo_instr i, cryo_instr x) {
    cryo_frame *f = &vm->frames[vm->nframes - 1];
    unsigned a = CRYO_A(i), argc = CRYO_B(i), mode = CRYO_X_MODE(x);
    cryo_value *argv[argc > 0 ? argc : 1];
    for (unsigned j = 0; j < argc; j++)
        argv[j] = &base[a + j];
    if (mode != CRYO_RECV_NONE && argc > 0) {
        cryo_value *r = &base[CRYO_X_RECV(x)];
        if (mode == CRYO_RECV_CELL) {
            if (r->type != CRYO_T_CELL) /* hostile bytecode (image.c verifies bounds only) */
                return cryo_vm_raise(vm, CRYO_ERR_TYPE, "invalid bytecode: receiver is no cell");
            r = &cv_cell(*r)->v;
        } else if (mode == CRYO_RECV_THIS) {
            r = f->this_ref;
            if (!r) return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "'this' is not bound");
        } else if (mode == CRYO_RECV_PATH) {
            r = cvm_path_recv(vm, r);
            if (!r) return CRYO_ERR_TYPE;
        }
        argv[0] = r;
    }
    const cryo_libreg *reg = f->binding ? f->binding->slots[CRYO_X_INDEX(x)] : NULL;
    cryo_value ret = cryo_unit_value();
    cryo_error_kind k;
    if (reg) {
        k = reg->fn(vm, reg->userdata, (int)argc, argv, &ret);
        if (k != CRYO_OK) cvm_trace_add_host(vm->err, reg->name, reg, vm->nframes - 1);
    } else {
        const cryo_hostslot *hs = &f->proto->unit->hosts[CRYO_X_INDEX(x)];
        bool done = false;
        k = CRYO_OK;
        if (mode != CRYO_RECV_NONE && argc > 0)
            k = call_map_method(vm, hs, (int)argc, argv, &ret, &done);
        if (!done) k = cvm_fn_not_found(vm, hs->name, strlen(hs->name), (int)argc, argv);
    }
    if (k != CRYO_OK) {
        cv_release(&vm->heap, ret);
        return k;
    }
    cv_set(&vm->heap, &base[a], ret);
    return CRYO_OK;
}

/* --- CALLV ------------------------------------------------------------------------------- */

/* Pushes a script frame for R[A](R[A+1..A+B]) with the curried arguments inserted first; the
 * callee's frame starts at R[A+1]. */
static cryo_error_kind push_callv(cryo_vm *vm, cryo_value *base, unsigned a, unsigned argc,
                                  const callee *c, cryo_fn *fn) {
    const cryo_proto *p = c->proto;
    uint64_t depth = vm->limits[CRYO_LIMIT_CALL_DEPTH];
    if (depth && (uint64_t)vm->nframes > depth)
        return cryo_vm_raise(vm, CRYO_ERR_STACK_OVERFLOW, "stack overflow: too many nested calls");
    if (!cvm_grow_frames(vm)) return cvm_raise_oom(vm);
    const cryo_binding *b = cvm_binding(vm, p->unit);
    if (!b && p->unit->nhosts) return cvm_raise_oom(vm);
    unsigned ncurry = fn->ncurry;
    cryo_value *nb = cvm_fit_frame(vm, base + a + 1, p->nregs, argc);
    if (!nb) return cvm_raise_oom(vm);
    if (ncurry) {
        /* Registers past the arguments are dead temporaries: shift the arguments up. */
        for (unsigned j = argc; j-- > 0;) {
            cryo_value v = nb[j];
            nb[j] = cryo_unit_value();
            cv_set(&vm->heap, &nb[j + ncurry], v);
        }
        for (unsigned j = 0; j < ncurry; j++) {
            cv_retain(fn->curry[j]);
            cv_set(&vm->heap, &nb[j], fn->curry[j]);
        }
    }
    cvm_release_regs(&vm->heap, nb + ncurry + argc, p->nregs - (ncurry + argc));
    cryo_frame *f = &vm->frames[vm->nframes++];
    f->proto = p;
    f->pc = p->code;
    f->base = nb;
    f->closure = c->closure;
    f->this_ref = NULL;
    f->binding = b;
    f->ret_slot = &base[a];
    f->run_level = vm->run_level;
    return CRYO_OK;
}

cryo_error_kind cvm_op_callv(cryo_vm *vm, cryo_value *base, cryo_instr i, bool *pushed) {
    unsigned a = CRYO_A(i), argc = CRYO_B(i);
    cryo_value fv = base[a];
    *pushed = false;
    cryo_value *argv[argc > 0 ? argc : 1];
    for (unsigned j = 0; j < argc; j++)
        argv[j] = &base[a + 1 + j];
    if (fv.type == CRYO_T_SYNCFN) fv = cfz_sync_fn_value(vm, fv); /* pinned; base[a] unchanged */
    if (fv.type != CRYO_T_FN) return resolve(vm, fv, (int)argc, argv, &(callee){0});
    cryo_fn *fn = cv_fn(fv);
    callee c;
    cryo_error_kind k = resolve(vm, fv, fn->ncurry + (int)argc, argv, &c);
    if (k != CRYO_OK) return k;
    if (c.host) return call_host(vm, c.host, fn, (int)argc, argv, &base[a]);
    if (c.proto->nregs > CRYO_MAX_REGS || fn->ncurry + argc > c.proto->nregs)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "too many arguments");
    k = push_callv(vm, base, a, argc, &c, fn);
    *pushed = k == CRYO_OK;
    return k;
}
