/*
 * fuzz_cdecl.c — libFuzzer target: the FFI C declaration parser (ffi/cdecl.c).
 *
 * The first byte picks the entry point, the rest (NUL-terminated copy) is the text:
 *   0: cf_parse_decl (a function declaration or function-pointer type)
 *   1: cf_parse_type (one type, as ffi::new / ffi::cast take it)
 *   2: cf_parse_cdef (struct definitions)
 *   3: cryo_ffi_parse (the public path: parse + libffi call interface)
 * Each input gets a fresh scope with two structs already defined, so struct references are
 * reached. The parser must reject (a CRYO_ERR_PARSE error with a message) or parse, never
 * crash or leak. A parsed type prints (ct_describe); when the printed form (if shorter than 200
 * characters) parses again as a type, it must print the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryo_ffi.h"
#include "ffi_internal.h"

static void check_err(cryo_error *e) {
    if (!e) return;
    if (e->kind != CRYO_ERR_PARSE && e->kind != CRYO_ERR_MEMORY) abort();
    if (!e->message) abort();
    cryo_error_free(e);
}

static void round_trip(cryo_ffi_scope *s, const ctype *t) {
    char a[1024] = "", b[1024] = "";
    ct_describe(t, a, sizeof a);
    /* ct_describe truncates nested parts at 255 characters (it is for error messages): long
     * descriptions are not compared */
    if (t->kind == CT_FUNC || strlen(a) >= 200) return;
    ffi_arena ar = {0};
    ctype *t2 = NULL;
    cryo_error *e = cf_parse_type(s, &ar, a, &t2);
    if (!e) {
        ct_describe(t2, b, sizeof b);
        if (strcmp(a, b) != 0) {
            fprintf(stderr, "round trip: '%s' -> '%s'\n", a, b);
            abort();
        }
    }
    cryo_error_free(e);
    fa_free(&ar);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    char *src = malloc(size);
    if (!src) return 0;
    memcpy(src, data + 1, size - 1);
    src[size - 1] = '\0';
    cryo_ffi_scope *s = cryo_ffi_scope_new();
    if (!s) {
        free(src);
        return 0;
    }
    check_err(cf_parse_cdef(s, "struct pt { double x, y; }; struct rc { struct pt a, b; int t[4]; "
                               "};"));
    ffi_arena a = {0};
    switch (data[0] & 3) {
    case 0: {
        char *name = NULL;
        ctype *t = NULL;
        cryo_error *e = cf_parse_decl(s, &a, src, &name, &t);
        if (!e && t) round_trip(s, t);
        check_err(e);
        break;
    }
    case 1: {
        ctype *t = NULL;
        cryo_error *e = cf_parse_type(s, &a, src, &t);
        if (!e && t) round_trip(s, t);
        check_err(e);
        break;
    }
    case 2: check_err(cf_parse_cdef(s, src)); break;
    default: {
        cryo_error *e = NULL;
        cryo_ffi_sig *g = cryo_ffi_parse(s, src, &e);
        if (g) {
            (void)cryo_ffi_sig_name(g);
            (void)cryo_ffi_sig_nparams(g);
            (void)cryo_ffi_sig_variadic(g);
        }
        check_err(e);
        break;
    }
    }
    fa_free(&a);
    cryo_ffi_scope_free(s);
    free(src);
    return 0;
}
