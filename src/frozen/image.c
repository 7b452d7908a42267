/*
 * image.c — images: a compiled unit, or a ConstValue (SyncFunctions included) with the unit its
 * functions run, as bytes that can leave the process; and the loader, which treats every image
 * as hostile: each read is bounded by the bytes left, each count by what the remaining bytes
 * could hold, and a unit's bytecode is verified (verify_proto) before anything can run it.
 * The byte layout is documented in docs/serialization.md; keep the two in step.
 */
#include "lang/lang.h" /* cl_error_new */
#include "image.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMG_VERSION   2  /* 2: host handles (O_HANDLE), local-variable names in protos */
#define IMG_V1        1  /* still read: a subset of version 2 */
#define IMG_HEADER    20 /* magic 4, version 2, kind 1, flags 1, hash 8, payload length 4 */
#define IMG_MAX_DEPTH 2000
#define IMG_NO_STRING 0xFFFFFFFFu
#define IMG_STR_MAX   ((uint32_t)1 << 30)
#define FNV_OFFSET    0xcbf29ce484222325ULL
#define FNV_PRIME     0x100000001b3ULL

enum { UNIT_NONE = 0, UNIT_EMBEDDED = 1, UNIT_BY_HASH = 2 };
enum { K_UNIT = 0, K_BOOL, K_INT, K_FLOAT, K_CHAR, K_STRING };
enum { V_UNIT = 0, V_BOOL, V_INT, V_FLOAT, V_CHAR, V_REF };
enum { O_STRING = 1, O_ARRAY, O_MAP, O_RANGE, O_SYNCFN, O_HANDLE };

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* --- writing ------------------------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} wbuf;

static void w_bytes(wbuf *w, const void *d, size_t n) {
    if (w->oom) return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        while (cap < w->n + n)
            cap *= 2;
        uint8_t *g = realloc(w->p, cap);
        if (!g) {
            w->oom = true;
            return;
        }
        w->p = g;
        w->cap = cap;
    }
    if (n) memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void w_le(wbuf *w, uint64_t x, int bytes) {
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(x >> (8 * i));
    w_bytes(w, b, (size_t)bytes);
}
#define w_u8(w, x)  w_le(w, (uint64_t)(x), 1)
#define w_u16(w, x) w_le(w, (uint64_t)(x), 2)
#define w_u32(w, x) w_le(w, (uint64_t)(uint32_t)(x), 4)
#define w_u64(w, x) w_le(w, (uint64_t)(x), 8)

static void w_f64(wbuf *w, double f) {
    uint64_t x;
    memcpy(&x, &f, sizeof x);
    w_u64(w, x);
}

static void w_str(wbuf *w, const char *s, size_t len) {
    if (!s) {
        w_u32(w, IMG_NO_STRING);
        return;
    }
    w_u32(w, len);
    w_bytes(w, s, len);
}

static void w_header(wbuf *w, int kind, const uint8_t *payload, size_t n) {
    w_bytes(w, "CRYO", 4);
    w_u16(w, IMG_VERSION);
    w_u8(w, kind);
    w_u8(w, 0);
    w_u64(w, fnv1a(payload, n));
    w_u32(w, n);
}

/* The unit section: everything a VM reads from a unit, no pointers. `version` 1 leaves out
 * the local-variable names (only to check the hash of a version 1 image's unit). */
static bool write_unit(wbuf *w, const cryo_unit *u, unsigned version, char *why, size_t whylen) {
    w_u32(w, u->nprotos);
    w_u32(w, u->nfns);
    w_u32(w, u->nhosts);
    w_u32(w, u->nglobals);
    w_str(w, u->source_name, u->source_name ? strlen(u->source_name) : 0);
    for (uint32_t pi = 0; pi < u->nprotos; pi++) {
        const cryo_proto *p = u->protos[pi];
        w_str(w, p->name, strlen(p->name));
        w_u8(w, p->nparams);
        w_u8(w, p->nregs);
        w_u8(w, p->is_closure);
        w_u8(w, p->uses_this);
        w_u32(w, p->line);
        w_u16(w, p->ncaps);
        w_u32(w, p->ncode);
        w_u32(w, p->nk);
        for (uint32_t i = 0; i < p->ncode; i++)
            w_u32(w, p->code[i]);
        for (uint32_t i = 0; i < p->ncode; i++) {
            w_u32(w, p->lines[i].line);
            w_u32(w, p->lines[i].column);
        }
        for (uint32_t i = 0; i < p->nk; i++) {
            cryo_value k = p->k[i];
            switch (k.type) {
            case CRYO_T_UNIT: w_u8(w, K_UNIT); break;
            case CRYO_T_BOOL:
                w_u8(w, K_BOOL);
                w_u8(w, k.as.b ? 1 : 0);
                break;
            case CRYO_T_INT:
                w_u8(w, K_INT);
                w_u64(w, (uint64_t)k.as.i);
                break;
            case CRYO_T_FLOAT:
                w_u8(w, K_FLOAT);
                w_f64(w, k.as.f);
                break;
            case CRYO_T_CHAR:
                w_u8(w, K_CHAR);
                w_u32(w, k.as.c);
                break;
            case CRYO_T_STRING:
                w_u8(w, K_STRING);
                w_str(w, cv_str(k)->data, cv_str(k)->len);
                break;
            default:
                snprintf(why, whylen, "proto %u: constant %u of type %s has no image form", pi, i,
                         cv_type_name(k));
                return false;
            }
        }
        for (uint16_t i = 0; i < p->ncaps; i++) {
            const cryo_capdesc *cd = &p->caps[i];
            w_u8(w, cd->from_parent_local);
            w_u8(w, cd->assigned);
            w_u16(w, cd->index);
            w_u32(w, cd->line);
            w_u32(w, cd->column);
            w_str(w, cd->name, cd->name ? strlen(cd->name) : 0);
        }
        if (version < 2) continue;
        w_u32(w, p->nlocals); /* for the debugger hook (cryo_debug_local) */
        for (uint32_t i = 0; i < p->nlocals; i++) {
            const cryo_localinfo *l = &p->locals[i];
            w_str(w, l->name, strlen(l->name));
            w_u32(w, l->start);
            w_u32(w, l->end);
            w_u8(w, l->reg);
        }
    }
    for (uint32_t i = 0; i < u->nfns; i++) {
        w_str(w, u->fns[i].name, strlen(u->fns[i].name));
        w_u32(w, u->fns[i].arity);
        w_u32(w, u->fns[i].proto);
    }
    for (uint32_t i = 0; i < u->nhosts; i++) {
        w_str(w, u->hosts[i].name, strlen(u->hosts[i].name));
        w_u32(w, u->hosts[i].arity);
    }
    return true;
}

static cryo_error_kind set_err(cryo_error **err, cryo_error_kind kind, const char *fmt, ...) {
    if (err) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        *err = cl_error_new(kind, NULL, 0, 0, "%s", msg);
    }
    return kind;
}

/* Hands the finished image to the caller: into buf when it fits, else the size needed. */
static cryo_error_kind deliver(wbuf *w, void *buf, size_t cap, size_t *size, cryo_error **err) {
    if (size) *size = w->n;
    if (w->n > cap || !buf)
        return set_err(err, CRYO_ERR_DATA_TOO_LARGE,
                       "image: the buffer holds %zu bytes, the image needs %zu", cap, w->n);
    memcpy(buf, w->p, w->n);
    return CRYO_OK;
}

static cryo_error_kind unit_image(const cryo_unit *u, wbuf *out, cryo_error **err) {
    memset(out, 0, sizeof *out);
    if (!u) return set_err(err, CRYO_ERR_API, "image: NULL unit");
    wbuf s = {0};
    char why[200] = "";
    if (!write_unit(&s, u, IMG_VERSION, why, sizeof why)) {
        free(s.p);
        return set_err(err, CRYO_ERR_TYPE, "image: %s", why);
    }
    w_header(out, CRYO_IMAGE_UNIT, s.p, s.n);
    w_bytes(out, s.p, s.n);
    free(s.p);
    if (s.oom || out->oom) {
        free(out->p);
        out->p = NULL;
        return set_err(err, CRYO_ERR_MEMORY, "image: out of memory");
    }
    return CRYO_OK;
}

CRYO_API cryo_error_kind cryo_unit_to_image(const cryo_unit *unit, void *buf, size_t cap,
                                            size_t *size, cryo_error **err) {
    if (err) *err = NULL;
    if (size) *size = 0;
    wbuf w;
    cryo_error_kind k = unit_image(unit, &w, err);
    if (k == CRYO_OK) k = deliver(&w, buf, cap, size, err);
    free(w.p);
    return k;
}

CRYO_API void *cryo_unit_to_image_alloc(const cryo_unit *unit, size_t *size, cryo_error **err) {
    if (err) *err = NULL;
    if (size) *size = 0;
    wbuf w;
    if (unit_image(unit, &w, err) != CRYO_OK) return NULL;
    if (size) *size = w.n;
    return w.p;
}

/* The hash of the unit section in a format version's layout. */
static uint64_t unit_hash_v(const cryo_unit *unit, unsigned version) {
    if (!unit) return 0;
    wbuf s = {0};
    char why[200];
    uint64_t h = 0;
    if (write_unit(&s, unit, version, why, sizeof why) && !s.oom) h = fnv1a(s.p, s.n);
    free(s.p);
    return h;
}

CRYO_API uint64_t cryo_unit_hash(const cryo_unit *unit) {
    return unit_hash_v(unit, IMG_VERSION);
}

/* --- writing a ConstValue: objects first, each once, children before parents -------------- */

typedef struct dumper {
    wbuf objs;
    uint32_t nobj;
    const void **keys; /* memo: object -> index + 1 (open addressing) */
    uint32_t *vals;
    size_t cap, n;
    const cryo_unit *unit;
    char why[300];
} dumper;

static size_t memo_slot(const void *o, size_t cap) {
    uint64_t x = (uint64_t)(uintptr_t)o;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static uint32_t memo_find(const dumper *d, const void *o) {
    if (!d->cap) return 0;
    for (size_t i = memo_slot(o, d->cap); d->keys[i]; i = (i + 1) & (d->cap - 1))
        if (d->keys[i] == o) return d->vals[i];
    return 0;
}

static bool memo_add(dumper *d, const void *o, uint32_t v) {
    if ((d->n + 1) * 2 > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        const void **k = calloc(cap, sizeof *k);
        uint32_t *vs = calloc(cap, sizeof *vs);
        if (!k || !vs) {
            free(k);
            free(vs);
            return false;
        }
        for (size_t i = 0; i < d->cap; i++) {
            if (!d->keys[i]) continue;
            size_t j = memo_slot(d->keys[i], cap);
            while (k[j])
                j = (j + 1) & (cap - 1);
            k[j] = d->keys[i];
            vs[j] = d->vals[i];
        }
        free(d->keys);
        free(d->vals);
        d->keys = k;
        d->vals = vs;
        d->cap = cap;
    }
    size_t i = memo_slot(o, d->cap);
    while (d->keys[i])
        i = (i + 1) & (d->cap - 1);
    d->keys[i] = o;
    d->vals[i] = v;
    d->n++;
    return true;
}

static bool d_obj(dumper *d, cryo_value v, int depth, uint32_t *index);

/* Emits the objects v needs; then v's own encoding goes to `out` (a value is inline). */
static bool d_value(dumper *d, cryo_value v, int depth, wbuf *out) {
    while (v.type == CRYO_T_CELL)
        v = cv_cell(v)->v;
    switch (v.type) {
    case CRYO_T_UNIT: w_u8(out, V_UNIT); return true;
    case CRYO_T_BOOL:
        w_u8(out, V_BOOL);
        w_u8(out, v.as.b ? 1 : 0);
        return true;
    case CRYO_T_INT:
        w_u8(out, V_INT);
        w_u64(out, (uint64_t)v.as.i);
        return true;
    case CRYO_T_FLOAT:
        w_u8(out, V_FLOAT);
        w_f64(out, v.as.f);
        return true;
    case CRYO_T_CHAR:
        w_u8(out, V_CHAR);
        w_u32(out, v.as.c);
        return true;
    default: break;
    }
    uint32_t ix;
    if (!d_obj(d, v, depth, &ix)) return false;
    w_u8(out, V_REF);
    w_u32(out, ix);
    return true;
}

static bool d_fail(dumper *d, const char *fmt, const char *arg) {
    snprintf(d->why, sizeof d->why, fmt, arg);
    return false;
}

/* Only a sendable type with both image hooks serializes: a non-sendable handle belongs to one
 * VM (and is never in a ConstValue anyway), and bytes without a load hook could not come
 * back. */
static bool host_serializes(const cryo_handle_type *t) {
    return t && t->name && t->retain && t->release && t->ops && t->ops->dump && t->ops->load;
}

struct cryo_bytes {
    wbuf w;
};

CRYO_API bool cryo_bytes_append(cryo_bytes *out, const void *data, size_t n) {
    if (!out || (!data && n) || out->w.oom) return false;
    if (n > IMG_STR_MAX - out->w.n) return false; /* a record's length is a u32 */
    w_bytes(&out->w, data, n);
    return !out->w.oom;
}

/* A host handle's record: the type's name, then the bytes its dump hook writes. */
static bool d_handle(dumper *d, const cryo_handle *h, wbuf *rec) {
    cryo_bytes b = {{0}};
    char why[200] = "";
    bool ok = h->type->ops->dump(h->ptr, &b, why, sizeof why);
    why[sizeof why - 1] = '\0';
    if (ok && b.w.oom) {
        snprintf(why, sizeof why, "out of memory or more than 1 GiB");
        ok = false;
    }
    if (ok) {
        w_u8(rec, O_HANDLE);
        w_str(rec, h->type->name, strlen(h->type->name));
        w_u32(rec, b.w.n);
        w_bytes(rec, b.w.p, b.w.n);
    } else {
        snprintf(d->why, sizeof d->why, "the dump hook of host type '%s' failed%s%s", h->type->name,
                 why[0] ? ": " : "", why);
    }
    free(b.w.p);
    return ok;
}

static bool d_obj(dumper *d, cryo_value v, int depth, uint32_t *index) {
    const cryo_obj *o = v.as.obj;
    if (v.type == CRYO_T_POINTER) return d_fail(d, "a C pointer (%s) never serializes", "FFI");
    if (v.type == CRYO_T_HANDLE && !host_serializes(((const cryo_handle *)o)->type)) {
        const cryo_handle_type *t = ((const cryo_handle *)o)->type;
        return d_fail(d,
                      "a host handle of type '%s' cannot be serialized (its type is not "
                      "sendable or has no dump/load hooks)",
                      t && t->name ? t->name : "?");
    }
    if (v.type == CRYO_T_FN)
        return d_fail(d, "a %s that is not frozen cannot be serialized (use into_sync)", "Fn");
    if (v.type != CRYO_T_STRING && v.type != CRYO_T_ARRAY && v.type != CRYO_T_MAP &&
        v.type != CRYO_T_RANGE && v.type != CRYO_T_SYNCFN && v.type != CRYO_T_HANDLE)
        return d_fail(d, "a value of type %s cannot be serialized", cv_type_name(v));
    uint32_t seen = memo_find(d, o);
    if (seen) {
        *index = seen - 1;
        return true;
    }
    if (depth > IMG_MAX_DEPTH) return d_fail(d, "the value is nested deeper than %s", "2000");
    wbuf rec = {0}; /* this object's record; its children are emitted first */
    bool ok = true;
    switch (v.type) {
    case CRYO_T_STRING:
        w_u8(&rec, O_STRING);
        w_str(&rec, cv_str(v)->data, cv_str(v)->len);
        break;
    case CRYO_T_ARRAY: {
        const cryo_array *a = cv_arr(v);
        w_u8(&rec, O_ARRAY);
        w_u32(&rec, a->len);
        for (uint32_t i = 0; ok && i < a->len; i++)
            ok = d_value(d, a->items[i], depth + 1, &rec);
        break;
    }
    case CRYO_T_MAP: {
        const cryo_map *m = cv_map(v);
        w_u8(&rec, O_MAP);
        w_u32(&rec, m->len);
        for (uint32_t i = 0; ok && i < m->len; i++) {
            w_str(&rec, m->entries[i].key->data, m->entries[i].key->len);
            ok = d_value(d, m->entries[i].value, depth + 1, &rec);
        }
        break;
    }
    case CRYO_T_RANGE: {
        const cryo_range *r = cv_range(v);
        w_u8(&rec, O_RANGE);
        w_u8(&rec, r->h.extra ? 1 : 0);
        w_u64(&rec, (uint64_t)r->start);
        w_u64(&rec, (uint64_t)r->end);
        break;
    }
    case CRYO_T_SYNCFN: {
        const cryo_sync *s = (const cryo_sync *)o;
        const cryo_fn *f = s->fn;
        if (d->unit && d->unit != s->unit) {
            ok = d_fail(d, "the value holds SyncFunctions of more than one unit (%s)",
                        "an image carries one unit");
            break;
        }
        d->unit = s->unit;
        w_u8(&rec, O_SYNCFN);
        w_u8(&rec, f->h.extra == CRYO_FN_NAMED ? 1 : 0);
        w_str(&rec, f->name ? f->name->data : "", f->name ? f->name->len : 0);
        w_u32(&rec, f->proto);
        w_u16(&rec, f->ncurry);
        for (uint16_t i = 0; ok && i < f->ncurry; i++)
            ok = d_value(d, f->curry[i], depth + 1, &rec);
        w_u16(&rec, f->ncaps);
        for (uint16_t i = 0; ok && i < f->ncaps; i++)
            ok = d_value(d, f->caps[i]->v, depth + 1, &rec);
        break;
    }
    case CRYO_T_HANDLE: ok = d_handle(d, (const cryo_handle *)o, &rec); break;
    default: break;
    }
    if (ok && rec.oom) ok = d_fail(d, "%s", "out of memory");
    if (ok) {
        w_bytes(&d->objs, rec.p, rec.n);
        *index = d->nobj++;
        if (!memo_add(d, o, *index + 1)) ok = d_fail(d, "%s", "out of memory");
    }
    free(rec.p);
    return ok;
}

static cryo_error_kind const_image(cryo_const c, unsigned flags, wbuf *out, cryo_error **err) {
    memset(out, 0, sizeof *out);
    dumper d;
    memset(&d, 0, sizeof d);
    wbuf root = {0};
    bool ok = d_value(&d, c.v, 0, &root);
    free(d.keys);
    free(d.vals);
    if (!ok) {
        free(d.objs.p);
        free(root.p);
        bool oom = strcmp(d.why, "out of memory") == 0;
        return set_err(err, oom ? CRYO_ERR_MEMORY : CRYO_ERR_TYPE, "image: cannot serialize: %s",
                       d.why);
    }
    wbuf pl = {0};
    if (!d.unit) {
        w_u8(&pl, UNIT_NONE);
    } else {
        wbuf us = {0};
        char why[200] = "";
        if (!write_unit(&us, d.unit, IMG_VERSION, why, sizeof why) || us.oom) {
            free(us.p);
            free(d.objs.p);
            free(root.p);
            free(pl.p);
            return set_err(err, us.oom ? CRYO_ERR_MEMORY : CRYO_ERR_TYPE, "image: %s",
                           us.oom ? "out of memory" : why);
        }
        bool by_hash = (flags & CRYO_IMAGE_UNIT_BY_HASH) != 0;
        w_u8(&pl, by_hash ? UNIT_BY_HASH : UNIT_EMBEDDED);
        w_u64(&pl, fnv1a(us.p, us.n));
        if (!by_hash) {
            w_u32(&pl, us.n);
            w_bytes(&pl, us.p, us.n);
        }
        free(us.p);
    }
    w_u32(&pl, d.nobj);
    w_bytes(&pl, d.objs.p, d.objs.n);
    w_bytes(&pl, root.p, root.n);
    free(d.objs.p);
    bool oom = d.objs.oom || root.oom || pl.oom;
    free(root.p);
    if (!oom) {
        w_header(out, CRYO_IMAGE_CONST, pl.p, pl.n);
        w_bytes(out, pl.p, pl.n);
        oom = out->oom;
    }
    free(pl.p);
    if (oom) {
        free(out->p);
        out->p = NULL;
        return set_err(err, CRYO_ERR_MEMORY, "image: out of memory");
    }
    return CRYO_OK;
}

CRYO_API cryo_error_kind cryo_const_to_image(cryo_const c, unsigned flags, void *buf, size_t cap,
                                             size_t *size, cryo_error **err) {
    if (err) *err = NULL;
    if (size) *size = 0;
    wbuf w;
    cryo_error_kind k = const_image(c, flags, &w, err);
    if (k == CRYO_OK) k = deliver(&w, buf, cap, size, err);
    free(w.p);
    return k;
}

CRYO_API void *cryo_const_to_image_alloc(cryo_const c, unsigned flags, size_t *size,
                                         cryo_error **err) {
    if (err) *err = NULL;
    if (size) *size = 0;
    wbuf w;
    if (const_image(c, flags, &w, err) != CRYO_OK) return NULL;
    if (size) *size = w.n;
    return w.p;
}

/* --- reading: every read bounded, the first failure kept ---------------------------------- */

typedef struct rbuf {
    const uint8_t *p;
    size_t n, off;
    size_t base; /* offset of p within the whole image, for messages */
    bool bad;
    char why[300];
    unsigned version; /* the image's format version (IMG_V1 or IMG_VERSION) */
} rbuf;

static void r_fail(rbuf *r, const char *fmt, ...) {
    if (r->bad) return;
    r->bad = true;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->why, sizeof r->why, "%s (at byte %zu)", msg, r->base + r->off);
}

static size_t r_left(const rbuf *r) {
    return r->n - r->off;
}

static const uint8_t *r_take(rbuf *r, size_t n, const char *what) {
    if (r->bad) return NULL;
    if (n > r_left(r)) {
        r_fail(r, "truncated image: %s needs %zu bytes, %zu left", what, n, r_left(r));
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint64_t r_le(rbuf *r, int bytes, const char *what) {
    const uint8_t *p = r_take(r, (size_t)bytes, what);
    uint64_t x = 0;
    if (!p) return 0;
    for (int i = 0; i < bytes; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}
#define r_u8(r, w)  ((uint8_t)r_le(r, 1, w))
#define r_u16(r, w) ((uint16_t)r_le(r, 2, w))
#define r_u32(r, w) ((uint32_t)r_le(r, 4, w))
#define r_u64(r, w) r_le(r, 8, w)

/* A count of items each at least `min` bytes long: bounded by the bytes left, so a hostile
 * count never becomes a huge allocation. */
static uint32_t r_count(rbuf *r, size_t min, const char *what) {
    uint32_t n = r_u32(r, what);
    if (!r->bad && (uint64_t)n * min > r_left(r)) {
        r_fail(r, "%s: count %u cannot fit in the %zu bytes left", what, n, r_left(r));
        return 0;
    }
    return n;
}

static bool utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static bool valid_char(uint32_t c) {
    return c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
}

/* A string: malloc'd, NUL-terminated copy in *out (NULL for the "no string" marker when
 * `optional`). */
static bool r_str(rbuf *r, const char *what, bool optional, char **out, uint32_t *lenp) {
    *out = NULL;
    uint32_t len = r_u32(r, what);
    if (r->bad) return false;
    if (len == IMG_NO_STRING && optional) return true;
    if (len > IMG_STR_MAX) {
        r_fail(r, "%s: string of %u bytes is too long", what, len);
        return false;
    }
    const uint8_t *p = r_take(r, len, what);
    if (!p) return false;
    if (!utf8_valid(p, len)) {
        r_fail(r, "%s: not valid UTF-8", what);
        return false;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        r_fail(r, "out of memory");
        return false;
    }
    memcpy(s, p, len);
    s[len] = 0;
    *out = s;
    if (lenp) *lenp = len;
    return true;
}

/* --- reading a unit -------------------------------------------------------------------------- */

/* A proto's local-variable names (version 2): each names a register of the frame over a
 * range of its instructions, so cryo_debug_local reads only inside the frame. */
static void read_locals(rbuf *r, cryo_proto *p) {
    uint32_t n = r_count(r, 13, "local-variable count");
    if (r->bad) return;
    p->locals = calloc(n ? n : 1, sizeof *p->locals);
    if (!p->locals) {
        r_fail(r, "out of memory");
        return;
    }
    for (uint32_t i = 0; !r->bad && i < n; i++) {
        cryo_localinfo *l = &p->locals[i];
        if (!r_str(r, "local-variable name", false, &l->name, NULL)) break;
        p->nlocals = i + 1; /* the name is owned from here: freed with the proto */
        l->start = r_u32(r, "local variable");
        l->end = r_u32(r, "local variable");
        l->reg = r_u8(r, "local variable");
        if (!r->bad && (l->start > l->end || l->end > p->ncode || l->reg >= p->nregs))
            r_fail(r, "local variable '%s' (register %u, code %u..%u) outside its proto", l->name,
                   l->reg, l->start, l->end);
    }
}

static cryo_unit *read_unit(rbuf *r) {
    uint32_t nprotos = r_count(r, 22, "proto count");
    uint32_t nfns = r_u32(r, "fn count");
    uint32_t nhosts = r_u32(r, "host slot count");
    uint32_t nglobals = r_u32(r, "global count");
    if (r->bad) return NULL;
    if ((uint64_t)nfns * 12 + (uint64_t)nhosts * 8 > r_left(r) || nprotos > 0xFFFF ||
        nhosts > 0xFFFF || nglobals > CRYO_MAX_REGS) {
        r_fail(r, "unit counts (protos %u, fns %u, hosts %u, globals %u) out of bounds", nprotos,
               nfns, nhosts, nglobals);
        return NULL;
    }
    cryo_unit *u = calloc(1, sizeof *u);
    if (!u) {
        r_fail(r, "out of memory");
        return NULL;
    }
    atomic_init(&u->refcount, 1);
    u->nglobals = nglobals;
    u->protos = calloc(nprotos ? nprotos : 1, sizeof *u->protos);
    u->fns = calloc(nfns ? nfns : 1, sizeof *u->fns);
    u->hosts = calloc(nhosts ? nhosts : 1, sizeof *u->hosts);
    if (!u->protos || !u->fns || !u->hosts) {
        r_fail(r, "out of memory");
        goto fail;
    }
    u->nprotos = nprotos;
    u->nfns = nfns;
    u->nhosts = nhosts;
    r_str(r, "source name", true, &u->source_name, NULL);
    for (uint32_t pi = 0; !r->bad && pi < nprotos; pi++) {
        cryo_proto *p = calloc(1, sizeof *p);
        if (!p) {
            r_fail(r, "out of memory");
            break;
        }
        u->protos[pi] = p;
        p->unit = u;
        uint32_t nlen = 0;
        if (!r_str(r, "proto name", false, &p->name, &nlen)) break;
        p->sname = cv_string_new_shared(p->name, nlen);
        p->nparams = r_u8(r, "proto header");
        p->nregs = r_u8(r, "proto header");
        p->is_closure = r_u8(r, "proto header");
        p->uses_this = r_u8(r, "proto header");
        p->line = (int32_t)r_u32(r, "proto header");
        uint16_t ncaps = r_u16(r, "capture count");
        uint32_t ncode = r_count(r, 12, "instruction count");
        if (r->bad) break;
        if (p->is_closure > 1 || p->uses_this > 1) {
            r_fail(r, "proto %u: flags out of range", pi);
            break;
        }
        p->code = malloc((size_t)(ncode ? ncode : 1) * sizeof *p->code);
        p->lines = malloc((size_t)(ncode ? ncode : 1) * sizeof *p->lines);
        if (!p->code || !p->lines || !p->sname) {
            r_fail(r, "out of memory");
            break;
        }
        p->ncode = ncode;
        uint32_t nk = r_count(r, 1, "constant count");
        if (r->bad) break;
        for (uint32_t i = 0; i < ncode; i++)
            p->code[i] = r_u32(r, "code");
        for (uint32_t i = 0; i < ncode; i++) {
            p->lines[i].line = (int32_t)r_u32(r, "line table");
            p->lines[i].column = (int32_t)r_u32(r, "line table");
        }
        p->k = calloc(nk ? nk : 1, sizeof *p->k);
        if (!p->k) {
            r_fail(r, "out of memory");
            break;
        }
        p->nk = nk;
        for (uint32_t i = 0; !r->bad && i < nk; i++) {
            uint8_t tag = r_u8(r, "constant");
            switch (tag) {
            case K_UNIT: p->k[i] = cryo_unit_value(); break;
            case K_BOOL: p->k[i] = cryo_bool(r_u8(r, "constant") != 0); break;
            case K_INT: p->k[i] = cryo_int((int64_t)r_u64(r, "constant")); break;
            case K_FLOAT: {
                uint64_t bits = r_u64(r, "constant");
                double f;
                memcpy(&f, &bits, sizeof f);
                p->k[i] = cryo_float(f);
                break;
            }
            case K_CHAR: {
                uint32_t c = r_u32(r, "constant");
                if (!r->bad && !valid_char(c)) r_fail(r, "constant %u: invalid char U+%X", i, c);
                p->k[i] = cryo_char(c);
                break;
            }
            case K_STRING: {
                char *s;
                uint32_t len = 0;
                if (!r_str(r, "string constant", false, &s, &len)) break;
                cryo_string *str = cv_string_new_shared(s, len);
                free(s);
                if (!str) {
                    r_fail(r, "out of memory");
                    break;
                }
                p->k[i] = cv_from_shared(&str->h);
                break;
            }
            default: r_fail(r, "proto %u: constant %u has unknown tag %u", pi, i, tag); break;
            }
        }
        if (r->bad) break;
        if ((uint64_t)ncaps * 16 > r_left(r)) {
            r_fail(r, "capture count %u cannot fit", ncaps);
            break;
        }
        p->caps = calloc(ncaps ? ncaps : 1, sizeof *p->caps);
        if (!p->caps) {
            r_fail(r, "out of memory");
            break;
        }
        p->ncaps = ncaps;
        for (uint16_t i = 0; !r->bad && i < ncaps; i++) {
            cryo_capdesc *cd = &p->caps[i];
            cd->from_parent_local = r_u8(r, "capture descriptor");
            cd->assigned = r_u8(r, "capture descriptor");
            cd->index = r_u16(r, "capture descriptor");
            cd->line = (int32_t)r_u32(r, "capture descriptor");
            cd->column = (int32_t)r_u32(r, "capture descriptor");
            r_str(r, "capture name", true, &cd->name, NULL);
        }
        if (r->version >= 2) read_locals(r, p);
    }
    for (uint32_t i = 0; !r->bad && i < nfns; i++) {
        r_str(r, "fn name", false, &u->fns[i].name, NULL);
        u->fns[i].arity = r_u32(r, "fn arity");
        u->fns[i].proto = r_u32(r, "fn proto");
    }
    for (uint32_t i = 0; !r->bad && i < nhosts; i++) {
        r_str(r, "host slot name", false, &u->hosts[i].name, NULL);
        u->hosts[i].arity = r_u32(r, "host slot arity");
    }
    if (r->bad) goto fail;
    char why[300];
    if (!cfz_verify_unit(u, why, sizeof why)) {
        snprintf(r->why, sizeof r->why, "%s", why);
        r->bad = true;
        goto fail;
    }
    return u;
fail: /* cl_unit_destroy copes with what is only partly read (NULLs, zeroed constants) */
    cl_unit_destroy(u);
    return NULL;
}

/* Checks the header; r then covers the payload. */
static bool read_header(const void *data, size_t len, int want, rbuf *r, uint64_t *hash) {
    memset(r, 0, sizeof *r);
    r->p = data;
    r->n = data ? len : 0;
    const uint8_t *h = r_take(r, IMG_HEADER, "the header");
    if (!h) return false;
    if (memcmp(h, "CRYO", 4) != 0) {
        snprintf(r->why, sizeof r->why, "not a cryo image (no \"CRYO\" magic)");
        r->bad = true;
        return false;
    }
    unsigned version = (unsigned)h[4] | (unsigned)h[5] << 8;
    if (version != IMG_VERSION && version != IMG_V1) {
        snprintf(r->why, sizeof r->why,
                 "image format version %u; this cryo reads versions %u and %u", version, IMG_V1,
                 IMG_VERSION);
        r->bad = true;
        return false;
    }
    if (h[6] != want || h[7] != 0) {
        snprintf(r->why, sizeof r->why, "image of kind %u, expected %s", h[6],
                 want == CRYO_IMAGE_UNIT ? "a unit image (1)" : "a value image (2)");
        r->bad = true;
        return false;
    }
    uint64_t hv = 0;
    for (int i = 0; i < 8; i++)
        hv |= (uint64_t)h[8 + i] << (8 * i);
    uint32_t n =
        (uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16 | (uint32_t)h[19] << 24;
    if (n != r_left(r)) {
        snprintf(r->why, sizeof r->why, "image payload is %zu bytes, the header says %u%s",
                 r_left(r), n, n > r_left(r) ? " (truncated)" : "");
        r->bad = true;
        return false;
    }
    if (fnv1a(r->p + r->off, n) != hv) {
        snprintf(r->why, sizeof r->why, "image content hash mismatch (corrupted)");
        r->bad = true;
        return false;
    }
    r->p += r->off;
    r->base = r->off;
    r->n = n;
    r->off = 0;
    r->version = version;
    if (hash) *hash = hv;
    return true;
}

CRYO_API int cryo_image_kind(const void *data, size_t len) {
    const uint8_t *p = data;
    if (!p || len < IMG_HEADER || memcmp(p, "CRYO", 4) != 0) return 0;
    return p[6] == CRYO_IMAGE_UNIT || p[6] == CRYO_IMAGE_CONST ? p[6] : 0;
}

CRYO_API cryo_unit *cryo_unit_from_image(const void *data, size_t len, cryo_error **err) {
    if (err) *err = NULL;
    rbuf r;
    cryo_unit *u = NULL;
    if (read_header(data, len, CRYO_IMAGE_UNIT, &r, NULL)) {
        u = read_unit(&r);
        if (u && r_left(&r)) {
            r_fail(&r, "%zu bytes past the end of the unit", r_left(&r));
            cryo_unit_release(u);
            u = NULL;
        }
    }
    if (!u) set_err(err, CRYO_ERR_ARGUMENT, "image: %s", r.why[0] ? r.why : "out of memory");
    return u;
}

/* --- reading a ConstValue ------------------------------------------------------------------ */

typedef struct loader {
    rbuf *r;
    cryo_obj **objs;
    uint32_t nobj, loaded;
    cryo_unit *unit;
    cryo_context *ctx;
    /* Nesting: code that walks values (printing, equality, thawing) may recurse, and a chain
     * of N arrays costs only ~10N bytes of image; so loaded graphs are held to the depth the
     * dumper allows. depth[i] is object i's; child_depth the deepest reference read so far
     * in the object being read (objects do not nest in the byte stream). */
    uint16_t *depth;
    unsigned child_depth;
    cryo_context *types; /* where host types are looked up: ctx, or the standard context */
} loader;

static void frozen_mark(cryo_obj *o) {
    o->flags = (uint8_t)(o->flags | CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN);
    o->rc = 1;
}

/* A value whose reference (for objects: one more, atomic) the caller owns. */
static cryo_value l_value(loader *l) {
    rbuf *r = l->r;
    uint8_t tag = r_u8(r, "value");
    switch (tag) {
    case V_UNIT: return cryo_unit_value();
    case V_BOOL: {
        uint8_t b = r_u8(r, "bool");
        if (b > 1) r_fail(r, "bool value %u", b);
        return cryo_bool(b != 0);
    }
    case V_INT: return cryo_int((int64_t)r_u64(r, "int"));
    case V_FLOAT: {
        uint64_t bits = r_u64(r, "float");
        double f;
        memcpy(&f, &bits, sizeof f);
        return cryo_float(f);
    }
    case V_CHAR: {
        uint32_t c = r_u32(r, "char");
        if (!r->bad && !valid_char(c)) r_fail(r, "invalid char U+%X", c);
        return cryo_char(c);
    }
    case V_REF: {
        uint32_t ix = r_u32(r, "object reference");
        if (r->bad) return cryo_unit_value();
        if (ix >= l->loaded) {
            r_fail(r, "reference to object %u before it is defined (%u so far)", ix, l->loaded);
            return cryo_unit_value();
        }
        if (l->depth[ix] > l->child_depth) l->child_depth = l->depth[ix];
        cfz_retain(l->objs[ix]);
        return cv_from_shared(l->objs[ix]);
    }
    default:
        if (!r->bad) r_fail(r, "unknown value tag %u", tag);
        return cryo_unit_value();
    }
}

static void drop(cryo_value v) {
    if (cv_is_heap(v)) cfz_release(v.as.obj);
}

static cryo_obj *l_sync(loader *l) {
    rbuf *r = l->r;
    uint8_t named = r_u8(r, "SyncFunction kind");
    char *name = NULL;
    uint32_t nlen = 0;
    if (!r_str(r, "SyncFunction name", false, &name, &nlen)) return NULL;
    uint32_t pi = r_u32(r, "SyncFunction proto");
    uint16_t ncurry = r_u16(r, "curried argument count");
    if (r->bad) {
        free(name);
        return NULL;
    }
    if (!l->unit || named > 1 || (named ? pi != 0 : pi >= l->unit->nprotos)) {
        r_fail(r, "SyncFunction '%s' (proto %u) names no function of the image's unit", name, pi);
        free(name);
        return NULL;
    }
    const cryo_proto *p = named ? NULL : l->unit->protos[pi];
    if ((uint64_t)ncurry > r_left(r) || (p && ncurry > p->nparams)) {
        free(name);
        r_fail(r, "SyncFunction: %u curried arguments", ncurry);
        return NULL;
    }
    cryo_value *curry = calloc(ncurry ? ncurry : 1, sizeof *curry);
    if (!curry) {
        free(name);
        r_fail(r, "out of memory");
        return NULL;
    }
    for (uint16_t i = 0; !r->bad && i < ncurry; i++)
        curry[i] = l_value(l);
    uint16_t ncaps = r_u16(r, "capture count");
    bool bad_caps = !r->bad && (p ? ncaps != p->ncaps : ncaps != 0);
    if (bad_caps)
        r_fail(r, "SyncFunction: %u captures, its proto has %u", ncaps,
               p ? (unsigned)p->ncaps : 0u);
    cryo_fn *sf = NULL;
    cryo_sync *s = NULL;
    if (!r->bad) {
        sf = calloc(1, sizeof(cryo_fn) + (size_t)ncaps * sizeof(cryo_cell *));
        s = calloc(1, sizeof *s);
        cryo_const nm = cryo_const_string(name, nlen);
        if (!sf || !s || nm.v.type != CRYO_T_STRING) {
            free(sf);
            free(s);
            cryo_const_release(nm);
            sf = NULL;
            s = NULL;
            r_fail(r, "out of memory");
        } else {
            sf->name = cv_str(nm.v);
        }
    }
    free(name);
    if (!s) {
        for (uint16_t i = 0; i < ncurry; i++)
            drop(curry[i]);
        free(curry);
        return NULL;
    }
    sf->h.type = CRYO_T_FN;
    sf->h.extra = named ? CRYO_FN_NAMED : CRYO_FN_SCRIPT;
    frozen_mark(&sf->h);
    sf->proto = pi;
    sf->ncurry = ncurry;
    sf->curry = curry;
    if (!named) sf->unit = cryo_unit_retain(l->unit);
    s->h.type = CRYO_T_SYNCFN;
    frozen_mark(&s->h);
    s->fn = sf;
    s->unit = cryo_unit_retain(l->unit);
    s->ctx = l->ctx ? cryo_context_retain(l->ctx) : NULL;
    s->proto = p;
    s->arity = p ? (int)p->nparams - (int)ncurry : -1;
    s->hot_argc = p && ncurry == 0 ? (int)p->nparams : -1;
    for (uint16_t i = 0; !r->bad && i < ncaps; i++) {
        cryo_cell *c = calloc(1, sizeof *c);
        if (!c) {
            r_fail(r, "out of memory");
            break;
        }
        c->h.type = CRYO_T_CELL;
        frozen_mark(&c->h);
        sf->caps[i] = c;
        sf->ncaps = (uint16_t)(i + 1);
        c->v = l_value(l);
    }
    if (r->bad) {
        cfz_release(&s->h);
        return NULL;
    }
    return &s->h;
}

/* A host handle: the type's name is looked up in the loading context, and its load hook gets
 * exactly the record's bytes; what it says is the hook's to check (the bytes are hostile). */
static cryo_obj *l_handle(loader *l) {
    rbuf *r = l->r;
    char *name = NULL;
    if (!r_str(r, "host type name", false, &name, NULL)) return NULL;
    uint32_t n = r_count(r, 1, "host handle bytes");
    const uint8_t *bytes = r->bad ? NULL : r_take(r, n, "host handle bytes");
    if (!bytes) {
        free(name);
        return NULL;
    }
    const cryo_handle_type *t = cvm_context_find_type(l->types, name);
    char why[200] = "";
    void *ptr = NULL;
    if (!t)
        r_fail(r,
               "host type '%s' is not registered in the loading context "
               "(cryo_package_add_type)",
               name);
    else if (!host_serializes(t))
        r_fail(r, "host type '%s' of the loading context is not sendable or has no load hook",
               name);
    else if (!(ptr = t->ops->load(n ? bytes : (const uint8_t *)"", n, why, sizeof why))) {
        why[sizeof why - 1] = '\0';
        r_fail(r, "the load hook of host type '%s' failed%s%s", name, why[0] ? ": " : "", why);
    }
    free(name);
    if (!ptr) return NULL;
    cryo_handle *h = calloc(1, sizeof *h);
    if (!h) {
        t->release(ptr);
        r_fail(r, "out of memory");
        return NULL;
    }
    h->h.type = CRYO_T_HANDLE;
    frozen_mark(&h->h);
    h->type = t;
    h->ptr = ptr;
    return &h->h;
}

static cryo_obj *l_object(loader *l) {
    rbuf *r = l->r;
    uint8_t tag = r_u8(r, "object");
    switch (tag) {
    case O_STRING: {
        char *s;
        uint32_t len = 0;
        if (!r_str(r, "string", false, &s, &len)) return NULL;
        cryo_string *str = cv_string_new(NULL, s, len);
        free(s);
        if (!str) {
            r_fail(r, "out of memory");
            return NULL;
        }
        frozen_mark(&str->h);
        return &str->h;
    }
    case O_ARRAY: {
        uint32_t n = r_count(r, 1, "array length");
        if (r->bad) return NULL;
        cryo_array *a = cv_array_new(NULL, n);
        if (!a) {
            r_fail(r, "out of memory");
            return NULL;
        }
        frozen_mark(&a->h);
        for (uint32_t i = 0; !r->bad && i < n; i++) {
            a->items[i] = l_value(l);
            a->len = i + 1;
        }
        if (r->bad) {
            cfz_release(&a->h);
            return NULL;
        }
        return &a->h;
    }
    case O_MAP: {
        uint32_t n = r_count(r, 5, "map size");
        if (r->bad) return NULL;
        cryo_map *m = cv_map_new(NULL, n);
        if (!m) {
            r_fail(r, "out of memory");
            return NULL;
        }
        frozen_mark(&m->h);
        for (uint32_t i = 0; !r->bad && i < n; i++) {
            char *k;
            uint32_t klen = 0;
            if (!r_str(r, "map key", false, &k, &klen)) break;
            cryo_string *ks = cv_string_new(NULL, k, klen);
            free(k);
            if (!ks) {
                r_fail(r, "out of memory");
                break;
            }
            frozen_mark(&ks->h);
            if (i > 0) { /* lookups are binary searches: keys strictly ascending */
                const cryo_string *pk = m->entries[i - 1].key;
                size_t mn = pk->len < ks->len ? pk->len : ks->len;
                int cmp = memcmp(pk->data, ks->data, mn);
                if (cmp > 0 || (cmp == 0 && pk->len >= ks->len)) {
                    cfz_release(&ks->h);
                    r_fail(r, "map keys are not in strictly ascending order");
                    break;
                }
            }
            m->entries[i].key = ks;
            m->entries[i].value = cryo_unit_value();
            m->len = i + 1;
            m->entries[i].value = l_value(l);
        }
        if (r->bad) {
            cfz_release(&m->h);
            return NULL;
        }
        return &m->h;
    }
    case O_RANGE: {
        uint8_t incl = r_u8(r, "range");
        int64_t a = (int64_t)r_u64(r, "range"), b = (int64_t)r_u64(r, "range");
        if (r->bad) return NULL;
        if (incl > 1) {
            r_fail(r, "range flag %u", incl);
            return NULL;
        }
        cryo_range *rg = cv_range_new(NULL, a, b, incl != 0);
        if (!rg) {
            r_fail(r, "out of memory");
            return NULL;
        }
        frozen_mark(&rg->h);
        return &rg->h;
    }
    case O_SYNCFN: return l_sync(l);
    case O_HANDLE:
        if (r->version >= 2) return l_handle(l);
        r_fail(r, "unknown object tag %u (version 1 images have no host handles)", tag);
        return NULL;
    default:
        if (!r->bad) r_fail(r, "unknown object tag %u", tag);
        return NULL;
    }
}

CRYO_API cryo_error_kind cryo_const_from_image(const void *data, size_t len,
                                               const cryo_image_load_options *opts, cryo_const *out,
                                               cryo_error **err) {
    if (err) *err = NULL;
    if (!out) return set_err(err, CRYO_ERR_API, "cryo_const_from_image: NULL out");
    *out = cryo_const_unit();
    rbuf r;
    loader l = {&r, NULL, 0, 0, NULL, opts ? opts->context : NULL, NULL, 0, NULL};
    l.types = l.ctx ? l.ctx : cryo_context_std();
    if (!read_header(data, len, CRYO_IMAGE_CONST, &r, NULL)) goto done;
    uint8_t mode = r_u8(&r, "unit mode");
    if (mode == UNIT_EMBEDDED || mode == UNIT_BY_HASH) {
        uint64_t want = r_u64(&r, "unit hash");
        if (mode == UNIT_EMBEDDED) {
            uint32_t ulen = r_count(&r, 1, "unit section length");
            if (r.bad) goto done;
            size_t start = r.off;
            if (fnv1a(r.p + start, ulen) != want) {
                r_fail(&r, "the embedded unit does not match its hash");
                goto done;
            }
            rbuf ur = {r.p + start, ulen, 0, r.base + start, false, "", r.version};
            l.unit = read_unit(&ur);
            if (!l.unit || r_left(&ur)) {
                if (l.unit) r_fail(&ur, "%zu bytes past the end of the unit", r_left(&ur));
                snprintf(r.why, sizeof r.why, "%s", ur.why);
                r.bad = true;
                goto done;
            }
            r.off += ulen;
        } else {
            if (!r.bad && (!opts || !opts->resolve)) {
                r_fail(&r, "the image refers to unit %016llx by hash and no resolver was given",
                       (unsigned long long)want);
                goto done;
            }
            if (r.bad) goto done;
            l.unit = opts->resolve(opts->userdata, want);
            if (!l.unit) {
                r_fail(&r, "the resolver found no unit %016llx", (unsigned long long)want);
                goto done;
            }
            if (unit_hash_v(l.unit, r.version) != want) {
                r_fail(&r, "the resolver's unit does not have hash %016llx",
                       (unsigned long long)want);
                goto done;
            }
        }
    } else if (mode != UNIT_NONE) {
        r_fail(&r, "unknown unit mode %u", mode);
        goto done;
    }
    l.nobj = r_count(&r, 2, "object count");
    if (r.bad) goto done;
    l.objs = calloc(l.nobj ? l.nobj : 1, sizeof *l.objs);
    if (!l.objs) {
        r_fail(&r, "out of memory");
        goto done;
    }
    l.depth = calloc(l.nobj ? l.nobj : 1, sizeof *l.depth);
    if (!l.depth) {
        r_fail(&r, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; !r.bad && i < l.nobj; i++) {
        l.child_depth = 0;
        l.objs[i] = l_object(&l);
        if (l.objs[i]) l.loaded = i + 1;
        if (l.objs[i] && l.child_depth > IMG_MAX_DEPTH) /* the dumper's bound, root at 0 */
            r_fail(&r, "object %u is nested deeper than %d", i, IMG_MAX_DEPTH);
        else
            l.depth[i] = (uint16_t)(l.child_depth + 1);
    }
    if (r.bad) goto done;
    cryo_value root = l_value(&l);
    if (!r.bad && r_left(&r)) r_fail(&r, "%zu bytes past the end of the value", r_left(&r));
    if (r.bad)
        drop(root);
    else
        out->v = root;
done:
    for (uint32_t i = 0; i < l.loaded; i++)
        cfz_release(l.objs[i]);
    free(l.objs);
    free(l.depth);
    if (l.unit) cryo_unit_release(l.unit);
    if (r.bad) return set_err(err, CRYO_ERR_ARGUMENT, "image: %s", r.why);
    return CRYO_OK;
}
