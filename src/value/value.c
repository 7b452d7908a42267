/*
 * value.c — heap accounting, freeing, copy-on-write, small constructors, equality and
 * ordering of values, and the public value functions of cryo.h.
 */
#include "value.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

/* --- heap accounting ------------------------------------------------------------------------ */

void *cv_alloc(cryo_heap *h, size_t size) {
    if (h) {
        if (h->limit && (size > h->limit || h->bytes > h->limit - size) &&
            (!h->grow || !h->grow(h, size))) {
            h->exceeded = true;
            return NULL;
        }
    }
    void *p = malloc(size ? size : 1);
    if (p && h) h->bytes += size;
    return p;
}

void *cv_realloc(cryo_heap *h, void *p, size_t old_size, size_t new_size) {
    if (h && new_size > old_size && h->limit) {
        size_t grow = new_size - old_size;
        if ((grow > h->limit || h->bytes > h->limit - grow) && (!h->grow || !h->grow(h, grow))) {
            h->exceeded = true;
            return NULL;
        }
    }
    void *q = realloc(p, new_size ? new_size : 1);
    if (q && h) h->bytes = h->bytes - old_size + new_size;
    return q;
}

void cv_free(cryo_heap *h, void *p, size_t size) {
    if (!p) return;
    if (h) h->bytes = h->bytes >= size ? h->bytes - size : 0;
    free(p);
}

/* --- freeing ---------------------------------------------------------------------------------- */

/* Objects whose count reached zero and whose children still need releasing. An explicit stack
 * keeps freeing a deeply nested array from recursing once per level. */
typedef struct free_stack {
    cryo_obj **items;
    size_t len, cap;
    cryo_obj *inline_items[32];
} free_stack;

/* The pointer kind's hook (value.h): set by the FFI before its first pointer value, read
 * wherever the core meets one. */
static _Atomic(const cv_pointer_hooks *) pointer_hooks;

void cv_pointer_hooks_set(const cv_pointer_hooks *hooks) {
    if (atomic_load_explicit(&pointer_hooks, memory_order_acquire) != hooks)
        atomic_store_explicit(&pointer_hooks, hooks, memory_order_release);
}

const cv_pointer_hooks *cv_pointer_hooks_get(void) {
    return atomic_load_explicit(&pointer_hooks, memory_order_acquire);
}

static void free_leaf_or_push(cryo_heap *h, free_stack *st, cryo_obj *o);

static void free_string(cryo_heap *h, cryo_string *s) {
    cv_free(h, s->data, s->cap);
    cv_free(h, s, sizeof *s);
}

/* Drops one reference held inside a dying object. */
static void drop_child(cryo_heap *h, free_stack *st, cryo_value v) {
    if (!(v.flags & CRYO_VF_COUNTED)) return;
    cryo_obj *o = v.as.obj;
    if (o->flags & CRYO_OBJ_SHARED) return;
    if (--o->rc == 0) free_leaf_or_push(h, st, o);
}

static void drop_string(cryo_heap *h, cryo_string *s) {
    if (!s || (s->h.flags & CRYO_OBJ_SHARED)) return;
    if (--s->h.rc == 0) free_string(h, s);
}

/* Releases what a container holds (children that die are pushed) and frees it. */
static void free_container(cryo_heap *h, free_stack *st, cryo_obj *o) {
    switch (o->type) {
    case CRYO_T_ARRAY: {
        cryo_array *a = (cryo_array *)o;
        for (uint32_t i = 0; i < a->len; i++)
            drop_child(h, st, a->items[i]);
        cv_free(h, a->items, (size_t)a->cap * sizeof(cryo_value));
        cv_free(h, a, sizeof *a);
        break;
    }
    case CRYO_T_MAP: {
        cryo_map *m = (cryo_map *)o;
        for (uint32_t i = 0; i < m->len; i++) {
            drop_string(h, m->entries[i].key);
            drop_child(h, st, m->entries[i].value);
        }
        cv_free(h, m->entries, (size_t)m->cap * sizeof(cryo_map_entry));
        cv_free(h, m, sizeof *m);
        break;
    }
    case CRYO_T_CELL: {
        cryo_cell *c = (cryo_cell *)o;
        if (c->gc_pprev) { /* off the heap's list */
            *c->gc_pprev = c->gc_next;
            if (c->gc_next) c->gc_next->gc_pprev = c->gc_pprev;
        }
        drop_child(h, st, c->v);
        cv_free(h, c, sizeof *c);
        break;
    }
    case CRYO_T_FN: {
        cryo_fn *f = (cryo_fn *)o;
        drop_string(h, f->name);
        for (uint16_t i = 0; i < f->ncurry; i++)
            drop_child(h, st, f->curry[i]);
        cv_free(h, f->curry, (size_t)f->ncurry * sizeof(cryo_value));
        for (uint16_t i = 0; i < f->ncaps; i++) {
            if (f->caps[i]) drop_child(h, st, cv_from_obj(&f->caps[i]->h));
        }
        if (f->unit) cryo_unit_release(f->unit);
        cv_free(h, f, sizeof *f + (size_t)f->ncaps * sizeof(cryo_cell *));
        break;
    }
    default: break;
    }
}

static void free_leaf_or_push(cryo_heap *h, free_stack *st, cryo_obj *o) {
    switch (o->type) {
    case CRYO_T_STRING: free_string(h, (cryo_string *)o); return;
    case CRYO_T_RANGE: cv_free(h, o, sizeof(cryo_range)); return;
    case CRYO_T_HANDLE: cv_handle_free(h, o); return; /* handle.c */
    case CRYO_T_POINTER: {
        const cv_pointer_hooks *ph = cv_pointer_hooks_get(); /* ffi/pointer.c */
        if (ph) ph->free(h, o);
        return;
    }
    default: break;
    }
    if (st->len == st->cap) {
        size_t ncap = st->cap * 2;
        cryo_obj **n;
        if (st->items == st->inline_items) {
            n = malloc(ncap * sizeof *n);
            if (n) memcpy(n, st->items, st->len * sizeof *n);
        } else {
            n = realloc(st->items, ncap * sizeof *n);
        }
        if (!n) {
            /* No room to defer: free this one now (recursion only when malloc fails). */
            free_container(h, st, o);
            return;
        }
        st->items = n;
        st->cap = ncap;
    }
    st->items[st->len++] = o;
}

void cv_free_obj(cryo_heap *h, cryo_obj *o) {
    if (!o || (o->flags & CRYO_OBJ_SHARED)) return;
    free_stack st = {.len = 0, .cap = 32};
    st.items = st.inline_items;
    free_leaf_or_push(h, &st, o);
    while (st.len > 0)
        free_container(h, &st, st.items[--st.len]);
    if (st.items != st.inline_items) free(st.items);
}

/* --- copy on write ---------------------------------------------------------------------------- */

static cryo_obj *copy_string(cryo_heap *h, const cryo_string *s) {
    cryo_string *n = cv_string_new(h, s->data, s->len);
    return n ? &n->h : NULL;
}

static cryo_obj *copy_array(cryo_heap *h, const cryo_array *a) {
    cryo_array *n = cv_array_new(h, a->len);
    if (!n) return NULL;
    for (uint32_t i = 0; i < a->len; i++) {
        cv_retain(a->items[i]);
        n->items[i] = a->items[i];
    }
    n->len = a->len;
    return &n->h;
}

static cryo_obj *copy_map(cryo_heap *h, const cryo_map *m) {
    cryo_map *n = cv_map_new(h, m->len);
    if (!n) return NULL;
    for (uint32_t i = 0; i < m->len; i++) {
        cryo_string *k = m->entries[i].key;
        if (!(k->h.flags & CRYO_OBJ_SHARED)) k->h.rc++;
        cv_retain(m->entries[i].value);
        n->entries[i].key = k;
        n->entries[i].value = m->entries[i].value;
    }
    n->len = m->len;
    return &n->h;
}

bool cv_make_unique(cryo_heap *h, cryo_value *slot) {
    cryo_value v = *slot;
    if (!cv_is_heap(v) || cv_is_unique(v)) return true;
    cryo_obj *n;
    switch (v.type) {
    case CRYO_T_STRING: n = copy_string(h, cv_str(v)); break;
    case CRYO_T_ARRAY: n = copy_array(h, cv_arr(v)); break;
    case CRYO_T_MAP: n = copy_map(h, cv_map(v)); break;
    default: return true;
    }
    if (!n) return false;
    cryo_value nv = cv_from_obj(n);
    nv.aux = v.aux;
    nv.aux2 = v.aux2;
    cv_set(h, slot, nv);
    return true;
}

/* --- small constructors ------------------------------------------------------------------------
 */

static void obj_init(cryo_obj *o, cryo_type t) {
    o->rc = 1;
    o->type = (uint8_t)t;
    o->flags = 0;
    o->extra = 0;
}

cryo_range *cv_range_new(cryo_heap *h, int64_t start, int64_t end, bool inclusive) {
    cryo_range *r = cv_alloc(h, sizeof *r);
    if (!r) return NULL;
    obj_init(&r->h, CRYO_T_RANGE);
    r->h.extra = inclusive ? 1 : 0;
    r->start = start;
    r->end = end;
    return r;
}

cryo_cell *cv_cell_new(cryo_heap *h, cryo_value v) {
    cryo_cell *c = cv_alloc(h, sizeof *c);
    if (!c) {
        cv_release(h, v);
        return NULL;
    }
    obj_init(&c->h, CRYO_T_CELL);
    c->v = v;
    c->gc_pprev = NULL;
    c->gc_next = NULL;
    if (h) { /* on the heap's list: a root for cv_collect_cycles */
        c->gc_next = h->cells;
        if (h->cells) h->cells->gc_pprev = &c->gc_next;
        c->gc_pprev = &h->cells;
        h->cells = c;
    }
    return c;
}

cryo_fn *cv_fn_new(cryo_heap *h, cryo_fn_kind kind, uint16_t ncaps) {
    size_t size = sizeof(cryo_fn) + (size_t)ncaps * sizeof(cryo_cell *);
    cryo_fn *f = cv_alloc(h, size);
    if (!f) return NULL;
    memset(f, 0, size);
    obj_init(&f->h, CRYO_T_FN);
    f->h.extra = (uint16_t)kind;
    f->ncaps = ncaps;
    return f;
}

/* --- equality and ordering -------------------------------------------------------------------- */

/* Out-of-line for the callers outside the dispatch loop; the body is in value.h. */
int cv_float_cmp(double x, double y) {
    return cv_float_cmp_inline(x, y);
}

static bool is_number(cryo_value v) {
    return v.type == CRYO_T_INT || v.type == CRYO_T_FLOAT;
}
static double num_as_f64(cryo_value v) {
    return v.type == CRYO_T_INT ? (double)v.as.i : v.as.f;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

size_t cv_char_utf8(uint32_t c, char out[4]) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* A string or char as bytes (a char is encoded into buf). */
static bool text_bytes(cryo_value v, char buf[4], const char **p, size_t *n) {
    if (v.type == CRYO_T_STRING) {
        *p = cv_str(v)->data;
        *n = cv_str(v)->len;
        return true;
    }
    if (v.type == CRYO_T_CHAR) {
        *n = cv_char_utf8(v.as.c, buf);
        *p = buf;
        return true;
    }
    return false;
}

static cryo_value deref_cell(cryo_value v) {
    while (v.type == CRYO_T_CELL)
        v = cv_cell(v)->v;
    return v;
}

/* Compares two values one level deep. Two arrays (or maps) of the same length that are not
 * the same object set *descend: their elements still need comparing. */
static bool equals_shallow(cryo_value a, cryo_value b, bool *descend) {
    *descend = false;
    a = deref_cell(a);
    b = deref_cell(b);
    if (is_number(a) && is_number(b)) {
        if (a.type == CRYO_T_INT && b.type == CRYO_T_INT) return a.as.i == b.as.i;
        return cv_float_cmp(num_as_f64(a), num_as_f64(b)) == 0;
    }
    char ba[4], bb[4];
    const char *pa, *pb;
    size_t na, nb;
    if (text_bytes(a, ba, &pa, &na) && text_bytes(b, bb, &pb, &nb)) {
        return na == nb && memcmp(pa, pb, na) == 0;
    }
    /* A NULL pointer equals (): scripts pass () for NULL, so ffi::null() == () as well. */
    if (a.type == CRYO_T_POINTER && b.type == CRYO_T_UNIT) return !cv_pointer_addr(a);
    if (a.type == CRYO_T_UNIT && b.type == CRYO_T_POINTER) return !cv_pointer_addr(b);
    if (a.type != b.type) return false;
    switch (a.type) {
    case CRYO_T_UNIT: return true;
    case CRYO_T_BOOL: return a.as.b == b.as.b;
    case CRYO_T_ARRAY:
        if (cv_arr(a) == cv_arr(b)) return true;
        *descend = cv_arr(a)->len == cv_arr(b)->len;
        return *descend;
    case CRYO_T_MAP:
        if (cv_map(a) == cv_map(b)) return true;
        *descend = cv_map(a)->len == cv_map(b)->len;
        return *descend;
    case CRYO_T_FN: {
        const cryo_fn *x = cv_fn(a), *y = cv_fn(b);
        if (x == y) return true;
        if (!x->name || !y->name) return false;
        return x->name->len == y->name->len &&
               memcmp(x->name->data, y->name->data, x->name->len) == 0;
    }
    case CRYO_T_RANGE: {
        const cryo_range *x = cv_range(a), *y = cv_range(b);
        return x->start == y->start && x->end == y->end && x->h.extra == y->h.extra;
    }
    case CRYO_T_POINTER: return cv_pointer_addr(a) == cv_pointer_addr(b);
    case CRYO_T_HANDLE:
        return cv_handle(a)->type == cv_handle(b)->type && cv_handle(a)->ptr == cv_handle(b)->ptr;
    case CRYO_T_SYNCFN: return a.as.obj == b.as.obj; /* same SyncFunction */
    default: return false;
    }
}

/* A pair of containers being compared element by element. */
typedef struct eq_frame {
    cryo_value a, b;
    uint32_t i;
} eq_frame;

/* The next pair of children of the frame, or false when it is done (or a map key differs:
 * *differ). */
static bool eq_next_child(eq_frame *f, cryo_value *ca, cryo_value *cb, bool *differ) {
    cryo_value a = deref_cell(f->a), b = deref_cell(f->b);
    if (a.type == CRYO_T_ARRAY) {
        if (f->i >= cv_arr(a)->len) return false;
        *ca = cv_arr(a)->items[f->i];
        *cb = cv_arr(b)->items[f->i];
    } else {
        if (f->i >= cv_map(a)->len) return false;
        const cryo_map_entry *x = &cv_map(a)->entries[f->i], *y = &cv_map(b)->entries[f->i];
        if (x->key->len != y->key->len || memcmp(x->key->data, y->key->data, x->key->len)) {
            *differ = true;
            return false;
        }
        *ca = x->value;
        *cb = y->value;
    }
    f->i++;
    return true;
}

/* --- pointer-pair sets ------------------------------------------------------------------------ */

static size_t seen_slot(const void *a, const void *b, size_t cap) {
    uint64_t x = (uint64_t)(uintptr_t)a * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)b;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

bool cv_seen_has(const cv_seen *s, const void *a, const void *b) {
    if (!s->keys) return false;
    for (size_t i = seen_slot(a, b, s->cap); s->keys[2 * i]; i = (i + 1) & (s->cap - 1))
        if (s->keys[2 * i] == a && s->keys[2 * i + 1] == b) return true;
    return false;
}

static void seen_put(const void **keys, size_t cap, const void *a, const void *b) {
    size_t i = seen_slot(a, b, cap);
    while (keys[2 * i])
        i = (i + 1) & (cap - 1);
    keys[2 * i] = a;
    keys[2 * i + 1] = b;
}

int cv_seen_add(cv_seen *s, const void *a, const void *b) {
    if (cv_seen_has(s, a, b)) return 0;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        const void **keys = calloc(cap * 2, sizeof *keys);
        if (!keys) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[2 * i]) seen_put(keys, cap, s->keys[2 * i], s->keys[2 * i + 1]);
        free(s->keys);
        s->keys = keys;
        s->cap = cap;
    }
    seen_put(s->keys, s->cap, a, b);
    s->n++;
    return 1;
}

void cv_seen_free(cv_seen *s) {
    free(s->keys);
    s->keys = NULL;
    s->n = s->cap = 0;
}

/* --- deep equality -----------------------------------------------------------------------------
 */

/* A container that more than one reference may reach (so a walk may meet it again). */
static bool may_recur(cryo_value v) {
    const cryo_obj *o = v.as.obj;
    return !(v.flags & CRYO_VF_COUNTED) || o->rc != 1 || (o->flags & CRYO_OBJ_SHARED);
}

#define EQ_BATCH 64 /* operations charged at once (cvm_charge) */

/* Deep equality with an explicit stack, so that comparing deeply nested arrays cannot
 * overflow the C stack. Pairs of possibly shared containers found equal are remembered, so
 * data reachable by many paths (`a = [a, a]` forty times) is compared once per distinct pair;
 * each element compared is one operation charged to vm (NULL: none). */
cryo_error_kind cv_equals_vm(cryo_vm *vm, cryo_value a, cryo_value b, bool *eq) {
    bool descend;
    bool r = equals_shallow(a, b, &descend);
    *eq = r;
    if (!descend) return CRYO_OK;
    eq_frame inline_frames[16];
    eq_frame *st = inline_frames;
    size_t n = 0, cap = 16;
    cv_seen done = {0};
    cryo_error_kind k = CRYO_OK;
    unsigned pending = 0;
    st[n++] = (eq_frame){a, b, 0};
    r = true;
    while (n > 0 && r && k == CRYO_OK) {
        cryo_value ca, cb;
        bool differ = false;
        if (!eq_next_child(&st[n - 1], &ca, &cb, &differ)) {
            r = !differ;
            eq_frame *f = &st[--n];
            cryo_value fa = deref_cell(f->a), fb = deref_cell(f->b);
            if (r && (may_recur(fa) || may_recur(fb)))
                cv_seen_add(&done, fa.as.obj, fb.as.obj); /* out of memory: no memo, still right */
            continue;
        }
        if (++pending == EQ_BATCH) {
            k = cvm_charge(vm, EQ_BATCH);
            pending = 0;
        }
        r = equals_shallow(ca, cb, &descend);
        if (!descend) continue;
        cryo_value da = deref_cell(ca), db = deref_cell(cb);
        if (cv_seen_has(&done, da.as.obj, db.as.obj)) continue;
        if (n == cap) {
            eq_frame *g = st == inline_frames ? malloc(cap * 2 * sizeof *g)
                                              : realloc(st, cap * 2 * sizeof *g);
            if (!g) {
                r = false; /* out of memory: report "not equal" rather than crash */
                break;
            }
            if (st == inline_frames) memcpy(g, inline_frames, sizeof inline_frames);
            st = g;
            cap *= 2;
        }
        st[n++] = (eq_frame){ca, cb, 0};
    }
    if (k == CRYO_OK && pending) k = cvm_charge(vm, pending);
    if (st != inline_frames) free(st);
    cv_seen_free(&done);
    *eq = r;
    return k;
}

bool cv_equals(cryo_value a, cryo_value b) {
    bool eq;
    cv_equals_vm(NULL, a, b, &eq);
    return eq;
}

bool cv_compare(cryo_value a, cryo_value b, int *cmp) {
    a = deref_cell(a);
    b = deref_cell(b);
    if (is_number(a) && is_number(b)) {
        if (a.type == CRYO_T_INT && b.type == CRYO_T_INT) {
            *cmp = a.as.i < b.as.i ? -1 : a.as.i > b.as.i ? 1 : 0;
            return true;
        }
        int c = cv_float_cmp(num_as_f64(a), num_as_f64(b));
        if (c == 2) return false;
        *cmp = c;
        return true;
    }
    char ba[4], bb[4];
    const char *pa, *pb;
    size_t na, nb;
    if (text_bytes(a, ba, &pa, &na) && text_bytes(b, bb, &pb, &nb)) {
        *cmp = bytes_cmp(pa, na, pb, nb);
        return true;
    }
    if (a.type != b.type) return false;
    switch (a.type) {
    case CRYO_T_UNIT: *cmp = 0; return true;
    case CRYO_T_BOOL: *cmp = (int)a.as.b - (int)b.as.b; return true;
    default: return false;
    }
}

/* --- type names ----------------------------------------------------------------------------- */

const char *cryo_type_name(cryo_type t) {
    switch (t) {
    case CRYO_T_UNIT: return "()";
    case CRYO_T_BOOL: return "bool";
    case CRYO_T_INT: return "i64";
    case CRYO_T_FLOAT: return "f64";
    case CRYO_T_CHAR: return "char";
    case CRYO_T_STRING: return "string";
    case CRYO_T_ARRAY: return "array";
    case CRYO_T_MAP: return "map";
    case CRYO_T_FN: return "Fn";
    case CRYO_T_RANGE: return "range";
    case CRYO_T_CELL: return "cell";
    case CRYO_T_POINTER: return "ptr";
    case CRYO_T_HANDLE: return "handle";
    case CRYO_T_SYNCFN: return "SyncFn";
    default: return "unknown";
    }
}

const char *cv_type_name(cryo_value v) {
    v = deref_cell(v);
    if (v.type == CRYO_T_RANGE && cv_range(v)->h.extra) return "range=";
    if (v.type == CRYO_T_HANDLE && cv_handle(v)->type && cv_handle(v)->type->name)
        return cv_handle(v)->type->name;
    return cryo_type_name((cryo_type)v.type);
}

/* --- public value API ---------------------------------------------------------------------------
 */

void cryo_value_retain(cryo_value v) {
    if (cv_is_heap(v)) cv_retain(v);
}

void cryo_value_release(cryo_value v) {
    if (cv_is_heap(v)) cv_release(NULL, v);
}

const char *cryo_value_str(cryo_value v, size_t *len) {
    if (v.type != CRYO_T_STRING) return NULL;
    if (len) *len = cv_str(v)->len;
    return cv_str(v)->data;
}

int64_t cryo_array_len(cryo_value v) {
    return v.type == CRYO_T_ARRAY ? (int64_t)cv_arr(v)->len : -1;
}

cryo_value cryo_array_get(cryo_value v, int64_t index) {
    if (v.type != CRYO_T_ARRAY || index < 0 || index >= (int64_t)cv_arr(v)->len) {
        return cryo_unit_value();
    }
    return cv_arr(v)->items[index];
}

int64_t cryo_map_len(cryo_value v) {
    return v.type == CRYO_T_MAP ? (int64_t)cv_map(v)->len : -1;
}

bool cryo_map_at(cryo_value v, int64_t index, const char **key, size_t *key_len,
                 cryo_value *value) {
    if (v.type != CRYO_T_MAP || index < 0 || index >= (int64_t)cv_map(v)->len) return false;
    const struct cryo_map_entry_s *e = &cv_map(v)->entries[index];
    if (key) *key = e->key->data;
    if (key_len) *key_len = e->key->len;
    if (value) *value = e->value;
    return true;
}
#define cryo_map_entry struct cryo_map_entry_s

bool cryo_map_find(cryo_value v, const char *key, cryo_value *value) {
    if (v.type != CRYO_T_MAP || !key) return false;
    const cryo_map_entry *e = cv_map_find(cv_map(v), key, strlen(key));
    if (!e) return false;
    if (value) *value = e->value;
    return true;
}

char *cryo_value_to_cstring(cryo_value v, bool debug) {
    return cv_to_cstring(v, debug);
}

/* --- cycles among captured cells ----------------------------------------------------------------
 * Synchronous trial deletion (Bacon & Rajan 2001) over what the heap's live cells reach. Every
 * cycle of values goes through a cell (containers are values: a write copies a shared one, so
 * only a captured variable can come to hold something that holds it). Colours: a node is GRAY
 * while it is a candidate; black (no bit) otherwise. */

#define GC_GRAY 0x80 /* cryo_obj.flags bit, set only while cv_collect_cycles runs */

typedef struct gc_list {
    cryo_obj **v;
    size_t n, cap;
    bool oom;
} gc_list;

static void gc_push(gc_list *l, cryo_obj *o) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        cryo_obj **nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) {
            l->oom = true;
            return;
        }
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = o;
}

/* A counted VM-local container, cell or function: the nodes trial deletion looks at. */
static cryo_obj *gc_node(cryo_value v) {
    if (!(v.flags & CRYO_VF_COUNTED)) return NULL;
    cryo_obj *o = v.as.obj;
    if (o->flags & (CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN)) return NULL;
    switch (o->type) {
    case CRYO_T_ARRAY:
    case CRYO_T_MAP:
    case CRYO_T_FN:
    case CRYO_T_CELL: return o;
    default: return NULL;
    }
}

static cryo_obj *gc_cell_node(cryo_cell *c) {
    if (!c || (c->h.flags & (CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN))) return NULL;
    return &c->h;
}

/* Calls visit(child) for each node child of o; mode selects what visit does. */
enum { GC_MARK, GC_DEC, GC_INC, GC_BLACKEN };

static void gc_visit(cryo_obj *t, int mode, gc_list *work) {
    if (!t) return;
    switch (mode) {
    case GC_MARK:
        if (!(t->flags & GC_GRAY)) {
            t->flags |= GC_GRAY;
            gc_push(work, t);
        }
        break;
    case GC_DEC: t->rc--; break;
    case GC_INC: t->rc++; break;
    case GC_BLACKEN:
        t->rc++;
        if (t->flags & GC_GRAY) {
            t->flags &= (uint8_t)~GC_GRAY;
            gc_push(work, t); /* room reserved: each node is pushed once */
        }
        break;
    }
}

static void gc_children(cryo_obj *o, int mode, gc_list *work) {
    switch (o->type) {
    case CRYO_T_ARRAY: {
        cryo_array *a = (cryo_array *)o;
        for (uint32_t i = 0; i < a->len; i++)
            gc_visit(gc_node(a->items[i]), mode, work);
        break;
    }
    case CRYO_T_MAP: {
        cryo_map *m = (cryo_map *)o;
        for (uint32_t i = 0; i < m->len; i++)
            gc_visit(gc_node(m->entries[i].value), mode, work);
        break;
    }
    case CRYO_T_FN: {
        cryo_fn *f = (cryo_fn *)o;
        for (uint16_t i = 0; i < f->ncurry; i++)
            gc_visit(gc_node(f->curry[i]), mode, work);
        for (uint16_t i = 0; i < f->ncaps; i++)
            gc_visit(gc_cell_node(f->caps[i]), mode, work);
        break;
    }
    case CRYO_T_CELL: gc_visit(gc_node(((cryo_cell *)o)->v), mode, work); break;
    default: break;
    }
}

void cv_collect_cycles(cryo_heap *h) {
    if (!h || !h->cells) return;
    gc_list nodes = {0}, work = {0};
    /* 1. every node the cells reach, gray (no count changes yet: an allocation failure here
     *    leaves everything as it was) */
    for (cryo_cell *c = h->cells; c && !nodes.oom; c = c->gc_next) {
        if (c->h.flags & GC_GRAY) continue;
        c->h.flags |= GC_GRAY;
        gc_push(&nodes, &c->h);
    }
    for (size_t i = 0; i < nodes.n && !nodes.oom; i++)
        gc_children(nodes.v[i], GC_MARK, &nodes);
    if (!nodes.oom) {
        work.v = malloc((nodes.n ? nodes.n : 1) * sizeof *work.v);
        work.cap = nodes.n;
    }
    if (nodes.oom || !work.v) {
        for (size_t i = 0; i < nodes.n; i++)
            nodes.v[i]->flags &= (uint8_t)~GC_GRAY;
        free(nodes.v);
        free(work.v);
        return;
    }
    /* 2. take away the references the nodes hold to each other */
    for (size_t i = 0; i < nodes.n; i++)
        gc_children(nodes.v[i], GC_DEC, NULL);
    /* 3. a node still referenced from outside is live, and so is all it reaches */
    for (size_t i = 0; i < nodes.n; i++) {
        cryo_obj *o = nodes.v[i];
        if (!(o->flags & GC_GRAY) || o->rc == 0) continue;
        o->flags &= (uint8_t)~GC_GRAY;
        work.n = 0;
        work.v[work.n++] = o;
        while (work.n > 0)
            gc_children(work.v[--work.n], GC_BLACKEN, &work);
    }
    /* 4. the rest (still gray) is garbage held only by itself: give back the internal counts,
     *    hold each with one extra reference, empty the cells to break the cycles, then drop
     *    the extra references, which frees everything through the ordinary path */
    size_t ng = 0;
    for (size_t i = 0; i < nodes.n; i++)
        if (nodes.v[i]->flags & GC_GRAY) nodes.v[ng++] = nodes.v[i];
    for (size_t i = 0; i < ng; i++)
        gc_children(nodes.v[i], GC_INC, NULL);
    for (size_t i = 0; i < ng; i++) {
        nodes.v[i]->flags &= (uint8_t)~GC_GRAY;
        nodes.v[i]->rc++;
    }
    for (size_t i = 0; i < ng; i++) {
        if (nodes.v[i]->type != CRYO_T_CELL) continue;
        cryo_cell *c = (cryo_cell *)nodes.v[i];
        cryo_value v = c->v;
        c->v = cryo_unit_value();
        cv_release(h, v);
    }
    for (size_t i = 0; i < ng; i++)
        if (--nodes.v[i]->rc == 0) cv_free_obj(h, nodes.v[i]);
    free(nodes.v);
    free(work.v);
}

void cv_detach_cells(cryo_heap *h) {
    if (!h) return;
    cryo_cell *c = h->cells;
    while (c) {
        cryo_cell *n = c->gc_next;
        c->gc_pprev = NULL;
        c->gc_next = NULL;
        c = n;
    }
    h->cells = NULL;
}
