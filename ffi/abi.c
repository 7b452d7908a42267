/*
 * abi.c — what cryo hands to ffi_call, where libffi's own lowering of an argument is wrong.
 *
 * x86-64 System V, libffi up to 3.4.6 (fixed upstream in libffi PR #848, first in 3.4.7):
 * ffi_call copies a struct passed in registers eightbyte by eightbyte, but for an INTEGER
 * eightbyte it copies the rest of the struct (16 bytes for the first one) into the slot of the
 * integer register. When that first eightbyte takes the last integer register (the sixth, %r9),
 * the copy runs past the integer slots into the first SSE slot (%xmm0), so a `double` passed
 * before the struct in %xmm0 is replaced by the struct's second eightbyte. C then receives a
 * wrong value silently. ffi_closure_unix64_inner (callbacks) reads such structs correctly.
 *
 * cryo avoids it by describing such a struct to ffi_call as its two eightbytes: a uint64_t (an
 * INTEGER eightbyte, copied as 8 bytes) and a double (an SSE eightbyte). It is split only when
 * it takes the sixth integer register, so both halves land in registers exactly where the ABI
 * puts the struct (the split takes the same registers); elsewhere the struct is left whole.
 * The register accounting below follows the psABI classification (and libffi's, which agrees
 * for every type cryo declares). The split is applied whatever libffi the process runs with:
 * libffi keeps the same soname across 3.4.x, so the version built against proves nothing about
 * the one loaded, and the split is correct for every version.
 */
#include "ffi_internal.h"
#include <string.h>

#if defined(__x86_64__) && !defined(_WIN32)

enum { EB_NONE, EB_INT, EB_SSE, EB_MEM };

static void mark(int cls[2], size_t off, size_t size, int c) {
    for (size_t i = off / 8; i <= (off + size - 1) / 8; i++) {
        if (i > 1 || c == EB_MEM)
            cls[0] = cls[1] = EB_MEM;
        else if (cls[i] == EB_NONE || (cls[i] == EB_SSE && c == EB_INT))
            cls[i] = c;
    }
}

/* The eightbyte classes of a type of at most 16 bytes at offset `off` (psABI 3.2.3). */
static void classify(const ctype *t, size_t off, int cls[2]) {
    switch (t->kind) {
    case CT_STRUCT:
        for (int i = 0; i < t->st->nfields; i++)
            classify(t->st->fields[i].type, off + t->st->fields[i].offset, cls);
        return;
    case CT_ARRAY:
        for (size_t j = 0; j < t->n; j++)
            classify(t->pointee, off + j * t->pointee->size, cls);
        return;
    case CT_F32:
    case CT_F64:
    case CT_CF32:
    case CT_CF64: mark(cls, off, t->size, EB_SSE); return;
    case CT_LDOUBLE:
    case CT_CLD: mark(cls, off, t->size, EB_MEM); return; /* X87: memory as an argument */
    default: mark(cls, off, t->size, EB_INT); return;
    }
}

/* The registers an argument of type t takes; false when it goes to memory. */
static bool arg_regs(const ctype *t, int *ngpr, int *nsse, int cls[2]) {
    *ngpr = *nsse = 0;
    cls[0] = cls[1] = EB_NONE;
    if (t->size > 16) return false;
    classify(t, 0, cls);
    for (int i = 0; i < 2; i++) {
        if (cls[i] == EB_MEM) return false;
        *ngpr += cls[i] == EB_INT;
        *nsse += cls[i] == EB_SSE;
    }
    return true;
}

static bool ret_in_memory(const ctype *rt) {
    if (rt->kind != CT_STRUCT) return false;
    int g, s, cls[2];
    return !arg_regs(rt, &g, &s, cls);
}

int cf_lower_types(const ctype *ret, int n, const ctype *const *types, ffi_type **out,
                   uint8_t *split) {
    int gpr = ret_in_memory(ret) ? 1 : 0, sse = 0, k = 0;
    for (int i = 0; i < n; i++) {
        int g, s, cls[2];
        const ctype *t = types[i];
        split[i] = 0;
        if (!arg_regs(t, &g, &s, cls) || gpr + g > 6 || sse + s > 8) {
            out[k++] = t->ft; /* memory: no register taken */
            continue;
        }
        if (t->kind == CT_STRUCT && gpr == 5 && cls[0] == EB_INT && cls[1] == EB_SSE) {
            split[i] = 1;
            out[k++] = &ffi_type_uint64;
            out[k++] = &ffi_type_double;
        } else {
            out[k++] = t->ft;
        }
        gpr += g;
        sse += s;
    }
    return k;
}

#else

int cf_lower_types(const ctype *ret, int n, const ctype *const *types, ffi_type **out,
                   uint8_t *split) {
    (void)ret;
    for (int i = 0; i < n; i++) {
        out[i] = types[i]->ft;
        split[i] = 0;
    }
    return n;
}

#endif

bool cf_lower_func(ffi_arena *a, cfunc *fn) {
    int n = fn->nparams;
    ffi_type **lt = fa_alloc(a, (size_t)(2 * n + 1) * sizeof *lt);
    uint8_t *split = fa_alloc(a, (size_t)n + 1);
    if (!lt || !split) return false;
    int nl = cf_lower_types(fn->ret, n, (const ctype *const *)fn->params, lt, split);
    if (nl == n) return true; /* nothing split: calls use fn->cif */
    fn->split = split;
    fn->call_atypes = lt;
    return ffi_prep_cif(&fn->call_cif, FFI_DEFAULT_ABI, (unsigned)nl, fn->ret->ft, lt) == FFI_OK;
}

#ifndef CRYO_LIBFFI_VERSION
#define CRYO_LIBFFI_VERSION "unknown"
#endif

const char *cryo_ffi_libffi_version(void) {
    return CRYO_LIBFFI_VERSION;
}
