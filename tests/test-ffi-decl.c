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
    bad(s, "int f(struct nope)", 14, "'struct nope' is declared but not defined");
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

/* sqlite3.h as it is written (Debian's libsqlite3-dev 3.40): the typedefs, the macros it
 * needs, and the prototypes with their names, comments and layout. */
static const char sqlite_types[] = "#define SQLITE_API\n"
                                   "#define SQLITE_UTF8           1    /* IMP: R-37514-35566 */\n"
                                   "#define SQLITE_DETERMINISTIC    0x000000800\n"
                                   "typedef struct sqlite3 sqlite3;\n"
                                   "  typedef long long int sqlite_int64;\n"
                                   "  typedef unsigned long long int sqlite_uint64;\n"
                                   "typedef sqlite_int64 sqlite3_int64;\n"
                                   "typedef sqlite_uint64 sqlite3_uint64;\n"
                                   "typedef int (*sqlite3_callback)(void*,int,char**, char**);\n"
                                   "typedef struct sqlite3_value sqlite3_value;\n"
                                   "typedef struct sqlite3_context sqlite3_context;\n"
                                   "typedef void (*sqlite3_destructor_type)(void*);\n";

static const char *const sqlite_protos[] = {
    "SQLITE_API int sqlite3_open(\n"
    "  const char *filename,   /* Database filename (UTF-8) */\n"
    "  sqlite3 **ppDb          /* OUT: SQLite db handle */\n"
    ");",
    "SQLITE_API int sqlite3_close(sqlite3*);",
    "SQLITE_API int sqlite3_exec(\n"
    "  sqlite3*,                                  /* An open database */\n"
    "  const char *sql,                           /* SQL to be evaluated */\n"
    "  int (*callback)(void*,int,char**,char**),  /* Callback function */\n"
    "  void *,                                    /* 1st argument to callback */\n"
    "  char **errmsg                              /* Error msg written here */\n"
    ");",
    "SQLITE_API int sqlite3_create_function_v2(\n"
    "  sqlite3 *db,\n"
    "  const char *zFunctionName,\n"
    "  int nArg,\n"
    "  int eTextRep,\n"
    "  void *pApp,\n"
    "  void (*xFunc)(sqlite3_context*,int,sqlite3_value**),\n"
    "  void (*xStep)(sqlite3_context*,int,sqlite3_value**),\n"
    "  void (*xFinal)(sqlite3_context*),\n"
    "  void(*xDestroy)(void*)\n"
    ");",
    "SQLITE_API int sqlite3_create_collation_v2(\n"
    "  sqlite3*,\n"
    "  const char *zName,\n"
    "  int eTextRep,\n"
    "  void *pArg,\n"
    "  int(*xCompare)(void*,int,const void*,int,const void*),\n"
    "  void(*xDestroy)(void*)\n"
    ");",
    "SQLITE_API sqlite3_int64 sqlite3_value_int64(sqlite3_value*);",
    "SQLITE_API double sqlite3_value_double(sqlite3_value*);",
    "SQLITE_API const unsigned char *sqlite3_value_text(sqlite3_value*);",
    "SQLITE_API void sqlite3_result_int64(sqlite3_context*, sqlite3_int64);",
    "SQLITE_API void sqlite3_result_double(sqlite3_context*, double);",
    "SQLITE_API void sqlite3_result_text(sqlite3_context*, const char*, int, void(*)(void*));",
    "SQLITE_API const char *sqlite3_errmsg(sqlite3*);",
};

static void test_sqlite_header(void **state) {
    (void)state;
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    cryo_error *err = NULL;
    if (cryo_ffi_cdef(s, sqlite_types, &err) != CRYO_OK) fprintf(stderr, "%s\n", err->message);
    assert_null(err);
    static const char *const names[] = {
        "sqlite3_open",
        "sqlite3_close",
        "sqlite3_exec",
        "sqlite3_create_function_v2",
        "sqlite3_create_collation_v2",
        "sqlite3_value_int64",
        "sqlite3_value_double",
        "sqlite3_value_text",
        "sqlite3_result_int64",
        "sqlite3_result_double",
        "sqlite3_result_text",
        "sqlite3_errmsg",
    };
    static const int nparams[] = {2, 1, 5, 9, 6, 1, 1, 1, 2, 2, 4, 1};
    for (size_t i = 0; i < sizeof sqlite_protos / sizeof sqlite_protos[0]; i++) {
        cryo_ffi_sig *g = parse_ok(s, sqlite_protos[i]);
        assert_string_equal(cryo_ffi_sig_name(g), names[i]);
        assert_int_equal(cryo_ffi_sig_nparams(g), nparams[i]);
    }
    char d[256];
    cryo_ffi_sig *g = parse_ok(s, sqlite_protos[0]);
    ct_describe(g->type, d, sizeof d);
    assert_string_equal(d, "int32_t (*)(const char *, struct sqlite3 * *)");
    assert_string_equal(g->fn->pnames[1], "ppDb");
    g = parse_ok(s, sqlite_protos[5]);
    assert_int_equal(g->fn->ret->kind, CT_I64);
    assert_int_equal(g->fn->params[0]->kind, CT_PTR);
    assert_string_equal(g->fn->params[0]->pointee->st->name, "sqlite3_value");
    assert_false(g->fn->params[0]->pointee->st->complete);
    /* the callback shapes SQLite calls, as typedef names and as written */
    g = parse_ok(s, "sqlite3_callback");
    assert_int_equal(cryo_ffi_sig_nparams(g), 4);
    assert_true(g->fn->cif_ok);
    g = parse_ok(s, "sqlite3_destructor_type");
    assert_int_equal(g->fn->ret->kind, CT_VOID);
    g = parse_ok(s, "void (*)(sqlite3_context *, int, sqlite3_value **)");
    assert_int_equal(cryo_ffi_sig_nparams(g), 3);
    g = parse_ok(s, "int (*)(void *, int, const void *, int, const void *)");
    assert_int_equal(cryo_ffi_sig_nparams(g), 5);
    int64_t v = 0;
    assert_int_equal(cryo_ffi_const(s, "SQLITE_UTF8", &v), CRYO_OK);
    assert_int_equal(v, 1);
    assert_int_equal(cryo_ffi_const(s, "SQLITE_DETERMINISTIC", &v), CRYO_OK);
    assert_int_equal(v, 0x800);
    assert_int_equal(cryo_ffi_const(s, "SQLITE_API", &v), CRYO_ERR_NOT_FOUND);
    /* the same text twice: typedefs that agree and equal #defines are not conflicts */
    assert_int_equal(cryo_ffi_cdef(s, sqlite_types, &err), CRYO_OK);
    cryo_ffi_scope_free(s);
}

static void test_typedefs_enums(void **state) {
    (void)state;
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    cryo_error *err = NULL;
    const char *defs =
        "typedef unsigned short u16, *u16p;\n"
        "typedef struct pt { int x, y; } pt_t;\n"
        "typedef struct { double re, im; } cplx;\n"
        "typedef int cmp_fn(const void *, const void *);\n"
        "typedef const char *str;\n"
        "struct later;\n"
        "typedef struct later later_t;\n"
        "enum color { RED, GREEN = 4, BLUE, MASK = (1 << 3) | GREEN, NEG = -RED - 1 };\n"
        "typedef enum { BIG = 0x100000000 } big_t;\n"
        "enum uns { U_TOP = 0xffffffff };\n"
        "extern int ignored_storage_class;";
    assert_int_equal(cryo_ffi_cdef(s, defs, &err), CRYO_ERR_PARSE);
    /* definitions before the error are kept; a variable is not something cdef defines */
    assert_non_null(strstr(err->message, "cdef defines types and constants"));
    assert_int_equal(err->line, 11);
    cryo_error_free(err);
    err = NULL;
    cryo_ffi_sig *g = parse_ok(s, "pt_t f(u16 a, u16p b, cplx c, cmp_fn *cmp, str s, later_t *l,"
                                  " enum color k, big_t big, enum uns u)");
    assert_int_equal(g->fn->ret->kind, CT_STRUCT);
    assert_int_equal(g->fn->ret->size, 2 * sizeof(int));
    assert_int_equal(g->fn->params[0]->kind, CT_U16);
    assert_int_equal(g->fn->params[1]->kind, CT_PTR);
    assert_int_equal(g->fn->params[1]->pointee->kind, CT_U16);
    assert_int_equal(g->fn->params[2]->size, 2 * sizeof(double));
    assert_int_equal(g->fn->params[3]->pointee->kind, CT_FUNC);
    assert_true(g->fn->params[4]->to_char);
    assert_int_equal(g->fn->params[6]->kind, CT_I32);
    assert_int_equal(g->fn->params[7]->kind, CT_U64);
    assert_int_equal(g->fn->params[8]->kind, CT_U32);
    static const struct {
        const char *name;
        int64_t value;
    } consts[] = {{"RED", 0},
                  {"GREEN", 4},
                  {"BLUE", 5},
                  {"MASK", 12},
                  {"NEG", -1},
                  {"BIG", 0x100000000LL},
                  {"U_TOP", 0xffffffffLL}};
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
        int64_t v = 99;
        assert_int_equal(cryo_ffi_const(s, consts[i].name, &v), CRYO_OK);
        assert_int_equal(v, consts[i].value);
    }
    /* a declared struct is completed by a later definition; a typedef made before sees it */
    bad(s, "void f(later_t)", 8, "'struct later' is declared but not defined");
    assert_int_equal(cryo_ffi_cdef(s, "struct later { double d; int i; };", &err), CRYO_OK);
    g = parse_ok(s, "later_t f(later_t)");
    assert_int_equal(g->fn->params[0]->size, 16);
    assert_int_equal(g->fn->ret->size, 16);
    /* a function pointer typedef as a callback type */
    g = parse_ok(s, "cmp_fn");
    assert_int_equal(cryo_ffi_sig_nparams(g), 2);
    cryo_ffi_scope_free(s);
}

static void cdef_bad(cryo_ffi_scope *s, const char *decls, int line, int column,
                     const char *expected) {
    cryo_error *err = NULL;
    assert_int_equal(cryo_ffi_cdef(s, decls, &err), CRYO_ERR_PARSE);
    assert_non_null(err);
    if (err->line != line || err->column != column || !strstr(err->message, expected))
        fprintf(stderr, "'%s': %d:%d, message '%s'\n", decls, err->line, err->column, err->message);
    assert_int_equal(err->line, line);
    assert_int_equal(err->column, column);
    assert_non_null(strstr(err->message, expected));
    cryo_error_free(err);
}

static void test_header_errors(void **state) {
    (void)state;
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    assert_int_equal(cryo_ffi_cdef(s,
                                   "typedef struct sqlite3 sqlite3; typedef int myint;\n"
                                   "enum e { A = 1 }; #define LIMIT 10",
                                   NULL),
                     CRYO_OK);
    /* unknown type names */
    bad(s, "int sqlite3_open(const char *filename, sqlite4 **ppDb)", 40,
        "'sqlite4', not a C type, nor a typedef of this scope");
    bad(s, "sqlite4 *open(void)", 1, "nor a typedef of this scope");
    bad(s, "int f(const sqlitex *db)", 13, "nor a typedef of this scope");
    bad(s, "int f(enum nope x)", 12, "an enum defined with cdef (unknown enum)");
    /* an incomplete struct by value: parameter, result, field, array */
    bad(s, "int sqlite3_close(sqlite3 db)", 19,
        "parameter 1 ('struct sqlite3' is declared but not defined");
    bad(s, "sqlite3 f(void)", 1, "a complete return type ('struct sqlite3'");
    cdef_bad(s, "struct holder {\n  int n;\n  sqlite3 db;\n};", 3, 11,
             "'struct sqlite3' is declared but not defined");
    cdef_bad(s, "struct holder2 { struct sqlite3 dbs[2]; };", 1, 39, "array of a complete type");
    /* redefinition conflicts */
    cdef_bad(s, "typedef long myint;", 1, 14, "'myint' is 'int32_t', not 'int64_t'");
    assert_int_equal(cryo_ffi_cdef(s, "typedef int myint;", NULL), CRYO_OK); /* same: fine */
    cdef_bad(s, "enum e { B };", 1, 6, "a new enum name (already defined)");
    cdef_bad(s, "enum f { A = 2 };", 1, 10, "already defined as 1");
    cdef_bad(s, "#define LIMIT 11", 1, 9, "already defined as 10");
    cdef_bad(s, "typedef int A;", 1, 13, "'A' is already a constant");
    cdef_bad(s, "struct sqlite3 { int x; }; struct sqlite3 { int y; };", 1, 35,
             "a new struct name (already defined)");
    /* what cdef does not take */
    cdef_bad(s, "#include <sqlite3.h>", 1, 2, "'define'");
    cdef_bad(s, "#define MAX(a, b) a", 1, 12, "function-like macros are not supported");
    cdef_bad(s, "#define BAD 1 +", 1, 16, "an integer constant expression");
    cdef_bad(s, "#define DIV (1 / 0)", 1, 19, "a divisor that is not zero");
    cdef_bad(s, "int sqlite3_close(sqlite3*);", 1, 1, "declare functions with ffi::func");
    cdef_bad(s, "enum { X = NOPE };", 1, 12, "an integer constant");
    cdef_bad(s, "struct { int x; };", 1, 8, "a struct name");
    char deep[400] = "#define DEEP ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "-(");
    strcat(deep, "1");
    cdef_bad(s, deep, 1, 78, "nested too deeply");
    int64_t v;
    assert_int_equal(cryo_ffi_const(s, "NOPE", &v), CRYO_ERR_NOT_FOUND);
    assert_int_equal(cryo_ffi_const(s, NULL, &v), CRYO_ERR_API);
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
        cmocka_unit_test(test_sqlite_header),
        cmocka_unit_test(test_typedefs_enums),
        cmocka_unit_test(test_header_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
