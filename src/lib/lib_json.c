/*
 * lib_json.c — JSON text to values and back: parse_json / to_json for scripts,
 * cryo_value_from_json / cryo_value_to_json for hosts.
 *
 * Parsing is jansson's (a well-tested parser that reports line and column); this file only
 * maps its tree to values. Writing is done here, straight from the values: jansson prints
 * floats with 17 significant digits (0.1 becomes 0.10000000000000001), while Rhai writes the
 * shortest form that reads back (cv_float_repr_debug), and a direct writer needs no tree.
 *
 * Mapping (as Rhai): object <-> map, array <-> array, string <-> string, integer <-> i64,
 * number with a fraction or exponent <-> f64, true/false <-> bool, null <-> (). A char is
 * written as a one-character string. Values JSON cannot hold (functions, ranges, handles,
 * pointers, NaN and infinities) are an error naming them.
 */
#include "lang/lang.h"
#include "lib.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Nesting allowed when no VM limit applies (the C API, or a VM without a call-depth limit):
 * the parser's own bound, so JSON data and script literals nest alike. */
#define JSON_MAX_DEPTH CRYO_MAX_PARSE_DEPTH

/* What went wrong, for the VM (raised) or the C API (a cryo_error). */
typedef struct jerr {
    cryo_error_kind kind;
    int line, column; /* of the JSON text; 0 when not about a position */
    bool raised;      /* already raised on the VM (a limit hit while charging the work) */
    char msg[256];
} jerr;

static bool fail(jerr *e, cryo_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(jerr *e, cryo_error_kind kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->kind = kind;
    return false;
}

/* --- JSON text to values ------------------------------------------------------------------ */

typedef struct reader {
    cryo_heap *heap; /* the VM's heap (accounted), or NULL (C API) */
    int max_depth;
    jerr *err;
} reader;

static bool from_json(reader *r, json_t *j, int depth, cryo_value *out);

static bool oom(reader *r) {
    return fail(r->err, CRYO_ERR_MEMORY, "out of memory");
}

static bool array_from_json(reader *r, json_t *j, int depth, cryo_value *out) {
    size_t n = json_array_size(j);
    cryo_array *a = cv_array_new(r->heap, n);
    if (!a) return oom(r);
    *out = cv_from_obj(&a->h); /* released by the caller on failure */
    for (size_t i = 0; i < n; i++) {
        cryo_value item = cryo_unit_value();
        /* A failed child may hold what it built so far: release it here. */
        if (!from_json(r, json_array_get(j, i), depth + 1, &item))
            return cv_release(r->heap, item), false;
        if (!cv_array_push(r->heap, a, item)) return oom(r); /* item taken even on failure */
    }
    return true;
}

static bool object_from_json(reader *r, json_t *j, int depth, cryo_value *out) {
    cryo_map *m = cv_map_new(r->heap, json_object_size(j));
    if (!m) return oom(r);
    *out = cv_from_obj(&m->h);
    const char *key;
    size_t key_len;
    json_t *val;
    json_object_keylen_foreach(j, key, key_len, val) {
        cryo_value item = cryo_unit_value();
        if (!from_json(r, val, depth + 1, &item)) return cv_release(r->heap, item), false;
        cryo_string *k = cv_string_new(r->heap, key, key_len);
        if (!k) {
            cv_release(r->heap, item);
            return oom(r);
        }
        bool ok = cv_map_set(r->heap, m, k, item); /* item taken even on failure */
        cv_release(r->heap, cv_from_obj(&k->h));
        if (!ok) return oom(r);
    }
    return true;
}

static bool from_json(reader *r, json_t *j, int depth, cryo_value *out) {
    switch (json_typeof(j)) {
    case JSON_NULL: *out = cryo_unit_value(); return true;
    case JSON_TRUE: *out = cryo_bool(true); return true;
    case JSON_FALSE: *out = cryo_bool(false); return true;
    case JSON_INTEGER: *out = cryo_int((int64_t)json_integer_value(j)); return true;
    case JSON_REAL: *out = cryo_float(json_real_value(j)); return true;
    case JSON_STRING: {
        cryo_string *s = cv_string_new(r->heap, json_string_value(j), json_string_length(j));
        if (!s) return oom(r);
        *out = cv_from_obj(&s->h);
        return true;
    }
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (depth >= r->max_depth)
            return fail(r->err, CRYO_ERR_STACK_OVERFLOW,
                        "JSON nested deeper than %d arrays or objects", r->max_depth);
        return json_is_array(j) ? array_from_json(r, j, depth, out)
                                : object_from_json(r, j, depth, out);
    }
    return fail(r->err, CRYO_ERR_PARSE, "unknown JSON node");
}

/* Parses `text` into *out (owned; () on failure). Duplicate keys: the last wins, as in
 * Rhai's parse_json (serde_json into a map). */
static bool parse(cryo_heap *heap, const char *text, size_t len, int max_depth, cryo_value *out,
                  jerr *e) {
    *out = cryo_unit_value();
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!root) {
        e->line = je.line > 0 ? je.line : 1;
        e->column = je.column > 0 ? je.column : 1;
        /* jansson: "too big integer" for integers beyond i64; say which range. */
        if (json_error_code(&je) == json_error_numeric_overflow)
            return fail(e, CRYO_ERR_PARSE, "%s (integers must fit in i64) at line %d, column %d",
                        je.text, e->line, e->column);
        return fail(e, CRYO_ERR_PARSE, "%s at line %d, column %d", je.text, e->line, e->column);
    }
    reader r = {heap, max_depth, e};
    bool ok = from_json(&r, root, 0, out);
    json_decref(root);
    if (!ok) {
        cv_release(heap, *out);
        *out = cryo_unit_value();
    }
    return ok;
}

/* --- values to JSON text ------------------------------------------------------------------ */

typedef struct writer {
    char *p;
    size_t len, cap;
    size_t max; /* the string size limit in bytes, 0 = none */
    int max_depth;
    jerr *err;
    cryo_vm *vm; /* charged one operation per element (limits, interrupt); NULL from C */
} writer;

static bool put(writer *w, const char *s, size_t n) {
    if (w->max && w->len + n > w->max)
        return fail(w->err, CRYO_ERR_DATA_TOO_LARGE,
                    "to_json: the JSON text exceeds the string size limit (%zu bytes)", w->max);
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *p = realloc(w->p, cap);
        if (!p) return fail(w->err, CRYO_ERR_MEMORY, "out of memory");
        w->p = p, w->cap = cap;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
    return true;
}

static bool put_str(writer *w, const char *s) {
    return put(w, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped; other UTF-8 kept. */
static bool put_quoted(writer *w, const char *s, size_t n) {
    if (!put(w, "\"", 1)) return false;
    size_t run = 0; /* start of the bytes not yet written */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (!put(w, s + run, i - run)) return false;
        char esc[8];
        const char *short_form = c == '"'    ? "\\\""
                                 : c == '\\' ? "\\\\"
                                 : c == '\n' ? "\\n"
                                 : c == '\r' ? "\\r"
                                 : c == '\t' ? "\\t"
                                 : c == '\b' ? "\\b"
                                 : c == '\f' ? "\\f"
                                             : NULL;
        if (!short_form) snprintf(esc, sizeof esc, "\\u%04x", c);
        if (!put_str(w, short_form ? short_form : esc)) return false;
        run = i + 1;
    }
    return put(w, s + run, n - run) && put(w, "\"", 1);
}

static bool write_value(writer *w, cryo_value v, int depth);

/* One element's work against the VM's operations limit and interrupt: shared nested data
 * (`a = [a, a]` forty times) has far more paths than objects, and each path is written. */
static bool charge_elem(writer *w) {
    if (!w->vm) return true;
    cryo_error_kind k = cvm_charge(w->vm, 1);
    if (k == CRYO_OK) return true;
    w->err->kind = k;
    w->err->raised = true;
    return false;
}

static bool too_deep(writer *w) {
    return fail(w->err, CRYO_ERR_STACK_OVERFLOW,
                "to_json: the value is nested deeper than %d arrays or maps", w->max_depth);
}

static bool write_array(writer *w, const cryo_array *a, int depth) {
    if (depth >= w->max_depth) return too_deep(w);
    if (!put(w, "[", 1)) return false;
    for (uint32_t i = 0; i < a->len; i++)
        if (!charge_elem(w) || (i && !put(w, ",", 1)) || !write_value(w, a->items[i], depth + 1))
            return false;
    return put(w, "]", 1);
}

static bool write_map(writer *w, const cryo_map *m, int depth) {
    if (depth >= w->max_depth) return too_deep(w);
    if (!put(w, "{", 1)) return false;
    for (uint32_t i = 0; i < m->len; i++) {
        const cryo_string *k = m->entries[i].key;
        if (!charge_elem(w) || (i && !put(w, ",", 1)) || !put_quoted(w, k->data, k->len) ||
            !put(w, ":", 1) || !write_value(w, m->entries[i].value, depth + 1))
            return false;
    }
    return put(w, "}", 1);
}

static bool write_value(writer *w, cryo_value v, int depth) {
    char buf[40];
    switch ((cryo_type)v.type) {
    case CRYO_T_UNIT: return put_str(w, "null");
    case CRYO_T_BOOL: return put_str(w, v.as.b ? "true" : "false");
    case CRYO_T_INT: snprintf(buf, sizeof buf, "%lld", (long long)v.as.i); return put_str(w, buf);
    case CRYO_T_FLOAT:
        if (v.as.f != v.as.f || v.as.f - v.as.f != 0)
            return fail(w->err, CRYO_ERR_ARGUMENT, "to_json: %s cannot be written as JSON",
                        v.as.f != v.as.f ? "NaN" : "an infinite float");
        return put(w, buf, cv_float_repr_debug(v.as.f, buf));
    case CRYO_T_CHAR: return put_quoted(w, buf, cv_char_utf8(v.as.c, buf));
    case CRYO_T_STRING: return put_quoted(w, cv_str(v)->data, cv_str(v)->len);
    case CRYO_T_ARRAY: return write_array(w, cv_arr(v), depth);
    case CRYO_T_MAP: return write_map(w, cv_map(v), depth);
    default:
        return fail(w->err, CRYO_ERR_TYPE, "to_json: a value of type %s cannot be written as JSON",
                    cv_type_name(v));
    }
}

/* Writes v as compact JSON into a malloc'd NUL-terminated buffer (*out, *len). */
static bool write_json(cryo_vm *vm, cryo_value v, size_t max, int max_depth, char **out,
                       size_t *len, jerr *e) {
    writer w = {NULL, 0, 0, max, max_depth, e, vm};
    if (!write_value(&w, v, 0)) {
        free(w.p);
        return false;
    }
    if (!w.p && !put(&w, "", 0)) return false;
    *out = w.p;
    *len = w.len;
    return true;
}

/* --- script functions --------------------------------------------------------------------- */

/* Nesting bound for a VM: its call-depth limit (Rhai bounds parse_json by the same depth as
 * expressions), or the parser's bound when it has none. */
static int vm_json_depth(const cryo_vm *vm) {
    return vm->depth_max < (uint64_t)JSON_MAX_DEPTH ? (int)vm->depth_max : JSON_MAX_DEPTH;
}

static cryo_error_kind raise_jerr(cryo_vm *vm, const char *fname, const jerr *e) {
    if (e->kind == CRYO_ERR_MEMORY) return cvm_raise_oom(vm);
    return cryo_vm_raise(vm, e->kind, "%s: %s", fname, e->msg);
}

static CRYO_LIB_FN(json_parse) {
    (void)ud;
    if (argv[0]->type != CRYO_T_STRING) return clib_nofn(vm, "parse_json", argc, argv);
    const cryo_string *s = cv_str(*argv[0]);
    jerr e = {0};
    cryo_value v;
    /* parsing is linear in the text: one operation per 16 bytes, as a loop over it would cost */
    cryo_error_kind k = cvm_charge(vm, s->len / 16 + 1);
    if (k) return k;
    if (!parse(&vm->heap, s->data, s->len, vm_json_depth(vm), &v, &e))
        return raise_jerr(vm, "parse_json", &e);
    k = cvm_check_data(vm, v);
    if (k) {
        cv_release(&vm->heap, v);
        return k;
    }
    cv_set(&vm->heap, ret, v);
    return CRYO_OK;
}

static CRYO_LIB_FN(json_to_json) {
    (void)ud, (void)argc;
    jerr e = {0};
    char *text;
    size_t len;
    uint64_t max = vm->limits[CRYO_LIMIT_STRING_SIZE];
    if (!write_json(vm, *argv[0], max > SIZE_MAX ? SIZE_MAX : (size_t)max, vm_json_depth(vm), &text,
                    &len, &e)) {
        if (e.raised) return e.kind;
        if (e.kind == CRYO_ERR_MEMORY) return cvm_raise_oom(vm);
        return cryo_vm_raise(vm, e.kind, "%s", e.msg);
    }
    cryo_error_kind k = clib_ret_string(vm, ret, text, len);
    free(text);
    return k;
}

const cryo_libreg clib_json[] = {
    {"parse_json", 1, json_parse, NULL},
    {"to_json", 1, json_to_json, NULL},
    {NULL, 0, NULL, NULL},
};

/* --- the C API ---------------------------------------------------------------------------- */

static void set_err(cryo_error **err, const jerr *e) {
    if (err) *err = cl_error_new(e->kind, NULL, e->line, e->column, "%s", e->msg);
}

CRYO_API cryo_error_kind cryo_value_from_json(const char *text, size_t len, cryo_value *out,
                                              cryo_error **err) {
    if (err) *err = NULL;
    if (out) *out = cryo_unit_value();
    jerr e = {0};
    if (!out || (!text && len)) {
        fail(&e, CRYO_ERR_API, "cryo_value_from_json: %s is NULL", out ? "text" : "out");
        set_err(err, &e);
        return CRYO_ERR_API;
    }
    if (parse(NULL, text ? text : "", len, JSON_MAX_DEPTH, out, &e)) return CRYO_OK;
    set_err(err, &e);
    return e.kind;
}

CRYO_API char *cryo_value_to_json(cryo_value v, size_t *len, cryo_error **err) {
    if (err) *err = NULL;
    jerr e = {0};
    char *text = NULL;
    size_t n = 0;
    if (!write_json(NULL, v, 0, JSON_MAX_DEPTH, &text, &n, &e)) {
        set_err(err, &e);
        return NULL;
    }
    if (len) *len = n;
    return text;
}
