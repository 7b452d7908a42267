/*
 * const.c — ConstValues: immutable value trees shared between threads. Constructors, atomic
 * retain/release, equality, text form and freezing VM values. A SyncFunction's own parts are
 * freed by sync.c (cfz_sync_destroy); pins and thawing are in pin.c. See sync.h and
 * docs/sync.md.
 */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FREEZE_MAX_DEPTH 1000 /* nesting of arrays/maps/closures that freezing follows */

/* --- frozen objects ------------------------------------------------------------------------ */

static void mark_frozen(cryo_obj *o) {
    o->flags = (uint8_t)(o->flags | CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN);
    o->rc = 1;
}

static cryo_value frozen_value(cryo_obj *o) {
    return cv_from_shared(o); /* never CRYO_VF_COUNTED */
}

void cfz_retain(cryo_obj *o) {
    if (o && cfz_is_frozen_obj(o)) __atomic_fetch_add(&o->rc, 1, __ATOMIC_RELAXED);
}

/* Frees one frozen object whose count reached zero; children whose count reaches zero are
 * pushed on the work list. */
static void push_child(cryo_obj ***st, size_t *n, size_t *cap, cryo_value v);

static void drop_ref(cryo_obj ***st, size_t *n, size_t *cap, cryo_obj *o) {
    if (!o || !cfz_is_frozen_obj(o)) return;
    if (__atomic_sub_fetch(&o->rc, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        cryo_obj **g = realloc(*st, nc * sizeof *g);
        if (!g) return; /* out of memory while freeing: leak rather than crash */
        *st = g;
        *cap = nc;
    }
    (*st)[(*n)++] = o;
}

static void push_child(cryo_obj ***st, size_t *n, size_t *cap, cryo_value v) {
    if (cv_is_heap(v)) drop_ref(st, n, cap, v.as.obj);
}

static void destroy_frozen(cryo_obj ***st, size_t *n, size_t *cap, cryo_obj *o) {
    switch (o->type) {
    case CRYO_T_STRING: {
        cryo_string *s = (cryo_string *)o;
        free(s->data);
        free(s);
        break;
    }
    case CRYO_T_ARRAY: {
        cryo_array *a = (cryo_array *)o;
        for (uint32_t i = 0; i < a->len; i++)
            push_child(st, n, cap, a->items[i]);
        free(a->items);
        free(a);
        break;
    }
    case CRYO_T_MAP: {
        cryo_map *m = (cryo_map *)o;
        for (uint32_t i = 0; i < m->len; i++) {
            drop_ref(st, n, cap, &m->entries[i].key->h);
            push_child(st, n, cap, m->entries[i].value);
        }
        free(m->entries);
        free(m);
        break;
    }
    case CRYO_T_RANGE: free(o); break;
    case CRYO_T_HANDLE: {
        cryo_handle *hd = (cryo_handle *)o;
        hd->type->release(hd->ptr);
        free(hd);
        break;
    }
    case CRYO_T_CELL: {
        cryo_cell *c = (cryo_cell *)o;
        push_child(st, n, cap, c->v);
        free(c);
        break;
    }
    case CRYO_T_FN: {
        cryo_fn *f = (cryo_fn *)o;
        if (f->name) drop_ref(st, n, cap, &f->name->h);
        for (uint16_t i = 0; i < f->ncurry; i++)
            push_child(st, n, cap, f->curry[i]);
        free(f->curry);
        for (uint16_t i = 0; i < f->ncaps; i++)
            if (f->caps[i]) drop_ref(st, n, cap, &f->caps[i]->h);
        if (f->unit) cryo_unit_release(f->unit);
        free(f->h.flags & CFZ_FN_IN_SYNC ? (void *)((char *)f - sizeof(cryo_sync)) : (void *)f);
        break;
    }
    case CRYO_T_SYNCFN: drop_ref(st, n, cap, &cfz_sync_destroy((cryo_sync *)o)->h); break;
    default: break;
    }
}

void cfz_release(cryo_obj *o) {
    cryo_obj **st = NULL;
    size_t n = 0, cap = 0;
    drop_ref(&st, &n, &cap, o);
    while (n > 0) {
        cryo_obj *x = st[--n];
        destroy_frozen(&st, &n, &cap, x);
    }
    free(st);
}

/* --- public constructors ------------------------------------------------------------------- */

CRYO_API cryo_const cryo_const_unit(void) {
    return (cryo_const){cryo_unit_value()};
}
CRYO_API cryo_const cryo_const_bool(bool b) {
    return (cryo_const){cryo_bool(b)};
}
CRYO_API cryo_const cryo_const_int(int64_t i) {
    return (cryo_const){cryo_int(i)};
}
CRYO_API cryo_const cryo_const_float(double f) {
    return (cryo_const){cryo_float(f)};
}
CRYO_API cryo_const cryo_const_char(uint32_t c) {
    return (cryo_const){cryo_char(c)};
}

static cryo_string *frozen_string(cryo_heap *h, const char *s, size_t len) {
    cryo_string *str = cv_string_new(h, s, len);
    if (!str) return NULL;
    mark_frozen(&str->h); /* SHARED: cv_string_hash never caches into it */
    return str;
}

CRYO_API cryo_const cryo_const_string(const char *s, size_t len) {
    if (!s && len) return cryo_const_unit();
    cryo_value tmp = cryo_value_string(s ? s : "", len); /* validates UTF-8 */
    if (tmp.type != CRYO_T_STRING) return cryo_const_unit();
    cryo_string *str = frozen_string(NULL, cv_str(tmp)->data, cv_str(tmp)->len);
    cryo_value_release(tmp);
    return str ? (cryo_const){frozen_value(&str->h)} : cryo_const_unit();
}

CRYO_API cryo_const cryo_const_array(cryo_const *items, size_t n) {
    cryo_array *a = cv_array_new(NULL, n);
    if (!a) {
        for (size_t i = 0; i < n; i++)
            cryo_const_release(items[i]);
        return cryo_const_unit();
    }
    for (size_t i = 0; i < n; i++)
        a->items[i] = items[i].v;
    a->len = (uint32_t)n;
    mark_frozen(&a->h);
    return (cryo_const){frozen_value(&a->h)};
}

static int key_cmp(const void *x, const void *y) {
    const cryo_map_entry *a = x, *b = y;
    size_t n = a->key->len < b->key->len ? a->key->len : b->key->len;
    int c = memcmp(a->key->data, b->key->data, n);
    if (c) return c;
    return a->key->len < b->key->len ? -1 : a->key->len > b->key->len;
}

CRYO_API cryo_const cryo_const_map(const char *const *keys, cryo_const *values, size_t n) {
    cryo_map *m = cv_map_new(NULL, n);
    bool ok = m != NULL;
    size_t len = 0;
    for (size_t i = 0; ok && i < n; i++) {
        cryo_string *k = frozen_string(NULL, keys[i] ? keys[i] : "", keys[i] ? strlen(keys[i]) : 0);
        if (!k) {
            ok = false;
            break;
        }
        m->entries[len].key = k;
        m->entries[len].value = values[i].v;
        values[i] = cryo_const_unit();
        len++;
    }
    if (m) {
        m->len = (uint32_t)len;
        if (len > 1) qsort(m->entries, len, sizeof *m->entries, key_cmp); /* entries may be NULL */
        /* Duplicate keys: the last one given wins (stable enough: drop earlier duplicates). */
        size_t w = 0;
        for (size_t r = 0; r < len; r++) {
            if (w > 0 && key_cmp(&m->entries[w - 1], &m->entries[r]) == 0) {
                cfz_release(&m->entries[w - 1].key->h);
                if (cv_is_heap(m->entries[w - 1].value))
                    cfz_release(m->entries[w - 1].value.as.obj);
                m->entries[w - 1] = m->entries[r];
            } else {
                m->entries[w++] = m->entries[r];
            }
        }
        m->len = (uint32_t)w;
        mark_frozen(&m->h);
    }
    if (!ok) {
        for (size_t i = len; i < n; i++)
            cryo_const_release(values[i]);
        if (m) cfz_release(&m->h);
        return cryo_const_unit();
    }
    return (cryo_const){frozen_value(&m->h)};
}

CRYO_API cryo_const cryo_const_retain(cryo_const c) {
    if (cv_is_heap(c.v)) cfz_retain(c.v.as.obj);
    return c;
}

CRYO_API void cryo_const_release(cryo_const c) {
    if (cv_is_heap(c.v)) cfz_release(c.v.as.obj);
}

CRYO_API cryo_type cryo_const_type(cryo_const c) {
    return (cryo_type)c.v.type;
}

CRYO_API bool cryo_const_equal(cryo_const a, cryo_const b) {
    if (a.v.type == CRYO_T_SYNCFN || b.v.type == CRYO_T_SYNCFN)
        return a.v.type == b.v.type && a.v.as.obj == b.v.as.obj;
    return cv_equals(a.v, b.v);
}

CRYO_API char *cryo_const_to_cstring(cryo_const c, bool debug) {
    return cv_to_cstring(c.v, debug);
}

/* --- freezing ------------------------------------------------------------------------------ */

/* Freezing copies a value graph once per distinct object: a value reachable twice (`[a, a]`,
 * a closure captured by two closures) is frozen once and both places point to the one copy,
 * so the frozen graph has the original's shape and the work is linear in distinct objects
 * (41 arrays, not 2^40 paths, for `a = [a, a]` forty times). The memo maps each source
 * object that may be shared to its copy. Copies are allocated on the VM's heap (the memory
 * limit stops a freeze that would pass it; the bytes stay charged until the VM's pins go,
 * cfz_release_pins) and each object frozen is one operation (cvm_charge). */
static cryo_error_kind fail(cryo_vm *vm, cryo_error_kind kind, const char *what, const char *why) {
    if (what) return cryo_vm_raise(vm, kind, "cannot freeze %s: %s", what, why);
    return cryo_vm_raise(vm, kind, "cannot freeze the value: %s", why);
}

void cfz_freezer_begin(cryo_freezer *fz, cryo_vm *vm) {
    memset(fz, 0, sizeof *fz);
    fz->vm = vm;
    fz->bytes_before = vm->heap.bytes;
}

cryo_error_kind cfz_freezer_end(cryo_freezer *fz, cryo_error_kind k) {
    cryo_vm *vm = fz->vm;
    free(fz->memo);
    fz->memo = NULL;
    /* On failure the partial copies were freed with free(), past the heap's accounting. */
    if (k != CRYO_OK)
        vm->heap.bytes = fz->bytes_before;
    else if (vm->heap.bytes > fz->bytes_before)
        vm->frozen_bytes += vm->heap.bytes - fz->bytes_before;
    return k;
}

/* Only an object that more than one reference can reach needs a memo entry: a counted
 * VM-local object with rc == 1 has one path to it. */
static bool maybe_shared(const cryo_obj *o) {
    return o->rc != 1 || (o->flags & CRYO_OBJ_SHARED);
}

static size_t memo_slot(const cryo_obj *o, size_t cap) {
    uint64_t x = (uint64_t)(uintptr_t)o;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static cryo_obj *memo_get(const cryo_freezer *fz, const cryo_obj *src) {
    if (!fz->memo) return NULL;
    for (size_t i = memo_slot(src, fz->cap); fz->memo[i].src; i = (i + 1) & (fz->cap - 1))
        if (fz->memo[i].src == src) return fz->memo[i].dst;
    return NULL;
}

static bool memo_put(cryo_freezer *fz, const cryo_obj *src, cryo_obj *dst) {
    if ((fz->n + 1) * 2 > fz->cap) {
        size_t cap = fz->cap ? fz->cap * 2 : 64;
        cryo_freeze_memo *m = calloc(cap, sizeof *m);
        if (!m) return false;
        for (size_t i = 0; i < fz->cap; i++) {
            if (!fz->memo[i].src) continue;
            size_t j = memo_slot(fz->memo[i].src, cap);
            while (m[j].src)
                j = (j + 1) & (cap - 1);
            m[j] = fz->memo[i];
        }
        free(fz->memo);
        fz->memo = m;
        fz->cap = cap;
    }
    size_t i = memo_slot(src, fz->cap);
    while (fz->memo[i].src)
        i = (i + 1) & (fz->cap - 1);
    fz->memo[i].src = src;
    fz->memo[i].dst = dst;
    fz->n++;
    return true;
}

static cryo_error_kind freeze_copy(cryo_freezer *fz, cryo_value v, const char *what, int depth,
                                   cryo_value *out);

cryo_error_kind cfz_freeze_in(cryo_freezer *fz, cryo_value v, const char *what, int depth,
                              cryo_value *out) {
    cryo_vm *vm = fz->vm;
    *out = cryo_unit_value();
    while (v.type == CRYO_T_CELL)
        v = cv_cell(v)->v;
    if (!cv_is_heap(v)) {
        *out = v;
        out->flags = 0;
        return CRYO_OK;
    }
    if (depth > FREEZE_MAX_DEPTH)
        return fail(vm, CRYO_ERR_TYPE, what,
                    "it is nested too deeply (a closure that captures itself?)");
    if (v.type == CRYO_T_POINTER)
        return fail(vm, CRYO_ERR_TYPE, what, "it holds a C pointer, a VM-local resource");
    cryo_obj *o = v.as.obj;
    if (cfz_is_frozen_obj(o)) { /* already a const (thawed or read from a capture) */
        cfz_retain(o);
        *out = frozen_value(o);
        out->aux = v.aux;
        out->aux2 = v.aux2;
        return CRYO_OK;
    }
    cryo_obj *seen = maybe_shared(o) ? memo_get(fz, o) : NULL;
    if (seen) { /* reached again: the one copy, one more reference */
        cfz_retain(seen);
        *out = frozen_value(seen);
        return CRYO_OK;
    }
    cryo_error_kind k = cvm_charge(vm, 1);
    if (k == CRYO_OK) k = freeze_copy(fz, v, what, depth, out);
    if (k == CRYO_OK && maybe_shared(o) && !memo_put(fz, o, out->as.obj)) {
        cfz_release(out->as.obj);
        *out = cryo_unit_value();
        k = cvm_raise_oom(vm);
    }
    return k;
}

static cryo_error_kind freeze_copy(cryo_freezer *fz, cryo_value v, const char *what, int depth,
                                   cryo_value *out) {
    cryo_vm *vm = fz->vm;
    cryo_heap *h = &vm->heap;
    switch (v.type) {
    case CRYO_T_STRING: {
        cryo_string *s = frozen_string(h, cv_str(v)->data, cv_str(v)->len);
        if (!s) return cvm_raise_oom(vm);
        *out = frozen_value(&s->h);
        return CRYO_OK;
    }
    case CRYO_T_ARRAY: {
        const cryo_array *src = cv_arr(v);
        cryo_array *a = cv_array_new(h, src->len);
        if (!a) return cvm_raise_oom(vm);
        mark_frozen(&a->h);
        for (uint32_t i = 0; i < src->len; i++) {
            cryo_value x;
            cryo_error_kind k = cfz_freeze_in(fz, src->items[i], what, depth + 1, &x);
            if (k != CRYO_OK) {
                cfz_release(&a->h);
                return k;
            }
            a->items[a->len++] = x;
        }
        *out = frozen_value(&a->h);
        return CRYO_OK;
    }
    case CRYO_T_MAP: {
        const cryo_map *src = cv_map(v);
        cryo_map *m = cv_map_new(h, src->len);
        if (!m) return cvm_raise_oom(vm);
        mark_frozen(&m->h);
        for (uint32_t i = 0; i < src->len; i++) {
            const cryo_string *ks = src->entries[i].key;
            cryo_value kv;
            cryo_error_kind k =
                cfz_freeze_in(fz, cv_from_shared((cryo_obj *)&ks->h), what, depth + 1, &kv);
            if (k != CRYO_OK) {
                cfz_release(&m->h);
                return k;
            }
            cryo_value x;
            k = cfz_freeze_in(fz, src->entries[i].value, what, depth + 1, &x);
            if (k != CRYO_OK) {
                cfz_release(kv.as.obj);
                cfz_release(&m->h);
                return k;
            }
            m->entries[m->len].key = cv_str(kv);
            m->entries[m->len].value = x;
            m->len++;
        }
        *out = frozen_value(&m->h);
        return CRYO_OK;
    }
    case CRYO_T_RANGE: {
        const cryo_range *src = cv_range(v);
        cryo_range *r = cv_range_new(h, src->start, src->end, src->h.extra != 0);
        if (!r) return cvm_raise_oom(vm);
        mark_frozen(&r->h);
        *out = frozen_value(&r->h);
        return CRYO_OK;
    }
    case CRYO_T_FN: {
        cryo_sync *s;
        cryo_error_kind k = cfz_sync_from_fn_in(fz, cv_fn(v), depth + 1, &s);
        if (k != CRYO_OK) return k;
        *out = frozen_value(&s->h);
        return CRYO_OK;
    }
    case CRYO_T_HANDLE: {
        const cryo_handle *src = cv_handle(v);
        if (!src->type || !src->type->retain || !src->type->release) {
            char why[200];
            snprintf(why, sizeof why,
                     "it holds a host handle of type '%s' that is not sendable (its type has no "
                     "thread-safe retain/release)",
                     src->type && src->type->name ? src->type->name : "?");
            return fail(vm, CRYO_ERR_TYPE, what, why);
        }
        cryo_handle *hd = cv_alloc(h, sizeof *hd);
        if (!hd) return cvm_raise_oom(vm);
        hd->h.type = CRYO_T_HANDLE;
        hd->h.flags = 0;
        hd->h.extra = 0;
        mark_frozen(&hd->h);
        hd->type = src->type;
        hd->ptr = src->ptr;
        hd->type->retain(hd->ptr);
        *out = frozen_value(&hd->h);
        return CRYO_OK;
    }
    default: return fail(vm, CRYO_ERR_TYPE, what, "it holds a VM-local resource");
    }
}

cryo_error_kind cfz_freeze_named(cryo_vm *vm, cryo_value v, const char *what, cryo_const *out) {
    out->v = cryo_unit_value();
    cryo_freezer fz;
    cfz_freezer_begin(&fz, vm);
    cryo_value r;
    cryo_error_kind k = cfz_freezer_end(&fz, cfz_freeze_in(&fz, v, what, 0, &r));
    if (k == CRYO_OK) out->v = r;
    return k;
}

CRYO_API cryo_error_kind cryo_vm_freeze(cryo_vm *vm, cryo_value v, cryo_const *out) {
    if (!out) return CRYO_ERR_API;
    out->v = cryo_unit_value();
    if (!vm) return CRYO_ERR_API;
    return cfz_freeze_named(vm, v, NULL, out);
}
