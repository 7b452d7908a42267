/*
 * lib_ffi.c — the `ffi::` script module (package "ffi"), for contexts with CRYO_CAP_FFI.
 *
 * Libraries, functions and callbacks are pointer values (CRYO_T_POINTER) whose owned object
 * carries a destructor; the destructor also tells what kind of FFI object it is. ffi::func
 * returns Fn("ffi::call") curried with the function's pointer value, so `f(x)` and `f.call(x)`
 * call the C function.
 */
#include "ffi_internal.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* --- the kinds of owned pointers -------------------------------------------------------------- */

static void lib_keep(void *handle) {
    (void)handle; /* libraries stay loaded: functions taken from them may still be in use */
}
/* A C function of ffi::func: its address and signature, immutable, shared by reference count.
 * It is a sendable host handle, so a closure that captures an ffi::func value can be frozen
 * (into_sync, spawn, ffi::callback) and called from any thread: calls only read it. */
typedef struct lf_cfunc {
    atomic_int refs;
    cryo_ffi_sig *sig; /* unlinked: owned here; sig->fnptr is the C address */
} lf_cfunc;

static void cfunc_retain(void *p) {
    atomic_fetch_add_explicit(&((lf_cfunc *)p)->refs, 1, memory_order_relaxed);
}
static void cfunc_release(void *p) {
    lf_cfunc *f = p;
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
    cf_sig_free(f->sig);
    free(f);
}
static const cryo_handle_type cfunc_type = {"ffi_function", NULL, cfunc_retain, cfunc_release,
                                            NULL};
static void callback_free(void *cb) {
    cryo_ffi_callback_free(cb);
}

static cryo_pointer *owned(cryo_value v, void (*dtor)(void *)) {
    if (v.type == CRYO_T_CELL) v = ((cryo_cell *)v.as.obj)->v;
    if (v.type != CRYO_T_POINTER || !(v.flags & CRYO_VF_COUNTED)) return NULL;
    cryo_pointer *p = (cryo_pointer *)v.as.obj;
    return p->dtor == dtor ? p : NULL;
}

static cryo_value deref(cryo_value v) {
    return v.type == CRYO_T_CELL ? ((cryo_cell *)v.as.obj)->v : v;
}

static cryo_error_kind raise_cerr(cryo_vm *vm, const char *fname, cryo_error *e) {
    cryo_error_kind k = e ? e->kind : CRYO_ERR_MEMORY;
    k = cryo_vm_raise(vm, k, "%s: %s", fname, e && e->message ? e->message : "out of memory");
    cryo_error_free(e);
    return k;
}

static cryo_error_kind str_arg(cryo_vm *vm, const char *fname, const char *what, cryo_value v,
                               const char **out) {
    v = deref(v);
    if (v.type != CRYO_T_STRING)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "%s: %s must be a string, not %s", fname, what,
                             cryo_type_name((cryo_type)v.type));
    *out = cryo_value_str(v, NULL);
    return CRYO_OK;
}

/* --- functions ----------------------------------------------------------------------------- */

/* Every ffi:: function checks the capability first: a host that puts this package in a context
 * without CRYO_CAP_FFI (by mistake, or through cryo_package_include) still gives its scripts no
 * access (CRYO_ERR_NOT_FOUND, as if the name did not exist). One flag test per call. */
#define FN(name)                                                                                   \
    static cryo_error_kind name##_body(cryo_vm *vm, void *ud, int argc, cryo_value **argv,         \
                                       cryo_value *ret);                                           \
    static cryo_error_kind name(cryo_vm *vm, void *ud, int argc, cryo_value **argv,                \
                                cryo_value *ret) {                                                 \
        if (!(cryo_vm_capabilities(vm) & CRYO_CAP_FFI))                                            \
            return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,                                           \
                                 "function not found: ffi::%s (the context lacks CRYO_CAP_FFI)",   \
                                 &(#name)[3]);                                                     \
        return name##_body(vm, ud, argc, argv, ret);                                               \
    }                                                                                              \
    static cryo_error_kind name##_body(cryo_vm *vm, void *ud, int argc, cryo_value **argv,         \
                                       cryo_value *ret)

FN(lf_open) {
    (void)ud;
    const char *path = NULL;
    if (argc == 1 && deref(*argv[0]).type != CRYO_T_UNIT) {
        cryo_error_kind k = str_arg(vm, "ffi::open", "the library path", *argv[0], &path);
        if (k != CRYO_OK) return k;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "ffi::open: %s", e ? e : "cannot open");
    }
    cryo_pointer *p = cv_pointer_wrap(cv_ffi_heap(vm), h, 0, lib_keep, h);
    if (!p) return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
    *ret = cv_pointer_value(p, CRYO_PE_VOID);
    return CRYO_OK;
}

FN(lf_func) {
    (void)ud;
    (void)argc;
    const char *decl = NULL;
    cryo_error_kind k = str_arg(vm, "ffi::func", "the declaration", *argv[1], &decl);
    if (k != CRYO_OK) return k;
    cryo_value target = deref(*argv[0]);
    if (target.type != CRYO_T_POINTER)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE,
                             "ffi::func: the first argument must be a library (ffi::open) or a "
                             "function pointer, not %s",
                             cryo_type_name((cryo_type)target.type));
    cryo_error *e = NULL;
    cryo_ffi_sig *sig = cf_sig_parse(NULL, decl, &e, false);
    if (!sig) return raise_cerr(vm, "ffi::func", e);
    void *fp;
    cryo_pointer *lib = owned(target, lib_keep);
    if (lib) {
        if (!sig->name[0]) {
            cf_sig_free(sig);
            return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT,
                                 "ffi::func: the declaration must name the function");
        }
        dlerror();
        fp = dlsym(lib->addr, sig->name);
        if (!fp) {
            cf_sig_free(sig);
            const char *de = dlerror();
            return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "ffi::func: %s",
                                 de ? de : "symbol not found");
        }
    } else {
        fp = cv_pointer_addr(target);
        if (!fp) {
            cf_sig_free(sig);
            return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "ffi::func: null function pointer");
        }
    }
    sig->fnptr = fp;
    lf_cfunc *cf = malloc(sizeof *cf);
    if (!cf) {
        cf_sig_free(sig);
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
    }
    atomic_init(&cf->refs, 1);
    cf->sig = sig;
    cryo_value hv = cryo_value_handle(&cfunc_type, cf); /* owns the reference */
    if (hv.type != CRYO_T_HANDLE) {
        cfunc_release(cf);
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
    }
    k = cv_ffi_bound_fn(vm, "ffi::call", hv, ret);
    cryo_value_release(hv);
    return k;
}

FN(lf_call) {
    (void)ud;
    if (argc < 1) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "ffi::call: missing function");
    const lf_cfunc *cf = cryo_value_as_handle(deref(*argv[0]), &cfunc_type);
    if (!cf)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE,
                             "ffi::call: the first argument must be a "
                             "function made by ffi::func");
    cryo_value args[32];
    if (argc - 1 > 32) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "ffi::call: too many arguments");
    for (int i = 1; i < argc; i++)
        args[i - 1] = deref(*argv[i]);
    const cryo_ffi_sig *sig = cf->sig;
    return cryo_ffi_call(vm, sig, sig->fnptr, argc - 1, args, ret);
}

FN(lf_callback) {
    (void)ud;
    (void)argc;
    const char *type = NULL;
    cryo_error_kind k = str_arg(vm, "ffi::callback", "the function pointer type", *argv[1], &type);
    if (k != CRYO_OK) return k;
    cryo_sync *f = NULL;
    cryo_value fv = deref(*argv[0]);
    if (fv.type == CRYO_T_SYNCFN) {
        f = cryo_sync_retain(cryo_value_as_sync(fv));
    } else {
        k = cryo_vm_into_sync(vm, fv, &f);
        if (k != CRYO_OK) return k;
    }
    cryo_error *e = NULL;
    cryo_ffi_callback *cb = cryo_ffi_callback_new(f, NULL, type, &e);
    cryo_sync_release(f);
    if (!cb) return raise_cerr(vm, "ffi::callback", e);
    cryo_pointer *p =
        cv_pointer_wrap(cv_ffi_heap(vm), cryo_ffi_callback_ptr(cb), 0, callback_free, cb);
    if (!p) {
        cryo_ffi_callback_free(cb);
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
    }
    *ret = cv_pointer_value(p, CRYO_PE_VOID);
    return CRYO_OK;
}

FN(lf_new) {
    (void)ud;
    const char *tname = NULL;
    cryo_error_kind k = str_arg(vm, "ffi::new", "the element type", *argv[0], &tname);
    if (k != CRYO_OK) return k;
    int64_t n = 1;
    if (argc == 2) {
        cryo_value nv = deref(*argv[1]);
        if (nv.type != CRYO_T_INT)
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "ffi::new: the count must be an i64, not %s",
                                 cryo_type_name((cryo_type)nv.type));
        n = nv.as.i;
        if (n < 0 || n > (1LL << 32))
            return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "ffi::new: bad element count %lld",
                                 (long long)n);
    }
    ffi_arena a = {0};
    ctype *t;
    cryo_error *e = cf_parse_type(cf_scope(NULL), &a, tname, &t);
    if (e) {
        fa_free(&a);
        return raise_cerr(vm, "ffi::new", e);
    }
    size_t size = t->size;
    cryo_ptr_elem elem = ct_elem_kind(t);
    uint32_t chain = ct_elem_chain(t);
    fa_free(&a);
    if (!size) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "ffi::new: '%s' has no size", tname);
    cryo_pointer *p = cv_pointer_new(cv_ffi_heap(vm), size, n);
    if (!p) return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "ffi::new: out of memory");
    *ret = cv_pointer_value(p, elem);
    ret->aux2 = chain;
    return CRYO_OK;
}

FN(lf_cdef) {
    (void)ud;
    (void)argc;
    (void)ret;
    const char *decls = NULL;
    cryo_error_kind k = str_arg(vm, "ffi::cdef", "the declarations", *argv[0], &decls);
    if (k != CRYO_OK) return k;
    cryo_error *e = cf_parse_cdef(cf_scope(NULL), decls);
    return e ? raise_cerr(vm, "ffi::cdef", e) : CRYO_OK;
}

static cryo_value error_map(cryo_vm *vm, const cryo_error *e) {
    if (!e) return cryo_unit_value();
    cryo_value m = cv_ffi_map_new(vm);
    if (m.type != CRYO_T_MAP) return m;
    const char *kind = cryo_error_kind_name(e->kind);
    const char *msg = e->message ? e->message : "";
    if (!cv_ffi_map_set(vm, m, "kind", cryo_value_string(kind, strlen(kind))) ||
        !cv_ffi_map_set(vm, m, "message", cryo_value_string(msg, strlen(msg))) ||
        !cv_ffi_map_set(vm, m, "line", cryo_int(e->line)) ||
        !cv_ffi_map_set(vm, m, "column", cryo_int(e->column))) {
        cv_ffi_release(vm, m);
        return cryo_unit_value();
    }
    return m;
}

/* ffi::failures(cb): #{count, first, last} of a callback made by ffi::callback; the script
 * takes note of them (they leave the log of unhandled failures that the CLI reports). */
FN(lf_failures) {
    (void)ud;
    (void)argc;
    cryo_pointer *p = owned(*argv[0], callback_free);
    if (!p)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE,
                             "ffi::failures: expected a callback made by ffi::callback");
    cryo_ffi_callback *cb = p->ud;
    cryo_error *first, *last;
    uint64_t n = cryo_ffi_callback_failures(cb, &first, &last);
    cf_callback_noted(cb);
    cryo_value m = cv_ffi_map_new(vm);
    cryo_value f = error_map(vm, first), l = error_map(vm, last);
    cryo_error_free(first);
    cryo_error_free(last);
    bool ok = m.type == CRYO_T_MAP && cv_ffi_map_set(vm, m, "count", cryo_int((int64_t)n));
    if (ok)
        ok = cv_ffi_map_set(vm, m, "first", f); /* takes f, also on failure */
    else
        cv_ffi_release(vm, f);
    if (ok)
        ok = cv_ffi_map_set(vm, m, "last", l);
    else
        cv_ffi_release(vm, l);
    if (!ok) {
        cv_ffi_release(vm, m);
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
    }
    *ret = m;
    return CRYO_OK;
}

FN(lf_const) {
    (void)ud;
    (void)argc;
    const char *name = NULL;
    cryo_error_kind k = str_arg(vm, "ffi::const", "the constant's name", *argv[0], &name);
    if (k != CRYO_OK) return k;
    int64_t v;
    if (cryo_ffi_const(NULL, name, &v) != CRYO_OK)
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                             "ffi::const: no constant '%s' (define it with ffi::cdef, as an "
                             "enumerator or a #define)",
                             name);
    *ret = cryo_int(v);
    return CRYO_OK;
}

FN(lf_cast) {
    (void)ud;
    (void)argc;
    cryo_value p = deref(*argv[0]);
    if (p.type != CRYO_T_POINTER && p.type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "ffi::cast: expected a pointer or an address");
    const char *tname = NULL;
    cryo_error_kind k = str_arg(vm, "ffi::cast", "the pointer type", *argv[1], &tname);
    if (k != CRYO_OK) return k;
    ffi_arena a = {0};
    ctype *t;
    cryo_error *e = cf_parse_type(cf_scope(NULL), &a, tname, &t);
    if (e) {
        fa_free(&a);
        return raise_cerr(vm, "ffi::cast", e);
    }
    bool is_ptr = t->kind == CT_PTR;
    cryo_ptr_elem elem = is_ptr ? ct_elem_kind(t->pointee) : CRYO_PE_VOID;
    uint32_t chain = is_ptr ? ct_elem_chain(t->pointee) : 0;
    fa_free(&a);
    if (!is_ptr)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "ffi::cast: '%s' is not a pointer type", tname);
    void *addr = p.type == CRYO_T_INT ? (void *)(intptr_t)p.as.i : cv_pointer_addr(p);
    *ret = cv_pointer_raw(addr, elem);
    ret->aux2 = chain;
    return CRYO_OK;
}

FN(lf_addr) {
    (void)ud;
    (void)argc;
    cryo_value p = deref(*argv[0]);
    if (p.type != CRYO_T_POINTER)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "ffi::addr: expected a pointer");
    *ret = cryo_int((int64_t)(intptr_t)cv_pointer_addr(p));
    return CRYO_OK;
}

FN(lf_null) {
    (void)ud;
    (void)argc;
    (void)argv;
    (void)vm;
    *ret = cv_pointer_raw(NULL, CRYO_PE_VOID);
    return CRYO_OK;
}

FN(lf_string) {
    (void)ud;
    cryo_value p = deref(*argv[0]);
    if (p.type != CRYO_T_POINTER)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "ffi::string: expected a pointer");
    const char *s = cv_pointer_addr(p);
    if (!s) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "ffi::string: null pointer");
    size_t len;
    if (argc == 2) {
        cryo_value n = deref(*argv[1]);
        if (n.type != CRYO_T_INT || n.as.i < 0)
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "ffi::string: the length must be an i64 >= 0");
        len = (size_t)n.as.i;
    } else {
        len = strlen(s);
    }
    *ret = cryo_value_string(s, len);
    return ret->type == CRYO_T_STRING ? CRYO_OK
                                      : cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
}

/* --- the package ------------------------------------------------------------------------------ */

static cryo_package *ffi_pkg;
static pthread_once_t ffi_once = PTHREAD_ONCE_INIT;

static void build(void) {
    static const struct {
        const char *name;
        int arity;
        cryo_host_fn fn;
    } fns[] = {
        {"ffi::open", 0, lf_open},         {"ffi::open", 1, lf_open},
        {"ffi::func", 2, lf_func},         {"ffi::call", -1, lf_call},
        {"ffi::callback", 2, lf_callback}, {"ffi::new", 1, lf_new},
        {"ffi::new", 2, lf_new},           {"ffi::cdef", 1, lf_cdef},
        {"ffi::cast", 2, lf_cast},         {"ffi::addr", 1, lf_addr},
        {"ffi::null", 0, lf_null},         {"ffi::string", 1, lf_string},
        {"ffi::string", 2, lf_string},     {"ffi::const", 1, lf_const},
        {"ffi::failures", 1, lf_failures},
    };
    cryo_package *p = cryo_package_new("ffi");
    if (!p) return;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        cryo_package_add(p, fns[i].name, fns[i].arity, fns[i].fn, NULL);
    cryo_package_seal(p);
    ffi_pkg = p;
}

cryo_package *cryo_ffi_package(void) {
    cf_pointer_install(); /* ffi::new and every ffi function may make pointer values */
    pthread_once(&ffi_once, build);
    return ffi_pkg;
}

cryo_context *cryo_ffi_context_new(void) {
    cryo_package *pk = cryo_ffi_package();
    if (!pk) return NULL;
    cryo_package *pkgs[2] = {cryo_package_std(), pk};
    cryo_context_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.packages = pkgs;
    cfg.npackages = 2;
    cfg.capabilities = CRYO_CAP_FFI | CRYO_CAP_THREADS; /* the CLI's --ffi: std plus ffi */
    return cryo_context_new(&cfg);
}
