/*
 * string.c — UTF-8 strings indexed by character, and the text forms of values (to_string,
 * print and debug).
 */
#include "value.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define STR_MAX_BYTES 0xFFFFFFF0u

static uint32_t count_chars(const char *p, size_t len) {
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)p[i] & 0xC0) != 0x80;
    return n;
}

static cryo_string *string_alloc(cryo_heap *h, size_t cap, uint8_t flags) {
    if (cap > STR_MAX_BYTES) return NULL;
    cryo_string *s = cv_alloc(h, sizeof *s);
    if (!s) return NULL;
    s->data = cv_alloc(h, cap);
    if (!s->data) {
        cv_free(h, s, sizeof *s);
        return NULL;
    }
    s->h.rc = 1;
    s->h.type = CRYO_T_STRING;
    s->h.flags = flags;
    s->h.extra = 0;
    s->len = 0;
    s->cap = (uint32_t)cap;
    s->nchars = 0;
    s->hash = 0;
    s->data[0] = '\0';
    return s;
}

cryo_string *cv_string_new(cryo_heap *h, const char *p, size_t len) {
    if (len >= STR_MAX_BYTES) return NULL;
    cryo_string *s = string_alloc(h, len + 1, 0);
    if (!s) return NULL;
    if (len) memcpy(s->data, p, len);
    s->data[len] = '\0';
    s->len = (uint32_t)len;
    s->nchars = count_chars(p, len);
    return s;
}

cryo_string *cv_string_new_cap(cryo_heap *h, size_t cap) {
    if (cap >= STR_MAX_BYTES) return NULL;
    return string_alloc(h, cap + 1, 0);
}

cryo_string *cv_string_new_shared(const char *p, size_t len) {
    /* Short constants (property names, keys) are interned: a map key made from one is the
     * constant itself, and GETFIELD finds it by pointer. */
    cryo_string *s = len <= CV_INTERN_MAX ? cv_intern(p, len) : NULL;
    if (s) return s;
    s = cv_string_new(NULL, p, len);
    if (s) s->h.flags |= CRYO_OBJ_SHARED;
    return s;
}

void cv_string_free_shared(cryo_string *s) {
    if (!s) return;
    if (cv_is_interned(s)) return; /* the table's, until exit */
    free(s->data);
    free(s);
}

static bool string_grow(cryo_heap *h, cryo_string *s, size_t need) {
    if (need <= s->cap) return true;
    if (need > STR_MAX_BYTES) return false;
    size_t ncap = (size_t)s->cap * 2;
    if (ncap < need) ncap = need;
    if (ncap < 16) ncap = 16;
    if (ncap > STR_MAX_BYTES) ncap = STR_MAX_BYTES;
    char *d = cv_realloc(h, s->data, s->cap, ncap);
    if (!d) return false;
    s->data = d;
    s->cap = (uint32_t)ncap;
    return true;
}

bool cv_string_append(cryo_heap *h, cryo_string **sp, const char *p, size_t len) {
    cryo_string *s = *sp;
    if (len == 0) return true;
    if (len >= STR_MAX_BYTES || !string_grow(h, s, (size_t)s->len + len + 1)) return false;
    memmove(s->data + s->len, p, len);
    s->len += (uint32_t)len;
    s->data[s->len] = '\0';
    s->nchars += count_chars(p, len);
    s->hash = 0;
    return true;
}

bool cv_string_append_char(cryo_heap *h, cryo_string **sp, uint32_t c) {
    char buf[4];
    size_t n = cv_char_utf8(c, buf);
    return cv_string_append(h, sp, buf, n);
}

uint32_t cv_string_hash(cryo_string *s) {
    if (s->hash) return s->hash;
    uint32_t x = 2166136261u;
    for (uint32_t i = 0; i < s->len; i++) {
        x ^= (unsigned char)s->data[i];
        x *= 16777619u;
    }
    if (x == 0) x = 1;
    if (!(s->h.flags & CRYO_OBJ_SHARED)) s->hash = x;
    return x;
}

size_t cv_string_offset(const cryo_string *s, int64_t ci) {
    if (ci <= 0) return 0;
    if (ci >= (int64_t)s->nchars) return s->len;
    if (s->nchars == s->len) return (size_t)ci;
    const unsigned char *d = (const unsigned char *)s->data;
    if ((uint64_t)ci <= s->nchars / 2) {
        size_t off = 0;
        int64_t seen = -1;
        for (; off < s->len; off++) {
            if ((d[off] & 0xC0) != 0x80 && ++seen == ci) return off;
        }
        return s->len;
    }
    /* Nearer the end: walk backwards. */
    int64_t back = (int64_t)s->nchars - ci;
    size_t off = s->len;
    while (off > 0 && back > 0) {
        off--;
        if ((d[off] & 0xC0) != 0x80) back--;
    }
    return off;
}

/* Decodes the (valid) UTF-8 sequence at p; stores its length in *n. */
static uint32_t decode_at(const unsigned char *p, size_t *n) {
    uint32_t c = p[0];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    if (c < 0xE0) {
        *n = 2;
        return ((c & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (c < 0xF0) {
        *n = 3;
        return ((c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *n = 4;
    return ((c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
           (p[3] & 0x3F);
}

uint32_t cv_string_char_at(const cryo_string *s, int64_t ci) {
    if (ci < 0 || ci >= (int64_t)s->nchars) return 0;
    if (s->nchars == s->len) return (unsigned char)s->data[ci];
    size_t n;
    return decode_at((const unsigned char *)s->data + cv_string_offset(s, ci), &n);
}

void cv_string_range(const cryo_string *s, int64_t start, int64_t end, bool inclusive,
                     int64_t *from, int64_t *to) {
    int64_t len = s->nchars;
    int64_t a = start < 0 ? (start < -len ? 0 : len + start) : (start > len ? len : start);
    int64_t b = end < 0 ? (end < -len ? 0 : len + end) : (end > len ? len : end);
    int64_t take;
    if (inclusive) {
        /* As Rhai: an inclusive range whose end does not pass its start is empty. */
        take = b > a ? b - a + 1 : 0;
    } else {
        take = b > a ? b - a : 0;
    }
    if (take > len - a) take = len - a;
    *from = a;
    *to = a + take;
}

/* --- the public constructor: validates UTF-8 ----------------------------------------------- */

/* Length of a valid UTF-8 sequence at p (at most `left` bytes), or 0 if invalid. */
static size_t valid_seq(const unsigned char *p, size_t left) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (left < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
    }
    size_t k;
    uint32_t cp = decode_at(p, &k);
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

cryo_value cryo_value_string(const char *p, size_t len) {
    if (!p && len) return cryo_unit_value();
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        size_t n = valid_seq(u + i, len - i);
        if (!n) break;
        i += n;
    }
    struct cryo_string_s *s;
    if (i == len) {
        s = cv_string_new(NULL, p, len);
    } else {
        s = cv_string_new_cap(NULL, len + 8);
        for (i = 0; s && i < len;) {
            size_t n = valid_seq(u + i, len - i);
            bool ok =
                n ? cv_string_append(NULL, &s, p + i, n) : cv_string_append_char(NULL, &s, 0xFFFD);
            i += n ? n : 1;
            if (!ok) {
                cv_free_obj(NULL, &s->h);
                s = NULL;
            }
        }
    }
    return s ? cv_from_obj(&s->h) : cryo_unit_value();
}
#define cryo_string struct cryo_string_s

/* --- text forms ----------------------------------------------------------------------------- */

/* Shortest decimal digits that read back as f (f finite, non-zero). */
static int shortest_digits(double f, char *digits, int *exp10) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f || prec == 17) break;
    }
    const char *p = buf;
    if (*p == '-') p++;
    int n = 0;
    for (; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9') digits[n++] = *p;
    }
    *exp10 = *p == 'e' ? atoi(p + 1) : 0;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    return n;
}

/* f (finite, non-zero) in shortest round-trip digits, in scientific form ("1.5e-14") or
 * positional form with at least one fractional digit ("100.0"). */
static size_t format_finite(double f, char *buf, bool scientific) {
    char d[24];
    int e;
    int n = shortest_digits(f, d, &e);
    char *o = buf;
    if (f < 0) *o++ = '-';
    if (scientific) {
        *o++ = d[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)n - 1);
            o += n - 1;
        }
        o += sprintf(o, "e%d", e);
    } else if (e >= 0) {
        for (int i = 0; i <= e; i++)
            *o++ = i < n ? d[i] : '0';
        *o++ = '.';
        if (n > e + 1) {
            memcpy(o, d + e + 1, (size_t)(n - e - 1));
            o += n - e - 1;
        } else {
            *o++ = '0';
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e - 1; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)n);
        o += n;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/* Rhai's Display of a float: scientific outside [1e-13, 1e13], zero as "0.0". */
size_t cv_float_repr(double f, char *buf) {
    if (isnan(f)) return (size_t)sprintf(buf, "NaN");
    if (isinf(f)) return (size_t)sprintf(buf, f < 0 ? "-inf" : "inf");
    if (f == 0.0) return (size_t)sprintf(buf, "0.0");
    double a = fabs(f);
    return format_finite(f, buf, a > 1e13 || a < 1e-13);
}

/* Rust's Debug of an f64 (what Rhai shows for floats inside arrays, maps and debug()):
 * scientific below 1e-4 and from 1e16 on. */
size_t cv_float_repr_debug(double f, char *buf) {
    if (isnan(f)) return (size_t)sprintf(buf, "NaN");
    if (isinf(f)) return (size_t)sprintf(buf, f < 0 ? "-inf" : "inf");
    if (f == 0.0) return (size_t)sprintf(buf, signbit(f) ? "-0.0" : "0.0");
    double a = fabs(f);
    return format_finite(f, buf, a < 1e-4 || a >= 1e16);
}

static bool put(cryo_heap *h, cryo_string **s, const char *p) {
    return cv_string_append(h, s, p, strlen(p));
}

/* Rust's escape_debug for one character inside quotes `q`. */
static bool put_escaped_char(cryo_heap *h, cryo_string **s, uint32_t c, char q) {
    char buf[16];
    switch (c) {
    case '\n': return put(h, s, "\\n");
    case '\r': return put(h, s, "\\r");
    case '\t': return put(h, s, "\\t");
    case '\\': return put(h, s, "\\\\");
    case '\0': return put(h, s, "\\0");
    default: break;
    }
    if (c == (uint32_t)q) {
        buf[0] = '\\';
        buf[1] = q;
        buf[2] = '\0';
        return put(h, s, buf);
    }
    if (c < 0x20 || (c >= 0x7F && c < 0xA0)) {
        snprintf(buf, sizeof buf, "\\u{%" PRIx32 "}", c);
        return put(h, s, buf);
    }
    return cv_string_append_char(h, s, c);
}

static bool put_quoted(cryo_heap *h, cryo_string **s, const char *p, size_t len) {
    if (!cv_string_append(h, s, "\"", 1)) return false;
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && u[run] >= 0x20 && u[run] < 0x7F && u[run] != '"' && u[run] != '\\') {
            run++;
        }
        if (run > i && !cv_string_append(h, s, p + i, run - i)) return false;
        i = run;
        if (i >= len) break;
        size_t n;
        uint32_t c = decode_at(u + i, &n);
        if (!put_escaped_char(h, s, c, '"')) return false;
        i += n;
    }
    return cv_string_append(h, s, "\"", 1);
}

#define REPR_MAX_DEPTH 256
#define REPR_BATCH     64 /* elements printed per operation charge */

/* One printing walk: where the text goes and what bounds it. A value reachable by many paths
 * prints once per path (that is its text), so the walk charges one operation per element
 * (vm; NULL = none) and stops once the text passes max_len bytes (0 = no bound). */
typedef struct repr_walk {
    cryo_heap *h;
    cryo_vm *vm;
    size_t max_len;
    unsigned pending;
    cryo_error_kind err; /* the charge's error; CRYO_ERR_DATA_TOO_LARGE past max_len */
} repr_walk;

static bool repr(repr_walk *w, cryo_string **s, cryo_value v, bool debug, int depth);

/* Counts one element; false when the walk must stop. */
static bool repr_tick(repr_walk *w, const cryo_string *s) {
    if (w->max_len && s->len > w->max_len) {
        w->err = CRYO_ERR_DATA_TOO_LARGE;
        return false;
    }
    if (++w->pending < REPR_BATCH) return true;
    w->pending = 0;
    w->err = cvm_charge(w->vm, REPR_BATCH);
    return w->err == CRYO_OK;
}

static bool repr_array(repr_walk *w, cryo_string **s, const cryo_array *a, int depth) {
    cryo_heap *h = w->h;
    if (depth > REPR_MAX_DEPTH) return put(h, s, "[...]");
    if (!put(h, s, "[")) return false;
    for (uint32_t i = 0; i < a->len; i++) {
        if (!repr_tick(w, *s)) return false;
        if (i && !put(h, s, ", ")) return false;
        if (!repr(w, s, a->items[i], true, depth + 1)) return false;
    }
    return put(h, s, "]");
}

static bool repr_map(repr_walk *w, cryo_string **s, const cryo_map *m, int depth) {
    cryo_heap *h = w->h;
    if (depth > REPR_MAX_DEPTH) return put(h, s, "#{...}");
    if (!put(h, s, "#{")) return false;
    for (uint32_t i = 0; i < m->len; i++) {
        if (!repr_tick(w, *s)) return false;
        if (i && !put(h, s, ", ")) return false;
        const cryo_string *k = m->entries[i].key;
        if (!put_quoted(h, s, k->data, k->len) || !put(h, s, ": ")) return false;
        if (!repr(w, s, m->entries[i].value, true, depth + 1)) return false;
    }
    return put(h, s, "}");
}

static bool repr(repr_walk *w, cryo_string **s, cryo_value v, bool debug, int depth) {
    cryo_heap *h = w->h;
    char buf[64];
    switch (v.type) {
    case CRYO_T_UNIT: return debug ? put(h, s, "()") : true;
    case CRYO_T_BOOL: return put(h, s, v.as.b ? "true" : "false");
    case CRYO_T_INT: snprintf(buf, sizeof buf, "%" PRId64, v.as.i); return put(h, s, buf);
    case CRYO_T_FLOAT:
        if (debug)
            cv_float_repr_debug(v.as.f, buf);
        else
            cv_float_repr(v.as.f, buf);
        return put(h, s, buf);
    case CRYO_T_CHAR:
        if (!debug) return cv_string_append_char(h, s, v.as.c);
        return put(h, s, "'") && put_escaped_char(h, s, v.as.c, '\'') && put(h, s, "'");
    case CRYO_T_STRING: {
        const cryo_string *str = cv_str(v);
        if (debug) return put_quoted(h, s, str->data, str->len);
        return cv_string_append(h, s, str->data, str->len);
    }
    case CRYO_T_ARRAY: return repr_array(w, s, cv_arr(v), depth);
    case CRYO_T_MAP: return repr_map(w, s, cv_map(v), depth);
    case CRYO_T_FN: {
        const cryo_fn *f = cv_fn(v);
        if (!put(h, s, "Fn(")) return false;
        if (f->name && !cv_string_append(h, s, f->name->data, f->name->len)) return false;
        return put(h, s, ")");
    }
    case CRYO_T_RANGE: {
        const cryo_range *r = cv_range(v);
        snprintf(buf, sizeof buf, "%" PRId64 "%s%" PRId64, r->start, r->h.extra ? "..=" : "..",
                 r->end);
        return put(h, s, buf);
    }
    case CRYO_T_CELL: return repr(w, s, cv_cell(v)->v, debug, depth);
    case CRYO_T_POINTER: {
        const cv_pointer_hooks *ph = cv_pointer_hooks_get(); /* ffi/pointer.c */
        return ph ? ph->repr(h, s, v) : put(h, s, "ptr");
    }
    case CRYO_T_HANDLE: {
        bool ok;
        if (cv_host_repr(h, s, v, debug, &ok)) return ok; /* a host type's to_string */
        return put(h, s, "<") && put(h, s, cv_type_name(v)) && put(h, s, ">");
    }
    case CRYO_T_SYNCFN: {
        const cryo_fn *f = cfz_sync_closure(v.as.obj);
        if (!put(h, s, "SyncFn(")) return false;
        if (f && f->name && !cv_string_append(h, s, f->name->data, f->name->len)) return false;
        return put(h, s, ")");
    }
    default: return put(h, s, "?");
    }
}

bool cv_append_repr(cryo_heap *h, cryo_string **s, cryo_value v, bool debug) {
    repr_walk w = {h, NULL, 0, 0, CRYO_OK};
    return repr(&w, s, v, debug, 0);
}

bool cv_append_repr_bounded(cryo_heap *h, cryo_vm *vm, size_t max_len, cryo_string **s,
                            cryo_value v, bool debug, cryo_error_kind *err) {
    repr_walk w = {h, vm, max_len, 0, CRYO_OK};
    bool ok = repr(&w, s, v, debug, 0);
    if (ok && w.pending) w.err = cvm_charge(vm, w.pending);
    *err = w.err;
    return ok;
}

char *cv_to_cstring(cryo_value v, bool debug) {
    cryo_string *s = cv_string_new_cap(NULL, 32);
    if (!s) return NULL;
    char *out = NULL;
    if (cv_append_repr(NULL, &s, v, debug)) {
        out = s->data;
        s->data = NULL;
        s->cap = 0;
    }
    cv_free_obj(NULL, &s->h);
    return out;
}
