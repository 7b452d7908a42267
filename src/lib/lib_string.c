/*
 * lib_string.c — string functions. Positions and lengths count characters (Unicode scalar
 * values), negative positions count from the end, as in Rhai. Functions that Rhai defines as
 * changing the string in place (trim, replace, remove, pad, crop, make_upper, ...) replace the
 * receiver through argv[0] and return ().
 */
#define _GNU_SOURCE /* memmem */
#include "lib.h"
#include <string.h>
#include <utf8proc.h>

/* --- helpers ---------------------------------------------------------------------------------- */

static size_t u8len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static uint32_t decode(const char *p, size_t *n) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p, -1, &c);
    *n = k > 0 ? (size_t)k : 1;
    return k > 0 ? (uint32_t)c : 0xFFFD;
}

static size_t encode(uint32_t c, char *out) {
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)c, (utf8proc_uint8_t *)out);
    return n > 0 ? (size_t)n : 0;
}

static size_t count_chars(const char *p, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)p[i] & 0xC0) != 0x80;
    return n;
}

/* Rust's char::is_whitespace (Unicode White_Space). */
static bool is_ws(uint32_t c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0) return true;
    if (c < 0x1680) return false;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

/* A needle argument: a string or a char, as bytes. */
typedef struct needle {
    const char *p;
    size_t len;
    char buf[4];
} needle;

static bool get_needle(cryo_value v, needle *n) {
    if (v.type == CRYO_T_STRING) {
        n->p = cv_str(v)->data;
        n->len = cv_str(v)->len;
        return true;
    }
    if (v.type == CRYO_T_CHAR) {
        n->len = encode(v.as.c, n->buf);
        n->p = n->buf;
        return true;
    }
    return false;
}

/* Successive non-overlapping matches of a needle; an empty needle matches at every character
 * boundary, both ends included (as Rust's str::split does). */
typedef struct matcher {
    const char *h;
    size_t hl;
    const char *n;
    size_t nl;
    size_t pos;
    bool done;
} matcher;

static bool next_match(matcher *m, size_t *at) {
    if (m->done) return false;
    if (m->nl == 0) {
        if (m->pos > m->hl) return m->done = true, false;
        *at = m->pos;
        m->pos += m->pos == m->hl ? 1 : u8len((unsigned char)m->h[m->pos]);
        return true;
    }
    const char *p = m->pos <= m->hl ? memmem(m->h + m->pos, m->hl - m->pos, m->n, m->nl) : NULL;
    if (!p) return m->done = true, false;
    *at = (size_t)(p - m->h);
    m->pos = *at + m->nl;
    return true;
}

/* Byte offset of a start position (negative from the end), Rhai's rule for sub_string/crop/
 * chars: a start before the beginning clamps to 0; past the end gives `nchars` (empty). */
static size_t char_start(const cryo_string *s, int64_t start) {
    if (start < 0) {
        uint64_t abs = (uint64_t)0 - (uint64_t)start;
        return abs > s->nchars ? 0 : s->nchars - (size_t)abs;
    }
    return (uint64_t)start >= s->nchars ? s->nchars : (size_t)start;
}

/* The character span (start, len) of sub_string-like arguments argv[1..]: (start), (start,
 * len) or (range). Returns false when the argument types do not fit. */
static bool span_args(const cryo_string *s, int argc, cryo_value **argv, size_t *cs, size_t *cl) {
    if (argc == 1) {
        *cs = 0;
        *cl = s->nchars;
        return true;
    }
    if (argc == 2 && argv[1]->type == CRYO_T_RANGE) {
        clib_range_span(s->nchars, cv_range(*argv[1]), cs, cl);
        return true;
    }
    if (argv[1]->type != CRYO_T_INT) return false;
    int64_t len = INT64_MAX;
    if (argc == 3) {
        if (argv[2]->type != CRYO_T_INT) return false;
        len = argv[2]->as.i;
    }
    *cs = char_start(s, argv[1]->as.i);
    *cl = len <= 0 ? 0 : (uint64_t)len > s->nchars - *cs ? s->nchars - *cs : (size_t)len;
    return true;
}

static void span_bytes(const cryo_string *s, size_t cs, size_t cl, size_t *b0, size_t *b1) {
    *b0 = cv_string_offset(s, (int64_t)cs);
    *b1 = cv_string_offset(s, (int64_t)(cs + cl));
}

/* A growing result string. */
typedef struct sbuf {
    cryo_vm *vm;
    cryo_string *s;
    cryo_error_kind err;
} sbuf;

static void sb_init(sbuf *b, cryo_vm *vm, size_t cap) {
    b->vm = vm;
    b->err = CRYO_OK;
    b->s = cv_string_new_cap(&vm->heap, cap + 1);
    if (!b->s) b->err = cvm_raise_oom(vm);
}

static void sb_add(sbuf *b, const char *p, size_t n) {
    if (b->err || n == 0) return;
    if ((b->err = cvm_check_string(b->vm, (size_t)b->s->len + n))) return;
    if (!cv_string_append(&b->vm->heap, &b->s, p, n)) b->err = cvm_raise_oom(b->vm);
}

static void sb_char(sbuf *b, uint32_t c) {
    char tmp[4];
    sb_add(b, tmp, encode(c, tmp));
}

/* Stores the result in *slot (or drops it on error) and returns the error kind. */
static cryo_error_kind sb_finish(sbuf *b, cryo_value *slot) {
    if (!b->s) return b->err;
    if (b->err) {
        cv_release(&b->vm->heap, cv_from_obj(&b->s->h));
        return b->err;
    }
    cv_set(&b->vm->heap, slot, cv_from_obj(&b->s->h));
    return CRYO_OK;
}

static cryo_error_kind ret_array(cryo_vm *vm, cryo_array *a, cryo_value *ret) {
    cv_set(&vm->heap, ret, cv_from_obj(&a->h));
    return CRYO_OK;
}

static cryo_error_kind push_str(cryo_vm *vm, cryo_array *a, const char *p, size_t n) {
    cryo_error_kind k = cvm_check_array(vm, (size_t)a->len + 1);
    if (k) return k;
    cryo_string *s = cv_string_new(&vm->heap, p, n);
    if (!s) return cvm_raise_oom(vm);
    /* cv_array_push takes the string even when it fails (value.h). */
    if (!cv_array_push(&vm->heap, a, cv_from_obj(&s->h))) return cvm_raise_oom(vm);
    return CRYO_OK;
}

static cryo_error_kind new_array(cryo_vm *vm, cryo_array **a) {
    *a = cv_array_new(&vm->heap, 4);
    return *a ? CRYO_OK : cvm_raise_oom(vm);
}

static cryo_error_kind fail_array(cryo_vm *vm, cryo_array *a, cryo_error_kind k) {
    cv_release(&vm->heap, cv_from_obj(&a->h));
    return k;
}

#define NOFN(name) clib_nofn(vm, name, argc, argv)
#define STR0       cv_str(*argv[0])

/* --- length and emptiness --------------------------------------------------------------------- */

CRYO_LIB_FN(clib_str_len) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_int(STR0->nchars);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_str_is_empty) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_bool(STR0->len == 0);
    return CRYO_OK;
}

static CRYO_LIB_FN(str_bytes) {
    (void)ud;
    if (argv[0]->type != CRYO_T_STRING) return NOFN("bytes");
    *ret = cryo_int(STR0->len);
    return CRYO_OK;
}

/* --- searching -------------------------------------------------------------------------------- */

CRYO_LIB_FN(clib_str_contains) {
    (void)ud;
    needle n;
    if (!get_needle(*argv[1], &n)) return NOFN("contains");
    const cryo_string *s = STR0;
    *ret = cryo_bool(n.len == 0 || memmem(s->data, s->len, n.p, n.len) != NULL);
    return CRYO_OK;
}

static CRYO_LIB_FN(str_starts_with) {
    (void)ud;
    needle n;
    if (argv[0]->type != CRYO_T_STRING || !get_needle(*argv[1], &n)) return NOFN("starts_with");
    const cryo_string *s = STR0;
    *ret = cryo_bool(n.len <= s->len && memcmp(s->data, n.p, n.len) == 0);
    return CRYO_OK;
}

static CRYO_LIB_FN(str_ends_with) {
    (void)ud;
    needle n;
    if (argv[0]->type != CRYO_T_STRING || !get_needle(*argv[1], &n)) return NOFN("ends_with");
    const cryo_string *s = STR0;
    *ret = cryo_bool(n.len <= s->len && memcmp(s->data + s->len - n.len, n.p, n.len) == 0);
    return CRYO_OK;
}

/* index_of(find [, start]): the character position of the first match at or after start. */
CRYO_LIB_FN(clib_str_index_of) {
    (void)ud;
    needle n;
    if (!get_needle(*argv[1], &n) || (argc == 3 && argv[2]->type != CRYO_T_INT))
        return NOFN("index_of");
    const cryo_string *s = STR0;
    size_t cs = 0;
    if (argc == 3) {
        int64_t start = argv[2]->as.i;
        if (start >= 0 && (uint64_t)start >= s->nchars) {
            *ret = cryo_int(-1);
            return CRYO_OK;
        }
        cs = char_start(s, start);
    }
    size_t b0 = cv_string_offset(s, (int64_t)cs);
    const char *p = memmem(s->data + b0, s->len - b0, n.p, n.len);
    *ret = cryo_int(p ? (int64_t)(cs + count_chars(s->data + b0, (size_t)(p - s->data) - b0)) : -1);
    return CRYO_OK;
}

/* --- sub-strings ------------------------------------------------------------------------------ */

static CRYO_LIB_FN(str_sub_string) {
    (void)ud;
    size_t cs, cl, b0, b1;
    if (argv[0]->type != CRYO_T_STRING || !span_args(STR0, argc, argv, &cs, &cl))
        return NOFN("sub_string");
    span_bytes(STR0, cs, cl, &b0, &b1);
    return clib_ret_string(vm, ret, STR0->data + b0, b1 - b0);
}

static CRYO_LIB_FN(str_crop) {
    (void)ud, (void)ret;
    size_t cs, cl, b0, b1;
    if (argv[0]->type != CRYO_T_STRING || !span_args(STR0, argc, argv, &cs, &cl))
        return NOFN("crop");
    span_bytes(STR0, cs, cl, &b0, &b1);
    if (b0 == 0 && b1 == STR0->len) return CRYO_OK;
    return clib_set_string(vm, argv[0], STR0->data + b0, b1 - b0);
}

CRYO_LIB_FN(clib_str_truncate) {
    (void)ud, (void)ret;
    if (argv[1]->type != CRYO_T_INT) return NOFN("truncate");
    int64_t n = argv[1]->as.i;
    const cryo_string *s = STR0;
    if (n >= 0 && (uint64_t)n >= s->nchars) return CRYO_OK;
    size_t b = n <= 0 ? 0 : cv_string_offset(s, n);
    return clib_set_string(vm, argv[0], s->data, b);
}

CRYO_LIB_FN(clib_str_clear) {
    (void)ud, (void)argc, (void)ret;
    if (STR0->len == 0) return CRYO_OK;
    return clib_set_string(vm, argv[0], "", 0);
}

/* pop(): removes and returns the last character (() when empty); pop(n): the last n
 * characters as a string. */
CRYO_LIB_FN(clib_str_pop) {
    (void)ud;
    const cryo_string *s = STR0;
    if (argc == 1) {
        if (s->nchars == 0) return CRYO_OK;
        size_t b = cv_string_offset(s, s->nchars - 1), w;
        uint32_t c = decode(s->data + b, &w);
        cryo_error_kind k = clib_set_string(vm, argv[0], s->data, b);
        if (!k) *ret = cryo_char(c);
        return k;
    }
    if (argv[1]->type != CRYO_T_INT) return NOFN("pop");
    int64_t n = argv[1]->as.i;
    if (n <= 0) return clib_ret_string(vm, ret, "", 0);
    size_t b = (uint64_t)n >= s->nchars ? 0 : cv_string_offset(s, (int64_t)s->nchars - n);
    cryo_error_kind k = clib_ret_string(vm, ret, s->data + b, s->len - b);
    if (!k) k = clib_set_string(vm, argv[0], STR0->data, b);
    return k;
}

/* append(x) / push(x): adds x's text (to_string form) to the string. */
CRYO_LIB_FN(clib_str_append) {
    (void)ud, (void)argc, (void)ret;
    cryo_error_kind k = clib_unique(vm, argv[0]);
    if (k) return k;
    cryo_string *s = STR0;
    bool ok;
    if (argv[1]->type == CRYO_T_STRING) {
        const cryo_string *t = cv_str(*argv[1]);
        if ((k = cvm_check_string(vm, (size_t)s->len + t->len))) return k;
        ok = cv_string_append(&vm->heap, &s, t->data, t->len);
    } else if (argv[1]->type == CRYO_T_CHAR) {
        if ((k = cvm_check_string(vm, (size_t)s->len + 4))) return k;
        ok = cv_string_append_char(&vm->heap, &s, argv[1]->as.c);
    } else {
        k = cvm_append_repr(vm, &s, *argv[1], false); /* bounded by the limits */
        argv[0]->as.obj = &s->h;
        return k;
    }
    argv[0]->as.obj = &s->h;
    if (!ok) return cvm_raise_oom(vm);
    return cvm_check_string(vm, s->len);
}

static cryo_error_kind replace_all(cryo_vm *vm, cryo_value *slot, const needle *find,
                                   const char *sub, size_t sublen) {
    const cryo_string *s = cv_str(*slot);
    matcher m = {s->data, s->len, find->p, find->len, 0, false};
    sbuf b;
    sb_init(&b, vm, s->len);
    size_t last = 0, at;
    while (!b.err && next_match(&m, &at)) {
        sb_add(&b, s->data + last, at - last);
        sb_add(&b, sub, sublen);
        last = at + find->len;
        if (find->len == 0 && at < s->len) {
            size_t w = u8len((unsigned char)s->data[at]);
            sb_add(&b, s->data + at, w);
            last = at + w;
        }
    }
    if (last < s->len) sb_add(&b, s->data + last, s->len - last);
    return sb_finish(&b, slot);
}

static CRYO_LIB_FN(str_replace) {
    (void)ud, (void)ret;
    needle f, r;
    if (argv[0]->type != CRYO_T_STRING || !get_needle(*argv[1], &f) || !get_needle(*argv[2], &r))
        return NOFN("replace");
    return replace_all(vm, argv[0], &f, r.p, r.len);
}

CRYO_LIB_FN(clib_str_remove) {
    (void)ud, (void)ret;
    needle f;
    if (!get_needle(*argv[1], &f)) return NOFN("remove");
    if (f.len == 0) return CRYO_OK;
    return replace_all(vm, argv[0], &f, "", 0);
}

/* --- characters
 * ------------------------------------------------------------------------------------ */

/* A character index for get/set: negative from the end; -1 when out of bounds. */
static int64_t char_index(const cryo_string *s, int64_t i) {
    if (i < 0) i += (int64_t)s->nchars;
    return i < 0 || (uint64_t)i >= s->nchars ? -1 : i;
}

CRYO_LIB_FN(clib_str_get) {
    (void)ud;
    if (argv[1]->type != CRYO_T_INT) return NOFN("get");
    int64_t i = char_index(STR0, argv[1]->as.i);
    if (i >= 0) *ret = cryo_char(cv_string_char_at(STR0, i));
    return CRYO_OK;
}

CRYO_LIB_FN(clib_str_set) {
    (void)ud, (void)ret;
    if (argv[1]->type != CRYO_T_INT || argv[2]->type != CRYO_T_CHAR) return NOFN("set");
    const cryo_string *s = STR0;
    int64_t i = char_index(s, argv[1]->as.i);
    if (i < 0) return CRYO_OK;
    size_t b0 = cv_string_offset(s, i), w;
    decode(s->data + b0, &w);
    sbuf b;
    sb_init(&b, vm, s->len + 4);
    sb_add(&b, s->data, b0);
    sb_char(&b, argv[2]->as.c);
    sb_add(&b, s->data + b0 + w, s->len - b0 - w);
    return sb_finish(&b, argv[0]);
}

/* chars(), chars(start), chars(start, len), chars(range): an array of characters. */
static CRYO_LIB_FN(str_chars) {
    (void)ud;
    size_t cs, cl, b0, b1;
    if (argv[0]->type != CRYO_T_STRING || !span_args(STR0, argc, argv, &cs, &cl))
        return NOFN("chars");
    cryo_error_kind k = cvm_check_array(vm, cl);
    if (k) return k;
    span_bytes(STR0, cs, cl, &b0, &b1);
    cryo_array *a = cv_array_new(&vm->heap, cl);
    if (!a) return cvm_raise_oom(vm);
    for (size_t p = b0; p < b1;) {
        size_t w;
        uint32_t c = decode(STR0->data + p, &w);
        if (!cv_array_push(&vm->heap, a, cryo_char(c))) return fail_array(vm, a, cvm_raise_oom(vm));
        p += w;
    }
    return ret_array(vm, a, ret);
}

CRYO_LIB_FN(clib_str_chars) {
    return str_chars(vm, ud, argc, argv, ret);
}

CRYO_LIB_FN(clib_str_reverse) {
    (void)ud, (void)argc, (void)ret;
    const cryo_string *s = STR0;
    sbuf b;
    sb_init(&b, vm, s->len);
    for (size_t p = s->len; p > 0 && !b.err;) {
        size_t q = p - 1;
        while (q > 0 && ((unsigned char)s->data[q] & 0xC0) == 0x80)
            q--;
        sb_add(&b, s->data + q, p - q);
        p = q;
    }
    return sb_finish(&b, argv[0]);
}

/* --- case
 * ------------------------------------------------------------------------------------------- */

static cryo_error_kind map_case(cryo_vm *vm, const cryo_string *s, bool upper, cryo_value *out) {
    sbuf b;
    sb_init(&b, vm, s->len);
    for (size_t p = 0; p < s->len && !b.err;) {
        size_t w;
        uint32_t c = decode(s->data + p, &w);
        sb_char(&b, (uint32_t)(upper ? utf8proc_toupper((utf8proc_int32_t)c)
                                     : utf8proc_tolower((utf8proc_int32_t)c)));
        p += w;
    }
    return sb_finish(&b, out);
}

CRYO_LIB_FN(clib_str_to_upper) {
    (void)ud, (void)argc;
    return map_case(vm, STR0, true, ret);
}

CRYO_LIB_FN(clib_str_to_lower) {
    (void)ud, (void)argc;
    return map_case(vm, STR0, false, ret);
}

CRYO_LIB_FN(clib_char_to_upper) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_char((uint32_t)utf8proc_toupper((utf8proc_int32_t)argv[0]->as.c));
    return CRYO_OK;
}

CRYO_LIB_FN(clib_char_to_lower) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_char((uint32_t)utf8proc_tolower((utf8proc_int32_t)argv[0]->as.c));
    return CRYO_OK;
}

static CRYO_LIB_FN(str_make_upper) {
    (void)ud, (void)ret;
    if (argv[0]->type == CRYO_T_CHAR) return clib_char_to_upper(vm, NULL, argc, argv, argv[0]);
    if (argv[0]->type != CRYO_T_STRING) return NOFN("make_upper");
    return map_case(vm, STR0, true, argv[0]);
}

static CRYO_LIB_FN(str_make_lower) {
    (void)ud, (void)ret;
    if (argv[0]->type == CRYO_T_CHAR) return clib_char_to_lower(vm, NULL, argc, argv, argv[0]);
    if (argv[0]->type != CRYO_T_STRING) return NOFN("make_lower");
    return map_case(vm, STR0, false, argv[0]);
}

/* --- trimming and padding
 * ------------------------------------------------------------------------- */

static cryo_error_kind trim(cryo_vm *vm, int argc, cryo_value **argv, const char *name, bool start,
                            bool end) {
    if (argv[0]->type != CRYO_T_STRING) return NOFN(name);
    const cryo_string *s = STR0;
    size_t b0 = 0, b1 = s->len, w;
    while (start && b0 < b1 && is_ws(decode(s->data + b0, &w)))
        b0 += w;
    while (end && b1 > b0) {
        size_t q = b1 - 1;
        while (q > b0 && ((unsigned char)s->data[q] & 0xC0) == 0x80)
            q--;
        if (!is_ws(decode(s->data + q, &w))) break;
        b1 = q;
    }
    if (b0 == 0 && b1 == s->len) return CRYO_OK;
    return clib_set_string(vm, argv[0], s->data + b0, b1 - b0);
}

static CRYO_LIB_FN(str_trim) {
    (void)ud, (void)ret;
    return trim(vm, argc, argv, "trim", true, true);
}

static CRYO_LIB_FN(str_trim_start) {
    (void)ud, (void)ret;
    return trim(vm, argc, argv, "trim_start", true, false);
}

static CRYO_LIB_FN(str_trim_end) {
    (void)ud, (void)ret;
    return trim(vm, argc, argv, "trim_end", false, true);
}

/* pad(len, char or string): pads to `len` characters, repeating the padding (the last copy
 * cut short). */
CRYO_LIB_FN(clib_str_pad) {
    (void)ud, (void)ret;
    needle n;
    if (argv[1]->type != CRYO_T_INT || !get_needle(*argv[2], &n)) return NOFN("pad");
    int64_t len = argv[1]->as.i;
    const cryo_string *s = STR0;
    if (len <= 0 || (uint64_t)len <= s->nchars || n.len == 0) return CRYO_OK;
    uint64_t missing = (uint64_t)len - s->nchars;
    size_t pad_chars = count_chars(n.p, n.len);
    /* Check the size before building: a huge `len` must fail fast, not allocate. */
    uint64_t est = s->len + (missing / pad_chars) * n.len;
    if (missing > UINT32_MAX || est > UINT32_MAX)
        return cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "pad: string too large");
    cryo_error_kind k = cvm_check_string(vm, (size_t)est);
    if (!k) k = cvm_charge(vm, missing / pad_chars + 1); /* one per copy of the padding */
    if (k) return k;
    sbuf b;
    sb_init(&b, vm, (size_t)est + n.len);
    sb_add(&b, s->data, s->len);
    while (missing > 0 && !b.err) {
        if (missing >= pad_chars) {
            sb_add(&b, n.p, n.len);
            missing -= pad_chars;
        } else {
            size_t cut = 0;
            for (uint64_t i = 0; i < missing; i++)
                cut += u8len((unsigned char)n.p[cut]);
            sb_add(&b, n.p, cut);
            missing = 0;
        }
    }
    return sb_finish(&b, argv[0]);
}

/* --- splitting
 * -------------------------------------------------------------------------------------- */

static cryo_error_kind split_ws(cryo_vm *vm, const cryo_string *s, cryo_value *ret) {
    cryo_array *a;
    cryo_error_kind k = new_array(vm, &a);
    for (size_t p = 0; !k && p < s->len;) {
        size_t w;
        while (p < s->len && is_ws(decode(s->data + p, &w)))
            p += w;
        size_t q = p;
        while (q < s->len && !is_ws(decode(s->data + q, &w)))
            q += w;
        if (q > p) k = push_str(vm, a, s->data + p, q - p);
        p = q;
    }
    return k ? fail_array(vm, a, k) : ret_array(vm, a, ret);
}

/* split(index): [first `index` characters, the rest]; negative counts from the end. */
static cryo_error_kind split_at(cryo_vm *vm, const cryo_string *s, int64_t index, cryo_value *ret) {
    size_t b;
    if (index <= 0) {
        uint64_t abs = (uint64_t)0 - (uint64_t)index;
        b = abs > s->nchars ? 0 : cv_string_offset(s, (int64_t)(s->nchars - abs));
    } else {
        b = (uint64_t)index >= s->nchars ? s->len : cv_string_offset(s, index);
    }
    cryo_array *a;
    cryo_error_kind k = new_array(vm, &a);
    if (!k) k = push_str(vm, a, s->data, b);
    if (!k) k = push_str(vm, a, s->data + b, s->len - b);
    return k ? fail_array(vm, a, k) : ret_array(vm, a, ret);
}

/* Splits at the matches of `n`, at most `max` pieces (the last piece keeps the rest); `rev`
 * produces the pieces from the end (split_rev). */
static cryo_error_kind split_by(cryo_vm *vm, const cryo_string *s, const needle *n, uint64_t max,
                                bool rev, cryo_value *ret) {
    size_t cap = 8, cnt = 0, at;
    size_t *pos = cv_alloc(&vm->heap, cap * sizeof *pos);
    if (!pos) return cvm_raise_oom(vm);
    matcher m = {s->data, s->len, n->p, n->len, 0, false};
    cryo_error_kind k = CRYO_OK;
    while (next_match(&m, &at) && (rev || cnt + 1 < max)) {
        if (cnt == cap) {
            size_t *np = cv_realloc(&vm->heap, pos, cap * sizeof *pos, cap * 2 * sizeof *pos);
            if (!np) {
                k = cvm_raise_oom(vm);
                break;
            }
            pos = np, cap *= 2;
        }
        pos[cnt++] = at;
    }
    cryo_array *a = NULL;
    if (!k) k = new_array(vm, &a);
    if (!k && !rev) {
        size_t last = 0;
        for (size_t i = 0; i < cnt && !k; i++) {
            k = push_str(vm, a, s->data + last, pos[i] - last);
            last = pos[i] + n->len;
        }
        if (!k) k = push_str(vm, a, s->data + last, s->len - last);
    } else if (!k) {
        size_t end = s->len, used = 0;
        for (size_t i = cnt; i > 0 && !k && used + 1 < max; i--, used++) {
            size_t from = pos[i - 1] + n->len;
            k = push_str(vm, a, s->data + from, end - from);
            end = pos[i - 1];
        }
        if (!k) k = push_str(vm, a, s->data, end);
    }
    cv_free(&vm->heap, pos, cap * sizeof *pos);
    if (k) return a ? fail_array(vm, a, k) : k;
    return ret_array(vm, a, ret);
}

static cryo_error_kind split_common(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret,
                                    bool rev) {
    const char *name = rev ? "split_rev" : "split";
    if (argv[0]->type != CRYO_T_STRING) return NOFN(name);
    if (argc == 1 && !rev) return split_ws(vm, STR0, ret);
    if (argc == 2 && !rev && argv[1]->type == CRYO_T_INT)
        return split_at(vm, STR0, argv[1]->as.i, ret);
    needle n;
    if (argc < 2 || !get_needle(*argv[1], &n)) return NOFN(name);
    uint64_t max = UINT64_MAX;
    if (argc == 3) {
        if (argv[2]->type != CRYO_T_INT) return NOFN(name);
        max = argv[2]->as.i < 1 ? 1 : (uint64_t)argv[2]->as.i;
    }
    return split_by(vm, STR0, &n, max, rev, ret);
}

CRYO_LIB_FN(clib_str_split) {
    (void)ud;
    return split_common(vm, argc, argv, ret, false);
}

static CRYO_LIB_FN(str_split_rev) {
    (void)ud;
    return split_common(vm, argc, argv, ret, true);
}

const cryo_libreg clib_string[] = {
    {"bytes", 1, str_bytes, NULL},
    {"starts_with", 2, str_starts_with, NULL},
    {"ends_with", 2, str_ends_with, NULL},
    {"sub_string", 2, str_sub_string, NULL},
    {"sub_string", 3, str_sub_string, NULL},
    {"crop", 2, str_crop, NULL},
    {"crop", 3, str_crop, NULL},
    {"replace", 3, str_replace, NULL},
    {"chars", 1, str_chars, NULL},
    {"chars", 2, str_chars, NULL},
    {"chars", 3, str_chars, NULL},
    {"to_chars", 1, str_chars, NULL},
    {"make_upper", 1, str_make_upper, NULL},
    {"make_lower", 1, str_make_lower, NULL},
    {"trim", 1, str_trim, NULL},
    {"trim_start", 1, str_trim_start, NULL},
    {"trim_end", 1, str_trim_end, NULL},
    {"split_rev", 2, str_split_rev, NULL},
    {"split_rev", 3, str_split_rev, NULL},
    {NULL, 0, NULL, NULL},
};
