/*
 * ffi_abi.h — the interface between the ABI-breadth test (test-ffi-abi.c) and the C library
 * that tests/ffi_abi_gen.c generates from its table of signatures (ffi_abi_cases.c, in the build
 * tree).
 *
 * Every case N is a C function abi_fN that appends what it received to a byte log (each scalar
 * leaf of each argument, in order, tagged with its position) and returns a fixed value;
 * abi_sinkN logs a value of its return type; abi_driveN calls a function pointer of abi_fN's
 * type with fixed arguments and logs what it returned. `direct` does in C what the script of
 * `args` does through the FFI (abi_sinkN(abi_fN(args))) and `direct_cb` what a script callback
 * forwarding to abi_fN does (abi_driveN(abi_fN)): the two logs must be equal, byte for byte.
 */
#ifndef CRYO_TEST_FFI_ABI_H
#define CRYO_TEST_FFI_ABI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct abi_case {
    const char *decl;       /* "int64_t abi_f3(int64_t a0, double a1)" */
    const char *sink_decl;  /* "void abi_sink3(int64_t r)"; NULL for a void result */
    const char *drive_decl; /* NULL for variadic functions */
    const char *cb_type;    /* "int64_t (*)(int64_t, double)"; NULL when not a callback case */
    const char *args;       /* script text of the arguments, "(1, 2.5)" */
    int nparams;            /* fixed parameters */
    bool variadic;
    void *f, *sink, *drive;
    void (*direct)(void);
    void (*direct_cb)(void);
} abi_case;

extern const abi_case abi_cases[];
extern const int abi_ncases;
extern const char abi_cdef[]; /* the struct definitions, for cryo_ffi_cdef */

void *abi_ptr(int k); /* addresses the cases pass as pointers */
void abi_log_reset(void);
const unsigned char *abi_log_get(size_t *len);

#endif
