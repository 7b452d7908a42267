/*
 * lib_math.c — numbers: arithmetic helpers, the f64 functions of Rust's std (sin, ln, floor,
 * ...), conversions between ints, floats, chars and strings (to_int, parse_int, to_hex, ...)
 * and predicates (is_odd, is_nan, ...). Integer operations are checked as in Rhai: overflow
 * is an arithmetic error, never undefined behaviour.
 */
#include "lib.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI_F64 3.14159265358979323846
#define E_F64  2.71828182845904523536

#define NOFN(name) clib_nofn(vm, name, argc, argv)

static bool is_num(cryo_value v) {
    return v.type == CRYO_T_INT || v.type == CRYO_T_FLOAT;
}
static double num(cryo_value v) {
    return v.type == CRYO_T_INT ? (double)v.as.i : v.as.f;
}

/* --- f64 -> f64 functions, one host function for all (userdata names the C function) ---------- */

typedef struct fn1 {
    const char *name;
    double (*f)(double);
} fn1;

static double d_fraction(double x) {
    return x - trunc(x);
}
static double d_to_degrees(double x) {
    return x * (180.0 / PI_F64);
}
static double d_to_radians(double x) {
    return x * (PI_F64 / 180.0);
}

static const fn1 f_sin = {"sin", sin}, f_cos = {"cos", cos}, f_tan = {"tan", tan},
                 f_asin = {"asin", asin}, f_acos = {"acos", acos}, f_atan = {"atan", atan},
                 f_sinh = {"sinh", sinh}, f_cosh = {"cosh", cosh}, f_tanh = {"tanh", tanh},
                 f_asinh = {"asinh", asinh}, f_acosh = {"acosh", acosh}, f_atanh = {"atanh", atanh},
                 f_sqrt = {"sqrt", sqrt}, f_exp = {"exp", exp}, f_ln = {"ln", log},
                 f_log10 = {"log", log10}, f_floor = {"floor", floor},
                 f_ceiling = {"ceiling", ceil}, f_round = {"round", round}, f_int = {"int", trunc},
                 f_fraction = {"fraction", d_fraction}, f_to_degrees = {"to_degrees", d_to_degrees},
                 f_to_radians = {"to_radians", d_to_radians};

static CRYO_LIB_FN(math_fn1) {
    const fn1 *d = ud;
    if (!is_num(*argv[0])) return NOFN(d->name);
    *ret = cryo_float(d->f(num(*argv[0])));
    return CRYO_OK;
}

/* atan(y, x) is Rust's y.atan2(x). */
static CRYO_LIB_FN(math_atan2) {
    (void)ud;
    if (!is_num(*argv[0]) || !is_num(*argv[1])) return NOFN("atan");
    *ret = cryo_float(atan2(num(*argv[0]), num(*argv[1])));
    return CRYO_OK;
}

static CRYO_LIB_FN(math_hypot) {
    (void)ud;
    if (!is_num(*argv[0]) || !is_num(*argv[1])) return NOFN("hypot");
    *ret = cryo_float(hypot(num(*argv[0]), num(*argv[1])));
    return CRYO_OK;
}

/* log(x, base) */
static CRYO_LIB_FN(math_log2) {
    (void)ud;
    if (!is_num(*argv[0]) || !is_num(*argv[1])) return NOFN("log");
    *ret = cryo_float(log(num(*argv[0])) / log(num(*argv[1])));
    return CRYO_OK;
}

static CRYO_LIB_FN(math_pi) {
    (void)vm, (void)ud, (void)argc, (void)argv;
    *ret = cryo_float(PI_F64);
    return CRYO_OK;
}

static CRYO_LIB_FN(math_e) {
    (void)vm, (void)ud, (void)argc, (void)argv;
    *ret = cryo_float(E_F64);
    return CRYO_OK;
}

/* --- sign, abs, min, max ---------------------------------------------------------------------- */

static CRYO_LIB_FN(math_abs) {
    (void)ud;
    cryo_value v = *argv[0];
    if (v.type == CRYO_T_FLOAT) {
        *ret = cryo_float(fabs(v.as.f));
        return CRYO_OK;
    }
    if (v.type != CRYO_T_INT) return NOFN("abs");
    if (v.as.i == INT64_MIN)
        return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "integer overflow: abs(%lld)",
                             (long long)v.as.i);
    *ret = cryo_int(v.as.i < 0 ? -v.as.i : v.as.i);
    return CRYO_OK;
}

static CRYO_LIB_FN(math_sign) {
    (void)ud;
    cryo_value v = *argv[0];
    if (v.type == CRYO_T_INT) {
        *ret = cryo_int((v.as.i > 0) - (v.as.i < 0));
        return CRYO_OK;
    }
    if (v.type != CRYO_T_FLOAT) return NOFN("sign");
    if (isnan(v.as.f)) return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "sign of NaN is undefined");
    *ret = cryo_int((v.as.f > 0) - (v.as.f < 0));
    return CRYO_OK;
}

static cryo_error_kind min_max(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret,
                               bool want_max) {
    cryo_value a = *argv[0], b = *argv[1];
    const char *name = want_max ? "max" : "min";
    if (a.type == CRYO_T_INT && b.type == CRYO_T_INT) {
        *ret = cryo_int(want_max ? (a.as.i > b.as.i ? a.as.i : b.as.i)
                                 : (a.as.i < b.as.i ? a.as.i : b.as.i));
        return CRYO_OK;
    }
    if (is_num(a) && is_num(b)) {
        double x = num(a), y = num(b);
        *ret = cryo_float(want_max ? fmax(x, y) : fmin(x, y));
        return CRYO_OK;
    }
    int cmp;
    if ((a.type != CRYO_T_STRING && a.type != CRYO_T_CHAR) || a.type != b.type ||
        !cv_compare(a, b, &cmp))
        return NOFN(name);
    cryo_value r = (want_max ? cmp >= 0 : cmp <= 0) ? a : b;
    cv_retain(r);
    cv_set(&vm->heap, ret, r);
    return CRYO_OK;
}

static CRYO_LIB_FN(math_max) {
    (void)ud;
    return min_max(vm, argc, argv, ret, true);
}

static CRYO_LIB_FN(math_min) {
    (void)ud;
    return min_max(vm, argc, argv, ret, false);
}

/* --- predicates ------------------------------------------------------------------------------- */

static CRYO_LIB_FN(math_is_odd) {
    (void)ud;
    if (argv[0]->type != CRYO_T_INT) return NOFN("is_odd");
    *ret = cryo_bool((argv[0]->as.i & 1) != 0);
    return CRYO_OK;
}

static CRYO_LIB_FN(math_is_even) {
    (void)ud;
    if (argv[0]->type != CRYO_T_INT) return NOFN("is_even");
    *ret = cryo_bool((argv[0]->as.i & 1) == 0);
    return CRYO_OK;
}

static CRYO_LIB_FN(math_is_zero) {
    (void)ud;
    if (!is_num(*argv[0])) return NOFN("is_zero");
    *ret = cryo_bool(num(*argv[0]) == 0);
    return CRYO_OK;
}

static CRYO_LIB_FN(math_is_nan) {
    (void)ud;
    if (argv[0]->type != CRYO_T_FLOAT) return NOFN("is_nan");
    *ret = cryo_bool(isnan(argv[0]->as.f));
    return CRYO_OK;
}

static CRYO_LIB_FN(math_is_finite) {
    (void)ud;
    if (!is_num(*argv[0])) return NOFN("is_finite");
    *ret = cryo_bool(isfinite(num(*argv[0])));
    return CRYO_OK;
}

static CRYO_LIB_FN(math_is_infinite) {
    (void)ud;
    if (!is_num(*argv[0])) return NOFN("is_infinite");
    *ret = cryo_bool(isinf(num(*argv[0])));
    return CRYO_OK;
}

/* --- conversions
 * ---------------------------------------------------------------------------------- */

static CRYO_LIB_FN(math_to_int) {
    (void)ud;
    cryo_value v = *argv[0];
    switch (v.type) {
    case CRYO_T_INT: *ret = v; return CRYO_OK;
    case CRYO_T_CHAR: *ret = cryo_int(v.as.c); return CRYO_OK;
    case CRYO_T_FLOAT:
        /* 2^63 itself does not fit; NaN fails both comparisons. */
        if (!(v.as.f < 9223372036854775808.0 && v.as.f >= -9223372036854775808.0))
            return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "integer overflow: to_int(%g)", v.as.f);
        *ret = cryo_int((int64_t)v.as.f);
        return CRYO_OK;
    default: return NOFN("to_int");
    }
}

static CRYO_LIB_FN(math_to_float) {
    (void)ud;
    if (!is_num(*argv[0])) return NOFN("to_float");
    *ret = cryo_float(num(*argv[0]));
    return CRYO_OK;
}

static CRYO_LIB_FN(math_to_char) {
    (void)ud;
    if (argv[0]->type == CRYO_T_CHAR) {
        *ret = *argv[0];
        return CRYO_OK;
    }
    if (argv[0]->type != CRYO_T_INT) return NOFN("to_char");
    int64_t c = argv[0]->as.i;
    if (c < 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "to_char: %lld is not a valid character",
                             (long long)c);
    *ret = cryo_char((uint32_t)c);
    return CRYO_OK;
}

static bool is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Trims ASCII and Latin-1 whitespace, enough for numbers (Rust trims Unicode whitespace, but
 * a number with other leading spaces would not parse anyway). */
static void trim_bytes(const char **p, size_t *len) {
    while (*len && is_space(**p))
        (*p)++, (*len)--;
    while (*len && is_space((*p)[*len - 1]))
        (*len)--;
}

static int digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    return 99;
}

/* Rust's i64::from_str_radix: optional sign, then at least one digit, nothing else. */
static bool parse_i64(const char *p, size_t len, int radix, int64_t *out) {
    bool neg = false;
    if (len && (*p == '+' || *p == '-')) neg = *p == '-', p++, len--;
    if (len == 0) return false;
    int64_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value(p[i]);
        if (d >= radix) return false;
        if (__builtin_mul_overflow(acc, (int64_t)radix, &acc)) return false;
        if (neg ? __builtin_sub_overflow(acc, (int64_t)d, &acc)
                : __builtin_add_overflow(acc, (int64_t)d, &acc))
            return false;
    }
    *out = acc;
    return true;
}

static CRYO_LIB_FN(math_parse_int) {
    (void)ud;
    if (argv[0]->type != CRYO_T_STRING || (argc == 2 && argv[1]->type != CRYO_T_INT))
        return NOFN("parse_int");
    int64_t radix = argc == 2 ? argv[1]->as.i : 10;
    if (radix < 2 || radix > 36)
        return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "invalid radix: '%lld'", (long long)radix);
    const cryo_string *s = cv_str(*argv[0]);
    const char *p = s->data;
    size_t len = s->len;
    trim_bytes(&p, &len);
    int64_t v;
    if (!parse_i64(p, len, (int)radix, &v))
        return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "error parsing integer number '%s'", s->data);
    *ret = cryo_int(v);
    return CRYO_OK;
}

static CRYO_LIB_FN(math_parse_float) {
    (void)ud;
    if (argv[0]->type != CRYO_T_STRING) return NOFN("parse_float");
    const cryo_string *s = cv_str(*argv[0]);
    const char *p = s->data;
    size_t len = s->len;
    trim_bytes(&p, &len);
    char buf[128];
    bool ok = len > 0 && len < sizeof buf;
    if (ok) {
        memcpy(buf, p, len);
        buf[len] = '\0';
        /* strtod also reads hex floats and nan(...), which Rust rejects. */
        ok = !strpbrk(buf, "xX(") && !is_space(buf[0]);
    }
    double d = 0;
    if (ok) {
        char *end;
        d = strtod(buf, &end);
        ok = end == buf + len;
    }
    if (!ok)
        return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "error parsing floating-point number '%s'",
                             s->data);
    *ret = cryo_float(d);
    return CRYO_OK;
}

/* to_hex / to_octal / to_binary: the two's complement bits of negative numbers, as Rust's
 * {:x} formatting gives. */
static cryo_error_kind to_radix(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret,
                                const char *name, unsigned shift) {
    if (argv[0]->type != CRYO_T_INT) return NOFN(name);
    uint64_t v = (uint64_t)argv[0]->as.i, mask = (1u << shift) - 1;
    char buf[65];
    size_t n = sizeof buf;
    do {
        buf[--n] = "0123456789abcdef"[v & mask];
        v >>= shift;
    } while (v);
    return clib_ret_string(vm, ret, buf + n, sizeof buf - n);
}

static CRYO_LIB_FN(math_to_hex) {
    (void)ud;
    return to_radix(vm, argc, argv, ret, "to_hex", 4);
}

static CRYO_LIB_FN(math_to_octal) {
    (void)ud;
    return to_radix(vm, argc, argv, ret, "to_octal", 3);
}

static CRYO_LIB_FN(math_to_binary) {
    (void)ud;
    return to_radix(vm, argc, argv, ret, "to_binary", 1);
}

#define F1(nm, d)                                                                                  \
    { nm, 1, math_fn1, (void *)&d }

const cryo_libreg clib_math[] = {
    F1("sin", f_sin),
    F1("cos", f_cos),
    F1("tan", f_tan),
    F1("asin", f_asin),
    F1("acos", f_acos),
    F1("atan", f_atan),
    F1("sinh", f_sinh),
    F1("cosh", f_cosh),
    F1("tanh", f_tanh),
    F1("asinh", f_asinh),
    F1("acosh", f_acosh),
    F1("atanh", f_atanh),
    F1("sqrt", f_sqrt),
    F1("exp", f_exp),
    F1("ln", f_ln),
    F1("log", f_log10),
    F1("floor", f_floor),
    F1("ceiling", f_ceiling),
    F1("round", f_round),
    F1("int", f_int),
    F1("fraction", f_fraction),
    F1("to_degrees", f_to_degrees),
    F1("to_radians", f_to_radians),
    {"atan", 2, math_atan2, NULL},
    {"hypot", 2, math_hypot, NULL},
    {"log", 2, math_log2, NULL},
    {"PI", 0, math_pi, NULL},
    {"E", 0, math_e, NULL},
    {"abs", 1, math_abs, NULL},
    {"sign", 1, math_sign, NULL},
    {"max", 2, math_max, NULL},
    {"min", 2, math_min, NULL},
    {"is_odd", 1, math_is_odd, NULL},
    {"is_even", 1, math_is_even, NULL},
    {"is_zero", 1, math_is_zero, NULL},
    {"is_nan", 1, math_is_nan, NULL},
    {"is_finite", 1, math_is_finite, NULL},
    {"is_infinite", 1, math_is_infinite, NULL},
    {"to_int", 1, math_to_int, NULL},
    {"to_float", 1, math_to_float, NULL},
    {"to_char", 1, math_to_char, NULL},
    {"parse_int", 1, math_parse_int, NULL},
    {"parse_int", 2, math_parse_int, NULL},
    {"parse_float", 1, math_parse_float, NULL},
    {"to_hex", 1, math_to_hex, NULL},
    {"to_octal", 1, math_to_octal, NULL},
    {"to_binary", 1, math_to_binary, NULL},
    {NULL, 0, NULL, NULL},
};
