/*
 * cdecl.c — a parser for C declarations as C programmers write them:
 *
 *   decl       := specifiers declarator
 *   specifiers := { const | volatile | signed | unsigned | short | long | int | char | void
 *                 | float | double | _Complex | complex | _Bool | bool | struct NAME
 *                 | <stdint.h> / size_t names }
 *   declarator := { '*' { const | volatile | restrict } } direct
 *   direct     := [ NAME | '(' declarator ')' ] { '(' params ')' | '[' N ']' }
 *   params     := [ void | param { ',' param } [ ',' '...' ] ]
 *   cdef       := { struct NAME '{' { specifiers declarator { ',' declarator } ';' } '}' ';' }
 *
 * Errors name the position (line and 1-based column) and what was expected.
 */
#include "ffi_internal.h"
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TK_EOF, TK_IDENT, TK_NUM, TK_PUNCT, TK_ELLIPSIS, TK_BAD };

typedef struct parser {
    const char *src;
    size_t pos; /* start of the current token */
    size_t end; /* end of the current token */
    int tk;     /* current token kind */
    cryo_ffi_scope *scope;
    ffi_arena *arena;
    cryo_error *err;
    int depth;
    cstruct *defining; /* the struct whose fields cdef is parsing: its own name is known (and
                        * incomplete), so that `struct node *next` may refer to it */
    bool cdef;         /* definitions allowed (struct and enum bodies) */
    bool in_typedef;   /* an anonymous `struct { ... }` is allowed */
    bool tagged;       /* the last specifiers were a struct or enum */
    bool raw;          /* the next token is not checked for an empty macro (#define NAME) */
    size_t limit;      /* the lexer stops here (the end of a #define line) */
    size_t type_pos;   /* the token that named the last specifiers' type (for errors) */
} parser;

static void parser_init(parser *p, cryo_ffi_scope *s, ffi_arena *a, const char *src) {
    memset(p, 0, sizeof *p);
    p->src = src;
    p->scope = s;
    p->arena = a;
    p->limit = SIZE_MAX;
}

static void lex(parser *p) {
    const char *s = p->src;
    size_t i = p->end;
    for (;;) {
        while (s[i] && isspace((unsigned char)s[i]))
            i++;
        if (s[i] == '/' && s[i + 1] == '*') {
            const char *e = strstr(s + i + 2, "*/");
            i = e ? (size_t)(e - s) + 2 : strlen(s);
            continue;
        }
        if (s[i] == '/' && s[i + 1] == '/') {
            while (s[i] && s[i] != '\n')
                i++;
            continue;
        }
        if (i < p->limit && (isalpha((unsigned char)s[i]) || s[i] == '_') && !p->raw &&
            p->scope->names) {
            /* an empty macro of the scope (`#define SQLITE_API`) is skipped */
            size_t j = i;
            while (isalnum((unsigned char)s[j]) || s[j] == '_')
                j++;
            if (ct_find_name(p->scope, CN_EMPTY, s + i, j - i)) {
                i = j;
                continue;
            }
        }
        break;
    }
    p->raw = false;
    p->pos = i;
    if (!s[i] || i >= p->limit) {
        p->tk = TK_EOF;
        p->end = i;
    } else if (isalpha((unsigned char)s[i]) || s[i] == '_') {
        while (isalnum((unsigned char)s[i]) || s[i] == '_')
            i++;
        p->tk = TK_IDENT;
        p->end = i;
    } else if (isdigit((unsigned char)s[i])) {
        while (isalnum((unsigned char)s[i]))
            i++;
        p->tk = TK_NUM;
        p->end = i;
    } else if (s[i] == '.' && s[i + 1] == '.' && s[i + 2] == '.') {
        p->tk = TK_ELLIPSIS;
        p->end = i + 3;
    } else if ((s[i] == '<' && s[i + 1] == '<') || (s[i] == '>' && s[i + 1] == '>')) {
        p->tk = TK_PUNCT;
        p->end = i + 2;
    } else if (strchr("*()[],;{}=+-~|&^%/!#", s[i])) {
        p->tk = TK_PUNCT;
        p->end = i + 1;
    } else {
        p->tk = TK_BAD;
        p->end = i + 1;
    }
}

/* Makes the token at `pos` the current one (to point an error at it). */
static void seek(parser *p, size_t pos) {
    p->end = pos;
    lex(p);
}

static bool is(parser *p, const char *text) {
    size_t n = strlen(text);
    return p->tk != TK_EOF && p->end - p->pos == n && memcmp(p->src + p->pos, text, n) == 0;
}

static bool accept(parser *p, const char *text) {
    if (!is(p, text)) return false;
    lex(p);
    return true;
}

static void fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *p, const char *fmt, ...) {
    if (p->err) return;
    int line = 1, col = 1;
    for (size_t i = 0; i < p->pos; i++) {
        if (p->src[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[256], found[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->tk == TK_EOF)
        snprintf(found, sizeof found, "the end of the declaration");
    else
        snprintf(found, sizeof found, "'%.*s'", (int)(p->end - p->pos > 40 ? 40 : p->end - p->pos),
                 p->src + p->pos);
    cryo_error *e = calloc(1, sizeof *e);
    if (!e) return;
    e->kind = CRYO_ERR_PARSE;
    e->line = line;
    e->column = col;
    size_t n = strlen(msg) + strlen(found) + 64;
    e->message = malloc(n);
    if (e->message)
        snprintf(e->message, n, "C declaration, column %d: expected %s, found %s", col, msg, found);
    p->err = e;
}

static void expect(parser *p, const char *text, const char *what) {
    if (!accept(p, text)) fail(p, "%s", what);
}

static void oom(parser *p) {
    fail(p, "memory (out of memory)");
    if (p->err) p->err->kind = CRYO_ERR_MEMORY;
}

/* --- specifiers ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    ct_kind kind;
} typedefs[] = {
    {"int8_t", CT_I8},         {"uint8_t", CT_U8},         {"int16_t", CT_I16},
    {"uint16_t", CT_U16},      {"int32_t", CT_I32},        {"uint32_t", CT_U32},
    {"int64_t", CT_I64},       {"uint64_t", CT_U64},       {"size_t", CT_U64},
    {"ssize_t", CT_I64},       {"intptr_t", CT_I64},       {"uintptr_t", CT_U64},
    {"ptrdiff_t", CT_I64},     {"off_t", CT_I64},          {"intmax_t", CT_I64},
    {"uintmax_t", CT_U64},     {"bool", CT_BOOL},          {"_Bool", CT_BOOL},
    {"float", CT_F32},         {"double", CT_F64},         {"void", CT_VOID},
    {"int_least32_t", CT_I32}, {"uint_least32_t", CT_U32}, {"wchar_t", CT_I32},
};

static int builtin_typedef(parser *p) {
    for (size_t i = 0; i < sizeof typedefs / sizeof typedefs[0]; i++)
        if (is(p, typedefs[i].name)) return (int)i;
    return -1;
}

static bool is_specifier(parser *p) {
    if (p->tk != TK_IDENT) return false;
    static const char *const kw[] = {"const",  "volatile", "signed", "unsigned", "short",
                                     "long",   "int",      "char",   "_Complex", "complex",
                                     "struct", "enum",     "extern", NULL};
    for (int i = 0; kw[i]; i++)
        if (is(p, kw[i])) return true;
    return builtin_typedef(p) >= 0;
}

static ct_kind int_kind(int size, bool is_unsigned) {
    switch (size) {
    case 1: return is_unsigned ? CT_U8 : CT_I8;
    case 2: return is_unsigned ? CT_U16 : CT_I16;
    case 4: return is_unsigned ? CT_U32 : CT_I32;
    default: return is_unsigned ? CT_U64 : CT_I64;
    }
}

/* float, double, long double and their _Complex forms; `other` counts any other specifier. */
static ctype *float_type(parser *p, int nfloat, int ndouble, int ncomplex, int nlong, int other) {
    if (other || nfloat + ndouble != 1 || ncomplex > 1 || nlong > ndouble) {
        fail(p, "a valid floating type (float, double, long double, optionally _Complex)");
        return NULL;
    }
    ct_kind k = nfloat ? CT_F32 : nlong ? CT_LDOUBLE : CT_F64;
    if (ncomplex) k = k == CT_F32 ? CT_CF32 : k == CT_F64 ? CT_CF64 : CT_CLD;
    ctype *t = ct_scalar(k);
    if (!t->ft) {
        fail(p, "a type this libffi supports (it has no complex types)");
        return NULL;
    }
    return t;
}

static cname *add_name(parser *p, cn_kind kind, const char *name, size_t len) {
    cname *n = fa_alloc(&p->scope->arena, sizeof *n);
    if (n) n->name = fa_strndup(&p->scope->arena, name, len);
    if (!n || !n->name) {
        oom(p);
        return NULL;
    }
    n->kind = kind;
    n->next = p->scope->names;
    p->scope->names = n;
    return n;
}

/* A constant (enumerator or #define) named by the token at `pos`: a second definition must
 * give the same value. */
static void define_const(parser *p, size_t pos, size_t len, int64_t value) {
    const char *name = p->src + pos;
    cname *old = ct_find_name(p->scope, CN_CONST, name, len);
    if (old && old->value == value) return;
    if (old || ct_find_name(p->scope, CN_TYPEDEF, name, len) ||
        ct_find_name(p->scope, CN_EMPTY, name, len)) {
        seek(p, pos);
        if (old)
            fail(p, "a new constant name (already defined as %lld)", (long long)old->value);
        else
            fail(p, "a new constant name (already a typedef or macro)");
        return;
    }
    cname *n = add_name(p, CN_CONST, name, len);
    if (n) n->value = value;
}

/* --- integer constant expressions (enumerators, #define) ----------------------------------- */

static bool cexpr(parser *p, int minprec, int64_t *out);

static bool cprimary1(parser *p, int64_t *out);

static bool cprimary(parser *p, int64_t *out) {
    if (++p->depth > 64) {
        fail(p, "a simpler constant expression (nested too deeply)");
        return false;
    }
    bool ok = cprimary1(p, out);
    p->depth--;
    return ok;
}

static bool cprimary1(parser *p, int64_t *out) {
    if (p->tk == TK_PUNCT && p->end - p->pos == 1 && strchr("-~!+", p->src[p->pos])) {
        char op = p->src[p->pos];
        lex(p);
        if (!cprimary(p, out)) return false;
        uint64_t u = (uint64_t)*out;
        *out = op == '-' ? (int64_t)(0 - u) : op == '~' ? (int64_t)~u : op == '!' ? !u : *out;
        return true;
    }
    if (accept(p, "(")) {
        if (!cexpr(p, 1, out)) return false;
        expect(p, ")", "')'");
        return !p->err;
    }
    if (p->tk == TK_NUM) {
        char *e;
        errno = 0;
        unsigned long long v = strtoull(p->src + p->pos, &e, 0);
        while (e < p->src + p->end && strchr("uUlL", *e))
            e++;
        if (e != p->src + p->end || errno) {
            fail(p, "an integer literal (decimal, octal or hex, suffixes u and l)");
            return false;
        }
        *out = (int64_t)v;
        lex(p);
        return true;
    }
    if (p->tk == TK_IDENT) {
        cname *c = ct_find_name(p->scope, CN_CONST, p->src + p->pos, p->end - p->pos);
        if (!c) {
            fail(p, "an integer constant (not an enumerator or #define of this scope)");
            return false;
        }
        *out = c->value;
        lex(p);
        return true;
    }
    fail(p, "an integer constant expression");
    return false;
}

static int binprec(parser *p) {
    static const struct {
        const char *op;
        int prec;
    } ops[] = {{"|", 1}, {"^", 2}, {"&", 3}, {"<<", 4}, {">>", 4},
               {"+", 5}, {"-", 5}, {"*", 6}, {"/", 6},  {"%", 6}};
    if (p->tk != TK_PUNCT) return 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is(p, ops[i].op)) return ops[i].prec;
    return 0;
}

static bool cexpr(parser *p, int minprec, int64_t *out) {
    if (!cprimary(p, out)) return false;
    for (;;) {
        int prec = binprec(p);
        if (!prec || prec < minprec) return true;
        char op[3] = {p->src[p->pos], p->end - p->pos > 1 ? p->src[p->pos + 1] : 0, 0};
        lex(p);
        int64_t r;
        if (!cexpr(p, prec + 1, &r)) return false;
        uint64_t a = (uint64_t)*out, b = (uint64_t)r;
        switch (op[0]) {
        case '|': *out = (int64_t)(a | b); break;
        case '^': *out = (int64_t)(a ^ b); break;
        case '&': *out = (int64_t)(a & b); break;
        case '+': *out = (int64_t)(a + b); break;
        case '-': *out = (int64_t)(a - b); break;
        case '*': *out = (int64_t)(a * b); break;
        case '<':
        case '>':
            if (r < 0 || r > 63) {
                fail(p, "a shift count between 0 and 63");
                return false;
            }
            *out = op[0] == '<' ? (int64_t)(a << r) : *out >> r;
            break;
        default: /* '/', '%' */
            if (r == 0 || (r == -1 && *out == INT64_MIN)) {
                fail(p, "a divisor that is not zero (nor -1 under INT64_MIN)");
                return false;
            }
            *out = op[0] == '/' ? *out / r : *out % r;
            break;
        }
    }
}

/* --- struct and enum specifiers ------------------------------------------------------------ */

static ctype *specifiers(parser *p);
static ctype *declarator(parser *p, ctype *base, char **name, bool abstract_ok);

static bool incomplete(const ctype *t) {
    return t->kind == CT_STRUCT && !t->st->complete;
}

/* The fields of a struct definition, after '{' (cdef only); lays the struct out. */
static bool struct_body(parser *p, cstruct *st) {
    st->nfields = 0;
    st->fields = NULL;
    int cap = 0;
    while (!p->err && !accept(p, "}")) {
        ctype *base = specifiers(p);
        if (!base) break;
        for (;;) {
            char *fname = NULL;
            size_t fpos = p->pos;
            ctype *ft = declarator(p, base, &fname, false);
            if (!ft) break;
            if (incomplete(ft)) {
                seek(p, fpos);
                fail(p,
                     "a field of a complete type ('struct %s' is declared but not defined: "
                     "a field can only point to it)",
                     ft->st->name);
                break;
            }
            if (ft->kind == CT_VOID || ft->kind == CT_FUNC || ft->size == 0) {
                fail(p, "a field of a complete type");
                break;
            }
            if (st->nfields == cap) {
                int ncap = cap ? cap * 2 : 8;
                cfield *nf = fa_alloc(p->arena, (size_t)ncap * sizeof *nf);
                if (!nf) {
                    oom(p);
                    break;
                }
                if (cap) memcpy(nf, st->fields, (size_t)cap * sizeof *nf);
                st->fields = nf;
                cap = ncap;
            }
            st->fields[st->nfields].name = fname;
            st->fields[st->nfields].type = ft;
            st->nfields++;
            if (!accept(p, ",")) break;
        }
        if (p->err) break;
        expect(p, ";", "';' after a field");
    }
    if (p->err) return false;
    if (st->nfields == 0) {
        fail(p, "at least one field");
        return false;
    }
    if (!ct_layout_struct(p->arena, st)) {
        fail(p, "a struct libffi can lay out");
        return false;
    }
    return true;
}

/* After `struct`: a reference (`struct NAME`: a struct not defined yet is declared, incomplete:
 * usable through pointers), or in cdef a definition (`struct [NAME] { ... }`; anonymous only
 * in a typedef). */
static ctype *struct_spec(parser *p) {
    size_t npos = p->pos, nlen = 0;
    if (p->tk == TK_IDENT) {
        nlen = p->end - p->pos;
        lex(p);
    } else if (!(is(p, "{") && p->in_typedef)) {
        fail(p, "a struct name");
        return NULL;
    }
    const char *name = p->src + npos;
    cstruct *st = NULL;
    if (nlen) {
        st = p->defining;
        while (st && (strlen(st->name) != nlen || memcmp(st->name, name, nlen) != 0))
            st = NULL;
        if (!st) st = ct_find_struct(p->scope, name, nlen);
    }
    if (p->cdef && is(p, "{")) {
        if (st && (st->complete || st == p->defining)) {
            seek(p, npos);
            fail(p, "a new struct name (already defined)");
            return NULL;
        }
        bool fresh = !st;
        if (fresh) {
            st = fa_alloc(p->arena, sizeof *st);
            if (st) st->name = fa_strndup(p->arena, name, nlen);
            if (!st || !st->name) {
                oom(p);
                return NULL;
            }
        }
        lex(p);
        cstruct *outer = p->defining;
        p->defining = st; /* size 0 until laid out: only a pointer to it is a valid field */
        bool ok = struct_body(p, st);
        p->defining = outer;
        if (!ok) return NULL;
        if (fresh && nlen) {
            st->next = p->scope->structs;
            p->scope->structs = st;
        }
    } else if (!st) {
        /* declared here, defined (if ever) by a later cdef */
        st = fa_alloc(&p->scope->arena, sizeof *st);
        if (st) st->name = fa_strndup(&p->scope->arena, name, nlen);
        if (!st || !st->name) {
            oom(p);
            return NULL;
        }
        st->next = p->scope->structs;
        p->scope->structs = st;
    }
    ctype *t = fa_alloc(p->arena, sizeof *t);
    if (!t) {
        oom(p);
        return NULL;
    }
    t->kind = CT_STRUCT;
    t->st = st;
    t->size = st->ft.size;
    t->align = st->ft.alignment;
    t->ft = &st->ft;
    return t;
}

/* After `enum`: a reference to an enum defined with cdef, or in cdef a definition. Each
 * enumerator becomes a constant of the scope; the type is `int` when every value fits (as C
 * compilers do), else `unsigned int`, `uint64_t` or `int64_t`. */
static ctype *enum_spec(parser *p) {
    size_t npos = p->pos, nlen = 0;
    if (p->tk == TK_IDENT) {
        nlen = p->end - p->pos;
        lex(p);
    } else if (!(is(p, "{") && p->cdef)) {
        fail(p, "an enum name");
        return NULL;
    }
    cname *tag = nlen ? ct_find_name(p->scope, CN_ENUM, p->src + npos, nlen) : NULL;
    if (!(p->cdef && is(p, "{"))) {
        if (!tag) {
            seek(p, npos);
            fail(p, "an enum defined with cdef (unknown enum)");
            return NULL;
        }
        return tag->type;
    }
    if (tag) {
        seek(p, npos);
        fail(p, "a new enum name (already defined)");
        return NULL;
    }
    lex(p);
    int64_t next = 0, lo = 0, hi = 0;
    bool any = false, wrapped = false;
    while (!accept(p, "}")) {
        if (p->tk != TK_IDENT) {
            fail(p, "an enumerator name");
            return NULL;
        }
        size_t cpos = p->pos, clen = p->end - p->pos;
        lex(p);
        int64_t v = next;
        if (accept(p, "=")) {
            if (!cexpr(p, 1, &v)) return NULL;
        } else if (wrapped) {
            seek(p, cpos);
            fail(p, "an enumerator whose value fits in 64 bits");
            return NULL;
        }
        define_const(p, cpos, clen, v);
        if (p->err) return NULL;
        lo = !any || v < lo ? v : lo;
        hi = !any || v > hi ? v : hi;
        any = true;
        wrapped = v == INT64_MAX;
        next = wrapped ? v : v + 1;
        if (!accept(p, ",")) {
            expect(p, "}", "',' or '}' after an enumerator");
            if (p->err) return NULL;
            break;
        }
    }
    if (!any) {
        fail(p, "at least one enumerator");
        return NULL;
    }
    ct_kind k = lo >= INT32_MIN && hi <= INT32_MAX     ? CT_I32
                : lo >= 0 && hi <= (int64_t)UINT32_MAX ? CT_U32
                : lo >= 0                              ? CT_U64
                                                       : CT_I64;
    ctype *t = ct_scalar(k);
    if (nlen) {
        tag = add_name(p, CN_ENUM, p->src + npos, nlen);
        if (!tag) return NULL;
        tag->type = t;
    }
    return t;
}

static ctype *specifiers(parser *p) {
    int nsigned = 0, nunsigned = 0, nshort = 0, nlong = 0, nint = 0, nchar = 0;
    int nfloat = 0, ndouble = 0, ncomplex = 0;
    bool is_const = false;
    ctype *named = NULL;
    bool tagged = false;
    for (;;) {
        if (accept(p, "const"))
            is_const = true;
        else if (accept(p, "volatile") || accept(p, "extern")) {
        } else if (accept(p, "signed"))
            nsigned++;
        else if (accept(p, "unsigned"))
            nunsigned++;
        else if (accept(p, "short"))
            nshort++;
        else if (accept(p, "long"))
            nlong++;
        else if (accept(p, "int"))
            nint++;
        else if (accept(p, "char"))
            nchar++;
        else if (accept(p, "float")) /* (before `typedefs`: they combine with long, _Complex) */
            nfloat++;
        else if (accept(p, "double"))
            ndouble++;
        else if (accept(p, "_Complex") || accept(p, "complex")) /* complex: <complex.h>'s macro */
            ncomplex++;
        else if (is(p, "struct") || is(p, "enum")) {
            bool st = is(p, "struct");
            lex(p);
            p->type_pos = p->pos;
            if (named) {
                fail(p, "one type, not two");
                return NULL;
            }
            named = st ? struct_spec(p) : enum_spec(p);
            if (!named) return NULL;
            tagged = true;
        } else if (p->tk == TK_IDENT && !named && !nsigned && !nunsigned && !nshort && !nlong &&
                   !nint && !nchar && !nfloat && !ndouble && !ncomplex) {
            int i = builtin_typedef(p);
            p->type_pos = p->pos;
            if (i >= 0) {
                named = ct_scalar(typedefs[i].kind);
            } else {
                cname *td = ct_find_name(p->scope, CN_TYPEDEF, p->src + p->pos, p->end - p->pos);
                if (!td) break;
                named = td->type;
                if (named->kind == CT_STRUCT && named->size != named->st->ft.size) {
                    /* a struct declared when the typedef was made, defined since */
                    ctype *c = fa_alloc(p->arena, sizeof *c);
                    if (!c) {
                        oom(p);
                        return NULL;
                    }
                    *c = *named;
                    c->size = c->st->ft.size;
                    c->align = c->st->ft.alignment;
                    named = c;
                }
            }
            lex(p);
        } else {
            break;
        }
    }
    if (p->err) return NULL;
    p->tagged = tagged;
    if (!named &&
        !(nsigned + nunsigned + nshort + nlong + nint + nchar + nfloat + ndouble + ncomplex)) {
        if (p->tk == TK_IDENT)
            fail(p,
                 "a type name ('%.*s', not a C type, nor a typedef of this scope: define it "
                 "with typedef in cdef first)",
                 (int)(p->end - p->pos > 64 ? 64 : p->end - p->pos), p->src + p->pos);
        else
            fail(p, "a type name");
        return NULL;
    }
    ctype *t;
    if (nfloat || ndouble || ncomplex) {
        t = float_type(p, nfloat, ndouble, ncomplex, nlong,
                       nsigned + nunsigned + nshort + nint + nchar + (named != NULL));
        if (!t) return NULL;
    } else if (named) {
        if (nsigned || nunsigned || nshort || nlong || nint || nchar) {
            fail(p, "a type name used alone");
            return NULL;
        }
        t = named;
    } else if (nsigned + nunsigned > 1 || nshort > 1 || nlong > 2 || nint > 1 || nchar > 1 ||
               (nshort && (nlong || nchar)) || (nchar && (nlong || nint))) {
        fail(p, "a valid combination of type specifiers");
        return NULL;
    } else if (nchar) {
        t = nsigned ? ct_scalar(CT_I8) : nunsigned ? ct_scalar(CT_U8) : &ct_char_type;
    } else if (nshort) {
        t = ct_scalar(int_kind(2, nunsigned));
    } else if (nlong) {
        t = ct_scalar(int_kind((int)sizeof(long) * (nlong == 1) + 8 * (nlong == 2), nunsigned));
    } else if (nsigned || nunsigned || nint) {
        t = ct_scalar(int_kind(4, nunsigned));
    } else {
        fail(p, "a type name");
        return NULL;
    }
    if (is_const) {
        t = ct_qualified(p->arena, t);
        if (!t) oom(p);
    }
    return t;
}

/* --- declarators ----------------------------------------------------------------------------- */

static ctype *adjust_param(parser *p, ctype *t) {
    if (t->kind == CT_FUNC) return ct_pointer(p->arena, t);
    if (t->kind == CT_ARRAY) return ct_pointer(p->arena, t->pointee);
    return t;
}

static ctype *params(parser *p, ctype *ret) {
    /* after '(' */
    cfunc *fn = fa_alloc(p->arena, sizeof *fn);
    ctype *t = fa_alloc(p->arena, sizeof *t);
    if (!fn || !t) {
        oom(p);
        return NULL;
    }
    if (ret->kind == CT_FUNC || ret->kind == CT_ARRAY) {
        fail(p, "a function returning a value (functions cannot return functions or arrays)");
        return NULL;
    }
    if (incomplete(ret)) {
        seek(p, p->type_pos);
        fail(p,
             "a complete return type ('struct %s' is declared but not defined: return a "
             "pointer to it, or define it with cdef)",
             ret->st->name);
        return NULL;
    }
    fn->ret = ret;
    t->kind = CT_FUNC;
    t->fn = fn;
    int cap = 0;
    if (is(p, "void")) {
        size_t save = p->end, savepos = p->pos;
        lex(p);
        if (is(p, ")")) {
            lex(p);
            return t;
        }
        p->pos = savepos;
        p->end = savepos;
        lex(p);
        (void)save;
    }
    if (accept(p, ")")) return t;
    for (;;) {
        if (p->tk == TK_ELLIPSIS) {
            if (fn->nparams == 0) {
                fail(p, "a parameter before '...'");
                return NULL;
            }
            lex(p);
            fn->variadic = true;
            expect(p, ")", "')' after '...'");
            return p->err ? NULL : t;
        }
        ctype *pt = specifiers(p);
        if (!pt) return NULL;
        char *pname = NULL;
        pt = declarator(p, pt, &pname, true);
        if (!pt) return NULL;
        if (pt->kind == CT_VOID) {
            fail(p, "a parameter type (void only alone, as in f(void))");
            return NULL;
        }
        pt = adjust_param(p, pt);
        if (!pt) {
            oom(p);
            return NULL;
        }
        if (incomplete(pt)) {
            seek(p, p->type_pos);
            fail(p,
                 "a complete type for parameter %d ('struct %s' is declared but not defined: "
                 "pass a pointer to it, or define it with cdef)",
                 fn->nparams + 1, pt->st->name);
            return NULL;
        }
        if (fn->nparams == cap) {
            int ncap = cap ? cap * 2 : 8;
            ctype **np = fa_alloc(p->arena, (size_t)ncap * sizeof *np);
            char **nn = fa_alloc(p->arena, (size_t)ncap * sizeof *nn);
            if (!np || !nn) {
                oom(p);
                return NULL;
            }
            if (cap) {
                memcpy(np, fn->params, (size_t)cap * sizeof *np);
                memcpy(nn, fn->pnames, (size_t)cap * sizeof *nn);
            }
            fn->params = np;
            fn->pnames = nn;
            cap = ncap;
        }
        fn->params[fn->nparams] = pt;
        fn->pnames[fn->nparams] = pname;
        fn->nparams++;
        if (accept(p, ")")) return t;
        if (!accept(p, ",")) {
            fail(p, "',' or ')' in the parameter list");
            return NULL;
        }
    }
}

static ctype *suffixes(parser *p, ctype *t) {
    for (;;) {
        if (accept(p, "(")) {
            t = params(p, t);
            if (!t) return NULL;
        } else if (accept(p, "[")) {
            if (p->tk != TK_NUM) {
                fail(p, "an array length (a number)");
                return NULL;
            }
            char *e;
            unsigned long long n = strtoull(p->src + p->pos, &e, 0);
            if (e != p->src + p->end || n == 0 || n > (1u << 24)) {
                fail(p, "an array length between 1 and 16777216");
                return NULL;
            }
            lex(p);
            expect(p, "]", "']'");
            if (p->err) return NULL;
            if (t->kind == CT_VOID || t->kind == CT_FUNC || incomplete(t)) {
                fail(p, "an array of a complete type");
                return NULL;
            }
            /* int a[2][3]: the first length is the outermost. */
            ctype *inner = suffixes(p, t);
            if (!inner) return NULL;
            t = ct_array(p->arena, inner, (size_t)n);
            if (!t) oom(p);
            return t;
        } else {
            return t;
        }
    }
}

static ctype *declarator(parser *p, ctype *base, char **name, bool abstract_ok) {
    if (++p->depth > 64) {
        fail(p, "a simpler declaration (nested too deeply)");
        return NULL;
    }
    while (accept(p, "*")) {
        base = ct_pointer(p->arena, base);
        if (!base) {
            oom(p);
            return NULL;
        }
        for (;;) {
            if (accept(p, "const")) {
                base = ct_qualified(p->arena, base);
                if (!base) {
                    oom(p);
                    return NULL;
                }
            } else if (!accept(p, "volatile") && !accept(p, "restrict") &&
                       !accept(p, "__restrict")) {
                break;
            }
        }
    }
    ctype *t;
    if (is(p, "(")) {
        /* A nested declarator `(*name)` or a parameter list? */
        size_t save_pos = p->pos, save_end = p->end;
        lex(p);
        bool nested = is(p, "*") || is(p, "(");
        if (!nested) {
            p->pos = save_pos;
            p->end = save_pos;
            lex(p);
            t = suffixes(p, base);
        } else {
            /* Skip the inner declarator, apply the suffixes after it to `base`, then parse the
             * inner declarator with that as its base. */
            size_t inner = p->pos;
            int level = 1;
            while (level > 0 && p->tk != TK_EOF) {
                if (is(p, "("))
                    level++;
                else if (is(p, ")"))
                    level--;
                if (level > 0) lex(p);
            }
            if (p->tk == TK_EOF) {
                fail(p, "')' closing the nested declarator");
                return NULL;
            }
            lex(p); /* ')' */
            ctype *outer = suffixes(p, base);
            if (!outer) return NULL;
            size_t after_pos = p->pos, after_end = p->end;
            int after_tk = p->tk;
            p->pos = p->end = inner;
            lex(p);
            t = declarator(p, outer, name, abstract_ok);
            if (!t) return NULL;
            if (!is(p, ")")) {
                fail(p, "')' closing the nested declarator");
                return NULL;
            }
            p->pos = after_pos;
            p->end = after_end;
            p->tk = after_tk;
        }
        (void)save_end;
    } else {
        if (p->tk == TK_IDENT && !is_specifier(p)) {
            if (name) *name = fa_strndup(p->arena, p->src + p->pos, p->end - p->pos);
            lex(p);
        } else if (!abstract_ok) {
            fail(p, "a name");
            return NULL;
        }
        t = suffixes(p, base);
    }
    p->depth--;
    return t;
}

/* --- entry points ---------------------------------------------------------------------------- */

/* Each entry point holds the scope's lock for its whole parse: lookups see complete
 * definitions, and a cdef defines its names at once for every other thread. */

static cryo_error *parse_decl(parser *p, ffi_arena *a, char **name, ctype **type) {
    lex(p);
    ctype *base = specifiers(p);
    ctype *t = base ? declarator(p, base, name, true) : NULL;
    if (t && !p->err) {
        accept(p, ";");
        if (p->tk != TK_EOF) fail(p, "the end of the declaration");
    }
    if (!p->err && t) {
        /* A function pointer type is used as its function type. */
        if (t->kind == CT_PTR && t->pointee && t->pointee->kind == CT_FUNC) t = t->pointee;
        if (t->kind != CT_FUNC) {
            seek(p, 0);
            fail(p, "a function declaration or a function pointer type");
        }
    }
    /* A function type of a typedef was prepared when the typedef was made (in the scope). */
    if (!p->err &&
        !(t->fn->atypes ? t->fn->variadic || t->fn->cif_ok : ct_prepare_func(a, t->fn))) {
        seek(p, 0);
        fail(p, "a function type libffi can call (unsupported by-value type)");
    }
    if (p->err) return p->err;
    *type = t;
    if (!*name) *name = fa_strndup(a, "", 0);
    return NULL;
}

cryo_error *cf_parse_decl(cryo_ffi_scope *s, ffi_arena *a, const char *src, char **name,
                          ctype **type) {
    parser p;
    parser_init(&p, s, a, src);
    *name = NULL;
    *type = NULL;
    pthread_mutex_lock(&s->lock);
    cryo_error *e = parse_decl(&p, a, name, type);
    pthread_mutex_unlock(&s->lock);
    return e;
}

/* `#define NAME` (an empty macro, skipped wherever it appears in this scope's declarations,
 * as `SQLITE_API` in sqlite3.h) or `#define NAME <integer constant expression>`. */
static void define(parser *p) {
    size_t eol = p->end;
    while (p->src[eol] && p->src[eol] != '\n')
        eol++;
    p->limit = eol;
    p->raw = true;
    lex(p);
    p->raw = true;
    if (!accept(p, "define")) {
        fail(p, "'define' ('#define NAME' or '#define NAME integer'; other preprocessor lines "
                "are not supported)");
        return;
    }
    if (p->tk != TK_IDENT) {
        fail(p, "a macro name");
        return;
    }
    size_t npos = p->pos, nlen = p->end - p->pos;
    const char *name = p->src + npos;
    lex(p);
    if (p->tk == TK_EOF) {
        if (ct_find_name(p->scope, CN_EMPTY, name, nlen)) {
        } else if (ct_find_name(p->scope, CN_CONST, name, nlen) ||
                   ct_find_name(p->scope, CN_TYPEDEF, name, nlen)) {
            seek(p, npos);
            fail(p, "a new macro name (already a constant or typedef)");
        } else {
            add_name(p, CN_EMPTY, name, nlen);
        }
    } else if (is(p, "(") && p->pos == npos + nlen) {
        fail(p, "an object-like macro (function-like macros are not supported)");
    } else {
        int64_t v;
        if (cexpr(p, 1, &v)) {
            if (p->tk != TK_EOF)
                fail(p, "the end of the #define line (the value must be an integer constant "
                        "expression)");
            else
                define_const(p, npos, nlen, v);
        }
    }
    if (p->err) return;
    p->limit = SIZE_MAX;
    p->end = eol;
    lex(p);
}

/* The function type of a typedef'd function or function pointer type, or NULL. */
static ctype *func_of(ctype *t) {
    if (t->kind == CT_PTR && t->pointee && t->pointee->kind == CT_FUNC) return t->pointee;
    return t->kind == CT_FUNC ? t : NULL;
}

static void define_typedef(parser *p, size_t npos, const char *name, ctype *t) {
    size_t len = strlen(name);
    char was[256], now[256];
    ct_describe(t, now, sizeof now);
    seek(p, npos);
    int i = -1;
    for (size_t k = 0; k < sizeof typedefs / sizeof typedefs[0]; k++)
        if (strcmp(typedefs[k].name, name) == 0) i = (int)k;
    cname *old = ct_find_name(p->scope, CN_TYPEDEF, name, len);
    if (i >= 0 || old) {
        ct_describe(i >= 0 ? ct_scalar(typedefs[i].kind) : old->type, was, sizeof was);
        if (strcmp(was, now) != 0)
            fail(p, "a typedef that agrees with the earlier one ('%s' is '%s', not '%s')", name,
                 was, now);
    } else if (ct_find_name(p->scope, CN_CONST, name, len) ||
               ct_find_name(p->scope, CN_ENUM, name, len)) {
        fail(p, "a new typedef name ('%s' is already a constant)", name);
    } else {
        ctype *f = func_of(t);
        if (f && !f->fn->atypes && !ct_prepare_func(p->arena, f->fn)) {
            fail(p, "a function type libffi can call (unsupported by-value type)");
        } else {
            cname *n = add_name(p, CN_TYPEDEF, name, len);
            if (n) n->type = t;
        }
    }
}

static void parse_cdef(parser *p) {
    lex(p);
    while (p->tk != TK_EOF && !p->err) {
        if (accept(p, ";")) continue;
        if (is(p, "#")) {
            define(p);
            continue;
        }
        size_t start = p->pos;
        bool td = accept(p, "typedef");
        p->in_typedef = td;
        ctype *base = specifiers(p);
        p->in_typedef = false;
        if (!base) break;
        if (td) {
            for (;;) {
                char *name = NULL;
                size_t dpos = p->pos;
                ctype *t = declarator(p, base, &name, false);
                if (!t) break;
                if (!name) { /* `typedef int (uint8_t *x)(void);` declares no name */
                    fail(p, "a typedef needs a name");
                    break;
                }
                size_t after = p->pos;
                define_typedef(p, dpos, name, t);
                if (p->err) break;
                seek(p, after);
                if (!accept(p, ",")) break;
            }
            if (p->err) break;
            expect(p, ";", "';' after the typedef");
        } else if (p->tagged) {
            expect(p, ";", "';' after the struct definition");
        } else {
            seek(p, start);
            fail(p, "'typedef ...;', 'struct NAME { ... };', 'enum [NAME] { ... };' or "
                    "'#define NAME value' (cdef defines types and constants; declare functions "
                    "with ffi::func or cryo_ffi_parse)");
        }
    }
}

cryo_error *cf_parse_cdef(cryo_ffi_scope *s, const char *src) {
    parser p;
    parser_init(&p, s, &s->arena, src);
    p.cdef = true;
    pthread_mutex_lock(&s->lock);
    parse_cdef(&p);
    pthread_mutex_unlock(&s->lock);
    return p.err;
}

/* --- public ---------------------------------------------------------------------------------- */

cryo_error *cf_parse_type(cryo_ffi_scope *s, ffi_arena *a, const char *src, ctype **type) {
    parser p;
    parser_init(&p, s, a, src);
    *type = NULL;
    pthread_mutex_lock(&s->lock);
    lex(&p);
    ctype *base = specifiers(&p);
    ctype *t = base ? declarator(&p, base, NULL, true) : NULL;
    if (t && !p.err && p.tk != TK_EOF) fail(&p, "the end of the type");
    pthread_mutex_unlock(&s->lock);
    if (p.err) return p.err;
    *type = t;
    return NULL;
}

cryo_error_kind cryo_ffi_const(cryo_ffi_scope *scope, const char *name, int64_t *value) {
    if (!name || !value) return CRYO_ERR_API;
    cryo_ffi_scope *s = cf_scope(scope);
    pthread_mutex_lock(&s->lock);
    cname *c = ct_find_name(s, CN_CONST, name, strlen(name));
    if (c) *value = c->value;
    pthread_mutex_unlock(&s->lock);
    return c ? CRYO_OK : CRYO_ERR_NOT_FOUND;
}

cryo_ffi_sig *cryo_ffi_parse(cryo_ffi_scope *scope, const char *decl, cryo_error **err) {
    cf_pointer_install(); /* a signature is for calls that make pointer values */
    return cf_sig_parse(scope, decl, err, true);
}

void cf_sig_free(cryo_ffi_sig *g) {
    fa_free(&g->arena);
    free(g);
}

cryo_ffi_sig *cf_sig_parse(cryo_ffi_scope *scope, const char *decl, cryo_error **err, bool link) {
    scope = cf_scope(scope);
    if (err) *err = NULL;
    cryo_ffi_sig *g = calloc(1, sizeof *g);
    if (!g || !decl) {
        free(g);
        return NULL;
    }
    cryo_error *e = cf_parse_decl(scope, &g->arena, decl, &g->name, &g->type);
    if (e) {
        fa_free(&g->arena);
        free(g);
        if (err)
            *err = e;
        else
            cryo_error_free(e);
        return NULL;
    }
    g->fn = g->type->fn;
    g->scope = scope;
    if (!link) return g;
    pthread_mutex_lock(&scope->lock);
    g->next = scope->sigs;
    scope->sigs = g;
    pthread_mutex_unlock(&scope->lock);
    return g;
}

cryo_error_kind cryo_ffi_cdef(cryo_ffi_scope *scope, const char *decls, cryo_error **err) {
    if (err) *err = NULL;
    if (!decls) return CRYO_ERR_API;
    cryo_error *e = cf_parse_cdef(cf_scope(scope), decls);
    if (!e) return CRYO_OK;
    cryo_error_kind k = e->kind;
    if (err)
        *err = e;
    else
        cryo_error_free(e);
    return k;
}

const char *cryo_ffi_sig_name(const cryo_ffi_sig *sig) {
    return sig->name;
}
int cryo_ffi_sig_nparams(const cryo_ffi_sig *sig) {
    return sig->fn->nparams;
}
bool cryo_ffi_sig_variadic(const cryo_ffi_sig *sig) {
    return sig->fn->variadic;
}
