/*
 * hosttype.c — host types: a handle type's hooks (cryo_host_ops) behind properties, indexing,
 * operators, printing and iteration. Called only from slow paths (a handle is never on an
 * inline fast path), looked up through the handle's own type pointer: O(1), nothing per VM.
 */
#include "hosttype.h"
#include "lang/lang.h"

#include <stdlib.h>

/* The hooks of a handle value (through a cell), or NULL. */
static const cryo_host_ops *ops_of(cryo_value v, void **ptr) {
    if (v.type == CRYO_T_CELL) v = cv_cell(v)->v;
    if (v.type != CRYO_T_HANDLE) return NULL;
    const cryo_handle *hd = cv_handle(v);
    if (!hd->type || !hd->type->ops) return NULL;
    if (ptr) *ptr = hd->ptr;
    return hd->type->ops;
}

/* A hook's result: CRYO_HOST_DECLINE leaves the operation to the caller. A hook that returns
 * an error without raising one still fails with a message. */
static cryo_error_kind result(cryo_vm *vm, cryo_error_kind k, cryo_value *out, bool *done,
                              const char *what) {
    if (k == CRYO_HOST_DECLINE) {
        if (out) *out = cryo_unit_value();
        return CRYO_OK;
    }
    *done = true;
    if (k != CRYO_OK && (!vm->err || !vm->dirty)) return cryo_vm_raise(vm, k, "%s failed", what);
    return k;
}

cryo_error_kind cvm_host_get(cryo_vm *vm, cryo_value obj, const char *name, cryo_value *out,
                             bool *done) {
    void *ptr;
    const cryo_host_ops *o = ops_of(obj, &ptr);
    *done = false;
    if (!o || !o->get) return CRYO_OK;
    *out = cryo_unit_value();
    return result(vm, o->get(vm, ptr, name, out), out, done, "property getter");
}

cryo_error_kind cvm_host_set(cryo_vm *vm, cryo_value obj, const char *name, cryo_value v,
                             bool *done) {
    void *ptr;
    const cryo_host_ops *o = ops_of(obj, &ptr);
    *done = false;
    if (!o || !o->set) return CRYO_OK;
    return result(vm, o->set(vm, ptr, name, v), NULL, done, "property setter");
}

cryo_error_kind cvm_host_index_get(cryo_vm *vm, cryo_value obj, cryo_value idx, cryo_value *out,
                                   bool *done) {
    void *ptr;
    const cryo_host_ops *o = ops_of(obj, &ptr);
    *done = false;
    if (!o || !o->index_get) return CRYO_OK;
    *out = cryo_unit_value();
    return result(vm, o->index_get(vm, ptr, idx, out), out, done, "indexer");
}

cryo_error_kind cvm_host_index_set(cryo_vm *vm, cryo_value obj, cryo_value idx, cryo_value v,
                                   bool *done) {
    void *ptr;
    const cryo_host_ops *o = ops_of(obj, &ptr);
    *done = false;
    if (!o || !o->index_set) return CRYO_OK;
    return result(vm, o->index_set(vm, ptr, idx, v), NULL, done, "indexer");
}

/* The public operator of an opcode; *swap for > and <= (b < a), *negate for !=, <=, >=. */
static bool public_op(int op, cryo_operator *out, bool *swap, bool *negate) {
    *swap = *negate = false;
    switch (op) {
    case OP_ADD: *out = CRYO_OPER_ADD; return true;
    case OP_SUB: *out = CRYO_OPER_SUB; return true;
    case OP_MUL: *out = CRYO_OPER_MUL; return true;
    case OP_DIV: *out = CRYO_OPER_DIV; return true;
    case OP_MOD: *out = CRYO_OPER_MOD; return true;
    case OP_POW: *out = CRYO_OPER_POW; return true;
    case OP_SHL: *out = CRYO_OPER_SHL; return true;
    case OP_SHR: *out = CRYO_OPER_SHR; return true;
    case OP_BAND: *out = CRYO_OPER_AND; return true;
    case OP_BOR: *out = CRYO_OPER_OR; return true;
    case OP_BXOR: *out = CRYO_OPER_XOR; return true;
    case OP_EQ: *out = CRYO_OPER_EQ; return true;
    case OP_NE: *out = CRYO_OPER_EQ, *negate = true; return true;
    case OP_LT: *out = CRYO_OPER_LT; return true;
    case OP_GT: *out = CRYO_OPER_LT, *swap = true; return true;
    case OP_LE: *out = CRYO_OPER_LT, *swap = *negate = true; return true; /* !(b < a) */
    case OP_GE: *out = CRYO_OPER_LT, *negate = true; return true;         /* !(a < b) */
    case OP_NEG: *out = CRYO_OPER_NEG; return true;
    case OP_NOT: *out = CRYO_OPER_NOT; return true;
    default: return false;
    }
}

static cryo_error_kind call_binary(cryo_vm *vm, const cryo_host_ops *o, cryo_operator op,
                                   cryo_value a, cryo_value b, bool negate, cryo_value *out,
                                   bool *done) {
    cryo_error_kind k = result(vm, o->binary(vm, op, a, b, out), out, done, "operator");
    if (k != CRYO_OK || !*done || !negate) return k;
    if (out->type != CRYO_T_BOOL) {
        cv_release(&vm->heap, *out);
        *out = cryo_unit_value();
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "the operator of %s must return a bool",
                             cv_type_name(a.type == CRYO_T_HANDLE ? a : b));
    }
    out->as.b = !out->as.b;
    return CRYO_OK;
}

cryo_error_kind cvm_host_binary(cryo_vm *vm, int op, cryo_value a, cryo_value b, cryo_value *out,
                                bool *done) {
    *done = false;
    const cryo_host_ops *oa = ops_of(a, NULL), *ob = ops_of(b, NULL);
    cryo_operator pop;
    bool swap, negate;
    if ((!oa || !oa->binary) && (!ob || !ob->binary)) return CRYO_OK;
    if (!public_op(op, &pop, &swap, &negate)) return CRYO_OK;
    cryo_value x = swap ? b : a, y = swap ? a : b;
    const cryo_host_ops *first = swap ? ob : oa, *second = swap ? oa : ob;
    cryo_error_kind k = CRYO_OK;
    if (first && first->binary) {
        k = call_binary(vm, first, pop, x, y, negate, out, done);
        if (*done || k != CRYO_OK) return k;
    }
    if (second && second->binary && second != first)
        k = call_binary(vm, second, pop, x, y, negate, out, done);
    return k;
}

cryo_error_kind cvm_host_less(cryo_vm *vm, cryo_value a, cryo_value b, bool *lt, bool *done) {
    cryo_value out = cryo_unit_value();
    *lt = false;
    cryo_error_kind k = cvm_host_binary(vm, OP_LT, a, b, &out, done);
    if (k != CRYO_OK || !*done) return k;
    if (out.type != CRYO_T_BOOL) {
        cv_release(&vm->heap, out);
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "the operator '<' of %s must return a bool",
                             cv_type_name(a.type == CRYO_T_HANDLE ? a : b));
    }
    *lt = out.as.b;
    return CRYO_OK;
}

cryo_error_kind cvm_host_unary(cryo_vm *vm, int op, cryo_value a, cryo_value *out, bool *done) {
    void *ptr;
    const cryo_host_ops *o = ops_of(a, &ptr);
    cryo_operator pop;
    bool swap, negate;
    *done = false;
    if (!o || !o->unary || !public_op(op, &pop, &swap, &negate)) return CRYO_OK;
    *out = cryo_unit_value();
    return result(vm, o->unary(vm, pop, ptr, out), out, done, "operator");
}

cryo_error_kind cvm_host_iterable(cryo_vm *vm, cryo_value *v, bool *done) {
    void *ptr;
    const cryo_host_ops *o = ops_of(*v, &ptr);
    *done = false;
    if (!o || !o->len || !o->index_get) return CRYO_OK;
    *done = true;
    int64_t n = o->len(ptr);
    if (n < 0) n = 0;
    cryo_error_kind k = cvm_check_array(vm, (size_t)n);
    if (k != CRYO_OK) return k;
    cryo_array *arr = cv_array_new(&vm->heap, (size_t)n);
    if (!arr) return cvm_raise_oom(vm);
    cryo_value av = cv_from_obj(&arr->h);
    for (int64_t i = 0; i < n; i++) {
        cryo_value item = cryo_unit_value();
        k = o->index_get(vm, ptr, cryo_int(i), &item);
        if (k == CRYO_HOST_DECLINE)
            k = cryo_vm_raise(vm, CRYO_ERR_INDEX, "%s has no item %lld", cv_type_name(*v),
                              (long long)i);
        else if (k != CRYO_OK && (!vm->err || !vm->dirty))
            k = cryo_vm_raise(vm, k, "indexer failed");
        if (k == CRYO_OK && !cv_array_push(&vm->heap, arr, item)) k = cvm_raise_oom(vm);
        if (k != CRYO_OK) {
            cv_release(&vm->heap, av);
            return k;
        }
    }
    cv_set(&vm->heap, v, av);
    return CRYO_OK;
}
