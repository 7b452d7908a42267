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

/* A complex number as the map #{re, im} (floats). */
static cryo_error_kind complex_to_value(cryo_vm *vm, ct_kind k, const void *src, cryo_value *out) {
    double re, im;
    if (k == CT_CF32) {
        float c[2];
        memcpy(c, src, sizeof c);
        re = c[0];
        im = c[1];
    } else if (k == CT_CF64) {
        double c[2];
        memcpy(c, src, sizeof c);
        re = c[0];
        im = c[1];
    } else {
        long double c[2];
        memcpy(c, src, sizeof c);
        re = (double)c[0];
        im = (double)c[1];
    }
    cryo_value m = cv_ffi_map_new(vm);
    if (m.type != CRYO_T_MAP || !cv_ffi_map_set(vm, m, "re", cryo_float(re)) ||
        !cv_ffi_map_set(vm, m, "im", cryo_float(im))) {
        if (m.type == CRYO_T_MAP) cv_ffi_release(vm, m);
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
    }
    *out = m;
    return CRYO_OK;
}

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
    case CT_LDOUBLE: *out = cryo_float((double)*(const long double *)src); return CRYO_OK;
    case CT_CF32:
    case CT_CF64:
    case CT_CLD: return complex_to_value(vm, t->kind, src, out);
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
        out->aux2 = ct_elem_chain(t->pointee);
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

/* A script number (f64, or i64 converted) as a double; false for any other type. */
static bool number(cryo_value v, double *d) {
    return cv_scalar_to_c(CRYO_PE_F64, v, d, &(int64_t){0}) == CV_CONV_OK;
}

/* long double from a number; the complex types from #{re, im} (a missing part is 0), [re, im]
 * or a number (a real: im = 0). */
static cryo_error_kind wide_from_value(cryo_vm *vm, const ctype *t, cryo_value v, void *dst,
                                       const char *what) {
    double re = 0, im = 0;
    bool ok = number(v, &re);
    if (!ok && t->kind != CT_LDOUBLE) {
        cryo_value rv, iv;
        if (v.type == CRYO_T_MAP) {
            ok = (!cryo_map_find(v, "re", &rv) || number(rv, &re)) &&
                 (!cryo_map_find(v, "im", &iv) || number(iv, &im));
        } else if (v.type == CRYO_T_ARRAY && cryo_array_len(v) == 2) {
            ok = number(cryo_array_get(v, 0), &re) && number(cryo_array_get(v, 1), &im);
        }
    }
    if (!ok) return type_err(vm, t, v, what);
    switch (t->kind) {
    case CT_LDOUBLE: *(long double *)dst = re; break;
    case CT_CF32: {
        float c[2] = {(float)re, (float)im};
        memcpy(dst, c, sizeof c);
        break;
    }
    case CT_CF64: {
        double c[2] = {re, im};
        memcpy(dst, c, sizeof c);
        break;
    }
    default: {
        long double c[2] = {re, im};
        memcpy(dst, c, sizeof c);
        break;
    }
    }
    return CRYO_OK;
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
    case CT_LDOUBLE:
    case CT_CF32:
    case CT_CF64:
    case CT_CLD: return wide_from_value(vm, t, v, dst, what);
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

/* Whether map m has exactly the fields of st (in any order). */
static bool map_is_struct(cryo_value m, const cstruct *st) {
    if (!st->complete || cryo_map_len(m) != st->nfields) return false;
    cryo_value unused;
    for (int i = 0; i < st->nfields; i++)
        if (!cryo_map_find(m, st->fields[i].name, &unused)) return false;
    return true;
}

/* A map passed to `...` is the struct of the function's scope whose field names it has (as C
 * passes a struct expression by value); none or several is an error naming them. */
static cryo_error_kind vararg_struct(cryo_vm *vm, const cryo_ffi_sig *sig, cryo_value m,
                                     const char *what, ctype *out) {
    cryo_ffi_scope *s = sig->scope ? sig->scope : cf_scope(NULL);
    const cstruct *found = NULL, *other = NULL;
    if (m.type == CRYO_T_CELL) m = ((cryo_cell *)m.as.obj)->v;
    pthread_mutex_lock(&s->lock);
    for (const cstruct *st = s->structs; st && !other; st = st->next) {
        if (!map_is_struct(m, st)) continue;
        if (found)
            other = st;
        else
            found = st;
    }
    pthread_mutex_unlock(&s->lock);
    if (!found)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE,
                             "%s: a map passed to '...' must have exactly the fields of one "
                             "struct defined with cdef, and no struct has these %lld fields",
                             what, (long long)cryo_map_len(m));
    if (other)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE,
                             "%s: the map's fields match both 'struct %s' and 'struct %s': a "
                             "variadic struct argument must match exactly one struct",
                             what, found->name, other->name);
    memset(out, 0, sizeof *out);
    out->kind = CT_STRUCT;
    out->st = (cstruct *)found;
    out->size = found->ft.size;
    out->align = found->ft.alignment;
    out->ft = (ffi_type *)&found->ft;
    return CRYO_OK;
}

/* The type a variadic extra argument travels as (C's default argument promotions; a map as
 * the struct it matches, in *st). NULL when it cannot be passed. */
static const ctype *vararg_type(cryo_value v, ctype *st) {
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
    case CRYO_T_MAP: return st;
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

/* Converts a C result (libffi widens small integers to ffi_arg) into *ret. */
static cryo_error_kind result_value(cryo_vm *vm, const ctype *rt, void *rdst, cryo_value *ret) {
    if (rt->kind == CT_VOID) {
        *ret = cryo_unit_value();
        return CRYO_OK;
    }
    if (rt->kind == CT_STRUCT || rt->kind == CT_F32 || rt->kind == CT_F64 ||
        ct_is_wide_float(rt->kind) || rt->size >= sizeof(ffi_arg))
        return cf_to_value(vm, rt, rdst, ret);
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
    return CRYO_OK;
}

/* Calls fnp with the converted arguments: the cif and argument list ffi_call gets, with the
 * arguments abi.c splits in two eightbytes given as their halves. */
static cryo_error_kind do_call(cryo_vm *vm, const cfunc *fn, void *fnp, int argc,
                               const ctype *const *types, void **avalues, void *rdst) {
    ffi_cif vcif;
    const ffi_cif *cif = fn->split ? &fn->call_cif : &fn->cif;
    const uint8_t *split = fn->split;
    ffi_type *ltypes[2 * MAX_ARGS];
    uint8_t vsplit[MAX_ARGS];
    if (fn->variadic) {
        int nl = cf_lower_types(fn->ret, argc, types, ltypes, vsplit);
        int nfixed = fn->nparams;
        for (int i = 0; i < fn->nparams; i++)
            nfixed += vsplit[i];
        if (ffi_prep_cif_var(&vcif, FFI_DEFAULT_ABI, (unsigned)nfixed, (unsigned)nl, fn->ret->ft,
                             ltypes) != FFI_OK)
            return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "libffi cannot prepare this call");
        cif = &vcif;
        split = nl != argc ? vsplit : NULL;
    }
    void *lvalues[2 * MAX_ARGS];
    void **av = avalues;
    if (split) {
        int k = 0;
        for (int i = 0; i < argc; i++) {
            lvalues[k++] = avalues[i];
            if (split[i]) lvalues[k++] = (char *)avalues[i] + 8;
        }
        av = lvalues;
    }
    ffi_call((ffi_cif *)cif, FFI_FN(fnp), rdst, av);
    return CRYO_OK;
}

cryo_error_kind cryo_ffi_call(cryo_vm *vm, const cryo_ffi_sig *sig, void *fnp, int argc,
                              const cryo_value *argv, cryo_value *ret) {
    cf_pointer_install(); /* a C result may be a pointer value */
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
    const ctype *types[MAX_ARGS];
    ctype vstructs[MAX_ARGS]; /* the struct types of maps passed to `...` */
    cryo_error_kind k = CRYO_OK;
    for (int i = 0; i < argc && k == CRYO_OK; i++) {
        char what[96];
        if (i < fn->nparams && fn->pnames[i])
            snprintf(what, sizeof what, "%s: argument %d ('%s')", sig->name, i + 1, fn->pnames[i]);
        else
            snprintf(what, sizeof what, "%s: argument %d", sig->name, i + 1);
        const ctype *t = i < fn->nparams ? fn->params[i] : vararg_type(argv[i], &vstructs[i]);
        if (t == &vstructs[i]) k = vararg_struct(vm, sig, argv[i], what, &vstructs[i]);
        if (k != CRYO_OK) break;
        if (!t) {
            k = cryo_vm_raise(vm, CRYO_ERR_TYPE, "%s: cannot pass %s to a variadic function", what,
                              cryo_type_name((cryo_type)argv[i].type));
            break;
        }
        types[i] = t;
        void *dst = &storage[i];
        if (t->size > sizeof(slot)) {
            dst = tmps[i] = malloc(t->size);
            if (!dst) {
                k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
                break;
            }
        } else if (t->kind == CT_STRUCT) {
            memset(dst, 0, sizeof(slot)); /* a split struct's last eightbyte: no stale bytes */
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
        const ctype *rt = fn->ret;
        slot rbuf[2];
        void *rdst = rbuf;
        void *big = NULL;
        if (rt->size > sizeof rbuf) rdst = big = malloc(rt->size);
        if (!rdst)
            k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
        else
            k = do_call(vm, fn, fnp, argc, types, avalues, rdst);
        if (k == CRYO_OK) k = result_value(vm, rt, rdst, ret);
        free(big);
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
    cf_pointer_install(); /* the function may return pointers to scripts */
    if (err) *err = NULL;
    if (!pkg || !decl || !fn) return CRYO_ERR_API;
    cryo_ffi_sig *sig = cryo_ffi_parse(scope, decl, err);
    if (!sig) return err && *err ? (*err)->kind : CRYO_ERR_PARSE;
    sig->fnptr = fn;
    const char *n = name ? name : sig->name;
    if (!n[0]) return CRYO_ERR_API; /* abstract type: no name (sig stays in the scope) */
    return cryo_package_add(pkg, n, sig->fn->variadic ? -1 : sig->fn->nparams, host_call, sig);
}
