/*
 * ffi_abi_gen.c — writes the C library and the case table of the ABI-breadth test
 * (test-ffi-abi.c; see ffi_abi.h) from ONE table of signatures, `sigs` below. Run by CMake at
 * build time: ffi_abi_gen OUT.c.
 *
 * A signature is "RET : P1 P2 ..." in the type codes of `scalars` and `structs`, with "..."
 * before a variadic function's extra arguments (written as the types they travel as). Values
 * come from each type's list of test values (the extremes of every integer width, float and
 * double extremes and denormals, NULL, long strings), taken in turn, so the same text gives the
 * C call and the script call.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    K_INT,
    K_UINT,
    K_BOOL,
    K_CHAR,
    K_F32,
    K_F64,
    K_LD,
    K_CF,
    K_CD,
    K_CLD,
    K_PTR,
    K_STR,
    K_STRUCT,
    K_VOID
};

typedef struct gtype {
    const char *code, *c;
    enum kind k;
    int size; /* integers */
} gtype;

static const gtype scalars[] = {
    {"i8", "int8_t", K_INT, 1},
    {"u8", "uint8_t", K_UINT, 1},
    {"i16", "int16_t", K_INT, 2},
    {"u16", "uint16_t", K_UINT, 2},
    {"i32", "int32_t", K_INT, 4},
    {"u32", "uint32_t", K_UINT, 4},
    {"i64", "int64_t", K_INT, 8},
    {"u64", "uint64_t", K_UINT, 8},
    {"ch", "char", K_CHAR, 1},
    {"sch", "signed char", K_INT, 1},
    {"uch", "unsigned char", K_UINT, 1},
    {"sh", "short", K_INT, sizeof(short)},
    {"ush", "unsigned short", K_UINT, sizeof(short)},
    {"int", "int", K_INT, sizeof(int)},
    {"uint", "unsigned int", K_UINT, sizeof(int)},
    {"lng", "long", K_INT, sizeof(long)},
    {"ulng", "unsigned long", K_UINT, sizeof(long)},
    {"ll", "long long", K_INT, sizeof(long long)},
    {"ull", "unsigned long long", K_UINT, sizeof(long long)},
    {"sz", "size_t", K_UINT, sizeof(size_t)},
    {"bool", "bool", K_BOOL, 1},
    {"f32", "float", K_F32, 4},
    {"f64", "double", K_F64, 8},
    {"ld", "long double", K_LD, 0},
    {"cf", "float _Complex", K_CF, 0},
    {"cd", "double _Complex", K_CD, 0},
    {"cld", "long double _Complex", K_CLD, 0},
    {"vp", "void *", K_PTR, 0},
    {"ip", "int *", K_PTR, 0},
    {"dp", "const double *", K_PTR, 0},
    {"str", "const char *", K_STR, 0},
    {"v", "void", K_VOID, 0},
};

/* Structs: "name: type field[N]; ..." (fields are named name_<field> so that every struct has
 * its own field names: a map passed to '...' is the struct whose fields it has). */
static const char *const structs[] = {
    "s1: ch a",
    "s2: i8 a; u8 b",
    "s3: ch a[3]",
    "s4: i16 a; i16 b",
    "s4f: f32 a",
    "s5: u8 a[5]",
    "s6: i16 a[3]",
    "s7: ch a[7]",
    "s8: i32 a; f32 b",
    "s8d: f64 a",
    "s8ff: f32 a; f32 b",
    "s12: i32 a; f32 b; f32 c",
    "s12f: f32 a[3]",
    "s16m: i32 a; f32 b; f64 c",
    "s16cd: ch a; f64 b",
    "s16dm: f64 a; i32 b",
    "s16fi: f32 a; f32 b; i64 c",
    "s16ii: i64 a; u64 b",
    "s16dd: f64 a; f64 b",
    "s16p: vp a; i32 b",
    "sn: s8 a; s4f b",
    "sarr: i16 a[3]; f32 b[3]",
    "s24: f64 a; i32 b; f32 c; i16 d",
    "s32: f64 a[4]",
    "snest: s16m a; s12 b; ch c",
    "s64: i8 a; i16 b; i32 c; i64 d; f32 e; f64 f; ch g[13]; u16 h; f64 i[2]", /* 64 bytes */
    "sld: ld a; i32 b",
};
#define NSTRUCTS (int)(sizeof structs / sizeof structs[0])

static const char *const sigs[] = {
    /* every integer width at its extremes, float and double */
    "i8 : i8 i8 i8",
    "u8 : u8 u8 u8",
    "i16 : i16 i16 i16",
    "u16 : u16 u16 u16",
    "i32 : i32 i32 i32",
    "u32 : u32 u32 u32",
    "i64 : i64 i64 i64",
    "u64 : u64 u64 u64",
    "ch : ch ch ch",
    "sch : sch sch sch",
    "uch : uch uch uch",
    "sh : sh sh sh",
    "ush : ush ush ush",
    "int : int int int",
    "uint : uint uint uint",
    "lng : lng lng lng",
    "ulng : ulng ulng ulng",
    "ll : ll ll ll",
    "ull : ull ull ull",
    "sz : sz sz sz",
    "bool : bool bool",
    "f32 : f32 f32 f32 f32",
    "f64 : f64 f64 f64 f64",
    /* 0 to 14 arguments: past the 6 integer and the 8 SSE registers */
    "i32 :",
    "v :",
    "v : i32",
    "i64 : i64 i64 i64 i64 i64 i64 i64",
    "i64 : i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64",
    "i8 : i8 u16 i32 u8 i64 i16 u32 i8 u64 i16 u8 i32 i8 u16",
    "f64 : f64 f64 f64 f64 f64 f64 f64 f64 f64",
    "f64 : f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64",
    "f32 : f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f32 f32",
    "f64 : i32 f64 i64 f32 u8 f64 i16 f64 vp f64 u64 f32 i8 f64",
    "f32 : f64 i8 f32 i64 f64 u32 f32 f64 i16 f64 f32 u8 f64 i32",
    /* pointers and strings */
    "vp : vp ip dp",
    "str : str str",
    "str : i32 str",
    "ip : ip vp i32 vp ip vp i64 ip",
    "i64 : str str str str str str str",
    /* structs of 1 to 64 bytes, as arguments and returns */
    "s1 : s1",
    "s2 : s2 s2",
    "s3 : s3 i8",
    "s4 : s4",
    "s4f : s4f f32",
    "s5 : s5",
    "s6 : s6 s6",
    "s7 : s7",
    "s8 : s8 s8",
    "s8d : s8d",
    "s8ff : s8ff s8ff",
    "s12 : s12",
    "s12f : s12f s12f",
    "s16m : s16m",
    "s16m : s16m s16m s16m s16m s16m s16m s16m",
    "s16cd : s16cd",
    "s16dm : s16dm",
    "s16fi : s16fi",
    "s16ii : s16ii",
    "s16dd : s16dd s16dd",
    "s16p : s16p",
    "sn : sn",
    "sarr : sarr",
    "s24 : s24 s24",
    "s32 : s32",
    "snest : snest",
    "s64 : s64 s64",
    "i32 : s1 s2 s3 s4 s5 s6 s7 s8 s12 s16m s16dd s24",
    /* an INTEGER + SSE struct in the last integer register, with doubles before it (the
     * libffi <= 3.4.6 shape), and its neighbours */
    "i64 : i64 i64 i64 i64 i64 f64 s16m f64",
    "i64 : i64 i64 i64 i64 i64 f64 s12 f64",
    "i64 : i64 i64 i64 i64 i64 f64 s16cd f64",
    "i64 : i64 i64 i64 i64 i64 f64 sn f64",
    "i64 : i64 i64 i64 i64 i64 f64 f64 f64 s16m f64 f64",
    "i64 : i64 i64 i64 i64 i64 f64 f64 f64 f64 f64 f64 f64 s16m",
    "i64 : i64 i64 i64 i64 i64 f64 f64 f64 f64 f64 f64 f64 f64 s16m f64",
    "i64 : i64 i64 i64 i64 i64 f64 s16m s16m",
    "i64 : i64 i64 i64 i64 f64 s16m s16m",
    "i64 : i64 i64 i64 i64 i64 i64 f64 s16m f64",
    "i64 : i64 i64 i64 i64 i64 f64 s16dm f64",
    "i64 : i64 i64 i64 i64 i64 f64 s16fi f64",
    "s16m : i64 i64 i64 i64 i64 f64 s16m f64",
    "s24 : i64 i64 i64 i64 f64 s16m f64",
    "s24 : i64 i64 i64 i64 i64 f64 s16m f64",
    "f64 : i8 u8 i16 u16 i32 f32 s12 f64 s16m",
    "s64 : i32 f64 s16m s64 s16m f32",
    /* long double and complex */
    "ld : ld",
    "ld : ld i32 ld f64",
    "ld : f64 f64 f64 f64 f64 f64 f64 f64 ld i64",
    "sld : sld ld",
    "cf : cf",
    "cd : cd cd",
    "cf : cf f32 cf i32",
    "cld : cld",
    "cd : i64 i64 i64 i64 i64 f64 f64 f64 f64 f64 f64 f64 cd",
    "f64 : cd f64 cf ld",
    /* variadic functions (extra arguments as they travel: int64_t, double, strings, pointers,
     * structs by value) */
    "i64 : i32 ... i64 f64 str vp",
    "f64 : i32 ... f64 f64 f64 f64 f64 f64 f64 f64 f64 f64",
    "i64 : i32 ... i64 i64 i64 i64 i64 i64 i64 i64",
    "i64 : i32 ... s16m",
    "i64 : str ... s8 s24 s64 s1",
    "i64 : i64 i64 i64 i64 i64 f64 ... s16m f64",
    "s16dd : i32 f64 ... s16dd s12 str",
};
#define NSIGS (int)(sizeof sigs / sizeof sigs[0])

/* --- parsed structs -------------------------------------------------------------------------- */

typedef struct gfield {
    char name[32];
    const gtype *t;
    int n; /* array length; 0 = not an array */
} gfield;

typedef struct gstruct {
    gtype t;
    char name[16], cname[32];
    int nf;
    gfield f[16];
} gstruct;

static gstruct gs[NSTRUCTS];

static const gtype *find_type(const char *code, size_t len) {
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (strlen(scalars[i].code) == len && memcmp(scalars[i].code, code, len) == 0)
            return &scalars[i];
    for (int i = 0; i < NSTRUCTS; i++)
        if (strlen(gs[i].name) == len && memcmp(gs[i].name, code, len) == 0) return &gs[i].t;
    fprintf(stderr, "ffi_abi_gen: unknown type '%.*s'\n", (int)len, code);
    exit(1);
}

static const gstruct *st_of(const gtype *t) {
    return (const gstruct *)t; /* t is the first member */
}

static void parse_structs(void) {
    for (int i = 0; i < NSTRUCTS; i++) {
        gstruct *s = &gs[i];
        const char *p = structs[i], *colon = strchr(p, ':');
        char nm[16];
        snprintf(nm, sizeof nm, "%.*s", (int)(colon - p), p);
        memcpy(s->name, nm, sizeof nm);
        snprintf(s->cname, sizeof s->cname, "struct %s", nm);
        s->t = (gtype){s->name, s->cname, K_STRUCT, 0};
        p = colon + 1;
        while (*p) {
            char tcode[16], fname[16];
            int n = 0, used = 0;
            if (sscanf(p, " %15s %15[a-z]%n", tcode, fname, &used) != 2) break;
            p += used;
            if (*p == '[') n = (int)strtol(p + 1, (char **)&p, 10), p++;
            gfield *f = &s->f[s->nf++];
            f->t = find_type(tcode, strlen(tcode));
            snprintf(f->name, sizeof f->name, "%s_%s", nm, fname);
            f->n = n;
            while (*p == ';' || *p == ' ')
                p++;
        }
    }
}

/* --- text buffers -------------------------------------------------------------------------- */

typedef struct buf {
    char *s;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) exit(1);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void reset(buf *b) {
    b->len = 0;
    if (b->s) b->s[0] = '\0';
}

/* --- values -------------------------------------------------------------------------------- */

/* seven values each: arguments a few positions apart (a struct's field and the same field of
 * the struct five arguments later) get different values, so a value in the wrong register shows */
#define NF 7
static const char *const f32_vals[NF] = {"1.5",
                                         "-3.0517578125e-05",
                                         "3.4028234663852886e+38",
                                         "1.1754943508222875e-38",
                                         "-7.0064923216240854e-45",
                                         "0.75",
                                         "-1024.5"};
static const char *const f64_vals[NF] = {"3.1415926535897931",
                                         "-1.0000000000000001e+300",
                                         "4.9406564584124654e-324",
                                         "-0.10000000000000001",
                                         "2.2250738585072014e-308",
                                         "1e+22",
                                         "-2.5e-10"};
static const char *const str_vals[] = {
    "\"hello\"", "\"\"", NULL,
    "\"a string longer than the sixty-four bytes of the small buffer a call keeps on its "
    "stack\""};

/* Appends value number `seed` of type t: the C expression to c, the script expression to s. */
static void value(const gtype *t, int seed, buf *c, buf *s) {
    switch (t->k) {
    case K_INT: {
        int bits = t->size * 8;
        int64_t max = bits == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
        int64_t v = seed % 3 == 0 ? -max - 1 : seed % 3 == 1 ? max : -(max / 3);
        if (v == INT64_MIN) {
            put(c, "((%s)(-9223372036854775807LL - 1))", t->c);
            put(s, "(-9223372036854775807 - 1)");
        } else {
            put(c, "((%s)%lldLL)", t->c, (long long)v);
            put(s, "%lld", (long long)v);
        }
        return;
    }
    case K_UINT: {
        int bits = t->size * 8;
        /* the script's i64 carries uint64_t values up to INT64_MAX */
        uint64_t max = bits == 64 ? (uint64_t)INT64_MAX : (UINT64_C(1) << bits) - 1;
        uint64_t v = seed % 3 == 0 ? 0 : seed % 3 == 1 ? max : max / 3 * 2 + 1;
        put(c, "((%s)%lluULL)", t->c, (unsigned long long)v);
        put(s, "%llu", (unsigned long long)v);
        return;
    }
    case K_CHAR: {
        int v = seed % 3 == 0 ? 0 : seed % 3 == 1 ? 127 : 'A'; /* char may be unsigned */
        put(c, "((char)%d)", v);
        put(s, "%d", v);
        return;
    }
    case K_BOOL:
        put(c, "%s", seed % 2 ? "false" : "true");
        put(s, "%s", seed % 2 ? "false" : "true");
        return;
    case K_F32: {
        const char *v = f32_vals[seed % NF];
        put(c, "((float)%s)", v);
        put(s, "%s", v);
        return;
    }
    case K_F64:
    case K_LD: {
        const char *v = f64_vals[seed % NF];
        put(c, "((%s)%s)", t->c, v);
        put(s, "%s", v);
        return;
    }
    case K_CF:
    case K_CD:
    case K_CLD: {
        const char *re = t->k == K_CF ? f32_vals[seed % NF] : f64_vals[seed % NF];
        const char *im = t->k == K_CF ? f32_vals[(seed + 2) % NF] : f64_vals[(seed + 2) % NF];
        const char *mk = t->k == K_CF ? "abi_cf" : t->k == K_CD ? "abi_cd" : "abi_cld";
        put(c, "%s(%s, %s)", mk, re, im);
        if (seed % 4 == 3)
            put(s, "[%s, %s]", re, im); /* both spellings: [re, im] and #{re, im} */
        else
            put(s, "#{re: %s, im: %s}", re, im);
        return;
    }
    case K_PTR:
        if (seed % 3 == 1) {
            put(c, "((%s)0)", t->c);
            put(s, "()");
        } else {
            put(c, "((%s)abi_ptr(%d))", t->c, seed % 7);
            put(s, "abi_ptr(%d)", seed % 7);
        }
        return;
    case K_STR: {
        const char *v = str_vals[seed % 4];
        put(c, "%s", v ? v : "((const char *)0)");
        put(s, "%s", v ? v : "()");
        return;
    }
    case K_STRUCT: {
        const gstruct *st = st_of(t);
        put(c, "((%s){", st->cname);
        put(s, "#{");
        for (int i = 0; i < st->nf; i++) {
            const gfield *f = &st->f[i];
            put(c, "%s.%s = ", i ? ", " : "", f->name);
            put(s, "%s%s: ", i ? ", " : "", f->name);
            if (f->n) {
                put(c, "{");
                put(s, "[");
                for (int j = 0; j < f->n; j++) {
                    put(c, "%s", j ? ", " : "");
                    put(s, "%s", j ? ", " : "");
                    value(f->t, seed + i + j, c, s);
                }
                put(c, "}");
                put(s, "]");
            } else {
                value(f->t, seed + i, c, s);
            }
        }
        put(c, "})");
        put(s, "}");
        return;
    }
    case K_VOID: return;
    }
}

/* --- logging --------------------------------------------------------------------------------- */

/* Appends statements that log every scalar leaf of the lvalue `e` of type t. */
static void log_value(const gtype *t, const char *e, buf *o) {
    switch (t->k) {
    case K_LD: put(o, "    abi_log(&(%s), 10);\n", e); return; /* x87: 10 bytes, then padding */
    case K_CLD:
        put(o, "    abi_log(&(%s), 10);\n    abi_log((const char *)&(%s) + 16, 10);\n", e, e);
        return;
    case K_STR: put(o, "    abi_log_str(%s);\n", e); return;
    case K_VOID: return;
    case K_STRUCT: {
        const gstruct *st = st_of(t);
        for (int i = 0; i < st->nf; i++) {
            const gfield *f = &st->f[i];
            char sub[256];
            if (!f->n) {
                snprintf(sub, sizeof sub, "%s.%s", e, f->name);
                log_value(f->t, sub, o);
            }
            for (int j = 0; j < f->n; j++) {
                snprintf(sub, sizeof sub, "%s.%s[%d]", e, f->name, j);
                log_value(f->t, sub, o);
            }
        }
        return;
    }
    default: put(o, "    abi_log(&(%s), sizeof(%s));\n", e, e); return;
    }
}

/* --- signatures ------------------------------------------------------------------------------ */

typedef struct gsig {
    const gtype *ret;
    int n, nfixed;
    bool variadic;
    const gtype *p[32];
} gsig;

static gsig parse_sig(const char *text) {
    gsig g = {0};
    const char *p = text;
    size_t len = strcspn(p, " :");
    g.ret = find_type(p, len);
    p = strchr(p, ':') + 1;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        len = strcspn(p, " ");
        if (len == 3 && memcmp(p, "...", 3) == 0) {
            g.variadic = true;
            g.nfixed = g.n;
        } else {
            g.p[g.n++] = find_type(p, len);
        }
        p += len;
    }
    if (!g.variadic) g.nfixed = g.n;
    return g;
}

/* "T name" for a declaration (arrays are never parameters here). */
static void param(buf *o, const gtype *t, const char *name) {
    size_t n = strlen(t->c);
    put(o, "%s%s%s", t->c, t->c[n - 1] == '*' ? "" : " ", name);
}

static void params(buf *o, const gsig *g, bool names) {
    if (!g->nfixed && !g->variadic) put(o, "void");
    for (int i = 0; i < g->nfixed; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "a%d", i);
        if (i) put(o, ", ");
        if (names)
            param(o, g->p[i], nm);
        else
            put(o, "%s", g->p[i]->c);
    }
    if (g->variadic) put(o, ", ...");
}

static void emit_case(FILE *out, buf *table, int id, const gsig *g) {
    buf o = {0}, decl = {0}, cargs = {0}, sargs = {0}, fptr = {0}, tmp = {0};
    int seed = id * 7;
    put(&sargs, "(");
    for (int i = 0; i < g->n; i++) {
        if (i) {
            put(&cargs, ", ");
            put(&sargs, ", ");
        }
        value(g->p[i], seed, &cargs, &sargs);
        seed += 1;
    }
    put(&sargs, ")");
    /* the function */
    put(&decl, "%s%sabi_f%d(", g->ret->c, g->ret->c[strlen(g->ret->c) - 1] == '*' ? "" : " ", id);
    params(&decl, g, true);
    put(&decl, ")");
    put(&o, "%s {\n", decl.s);
    for (int i = 0; i < g->nfixed; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "a%d", i);
        put(&o, "    abi_tag(%d);\n", i);
        log_value(g->p[i], nm, &o);
    }
    if (g->variadic) {
        put(&o, "    va_list ap;\n    va_start(ap, a%d);\n", g->nfixed - 1);
        for (int i = g->nfixed; i < g->n; i++) {
            char nm[16];
            snprintf(nm, sizeof nm, "e%d", i);
            put(&o, "    ");
            param(&o, g->p[i], nm);
            put(&o, " = va_arg(ap, %s);\n    abi_tag(%d);\n", g->p[i]->c, i);
            log_value(g->p[i], nm, &o);
        }
        put(&o, "    va_end(ap);\n");
    }
    if (g->ret->k != K_VOID) {
        reset(&tmp);
        buf unused = {0};
        value(g->ret, seed, &tmp, &unused);
        free(unused.s);
        put(&o, "    return %s;\n", tmp.s);
    }
    put(&o, "}\n");
    /* sink, drive, direct calls */
    bool has_ret = g->ret->k != K_VOID;
    if (has_ret) {
        put(&o, "void abi_sink%d(", id);
        param(&o, g->ret, "r");
        put(&o, ") {\n    abi_tag(99);\n");
        log_value(g->ret, "r", &o);
        put(&o, "}\n");
    }
    put(&fptr, "%s (*)(", g->ret->c);
    params(&fptr, g, false);
    put(&fptr, ")");
    if (!g->variadic) {
        put(&o, "void abi_drive%d(%s (*fp)(", id, g->ret->c);
        params(&o, g, false);
        put(&o, ")) {\n");
        if (has_ret) {
            put(&o, "    ");
            param(&o, g->ret, "r");
            put(&o, " = fp(%s);\n    abi_tag(99);\n", cargs.s ? cargs.s : "");
            log_value(g->ret, "r", &o);
        } else {
            put(&o, "    fp(%s);\n", cargs.s ? cargs.s : "");
        }
        put(&o, "}\nstatic void abi_direct_cb%d(void) {\n    abi_drive%d(abi_f%d);\n}\n", id, id,
            id);
    }
    if (has_ret)
        put(&o, "static void abi_direct%d(void) {\n    abi_sink%d(abi_f%d(%s));\n}\n", id, id, id,
            cargs.s ? cargs.s : "");
    else
        put(&o, "static void abi_direct%d(void) {\n    abi_f%d(%s);\n}\n", id, id,
            cargs.s ? cargs.s : "");
    fputs(o.s, out);
    /* the table row */
    bool cb = !g->variadic && g->ret->k != K_STR; /* a callback cannot return a string */
    put(table, "    {\"%s\", ", decl.s);
    if (has_ret) {
        put(table, "\"void abi_sink%d(", id);
        param(table, g->ret, "r");
        put(table, ")\", ");
    } else {
        put(table, "NULL, ");
    }
    if (!g->variadic)
        put(table, "\"void abi_drive%d(%s)\", ", id, fptr.s);
    else
        put(table, "NULL, ");
    put(table, cb ? "\"%s\", " : "NULL, ", fptr.s);
    put(table, "\"");
    for (const char *c = sargs.s; *c; c++)
        put(table, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
    put(table, "\", %d, %s, (void *)abi_f%d, ", g->nfixed, g->variadic ? "true" : "false", id);
    put(table, has_ret ? "(void *)abi_sink%d, " : "NULL, ", id);
    put(table, !g->variadic ? "(void *)abi_drive%d, " : "NULL, ", id);
    put(table, "abi_direct%d, ", id);
    put(table, !g->variadic ? "abi_direct_cb%d},\n" : "NULL},\n", id);
    free(o.s);
    free(decl.s);
    free(cargs.s);
    free(sargs.s);
    free(fptr.s);
    free(tmp.s);
}

static const char prologue[] =
    "/* Generated by tests/ffi_abi_gen.c: do not edit. */\n"
    "#include \"ffi_abi.h\"\n"
    "#include <stdarg.h>\n#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n"
    "#include <string.h>\n\n"
    "#if defined(__GNUC__)\n#pragma GCC diagnostic ignored \"-Wmissing-prototypes\"\n#endif\n"
    "static unsigned char log_buf[1 << 16];\nstatic size_t log_len;\n"
    "static void abi_log(const void *p, size_t n) {\n"
    "    if (log_len + n <= sizeof log_buf) memcpy(log_buf + log_len, p, n);\n"
    "    log_len += n;\n}\n"
    "static void abi_tag(int k) {\n    unsigned char t = (unsigned char)k;\n"
    "    abi_log(&t, 1);\n}\n"
    "static void abi_log_str(const char *s) {\n    if (s)\n        abi_log(s, strlen(s) + 1);\n"
    "    else\n        abi_log(\"(null)\", 6);\n}\n"
    "void abi_log_reset(void) {\n    log_len = 0;\n}\n"
    "const unsigned char *abi_log_get(size_t *len) {\n"
    "    *len = log_len < sizeof log_buf ? log_len : sizeof log_buf;\n    return log_buf;\n}\n"
    "static int abi_objects[8];\n"
    "void *abi_ptr(int k) {\n    return &abi_objects[k & 7];\n}\n"
    "static float _Complex abi_cf(float re, float im) {\n"
    "    float _Complex z;\n    float p[2] = {re, im};\n    memcpy(&z, p, sizeof z);\n"
    "    return z;\n}\n"
    "static double _Complex abi_cd(double re, double im) {\n"
    "    double _Complex z;\n    double p[2] = {re, im};\n    memcpy(&z, p, sizeof z);\n"
    "    return z;\n}\n"
    "static long double _Complex abi_cld(long double re, long double im) {\n"
    "    long double _Complex z;\n    long double p[2] = {re, im};\n"
    "    memcpy(&z, p, sizeof z);\n    return z;\n}\n\n";

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ffi_abi_gen OUT.c\n");
        return 2;
    }
    parse_structs();
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    fputs(prologue, out);
    buf cdef = {0}, table = {0};
    for (int i = 0; i < NSTRUCTS; i++) {
        const gstruct *s = &gs[i];
        buf one = {0};
        put(&one, "struct %s {", s->name);
        for (int j = 0; j < s->nf; j++) {
            put(&one, " ");
            param(&one, s->f[j].t, s->f[j].name);
            if (s->f[j].n) put(&one, "[%d]", s->f[j].n);
            put(&one, ";");
        }
        put(&one, " };");
        fprintf(out, "%s\n", one.s);
        put(&cdef, "    \"%s\"\n", one.s);
        free(one.s);
    }
    fprintf(out, "const char abi_cdef[] =\n%s;\n\n", cdef.s);
    for (int i = 0; i < NSIGS; i++) {
        gsig g = parse_sig(sigs[i]);
        emit_case(out, &table, i, &g);
    }
    fprintf(out, "\nconst abi_case abi_cases[] = {\n%s};\nconst int abi_ncases = %d;\n", table.s,
            NSIGS);
    free(cdef.s);
    free(table.s);
    return fclose(out) == 0 ? 0 : 1;
}
