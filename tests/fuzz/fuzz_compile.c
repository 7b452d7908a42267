/*
 * fuzz_compile.c — libFuzzer target: the lexer, parser and compiler on arbitrary bytes.
 *
 * The input is script source (any bytes: invalid UTF-8, NULs, unbalanced brackets). When the
 * first byte has bits 0 and 7 set the source compiles in expression-only mode. Whatever the input,
 * compiling must return a unit or an error chain, never crash, overflow the C stack or leak; each
 * error must have a valid kind and message and format without trouble; a unit must dump.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cryo.h>

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!devnull) devnull = fopen("/dev/null", "w");
    cryo_compile_options opts = {0};
    opts.source_name = "fuzz";
    opts.expression_only = size > 0 && (data[0] & 1) && (data[0] & 0x80);
    static const char *const globals[] = {"g", "h"};
    opts.globals = globals;
    opts.nglobals = 2;

    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile((const char *)data, size, &opts, &err);
    if (u) {
        if (err) __builtin_trap(); /* success leaves no error */
        if (devnull) cryo_unit_dump(u, devnull);
        cryo_unit_release(u);
    } else {
        if (!err) __builtin_trap(); /* failure always says why */
        for (cryo_error *e = err; e; e = e->next) {
            if (e->kind <= CRYO_OK || e->kind > CRYO_ERR_API || !e->message) __builtin_trap();
            (void)strlen(e->message);
            (void)cryo_error_kind_name(e->kind);
        }
        char *text = cryo_error_format(err, (const char *)data, size);
        free(text);
        cryo_error_free(err);
    }
    return 0;
}
