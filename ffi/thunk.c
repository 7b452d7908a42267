/*
 * thunk.c — direct thunks: for each signature of thunk_table.h, CRYO_THUNK_SLOTS precompiled C
 * functions of exactly that C type. A callback whose signature is in the table takes a free
 * slot; the code pointer it hands out is that slot's thunk, which finds the callback with one
 * atomic load (slots[sig][k]) and enters the handler the libffi closures use (cf_trampoline in
 * callback.c) with its arguments' addresses, as libffi would. What this removes is libffi's
 * generic closure entry, which classifies every argument on every call; the VM call, the hot
 * path, the error policy and the bounds are the same code on both paths.
 *
 * No run-time code generation and no call through a function pointer of another type: the
 * preprocessor writes every thunk (portable C11). Slots are taken with a compare-and-swap on a
 * bitmap and given back when the callback is freed; a call takes no lock and does no
 * read-modify-write. docs/notes/ffi-internals.md, "Direct thunks", says why it is built so.
 */
#include "ffi_internal.h"
#include "thunk_table.h"
#include <stdint.h>
#include <string.h>

/* The class letters are macro arguments pasted into names: none may be a macro itself. */
#if defined(I) || defined(P) || defined(V) || defined(L) || defined(U) || defined(D)
#error "thunk.c: a class letter of thunk_table.h is defined as a macro"
#endif

_Static_assert(sizeof(int) == 4 && sizeof(int64_t) == 8, "class I is int, 32 bits");
_Static_assert(CRYO_THUNK_SLOTS == 32, "the slot generator below writes 4 x 8 thunks");

/* --- the table, as data ------------------------------------------------------------------- */

#define THUNK_ENUM(ID, R, N, ...) THUNK_##ID,
enum { CRYO_THUNK_TABLE(THUNK_ENUM) THUNK_NSIGS };

#define THUNK_KEY(ID, R, N, ...) #ID,
static const char *const keys[THUNK_NSIGS] = {CRYO_THUNK_TABLE(THUNK_KEY)};

/* slots[s][k]: the callback thunk k of signature s calls (NULL while free). used[s]: bit k set
 * while slot k is taken (reserved at creation, published once the callback is complete). */
static _Atomic(cryo_ffi_callback *) slots[THUNK_NSIGS][CRYO_THUNK_SLOTS];
static atomic_uint_least32_t used[THUNK_NSIGS];

/* --- the thunks ------------------------------------------------------------------------------
 * C types of the classes, the parameter lists by arity and the result read back from what the
 * handler wrote (an int widened to ffi_arg, as libffi requires; the other classes as is). */

#define T_V void
#define T_I int
#define T_L int64_t
#define T_U uint64_t
#define T_D double
#define T_P void *

#define PARAMS_0(_)              (void)
#define PARAMS_1(A)              (T_##A a0)
#define PARAMS_2(A, B)           (T_##A a0, T_##B a1)
#define PARAMS_3(A, B, C)        (T_##A a0, T_##B a1, T_##C a2)
#define PARAMS_4(A, B, C, D_)    (T_##A a0, T_##B a1, T_##C a2, T_##D_ a3)
#define PARAMS_5(A, B, C, D_, E) (T_##A a0, T_##B a1, T_##C a2, T_##D_ a3, T_##E a4)
#define ARGS_0                   NULL
#define ARGS_1                   &a0
#define ARGS_2                   &a0, &a1
#define ARGS_3                   &a0, &a1, &a2
#define ARGS_4                   &a0, &a1, &a2, &a3
#define ARGS_5                   &a0, &a1, &a2, &a3, &a4

#define RET_V(r)
#define RET_I(r) return (int)(r).s;
#define RET_L(r) return (r).l;
#define RET_U(r) return (r).q;
#define RET_D(r) return (r).d;
#define RET_P(r) return (r).p;

/* What the handler writes the result into: at least an ffi_arg, like libffi's return slot. */
typedef union thunk_ret {
    ffi_arg u;
    ffi_sarg s;
    int64_t l;
    uint64_t q;
    double d;
    void *p;
} thunk_ret;

static inline void enter(int sig, int k, thunk_ret *r, void **args) {
    cryo_ffi_callback *cb = atomic_load_explicit(&slots[sig][k], memory_order_acquire);
    if (__builtin_expect(cb != NULL, 1))
        cf_trampoline(NULL, r, args, cb);
    else
        r->q = 0; /* a call after cryo_ffi_callback_free (a host bug): 0 rather than a crash */
}

/* Thunk number 8 * h + l of signature ID. */
#define THUNK_FN(h, l, ID, R, N, ...)                                                              \
    static T_##R thunk_##ID##_##h##_##l PARAMS_##N(__VA_ARGS__) {                                  \
        void *args[] = {ARGS_##N};                                                                 \
        thunk_ret r;                                                                               \
        enter(THUNK_##ID, 8 * h + l, &r, args);                                                    \
        RET_##R(r)                                                                                 \
    }
#define THUNK_CODE(h, l, ID, R, N, ...) (void *)thunk_##ID##_##h##_##l,

/* The repeat macros are left as written: clang-format does not settle on one layout for them. */
/* clang-format off */
#define REP8(M, h, ...)                                                                            \
    M(h, 0, __VA_ARGS__) M(h, 1, __VA_ARGS__) M(h, 2, __VA_ARGS__) M(h, 3, __VA_ARGS__)            \
    M(h, 4, __VA_ARGS__) M(h, 5, __VA_ARGS__) M(h, 6, __VA_ARGS__) M(h, 7, __VA_ARGS__)
#define REP_SLOTS(M, ...)                                                                          \
    REP8(M, 0, __VA_ARGS__) REP8(M, 1, __VA_ARGS__) REP8(M, 2, __VA_ARGS__) REP8(M, 3, __VA_ARGS__)
/* clang-format on */

#define THUNK_SIG(ID, R, N, ...)                                                                   \
    REP_SLOTS(THUNK_FN, ID, R, N, __VA_ARGS__)                                                     \
    static void *const code_##ID[CRYO_THUNK_SLOTS] = {REP_SLOTS(THUNK_CODE, ID, R, N, __VA_ARGS__)};
CRYO_THUNK_TABLE(THUNK_SIG)

#define THUNK_CODES(ID, R, N, ...) code_##ID,
static void *const *const codes[THUNK_NSIGS] = {CRYO_THUNK_TABLE(THUNK_CODES)};

/* --- slots ---------------------------------------------------------------------------------- */

/* The class letter of a parameter or result type, 0 when it has none (thunk_table.h). */
static char class_of(const ctype *t) {
    switch (t->kind) {
    case CT_VOID: return 'V';
    case CT_I32: return 'I';
    case CT_I64: return 'L';
    case CT_U64: return 'U';
    case CT_F64: return 'D';
    case CT_PTR: return 'P';
    default: return 0;
    }
}

/* The table index of fn's signature, -1 when it has no thunks. */
static int sig_of(const cfunc *fn) {
    char key[8];
    if (fn->variadic || fn->nparams > 5) return -1;
    key[0] = class_of(fn->ret);
    key[1] = '_';
    for (int i = 0; i < fn->nparams; i++) {
        char c = class_of(fn->params[i]);
        if (!c || c == 'V') return -1;
        key[2 + i] = c;
    }
    key[2 + fn->nparams] = '\0';
    if (!key[0]) return -1;
    for (int s = 0; s < THUNK_NSIGS; s++)
        if (strcmp(keys[s], key) == 0) return s;
    return -1;
}

int cf_thunk_reserve(const cfunc *fn, void **code) {
    int s = sig_of(fn);
    if (s < 0) return 0;
    uint_least32_t m = atomic_load_explicit(&used[s], memory_order_relaxed);
    for (;;) {
        int k = 0;
        while (k < CRYO_THUNK_SLOTS && (m >> k & 1u))
            k++;
        if (k == CRYO_THUNK_SLOTS) return 0; /* all taken: the caller falls back to libffi */
        if (atomic_compare_exchange_weak_explicit(&used[s], &m, m | (uint_least32_t)1u << k,
                                                  memory_order_acquire, memory_order_relaxed)) {
            *code = codes[s][k];
            return s * CRYO_THUNK_SLOTS + k + 1;
        }
    }
}

void cf_thunk_publish(int slot, cryo_ffi_callback *cb) {
    if (slot <= 0) return;
    int s = (slot - 1) / CRYO_THUNK_SLOTS, k = (slot - 1) % CRYO_THUNK_SLOTS;
    atomic_store_explicit(&slots[s][k], cb, memory_order_release);
}

void cf_thunk_release(int slot) {
    if (slot <= 0) return;
    int s = (slot - 1) / CRYO_THUNK_SLOTS, k = (slot - 1) % CRYO_THUNK_SLOTS;
    atomic_store_explicit(&slots[s][k], NULL, memory_order_release);
    atomic_fetch_and_explicit(&used[s], ~((uint_least32_t)1u << k), memory_order_release);
}
