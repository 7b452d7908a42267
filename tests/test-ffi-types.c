/*
 * test-ffi-types.c — the C types beyond the basic scalars: long double (a script float, with
 * the extra precision lost both ways), float/double/long double _Complex (#{re, im}, also given
 * as [re, im] or a number), structs passed to '...' (the struct whose fields the map has), and
 * the declaration parser's spellings of them and its errors.
 */
#include "test.h"

#include "cryo_ffi.h"

/* --- C functions under test ---------------------------------------------------------------- */

static long double third_ld(void) {
    return 1.0L / 3;
}
static int is_exactly_tenth(long double x) {
    return x == 0.1L;
}
static int is_double_tenth(long double x) {
    return x == (long double)0.1;
}
static long double ld_add(long double a, int n, long double b) {
    return a + n + b;
}
static double _Complex cd_mul(double _Complex a, double _Complex b) {
    return a * b;
}
static float _Complex cf_conj(float _Complex z) {
    float p[2];
    memcpy(p, &z, sizeof p);
    p[1] = -p[1];
    memcpy(&z, p, sizeof p);
    return z;
}
static double cd_parts(double _Complex z, int which) {
    double p[2];
    memcpy(p, &z, sizeof p);
    return p[which];
}
static long double _Complex cld_make(long double re, long double im) {
    long double p[2] = {re, im};
    long double _Complex z;
    memcpy(&z, p, sizeof z);
    return z;
}

struct pt {
    int32_t px;
    double py;
};
struct mixed {
    int32_t ma;
    float mb;
    double mc;
};
/* Sums n variadic struct pt arguments, then one struct mixed. */
static double sum_pts(int n, ...) {
    va_list ap;
    va_start(ap, n);
    double s = 0;
    for (int i = 0; i < n; i++) {
        struct pt p = va_arg(ap, struct pt);
        s += p.px + p.py;
    }
    struct mixed m = va_arg(ap, struct mixed);
    va_end(ap);
    return s + m.ma + m.mb + m.mc;
}

static cryo_ffi_scope *scope;
static cryo_context *ctx;

static void add(cryo_package *pkg, const char *decl, void *fn) {
    cryo_error *err = NULL;
    cryo_error_kind k = cryo_ffi_package_add(pkg, scope, NULL, decl, fn, &err);
    if (k != CRYO_OK) fprintf(stderr, "%s: %s\n", decl, err ? err->message : "?");
    cryo_error_free(err);
    assert_int_equal(k, CRYO_OK);
}

static int setup(void **state) {
    (void)state;
    scope = cryo_ffi_scope_new();
    cryo_error *err = NULL;
    assert_int_equal(cryo_ffi_cdef(scope,
                                   "struct pt { int32_t px; double py; };"
                                   "struct mixed { int32_t ma; float mb; double mc; };"
                                   "struct twin_a { int k; }; struct twin_b { double k; };",
                                   &err),
                     CRYO_OK);
    cryo_package *pkg = cryo_package_new("types");
    add(pkg, "long double third_ld(void)", (void *)third_ld);
    add(pkg, "int is_exactly_tenth(long double x)", (void *)is_exactly_tenth);
    add(pkg, "int is_double_tenth(long double x)", (void *)is_double_tenth);
    add(pkg, "long double ld_add(long double a, int n, long double b)", (void *)ld_add);
    add(pkg, "double _Complex cd_mul(double _Complex a, double complex b)", (void *)cd_mul);
    add(pkg, "_Complex float cf_conj(float _Complex z)", (void *)cf_conj);
    add(pkg, "double cd_parts(complex double z, int which)", (void *)cd_parts);
    add(pkg, "long double _Complex cld_make(long double re, long double im)", (void *)cld_make);
    add(pkg, "double sum_pts(int n, ...)", (void *)sum_pts);
    cryo_package_seal(pkg);
    cryo_package *pkgs[2] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    return ctx ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctx);
    cryo_ffi_scope_free(scope);
    return 0;
}

/* --- tests ----------------------------------------------------------------------------------- */

static void test_long_double(void **state) {
    (void)state;
    char want[64];
    snprintf(want, sizeof want, "%s", "0.3333333333333333"); /* (double)(1.0L / 3) */
    EXPECT_IN(ctx, "third_ld()", want);
    /* a script float is a double: 0.1 arrives as (long double)0.1, not 0.1L (equal only where
     * long double is double, or under valgrind, which computes x87 code in doubles) */
    int (*volatile direct)(long double) = is_exactly_tenth; /* run, not folded */
    snprintf(want, sizeof want, "[%d, 1]", direct((long double)0.1));
    EXPECT_IN(ctx, "[is_exactly_tenth(0.1), is_double_tenth(0.1)]", want);
    EXPECT_IN(ctx, "ld_add(1.5, 2, 0.25)", "3.75");
    EXPECT_IN(ctx, "ld_add(1, 2, 3)", "6.0"); /* ints convert */
    EXPECT_ERR_IN(ctx, "ld_add(\"x\", 2, 3)", CRYO_ERR_TYPE, "C type 'long double'");
}

static void test_complex(void **state) {
    (void)state;
    /* (1 + 2i)(3 - i) = 5 + 5i */
    EXPECT_IN(ctx, "let z = cd_mul(#{re: 1.0, im: 2.0}, [3, -1]); [z.re, z.im]", "[5.0, 5.0]");
    EXPECT_IN(ctx, "let z = cf_conj(#{re: 1.5, im: 0.25}); [z.re, z.im]", "[1.5, -0.25]");
    EXPECT_IN(ctx, "[cd_parts(2.5, 0), cd_parts(2.5, 1)]", "[2.5, 0.0]");           /* a real */
    EXPECT_IN(ctx, "[cd_parts(#{im: 4}, 0), cd_parts(#{im: 4}, 1)]", "[0.0, 4.0]"); /* re missing */
    EXPECT_IN(ctx, "let z = cld_make(0.5, -8.0); [z.re, z.im]", "[0.5, -8.0]");
    EXPECT_ERR_IN(ctx, "cd_parts(\"1+2i\", 0)", CRYO_ERR_TYPE, "C type 'double _Complex'");
    EXPECT_ERR_IN(ctx, "cd_parts([1.0], 0)", CRYO_ERR_TYPE, "cannot convert array");
    EXPECT_ERR_IN(ctx, "cd_parts(#{re: \"1\"}, 0)", CRYO_ERR_TYPE, "cannot convert map");
}

static void test_variadic_structs(void **state) {
    (void)state;
    EXPECT_IN(ctx, "sum_pts(2, #{px: 1, py: 0.5}, #{py: 2.0, px: 3}, #{ma: 10, mb: 0.5, mc: 0.25})",
              "17.25");
    /* a captured map (a shared cell) */
    EXPECT_IN(ctx,
              "let p = #{px: 2, py: 0.5}; let f = || sum_pts(1, p, #{ma: 1, mb: 0.0, mc: 0.0}); "
              "f.call()",
              "3.5");
    EXPECT_ERR_IN(ctx, "sum_pts(1, #{px: 1})", CRYO_ERR_TYPE, "no struct has these 1 fields");
    EXPECT_ERR_IN(ctx, "sum_pts(1, #{k: 1})", CRYO_ERR_TYPE, "match both");
    EXPECT_ERR_IN(ctx, "sum_pts(1, [1, 2])", CRYO_ERR_TYPE, "cannot pass array to a variadic");
}

static void parse_ok(const char *decl, const char *nparams_name) {
    cryo_error *err = NULL;
    cryo_ffi_sig *sig = cryo_ffi_parse(scope, decl, &err);
    if (!sig) fprintf(stderr, "%s: %s\n", decl, err ? err->message : "?");
    assert_non_null(sig);
    assert_string_equal(cryo_ffi_sig_name(sig), nparams_name);
}

static void parse_bad(const char *decl, const char *part) {
    cryo_error *err = NULL;
    cryo_ffi_sig *sig = cryo_ffi_parse(scope, decl, &err);
    assert_null(sig);
    assert_non_null(err);
    if (!strstr(err->message, part)) fprintf(stderr, "%s: %s\n", decl, err->message);
    assert_int_equal(err->kind, CRYO_ERR_PARSE);
    assert_non_null(strstr(err->message, part));
    cryo_error_free(err);
}

static void test_parse(void **state) {
    (void)state;
    parse_ok("long double f(long double, double long)", "f");
    parse_ok("double _Complex g(_Complex double, float complex, long double _Complex)", "g");
    parse_ok("const long double *h(void)", "h");
    parse_bad("long float f(void)", "a valid floating type");
    parse_bad("long long double f(void)", "a valid floating type");
    parse_bad("_Complex int f(void)", "a valid floating type");
    parse_bad("_Complex f(void)", "a valid floating type");
    parse_bad("unsigned double f(void)", "a valid floating type");
    parse_bad("double double f(void)", "a valid floating type");
    /* struct fields of these types */
    cryo_error *err = NULL;
    assert_int_equal(
        cryo_ffi_cdef(scope, "struct wide { long double a; double _Complex b[2]; };", &err),
        CRYO_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_double),
        cmocka_unit_test(test_complex),
        cmocka_unit_test(test_variadic_structs),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
