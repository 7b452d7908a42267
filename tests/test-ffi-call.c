/*
 * test-ffi-call.c — calling C from scripts: C functions registered by declaration for every
 * supported type (arguments and returns, range checks), strings, typed pointers, structs by
 * value, variadic calls (snprintf), wrong argument types, and the ffi:: module with and without
 * the capability.
 */
#include "test.h"

#include "cryo_ffi.h"

#include <math.h>

/* --- C functions under test ---------------------------------------------------------------- */

#define ID(T, name)                                                                                \
    static T name(T x) {                                                                           \
        return x;                                                                                  \
    }
ID(bool, id_bool)
ID(char, id_char)
ID(signed char, id_schar)
ID(unsigned char, id_uchar)
ID(short, id_short)
ID(unsigned short, id_ushort)
ID(int, id_int)
ID(unsigned int, id_uint)
ID(long, id_long)
ID(unsigned long, id_ulong)
ID(long long, id_llong)
ID(int8_t, id_i8)
ID(uint8_t, id_u8)
ID(int16_t, id_i16)
ID(uint16_t, id_u16)
ID(int32_t, id_i32)
ID(uint32_t, id_u32)
ID(int64_t, id_i64)
ID(uint64_t, id_u64)
ID(size_t, id_size)
ID(ssize_t, id_ssize)
ID(intptr_t, id_intptr)
ID(uintptr_t, id_uintptr)
ID(float, id_float)
ID(double, id_double)

static int8_t neg_i8(int8_t x) {
    return (int8_t)-x;
}
static int16_t neg_i16(int16_t x) {
    return (int16_t)-x;
}
static double mix(int a, double b, float c, uint8_t d, long long e) {
    return a + b + c + d + (double)e;
}
static size_t c_strlen(const char *s) {
    return strlen(s);
}
static const char *greet(void) {
    return "hello from C";
}
static const char *null_str(void) {
    return NULL;
}
static int sum_ints(const int *p, int n) {
    int s = 0;
    for (int i = 0; i < n; i++)
        s += p[i];
    return s;
}
static void fill(double *p, int n) {
    for (int i = 0; i < n; i++)
        p[i] = i * 0.5;
}
static int *static_ints(void) {
    static int v[4] = {10, 20, 30, 40};
    return v;
}
static void nothing(void) {}
static bool is_null(void *p) {
    return p == NULL;
}

struct point {
    double x, y;
};
struct rect {
    struct point a, b;
    int tag;
};
struct small {
    uint8_t a;
    int16_t b;
};
static struct point mid(struct point a, struct point b) {
    return (struct point){(a.x + b.x) / 2, (a.y + b.y) / 2};
}
static double area(struct rect r) {
    return fabs(r.b.x - r.a.x) * fabs(r.b.y - r.a.y) + r.tag;
}
static struct rect make_rect(double w, double h) {
    return (struct rect){{0, 0}, {w, h}, 7};
}
static struct small swap_small(struct small s) {
    return (struct small){(uint8_t)(s.b & 0xff), (int16_t)-s.a};
}
static double point_len(const struct point *p) {
    return sqrt(p->x * p->x + p->y * p->y);
}
struct tagged {
    int16_t id;
    uint8_t tag[3];
    double w[2];
};
static struct tagged bump_tags(struct tagged t) {
    for (int i = 0; i < 3; i++)
        t.tag[i] = (uint8_t)(t.tag[i] + 1);
    t.w[0] *= 2;
    t.w[1] = -t.w[1];
    t.id = (int16_t)-t.id;
    return t;
}
struct node {
    int v;
    struct node *next;
};
static struct node list_nodes[3] = {{1, &list_nodes[1]}, {2, &list_nodes[2]}, {3, NULL}};
static struct node *list_head(void) {
    return list_nodes;
}
static int list_sum(const struct node *n) {
    int s = 0;
    for (; n; n = n->next)
        s += n->v;
    return s;
}
static struct node node_at(const struct node *n, int i) {
    while (i-- > 0 && n->next)
        n = n->next;
    return *n;
}

/* --- helpers -------------------------------------------------------------------------------- */

static cryo_ffi_scope *scope;
static cryo_context *ctx;

static void add(cryo_package *pkg, const char *decl, void *fn) {
    cryo_error *err = NULL;
    cryo_error_kind k = cryo_ffi_package_add(pkg, scope, NULL, decl, fn, &err);
    if (k) fprintf(stderr, "%s: %s\n", decl, err ? err->message : "?");
    assert_int_equal(k, CRYO_OK);
}

static int setup(void **state) {
    (void)state;
    scope = cryo_ffi_scope_new();
    cryo_error *err = NULL;
    assert_int_equal(cryo_ffi_cdef(scope,
                                   "struct point { double x, y; };"
                                   "struct rect { struct point a, b; int tag; };"
                                   "struct small { uint8_t a; int16_t b; };"
                                   "struct tagged { int16_t id; uint8_t tag[3]; double w[2]; };"
                                   "struct node { int v; struct node *next; };",
                                   &err),
                     CRYO_OK);
    cryo_package *pkg = cryo_package_new("c");
    add(pkg, "bool id_bool(bool)", (void *)id_bool);
    add(pkg, "char id_char(char)", (void *)id_char);
    add(pkg, "signed char id_schar(signed char)", (void *)id_schar);
    add(pkg, "unsigned char id_uchar(unsigned char)", (void *)id_uchar);
    add(pkg, "short id_short(short)", (void *)id_short);
    add(pkg, "unsigned short id_ushort(unsigned short)", (void *)id_ushort);
    add(pkg, "int id_int(int)", (void *)id_int);
    add(pkg, "unsigned int id_uint(unsigned int)", (void *)id_uint);
    add(pkg, "long id_long(long)", (void *)id_long);
    add(pkg, "unsigned long id_ulong(unsigned long)", (void *)id_ulong);
    add(pkg, "long long id_llong(long long)", (void *)id_llong);
    add(pkg, "int8_t id_i8(int8_t)", (void *)id_i8);
    add(pkg, "uint8_t id_u8(uint8_t)", (void *)id_u8);
    add(pkg, "int16_t id_i16(int16_t)", (void *)id_i16);
    add(pkg, "uint16_t id_u16(uint16_t)", (void *)id_u16);
    add(pkg, "int32_t id_i32(int32_t)", (void *)id_i32);
    add(pkg, "uint32_t id_u32(uint32_t)", (void *)id_u32);
    add(pkg, "int64_t id_i64(int64_t)", (void *)id_i64);
    add(pkg, "uint64_t id_u64(uint64_t)", (void *)id_u64);
    add(pkg, "size_t id_size(size_t)", (void *)id_size);
    add(pkg, "ssize_t id_ssize(ssize_t)", (void *)id_ssize);
    add(pkg, "intptr_t id_intptr(intptr_t)", (void *)id_intptr);
    add(pkg, "uintptr_t id_uintptr(uintptr_t)", (void *)id_uintptr);
    add(pkg, "float id_float(float)", (void *)id_float);
    add(pkg, "double id_double(double)", (void *)id_double);
    add(pkg, "int8_t neg_i8(int8_t)", (void *)neg_i8);
    add(pkg, "int16_t neg_i16(int16_t)", (void *)neg_i16);
    add(pkg, "double mix(int a, double b, float c, uint8_t d, long long e)", (void *)mix);
    add(pkg, "size_t c_strlen(const char *s)", (void *)c_strlen);
    add(pkg, "const char *greet(void)", (void *)greet);
    add(pkg, "const char *null_str(void)", (void *)null_str);
    add(pkg, "int sum_ints(const int *p, int n)", (void *)sum_ints);
    add(pkg, "void fill(double *p, int n)", (void *)fill);
    add(pkg, "int *static_ints(void)", (void *)static_ints);
    add(pkg, "void nothing(void)", (void *)nothing);
    add(pkg, "bool is_null(void *p)", (void *)is_null);
    add(pkg, "struct point mid(struct point a, struct point b)", (void *)mid);
    add(pkg, "double area(struct rect r)", (void *)area);
    add(pkg, "struct rect make_rect(double w, double h)", (void *)make_rect);
    add(pkg, "struct small swap_small(struct small s)", (void *)swap_small);
    add(pkg, "double point_len(const struct point *p)", (void *)point_len);
    add(pkg, "struct tagged bump_tags(struct tagged t)", (void *)bump_tags);
    add(pkg, "struct node *list_head(void)", (void *)list_head);
    add(pkg, "int list_sum(const struct node *n)", (void *)list_sum);
    add(pkg, "struct node node_at(const struct node *n, int i)", (void *)node_at);
    add(pkg, "int snprintf(char *buf, size_t n, const char *fmt, ...)", (void *)snprintf);
    /* a declaration under another name */
    cryo_error *err2 = NULL;
    assert_int_equal(
        cryo_ffi_package_add(pkg, scope, "cosine", "double cos(double)", (void *)cos, &err2),
        CRYO_OK);
    /* a bad declaration is refused with its error */
    assert_int_equal(
        cryo_ffi_package_add(pkg, scope, NULL, "double cos(double", (void *)cos, &err2),
        CRYO_ERR_PARSE);
    assert_non_null(err2);
    cryo_error_free(err2);
    cryo_package_seal(pkg);
    cryo_package *pkgs[3] = {cryo_package_std(), pkg, cryo_ffi_package()};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 3, .capabilities = CRYO_CAP_FFI};
    ctx = cryo_context_new(&cfg);
    assert_non_null(ctx);
    cryo_package_release(pkg);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctx);
    cryo_ffi_scope_free(scope);
    return 0;
}

/* --- tests ----------------------------------------------------------------------------------- */

static void test_every_type(void **state) {
    (void)state;
    EXPECT_IN(ctx, "[id_bool(true), id_bool(false)]", "[true, false]");
    EXPECT_IN(ctx, "[id_char(-128), id_char(127), id_char('A')]", "[-128, 127, 65]");
    EXPECT_IN(ctx, "[id_schar(-128), id_uchar(255)]", "[-128, 255]");
    EXPECT_IN(ctx, "[id_short(-32768), id_ushort(65535)]", "[-32768, 65535]");
    EXPECT_IN(ctx, "[id_int(-2147483648), id_uint(4294967295)]", "[-2147483648, 4294967295]");
    EXPECT_IN(ctx, "[id_long(-9223372036854775807 - 1), id_ulong(9223372036854775807)]",
              "[-9223372036854775808, 9223372036854775807]");
    EXPECT_IN(ctx, "id_llong(-5)", "-5");
    EXPECT_IN(ctx, "[id_i8(-128), id_u8(255), id_i16(-32768), id_u16(65535)]",
              "[-128, 255, -32768, 65535]");
    EXPECT_IN(ctx, "[id_i32(-2147483648), id_u32(4294967295), id_i64(-1), id_u64(42)]",
              "[-2147483648, 4294967295, -1, 42]");
    EXPECT_IN(ctx, "[id_size(12), id_ssize(-12), id_intptr(-3), id_uintptr(3)]",
              "[12, -12, -3, 3]");
    EXPECT_IN(ctx, "[id_float(1.5), id_double(-2.25), id_double(3)]", "[1.5, -2.25, 3.0]");
    /* small returns are widened correctly (sign of i8/i16) */
    EXPECT_IN(ctx, "[neg_i8(5), neg_i16(300)]", "[-5, -300]");
    EXPECT_IN(ctx, "mix(1, 2.5, 0.5, 200, 1000000000000)", "1000000000204.0");
    EXPECT_IN(ctx, "nothing()", "()");
}

static void test_ranges_and_types(void **state) {
    (void)state;
    EXPECT_ERR_IN(ctx, "id_i8(128)", CRYO_ERR_ARITHMETIC, "128 is out of range for int8_t");
    EXPECT_ERR_IN(ctx, "id_u8(-1)", CRYO_ERR_ARITHMETIC, "out of range for uint8_t");
    EXPECT_ERR_IN(ctx, "id_u16(65536)", CRYO_ERR_ARITHMETIC, "out of range");
    EXPECT_ERR_IN(ctx, "id_int(2147483648)", CRYO_ERR_ARITHMETIC, "out of range");
    EXPECT_ERR_IN(ctx, "id_uint(-1)", CRYO_ERR_ARITHMETIC, "out of range");
    EXPECT_ERR_IN(ctx, "id_u64(-1)", CRYO_ERR_ARITHMETIC, "out of range");
    EXPECT_ERR_IN(ctx, "id_size(-1)", CRYO_ERR_ARITHMETIC, "out of range");
    /* u64 results above i64::MAX cannot be represented */
    EXPECT_ERR_IN(ctx,
                  "id_u64(9223372036854775807) ; let c = ffi::open(); "
                  "let f = ffi::func(c, \"unsigned long strtoul(const char *, void *, int)\"); "
                  "f(\"18446744073709551615\", (), 10)",
                  CRYO_ERR_ARITHMETIC, "does not fit i64");
    EXPECT_ERR_IN(ctx, "id_int(\"x\")", CRYO_ERR_TYPE, "cannot convert string to C type 'int32_t'");
    EXPECT_ERR_IN(ctx, "id_double(\"1.0\")", CRYO_ERR_TYPE,
                  "cannot convert string to C type 'double'");
    EXPECT_ERR_IN(ctx, "id_bool(1)", CRYO_ERR_TYPE, "cannot convert i64 to C type 'bool'");
    EXPECT_ERR_IN(ctx, "c_strlen(42)", CRYO_ERR_TYPE, "argument 1 ('s')");
    EXPECT_ERR_IN(ctx, "sum_ints([1, 2], 2)", CRYO_ERR_TYPE, "cannot convert array");
    EXPECT_ERR_IN(ctx, "mid(1, 2)", CRYO_ERR_TYPE, "cannot convert i64 to C type 'struct point'");
    EXPECT_ERR_IN(ctx, "area(#{a: #{x: 1.0, y: \"no\"}})", CRYO_ERR_TYPE, "field 'y'");
    /* arity is part of the name lookup for fixed-arity functions */
    EXPECT_ERR_IN(ctx, "id_int(1, 2)", CRYO_ERR_NOT_FOUND, "id_int");
}

static void test_strings_and_pointers(void **state) {
    (void)state;
    EXPECT_IN(ctx, "c_strlen(\"héllo\")", "6");
    EXPECT_IN(ctx, "c_strlen(\"\")", "0");
    EXPECT_IN(ctx, "greet()", "\"hello from C\"");
    EXPECT_IN(ctx, "null_str()", "()");
    EXPECT_IN(ctx, "let p = ffi::new(\"int\", 5); for i in 0..5 { p[i] = i * 10 } sum_ints(p, 5)",
              "100");
    EXPECT_IN(ctx, "let p = ffi::new(\"double\", 3); fill(p, 3); [p[0], p[1], p[2]]",
              "[0.0, 0.5, 1.0]");
    EXPECT_IN(ctx, "let p = static_ints(); [p[0], p[3], type_of(p)]", "[10, 40, \"ptr\"]");
    EXPECT_IN(ctx, "[is_null(()), is_null(ffi::null()), is_null(ffi::new(\"char\", 1))]",
              "[true, true, false]");
    /* typed pointer element types and bounds of owned buffers */
    EXPECT_IN(ctx, "let p = ffi::new(\"uint8_t\", 2); p[0] = 255; p[1] = 0; [p[0], p[1]]",
              "[255, 0]");
    EXPECT_ERR_IN(ctx, "let p = ffi::new(\"uint8_t\", 2); p[0] = 256", CRYO_ERR_ARITHMETIC,
                  "out of range for u8");
    EXPECT_ERR_IN(ctx, "let p = ffi::new(\"int\", 2); p[2]", CRYO_ERR_INDEX, "out of bounds");
    EXPECT_ERR_IN(ctx, "let p = ffi::new(\"int\", 2); p[-1] = 1", CRYO_ERR_INDEX, "out of bounds");
    EXPECT_ERR_IN(ctx, "let p = ffi::new(\"float\", 2); p[0] = \"x\"", CRYO_ERR_TYPE,
                  "cannot store");
    EXPECT_ERR_IN(ctx, "ffi::null()[0]", CRYO_ERR_TYPE, "void pointer");
    EXPECT_IN(ctx,
              "let p = ffi::new(\"int\", 2); p[1] = 9; let q = ffi::cast(p, \"uint8_t *\"); q[4]",
              "9");
    EXPECT_IN(ctx, "let p = ffi::new(\"int64_t\", 1); p[0] = -1; ffi::cast(p, \"uint32_t *\")[0]",
              "4294967295");
    EXPECT_IN(ctx, "let b = ffi::new(\"char\", 8); snprintf(b, 8, \"%s\", \"abc\"); ffi::string(b)",
              "\"abc\"");
}

static void test_structs(void **state) {
    (void)state;
    EXPECT_IN(ctx, "mid(#{x: 0.0, y: 0.0}, #{x: 2.0, y: 4.0})", "#{\"x\": 1.0, \"y\": 2.0}");
    EXPECT_IN(ctx, "area(#{a: #{x: 1.0, y: 1.0}, b: #{x: 3.0, y: 4.0}, tag: 1})", "7.0");
    EXPECT_IN(ctx, "let r = make_rect(2.0, 3.0); [r.b.x, r.b.y, r.tag, r.a.x]",
              "[2.0, 3.0, 7, 0.0]");
    EXPECT_IN(ctx, "swap_small(#{a: 3, b: 260})", "#{\"a\": 4, \"b\": -3}");
    /* missing fields are zero */
    EXPECT_IN(ctx, "area(#{b: #{x: 2.0, y: 2.0}})", "4.0");
    /* a struct through a pointer */
    EXPECT_IN(ctx, "let p = ffi::new(\"double\", 2); p[0] = 3.0; p[1] = 4.0; point_len(p)", "5.0");
    /* array fields both ways: arrays of the elements (shorter arrays leave zeros) */
    EXPECT_IN(ctx, "bump_tags(#{id: 5, tag: [1, 2, 250], w: [1.5, 2.0]})",
              "#{\"id\": -5, \"tag\": [2, 3, 251], \"w\": [3.0, -2.0]}");
    EXPECT_IN(ctx, "bump_tags(#{tag: [9]}).tag", "[10, 1, 1]");
    EXPECT_ERR_IN(ctx, "bump_tags(#{tag: [1, 2, 3, 4]})", CRYO_ERR_TYPE, "field 'tag'");
    EXPECT_ERR_IN(ctx, "bump_tags(#{tag: [1, 2, 256]})", CRYO_ERR_ARITHMETIC, "out of range");
    /* a struct that points to its own type: a linked list built in C, walked from a script */
    EXPECT_IN(ctx, "list_sum(list_head())", "6");
    EXPECT_IN(ctx, "let n = node_at(list_head(), 1); [n.v, type_of(n.next), list_sum(n.next)]",
              "[2, \"ptr\", 3]");
    EXPECT_IN(ctx, "is_null(node_at(list_head(), 2).next)", "true");
}

static void test_variadic(void **state) {
    (void)state;
    EXPECT_IN(ctx,
              "let b = ffi::new(\"char\", 64); let n = snprintf(b, 64, \"%d|%s|%.3f|%c|%lld\", 42, "
              "\"str\", 2.5, 'z', -9000000000); [n, ffi::string(b)]",
              "[26, \"42|str|2.500|z|-9000000000\"]");
    EXPECT_IN(ctx, "let b = ffi::new(\"char\", 16); snprintf(b, 16, \"plain\"); ffi::string(b)",
              "\"plain\"");
    EXPECT_ERR_IN(ctx, "let b = ffi::new(\"char\", 16); snprintf(b, 16, \"%d\", [1])",
                  CRYO_ERR_TYPE, "cannot pass array to a variadic function");
    EXPECT_ERR_IN(ctx, "snprintf(())", CRYO_ERR_ARGUMENT, "expected at least 3 arguments, got 1");
}

static void test_module(void **state) {
    (void)state;
    EXPECT_IN(ctx,
              "let m = ffi::open(\"libm.so.6\"); let c = ffi::func(m, \"double cos(double)\"); "
              "[c(0.0), c.call(0), type_of(c)]",
              "[1.0, 1.0, \"Fn\"]");
    EXPECT_IN(ctx,
              "let c = ffi::open(); let f = ffi::func(c, \"size_t strlen(const char *)\"); "
              "f(\"four\")",
              "4");
    EXPECT_ERR_IN(ctx, "ffi::open(\"/nonexistent/lib.so\")", CRYO_ERR_ARGUMENT, "ffi::open");
    EXPECT_ERR_IN(ctx, "ffi::func(ffi::open(), \"int no_such_function_xyz(int)\")",
                  CRYO_ERR_NOT_FOUND, "no_such_function_xyz");
    EXPECT_ERR_IN(ctx, "ffi::func(ffi::open(), \"int strlen(\")", CRYO_ERR_PARSE,
                  "column 12: expected");
    EXPECT_ERR_IN(ctx, "ffi::func(1, \"int f(int)\")", CRYO_ERR_TYPE, "library");
    EXPECT_ERR_IN(ctx, "ffi::call(ffi::null(), 1)", CRYO_ERR_TYPE, "ffi::func");
    EXPECT_IN(ctx,
              "ffi::cdef(\"struct pair_t { int a; int b; };\"); "
              "let p = ffi::new(\"struct pair_t\", 1); type_of(p)",
              "\"ptr\"");
    EXPECT_ERR_IN(ctx, "ffi::cdef(\"struct { }\")", CRYO_ERR_PARSE, "a struct name");
    EXPECT_ERR_IN(ctx, "ffi::new(\"int\", -1)", CRYO_ERR_ARGUMENT, "bad element count");
    EXPECT_ERR_IN(ctx, "ffi::new(\"void\", 1)", CRYO_ERR_ARGUMENT, "no size");
    EXPECT_IN(ctx, "ffi::addr(ffi::null())", "0");
}

static void test_capability(void **state) {
    (void)state;
    char out[512];
    /* the standard context has no ffi module: the names are not found */
    assert_int_equal(test_run(cryo_context_std(), "ffi::open()", TEST_NO_LIMIT, 0, out, sizeof out),
                     CRYO_ERR_NOT_FOUND);
    assert_non_null(strstr(out, "ffi::open"));
    assert_int_equal(
        test_run(cryo_context_std(), "ffi::new(\"int\", 4)", TEST_NO_LIMIT, 0, out, sizeof out),
        CRYO_ERR_NOT_FOUND);
    /* other namespaces are modules (docs/modules.md): none is imported here */
    assert_int_equal(
        test_run(cryo_context_std(), "math::sin(1.0)", TEST_NO_LIMIT, 0, out, sizeof out),
        CRYO_ERR_NOT_FOUND);
    assert_non_null(strstr(out, "module not imported here: math::"));
    /* with the CLI's context */
    cryo_context *c = cryo_ffi_context_new();
    assert_non_null(c);
    assert_int_equal(test_run(c, "let p = ffi::new(\"int\", 1); p[0] = 5; p[0]", TEST_NO_LIMIT, 0,
                              out, sizeof out),
                     CRYO_OK);
    assert_string_equal(out, "5");
    cryo_context_release(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_ranges_and_types),
        cmocka_unit_test(test_strings_and_pointers),
        cmocka_unit_test(test_structs),
        cmocka_unit_test(test_variadic),
        cmocka_unit_test(test_module),
        cmocka_unit_test(test_capability),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
