/*
 * ctype.c — C types for the FFI: arenas, scopes, scalar and derived types, struct layout and
 * the libffi type descriptors.
 */
#include "ffi_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- arenas ------------------------------------------------------------------------------ */

struct ffi_block {
    struct ffi_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void *fa_alloc(ffi_arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    struct ffi_block *b = a->blocks;
    if (!b || b->size - b->used < size) {
        size_t min = a->block ? a->block : 4000;
        size_t bs = size > min ? size : min;
        b = malloc(sizeof *b + bs);
        if (!b) return NULL;
        b->next = a->blocks;
        b->used = 0;
        b->size = bs;
        a->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *fa_strndup(ffi_arena *a, const char *s, size_t n) {
    char *d = fa_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void fa_free(ffi_arena *a) {
    struct ffi_block *b = a->blocks;
    while (b) {
        struct ffi_block *n = b->next;
        free(b);
        b = n;
    }
    a->blocks = NULL;
}

/* --- scopes -------------------------------------------------------------------------------- */

static cryo_ffi_scope default_scope = {.lock = PTHREAD_MUTEX_INITIALIZER};

cryo_ffi_scope *cf_scope(cryo_ffi_scope *s) {
    return s ? s : &default_scope;
}

cryo_ffi_scope *cryo_ffi_scope_new(void) {
    static atomic_uint_fast64_t next_id;
    cryo_ffi_scope *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed) + 1;
    return s;
}

void cryo_ffi_scope_free(cryo_ffi_scope *s) {
    if (!s || s == &default_scope) return;
    for (cryo_ffi_sig *g = s->sigs, *n; g; g = n) {
        n = g->next;
        fa_free(&g->arena);
        free(g);
    }
    fa_free(&s->arena);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

cstruct *ct_find_struct(cryo_ffi_scope *s, const char *name, size_t len) {
    for (cstruct *st = s->structs; st; st = st->next)
        if (strlen(st->name) == len && memcmp(st->name, name, len) == 0) return st;
    return NULL;
}

cname *ct_find_name(cryo_ffi_scope *s, cn_kind kind, const char *name, size_t len) {
    for (cname *n = s->names; n; n = n->next)
        if (n->kind == kind && strlen(n->name) == len && memcmp(n->name, name, len) == 0) return n;
    return NULL;
}

/* --- types ------------------------------------------------------------------------------------ */

#define SCALAR(k, t, f)                                                                            \
    { k, false, false, sizeof(t), _Alignof(t), &f, NULL, 0, NULL, NULL, 0, false }
static ctype scalars[] = {
    [CT_VOID] = {CT_VOID, false, false, 0, 1, &ffi_type_void, NULL, 0, NULL, NULL, 0, false},
    [CT_BOOL] = SCALAR(CT_BOOL, bool, ffi_type_uint8),
    [CT_I8] = SCALAR(CT_I8, int8_t, ffi_type_sint8),
    [CT_U8] = SCALAR(CT_U8, uint8_t, ffi_type_uint8),
    [CT_I16] = SCALAR(CT_I16, int16_t, ffi_type_sint16),
    [CT_U16] = SCALAR(CT_U16, uint16_t, ffi_type_uint16),
    [CT_I32] = SCALAR(CT_I32, int32_t, ffi_type_sint32),
    [CT_U32] = SCALAR(CT_U32, uint32_t, ffi_type_uint32),
    [CT_I64] = SCALAR(CT_I64, int64_t, ffi_type_sint64),
    [CT_U64] = SCALAR(CT_U64, uint64_t, ffi_type_uint64),
    [CT_F32] = SCALAR(CT_F32, float, ffi_type_float),
    [CT_F64] = SCALAR(CT_F64, double, ffi_type_double),
    [CT_PTR] = SCALAR(CT_PTR, void *, ffi_type_pointer),
    [CT_LDOUBLE] = SCALAR(CT_LDOUBLE, long double, ffi_type_longdouble),
#ifdef FFI_TARGET_HAS_COMPLEX_TYPE
    [CT_CF32] = SCALAR(CT_CF32, float _Complex, ffi_type_complex_float),
    [CT_CF64] = SCALAR(CT_CF64, double _Complex, ffi_type_complex_double),
    [CT_CLD] = SCALAR(CT_CLD, long double _Complex, ffi_type_complex_longdouble),
#endif
};
ctype ct_char_type = {CT_I8, false, true, 1, 1, &ffi_type_sint8, NULL, 0, NULL, NULL, 0, false};

ctype *ct_scalar(ct_kind k) {
    return &scalars[k];
}

ctype *ct_pointer(ffi_arena *a, ctype *to) {
    ctype *t = fa_alloc(a, sizeof *t);
    if (!t) return NULL;
    *t = scalars[CT_PTR];
    t->pointee = to;
    t->elem = (uint8_t)ct_elem_kind(to);
    t->to_char = to && to->is_char;
    return t;
}

ctype *ct_array(ffi_arena *a, ctype *elem, size_t n) {
    ctype *t = fa_alloc(a, sizeof *t);
    if (!t) return NULL;
    t->kind = CT_ARRAY;
    t->pointee = elem;
    t->n = n;
    t->size = elem->size * n;
    t->align = elem->align;
    t->ft = elem->ft;
    return t;
}

ctype *ct_qualified(ffi_arena *a, ctype *t) {
    if (t->is_const) return t;
    ctype *c = fa_alloc(a, sizeof *c);
    if (!c) return NULL;
    *c = *t;
    c->is_const = true;
    return c;
}

static size_t ffi_elem_count(const ctype *t) {
    return t->kind == CT_ARRAY ? t->n * ffi_elem_count(t->pointee) : 1;
}
static const ctype *array_base(const ctype *t) {
    while (t->kind == CT_ARRAY)
        t = t->pointee;
    return t;
}

bool ct_layout_struct(ffi_arena *a, cstruct *st) {
    size_t off = 0, align = 1, nel = 0;
    for (int i = 0; i < st->nfields; i++) {
        ctype *t = st->fields[i].type;
        size_t al = t->align ? t->align : 1;
        off = (off + al - 1) / al * al;
        st->fields[i].offset = off;
        off += t->size;
        if (al > align) align = al;
        nel += ffi_elem_count(t);
    }
    size_t size = (off + align - 1) / align * align;
    st->elements = fa_alloc(a, (nel + 1) * sizeof(ffi_type *));
    if (!st->elements) return false;
    size_t k = 0;
    for (int i = 0; i < st->nfields; i++) {
        const ctype *t = st->fields[i].type;
        size_t n = ffi_elem_count(t);
        for (size_t j = 0; j < n; j++)
            st->elements[k++] = array_base(t)->ft;
    }
    st->elements[k] = NULL;
    st->ft.size = 0;
    st->ft.alignment = 0;
    st->ft.type = FFI_TYPE_STRUCT;
    st->ft.elements = st->elements;
    /* Let libffi compute (and check) the layout it will use. */
    ffi_cif cif;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &st->ft, NULL) != FFI_OK) return false;
    if (st->ft.size != size) return false;
    st->complete = true;
    return true;
}

bool ct_prepare_func(ffi_arena *a, cfunc *fn) {
    fn->atypes = fa_alloc(a, (size_t)(fn->nparams + 1) * sizeof(ffi_type *));
    if (!fn->atypes) return false;
    for (int i = 0; i < fn->nparams; i++)
        fn->atypes[i] = fn->params[i]->ft;
    if (fn->variadic) return true;
    fn->cif_ok = ffi_prep_cif(&fn->cif, FFI_DEFAULT_ABI, (unsigned)fn->nparams, fn->ret->ft,
                              fn->atypes) == FFI_OK &&
                 cf_lower_func(a, fn);
    return fn->cif_ok;
}

cryo_ptr_elem ct_elem_kind(const ctype *p) {
    if (!p) return CRYO_PE_VOID;
    switch (p->kind) {
    case CT_BOOL: return CRYO_PE_BOOL;
    case CT_I8: return CRYO_PE_I8;
    case CT_U8: return CRYO_PE_U8;
    case CT_I16: return CRYO_PE_I16;
    case CT_U16: return CRYO_PE_U16;
    case CT_I32: return CRYO_PE_I32;
    case CT_U32: return CRYO_PE_U32;
    case CT_I64: return CRYO_PE_I64;
    case CT_U64: return CRYO_PE_U64;
    case CT_F32: return CRYO_PE_F32;
    case CT_F64: return CRYO_PE_F64;
    case CT_PTR: return CRYO_PE_PTR;
    default: return CRYO_PE_VOID;
    }
}

uint32_t ct_elem_chain(const ctype *pointee) {
    uint32_t chain = 0;
    const ctype *t = pointee;
    for (int level = 0; level < 8 && t && t->kind == CT_PTR; level++) {
        t = t->pointee;
        chain |= (uint32_t)ct_elem_kind(t) << (4 * level);
    }
    return chain;
}

static const char *scalar_name(const ctype *t) {
    if (t->is_char) return "char";
    switch (t->kind) {
    case CT_VOID: return "void";
    case CT_BOOL: return "bool";
    case CT_I8: return "int8_t";
    case CT_U8: return "uint8_t";
    case CT_I16: return "int16_t";
    case CT_U16: return "uint16_t";
    case CT_I32: return "int32_t";
    case CT_U32: return "uint32_t";
    case CT_I64: return "int64_t";
    case CT_U64: return "uint64_t";
    case CT_F32: return "float";
    case CT_F64: return "double";
    case CT_LDOUBLE: return "long double";
    case CT_CF32: return "float _Complex";
    case CT_CF64: return "double _Complex";
    case CT_CLD: return "long double _Complex";
    default: return "?";
    }
}

void ct_describe(const ctype *t, char *buf, size_t size) {
    char tmp[256];
    switch (t->kind) {
    case CT_PTR:
        if (t->pointee && t->pointee->kind == CT_FUNC) {
            ct_describe(t->pointee, buf, size);
            return;
        }
        ct_describe(t->pointee ? t->pointee : ct_scalar(CT_VOID), tmp, sizeof tmp);
        snprintf(buf, size, "%s *", tmp);
        return;
    case CT_ARRAY: {
        /* C order: int[2][3] is an array of 2 arrays of 3: the outer count comes first */
        const ctype *e = t;
        while (e->kind == CT_ARRAY)
            e = e->pointee;
        ct_describe(e, tmp, sizeof tmp);
        size_t n = (size_t)snprintf(buf, size, "%s", tmp);
        for (e = t; e->kind == CT_ARRAY && n < size; e = e->pointee)
            n += (size_t)snprintf(buf + n, size - n, "[%zu]", e->n);
        return;
    }
    case CT_STRUCT:
        snprintf(buf, size, "%sstruct %s", t->is_const ? "const " : "", t->st->name);
        return;
    case CT_FUNC: {
        size_t n = 0;
        ct_describe(t->fn->ret, tmp, sizeof tmp);
        n += (size_t)snprintf(buf + n, size - n, "%s (*)(", tmp);
        for (int i = 0; i < t->fn->nparams && n < size; i++) {
            ct_describe(t->fn->params[i], tmp, sizeof tmp);
            n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", tmp);
        }
        if (n < size && t->fn->variadic) n += (size_t)snprintf(buf + n, size - n, ", ...");
        if (n < size) snprintf(buf + n, size - n, ")");
        return;
    }
    default: snprintf(buf, size, "%s%s", t->is_const ? "const " : "", scalar_name(t)); return;
    }
}
