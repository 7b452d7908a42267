/*
 * callback.c — SyncFunctions as C function pointers. The only file that deals with libffi
 * closures (ffi_closure_alloc, ffi_prep_cif, ffi_prep_closure_loc, ffi_closure_free).
 *
 * A call of the code pointer (a libffi closure, or a direct thunk of thunk.c for the signatures
 * of thunk_table.h) lands in `cf_trampoline` on the caller's thread: it takes a pooled
 * VM of that thread (no lock), converts the C arguments to values on the C stack (no malloc
 * for scalars and pointers), calls the SyncFunction, converts the result back and gives the VM
 * back. Errors never unwind: the default result is written and the error handler is called.
 * The hot path (the thread's cached VM calling the same function again with scalar or raw
 * pointer arguments) writes the arguments straight into the first frame's registers
 * (cx_hot_regs / cx_run_hot, the hot-call entry of src/ext/ext.h); see docs/ffi.md, "Performance".
 */
#include "ffi_internal.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CB_ARGS 32
/* A cached VM keeps every pin its calls made (a script that calls into_sync pins the result)
 * until it is reset; past this many it goes back to the pool, whose reset drops them, so a
 * long-lived callback does not grow without bound. */
#define MAX_CACHED_PINS 16

/* What a callback costs beyond its closure or thunk slot is this struct and its default
 * result: the parsed type and the hot path's templates are shared (cbtype.c), the text naming
 * its function is made when an error needs it, and its failures share striped locks. */
struct cryo_ffi_callback {
    ffi_closure *closure; /* NULL on the thunk path */
    int thunk;            /* the direct thunk's slot (thunk.c), 0 on the libffi path */
    void *code;
    cryo_sync *f;
    cf_cbtype *shape; /* the shared parsed type (one reference) */
    cfunc *fn;        /* shape->fn */
    size_t defsize;
    unsigned char *defval; /* at least sizeof(ffi_arg) bytes: defbuf */
    cryo_ffi_error_fn on_error;
    void *on_error_ud;
    atomic_uint_fast64_t nerrors;
    /* Failures (the slow path): the first and the last error, under flock_of(cb). */
    cryo_error *first, *last;
    const char *type;  /* the C type as given (shape->decl) */
    cryo_call_ctl ctl; /* bounds and interrupt epoch of its calls (govern.h) */
    /* The hot path (trampoline): every parameter converts inline (i32, i64, f64, non-char
     * pointers) and the function takes exactly these parameters, none curried. */
    uint64_t id;     /* unique for the process: thread VM caches name callbacks by it, since a freed
                      * callback's address may be reused by the next one */
    const void *key; /* cb->id as the thread VM cache's key */
    bool hot;
    bool ret_i32; /* the result is an i32 (returned inline) */
    int nparams;  /* cb->fn->nparams */
    /* Per parameter of the hot path (shape's, sized to the signature): the value template and
     * whether the C slot is an i32 (cf_cbtype). */
    const cryo_value *argt;
    const bool *arg32;
    cf_hot thunk_hot;     /* a direct thunk's fast path (ffi_internal.h) */
    max_align_t defbuf[]; /* the default result: defsize bytes */
};

/* The locks of the callbacks' failure records: striped, since failures are the slow path and a
 * mutex per callback would cost more than the rest of it. */
#define NFLOCKS 16
static pthread_mutex_t flocks[NFLOCKS] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t *flock_of(const cryo_ffi_callback *cb) {
    return &flocks[cb->id % NFLOCKS];
}

/* "fn cmp, line 3", "the closure defined at line 3": what the callback calls, for messages. */
static void describe_function(cryo_sync *f, char *what, size_t size, int *line) {
    *line = 0;
    const char *fname = cx_sync_fn_name(f, line);
    if (fname && strncmp(fname, "anon$", 5) != 0)
        snprintf(what, size, "fn %.48s, line %d", fname, *line);
    else if (fname)
        snprintf(what, size, "the closure defined at line %d", *line);
    else
        snprintf(what, size, "a function called by name");
}

static void write_default(const cryo_ffi_callback *cb, void *ret) {
    if (cb->fn->ret->kind != CT_VOID) memcpy(ret, cb->defval, cb->defsize);
}

/* --- failures --------------------------------------------------------------------------------
 * Every failed call is counted and its error kept as the callback's last (and, the first time,
 * its first). A failure with no error handler is also logged process-wide until someone takes
 * note of it: cryo_ffi_take_unhandled (the CLI, after each run) or a script reading
 * ffi::failures(cb). The log keeps one entry per callback, at most LOG_MAX entries. */

#define LOG_MAX 64

typedef struct unhandled {
    uint64_t id; /* the callback's */
    char *type, *function;
    uint64_t count;
    cryo_error *first, *last;
    struct unhandled *next;
} unhandled;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unhandled *log_head;
static int log_len;
static uint64_t log_dropped; /* failures of callbacks past LOG_MAX entries */

static cryo_error *error_copy(const cryo_error *e) {
    cryo_error *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->kind = e->kind;
    c->line = e->line;
    c->column = e->column;
    c->message = strdup(e->message ? e->message : "");
    c->source_name = e->source_name ? strdup(e->source_name) : NULL;
    c->trace = cvm_trace_copy(e->trace); /* out of memory: the error without its trace */
    if (!c->message || (e->source_name && !c->source_name)) {
        cryo_error_free(c);
        return NULL;
    }
    return c;
}

static void keep(cryo_error **first, cryo_error **last, const cryo_error *e) {
    if (!*first) {
        *first = error_copy(e);
        return;
    }
    cryo_error_free(*last);
    *last = error_copy(e);
}

static void log_unhandled(cryo_ffi_callback *cb, const cryo_error *e) {
    pthread_mutex_lock(&log_lock);
    unhandled *u = log_head;
    while (u && u->id != cb->id)
        u = u->next;
    if (!u && log_len < LOG_MAX && (u = calloc(1, sizeof *u)) != NULL) {
        u->id = cb->id;
        char what[96];
        int line;
        describe_function(cb->f, what, sizeof what, &line);
        u->type = strdup(cb->type);
        u->function = strdup(what);
        u->next = log_head;
        log_head = u;
        log_len++;
    }
    if (u) {
        u->count++;
        keep(&u->first, &u->last, e);
    } else {
        log_dropped++;
    }
    pthread_mutex_unlock(&log_lock);
}

static void unhandled_free(unhandled *u) {
    free(u->type);
    free(u->function);
    cryo_error_free(u->first);
    cryo_error_free(u->last);
    free(u);
}

static void report(cryo_ffi_callback *cb, cryo_vm *vm, cryo_error_kind kind, const char *msg) {
    atomic_fetch_add_explicit(&cb->nerrors, 1, memory_order_relaxed);
    /* the script's calls end where C called it: mark that frame with the callback's C type */
    if (vm && vm->err) cvm_trace_add_outer(vm->err, CRYO_FRAME_CALLBACK, cb->type);
    const cryo_error *e = vm ? cryo_vm_error(vm) : NULL;
    cryo_error tmp = {kind, 0, 0, (char *)msg, NULL, NULL, NULL};
    if (!e) e = &tmp;
    pthread_mutex_lock(flock_of(cb));
    keep(&cb->first, &cb->last, e);
    pthread_mutex_unlock(flock_of(cb));
    if (cb->on_error)
        cb->on_error(cb->on_error_ud, cb, e);
    else
        log_unhandled(cb, e);
}

uint64_t cryo_ffi_callback_failures(cryo_ffi_callback *cb, cryo_error **first, cryo_error **last) {
    if (first) *first = NULL;
    if (last) *last = NULL;
    if (!cb) return 0;
    pthread_mutex_lock(flock_of(cb));
    uint64_t n = atomic_load_explicit(&cb->nerrors, memory_order_relaxed);
    if (first && cb->first) *first = error_copy(cb->first);
    if (last && (cb->last || cb->first)) *last = error_copy(cb->last ? cb->last : cb->first);
    pthread_mutex_unlock(flock_of(cb));
    return n;
}

void cf_callback_noted(const cryo_ffi_callback *cb) {
    pthread_mutex_lock(&log_lock);
    for (unhandled **pu = &log_head; *pu; pu = &(*pu)->next) {
        if ((*pu)->id != cb->id) continue;
        unhandled *u = *pu;
        *pu = u->next;
        log_len--;
        unhandled_free(u);
        break;
    }
    pthread_mutex_unlock(&log_lock);
}

static cryo_error *chain_error(cryo_error ***tail, const cryo_error *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cryo_error *chain_error(cryo_error ***tail, const cryo_error *e, const char *fmt, ...) {
    cryo_error *c = e ? error_copy(e) : calloc(1, sizeof *c);
    if (!c) return NULL;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    const char *msg = e && e->message ? e->message : "";
    size_t n = strlen(head) + strlen(msg) + 1;
    char *m = malloc(n);
    if (m) snprintf(m, n, "%s%s", head, msg);
    free(c->message);
    c->message = m;
    if (!e) c->kind = CRYO_ERR_RUNTIME;
    **tail = c;
    *tail = &c->next;
    return c;
}

uint64_t cryo_ffi_take_unhandled(cryo_error **errors) {
    if (errors) *errors = NULL;
    pthread_mutex_lock(&log_lock);
    unhandled *list = log_head;
    uint64_t dropped = log_dropped;
    log_head = NULL;
    log_len = 0;
    log_dropped = 0;
    pthread_mutex_unlock(&log_lock);
    uint64_t total = dropped;
    cryo_error **tail = errors;
    /* oldest first (the list is newest first) */
    unhandled *rev = NULL;
    while (list) {
        unhandled *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    for (unhandled *u = rev, *n; u; u = n) {
        n = u->next;
        total += u->count;
        if (errors && u->first) {
            const char *tag = u->count == 1 ? "" : u->last ? "; the first" : "";
            chain_error(&tail, u->first,
                        "callback '%s' (%s): %llu failed call%s that nothing handled%s: ", u->type,
                        u->function, (unsigned long long)u->count, u->count == 1 ? "" : "s", tag);
            if (u->last)
                chain_error(&tail, u->last, "callback '%s' (%s): the last failure: ", u->type,
                            u->function);
        }
        unhandled_free(u);
    }
    if (errors && dropped)
        chain_error(&tail, NULL, "%llu more failed callback calls (more than %d callbacks failed)",
                    (unsigned long long)dropped, LOG_MAX);
    return total;
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

/* The calling thread's VM for callbacks: the thread's VM cache (src/vm/cache.c, through
 * ext/ext.h) keeps a VM per callback for its last few callbacks, so the next call of one costs
 * no reset and no pin. A nested call of a callback running on this thread takes a VM of its
 * own. The cache frees its VMs when the thread exits.
 *
 * Callbacks are named by their id (cb->key), never by address: another thread may keep a VM for
 * a callback freed since, and a new one may live at its address. Being *ready* is what makes a
 * call cheap: the cache's ready key equals cb->key while the kept VM is idle and clean for cb's
 * hot path (cb->hot, cb's function pinned last, no error since), so the next call tests that one
 * word instead of the VM's state. */
static atomic_uint_fast64_t next_id;

static cryo_vm *take_vm(const cryo_ffi_callback *cb, cx_kept **kept) {
    return cx_cache_take(cb->key, cb->f, kept);
}

static void give_vm(const cryo_ffi_callback *cb, cryo_vm *vm, cx_kept *kept) {
    if (!kept || cx_vm_npins(vm) > MAX_CACHED_PINS) {
        cx_cache_give(kept, vm, false);
        return;
    }
    /* the full check, once: the calls that follow test only the ready key */
    cx_cache_leave(kept, cb->key, cb->hot && cx_hot_regs(cb->f, vm, cb->nparams));
}

static cryo_error_kind call_general(cryo_ffi_callback *cb, cryo_vm *vm, void **args,
                                    cryo_value *res);
static cryo_error_kind store_result(cryo_ffi_callback *cb, cryo_vm *vm, cryo_value res, void *ret);

/* The result and the error policy: converts res into *ret, or writes the default result and
 * reports the error. Releases res. */
static void finish(cryo_ffi_callback *cb, cryo_vm *vm, cryo_error_kind k, cryo_value res,
                   void *ret) {
    if (k == CRYO_OK && cb->fn->ret->kind != CT_VOID) k = store_result(cb, vm, res, ret);
    if (res.flags & CRYO_VF_COUNTED) cv_ffi_release(vm, res);
    if (k != CRYO_OK) {
        write_default(cb, ret);
        report(cb, vm, k, "callback failed");
    }
}

/* Any call but the hot one: takes a VM, converts every argument (call_general), and makes the
 * thread's VM ready for the hot path when it can. */
static void cold_call(cryo_ffi_callback *cb, void *ret, void **args) {
    cx_kept *kept;
    cryo_vm *vm = take_vm(cb, &kept);
    if (!vm) {
        write_default(cb, ret);
        report(cb, NULL, CRYO_ERR_MEMORY, "callback: no VM (out of memory)");
        return;
    }
    cryo_value res;
    cx_vm_next_call_ctl(vm, &cb->ctl); /* the call notes the callback's bounds and epoch */
    cryo_error_kind k = call_general(cb, vm, args, &res);
    cx_vm_next_call_ctl(vm, NULL);
    finish(cb, vm, k, res, ret);
    give_vm(cb, vm, kept);
}

/* The libffi closure's handler. The hot path: the thread's VM is ready for cb, so the
 * arguments go straight into the first frame's registers (scalars and raw pointers: nothing to
 * count, nothing to release afterwards, and the registers hold () after every return) and an
 * i32 result goes straight back. */
void cf_trampoline(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    cryo_ffi_callback *cb = ud;
    cx_kept *kept = cx_cache_ready(cb->key);
    if (__builtin_expect(kept == NULL, 0)) {
        cold_call(cb, ret, args);
        return;
    }
    cryo_vm *vm = cx_cache_enter(kept); /* busy: a nested call of cb takes a VM of its own */
    cryo_value *regs = cx_hot_first_regs(vm);
    for (int n = 0; n < cb->nparams; n++) {
        cryo_value v = cb->argt[n];
        const void *a = args[n];
        int64_t w;
        if (cb->arg32[n])
            w = *(const int32_t *)a;
        else
            memcpy(&w, a, sizeof w);
        v.as.i = w;
        regs[n] = v;
    }
    cryo_value res;
    cryo_error_kind k = cx_run_hot_ctl(cb->f, vm, &cb->ctl, &res);
    if (__builtin_expect(k == CRYO_OK && res.type == CRYO_T_INT && cb->ret_i32 &&
                             res.as.i >= INT32_MIN && res.as.i <= INT32_MAX,
                         1))
        *(ffi_sarg *)ret = (int32_t)res.as.i; /* the comparator case */
    else
        finish(cb, vm, k, res, ret); /* still busy: the error handler may run other callbacks */
    /* still ready when nothing was raised and nothing new pinned */
    cx_cache_leave(kept, cb->key, k == CRYO_OK && cx_hot_still_ready(cb->f, vm));
}

const cf_hot *cf_callback_hot(const cryo_ffi_callback *cb) {
    return &cb->thunk_hot;
}

void cf_hot_finish(const cf_hot *h, cryo_vm *vm, cx_kept *kept, cryo_error_kind k, cryo_value res,
                   void *ret) {
    cryo_ffi_callback *cb = h->cb;
    finish(cb, vm, k, res, ret); /* still busy: the error handler may run other callbacks */
    cx_cache_leave(kept, cb->key, k == CRYO_OK && cx_hot_still_ready(cb->f, vm));
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
    if (rt->kind == CT_STRUCT || ct_is_wide_float(rt->kind)) { /* written in place */
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
    return cryo_ffi_callback_new_ex(f, scope, fnptr_type, 0, err);
}

cryo_ffi_callback *cryo_ffi_callback_new_ex(cryo_sync *f, cryo_ffi_scope *scope,
                                            const char *fnptr_type, unsigned flags,
                                            cryo_error **err) {
    cf_pointer_install(); /* its arguments may be pointer values */
    if (err) *err = NULL;
    if (!f || !fnptr_type) return NULL;
    if (flags & ~CRYO_FFI_CALLBACK_LIBFFI) {
        cryo_error tmp = {CRYO_ERR_API, 0, 0, "", NULL, NULL, NULL}, **tail = err;
        if (err) chain_error(&tail, &tmp, "cryo_ffi_callback_new_ex: unknown flags 0x%x", flags);
        return NULL;
    }
    cf_cbtype *shape = cf_cbtype_get(scope, fnptr_type, err);
    if (!shape) return NULL;
    const cfunc *fn = shape->fn;
    if (fn->variadic || fn->nparams > MAX_CB_ARGS) {
        const char *msg = fn->variadic ? "a callback type cannot be variadic"
                                       : "a callback type has too many parameters";
        cf_cbtype_put(shape);
        if (err) {
            *err = calloc(1, sizeof **err);
            if (*err) {
                (*err)->kind = CRYO_ERR_PARSE;
                (*err)->message = strdup(msg);
            }
        }
        return NULL;
    }
    int arity = cryo_sync_arity(f);
    if (arity >= 0 && arity != fn->nparams) {
        if (err) {
            char what[96];
            int line, np = fn->nparams;
            describe_function(f, what, sizeof what, &line);
            cryo_error tmp = {CRYO_ERR_ARGUMENT, line, 0, "", NULL, NULL, NULL};
            cryo_error **tail = err;
            chain_error(&tail, &tmp,
                        "callback type '%s' passes %d argument%s; the function (%s) takes %d",
                        fnptr_type, np, np == 1 ? "" : "s", what, arity);
        }
        cf_cbtype_put(shape);
        return NULL;
    }
    size_t rs = fn->ret->size;
    size_t defsize = rs < sizeof(ffi_arg) ? sizeof(ffi_arg) : rs;
    cryo_ffi_callback *cb = calloc(1, sizeof *cb + defsize);
    if (!cb) {
        cf_cbtype_put(shape);
        return NULL;
    }
    cb->shape = shape;
    cb->fn = shape->fn;
    cb->type = shape->decl;
    cb->defsize = defsize;
    cb->defval = (unsigned char *)cb->defbuf;
    if (!(flags & CRYO_FFI_CALLBACK_LIBFFI)) cb->thunk = cf_thunk_reserve(cb->fn, &cb->code);
    if (!cb->thunk) cb->closure = ffi_closure_alloc(sizeof(ffi_closure), &cb->code);
    if (!cb->thunk &&
        (!cb->closure ||
         ffi_prep_closure_loc(cb->closure, &cb->fn->cif, cf_trampoline, cb, cb->code) != FFI_OK)) {
        if (cb->closure) ffi_closure_free(cb->closure);
        cf_cbtype_put(shape);
        free(cb);
        return NULL;
    }
    cb->f = cryo_sync_retain(f);
    cb->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed) + 1;
    cb->key = (const void *)(uintptr_t)cb->id;
    cb->nparams = cb->fn->nparams;
    cb->ret_i32 = cb->fn->ret->kind == CT_I32;
    cb->hot = shape->hot && cx_sync_hot_argc(f) == cb->nparams;
    cb->argt = shape->argt;
    cb->arg32 = shape->arg32;
    static const char never_ready; /* a key no VM cache is ever ready for */
    cb->thunk_hot.cb = cb;
    cb->thunk_hot.key = cb->hot && cb->nparams <= CF_HOT_MAX_ARGS ? cb->key : &never_ready;
    cb->thunk_hot.f = cb->f;
    cb->thunk_hot.ctl = &cb->ctl;
    cb->thunk_hot.argt = cb->argt;
    cf_thunk_publish(cb->thunk, cb); /* complete: its thunk may call it */
    return cb;
}

const cf_cbtype *cf_callback_shape(const cryo_ffi_callback *cb) {
    return cb ? cb->shape : NULL;
}

cryo_ffi_path cryo_ffi_callback_path(const cryo_ffi_callback *cb) {
    return !cb ? CRYO_FFI_PATH_NONE : cb->thunk ? CRYO_FFI_PATH_THUNK : CRYO_FFI_PATH_LIBFFI;
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

void cryo_ffi_callback_set_bounds(cryo_ffi_callback *cb, const cryo_call_bounds *bounds) {
    if (cb) cvm_call_ctl_set(&cb->ctl, bounds);
}

void cryo_ffi_callback_interrupt(cryo_ffi_callback *cb) {
    if (cb) cvm_call_ctl_interrupt(&cb->ctl);
}

uint64_t cryo_ffi_callback_errors(const cryo_ffi_callback *cb) {
    return cb ? atomic_load_explicit(&cb->nerrors, memory_order_relaxed) : 0;
}

void cryo_ffi_callback_free(cryo_ffi_callback *cb) {
    if (!cb) return;
    cx_cache_forget(cb->key); /* this thread's kept VM pins cb's function */
    cf_thunk_release(cb->thunk);
    if (cb->closure) ffi_closure_free(cb->closure);
    cryo_sync_release(cb->f);
    cryo_error_free(cb->first);
    cryo_error_free(cb->last);
    cf_cbtype_put(cb->shape);
    free(cb);
}
