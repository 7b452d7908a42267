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

/* slots[s][k]: the fast-path data (cf_hot, inside the callback) of the callback thunk k of
 * signature s calls (NULL while free). used[s]: bit k set while slot k is taken (reserved at
 * creation, published once the callback is complete). */
static _Atomic(const cf_hot *) slots[THUNK_NSIGS][CRYO_THUNK_SLOTS];
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

/* The general path: the handler the libffi closures use, with the arguments' addresses. */
static void slow(const cf_hot *h, thunk_ret *r, void **args) {
    if (__builtin_expect(h != NULL, 1))
        cf_trampoline(NULL, r, args, h->cb);
    else
        r->q = 0; /* a call after cryo_ffi_callback_free (a host bug): 0 rather than a crash */
}

/* The typed fast path (the handler's hot path without its argument array): parameter n of
 * class C goes straight into register n, from its template with the payload filled in. */
#define SET_I(n, a) SET_(n, i, (int64_t)(a))
#define SET_L(n, a) SET_(n, i, (a))
#define SET_U(n, a) SET_(n, i, (int64_t)(a))
#define SET_D(n, a) SET_(n, f, (a))
#define SET_P(n, a) SET_(n, i, (int64_t)(intptr_t)(a))
#define SET_(n, field, x)                                                                          \
    do {                                                                                           \
        cryo_value v_ = h->argt[n];                                                                \
        v_.as.field = x;                                                                           \
        regs[n] = v_;                                                                              \
    } while (0)
#define SETS_0(_) (void)0
#define SETS_1(A) SET_##A(0, a0)
#define SETS_2(A, B)                                                                               \
    SET_##A(0, a0);                                                                                \
    SET_##B(1, a1)
#define SETS_3(A, B, C)                                                                            \
    SET_##A(0, a0);                                                                                \
    SET_##B(1, a1);                                                                                \
    SET_##C(2, a2)
#define SETS_4(A, B, C, D_)                                                                        \
    SET_##A(0, a0);                                                                                \
    SET_##B(1, a1);                                                                                \
    SET_##C(2, a2);                                                                                \
    SET_##D_(3, a3)
#define SETS_5(A, B, C, D_, E)                                                                     \
    SETS_4(A, B, C, D_);                                                                           \
    SET_##E(4, a4)
#define CALLARGS_0                k
#define CALLARGS_1                k, a0
#define CALLARGS_2                k, a0, a1
#define CALLARGS_3                k, a0, a1, a2
#define CALLARGS_4                k, a0, a1, a2, a3
#define CALLARGS_5                k, a0, a1, a2, a3, a4
#define KPARAMS_0(_)              (int k)
#define KPARAMS_1(A)              (int k, T_##A a0)
#define KPARAMS_2(A, B)           (int k, T_##A a0, T_##B a1)
#define KPARAMS_3(A, B, C)        (int k, T_##A a0, T_##B a1, T_##C a2)
#define KPARAMS_4(A, B, C, D_)    (int k, T_##A a0, T_##B a1, T_##C a2, T_##D_ a3)
#define KPARAMS_5(A, B, C, D_, E) (int k, T_##A a0, T_##B a1, T_##C a2, T_##D_ a3, T_##E a4)

/* A result the fast path returns without the handler's conversion (the common case of each
 * class; anything else, errors included, goes through cf_hot_finish). */
#define FAST_I(e, res)                                                                             \
    (e == CRYO_OK && res.type == CRYO_T_INT && res.as.i >= INT32_MIN && res.as.i <= INT32_MAX)
#define FAST_L(e, res) (e == CRYO_OK && res.type == CRYO_T_INT)
#define FAST_U(e, res) 0
#define FAST_D(e, res) (e == CRYO_OK && res.type == CRYO_T_FLOAT)
#define FAST_P(e, res) 0
#define FAST_V(e, res) (e == CRYO_OK && !(res.flags & CRYO_VF_COUNTED))
#define OUT_I(res)     return (int)res.as.i;
#define OUT_L(res)     return res.as.i;
#define OUT_U(res)     return (uint64_t)res.as.i;
#define OUT_D(res)     return res.as.f;
#define OUT_P(res)     return (void *)(intptr_t)res.as.i;
#define OUT_V(res)     return;

#define RETCALL_I(c) return c;
#define RETCALL_L(c) return c;
#define RETCALL_U(c) return c;
#define RETCALL_D(c) return c;
#define RETCALL_P(c) return c;
#define RETCALL_V(c) c;

/* The body of every thunk of signature ID (k: the slot). */
#define THUNK_BODY(ID, R, N, ...)                                                                  \
    static T_##R body_##ID KPARAMS_##N(__VA_ARGS__) {                                              \
        const cf_hot *h = atomic_load_explicit(&slots[THUNK_##ID][k], memory_order_acquire);       \
        cx_kept *kept;                                                                             \
        thunk_ret r;                                                                               \
        if (__builtin_expect(h != NULL && (kept = cx_cache_ready(h->key)) != NULL, 1)) {           \
            cryo_vm *vm = cx_cache_enter(kept); /* busy: a nested call takes another VM */         \
            cryo_value *regs = cx_hot_first_regs(vm);                                              \
            (void)regs;                                                                            \
            SETS_##N(__VA_ARGS__);                                                                 \
            cryo_value res;                                                                        \
            int np_ = cx_vm_npins(vm); /* f is its last pin */                                     \
            cryo_error_kind e = cx_run_hot_ctl(h->f, vm, h->ctl, &res);                            \
            if (__builtin_expect(FAST_##R(e, res), 1)) {                                           \
                cx_cache_leave(kept, h->key, cx_hot_still_ready_since(vm, np_));                   \
                OUT_##R(res)                                                                       \
            }                                                                                      \
            cf_hot_finish(h, vm, kept, e, res, &r);                                                \
            RET_##R(r)                                                                             \
        }                                                                                          \
        void *args[] = {ARGS_##N};                                                                 \
        slow(h, &r, args);                                                                         \
        RET_##R(r)                                                                                 \
    }
CRYO_THUNK_TABLE(THUNK_BODY)

/* Thunk number 8 * h + l of signature ID: its body, for slot 8 * h + l (a tail call). */
#define THUNK_FN(h, l, ID, R, N, ...)                                                              \
    static T_##R thunk_##ID##_##h##_##l PARAMS_##N(__VA_ARGS__) {                                  \
        enum { k = 8 * h + l };                                                                    \
        RETCALL_##R(body_##ID(CALLARGS_##N))                                                       \
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
    atomic_store_explicit(&slots[s][k], cf_callback_hot(cb), memory_order_release);
}

void cf_thunk_release(int slot) {
    if (slot <= 0) return;
    int s = (slot - 1) / CRYO_THUNK_SLOTS, k = (slot - 1) % CRYO_THUNK_SLOTS;
    atomic_store_explicit(&slots[s][k], NULL, memory_order_release);
    atomic_fetch_and_explicit(&used[s], ~((uint_least32_t)1u << k), memory_order_release);
}
