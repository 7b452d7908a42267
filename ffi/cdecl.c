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
} parser;

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
        break;
    }
    p->pos = i;
    if (!s[i]) {
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
    } else if (strchr("*()[],;{}", s[i])) {
        p->tk = TK_PUNCT;
        p->end = i + 1;
    } else {
        p->tk = TK_BAD;
        p->end = i + 1;
    }
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

static bool is_specifier(parser *p) {
    if (p->tk != TK_IDENT) return false;
    static const char *const kw[] = {"const", "volatile", "signed",   "unsigned", "short",  "long",
                                     "int",   "char",     "_Complex", "complex",  "struct", NULL};
    for (int i = 0; kw[i]; i++)
        if (is(p, kw[i])) return true;
    for (size_t i = 0; i < sizeof typedefs / sizeof typedefs[0]; i++)
        if (is(p, typedefs[i].name)) return true;
    return false;
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

static ctype *specifiers(parser *p) {
    int nsigned = 0, nunsigned = 0, nshort = 0, nlong = 0, nint = 0, nchar = 0;
    int nfloat = 0, ndouble = 0, ncomplex = 0;
    bool is_const = false;
    ctype *named = NULL;
    size_t start = p->pos;
    for (;;) {
        if (accept(p, "const"))
            is_const = true;
        else if (accept(p, "volatile")) {
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
        else if (is(p, "struct")) {
            lex(p);
            if (named || p->tk != TK_IDENT) {
                fail(p, named ? "one type, not two" : "a struct name");
                return NULL;
            }
            size_t len = p->end - p->pos;
            cstruct *st = p->defining;
            if (!st || strlen(st->name) != len || memcmp(st->name, p->src + p->pos, len) != 0) {
                pthread_mutex_lock(&p->scope->lock);
                st = ct_find_struct(p->scope, p->src + p->pos, len);
                pthread_mutex_unlock(&p->scope->lock);
            }
            if (!st) {
                fail(p, "a struct defined with cdef (unknown struct)");
                return NULL;
            }
            named = fa_alloc(p->arena, sizeof *named);
            if (!named) {
                oom(p);
                return NULL;
            }
            named->kind = CT_STRUCT;
            named->st = st;
            named->size = st->ft.size;
            named->align = st->ft.alignment;
            named->ft = &st->ft;
            lex(p);
        } else if (p->tk == TK_IDENT && !named && !nsigned && !nunsigned && !nshort && !nlong &&
                   !nint && !nchar && !nfloat && !ndouble && !ncomplex) {
            size_t i, n = sizeof typedefs / sizeof typedefs[0];
            for (i = 0; i < n; i++)
                if (is(p, typedefs[i].name)) break;
            if (i == n) break;
            named = ct_scalar(typedefs[i].kind);
            lex(p);
        } else {
            break;
        }
    }
    if (p->err) return NULL;
    if (p->pos == start) {
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
    } else {
        t = ct_scalar(int_kind(4, nunsigned));
    }
    if (is_const) {
        t = ct_qualified(p->arena, t);
        if (!t) oom(p);
    }
    return t;
}

/* --- declarators ----------------------------------------------------------------------------- */

static ctype *declarator(parser *p, ctype *base, char **name, bool abstract_ok);

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
            if (t->kind == CT_VOID || t->kind == CT_FUNC) {
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

cryo_error *cf_parse_decl(cryo_ffi_scope *s, ffi_arena *a, const char *src, char **name,
                          ctype **type) {
    parser p = {.src = src, .scope = s, .arena = a};
    lex(&p);
    *name = NULL;
    *type = NULL;
    ctype *base = specifiers(&p);
    ctype *t = base ? declarator(&p, base, name, true) : NULL;
    if (t && !p.err) {
        accept(&p, ";");
        if (p.tk != TK_EOF) fail(&p, "the end of the declaration");
    }
    if (!p.err && t) {
        /* A function pointer type is used as its function type. */
        if (t->kind == CT_PTR && t->pointee && t->pointee->kind == CT_FUNC) t = t->pointee;
        if (t->kind != CT_FUNC) {
            p.pos = 0;
            fail(&p, "a function declaration or a function pointer type");
        }
    }
    if (!p.err && !ct_prepare_func(a, t->fn)) {
        p.pos = 0;
        fail(&p, "a function type libffi can call (unsupported by-value type)");
    }
    if (p.err) return p.err;
    *type = t;
    if (!*name) *name = fa_strndup(a, "", 0);
    return NULL;
}

cryo_error *cf_parse_cdef(cryo_ffi_scope *s, const char *src) {
    parser p = {.src = src, .scope = s, .arena = &s->arena};
    lex(&p);
    while (p.tk != TK_EOF && !p.err) {
        if (accept(&p, ";")) continue;
        if (!accept(&p, "struct")) {
            fail(&p, "'struct NAME { ... };'");
            break;
        }
        if (p.tk != TK_IDENT) {
            fail(&p, "a struct name");
            break;
        }
        size_t npos = p.pos, nlen = p.end - p.pos;
        pthread_mutex_lock(&s->lock);
        cstruct *old = ct_find_struct(s, src + npos, nlen);
        pthread_mutex_unlock(&s->lock);
        if (old) {
            fail(&p, "a new struct name (already defined)");
            break;
        }
        lex(&p);
        expect(&p, "{", "'{'");
        cstruct *st = fa_alloc(p.arena, sizeof *st);
        if (!st) {
            oom(&p);
            break;
        }
        st->name = fa_strndup(p.arena, src + npos, nlen);
        if (!st->name) {
            oom(&p);
            break;
        }
        p.defining = st; /* size 0 until laid out: only a pointer to it is a valid field */
        int cap = 0;
        while (!p.err && !accept(&p, "}")) {
            ctype *base = specifiers(&p);
            if (!base) break;
            for (;;) {
                char *fname = NULL;
                ctype *ft = declarator(&p, base, &fname, false);
                if (!ft) break;
                if (ft->kind == CT_VOID || ft->kind == CT_FUNC || ft->size == 0) {
                    fail(&p, "a field of a complete type");
                    break;
                }
                if (st->nfields == cap) {
                    int ncap = cap ? cap * 2 : 8;
                    cfield *nf = fa_alloc(p.arena, (size_t)ncap * sizeof *nf);
                    if (!nf) {
                        oom(&p);
                        break;
                    }
                    if (cap) memcpy(nf, st->fields, (size_t)cap * sizeof *nf);
                    st->fields = nf;
                    cap = ncap;
                }
                st->fields[st->nfields].name = fname;
                st->fields[st->nfields].type = ft;
                st->nfields++;
                if (!accept(&p, ",")) break;
            }
            if (p.err) break;
            expect(&p, ";", "';' after a field");
        }
        p.defining = NULL;
        if (p.err) break;
        if (st->nfields == 0) {
            fail(&p, "at least one field");
            break;
        }
        expect(&p, ";", "';' after the struct definition");
        if (p.err) break;
        if (!ct_layout_struct(p.arena, st)) {
            fail(&p, "a struct libffi can lay out");
            break;
        }
        pthread_mutex_lock(&s->lock);
        st->next = s->structs;
        s->structs = st;
        pthread_mutex_unlock(&s->lock);
    }
    return p.err;
}

/* --- public ---------------------------------------------------------------------------------- */

cryo_error *cf_parse_type(cryo_ffi_scope *s, ffi_arena *a, const char *src, ctype **type) {
    parser p = {.src = src, .scope = s, .arena = a};
    lex(&p);
    *type = NULL;
    ctype *base = specifiers(&p);
    ctype *t = base ? declarator(&p, base, NULL, true) : NULL;
    if (t && !p.err && p.tk != TK_EOF) fail(&p, "the end of the type");
    if (p.err) return p.err;
    *type = t;
    return NULL;
}

cryo_ffi_sig *cryo_ffi_parse(cryo_ffi_scope *scope, const char *decl, cryo_error **err) {
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
