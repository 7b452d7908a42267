/*
 * call.c — conversions between script values and C data, and calls of C functions through
 * ffi_call (fixed and variadic), and registration of C functions in packages.
 */
#include "ffi_internal.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 32

/* --- C -> value ---------------------------------------------------------------------------- */

cryo_error_kind cf_to_value(cryo_vm *vm, const ctype *t, const void *src, cryo_value *out) {
    switch (t->kind) {
    case CT_VOID: *out = cryo_unit_value(); return CRYO_OK;
    case CT_BOOL: *out = cryo_bool(*(const bool *)src); return CRYO_OK;
    case CT_I8: *out = cryo_int(*(const int8_t *)src); return CRYO_OK;
    case CT_U8: *out = cryo_int(*(const uint8_t *)src); return CRYO_OK;
    case CT_I16: *out = cryo_int(*(const int16_t *)src); return CRYO_OK;
    case CT_U16: *out = cryo_int(*(const uint16_t *)src); return CRYO_OK;
    case CT_I32: *out = cryo_int(*(const int32_t *)src); return CRYO_OK;
    case CT_U32: *out = cryo_int(*(const uint32_t *)src); return CRYO_OK;
    case CT_I64: *out = cryo_int(*(const int64_t *)src); return CRYO_OK;
    case CT_U64: {
        uint64_t u = *(const uint64_t *)src;
        if (u > INT64_MAX)
            return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "C value %" PRIu64 " does not fit i64",
                                 u);
        *out = cryo_int((int64_t)u);
        return CRYO_OK;
    }
    case CT_F32: *out = cryo_float(*(const float *)src); return CRYO_OK;
    case CT_F64: *out = cryo_float(*(const double *)src); return CRYO_OK;
    case CT_PTR: {
        void *p = *(void *const *)src;
        if (t->pointee && t->pointee->is_char) {
            /* char *: a string (NULL gives ()) */
            if (!p) {
                *out = cryo_unit_value();
                return CRYO_OK;
            }
            *out = cryo_value_string(p, strlen(p));
            if (out->type != CRYO_T_STRING)
                return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
            return CRYO_OK;
        }
        *out = cv_pointer_raw(p, ct_elem_kind(t->pointee));
        return CRYO_OK;
    }
    case CT_STRUCT: {
        const cstruct *st = t->st;
        cryo_value m = cv_ffi_map_new(vm);
        if (m.type != CRYO_T_MAP) return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
        for (int i = 0; i < st->nfields; i++) {
            cryo_value fv;
            cryo_error_kind k =
                cf_to_value(vm, st->fields[i].type, (const char *)src + st->fields[i].offset, &fv);
            if (k == CRYO_OK && !cv_ffi_map_set(vm, m, st->fields[i].name, fv))
                k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
            if (k != CRYO_OK) {
                cv_ffi_release(vm, m);
                return k;
            }
        }
        *out = m;
        return CRYO_OK;
    }
    case CT_ARRAY: { /* a struct's array field: an array of its elements (a copy) */
        const ctype *et = t->pointee;
        cryo_value a = cv_ffi_array_new(vm, t->n);
        if (a.type != CRYO_T_ARRAY) return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
        for (size_t j = 0; j < t->n; j++) {
            cryo_value ev;
            cryo_error_kind k = cf_to_value(vm, et, (const char *)src + j * et->size, &ev);
            if (k == CRYO_OK && !cv_ffi_array_push(vm, a, ev))
                k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
            if (k != CRYO_OK) {
                cv_ffi_release(vm, a);
                return k;
            }
        }
        *out = a;
        return CRYO_OK;
    }
    default: return cryo_vm_raise(vm, CRYO_ERR_TYPE, "unsupported C type");
    }
}

/* --- value -> C ------------------------------------------------------------------------------ */

static cryo_error_kind type_err(cryo_vm *vm, const ctype *t, cryo_value v, const char *what) {
    char buf[256];
    ct_describe(t, buf, sizeof buf);
    return cryo_vm_raise(vm, CRYO_ERR_TYPE, "%s: cannot convert %s to C type '%s'", what,
                         cryo_type_name((cryo_type)v.type), buf);
}

cryo_error_kind cf_from_value(cryo_vm *vm, const ctype *t, cryo_value v, void *dst,
                              const char *what, char *sbuf, size_t sbuf_size, void **tmp) {
    if (v.type == CRYO_T_CELL) v = ((cryo_cell *)v.as.obj)->v;
    switch (t->kind) {
    case CT_BOOL:
    case CT_I8:
    case CT_U8:
    case CT_I16:
    case CT_U16:
    case CT_I32:
    case CT_U32:
    case CT_I64:
    case CT_U64:
    case CT_F32:
    case CT_F64: {
        int64_t bad = 0;
        cv_conv c = cv_scalar_to_c(ct_elem_kind(t), v, dst, &bad);
        if (c == CV_CONV_OK) return CRYO_OK;
        if (c == CV_CONV_TYPE) return type_err(vm, t, v, what);
        char buf[64];
        ct_describe(t, buf, sizeof buf);
        return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "%s: %" PRId64 " is out of range for %s",
                             what, bad, buf);
    }
    case CT_PTR:
        if (v.type == CRYO_T_POINTER) {
            *(void **)dst = cv_pointer_addr(v);
            return CRYO_OK;
        }
        if (v.type == CRYO_T_UNIT) {
            *(void **)dst = NULL;
            return CRYO_OK;
        }
        if (v.type == CRYO_T_STRING && t->pointee &&
            (t->pointee->is_char || t->pointee->kind == CT_VOID || t->pointee->kind == CT_U8 ||
             t->pointee->kind == CT_I8)) {
            /* A NUL-terminated copy that lives for the call. */
            size_t len;
            const char *s = cryo_value_str(v, &len);
            char *c;
            if (len < sbuf_size) {
                c = sbuf;
            } else {
                c = malloc(len + 1);
                if (!c) return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
                *tmp = c;
            }
            memcpy(c, s, len);
            c[len] = '\0';
            *(char **)dst = c;
            return CRYO_OK;
        }
        return type_err(vm, t, v, what);
    case CT_STRUCT: {
        if (v.type != CRYO_T_MAP) return type_err(vm, t, v, what);
        const cstruct *st = t->st;
        memset(dst, 0, st->ft.size);
        for (int i = 0; i < st->nfields; i++) {
            cryo_value fv;
            const cfield *f = &st->fields[i];
            if (!cryo_map_find(v, f->name, &fv)) continue; /* missing fields stay zero */
            char fwhat[128];
            snprintf(fwhat, sizeof fwhat, "%s, field '%s'", what, f->name);
            if (f->type->kind == CT_ARRAY) {
                const ctype *et = f->type->pointee;
                int64_t n = cryo_array_len(fv);
                if (n < 0 || (uint64_t)n > f->type->n) return type_err(vm, f->type, fv, fwhat);
                for (int64_t j = 0; j < n; j++) {
                    cryo_error_kind k = cf_from_value(
                        vm, et, cryo_array_get(fv, j),
                        (char *)dst + f->offset + (size_t)j * et->size, fwhat, NULL, 0, tmp);
                    if (k != CRYO_OK) return k;
                }
                continue;
            }
            if (f->type->kind == CT_PTR && fv.type == CRYO_T_STRING)
                return type_err(vm, f->type, fv, fwhat); /* a copy would not outlive the call */
            cryo_error_kind k =
                cf_from_value(vm, f->type, fv, (char *)dst + f->offset, fwhat, NULL, 0, tmp);
            if (k != CRYO_OK) return k;
        }
        return CRYO_OK;
    }
    default: return type_err(vm, t, v, what);
    }
}

/* --- calls --------------------------------------------------------------------------------- */

/* The type a variadic extra argument travels as (C's default argument promotions). */
static const ctype *vararg_type(cryo_value v) {
    static ctype str = {
        CT_PTR,        false, false, sizeof(void *), _Alignof(void *), &ffi_type_pointer,
        &ct_char_type, 0,     NULL,  NULL,           CRYO_PE_I8,       true};
    if (v.type == CRYO_T_CELL) v = ((cryo_cell *)v.as.obj)->v;
    switch (v.type) {
    case CRYO_T_INT: return ct_scalar(CT_I64);
    case CRYO_T_FLOAT: return ct_scalar(CT_F64);
    case CRYO_T_BOOL:
    case CRYO_T_CHAR: return ct_scalar(CT_I32);
    case CRYO_T_STRING: return &str;
    case CRYO_T_POINTER:
    case CRYO_T_UNIT: return ct_scalar(CT_PTR);
    default: return NULL;
    }
}

typedef union slot {
    int64_t i;
    double d;
    void *p;
    ffi_arg r;
    long double ld;
} slot;

cryo_error_kind cryo_ffi_call(cryo_vm *vm, const cryo_ffi_sig *sig, void *fnp, int argc,
                              const cryo_value *argv, cryo_value *ret) {
    const cfunc *fn = sig->fn;
    *ret = cryo_unit_value();
    if (argc < fn->nparams || (!fn->variadic && argc != fn->nparams))
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "%s: expected %s%d argument%s, got %d",
                             sig->name[0] ? sig->name : "C function",
                             fn->variadic ? "at least " : "", fn->nparams,
                             fn->nparams == 1 ? "" : "s", argc);
    if (argc > MAX_ARGS)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "too many arguments for a C call (max %d)",
                             MAX_ARGS);
    if (!fnp) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "calling a null function pointer");
    slot storage[MAX_ARGS];
    void *avalues[MAX_ARGS];
    void *tmps[MAX_ARGS] = {0};
    char sbufs[4][64];
    int nsbuf = 0;
    ffi_type *vtypes[MAX_ARGS];
    cryo_error_kind k = CRYO_OK;
    for (int i = 0; i < argc && k == CRYO_OK; i++) {
        const ctype *t = i < fn->nparams ? fn->params[i] : vararg_type(argv[i]);
        char what[96];
        if (i < fn->nparams && fn->pnames[i])
            snprintf(what, sizeof what, "%s: argument %d ('%s')", sig->name, i + 1, fn->pnames[i]);
        else
            snprintf(what, sizeof what, "%s: argument %d", sig->name, i + 1);
        if (!t) {
            k = cryo_vm_raise(vm, CRYO_ERR_TYPE, "%s: cannot pass %s to a variadic function", what,
                              cryo_type_name((cryo_type)argv[i].type));
            break;
        }
        vtypes[i] = t->ft;
        void *dst = &storage[i];
        if (t->kind == CT_STRUCT && t->size > sizeof(slot)) {
            dst = tmps[i] = malloc(t->size);
            if (!dst) {
                k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
                break;
            }
        }
        avalues[i] = dst;
        char *sb = nsbuf < 4 ? sbufs[nsbuf] : NULL;
        void *extra = NULL;
        k = cf_from_value(vm, t, argv[i], dst, what, sb, sb ? sizeof sbufs[0] : 0, &extra);
        if (k == CRYO_OK && t->kind == CT_PTR && argv[i].type == CRYO_T_STRING && !extra) nsbuf++;
        if (extra) {
            if (tmps[i])
                free(extra); /* cannot happen: structs carry no strings */
            else
                tmps[i] = extra;
        }
    }
    if (k == CRYO_OK) {
        ffi_cif vcif;
        const ffi_cif *cif = &fn->cif;
        if (fn->variadic) {
            for (int i = 0; i < fn->nparams; i++)
                vtypes[i] = fn->params[i]->ft;
            if (ffi_prep_cif_var(&vcif, FFI_DEFAULT_ABI, (unsigned)fn->nparams, (unsigned)argc,
                                 fn->ret->ft, vtypes) != FFI_OK)
                k = cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "libffi cannot prepare this call");
            cif = &vcif;
        }
        if (k == CRYO_OK) {
            const ctype *rt = fn->ret;
            slot rbuf[2];
            void *rdst = rbuf;
            void *big = NULL;
            if (rt->size > sizeof rbuf) rdst = big = malloc(rt->size);
            if (!rdst) {
                k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
            } else {
                ffi_call((ffi_cif *)cif, FFI_FN(fnp), rdst, avalues);
                if (rt->kind == CT_VOID) {
                    *ret = cryo_unit_value();
                } else if (rt->kind != CT_STRUCT && rt->kind != CT_F32 && rt->kind != CT_F64 &&
                           rt->size < sizeof(ffi_arg)) {
                    /* small integers come back widened to ffi_arg */
                    ffi_arg r = *(ffi_arg *)rdst;
                    switch (rt->kind) {
                    case CT_BOOL: *ret = cryo_bool(r != 0); break;
                    case CT_I8: *ret = cryo_int((int8_t)r); break;
                    case CT_U8: *ret = cryo_int((uint8_t)r); break;
                    case CT_I16: *ret = cryo_int((int16_t)r); break;
                    case CT_U16: *ret = cryo_int((uint16_t)r); break;
                    case CT_I32: *ret = cryo_int((int32_t)r); break;
                    case CT_U32: *ret = cryo_int((uint32_t)r); break;
                    default: *ret = cryo_int((int64_t)r); break;
                    }
                } else {
                    k = cf_to_value(vm, rt, rdst, ret);
                }
                free(big);
            }
        }
    }
    for (int i = 0; i < argc; i++)
        free(tmps[i]);
    return k;
}

/* --- registration ------------------------------------------------------------------------------
 */

static cryo_error_kind host_call(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                 cryo_value *ret) {
    const cryo_ffi_sig *sig = ud;
    cryo_value args[MAX_ARGS];
    if (argc > MAX_ARGS)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "too many arguments for a C call (max %d)",
                             MAX_ARGS);
    for (int i = 0; i < argc; i++)
        args[i] = *argv[i];
    return cryo_ffi_call(vm, sig, sig->fnptr, argc, args, ret);
}

cryo_error_kind cryo_ffi_package_add(cryo_package *pkg, cryo_ffi_scope *scope, const char *name,
                                     const char *decl, void *fn, cryo_error **err) {
    if (err) *err = NULL;
    if (!pkg || !decl || !fn) return CRYO_ERR_API;
    cryo_ffi_sig *sig = cryo_ffi_parse(scope, decl, err);
    if (!sig) return err && *err ? (*err)->kind : CRYO_ERR_PARSE;
    sig->fnptr = fn;
    const char *n = name ? name : sig->name;
    if (!n[0]) return CRYO_ERR_API; /* abstract type: no name (sig stays in the scope) */
    return cryo_package_add(pkg, n, sig->fn->variadic ? -1 : sig->fn->nparams, host_call, sig);
}
