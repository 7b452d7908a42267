/*
 * test-ffi-decl.c — the C declaration parser: every supported type, function pointer types,
 * variadics, struct definitions (layout checked against the C compiler's), and bad
 * declarations with their position and what was expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryo_ffi.h"
#include "ffi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cryo_ffi_sig *parse_ok(cryo_ffi_scope *s, const char *decl) {
    cryo_error *err = NULL;
    cryo_ffi_sig *g = cryo_ffi_parse(s, decl, &err);
    if (!g) fprintf(stderr, "%s: %s\n", decl, err ? err->message : "?");
    assert_non_null(g);
    assert_null(err);
    return g;
}

static void test_types(void **state) {
    (void)state;
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    static const struct {
        const char *decl;
        ct_kind kind;
        size_t size;
    } cases[] = {
        {"void f(_Bool)", CT_BOOL, 1},
        {"void f(bool)", CT_BOOL, 1},
        {"void f(char)", CT_I8, 1},
        {"void f(signed char)", CT_I8, 1},
        {"void f(unsigned char)", CT_U8, 1},
        {"void f(short)", CT_I16, 2},
        {"void f(unsigned short int)", CT_U16, 2},
        {"void f(int)", CT_I32, 4},
        {"void f(unsigned)", CT_U32, 4},
        {"void f(signed)", CT_I32, 4},
        {"void f(long)", CT_I64, sizeof(long)},
        {"void f(unsigned long)", CT_U64, sizeof(long)},
        {"void f(long long)", CT_I64, 8},
        {"void f(unsigned long long int)", CT_U64, 8},
        {"void f(int8_t)", CT_I8, 1},
        {"void f(uint8_t)", CT_U8, 1},
        {"void f(int16_t)", CT_I16, 2},
        {"void f(uint16_t)", CT_U16, 2},
        {"void f(int32_t)", CT_I32, 4},
        {"void f(uint32_t)", CT_U32, 4},
        {"void f(int64_t)", CT_I64, 8},
        {"void f(uint64_t)", CT_U64, 8},
        {"void f(size_t)", CT_U64, sizeof(size_t)},
        {"void f(ssize_t)", CT_I64, sizeof(size_t)},
        {"void f(intptr_t)", CT_I64, sizeof(intptr_t)},
        {"void f(uintptr_t)", CT_U64, sizeof(uintptr_t)},
        {"void f(float)", CT_F32, 4},
        {"void f(double)", CT_F64, 8},
        {"void f(const char *s)", CT_PTR, sizeof(void *)},
        {"void f(void **)", CT_PTR, sizeof(void *)},
        {"void f(int (*cb)(int))", CT_PTR, sizeof(void *)},
        {"void f(int cb(int))", CT_PTR, sizeof(void *)}, /* function parameter -> pointer */
        {"void f(int a[10])", CT_PTR, sizeof(void *)},   /* array parameter -> pointer */
        {"void f(const int *const restrict p)", CT_PTR, sizeof(void *)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cryo_ffi_sig *g = parse_ok(s, cases[i].decl);
        assert_string_equal(cryo_ffi_sig_name(g), "f");
        assert_int_equal(cryo_ffi_sig_nparams(g), 1);
        assert_int_equal(g->fn->params[0]->kind, cases[i].kind);
        assert_int_equal(g->fn->params[0]->size, cases[i].size);
    }
    cryo_ffi_sig *g = parse_ok(s, "const char *getenv(const char *name);");
    assert_int_equal(g->fn->ret->kind, CT_PTR);
    assert_true(g->fn->ret->pointee->is_char);
    assert_true(g->fn->ret->pointee->is_const);
    assert_string_equal(g->fn->pnames[0], "name");
    cryo_ffi_scope_free(s);
}

static void test_functions(void **state) {
    (void)state;
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    cryo_ffi_sig *g = parse_ok(s, "double cos(double)");
    assert_string_equal(cryo_ffi_sig_name(g), "cos");
    assert_int_equal(g->fn->ret->kind, CT_F64);
    assert_false(cryo_ffi_sig_variadic(g));

    g = parse_ok(s, "int (*)(const void *, const void *)");
    assert_string_equal(cryo_ffi_sig_name(g), "");
    assert_int_equal(cryo_ffi_sig_nparams(g), 2);
    assert_int_equal(g->fn->ret->kind, CT_I32);

    g = parse_ok(s, "void qsort(void *base, size_t n, size_t size, "
                    "int (*cmp)(const void *, const void *))");
    assert_int_equal(cryo_ffi_sig_nparams(g), 4);
    assert_string_equal(g->fn->pnames[3], "cmp");
    assert_int_equal(g->fn->params[3]->kind, CT_PTR);
    assert_int_equal(g->fn->params[3]->pointee->kind, CT_FUNC);
    assert_int_equal(g->fn->params[3]->pointee->fn->nparams, 2);

    g = parse_ok(s, "int printf(const char *fmt, ...)");
    assert_true(cryo_ffi_sig_variadic(g));
    assert_int_equal(cryo_ffi_sig_nparams(g), 1);

    g = parse_ok(s, "int rand(void)");
    assert_int_equal(cryo_ffi_sig_nparams(g), 0);
    g = parse_ok(s, "int rand()");
    assert_int_equal(cryo_ffi_sig_nparams(g), 0);

    /* a function returning a function pointer: void (*signal(int sig, void (*h)(int)))(int) */
    g = parse_ok(s, "void (*signal(int sig, void (*handler)(int)))(int)");
    assert_string_equal(cryo_ffi_sig_name(g), "signal");
    assert_int_equal(cryo_ffi_sig_nparams(g), 2);
    assert_int_equal(g->fn->ret->kind, CT_PTR);
    assert_int_equal(g->fn->ret->pointee->kind, CT_FUNC);
    assert_int_equal(g->fn->ret->pointee->fn->params[0]->kind, CT_I32);
    cryo_ffi_scope_free(s);
}

struct point {
    double x, y;
};
struct mixed {
    char c;
    int16_t s;
    double d;
    uint8_t tag[3];
    struct point p;
    void *ptr;
    float f;
};

static void test_structs(void **state) {
    (void)state;
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    cryo_error *err = NULL;
    assert_int_equal(cryo_ffi_cdef(s,
                                   "struct point { double x, y; };\n"
                                   "struct mixed { char c; int16_t s; double d; uint8_t tag[3];\n"
                                   "               struct point p; void *ptr; float f; };",
                                   &err),
                     CRYO_OK);
    assert_null(err);
    cryo_ffi_sig *g = parse_ok(s, "struct mixed make(struct point p, struct mixed *m)");
    const ctype *t = g->fn->ret;
    assert_int_equal(t->kind, CT_STRUCT);
    assert_int_equal(t->size, sizeof(struct mixed));
    assert_int_equal(t->align, _Alignof(struct mixed));
    const cstruct *st = t->st;
    assert_int_equal(st->nfields, 7);
    assert_int_equal(st->fields[1].offset, offsetof(struct mixed, s));
    assert_int_equal(st->fields[2].offset, offsetof(struct mixed, d));
    assert_int_equal(st->fields[3].offset, offsetof(struct mixed, tag));
    assert_int_equal(st->fields[3].type->kind, CT_ARRAY);
    assert_int_equal(st->fields[3].type->n, 3);
    assert_int_equal(st->fields[4].offset, offsetof(struct mixed, p));
    assert_int_equal(st->fields[5].offset, offsetof(struct mixed, ptr));
    assert_int_equal(st->fields[6].offset, offsetof(struct mixed, f));
    assert_int_equal(g->fn->params[0]->size, sizeof(struct point));

    /* a struct that points to itself; a field of its own (incomplete) type is refused */
    assert_int_equal(cryo_ffi_cdef(s, "struct node { int v; struct node *next, *prev; };", &err),
                     CRYO_OK);
    g = parse_ok(s, "int len(const struct node *n)");
    const cstruct *nd = g->fn->params[0]->pointee->st;
    assert_int_equal(nd->nfields, 3);
    assert_int_equal(nd->fields[1].type->kind, CT_PTR);
    assert_ptr_equal(nd->fields[1].type->pointee->st, nd);
    assert_int_equal(nd->fields[2].offset, 2 * sizeof(void *));
    assert_int_equal(cryo_ffi_cdef(s, "struct loop { int v; struct loop self; };", &err),
                     CRYO_ERR_PARSE);
    assert_non_null(strstr(err->message, "complete type"));
    cryo_error_free(err);
    err = NULL;
    assert_int_equal(cryo_ffi_cdef(s, "struct arr { struct arr a[2]; };", &err), CRYO_ERR_PARSE);
    assert_non_null(strstr(err->message, "complete type"));
    cryo_error_free(err);
    err = NULL;
    /* the failed definitions did not define their names */
    assert_int_equal(cryo_ffi_cdef(s, "struct loop { int v; };", &err), CRYO_OK);

    /* redefinition */
    assert_int_equal(cryo_ffi_cdef(s, "struct point { int a; };", &err), CRYO_ERR_PARSE);
    assert_non_null(err);
    assert_non_null(strstr(err->message, "already defined"));
    assert_int_equal(err->column, 8);
    cryo_error_free(err);
    cryo_ffi_scope_free(s);
}

static void bad(cryo_ffi_scope *s, const char *decl, int column, const char *expected) {
    cryo_error *err = NULL;
    cryo_ffi_sig *g = cryo_ffi_parse(s, decl, &err);
    assert_null(g);
    assert_non_null(err);
    if (err->column != column || !strstr(err->message, expected))
        fprintf(stderr, "'%s': column %d, message '%s'\n", decl, err->column, err->message);
    assert_int_equal(err->kind, CRYO_ERR_PARSE);
    assert_int_equal(err->column, column);
    assert_non_null(strstr(err->message, expected));
    cryo_error_free(err);
}

static void test_bad(void **state) {
    (void)state;
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    bad(s, "", 1, "expected a type name, found the end");
    bad(s, "int f(int", 10, "expected ',' or ')'");
    bad(s, "int f(int x y)", 13, "',' or ')'");
    bad(s, "banana f(int)", 1, "a type name");
    bad(s, "int f(struct nope)", 14, "unknown struct");
    bad(s, "int f(...)", 7, "a parameter before '...'");
    bad(s, "int f(int, ...", 15, "')' after '...'");
    bad(s, "int f(int) extra", 12, "the end of the declaration");
    bad(s, "int x", 1, "a function declaration or a function pointer type");
    bad(s, "long short f(void)", 12, "valid combination");
    bad(s, "int f(int a[0])", 13, "array length");
    bad(s, "int f(void, int)", 11, "void only alone");
    bad(s, "int (*)(int", 12, "',' or ')'");
    bad(s, "int f(int $)", 11, "',' or ')'");
    cryo_error *err = NULL;
    assert_int_equal(cryo_ffi_cdef(s, "struct p { int x }", &err), CRYO_ERR_PARSE);
    assert_int_equal(err->column, 18);
    assert_non_null(strstr(err->message, "';' after a field"));
    cryo_error_free(err);
    assert_int_equal(cryo_ffi_cdef(s, "struct q {\n  void v;\n};", &err), CRYO_ERR_PARSE);
    assert_int_equal(err->line, 2);
    assert_non_null(strstr(err->message, "complete type"));
    cryo_error_free(err);
    /* the callback API refuses bad and variadic types */
    assert_null(cryo_ffi_callback_new((cryo_sync *)NULL, s, "int (*)(int)", &err));
    cryo_ffi_scope_free(s);
}

/* fuzz-cdecl finding: nested arrays printed their counts inner-first ("int[6][9]" described
 * as "int32_t[9][6]"), so the printed type parsed back as a different type. */
static void test_describe_round_trip(void **state) {
    (void)state;
    static const char *types[] = {"int[6][9]", "double[2][3][4]", "struct dr_pt[3][2]",
                                  "char[1]",   "const int *",     "struct dr_pt *"};
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    assert_null(cf_parse_cdef(s, "struct dr_pt { int x, y; };"));
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        ffi_arena a = {0};
        ctype *t = NULL, *t2 = NULL;
        assert_null(cf_parse_type(s, &a, types[i], &t));
        char d1[256], d2[256];
        ct_describe(t, d1, sizeof d1);
        assert_null(cf_parse_type(s, &a, d1, &t2));
        ct_describe(t2, d2, sizeof d2);
        assert_string_equal(d1, d2);
        assert_int_equal(t->size, t2->size);
        fa_free(&a);
    }
    ffi_arena a = {0};
    ctype *t = NULL;
    assert_null(cf_parse_type(s, &a, "int[6][9]", &t));
    char d[64];
    ct_describe(t, d, sizeof d);
    assert_string_equal(d, "int32_t[6][9]");
    assert_int_equal(t->n, 6);
    assert_int_equal(t->pointee->n, 9);
    fa_free(&a);
    cryo_ffi_scope_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_structs),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_describe_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
