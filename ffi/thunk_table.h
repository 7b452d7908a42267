/*
 * thunk_table.h — the callback signatures that get direct thunks (ffi/thunk.c), written once.
 *
 * CRYO_THUNK_TABLE(X) calls X(ID, RET, N, P1, ..., PN) once per signature; a signature without
 * parameters writes one placeholder parameter `_` (N is 0). The ID is the signature's key: the
 * return class, '_', then one letter per parameter. Classes (how a declaration is matched):
 *
 *   V  void (results only)
 *   I  a 32-bit signed integer: int, int32_t, an enum whose values fit in int
 *   L  a 64-bit signed integer: int64_t, long long (and long where it is 64 bits)
 *   U  a 64-bit unsigned integer: uint64_t, unsigned long long, size_t where it is 64 bits
 *   D  double
 *   P  any data or function pointer: `const int *`, `char **`, `struct sqlite3 *` and `void *`
 *      all share the pointer class of their position
 *
 * Anything else (bool, char, short, unsigned int, float, long double, structs by value,
 * variadics, more than 5 parameters) has no thunk: the callback is a libffi closure.
 *
 * Adding a signature: one line here (its ID must spell its classes), then rebuild; thunk.c
 * generates CRYO_THUNK_SLOTS functions of that exact C type, and tests/test-ffi-thunk.c's
 * table of cases must get a line for it (the test checks it covers every entry).
 */
#ifndef CRYO_FFI_THUNK_TABLE_H
#define CRYO_FFI_THUNK_TABLE_H

/* Simultaneously live callbacks per signature on the thunk path; more fall back to libffi. */
#define CRYO_THUNK_SLOTS 32

#define CRYO_THUNK_TABLE(X)                                                                        \
    X(I_PP, I, 2, P, P) /* qsort, bsearch, GCompareFunc */                                         \
    X(V_P, V, 1, P)     /* free-like destructors, GDestroyNotify */                                \
    X(P_P, P, 1, P)     /* pthread_create start routines */                                        \
    X(I_P, I, 1, P)     /* thrd_start_t, predicates */                                             \
    X(V_PP, V, 2, P, P) /* GFunc, g_thread_pool_new's function */                                  \
    X(I_I, I, 1, I)                                                                                \
    X(L_L, L, 1, L)                                                                                \
    X(D_D, D, 1, D) /* integrands, easing functions */                                             \
    X(D_DD, D, 2, D, D)                                                                            \
    X(I_PIPP, I, 4, P, I, P, P)     /* sqlite3_exec's row callback */                              \
    X(V_PIP, V, 3, P, I, P)         /* SQLite scalar functions (xFunc, xStep) */                   \
    X(I_PIPIP, I, 5, P, I, P, I, P) /* SQLite collations */                                        \
    X(V_, V, 0, _)                  /* atexit, pthread_once */                                     \
    X(V_I, V, 1, I)                 /* signal-style handlers */                                    \
    X(I_II, I, 2, I, I)                                                                            \
    X(V_PPP, V, 3, P, P, P)     /* GHFunc */                                                       \
    X(I_PPP, I, 3, P, P, P)     /* qsort_r comparators, GCompareDataFunc */                        \
    X(U_PUUP, U, 4, P, U, U, P) /* fwrite-style writers (curl's write callback) */

#endif
