/*
 * sqlite_function.c — script functions inside SQLite: a scalar function `square1(x)`, a text
 * function `shout(s)` and a collation `bylen`, each written in cryo and handed to SQLite as a
 * C function pointer (cryo_ffi_callback_new); every result is checked against plain SQL.
 *
 * The host registers the SQLite functions the scripts call by their declarations, pasted from
 * sqlite3.h as it writes them (the typedefs and the SQLITE_API macro go to cryo_ffi_cdef).
 *
 * Build against an installed cryo:
 *   cc sqlite_function.c $(pkg-config --cflags --libs cryo_ffi sqlite3)
 */
#include <cryo.h>
#include <cryo_ffi.h>
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From sqlite3.h: what the declarations below need. */
static const char sqlite_types[] = "#define SQLITE_API\n"
                                   "typedef struct sqlite3 sqlite3;\n"
                                   "typedef long long int sqlite_int64;\n"
                                   "typedef sqlite_int64 sqlite3_int64;\n"
                                   "typedef struct sqlite3_value sqlite3_value;\n"
                                   "typedef struct sqlite3_context sqlite3_context;\n";

static const struct {
    const char *decl;
    void *fn;
} sqlite_fns[] = {
    {"SQLITE_API sqlite3_int64 sqlite3_value_int64(sqlite3_value*);", (void *)sqlite3_value_int64},
    {"SQLITE_API const unsigned char *sqlite3_value_text(sqlite3_value*);",
     (void *)sqlite3_value_text},
    {"SQLITE_API void sqlite3_result_int64(sqlite3_context*, sqlite3_int64);",
     (void *)sqlite3_result_int64},
    {"SQLITE_API void sqlite3_result_text(sqlite3_context*, const char*, int, void(*)(void*));",
     (void *)sqlite3_result_text},
};

/* The script's value: the three functions. `argv[0]` reads the first `sqlite3_value *`;
 * ffi::cast(-1, ...) is SQLITE_TRANSIENT (SQLite copies the text, which lives only for the
 * call); ffi::string(p, n) reads the collation's counted strings. */
static const char script[] =
    "[\n"
    "    |ctx, argc, argv| {\n"
    "        let x = sqlite3_value_int64(argv[0]);\n"
    "        sqlite3_result_int64(ctx, x * x + 1);\n"
    "    },\n"
    "    |ctx, argc, argv| {\n"
    "        let s = ffi::string(sqlite3_value_text(argv[0]));\n"
    "        sqlite3_result_text(ctx, s.to_upper() + \"!\", -1, ffi::cast(-1, \"void *\"));\n"
    "    },\n"
    "    |arg, n1, a, n2, b| {\n"
    "        let x = ffi::string(a, n1);\n"
    "        let y = ffi::string(b, n2);\n"
    "        if x.len() != y.len() { x.len() - y.len() }\n"
    "        else if x < y { -1 } else if x > y { 1 } else { 0 }\n"
    "    },\n"
    "]\n";

static const char *const callback_types[] = {
    "void (*)(sqlite3_context *, int, sqlite3_value **)",
    "void (*)(sqlite3_context *, int, sqlite3_value **)",
    "int (*)(void *, int, const void *, int, const void *)",
};

static void on_error(void *userdata, const cryo_ffi_callback *cb, const cryo_error *err) {
    (void)cb;
    fprintf(stderr, "%s: script error at %d:%d: %s\n", (const char *)userdata, err->line,
            err->column, err->message);
}

/* The first column of the first row, as text (malloc'd), or NULL on error. */
static char *query(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        out = strdup(t ? (const char *)t : "NULL");
    } else {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return out;
}

static int check(sqlite3 *db, const char *what, const char *script_sql, const char *plain_sql) {
    char *a = query(db, script_sql), *b = query(db, plain_sql);
    int ok = a && b && strcmp(a, b) == 0;
    printf("%-9s %s\n          %s\n", what, a ? a : "(error)", ok ? "= plain SQL" : "DIFFERS");
    if (!ok) fprintf(stderr, "%s: %s, plain SQL gives %s\n", what, a, b);
    free(a);
    free(b);
    return ok;
}

int main(void) {
    int status = 1;
    cryo_error *err = NULL;
    cryo_ffi_scope *scope = cryo_ffi_scope_new();
    cryo_package *pkg = cryo_package_new("sqlite");
    if (!scope || !pkg || cryo_ffi_cdef(scope, sqlite_types, &err) != CRYO_OK) goto fail;
    for (size_t i = 0; i < sizeof sqlite_fns / sizeof sqlite_fns[0]; i++)
        if (cryo_ffi_package_add(pkg, scope, NULL, sqlite_fns[i].decl, sqlite_fns[i].fn, &err))
            goto fail;
    /* ffi::string / ffi::cast need the ffi package and the capability */
    cryo_package *pkgs[] = {cryo_package_std(), cryo_ffi_package(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 3, .capabilities = CRYO_CAP_FFI};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    pkg = NULL;

    cryo_unit *unit = cryo_compile(script, strlen(script), NULL, &err);
    if (!unit) goto fail;
    cryo_vm *vm = cryo_vm_new(unit, ctx);
    cryo_unit_release(unit);
    cryo_value fns;
    cryo_ffi_callback *cbs[3] = {NULL, NULL, NULL};
    static const char *const names[] = {"square1", "shout", "bylen"};
    if (cryo_vm_run(vm, NULL, 0, &fns) != CRYO_OK) {
        fprintf(stderr, "%s\n", cryo_vm_error(vm)->message);
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        cryo_sync *f = NULL;
        if (cryo_vm_into_sync(vm, cryo_array_get(fns, i), &f) != CRYO_OK) {
            fprintf(stderr, "%s\n", cryo_vm_error(vm)->message);
            return 1;
        }
        cbs[i] = cryo_ffi_callback_new(f, scope, callback_types[i], &err);
        cryo_sync_release(f);
        if (!cbs[i]) goto fail;
        cryo_ffi_callback_set_error_handler(cbs[i], on_error, (void *)names[i]);
    }
    cryo_value_release(fns);
    cryo_vm_free(vm);

    sqlite3 *db = NULL;
    typedef void (*xfunc)(sqlite3_context *, int, sqlite3_value **);
    typedef int (*xcompare)(void *, int, const void *, int, const void *);
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_create_function_v2(db, "square1", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                   (xfunc)cryo_ffi_callback_ptr(cbs[0]), NULL, NULL,
                                   NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(db, "shout", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                   (xfunc)cryo_ffi_callback_ptr(cbs[1]), NULL, NULL,
                                   NULL) != SQLITE_OK ||
        sqlite3_create_collation_v2(db, "bylen", SQLITE_UTF8, NULL,
                                    (xcompare)cryo_ffi_callback_ptr(cbs[2]), NULL) != SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE TABLE t(v INTEGER, name TEXT);"
                     "INSERT INTO t VALUES (3, 'pear'), (-7, 'fig'), (12, 'banana'), (0, 'kiwi'),"
                     " (3037000499, 'apple'), (5, 'date'), (-1, 'cherry'), (42, 'elderberry');",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    int ok = check(db, "square1", "SELECT group_concat(square1(v), ',') FROM t",
                   "SELECT group_concat(v * v + 1, ',') FROM t");
    ok &= check(db, "shout", "SELECT group_concat(shout(name), ',') FROM t",
                "SELECT group_concat(upper(name) || '!', ',') FROM t");
    ok &= check(db, "bylen",
                "SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY name COLLATE "
                "bylen)",
                "SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY length(name), "
                "name)");
    sqlite3_close(db); /* SQLite stops calling the callbacks: now they may go */
    uint64_t failures = 0;
    for (int i = 0; i < 3; i++) {
        failures += cryo_ffi_callback_errors(cbs[i]);
        cryo_ffi_callback_free(cbs[i]);
    }
    cryo_context_release(ctx);
    cryo_ffi_scope_free(scope);
    if (ok && failures == 0) printf("sqlite_function: ok\n");
    return ok && failures == 0 ? 0 : 1;

fail:
    fprintf(stderr, "%s\n", err && err->message ? err->message : "out of memory");
    cryo_error_free(err);
    cryo_package_release(pkg);
    cryo_ffi_scope_free(scope);
    return status;
}
