/*
 * lex.c — turns source text into tokens (see lex.h).
 *
 * Backtick strings with ${...} are split into T_INTERP_BEGIN / T_INTERP_MID / T_INTERP_END
 * pieces around ordinary tokens: a stack remembers, per open interpolation, how many `{` are
 * open inside it, so the `}` that closes the interpolation resumes the string.
 */
#include "lex.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INTERP CRYO_MAX_PARSE_DEPTH

typedef struct lexer {
    const char *src;
    size_t len, pos;
    int line, col;
    const char *name;
    cryo_arena *arena;
    cryo_tokens *out;
    int cap;
    cryo_error **errors; /* the tail of the chain: new errors go here */
    /* decoded-string scratch buffer */
    char *buf;
    size_t blen, bcap;
    bool oom;
    /* open interpolations: braces open inside each, and where its backtick string began */
    int interp[MAX_INTERP];
    int interp_line[MAX_INTERP], interp_col[MAX_INTERP];
    int ninterp;
} lexer;

static void lex_error(lexer *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void lex_error(lexer *L, int line, int col, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cryo_error *e = cl_error_new(CRYO_ERR_PARSE, L->name, line, col, "%s", msg);
    if (!e) {
        L->oom = true;
        return;
    }
    while (*L->errors)
        L->errors = &(*L->errors)->next;
    *L->errors = e;
    L->errors = &e->next;
}

static int peekc(const lexer *L, size_t off) {
    return L->pos + off < L->len ? (unsigned char)L->src[L->pos + off] : -1;
}

/* Columns count characters, so UTF-8 continuation bytes do not advance the column. */
static void adv(lexer *L) {
    unsigned char c = (unsigned char)L->src[L->pos++];
    if (c == '\n') {
        L->line++;
        L->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        L->col++;
    }
}

static void buf_put(lexer *L, const char *s, size_t n) {
    if (L->blen + n > L->bcap) {
        size_t cap = L->bcap ? L->bcap * 2 : 64;
        while (cap < L->blen + n)
            cap *= 2;
        char *nb = realloc(L->buf, cap);
        if (!nb) {
            L->oom = true;
            return;
        }
        L->buf = nb;
        L->bcap = cap;
    }
    memcpy(L->buf + L->blen, s, n);
    L->blen += n;
}

static void buf_put_cp(lexer *L, uint32_t cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_put(L, b, n);
}

/* Copies the scratch buffer into the arena as a NUL-terminated string. */
static const char *buf_finish(lexer *L, size_t *len) {
    char *s = cl_arena_alloc_str(L->arena, L->blen + 1);
    if (!s) {
        L->oom = true;
        *len = 0;
        return "";
    }
    if (L->blen) memcpy(s, L->buf, L->blen);
    s[L->blen] = '\0';
    *len = L->blen;
    L->blen = 0;
    return s;
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length or 0 when malformed. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned char c = s[0];
    size_t k;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        k = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        k = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        k = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return k;
}

/* Reads one source character that is not ASCII (or is NUL) at the cursor. Returns false
 * (after reporting) if it is malformed or NUL; either way the cursor moves past it. */
static bool take_special(lexer *L, uint32_t *cp) {
    int line = L->line, col = L->col;
    unsigned char c = (unsigned char)L->src[L->pos];
    if (c == 0) {
        lex_error(L, line, col, "NUL byte in source");
        adv(L);
        return false;
    }
    size_t k = utf8_decode((const unsigned char *)L->src + L->pos, L->len - L->pos, cp);
    if (k == 0) {
        lex_error(L, line, col, "invalid UTF-8 byte 0x%02X in source", c);
        adv(L);
        return false;
    }
    for (size_t i = 0; i < k; i++)
        adv(L);
    return true;
}

static cryo_token *push(lexer *L, cryo_tok type, int line, int col, size_t start) {
    cryo_tokens *t = L->out;
    if (t->n == L->cap) {
        int cap = L->cap ? L->cap * 2 : 256;
        cryo_token *nv = realloc(t->v, (size_t)cap * sizeof *nv);
        if (!nv) {
            L->oom = true;
            return NULL;
        }
        t->v = nv;
        L->cap = cap;
    }
    cryo_token *k = &t->v[t->n++];
    memset(k, 0, sizeof *k);
    k->type = type;
    k->line = line;
    k->column = col;
    k->start = L->src + start;
    k->len = L->pos - start;
    return k;
}

static bool is_ident_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident_char(int c) {
    return is_ident_start(c) || (c >= '0' && c <= '9');
}
static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Skips whitespace and comments. Returns false when an unterminated comment ate the rest. */
static bool skip_space(lexer *L) {
    for (;;) {
        int c = peekc(L, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            adv(L);
        } else if (c == '/' && peekc(L, 1) == '/') {
            while (L->pos < L->len && L->src[L->pos] != '\n') {
                unsigned char b = (unsigned char)L->src[L->pos];
                uint32_t cp;
                if (b >= 0x80 || b == 0)
                    take_special(L, &cp);
                else
                    adv(L);
            }
        } else if (c == '/' && peekc(L, 1) == '*') {
            int line = L->line, col = L->col, depth = 0;
            do {
                if (L->pos >= L->len) {
                    lex_error(L, line, col, "unterminated block comment");
                    return false;
                }
                unsigned char b = (unsigned char)L->src[L->pos];
                uint32_t cp;
                if (b == '/' && peekc(L, 1) == '*') {
                    depth++;
                    adv(L), adv(L);
                } else if (b == '*' && peekc(L, 1) == '/') {
                    depth--;
                    adv(L), adv(L);
                } else if (b >= 0x80 || b == 0) {
                    take_special(L, &cp);
                } else {
                    adv(L);
                }
            } while (depth > 0);
        } else {
            return true;
        }
    }
}

static const struct {
    const char *s;
    cryo_tok t;
} keywords[] = {
    {"let", T_LET},
    {"const", T_CONST},
    {"if", T_IF},
    {"else", T_ELSE},
    {"switch", T_SWITCH},
    {"do", T_DO},
    {"while", T_WHILE},
    {"until", T_UNTIL},
    {"loop", T_LOOP},
    {"for", T_FOR},
    {"in", T_IN},
    {"break", T_BREAK},
    {"continue", T_CONTINUE},
    {"return", T_RETURN},
    {"throw", T_THROW},
    {"try", T_TRY},
    {"catch", T_CATCH},
    {"fn", T_FN},
    {"this", T_THIS},
    {"true", T_TRUE},
    {"false", T_FALSE},
    {"private", T_PRIVATE},
    {"import", T_MODULE_KW},
    {"export", T_MODULE_KW},
    {"as", T_MODULE_KW},
    {"global", T_MODULE_KW},
};

/* Rhai's reserved words (the book's "Keywords" chapter). `spawn` is left out on purpose:
 * cryo defines a spawn() function. */
static const char *const reserved[] = {
    "var",   "static", "is",    "goto",    "exit",    "match", "case",   "public", "protected",
    "new",   "use",    "with",  "module",  "package", "super", "thread", "go",     "sync",
    "async", "await",  "yield", "default", "void",    "null",  "nil",
};

/* Which entries of keywords[], reserved[] and puncts[] start with a given ASCII byte (bit i =
 * entry i), built once from the tables (tables_build, below): a token is compared only with the
 * entries it can match, in table order, instead of with all of them. */
#define NFIRST 128
static uint64_t keyword_first[NFIRST], reserved_first[NFIRST], punct_first[NFIRST];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
_Static_assert(sizeof keywords / sizeof keywords[0] <= 64, "keyword_first holds 64 bits");
_Static_assert(sizeof reserved / sizeof reserved[0] <= 64, "reserved_first holds 64 bits");

/* The next entry of a candidate mask (lowest bit first, so in table order), or -1. */
static int mask_next(uint64_t *m) {
    if (!*m) return -1;
    int i = __builtin_ctzll(*m);
    *m &= *m - 1;
    return i;
}

/* Byte by byte: the words are a few bytes long, and a mismatch shows in the first ones. */
static bool span_is(const char *s, size_t n, const char *word) {
    for (size_t i = 0; i < n; i++)
        if (word[i] != s[i]) return false; /* also stops at word's NUL: s has none */
    return word[n] == '\0';
}

static void lex_ident(lexer *L, int line, int col, size_t start) {
    size_t end = L->pos; /* name characters are ASCII, none a newline: one column each */
    while (end < L->len && is_ident_char((unsigned char)L->src[end]))
        end++;
    L->col += (int)(end - L->pos);
    L->pos = end;
    const char *s = L->src + start;
    size_t n = L->pos - start;
    if (n == 1 && s[0] == '_') {
        push(L, T_UNDERSCORE, line, col, start);
        return;
    }
    uint64_t m = keyword_first[(unsigned char)s[0] % NFIRST];
    for (int i; (i = mask_next(&m)) >= 0;) {
        if (span_is(s, n, keywords[i].s)) {
            push(L, keywords[i].t, line, col, start);
            return;
        }
    }
    /* after `::` (ffi::new) a reserved word is a plain name */
    bool after_path = L->out->n > 0 && L->out->v[L->out->n - 1].type == T_COLONCOLON;
    m = after_path ? 0 : reserved_first[(unsigned char)s[0] % NFIRST];
    for (int i; (i = mask_next(&m)) >= 0;) {
        if (span_is(s, n, reserved[i])) {
            lex_error(L, line, col, "'%s' is a reserved keyword", reserved[i]);
            push(L, T_ERROR, line, col, start);
            return;
        }
    }
    cryo_token *t = push(L, T_IDENT, line, col, start);
    if (t) { /* straight into the arena: a name needs no decoding */
        char *str = cl_arena_alloc_str(L->arena, n + 1);
        if (!str) {
            L->oom = true;
            t->str = "";
            return;
        }
        memcpy(str, s, n);
        str[n] = '\0';
        t->str = str;
        t->slen = n;
    }
}

static void lex_number(lexer *L, int line, int col, size_t start) {
    int c0 = peekc(L, 0), c1 = peekc(L, 1);
    int base = 10;
    if (c0 == '0' && (c1 == 'x' || c1 == 'X')) base = 16;
    if (c0 == '0' && (c1 == 'o' || c1 == 'O')) base = 8;
    if (c0 == '0' && (c1 == 'b' || c1 == 'B')) base = 2;
    bool is_float = false, bad = false, overflow = false;
    uint64_t v = 0;
    if (base != 10) {
        adv(L), adv(L);
        int ndig = 0;
        for (;;) {
            int c = peekc(L, 0);
            if (c == '_' && ndig > 0) {
                adv(L);
                continue;
            }
            int d = hexval(c);
            if (d < 0 || d >= base) break;
            if (__builtin_mul_overflow(v, (uint64_t)base, &v) ||
                __builtin_add_overflow(v, (uint64_t)d, &v))
                overflow = true;
            ndig++;
            adv(L);
        }
        if (ndig == 0) bad = true;
    } else {
        while ((peekc(L, 0) >= '0' && peekc(L, 0) <= '9') || peekc(L, 0) == '_')
            adv(L);
        /* `1.5` and `1.` are floats, but `1..2` is a range and `42.type_of()` a method
         * call on an integer. */
        if (peekc(L, 0) == '.' && peekc(L, 1) != '.' && !is_ident_start(peekc(L, 1))) {
            is_float = true;
            adv(L);
            while ((peekc(L, 0) >= '0' && peekc(L, 0) <= '9') || peekc(L, 0) == '_')
                adv(L);
        }
        int e1 = peekc(L, 1), e2 = peekc(L, 2);
        if ((peekc(L, 0) == 'e' || peekc(L, 0) == 'E') &&
            ((e1 >= '0' && e1 <= '9') || ((e1 == '+' || e1 == '-') && e2 >= '0' && e2 <= '9'))) {
            is_float = true;
            adv(L), adv(L);
            while (peekc(L, 0) >= '0' && peekc(L, 0) <= '9')
                adv(L);
        }
    }
    if (is_ident_char(peekc(L, 0))) {
        bad = true;
        while (is_ident_char(peekc(L, 0)))
            adv(L);
    }
    if (bad) {
        lex_error(L, line, col, "malformed number '%.*s'", (int)(L->pos - start), L->src + start);
        push(L, T_ERROR, line, col, start);
        return;
    }
    if (is_float) {
        char tmp[128];
        size_t n = 0;
        for (size_t i = start; i < L->pos && n < sizeof tmp - 1; i++)
            if (L->src[i] != '_') tmp[n++] = L->src[i];
        tmp[n] = '\0';
        cryo_token *t = push(L, T_FLOAT, line, col, start);
        if (t) t->fval = strtod(tmp, NULL);
        return;
    }
    if (base == 10) {
        for (size_t i = start; i < L->pos; i++) {
            if (L->src[i] == '_') continue;
            if (__builtin_mul_overflow(v, (uint64_t)10, &v) ||
                __builtin_add_overflow(v, (uint64_t)(L->src[i] - '0'), &v))
                overflow = true;
        }
        if (v > (uint64_t)INT64_MAX + 1) overflow = true;
    }
    if (overflow) {
        lex_error(L, line, col, "integer literal '%.*s' is too large", (int)(L->pos - start),
                  L->src + start);
        push(L, T_ERROR, line, col, start);
        return;
    }
    cryo_token *t = push(L, T_INT, line, col, start);
    if (!t) return;
    t->ival = (int64_t)v; /* hex/octal/binary give the bit pattern: 0xff..ff is -1 */
    t->int_min = base == 10 && v == (uint64_t)INT64_MAX + 1;
}

/* Reads `n` hex digits of an escape; returns -1 (cursor after what was read) if malformed. */
static int64_t read_hex(lexer *L, int n) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        int d = hexval(peekc(L, 0));
        if (d < 0) return -1;
        v = v * 16 + d;
        adv(L);
    }
    return v;
}

/* Decodes the escape after a backslash (the cursor is on the backslash) into the buffer.
 * Returns false after reporting a malformed escape. */
static bool lex_escape(lexer *L, int quote_col, bool in_string) {
    int line = L->line, col = L->col;
    adv(L);
    int c = peekc(L, 0);
    if (c < 0) return true; /* the caller reports the missing closing quote */
    int64_t cp;
    switch (c) {
    case 'n': buf_put(L, "\n", 1), adv(L); return true;
    case 't': buf_put(L, "\t", 1), adv(L); return true;
    case 'r': buf_put(L, "\r", 1), adv(L); return true;
    case '0': buf_put(L, "\0", 1), adv(L); return true;
    case '\\': buf_put(L, "\\", 1), adv(L); return true;
    case '"': buf_put(L, "\"", 1), adv(L); return true;
    case '\'': buf_put(L, "'", 1), adv(L); return true;
    case 'x':
    case 'u':
    case 'U':
        adv(L);
        cp = read_hex(L, c == 'x' ? 2 : c == 'u' ? 4 : 8);
        if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            lex_error(L, line, col,
                      "invalid escape sequence '\\%c' (expected %d hex digits "
                      "of a Unicode scalar value)",
                      c,
                      c == 'x'   ? 2
                      : c == 'u' ? 4
                                 : 8);
            return false;
        }
        buf_put_cp(L, (uint32_t)cp);
        return true;
    case '\r':
    case '\n':
        if (in_string) {
            /* Line continuation: no line break, and the next line's indentation up to the
             * opening quote's column is dropped (Rhai's rule). */
            if (c == '\r') adv(L);
            if (peekc(L, 0) == '\n') adv(L);
            while ((peekc(L, 0) == ' ' || peekc(L, 0) == '\t') && L->col <= quote_col)
                adv(L);
            return true;
        }
        break;
    default: break;
    }
    if (c < 0x80 && c >= 0x20)
        lex_error(L, line, col, "unknown escape sequence '\\%c'", c);
    else
        lex_error(L, line, col, "unknown escape sequence");
    if (c != '\n') {
        uint32_t u;
        if (c >= 0x80 || c == 0)
            take_special(L, &u);
        else
            adv(L);
    }
    return false;
}

static void lex_string(lexer *L, int line, int col, size_t start) {
    bool ok = true;
    adv(L);
    for (;;) {
        int c = peekc(L, 0);
        if (c < 0 || c == '\n') {
            lex_error(L, line, col, "unterminated string literal");
            push(L, T_ERROR, line, col, start);
            L->blen = 0;
            return;
        }
        if (c == '"') {
            adv(L);
            if (peekc(L, 0) != '"') break;
            buf_put(L, "\"", 1); /* "" inside a string is a quote */
            adv(L);
        } else if (c == '\\') {
            ok &= lex_escape(L, col, true);
        } else if (c >= 0x80 || c == 0) {
            size_t p = L->pos;
            uint32_t cp;
            if (take_special(L, &cp))
                buf_put(L, L->src + p, L->pos - p);
            else
                ok = false;
        } else {
            buf_put(L, L->src + L->pos, 1);
            adv(L);
        }
    }
    cryo_token *t = push(L, ok ? T_STRING : T_ERROR, line, col, start);
    if (t) t->str = buf_finish(L, &t->slen);
    L->blen = 0;
}

/* #"..."#, ##"..."##: no escapes, may span lines. The cursor is on the first '#'. */
static void lex_raw_string(lexer *L, int line, int col, size_t start) {
    int hashes = 0;
    while (peekc(L, 0) == '#')
        hashes++, adv(L);
    adv(L); /* the quote */
    bool ok = true;
    for (;;) {
        if (L->pos >= L->len) {
            lex_error(L, line, col, "unterminated raw string literal");
            push(L, T_ERROR, line, col, start);
            L->blen = 0;
            return;
        }
        int c = peekc(L, 0);
        if (c == '"') {
            int k = 0;
            while (k < hashes && peekc(L, 1 + (size_t)k) == '#')
                k++;
            if (k == hashes) {
                for (int i = 0; i <= hashes; i++)
                    adv(L);
                break;
            }
        }
        if (c >= 0x80 || c == 0) {
            size_t p = L->pos;
            uint32_t cp;
            if (take_special(L, &cp))
                buf_put(L, L->src + p, L->pos - p);
            else
                ok = false;
        } else {
            buf_put(L, L->src + L->pos, 1);
            adv(L);
        }
    }
    cryo_token *t = push(L, ok ? T_STRING : T_ERROR, line, col, start);
    if (t) t->str = buf_finish(L, &t->slen);
    L->blen = 0;
}

static void lex_char(lexer *L, int line, int col, size_t start) {
    adv(L);
    bool ok = true;
    int c = peekc(L, 0);
    if (c == '\'') {
        adv(L);
        lex_error(L, line, col, "empty character literal");
        push(L, T_ERROR, line, col, start);
        return;
    }
    if (c == '\\') {
        ok = lex_escape(L, col, false);
    } else if (c >= 0x80 || c == 0) {
        size_t p = L->pos;
        uint32_t cp;
        if (take_special(L, &cp))
            buf_put(L, L->src + p, L->pos - p);
        else
            ok = false;
    } else if (c >= 0 && c != '\n') {
        buf_put(L, L->src + L->pos, 1);
        adv(L);
    }
    /* Find the closing quote on this line, so `'ab'` is one error, not several. */
    int extra = 0;
    while (peekc(L, 0) >= 0 && peekc(L, 0) != '\'' && peekc(L, 0) != '\n') {
        uint32_t u;
        if ((unsigned)peekc(L, 0) >= 0x80 || peekc(L, 0) == 0)
            take_special(L, &u);
        else
            adv(L);
        extra++;
    }
    if (peekc(L, 0) != '\'') {
        lex_error(L, line, col, "unterminated character literal");
        push(L, T_ERROR, line, col, start);
        L->blen = 0;
        return;
    }
    adv(L);
    if (extra && ok) {
        lex_error(L, line, col, "character literal has more than one character");
        ok = false;
    }
    uint32_t cp = 0;
    if (ok && L->blen > 0) utf8_decode((const unsigned char *)L->buf, L->blen, &cp);
    cryo_token *t = push(L, ok ? T_CHAR : T_ERROR, line, col, start);
    if (t) t->ival = cp;
    L->blen = 0;
}

/* Scans backtick-string text from the cursor up to the closing backtick or the next `${`.
 * `begin` is true right after the opening backtick. */
static void lex_backtick_text(lexer *L, int line, int col, size_t start, bool begin, int open_line,
                              int open_col) {
    bool ok = true;
    if (begin) {
        /* A backtick ending its line starts the text on the next line. */
        if (peekc(L, 0) == '\r' && peekc(L, 1) == '\n') adv(L);
        if (peekc(L, 0) == '\n') adv(L);
    }
    cryo_tok type;
    for (;;) {
        int c = peekc(L, 0);
        if (c < 0) {
            lex_error(L, open_line, open_col, "unterminated backtick string");
            push(L, T_ERROR, line, col, start);
            L->blen = 0;
            return;
        }
        if (c == '`') {
            adv(L);
            if (peekc(L, 0) == '`') {
                buf_put(L, "`", 1);
                adv(L);
                continue;
            }
            type = begin ? T_STRING : T_INTERP_END;
            break;
        }
        if (c == '\\' && peekc(L, 1) == '$' && peekc(L, 2) == '{') {
            /* `\${` is a literal `${` (the backslash is dropped), as in Rhai */
            buf_put(L, "${", 2);
            adv(L), adv(L), adv(L);
            continue;
        }
        if (c == '$' && peekc(L, 1) == '{') {
            adv(L), adv(L);
            if (L->ninterp == MAX_INTERP) {
                lex_error(L, line, col, "string interpolation nested too deeply");
                push(L, T_ERROR, line, col, start);
                L->pos = L->len; /* nothing after this can be read reliably */
                L->blen = 0;
                return;
            }
            L->interp[L->ninterp] = 0;
            L->interp_line[L->ninterp] = open_line;
            L->interp_col[L->ninterp] = open_col;
            L->ninterp++;
            type = begin ? T_INTERP_BEGIN : T_INTERP_MID;
            break;
        }
        if (c >= 0x80 || c == 0) {
            size_t p = L->pos;
            uint32_t cp;
            if (take_special(L, &cp))
                buf_put(L, L->src + p, L->pos - p);
            else
                ok = false;
        } else {
            buf_put(L, L->src + L->pos, 1);
            adv(L);
        }
    }
    cryo_token *t = push(L, ok ? type : T_ERROR, line, col, start);
    if (t) t->str = buf_finish(L, &t->slen);
    L->blen = 0;
}

typedef struct {
    const char *s;
    cryo_tok t;
} punct;

/* Longest first within each leading character. */
static const punct puncts[] = {
    {"**=", T_POWEQ},   {"<<=", T_SHLEQ},  {">>=", T_SHREQ},    {"..=", T_DOTDOTEQ},
    {"**", T_POW},      {"<<", T_SHL},     {">>", T_SHR},       {"&&", T_ANDAND},
    {"||", T_OROR},     {"==", T_EQEQ},    {"!=", T_NE},        {"<=", T_LE},
    {">=", T_GE},       {"..", T_DOTDOT},  {"+=", T_PLUSEQ},    {"-=", T_MINUSEQ},
    {"*=", T_STAREQ},   {"/=", T_SLASHEQ}, {"%=", T_PERCENTEQ}, {"&=", T_AMPEQ},
    {"|=", T_PIPEEQ},   {"^=", T_CARETEQ}, {"=>", T_ARROW},     {"::", T_COLONCOLON},
    {"#{", T_MAPSTART}, {"?.", T_QDOT},    {"?[", T_QBRACKET},  {"??", T_QQ},
    {"+", T_PLUS},      {"-", T_MINUS},    {"*", T_STAR},       {"/", T_SLASH},
    {"%", T_PERCENT},   {"&", T_AMP},      {"|", T_PIPE},       {"^", T_CARET},
    {"!", T_BANG},      {"<", T_LT},       {">", T_GT},         {"=", T_ASSIGN},
    {".", T_DOT},       {"[", T_LBRACKET}, {"]", T_RBRACKET},   {"(", T_LPAREN},
    {")", T_RPAREN},    {"{", T_LBRACE},   {"}", T_RBRACE},     {",", T_COMMA},
    {";", T_SEMI},      {":", T_COLON},    {"?", T_QUESTION},
};

_Static_assert(sizeof puncts / sizeof puncts[0] <= 64, "punct_first holds 64 bits");

static void tables_build(void) {
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        keyword_first[(unsigned char)keywords[i].s[0] % NFIRST] |= 1ull << i;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        reserved_first[(unsigned char)reserved[i][0] % NFIRST] |= 1ull << i;
    for (size_t i = 0; i < sizeof puncts / sizeof puncts[0]; i++)
        punct_first[(unsigned char)puncts[i].s[0] % NFIRST] |= 1ull << i;
}

/* The length of operator `p` when the source continues with it here, else 0. */
static size_t punct_at(const lexer *L, const char *p) {
    size_t avail = L->len - L->pos, i = 0;
    for (; p[i]; i++)
        if (i >= avail || L->src[L->pos + i] != p[i]) return 0;
    return i;
}

static void lex_punct(lexer *L, int line, int col, size_t start) {
    int c = peekc(L, 0);
    if (c == '!' && peekc(L, 1) == 'i' && peekc(L, 2) == 'n' && !is_ident_char(peekc(L, 3))) {
        adv(L), adv(L), adv(L);
        push(L, T_NOTIN, line, col, start);
        return;
    }
    uint64_t m = c >= 0 && c < NFIRST ? punct_first[c] : 0;
    for (int i; (i = mask_next(&m)) >= 0;) {
        size_t n = punct_at(L, puncts[i].s);
        if (n) {
            cryo_tok t = puncts[i].t;
            if (t == T_RBRACE && L->ninterp > 0 && L->interp[L->ninterp - 1] == 0) {
                L->ninterp--;
                adv(L);
                lex_backtick_text(L, line, col, start, false, L->interp_line[L->ninterp],
                                  L->interp_col[L->ninterp]);
                return;
            }
            if (L->ninterp > 0 && (t == T_LBRACE || t == T_MAPSTART)) L->interp[L->ninterp - 1]++;
            if (L->ninterp > 0 && t == T_RBRACE) L->interp[L->ninterp - 1]--;
            for (size_t k = 0; k < n; k++)
                adv(L);
            push(L, t, line, col, start);
            return;
        }
    }
    if (c == '#')
        lex_error(L, line, col, "unknown operator '#'");
    else if (c >= 0x21 && c < 0x7F)
        lex_error(L, line, col, "unexpected character '%c'", c);
    else
        lex_error(L, line, col, "unexpected character (byte 0x%02X)", (unsigned)c);
    adv(L);
    push(L, T_ERROR, line, col, start);
}

static void lex_one(lexer *L) {
    int line = L->line, col = L->col;
    size_t start = L->pos;
    int c = peekc(L, 0);
    if (c >= 0x80 || c == 0) {
        uint32_t cp;
        if (take_special(L, &cp)) {
            lex_error(L, line, col, "unexpected character '%.*s'", (int)(L->pos - start),
                      L->src + start);
        }
        push(L, T_ERROR, line, col, start);
    } else if (is_ident_start(c)) {
        lex_ident(L, line, col, start);
    } else if (c >= '0' && c <= '9') {
        lex_number(L, line, col, start);
    } else if (c == '"') {
        lex_string(L, line, col, start);
    } else if (c == '\'') {
        lex_char(L, line, col, start);
    } else if (c == '`') {
        adv(L);
        lex_backtick_text(L, line, col, start, true, line, col);
    } else if (c == '#' && (peekc(L, 1) == '"' || peekc(L, 1) == '#')) {
        size_t k = 1;
        while (peekc(L, k) == '#')
            k++;
        if (peekc(L, k) == '"') {
            lex_raw_string(L, line, col, start);
        } else {
            lex_error(L, line, col, "unknown operator '#'");
            adv(L);
            push(L, T_ERROR, line, col, start);
        }
    } else {
        lex_punct(L, line, col, start);
    }
}

bool cl_lex(const char *src, size_t len, const char *source_name, cryo_arena *arena,
            cryo_tokens *out, cryo_error **errors) {
    pthread_once(&tables_once, tables_build);
    lexer L;
    memset(&L, 0, sizeof L);
    L.src = src ? src : "";
    L.len = src ? len : 0;
    L.line = 1;
    L.col = 1;
    L.name = source_name;
    L.arena = arena;
    L.out = out;
    L.errors = errors;
    out->v = NULL;
    out->n = 0;
    out->oom = false;
    /* Sized for about one token per 4 bytes of source, so that a large script grows the array
     * once or twice instead of a dozen times (push grows it when needed). */
    L.cap = L.len / 4 < (1u << 20) ? (int)(L.len / 4) + 16 : (1 << 20);
    out->v = malloc((size_t)L.cap * sizeof *out->v);
    if (!out->v) L.cap = 0;
    if (L.len >= 2 && L.src[0] == '#' && L.src[1] == '!') { /* shebang line */
        while (L.pos < L.len && L.src[L.pos] != '\n')
            L.pos++;
    }
    while (!L.oom) {
        if (!skip_space(&L) || L.pos >= L.len) break;
        lex_one(&L);
    }
    if (L.ninterp > 0 && !L.oom) {
        lex_error(&L, L.interp_line[L.ninterp - 1], L.interp_col[L.ninterp - 1],
                  "unterminated string interpolation");
    }
    push(&L, T_EOF, L.line, L.col, L.pos);
    free(L.buf);
    out->oom = L.oom;
    return !L.oom;
}

void cl_tokens_free(cryo_tokens *t) {
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

void cl_tok_describe(const cryo_token *t, char *buf, size_t size) {
    if (t->type == T_EOF) {
        snprintf(buf, size, "end of input");
        return;
    }
    size_t n = 0;
    bool cut = false;
    while (n < t->len && t->start[n] != '\n' && t->start[n] != '\r') {
        if (n >= 24) {
            cut = true;
            break;
        }
        n++;
    }
    while (n > 0 && n < t->len && ((unsigned char)t->start[n] & 0xC0) == 0x80)
        n--;
    if (n < t->len) cut = true;
    snprintf(buf, size, "'%.*s%s'", (int)n, t->start, cut ? "..." : "");
}
