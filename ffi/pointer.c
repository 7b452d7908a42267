/*
 * pointer.c — typed C pointers as script values (CRYO_T_POINTER), the FFI's value kind.
 *
 * The core knows a pointer value's layout (value.h: raw and owned) and reaches the rest —
 * freeing an owned one, its text form, p[i] reads and writes — through the value-type hook
 * cv_pointer_hooks, which cf_pointer_install sets before the FFI makes any pointer value.
 * Built into libcryo_ffi: it uses only what libcryo exports (ext.h's cx_* and cv_ffi_*).
 */
#include "ffi_internal.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} elems[CRYO_PE__COUNT] = {
    [CRYO_PE_VOID] = {"void", 0},
    [CRYO_PE_I8] = {"i8", 1},
    [CRYO_PE_U8] = {"u8", 1},
    [CRYO_PE_I16] = {"i16", 2},
    [CRYO_PE_U16] = {"u16", 2},
    [CRYO_PE_I32] = {"i32", 4},
    [CRYO_PE_U32] = {"u32", 4},
    [CRYO_PE_I64] = {"i64", 8},
    [CRYO_PE_U64] = {"u64", 8},
    [CRYO_PE_F32] = {"f32", 4},
    [CRYO_PE_F64] = {"f64", 8},
    [CRYO_PE_BOOL] = {"bool", 1},
    [CRYO_PE_PTR] = {"ptr", sizeof(void *)},
};

size_t cv_ptr_elem_size(cryo_ptr_elem e) {
    return (unsigned)e < CRYO_PE__COUNT ? elems[e].size : 0;
}

const char *cv_ptr_elem_name(cryo_ptr_elem e) {
    return (unsigned)e < CRYO_PE__COUNT ? elems[e].name : "?";
}

cryo_pointer *cv_pointer_new(cryo_heap *h, size_t elem_size, int64_t count) {
    if (count < 0 || (elem_size && (uint64_t)count > (SIZE_MAX / 2) / elem_size)) return NULL;
    size_t bytes = elem_size * (size_t)count;
    cryo_pointer *p = cx_alloc(h, sizeof *p + bytes);
    if (!p) return NULL;
    memset(p, 0, sizeof *p + bytes);
    p->h.rc = 1;
    p->h.type = CRYO_T_POINTER;
    p->addr = p->data;
    p->count = count;
    p->inline_bytes = bytes;
    return p;
}

cryo_pointer *cv_pointer_wrap(cryo_heap *h, void *addr, int64_t count, void (*dtor)(void *),
                              void *ud) {
    cryo_pointer *p = cx_alloc(h, sizeof *p);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->h.rc = 1;
    p->h.type = CRYO_T_POINTER;
    p->addr = addr;
    p->count = count;
    p->dtor = dtor;
    p->ud = ud;
    return p;
}

void cv_pointer_free(cryo_heap *h, cryo_obj *o) {
    cryo_pointer *p = (cryo_pointer *)o;
    if (p->dtor) p->dtor(p->ud);
    cx_free(h, p, sizeof *p + p->inline_bytes);
}

bool cv_pointer_repr(cryo_heap *h, cryo_string **s, cryo_value v) {
    char buf[64];
    int n = snprintf(buf, sizeof buf, "ptr<%s>(%p)", cv_ptr_elem_name((cryo_ptr_elem)v.aux),
                     cv_pointer_addr(v));
    return cx_string_append(h, s, buf, (size_t)n);
}

cryo_error_kind cv_ptr_load(cryo_vm *vm, cryo_ptr_elem e, const void *a, cryo_value *out) {
    switch (e) {
    case CRYO_PE_I8: *out = cryo_int(*(const int8_t *)a); break;
    case CRYO_PE_U8: *out = cryo_int(*(const uint8_t *)a); break;
    case CRYO_PE_I16: *out = cryo_int(*(const int16_t *)a); break;
    case CRYO_PE_U16: *out = cryo_int(*(const uint16_t *)a); break;
    case CRYO_PE_I32: *out = cryo_int(*(const int32_t *)a); break;
    case CRYO_PE_U32: *out = cryo_int(*(const uint32_t *)a); break;
    case CRYO_PE_I64: *out = cryo_int(*(const int64_t *)a); break;
    case CRYO_PE_U64: {
        uint64_t u = *(const uint64_t *)a;
        if (u > INT64_MAX)
            return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "u64 value %" PRIu64 " does not fit i64",
                                 u);
        *out = cryo_int((int64_t)u);
        break;
    }
    case CRYO_PE_F32: *out = cryo_float(*(const float *)a); break;
    case CRYO_PE_F64: *out = cryo_float(*(const double *)a); break;
    case CRYO_PE_BOOL: *out = cryo_bool(*(const bool *)a); break;
    case CRYO_PE_PTR: *out = cv_pointer_raw(*(void *const *)a, CRYO_PE_VOID); break;
    default: return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot read through a void pointer");
    }
    return CRYO_OK;
}

static bool int_fits(cryo_ptr_elem e, int64_t i) {
    switch (e) {
    case CRYO_PE_I8: return i >= INT8_MIN && i <= INT8_MAX;
    case CRYO_PE_U8: return i >= 0 && i <= UINT8_MAX;
    case CRYO_PE_I16: return i >= INT16_MIN && i <= INT16_MAX;
    case CRYO_PE_U16: return i >= 0 && i <= UINT16_MAX;
    case CRYO_PE_I32: return i >= INT32_MIN && i <= INT32_MAX;
    case CRYO_PE_U32: return i >= 0 && i <= UINT32_MAX;
    case CRYO_PE_U64: return i >= 0;
    default: return true;
    }
}

cv_conv cv_scalar_to_c(cryo_ptr_elem e, cryo_value v, void *a, int64_t *bad) {
    if (v.type == CRYO_T_CELL) v = cv_cell(v)->v;
    switch (e) {
    case CRYO_PE_I8:
    case CRYO_PE_U8:
    case CRYO_PE_I16:
    case CRYO_PE_U16:
    case CRYO_PE_I32:
    case CRYO_PE_U32:
    case CRYO_PE_I64:
    case CRYO_PE_U64: {
        int64_t i;
        if (v.type == CRYO_T_INT)
            i = v.as.i;
        else if (v.type == CRYO_T_CHAR)
            i = v.as.c;
        else if (v.type == CRYO_T_BOOL)
            i = v.as.b;
        else
            return CV_CONV_TYPE;
        if (!int_fits(e, i)) {
            *bad = i;
            return CV_CONV_RANGE;
        }
        switch (e) {
        case CRYO_PE_I8: *(int8_t *)a = (int8_t)i; break;
        case CRYO_PE_U8: *(uint8_t *)a = (uint8_t)i; break;
        case CRYO_PE_I16: *(int16_t *)a = (int16_t)i; break;
        case CRYO_PE_U16: *(uint16_t *)a = (uint16_t)i; break;
        case CRYO_PE_I32: *(int32_t *)a = (int32_t)i; break;
        case CRYO_PE_U32: *(uint32_t *)a = (uint32_t)i; break;
        default: *(int64_t *)a = i; break;
        }
        return CV_CONV_OK;
    }
    case CRYO_PE_F32:
    case CRYO_PE_F64: {
        double d;
        if (v.type == CRYO_T_FLOAT)
            d = v.as.f;
        else if (v.type == CRYO_T_INT)
            d = (double)v.as.i;
        else
            return CV_CONV_TYPE;
        if (e == CRYO_PE_F32)
            *(float *)a = (float)d;
        else
            *(double *)a = d;
        return CV_CONV_OK;
    }
    case CRYO_PE_BOOL:
        if (v.type != CRYO_T_BOOL) return CV_CONV_TYPE;
        *(bool *)a = v.as.b;
        return CV_CONV_OK;
    default: return CV_CONV_TYPE;
    }
}

cryo_error_kind cv_ptr_store(cryo_vm *vm, cryo_ptr_elem e, void *a, cryo_value v) {
    if (v.type == CRYO_T_CELL) v = cv_cell(v)->v;
    if (e == CRYO_PE_PTR) {
        if (v.type == CRYO_T_POINTER)
            *(void **)a = cv_pointer_addr(v);
        else if (v.type == CRYO_T_UNIT)
            *(void **)a = NULL;
        else
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot store %s in a pointer element",
                                 cx_type_name(v));
        return CRYO_OK;
    }
    if (e == CRYO_PE_VOID || (unsigned)e >= CRYO_PE__COUNT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot write through a void pointer");
    int64_t bad = 0;
    switch (cv_scalar_to_c(e, v, a, &bad)) {
    case CV_CONV_OK: return CRYO_OK;
    case CV_CONV_RANGE:
        return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "%" PRId64 " is out of range for %s", bad,
                             cv_ptr_elem_name(e));
    default:
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot store %s in a %s element", cx_type_name(v),
                             cv_ptr_elem_name(e));
    }
}

static cryo_error_kind elem_addr(cryo_vm *vm, cryo_value p, cryo_value idx, void **addr) {
    if (idx.type == CRYO_T_CELL) idx = cv_cell(idx)->v;
    if (idx.type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "a pointer index must be an i64, not %s",
                             cx_type_name(idx));
    cryo_ptr_elem e = (cryo_ptr_elem)p.aux;
    size_t sz = cv_ptr_elem_size(e);
    if (!sz) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot index a void pointer");
    int64_t n = cv_pointer_count(p);
    if (n >= 0 && (idx.as.i < 0 || idx.as.i >= n))
        return cryo_vm_raise(vm, CRYO_ERR_INDEX,
                             "pointer index %" PRId64 " out of bounds (%" PRId64 " elements)",
                             idx.as.i, n);
    char *base = cv_pointer_addr(p);
    if (!base) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "indexing a null pointer");
    *addr = base + idx.as.i * (int64_t)sz;
    return CRYO_OK;
}

static cryo_error_kind ptr_get(cryo_vm *vm, cryo_value p, cryo_value idx, cryo_value *out) {
    /* the common cases first: an i64 index in bounds, a 32/64-bit element */
    if (idx.type == CRYO_T_INT) {
        const char *base = cv_pointer_addr(p);
        int64_t n = cv_pointer_count(p), i = idx.as.i;
        if (base && (n < 0 ? true : (uint64_t)i < (uint64_t)n)) {
            switch (p.aux) {
            case CRYO_PE_I32: *out = cryo_int(((const int32_t *)base)[i]); return CRYO_OK;
            case CRYO_PE_I64: *out = cryo_int(((const int64_t *)base)[i]); return CRYO_OK;
            case CRYO_PE_F64: *out = cryo_float(((const double *)base)[i]); return CRYO_OK;
            default: break;
            }
        }
    }
    void *a = NULL;
    cryo_error_kind k = elem_addr(vm, p, idx, &a);
    if (k != CRYO_OK) return k;
    k = cv_ptr_load(vm, (cryo_ptr_elem)p.aux, a, out);
    if (k == CRYO_OK && p.aux == CRYO_PE_PTR) { /* one level down: what the element points to */
        out->aux = (uint16_t)(p.aux2 & 0xF);
        out->aux2 = p.aux2 >> 4;
    }
    return k;
}

static cryo_error_kind ptr_set(cryo_vm *vm, cryo_value p, cryo_value idx, cryo_value v) {
    void *a = NULL;
    cryo_error_kind k = elem_addr(vm, p, idx, &a);
    if (k == CRYO_OK) k = cv_ptr_store(vm, (cryo_ptr_elem)p.aux, a, v);
    cv_ffi_release(vm, v);
    return k;
}

static const cv_pointer_hooks hooks = {cv_pointer_free, cv_pointer_repr, ptr_get, ptr_set};

void cf_pointer_install(void) {
    cv_pointer_hooks_set(&hooks);
}
