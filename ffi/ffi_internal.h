/*
 * ffi_internal.h — C types, scopes and signatures shared by the files of the FFI library.
 *
 *   ctype.c     arenas, scopes, type constructors, layout and libffi type descriptors
 *   cdecl.c     the C declaration parser
 *   call.c      value <-> C conversions and calls through ffi_call
 *   callback.c  closures (the only file that touches ffi_closure_*)
 *   cbtype.c    the parsed types of callbacks, interned and shared
 *   thunk.c     direct thunks: precompiled callbacks for the signatures of thunk_table.h
 *   abi.c       what ffi_call is given where libffi's own lowering is wrong
 *   lib_ffi.c   the ffi:: script module
 */
#ifndef CRYO_FFI_INTERNAL_H
#define CRYO_FFI_INTERNAL_H

#include "cryo_ffi.h"
#include "ext/ext.h"
#include <ffi.h>
#include <pthread.h>
#include <stdatomic.h>

typedef enum ct_kind {
    CT_VOID,
    CT_BOOL,
    CT_I8,
    CT_U8,
    CT_I16,
    CT_U16,
    CT_I32,
    CT_U32,
    CT_I64,
    CT_U64,
    CT_F32,
    CT_F64,
    CT_PTR,
    CT_STRUCT,
    CT_FUNC,
    CT_ARRAY,
    CT_LDOUBLE, /* long double: a script float (the extra precision is lost) */
    CT_CF32,    /* float _Complex: #{re, im} */
    CT_CF64,    /* double _Complex */
    CT_CLD,     /* long double _Complex */
} ct_kind;

typedef struct ctype ctype;
typedef struct cstruct cstruct;
typedef struct cfunc cfunc;

struct ctype {
    ct_kind kind;
    bool is_const; /* const-qualified (for a pointee: `const T *`) */
    bool is_char;  /* spelled `char` (so `char *` converts strings) */
    size_t size, align;
    ffi_type *ft;   /* NULL for void-as-value, functions */
    ctype *pointee; /* CT_PTR, CT_ARRAY: the element */
    size_t n;       /* CT_ARRAY: element count */
    cstruct *st;    /* CT_STRUCT */
    cfunc *fn;      /* CT_FUNC */
    uint8_t elem;   /* CT_PTR: cryo_ptr_elem of the pointee (precomputed for the hot paths) */
    bool to_char;   /* CT_PTR: points to `char` (strings) */
};

typedef struct cfield {
    char *name;
    ctype *type;
    size_t offset;
} cfield;

struct cstruct {
    char *name;
    bool complete;
    int nfields;
    cfield *fields;
    ffi_type ft;
    ffi_type **elements; /* NULL-terminated; arrays expanded */
    cstruct *next;       /* scope's list */
};

struct cfunc {
    ctype *ret;
    int nparams;
    ctype **params;
    char **pnames; /* may hold NULLs */
    bool variadic;
    bool cif_ok;
    ffi_cif cif; /* fixed parameters (non-variadic functions); closures always use this one */
    ffi_type **atypes;
    /* ffi_call of a fixed-arity function with a parameter split in two eightbytes (abi.c):
     * split[i] says which; call_cif takes call_atypes. NULL when nothing is split. */
    uint8_t *split;
    ffi_cif call_cif;
    ffi_type **call_atypes;
};

/* An arena: blocks freed together. */
typedef struct ffi_arena {
    struct ffi_block *blocks;
    size_t block; /* the smallest block to allocate; 0 = 4,000 bytes */
} ffi_arena;
void *fa_alloc(ffi_arena *a, size_t size); /* zeroed; NULL if out of memory */
char *fa_strndup(ffi_arena *a, const char *s, size_t n);
void fa_free(ffi_arena *a);

struct cryo_ffi_sig {
    ffi_arena arena; /* everything of this signature but struct definitions */
    char *name;      /* "" when abstract */
    ctype *type;     /* CT_FUNC */
    cfunc *fn;
    struct cryo_ffi_sig *next; /* scope's list */
    void *fnptr;               /* registered functions: the C address */
    cryo_ffi_scope *scope;
};

/* A name a scope's cdef defined besides struct tags: a typedef, an enum tag, an integer
 * constant (enum constant or `#define NAME 42`), or an empty macro (`#define SQLITE_API`,
 * skipped wherever it appears in the scope's declarations). */
typedef enum cn_kind { CN_TYPEDEF, CN_ENUM, CN_CONST, CN_EMPTY } cn_kind;
typedef struct cname {
    cn_kind kind;
    char *name;
    ctype *type;   /* CN_TYPEDEF, CN_ENUM */
    int64_t value; /* CN_CONST */
    struct cname *next;
} cname;

struct cryo_ffi_scope {
    pthread_mutex_t lock; /* held for the whole of each parse (cdecl.c) */
    uint64_t id;          /* unique for the process (0: the process-wide scope); cbtype.c */
    ffi_arena arena;      /* struct definitions, typedefs, enums, constants */
    cstruct *structs;     /* complete and incomplete (declared, not defined) */
    cname *names;
    cryo_ffi_sig *sigs;
};

/* The process-wide scope (NULL in the API). */
cryo_ffi_scope *cf_scope(cryo_ffi_scope *s);

/* Built-in scalar types (static). */
ctype *ct_scalar(ct_kind k);
extern ctype ct_char_type; /* `char`: CT_I8 with is_char */
ctype *ct_pointer(ffi_arena *a, ctype *to);
ctype *ct_array(ffi_arena *a, ctype *elem, size_t n);
ctype *ct_qualified(ffi_arena *a, ctype *t); /* a const copy of t */
/* Lays out a struct whose fields are set; prepares its ffi_type. */
bool ct_layout_struct(ffi_arena *a, cstruct *st);
/* Prepares fn->cif for a fixed-arity function (variadics: prepared per call). */
bool ct_prepare_func(ffi_arena *a, cfunc *fn);
/* The pointer value element kind for a pointee type. */
cryo_ptr_elem ct_elem_kind(const ctype *pointee);
/* When pointee is itself a pointer: the element kinds of the levels below it, 4 bits each
 * (lowest first, up to 8), kept in a pointer value's aux2 so that p[i] of an `int **` reads a
 * ptr<i32>, not an opaque pointer. 0 (void) otherwise. */
uint32_t ct_elem_chain(const ctype *pointee);
/* Finds a struct by name in a scope (caller holds the lock). */
cstruct *ct_find_struct(cryo_ffi_scope *s, const char *name, size_t len);
/* Finds a typedef, enum tag, constant or empty macro by kind and name (caller holds the lock). */
cname *ct_find_name(cryo_ffi_scope *s, cn_kind kind, const char *name, size_t len);
/* Appends the C spelling of t to buf. */
void ct_describe(const ctype *t, char *buf, size_t size);

/* The parser (cdecl.c). Both take the scope's lock themselves. */
cryo_error *cf_parse_decl(cryo_ffi_scope *s, ffi_arena *a, const char *src, char **name,
                          ctype **type);
cryo_error *cf_parse_cdef(cryo_ffi_scope *s, const char *src);
/* A single type ("int", "struct point *"); `type` allocated in `a`. */
cryo_error *cf_parse_type(cryo_ffi_scope *s, ffi_arena *a, const char *src, ctype **type);
/* A signature; linked into the scope's list (freed with it) or, with link false, owned by the
 * caller (cf_sig_free). */
cryo_ffi_sig *cf_sig_parse(cryo_ffi_scope *scope, const char *decl, cryo_error **err, bool link);
void cf_sig_free(cryo_ffi_sig *g);

/* ABI workarounds (abi.c). cf_lower_types fills out[] (room for 2n) with the types ffi_call is
 * given for arguments of these types, split[i] = 1 where argument i becomes two; returns the
 * count. cf_lower_func prepares fn->split / fn->call_cif for a fixed-arity function. */
int cf_lower_types(const ctype *ret, int n, const ctype *const *types, ffi_type **out,
                   uint8_t *split);
bool cf_lower_func(ffi_arena *a, cfunc *fn);
/* long double and the complex types: not scalars of the core's pointer kinds. */
static inline bool ct_is_wide_float(ct_kind k) {
    return k == CT_LDOUBLE || k == CT_CF32 || k == CT_CF64 || k == CT_CLD;
}

/* Calls (call.c). */
cryo_error_kind cf_to_value(cryo_vm *vm, const ctype *t, const void *src, cryo_value *out);
/* Converts v for a C slot of type t at dst; `tmp` receives a malloc'd block the caller frees
 * after the call (strings that did not fit in `sbuf` of `sbuf_size` bytes); `what` names the
 * argument in errors. */
cryo_error_kind cf_from_value(cryo_vm *vm, const ctype *t, cryo_value v, void *dst,
                              const char *what, char *sbuf, size_t sbuf_size, void **tmp);

/* A script read the callback's failures (ffi::failures): they are taken note of, so the
 * process-wide log of unhandled failures forgets them (callback.c). */
void cf_callback_noted(const cryo_ffi_callback *cb);

/* The handler of every callback call (callback.c): the libffi closure's, and the one a direct
 * thunk enters with its arguments' addresses (cif unused, ud the callback, ret at least an
 * ffi_arg). */
void cf_trampoline(ffi_cif *cif, void *ret, void **args, void *ud);

/* The parsed type of a callback (cbtype.c): shared by every callback of the same declaration
 * string in the same scope, immutable once made, refcounted (the count under a process-wide
 * lock taken only when callbacks are made and freed). */
typedef struct cf_cbtype {
    struct cf_cbtype *next; /* the table's bucket */
    uint64_t scope_id;
    size_t refs;
    ffi_arena arena;  /* everything below */
    const char *decl; /* the declaration as given */
    cfunc *fn;
    /* The hot path (callback.c's cf_trampoline), per parameter: the value to pass with its
     * payload still to fill in (an i64 or raw pointer: the 8 bytes of the C slot; a double: its
     * bits; an i32: sign-extended), and whether the C slot is an i32. */
    const cryo_value *argt;
    const bool *arg32;
    bool hot; /* every parameter converts inline (i32, i64, f64, non-char pointers) */
} cf_cbtype;
/* The shared type of `decl` in `scope` (NULL: the process-wide one), parsed on first use, with
 * one more reference (cf_cbtype_put). NULL on a parse error (*err set, owned by the caller) or
 * out of memory (*err NULL). Any thread. */
cf_cbtype *cf_cbtype_get(cryo_ffi_scope *scope, const char *decl, cryo_error **err);
void cf_cbtype_put(cf_cbtype *t); /* the last reference frees it; NULL ignored; any thread */
size_t cf_cbtype_refs(const cf_cbtype *t);                       /* its count now (tests) */
const cf_cbtype *cf_callback_shape(const cryo_ffi_callback *cb); /* (tests) */

/* Direct thunks (thunk.c). A slot is a number > 0; 0 means none. cf_thunk_reserve takes a free
 * slot for fn's signature and stores its thunk in *code (0 when the signature has no thunks or
 * all its slots are taken); cf_thunk_publish makes the slot's thunk call cb (once cb is
 * complete); cf_thunk_release gives the slot back (0 is ignored). Lock-free, any thread. */
int cf_thunk_reserve(const cfunc *fn, void **code);
void cf_thunk_publish(int slot, cryo_ffi_callback *cb);
void cf_thunk_release(int slot);

/* What a direct thunk's typed fast path reads of its callback, kept inside the callback and
 * filled in before its slot is published (cf_callback_hot): the thunk converts its C arguments
 * straight into the first frame's registers and calls the SyncFunction, without the handler's
 * argument array and generic conversion loop. `key` is the callback's VM-cache key when the
 * callback can take the hot path (cb->hot in callback.c), else a key no cache is ever ready for,
 * so the fast path is never taken. */
#define CF_HOT_MAX_ARGS 5 /* thunk_table.h's signatures take at most 5 parameters */
typedef struct cf_hot {
    cryo_ffi_callback *cb;
    const void *key;
    cryo_sync *f;
    const cryo_call_ctl *ctl;
    const cryo_value *argt; /* the parameters' value templates (the shared type's, cf_cbtype) */
} cf_hot;
const cf_hot *cf_callback_hot(const cryo_ffi_callback *cb);
/* Ends a thunk's fast call whose result the thunk did not convert inline: the result and the
 * error policy as in the handler (the default result and a reported failure on error), then
 * the kept VM's end of call. */
void cf_hot_finish(const cf_hot *h, cryo_vm *vm, cx_kept *kept, cryo_error_kind k, cryo_value res,
                   void *ret);

/* --- pointer values (pointer.c) ----------------------------------------------------------- */

/* An owned pointer with a zeroed buffer of `count` elements of `elem_size` bytes. NULL on
 * allocation failure or limit. */
cryo_pointer *cv_pointer_new(cryo_heap *h, size_t elem_size, int64_t count);
/* An owned pointer to external memory; `dtor(ud)` runs when it is freed. */
cryo_pointer *cv_pointer_wrap(cryo_heap *h, void *addr, int64_t count, void (*dtor)(void *),
                              void *ud);

size_t cv_ptr_elem_size(cryo_ptr_elem e);
const char *cv_ptr_elem_name(cryo_ptr_elem e); /* "i32", "f64", "void", ... */
void cv_pointer_free(cryo_heap *h, cryo_obj *o);
/* Text form "ptr<i32>(0x...)" appended to *s. */
bool cv_pointer_repr(cryo_heap *h, cryo_string **s, cryo_value v);
/* Sets the core's value-type hook for pointers (cv_pointer_hooks: free, repr, p[i]); every FFI
 * entry point that can make a pointer value calls it first. */
void cf_pointer_install(void);
/* Reads / writes one scalar of kind `e` at `addr` (p[i], C arguments and results). */
cryo_error_kind cv_ptr_load(cryo_vm *vm, cryo_ptr_elem e, const void *addr, cryo_value *out);
cryo_error_kind cv_ptr_store(cryo_vm *vm, cryo_ptr_elem e, void *addr, cryo_value v);
/* The conversion behind cv_ptr_store for a scalar kind (ints, floats, bool), raising nothing, so
 * that each caller words its own error: CV_CONV_TYPE when v's type does not convert,
 * CV_CONV_RANGE (with the value in *bad) when an int does not fit the kind. The FFI layer
 * converts its C scalar arguments with it. */
typedef enum { CV_CONV_OK, CV_CONV_TYPE, CV_CONV_RANGE } cv_conv;
cv_conv cv_scalar_to_c(cryo_ptr_elem e, cryo_value v, void *addr, int64_t *bad);

#endif
