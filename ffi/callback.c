/*
 * callback.c — SyncFunctions as C function pointers. The only file that deals with libffi
 * closures (ffi_closure_alloc, ffi_prep_cif, ffi_prep_closure_loc, ffi_closure_free).
 *
 * A call of the code pointer lands in `trampoline` on the caller's thread: it takes a pooled
 * VM of that thread (no lock), converts the C arguments to values on the C stack (no malloc
 * for scalars and pointers), calls the SyncFunction, converts the result back and gives the VM
 * back. Errors never unwind: the default result is written and the error handler is called.
 * The hot path (the thread's cached VM calling the same function again with scalar or raw
 * pointer arguments) writes the arguments straight into the first frame's registers
 * (cryo_sync_hot_regs / cryo_sync_run_hot in sync.c); see docs/ffi.md, "Performance".
 */
#include "ffi_internal.h"
#include "sync.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CB_ARGS 32

struct cryo_ffi_callback {
    ffi_closure *closure;
    void *code;
    cryo_sync *f;
    ffi_arena arena; /* the parsed type */
    cfunc *fn;
    size_t defsize;
    unsigned char *defval; /* at least sizeof(ffi_arg) bytes */
    cryo_ffi_error_fn on_error;
    void *on_error_ud;
    atomic_uint_fast64_t nerrors;
    bool simple; /* every parameter converts inline (i32, i64, f64, non-char pointers) */
};

static void write_default(const cryo_ffi_callback *cb, void *ret) {
    if (cb->fn->ret->kind != CT_VOID) memcpy(ret, cb->defval, cb->defsize);
}

static void report(cryo_ffi_callback *cb, cryo_vm *vm, cryo_error_kind kind, const char *msg) {
    atomic_fetch_add_explicit(&cb->nerrors, 1, memory_order_relaxed);
    if (!cb->on_error) return;
    const cryo_error *e = vm ? cryo_vm_error(vm) : NULL;
    cryo_error tmp = {kind, 0, 0, (char *)msg, NULL, NULL};
    cb->on_error(cb->on_error_ud, cb, e ? e : &tmp);
}

/* Stores a converted scalar result, widening small integers to ffi_arg as libffi requires. */
static void store_widened(const ctype *t, const void *src, void *ret) {
    switch (t->kind) {
    case CT_BOOL: *(ffi_arg *)ret = *(const bool *)src; break;
    case CT_I8: *(ffi_sarg *)ret = *(const int8_t *)src; break;
    case CT_U8: *(ffi_arg *)ret = *(const uint8_t *)src; break;
    case CT_I16: *(ffi_sarg *)ret = *(const int16_t *)src; break;
    case CT_U16: *(ffi_arg *)ret = *(const uint16_t *)src; break;
    case CT_I32: *(ffi_sarg *)ret = *(const int32_t *)src; break;
    case CT_U32: *(ffi_arg *)ret = *(const uint32_t *)src; break;
    default: memcpy(ret, src, t->size); break;
    }
}

/* The calling thread's VM for callbacks. Taking a pooled VM and giving it back on every call
 * costs a reset (and the SyncFunction's pin) per call, so a thread keeps the VM of the last
 * callback it ran; switching to another callback gives that VM back to the pool (dropping its
 * pins) and takes a fresh one. A nested call (a callback running inside another on the same
 * thread) takes its own pooled VM. The VM is freed when the thread exits. */
typedef struct tl_cache {
    cryo_vm *vm;
    const cryo_ffi_callback *cb;
    bool busy;
} tl_cache;
static __thread tl_cache tl;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;
static bool tl_key_ok;

static void tl_destroy(void *unused) {
    (void)unused;
    if (tl.vm && !tl.busy) cryo_vm_free(tl.vm);
    tl.vm = NULL;
    tl.cb = NULL;
}
static void tl_init(void) {
    tl_key_ok = pthread_key_create(&tl_key, tl_destroy) == 0;
}

static cryo_vm *take_vm(const cryo_ffi_callback *cb, bool *cached) {
    cryo_sync *f = cb->f;
    *cached = false;
    if (tl.busy) return cryo_vm_pool_acquire(f->unit, f->ctx);
    if (tl.vm && tl.cb == cb && tl.vm->ctx == f->ctx) {
        *cached = tl.busy = true;
        return tl.vm;
    }
    if (tl.vm) cryo_vm_pool_release(tl.vm);
    tl.vm = NULL;
    cryo_vm *vm = cryo_vm_pool_acquire(f->unit, f->ctx);
    if (!vm) return NULL;
    pthread_once(&tl_once, tl_init);
    if (tl_key_ok && pthread_setspecific(tl_key, &tl) == 0) {
        tl.vm = vm;
        tl.cb = cb;
        *cached = tl.busy = true;
    }
    return vm;
}

static void give_vm(cryo_vm *vm, bool cached) {
    if (cached)
        tl.busy = false;
    else
        cryo_vm_pool_release(vm);
}

static cryo_error_kind call_general(cryo_ffi_callback *cb, cryo_vm *vm, void **args,
                                    cryo_value *res);
static cryo_error_kind store_result(cryo_ffi_callback *cb, cryo_vm *vm, cryo_value res, void *ret);

/* An inline conversion of a C argument (the kinds that make cb->simple). */
static inline cryo_value simple_arg(const ctype *pt, const void *a) {
    switch (pt->kind) {
    case CT_PTR: return cv_pointer_raw(*(void *const *)a, (cryo_ptr_elem)pt->elem);
    case CT_I32: return cryo_int(*(const int32_t *)a);
    case CT_I64: return cryo_int(*(const int64_t *)a);
    default: return cryo_float(*(const double *)a);
    }
}

static bool is_simple_param(const ctype *pt) {
    return (pt->kind == CT_PTR && !pt->to_char) || pt->kind == CT_I32 || pt->kind == CT_I64 ||
           pt->kind == CT_F64;
}

static void trampoline(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    cryo_ffi_callback *cb = ud;
    const cfunc *fn = cb->fn;
    cryo_sync *f = cb->f;
    bool cached;
    cryo_vm *vm = take_vm(cb, &cached);
    if (!vm) {
        write_default(cb, ret);
        report(cb, NULL, CRYO_ERR_MEMORY, "callback: no VM (out of memory)");
        return;
    }
    cryo_error_kind k = CRYO_OK;
    cryo_value res;
    cryo_value *regs = cb->simple ? cryo_sync_hot_regs(f, vm, fn->nparams) : NULL;
    if (regs) {
        /* The hot path: the arguments go straight into the first frame's registers (scalars and
         * raw pointers: nothing to count, nothing to release afterwards). */
        for (int n = 0; n < fn->nparams; n++) {
            cryo_value *r = &regs[n];
            if (r->flags & CRYO_VF_COUNTED) { /* never after a call; be safe */
                cryo_value old = *r;
                *r = cryo_unit_value();
                cv_ffi_release(vm, old);
            }
            *r = simple_arg(fn->params[n], args[n]);
        }
        k = cryo_sync_run_hot(f, vm, &res);
        if (k == CRYO_OK && res.type == CRYO_T_INT && fn->ret->kind == CT_I32 &&
            res.as.i >= INT32_MIN && res.as.i <= INT32_MAX) {
            *(ffi_sarg *)ret = (int32_t)res.as.i; /* the comparator case */
            give_vm(vm, cached);
            return;
        }
    } else {
        k = call_general(cb, vm, args, &res);
    }
    if (k == CRYO_OK && fn->ret->kind != CT_VOID) k = store_result(cb, vm, res, ret);
    if (res.flags & CRYO_VF_COUNTED) cv_ffi_release(vm, res);
    if (k != CRYO_OK) {
        write_default(cb, ret);
        report(cb, vm, k, "callback failed");
    }
    give_vm(vm, cached);
}

/* Converts the C arguments to values on the C stack (no malloc for scalars and pointers) and
 * calls the SyncFunction. */
static cryo_error_kind call_general(cryo_ffi_callback *cb, cryo_vm *vm, void **args,
                                    cryo_value *res) {
    const cfunc *fn = cb->fn;
    *res = cryo_unit_value();
    cryo_value argv[MAX_CB_ARGS];
    int n = 0;
    cryo_error_kind k = CRYO_OK;
    for (; n < fn->nparams; n++) {
        const ctype *pt = fn->params[n];
        const void *a = args[n];
        switch (pt->kind) { /* the common cases inline; no allocation */
        case CT_PTR:
            if (!pt->to_char) {
                argv[n] = cv_pointer_raw(*(void *const *)a, (cryo_ptr_elem)pt->elem);
                continue;
            }
            break;
        case CT_I32: argv[n] = cryo_int(*(const int32_t *)a); continue;
        case CT_I64: argv[n] = cryo_int(*(const int64_t *)a); continue;
        case CT_F64: argv[n] = cryo_float(*(const double *)a); continue;
        default: break;
        }
        k = cf_to_value(vm, pt, a, &argv[n]);
        if (k != CRYO_OK) break;
    }
    if (k == CRYO_OK) k = cryo_sync_call_in(cb->f, vm, n, argv, res);
    for (int i = 0; i < n; i++)
        if (argv[i].flags & CRYO_VF_COUNTED) cv_ffi_release(vm, argv[i]);
    return k;
}

/* Converts the result to C into *ret (widened as libffi requires). */
static cryo_error_kind store_result(cryo_ffi_callback *cb, cryo_vm *vm, cryo_value res, void *ret) {
    const ctype *rt = cb->fn->ret;
    cryo_error_kind k = CRYO_OK;
    if (rt->kind == CT_STRUCT) {
        void *tmp = NULL;
        k = cf_from_value(vm, rt, res, ret, "callback result", NULL, 0, &tmp);
        free(tmp);
    } else if (rt->kind == CT_PTR && res.type == CRYO_T_STRING) {
        k = cryo_vm_raise(vm, CRYO_ERR_TYPE,
                          "callback result: a string cannot be returned as a C pointer "
                          "(it would not outlive the call)");
    } else if (res.type == CRYO_T_INT && rt->kind == CT_I32 && res.as.i >= INT32_MIN &&
               res.as.i <= INT32_MAX) {
        *(ffi_sarg *)ret = (int32_t)res.as.i; /* the comparator case, inline */
    } else {
        union {
            int64_t i;
            double d;
            void *p;
        } buf;
        void *tmp = NULL;
        k = cf_from_value(vm, rt, res, &buf, "callback result", NULL, 0, &tmp);
        if (k == CRYO_OK) store_widened(rt, &buf, ret);
    }
    return k;
}

cryo_ffi_callback *cryo_ffi_callback_new(cryo_sync *f, cryo_ffi_scope *scope,
                                         const char *fnptr_type, cryo_error **err) {
    if (err) *err = NULL;
    if (!f || !fnptr_type) return NULL;
    cryo_ffi_callback *cb = calloc(1, sizeof *cb);
    if (!cb) return NULL;
    char *name;
    ctype *t;
    cryo_error *e = cf_parse_decl(cf_scope(scope), &cb->arena, fnptr_type, &name, &t);
    if (e) {
        fa_free(&cb->arena);
        free(cb);
        if (err)
            *err = e;
        else
            cryo_error_free(e);
        return NULL;
    }
    cb->fn = t->fn;
    cb->simple = true;
    for (int i = 0; i < cb->fn->nparams; i++)
        if (!is_simple_param(cb->fn->params[i])) cb->simple = false;
    if (cb->fn->variadic || cb->fn->nparams > MAX_CB_ARGS) {
        const char *msg = cb->fn->variadic ? "a callback type cannot be variadic"
                                           : "a callback type has too many parameters";
        fa_free(&cb->arena);
        free(cb);
        if (err) {
            *err = calloc(1, sizeof **err);
            if (*err) {
                (*err)->kind = CRYO_ERR_PARSE;
                (*err)->message = strdup(msg);
            }
        }
        return NULL;
    }
    size_t rs = cb->fn->ret->size;
    cb->defsize = rs < sizeof(ffi_arg) ? sizeof(ffi_arg) : rs;
    cb->defval = fa_alloc(&cb->arena, cb->defsize);
    cb->closure = ffi_closure_alloc(sizeof(ffi_closure), &cb->code);
    if (!cb->defval || !cb->closure ||
        ffi_prep_closure_loc(cb->closure, &cb->fn->cif, trampoline, cb, cb->code) != FFI_OK) {
        if (cb->closure) ffi_closure_free(cb->closure);
        fa_free(&cb->arena);
        free(cb);
        return NULL;
    }
    cb->f = cryo_sync_retain(f);
    return cb;
}

void *cryo_ffi_callback_ptr(const cryo_ffi_callback *cb) {
    return cb ? cb->code : NULL;
}

cryo_error_kind cryo_ffi_callback_set_default(cryo_ffi_callback *cb, const void *value,
                                              size_t size) {
    if (!cb || (size && !value)) return CRYO_ERR_API;
    const ctype *rt = cb->fn->ret;
    if (size > rt->size) return CRYO_ERR_API;
    if (rt->kind == CT_STRUCT || rt->size >= sizeof(ffi_arg)) {
        memset(cb->defval, 0, cb->defsize);
        memcpy(cb->defval, value, size);
        return CRYO_OK;
    }
    unsigned char buf[16] = {0};
    memcpy(buf, value, size);
    store_widened(rt, buf, cb->defval);
    return CRYO_OK;
}

void cryo_ffi_callback_set_error_handler(cryo_ffi_callback *cb, cryo_ffi_error_fn fn,
                                         void *userdata) {
    if (!cb) return;
    cb->on_error = fn;
    cb->on_error_ud = userdata;
}

uint64_t cryo_ffi_callback_errors(const cryo_ffi_callback *cb) {
    return cb ? atomic_load_explicit(&cb->nerrors, memory_order_relaxed) : 0;
}

void cryo_ffi_callback_free(cryo_ffi_callback *cb) {
    if (!cb) return;
    if (tl.cb == cb && !tl.busy) { /* this thread's cached VM pins cb's function: let it go */
        cryo_vm_pool_release(tl.vm);
        tl.vm = NULL;
        tl.cb = NULL;
    }
    ffi_closure_free(cb->closure);
    cryo_sync_release(cb->f);
    fa_free(&cb->arena);
    free(cb);
}
