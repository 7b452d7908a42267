/*
 * value.h — heap objects behind cryo_value, and the operations on values that the compiler,
 * the VM and the standard library share.
 *
 * Memory model
 * ------------
 * Every heap object starts with a cryo_obj header. A value that owns a reference has
 * CRYO_VF_COUNTED set and the object's `rc` counts those references. A value without the flag
 * that points to an object refers to shared, immutable data (a unit's constants, interned map
 * keys, frozen ConstValues): retain/release skip it and it is never freed by a VM. Objects with
 * CRYO_OBJ_SHARED in their header are such shared objects.
 *
 * Value semantics (Rhai): strings, arrays and maps are values. Assignment copies the reference
 * (rc + 1); any write first makes the object unique: cv_make_unique() copies it when rc > 1 or
 * when the value is not counted. So `let b = a; b.push(1)` copies once, at the push.
 *
 * Reference cycles (a closure stored in a variable it captures) are not collected; see
 * docs/architecture.md.
 *
 * Allocation goes through cv_alloc/cv_free with a cryo_heap so that the VM can account the
 * bytes (memory limit) and report failures as errors rather than crash. A NULL heap means
 * "untracked" (used for unit constants at compile time).
 *
 * Layer (src/value/, the lowest): this header is the value layer's interface. It may use only
 * include/cryo.h and its own folder; every layer above includes it. A few kinds are
 * implemented above and reached through the functions declared here ("implemented in ..."):
 * pointers (a hook set by ffi/pointer.c), a SyncFunction's closure (frozen/sync.c), the VM's
 * accounting.
 *
 * Ownership on failure (the one rule)
 * -----------------------------------
 * A function that "takes" a value's reference (cv_array_push, cv_map_set, cv_cell_new,
 * cv_set, cvm_op_setindex, cvm_op_setfield, cv_ffi_array_push, cv_ffi_map_set, ...) takes it
 * in EVERY outcome: when it fails it has already released the value. The caller never releases
 * a value it handed over, success or not; a caller that wants to keep the value retains it
 * before the call. (A second release after a failure was a use-after-free reachable by any
 * script under a memory limit: issue 13.) Functions that only borrow say "borrowed".
 */
#ifndef CRYO_VALUE_H
#define CRYO_VALUE_H

#include "cryo.h"
#include "tls.h"

typedef struct cryo_string_s cryo_string;
typedef struct cryo_map_entry_s cryo_map_entry;

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* --- object header ----------------------------------------------------------------------- */

#define CRYO_OBJ_SHARED 0x1 /* immutable shared object: never freed through rc, copy on write */
#define CRYO_OBJ_FROZEN 0x2 /* part of a ConstValue: rc changed only atomically (sync.h) */
/* With SHARED: a string in the process's intern table (intern.c), alive until exit. */
#define CRYO_OBJ_INTERNED 0x4

struct cryo_obj {
    uint32_t rc;
    uint8_t type;   /* cryo_type of the object */
    uint8_t flags;  /* CRYO_OBJ_* */
    uint16_t extra; /* per-type bits (range: inclusive flag; fn: kind) */
};

/* Byte accounting for one VM. `limit` 0 = unlimited. When an allocation would pass the
 * limit, cv_alloc returns NULL and sets `exceeded`. */
typedef struct cryo_heap {
    size_t bytes;
    size_t limit;
    bool exceeded;
    struct cryo_cell *cells; /* live cells made on this heap (cv_collect_cycles) */
    /* Called when an allocation of `need` bytes would pass `limit`: may raise `limit` (a VM
     * drawing on a budget shared with other threads, govern.c) and return true. NULL = none. */
    bool (*grow)(struct cryo_heap *h, size_t need);
} cryo_heap;

void *cv_alloc(cryo_heap *h, size_t size);
void *cv_realloc(cryo_heap *h, void *p, size_t old_size, size_t new_size);
void cv_free(cryo_heap *h, void *p, size_t size);

/* --- strings ----------------------------------------------------------------------------- */

/* UTF-8 bytes, always valid UTF-8 and NUL-terminated. Scripts index by character: `nchars`
 * caches the character count, and `ascii` (nchars == len) makes indexing O(1). */
struct cryo_string_s {
    cryo_obj h;
    uint32_t len;    /* bytes, without the NUL */
    uint32_t cap;    /* bytes allocated for data, including the NUL */
    uint32_t nchars; /* characters */
    uint32_t hash;   /* 0 = not computed */
    char *data;
};

/* --- arrays ------------------------------------------------------------------------------ */

typedef struct cryo_array {
    cryo_obj h;
    uint32_t len;
    uint32_t cap;
    cryo_value *items;
} cryo_array;

/* --- maps -------------------------------------------------------------------------------- */

/* Object maps keep their entries sorted by key bytes, as Rhai's BTreeMap does: keys(),
 * values(), iteration and printing all follow key order. Lookup is a binary search. */
struct cryo_map_entry_s {
    cryo_string *key; /* interned (shared, not counted), counted reference, or frozen */
    cryo_value value;
};

typedef struct cryo_map {
    cryo_obj h;
    uint32_t len;
    uint32_t cap;
    cryo_map_entry *entries;
} cryo_map;

/* --- ranges ------------------------------------------------------------------------------ */

/* `a..b` (exclusive) and `a..=b` (inclusive), integer bounds. h.extra = 1 when inclusive. */
typedef struct cryo_range {
    cryo_obj h;
    int64_t start;
    int64_t end;
} cryo_range;

/* --- captured cells ---------------------------------------------------------------------- */

/* A local variable that a closure captures lives in a cell, shared by the declaring frame and
 * every closure that captures it (Rhai's shared values). */
typedef struct cryo_cell {
    cryo_obj h;
    cryo_value v;
    /* Cells made with a heap are on that heap's list (cv_collect_cycles' roots); NULL pprev =
     * on no list (cells of frozen functions, cells that outlived their VM). */
    struct cryo_cell **gc_pprev;
    struct cryo_cell *gc_next;
} cryo_cell;

/* --- function values --------------------------------------------------------------------- */

typedef enum cryo_fn_kind {
    CRYO_FN_SCRIPT = 0, /* a script function or closure: unit + proto index (+ captures) */
    CRYO_FN_NAMED,      /* Fn("name"): resolved by name and arity when called */
} cryo_fn_kind;

/* A function value (Rhai's FnPtr). For a closure, caps[] holds the captured cells in the order
 * of the proto's capture list. `curry` holds arguments bound by f.curry(..), passed before
 * the call's own arguments. `name` is the function's name (closures: "anon$<n>"). */
typedef struct cryo_fn {
    cryo_obj h;      /* h.extra = cryo_fn_kind */
    cryo_unit *unit; /* retained; NULL for CRYO_FN_NAMED */
    uint32_t proto;  /* index in unit->protos */
    uint16_t ncaps;
    uint16_t ncurry;
    cryo_string *name; /* counted or shared */
    cryo_value *curry; /* ncurry values, owned */
    cryo_cell *caps[]; /* ncaps cells, each a counted reference */
} cryo_fn;

/* --- inline helpers ---------------------------------------------------------------------- */

static inline bool cv_is_heap(cryo_value v) {
    return v.type >= CRYO_T_STRING;
}
static inline cryo_obj *cv_obj(cryo_value v) {
    return v.as.obj;
}
static inline cryo_string *cv_str(cryo_value v) {
    return (cryo_string *)v.as.obj;
}
static inline cryo_array *cv_arr(cryo_value v) {
    return (cryo_array *)v.as.obj;
}
static inline cryo_map *cv_map(cryo_value v) {
    return (cryo_map *)v.as.obj;
}
static inline cryo_range *cv_range(cryo_value v) {
    return (cryo_range *)v.as.obj;
}
static inline cryo_fn *cv_fn(cryo_value v) {
    return (cryo_fn *)v.as.obj;
}
static inline cryo_cell *cv_cell(cryo_value v) {
    return (cryo_cell *)v.as.obj;
}

/* A value's type, flags and aux as one 32-bit word (little or big endian alike, since both
 * sides are built the same way), so that a fast path tests all three with one compare. */
static inline uint32_t cv_head(cryo_value v) {
    uint32_t w;
    memcpy(&w, &v, sizeof w);
    return w;
}
static inline uint32_t cv_head_of(unsigned type, unsigned flags, unsigned aux) {
    cryo_value v = {(uint8_t)type, (uint8_t)flags, (uint16_t)aux, 0, {.i = 0}};
    return cv_head(v);
}

/* Stores () into *slot without releasing what it held. () is the all-zero value, so this is
 * one 16-byte store (field by field, a compiler emits four). */
static inline void cv_clear(cryo_value *slot) {
    memset(slot, 0, sizeof *slot);
}

/* Wraps a freshly allocated object (rc already 1) in a counted value. */
static inline cryo_value cv_from_obj(cryo_obj *o) {
    cryo_value v = {o->type, CRYO_VF_COUNTED, 0, 0, {.obj = o}};
    return v;
}
/* A non-counted reference to a shared object. */
static inline cryo_value cv_from_shared(cryo_obj *o) {
    cryo_value v = {o->type, 0, 0, 0, {.obj = o}};
    return v;
}

/* Frees an object whose count reached zero (releases what it holds). */
void cv_free_obj(cryo_heap *h, cryo_obj *o);

/* The hot-path retain/release: one test of the value's flags. */
static inline void cv_retain(cryo_value v) {
    if (v.flags & CRYO_VF_COUNTED) v.as.obj->rc++;
}
static inline void cv_release(cryo_heap *h, cryo_value v) {
    if ((v.flags & CRYO_VF_COUNTED) && --v.as.obj->rc == 0) cv_free_obj(h, v.as.obj);
}
/* Stores `v` (whose reference the caller gives away) into *slot, releasing the old value. */
static inline void cv_set(cryo_heap *h, cryo_value *slot, cryo_value v) {
    cryo_value old = *slot;
    *slot = v;
    cv_release(h, old);
}
/* True when the value is the only reference to a VM-local object, so it may be written. */
static inline bool cv_is_unique(cryo_value v) {
    return (v.flags & CRYO_VF_COUNTED) && v.as.obj->rc == 1;
}

/* Makes *slot (a string, array or map) uniquely owned by copying it if needed (shallow copy:
 * elements are retained). Returns false when out of memory (heap->exceeded tells if a limit).
 * Other types: returns true and does nothing. */
bool cv_make_unique(cryo_heap *h, cryo_value *slot);

/* --- constructors (result owned by the caller; on allocation failure the value is unit and
 *     the function returns false or the heap's `exceeded` is set) ------------------------- */

cryo_string *cv_string_new(cryo_heap *h, const char *s, size_t len); /* bytes must be UTF-8 */
cryo_string *cv_string_new_cap(cryo_heap *h, size_t cap);            /* empty, capacity */
/* Creates a string that is not counted and not tracked (unit constants): h.flags SHARED. */
cryo_string *cv_string_new_shared(const char *s, size_t len);
void cv_string_free_shared(cryo_string *s);
bool cv_string_append(cryo_heap *h, cryo_string **s, const char *p, size_t len); /* s unique */
bool cv_string_append_char(cryo_heap *h, cryo_string **s, uint32_t c);
/* Appends a host type's to_string text (handle.c) to *s; false when v is no handle or its type
 * has no to_string hook (*ok then untouched), else *ok = whether the append worked. */
bool cv_host_repr(cryo_heap *h, cryo_string **s, cryo_value v, bool debug, bool *ok);
uint32_t cv_string_hash(cryo_string *s);

/* --- interned strings (intern.c) -----------------------------------------------------------
 * Map keys and unit string constants of at most CV_INTERN_MAX bytes are interned: one string
 * per distinct text in the process, so equal keys are the same pointer (compared first) and
 * a map stores no copy of a computed key. Interned strings are immutable shared objects
 * (values to them are not counted) that live until the process exits; at most
 * CV_INTERN_LIMIT are made (then keys are copied as before). Allocated in blocks, outside
 * any VM's heap accounting. Thread-safe; see intern.c for the rules. */
#define CV_INTERN_MAX   40
#define CV_INTERN_LIMIT 32768u
/* The interned string with these bytes; NULL when len > CV_INTERN_MAX, the table is full or
 * out of memory (callers then keep or copy their own string). Takes a shard's lock. */
cryo_string *cv_intern(const char *p, size_t len);
size_t cv_intern_count(void); /* strings in the table (tests) */
static inline bool cv_is_interned(const cryo_string *s) {
    return (s->h.flags & CRYO_OBJ_INTERNED) != 0;
}
/* Byte offset of character index `ci` (0 <= ci <= nchars). O(1) for ASCII strings. */
size_t cv_string_offset(const cryo_string *s, int64_t ci);
/* Character at index ci (0 <= ci < nchars). */
uint32_t cv_string_char_at(const cryo_string *s, int64_t ci);

cryo_array *cv_array_new(cryo_heap *h, size_t cap);
bool cv_array_push(cryo_heap *h, cryo_array *a, cryo_value v); /* takes v's reference */
bool cv_array_reserve(cryo_heap *h, cryo_array *a, size_t cap);

cryo_map *cv_map_new(cryo_heap *h, size_t cap);
/* Finds a key; returns the entry or NULL. */
cryo_map_entry *cv_map_find(const cryo_map *m, const char *key, size_t len);
/* The entry whose key is `key` itself (an interned string), scanning maps of up to 16 keys;
 * NULL otherwise (absent, another string with the same bytes, or a larger map). */
static inline cryo_map_entry *cv_map_find_ptr(const cryo_map *m, const cryo_string *key) {
    if (m->len > 16) return NULL;
    for (uint32_t i = 0; i < m->len; i++)
        if (m->entries[i].key == key) return &m->entries[i];
    return NULL;
}
/* Finds a key given as a string (borrowed): the same result as cv_map_find, but an interned
 * key is found by pointer first (property names, keys taken from maps). */
cryo_map_entry *cv_map_find_str(const cryo_map *m, const cryo_string *key);
/* Sets key to v (takes v's reference; the key is borrowed: the map stores the interned string
 * of its text, or retains it, or copies it when shared and not interned). */
bool cv_map_set(cryo_heap *h, cryo_map *m, cryo_string *key, cryo_value v);
/* Removes a key; stores the removed value (owned) in *out if not NULL. Returns false if
 * absent. */
bool cv_map_remove(cryo_heap *h, cryo_map *m, const char *key, size_t len, cryo_value *out);

cryo_range *cv_range_new(cryo_heap *h, int64_t start, int64_t end, bool inclusive);
cryo_cell *cv_cell_new(cryo_heap *h, cryo_value v); /* takes v's reference */

/* Frees the reference cycles among the heap's live cells and what they reach (a closure
 * stored in a map it captures, ...): synchronous trial deletion (Bacon & Rajan) with every
 * live cell as a candidate root, since every cycle of values goes through a captured cell.
 * Values still referenced from outside the cycles (registers, the host) are kept. O(what the
 * cells reach); allocates its work arrays with malloc and does nothing if that fails. */
void cv_collect_cycles(cryo_heap *h);
/* Takes every cell off the heap's list (when the heap goes away: cells the host still holds
 * outlive it, untracked). */
void cv_detach_cells(cryo_heap *h);
cryo_fn *cv_fn_new(cryo_heap *h, cryo_fn_kind kind, uint16_t ncaps);
/* The closure of a SyncFunction object (o->type CRYO_T_SYNCFN), borrowed; implemented in
 * frozen/sync.c, which owns the SyncFunction's layout. */
const cryo_fn *cfz_sync_closure(const cryo_obj *o);

/* --- work and limits ----------------------------------------------------------------------- */

/* THE helper for work done outside the dispatch loop: a built-in whose work grows with its
 * input (sort, dedup, contains, index_of, pad, repeat, printing nested values, ...) and every
 * walk over nested data (equality, freezing, printing) charges that work here, so that the
 * host's operations limit, its interrupt (cryo_vm_interrupt) and its progress callback stop it
 * as they stop a script loop. Adds n to the run's operation count and, when the count passes
 * the limit or the progress mark, or the interrupt flag is set, raises like the loop does
 * (CRYO_ERR_TOO_MANY_OPERATIONS, CRYO_ERR_INTERRUPTED) and returns the kind; else CRYO_OK.
 * vm may be NULL (a host-side walk: nothing charged). Cheap (a compare and a relaxed load):
 * charge per element, or per batch of elements in tight loops. (vm/limits.c) */
cryo_error_kind cvm_charge(cryo_vm *vm, uint64_t n);

/* --- shared operations --------------------------------------------------------------------- */

/* Rhai's `==` semantics: ints and floats compare by value across types (floats with Rhai's
 * epsilon, cv_float_cmp), strings by content, a char equals the one-character string holding
 * it (the corpus: `"x" == 'x'` is true), other type mismatches give false, arrays and maps
 * element-wise (deep, without recursion), functions by name. */
bool cv_equals(cryo_value a, cryo_value b);
/* cv_equals for the VM: every element compared is one operation charged to vm
 * (cvm_charge), so the operations limit and the interrupt stop a comparison of huge data;
 * pairs of shared containers are compared once (linear in distinct pairs, not in paths).
 * *eq gets the result; returns CRYO_OK or the kind raised by the charge. vm may be NULL. */
cryo_error_kind cv_equals_vm(cryo_vm *vm, cryo_value a, cryo_value b, bool *eq);

/* A set of pointer pairs for walks over nested data that must handle a shared object once
 * (equality, the result check of a run, ...). Zero-initialise; malloc'd; cv_seen_free. */
typedef struct cv_seen {
    const void **keys; /* 2 per slot, NULL = empty */
    size_t n, cap;
} cv_seen;
/* Adds the pair: 1 when added, 0 when it was there, -1 when out of memory. */
int cv_seen_add(cv_seen *s, const void *a, const void *b);
bool cv_seen_has(const cv_seen *s, const void *a, const void *b);
void cv_seen_free(cv_seen *s);

/* Ordering for <, <=, >, >=: numbers (int/float mixed), strings (byte order), chars, a char
 * with a string (as a one-character string: `"hello" > 'c'`), bools and units. Returns
 * false when the types cannot be compared (the caller raises the type error); *cmp gets
 * -1/0/1. */
bool cv_compare(cryo_value a, cryo_value b, int *cmp);

/* Appends the text form of `v` to the string buffer *s (to_string / print form when
 * `debug` is false; debug form quotes strings and chars). Returns false on allocation failure.
 * As Rhai: () prints as "" (debug "()"), floats as cv_float_repr (debug: cv_float_repr_debug),
 * arrays and maps always show their elements in debug form: [1, "a", 'c'], #{"k": 1.0}. */
bool cv_append_repr(cryo_heap *h, cryo_string **s, cryo_value v, bool debug);

/* cv_append_repr bounded (for cvm_append_repr, vm/ops.c): on heap h, one operation per
 * element of nested arrays and maps charged to vm (cvm_charge), stopping with *err =
 * CRYO_ERR_DATA_TOO_LARGE once the text passes max_len (0 = no bound). Returns false when it
 * stopped (*err the kind, or CRYO_OK when out of memory); *s stays valid either way. */
bool cv_append_repr_bounded(cryo_heap *h, cryo_vm *vm, size_t max_len, cryo_string **s,
                            cryo_value v, bool debug, cryo_error_kind *err);

/* Like cv_append_repr, into a fresh malloc'd C string (for errors and the C API). */
char *cv_to_cstring(cryo_value v, bool debug);

const char *cv_type_name(cryo_value v); /* "i64", "string", "Fn", ... as type_of() gives */

/* --- additions (values engineer) -------------------------------------------------------------- */

/* Rhai's epsilon-based float comparison (book: "Floating-point Comparison"): -1, 0 or 1, or 2
 * when unordered (a NaN). Used by ==, <, ... on floats and int/float mixes. */
int cv_float_cmp(double x, double y);

#define CRYO_F64_EPSILON 2.220446049250313e-16

/* cv_float_cmp's body, inline so that the VM's compare opcodes keep float and mixed compares
 * in the dispatch loop (a call out of it was 12 % of Mandelbrot). Values closer than epsilon
 * (near zero) or than epsilon relative to their magnitude compare equal. */
static inline int cv_float_cmp_inline(double x, double y) {
    /* The common case first: apart by at least both tolerances, so apart under the rules
     * below too (a NaN fails both tests and takes the full path; so does inf - inf). */
    double d = x - y, ad = fabs(d), ax = fabs(x), ay = fabs(y);
    if (ad >= (ax > ay ? ax : ay) * CRYO_F64_EPSILON && ad >= CRYO_F64_EPSILON)
        return d < 0 ? -1 : 1;
    if (isnan(x) || isnan(y)) return 2;
    if (x == y) return 0;
    if (isinf(x) || isinf(y)) return x < y ? -1 : 1;
    double tol;
    if (x == 0.0 || y == 0.0) {
        tol = CRYO_F64_EPSILON;
    } else {
        tol = (ax > ay ? ax : ay) * CRYO_F64_EPSILON;
    }
    if (ad < tol) return 0;
    return d < 0 ? -1 : 1;
}

/* Encodes a Unicode scalar value as UTF-8 into out; returns the byte count (1..4). */
size_t cv_char_utf8(uint32_t c, char out[4]);

/* Text form of a float as Rhai prints it ("1.0", "0.5", "1e-14", "inf", "NaN") into buf
 * (at least 32 bytes); returns the length. */
size_t cv_float_repr(double f, char *buf);
/* The debug form of a float (Rust's Debug, as Rhai shows floats inside arrays and maps and in
 * debug()): "1.0", "1e-5", "1e16". Same buffer rule. */
size_t cv_float_repr_debug(double f, char *buf);

/* Resolves a character range of a string (Rhai's s[a..b] / s[a..=b]: negative bounds count
 * from the end, out-of-range bounds are clamped) to [*from, *to) character indexes. */
void cv_string_range(const cryo_string *s, int64_t start, int64_t end, bool inclusive,
                     int64_t *from, int64_t *to);

/* Compound assignment `*target op= b` (ops.c), for the VM's op-assign path: when *target is a
 * string, array or map it is made unique and changed in place, so `s += "x"` and `a += x`
 * in a loop are amortized O(1) (array += array appends all; array += other pushes; map +=
 * map mixes in). Other cases compute cvm_op_binary and store the result. b is borrowed. */
cryo_error_kind cvm_op_assign(cryo_vm *vm, int op, cryo_value *target, cryo_value b);

/* Checks v and everything nested in it against the size limits the way Rhai counts (ops.c):
 * all elements of all nested arrays against the array limit, all entries of nested maps
 * against the map limit, all string bytes inside against the string limit. CRYO_OK at once
 * when no size limit is set. The ops above call it themselves; the VM calls it after building
 * an array or map literal (APPEND, SETFIELD into a new map). Same as cvm_check_data. */
cryo_error_kind cvm_op_check_size(cryo_vm *vm, cryo_value v);

/* --- typed C pointers (FFI; ffi/pointer.c) ------------------------------------------------------
 * A CRYO_T_POINTER value is a typed C address. Two representations:
 *  - raw (flags without CRYO_VF_COUNTED): as.i holds the address itself; nothing to free. Made
 *    for pointers that C hands over (call returns, callback arguments): no allocation.
 *  - owned (CRYO_VF_COUNTED): as.obj is a cryo_pointer that owns the memory (ffi::new) or an
 *    FFI resource (a script's callback), freed with its destructor when the count drops.
 * In both, aux holds the element kind (cryo_ptr_elem). Only the FFI layer creates pointers, so a
 * script without the FFI capability never holds one. */
typedef enum cryo_ptr_elem {
    CRYO_PE_VOID = 0, /* opaque: cannot be indexed */
    CRYO_PE_I8,
    CRYO_PE_U8,
    CRYO_PE_I16,
    CRYO_PE_U16,
    CRYO_PE_I32,
    CRYO_PE_U32,
    CRYO_PE_I64,
    CRYO_PE_U64,
    CRYO_PE_F32,
    CRYO_PE_F64,
    CRYO_PE_BOOL,
    CRYO_PE_PTR, /* elements are pointers (read as opaque pointers) */
    CRYO_PE__COUNT
} cryo_ptr_elem;

typedef struct cryo_pointer {
    cryo_obj h;
    void *addr;
    int64_t count;          /* elements that may be indexed; -1 = unknown (no bound check) */
    void (*dtor)(void *ud); /* called when the object is freed; may be NULL */
    void *ud;
    size_t inline_bytes; /* bytes of data[] (owned buffer), 0 when addr is external */
    _Alignas(16) unsigned char data[];
} cryo_pointer;

/* A raw pointer value (no allocation). */
static inline cryo_value cv_pointer_raw(void *addr, cryo_ptr_elem elem) {
    cryo_value v = {CRYO_T_POINTER, 0, (uint16_t)elem, 0, {.i = (int64_t)(intptr_t)addr}};
    return v;
}
/* The counted value for an owned pointer object (reference moved in). */
static inline cryo_value cv_pointer_value(cryo_pointer *p, cryo_ptr_elem elem) {
    cryo_value v = {CRYO_T_POINTER, CRYO_VF_COUNTED, (uint16_t)elem, 0, {.obj = &p->h}};
    return v;
}
static inline void *cv_pointer_addr(cryo_value v) {
    return (v.flags & CRYO_VF_COUNTED) ? ((cryo_pointer *)v.as.obj)->addr
                                       : (void *)(intptr_t)v.as.i;
}
static inline int64_t cv_pointer_count(cryo_value v) {
    return (v.flags & CRYO_VF_COUNTED) ? ((cryo_pointer *)v.as.obj)->count : -1;
}

/* The pointer kind's operations, which live with the FFI (ffi/pointer.c): freeing an owned
 * pointer, its text form ("ptr<i32>(0x...)"), p[i] reads and writes (ops.c's getindex/setindex;
 * ints range-checked against the element type on writes). The FFI sets them (once, the same
 * table every time) before it makes any pointer value, so the core, which makes none, always
 * finds them set when it meets one; a NULL table is still handled (an error, never a crash). */
typedef struct cv_pointer_hooks {
    void (*free)(cryo_heap *h, cryo_obj *o);
    bool (*repr)(cryo_heap *h, cryo_string **s, cryo_value v);
    cryo_error_kind (*get)(cryo_vm *vm, cryo_value p, cryo_value idx, cryo_value *out);
    cryo_error_kind (*set)(cryo_vm *vm, cryo_value p, cryo_value idx, cryo_value v);
} cv_pointer_hooks;
CRYO_API void cv_pointer_hooks_set(const cv_pointer_hooks *hooks);
const cv_pointer_hooks *cv_pointer_hooks_get(void); /* NULL until set */

/* --- host handles (handle.c) ---------------------------------------------------------------
 * A CRYO_T_HANDLE value points to a cryo_handle: a host pointer with its type. The handle owns
 * `ptr`: when the last reference goes, type->release(ptr) runs for sendable types (release
 * set), otherwise type->destroy(ptr) when set. Equality is by (type, ptr); type_of() gives
 * type->name; the text form is `<name>`. */
typedef struct cryo_handle {
    cryo_obj h;
    const cryo_handle_type *type;
    void *ptr;
} cryo_handle;
void cv_handle_free(cryo_heap *h, cryo_obj *o);
static inline cryo_handle *cv_handle(cryo_value v) {
    return (cryo_handle *)v.as.obj;
}

#endif
