/*
 * lib_core.c — the core of the standard library: print/debug, type_of, conversions to text,
 * function values (Fn, call, curry), ranges; the helpers the other lib_*.c files share; and
 * the dispatchers for names that several types answer (len, contains, index_of, ...).
 */
#include "lib.h"
#include "frozen/frozen.h" /* cryo_sync: a SyncFn's name */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* --- errors and argument checks --------------------------------------------------------------- */

cryo_error_kind clib_nofn(cryo_vm *vm, const char *name, int argc, cryo_value **argv) {
    char buf[256];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && n < sizeof buf - 1; i++) {
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", cv_type_name(*argv[i]));
        if (w < 0) break;
        n += (size_t)w;
    }
    return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "function not found: %s(%s)", name, buf);
}

cryo_error_kind clib_int_arg(cryo_vm *vm, const char *fname, const char *what, cryo_value v,
                             int64_t *out) {
    if (v.type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "%s: %s must be an i64, got %s", fname, what,
                             cv_type_name(v));
    *out = v.as.i;
    return CRYO_OK;
}

static bool valid_fn_name(const char *s, size_t len) {
    if (len == 0 || !(s[0] == '_' || ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))) return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return false;
    }
    return true;
}

static cryo_error_kind make_named_fn(cryo_vm *vm, const cryo_string *name, cryo_value *out) {
    if (!valid_fn_name(name->data, name->len))
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "invalid function name: '%s'", name->data);
    cryo_fn *f = cv_fn_new(&vm->heap, CRYO_FN_NAMED, 0);
    if (!f) return cvm_raise_oom(vm);
    f->name = cv_string_new(&vm->heap, name->data, name->len);
    if (!f->name) {
        cv_free_obj(&vm->heap, &f->h);
        return cvm_raise_oom(vm);
    }
    *out = cv_from_obj(&f->h);
    return CRYO_OK;
}

cryo_error_kind clib_fn_arg(cryo_vm *vm, const char *fname, cryo_value v, cryo_value *out) {
    if (v.type == CRYO_T_FN || v.type == CRYO_T_SYNCFN) {
        cv_retain(v);
        *out = v;
        return CRYO_OK;
    }
    if (v.type == CRYO_T_STRING) return make_named_fn(vm, cv_str(v), out);
    return cryo_vm_raise(vm, CRYO_ERR_TYPE, "%s: expected a function, got %s", fname,
                         cv_type_name(v));
}

cryo_error_kind clib_ret_string(cryo_vm *vm, cryo_value *ret, const char *p, size_t len) {
    cryo_error_kind k = cvm_check_string(vm, len);
    if (k) return k;
    cryo_string *s = cv_string_new(&vm->heap, p, len);
    if (!s) return cvm_raise_oom(vm);
    cv_set(&vm->heap, ret, cv_from_obj(&s->h));
    return CRYO_OK;
}

cryo_error_kind clib_set_string(cryo_vm *vm, cryo_value *slot, const char *p, size_t len) {
    return clib_ret_string(vm, slot, p, len);
}

cryo_error_kind clib_unique(cryo_vm *vm, cryo_value *slot) {
    return cv_make_unique(&vm->heap, slot) ? CRYO_OK : cvm_raise_oom(vm);
}

cryo_error_kind clib_truthy(cryo_vm *vm, const char *fname, cryo_value v, bool *out) {
    if (v.type != CRYO_T_BOOL)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "%s: the function must return a bool, got %s",
                             fname, cv_type_name(v));
    *out = v.as.b;
    return CRYO_OK;
}

void clib_offset_len(size_t length, int64_t start, int64_t len, size_t *ostart, size_t *olen) {
    size_t s;
    if (start < 0) {
        uint64_t abs = (uint64_t)0 - (uint64_t)start;
        s = abs > length ? 0 : length - (size_t)abs;
    } else if ((uint64_t)start >= length) {
        *ostart = length;
        *olen = 0;
        return;
    } else {
        s = (size_t)start;
    }
    *ostart = s;
    if (len <= 0)
        *olen = 0;
    else
        *olen = (uint64_t)len > length - s ? length - s : (size_t)len;
}

void clib_range_span(size_t length, const cryo_range *r, size_t *ostart, size_t *olen) {
    int64_t a = r->start < 0 ? 0 : r->start, b = r->end;
    if (r->h.extra && b < INT64_MAX) b++;
    if ((uint64_t)a >= length || b <= a) {
        *ostart = a < 0 || (uint64_t)a >= length ? length : (size_t)a;
        *olen = 0;
        return;
    }
    *ostart = (size_t)a;
    *olen = (uint64_t)b > length ? length - (size_t)a : (size_t)(b - a);
}

/* --- calling script functions ----------------------------------------------------------------- */

int clib_fn_arity(cryo_vm *vm, cryo_value fn, const int *prefer, int nprefer) {
    if (fn.type == CRYO_T_SYNCFN) return cryo_sync_arity(cryo_value_as_sync(fn));
    if (fn.type != CRYO_T_FN) return -1;
    cryo_fn *f = cv_fn(fn);
    if (f->h.extra == CRYO_FN_SCRIPT) {
        if (!f->unit || f->proto >= f->unit->nprotos) return -1;
        return (int)f->unit->protos[f->proto]->nparams - (int)f->ncurry;
    }
    if (!vm->unit || !f->name) return -1;
    for (int i = 0; i < nprefer; i++) {
        uint32_t arity = (uint32_t)(prefer[i] + f->ncurry);
        if (cl_unit_find_fn(vm->unit, f->name->data, f->name->len, arity) >= 0) return prefer[i];
    }
    return -1;
}

static cryo_error_kind call_this(cryo_vm *vm, cryo_value fn, cryo_value *this_ref, int argc,
                                 const cryo_value *argv, cryo_value *ret) {
    return cvm_call_method(vm, fn, this_ref, argc, argv, ret);
}

cryo_error_kind clib_call_item(cryo_vm *vm, cryo_value fn, cryo_value *item, int64_t index,
                               cryo_value *ret) {
    static const int prefer[] = {1, 2, 0};
    int arity = clib_fn_arity(vm, fn, prefer, 3);
    cryo_value args[2] = {*item, cryo_int(index)};
    if (arity == 0) return call_this(vm, fn, item, 0, NULL, ret);
    return cryo_vm_call_value(vm, fn, arity == 2 ? 2 : 1, args, ret);
}

cryo_error_kind clib_call_extra(cryo_vm *vm, cryo_value fn, int argc, const cryo_value *args,
                                cryo_value extra, cryo_value *ret) {
    int prefer[2] = {argc, argc + 1};
    int arity = clib_fn_arity(vm, fn, prefer, 2);
    if (arity != argc + 1) return cryo_vm_call_value(vm, fn, argc, args, ret);
    cryo_value buf[8];
    if (argc > 7) return cryo_vm_call_value(vm, fn, argc, args, ret);
    memcpy(buf, args, (size_t)argc * sizeof *buf);
    buf[argc] = extra;
    return cryo_vm_call_value(vm, fn, argc + 1, buf, ret);
}

/* --- print, debug, text forms ----------------------------------------------------------------- */

static cryo_error_kind repr(cryo_vm *vm, cryo_value v, bool debug, cryo_string **out) {
    cryo_string *s = cv_string_new_cap(&vm->heap, 16);
    if (!s) return cvm_raise_oom(vm);
    cryo_error_kind k = cvm_append_repr(vm, &s, v, debug); /* bounded by the limits */
    if (k) {
        cv_release(&vm->heap, cv_from_obj(&s->h));
        return k;
    }
    *out = s;
    return CRYO_OK;
}

static cryo_error_kind out_text(cryo_vm *vm, cryo_value v, bool debug) {
    cryo_string *s = NULL;
    cryo_error_kind k = repr(vm, v, debug, &s);
    if (k) return k;
    if (debug)
        cvm_debug(vm, s->data, s->len);
    else
        cvm_print(vm, s->data, s->len);
    cv_release(&vm->heap, cv_from_obj(&s->h));
    return CRYO_OK;
}

static CRYO_LIB_FN(core_print) {
    (void)ud, (void)ret;
    if (argc == 0) {
        cvm_print(vm, "", 0);
        return CRYO_OK;
    }
    return out_text(vm, *argv[0], false);
}

static CRYO_LIB_FN(core_debug) {
    (void)ud, (void)ret;
    if (argc == 0) {
        cvm_debug(vm, "", 0);
        return CRYO_OK;
    }
    return out_text(vm, *argv[0], true);
}

static cryo_error_kind text_of(cryo_vm *vm, cryo_value v, bool debug, cryo_value *ret) {
    if (!debug && v.type == CRYO_T_STRING) {
        cv_retain(v);
        cv_set(&vm->heap, ret, v);
        return CRYO_OK;
    }
    cryo_string *s = NULL;
    cryo_error_kind k = repr(vm, v, debug, &s);
    if (k) return k;
    cv_set(&vm->heap, ret, cv_from_obj(&s->h));
    return CRYO_OK;
}

static CRYO_LIB_FN(core_to_string) {
    (void)ud, (void)argc;
    return text_of(vm, *argv[0], false, ret);
}

static CRYO_LIB_FN(core_to_debug) {
    (void)ud, (void)argc;
    return text_of(vm, *argv[0], true, ret);
}

static CRYO_LIB_FN(core_type_of) {
    (void)ud, (void)argc;
    const char *t = cv_type_name(*argv[0]);
    return clib_ret_string(vm, ret, t, strlen(t));
}

static CRYO_LIB_FN(core_is_shared) {
    (void)vm, (void)ud, (void)argc, (void)argv;
    /* A captured variable's cell never reaches a host function, so nothing looks shared. */
    *ret = cryo_bool(false);
    return CRYO_OK;
}

/* --- function values -------------------------------------------------------------------------- */

static CRYO_LIB_FN(core_fn) {
    (void)ud;
    if (argv[0]->type != CRYO_T_STRING) return clib_nofn(vm, "Fn", argc, argv);
    return make_named_fn(vm, cv_str(*argv[0]), ret);
}

/* call(f, args..) calls f; x.call(f, args..) calls f with this = x. */
static CRYO_LIB_FN(core_call) {
    (void)ud;
    if (argc < 1) return clib_nofn(vm, "call", argc, argv);
    cryo_value args[64];
    int first = argv[0]->type == CRYO_T_FN || argv[0]->type == CRYO_T_SYNCFN ? 1 : 2;
    if (first == 2 && (argc < 2 || (argv[1]->type != CRYO_T_FN && argv[1]->type != CRYO_T_SYNCFN)))
        return clib_nofn(vm, "call", argc, argv);
    int n = argc - first;
    if (n > 64) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "call: too many arguments");
    for (int i = 0; i < n; i++)
        args[i] = *argv[first + i];
    if (first == 1) return cryo_vm_call_value(vm, *argv[0], n, args, ret);
    return call_this(vm, *argv[1], argv[0], n, args, ret);
}

static CRYO_LIB_FN(core_curry) {
    (void)ud;
    if (argc < 1 || argv[0]->type != CRYO_T_FN) return clib_nofn(vm, "curry", argc, argv);
    cryo_fn *f = cv_fn(*argv[0]);
    int add = argc - 1;
    if ((int)f->ncurry + add > 255)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "curry: too many curried arguments");
    size_t nc = (size_t)f->ncurry + (size_t)add;
    cryo_value *curry = nc ? cv_alloc(&vm->heap, nc * sizeof(cryo_value)) : NULL;
    if (nc && !curry) return cvm_raise_oom(vm);
    cryo_fn *g = cv_fn_new(&vm->heap, (cryo_fn_kind)f->h.extra, f->ncaps);
    if (!g) {
        if (curry) cv_free(&vm->heap, curry, nc * sizeof(cryo_value));
        return cvm_raise_oom(vm);
    }
    g->curry = curry;
    g->unit = f->unit ? cryo_unit_retain(f->unit) : NULL;
    g->proto = f->proto;
    g->name = f->name;
    if (g->name && !(g->name->h.flags & CRYO_OBJ_SHARED)) g->name->h.rc++;
    for (uint16_t i = 0; i < f->ncaps; i++) {
        g->caps[i] = f->caps[i];
        g->caps[i]->h.rc++;
    }
    for (uint16_t i = 0; i < f->ncurry; i++) {
        g->curry[i] = f->curry[i];
        cv_retain(g->curry[i]);
    }
    for (int i = 0; i < add; i++) {
        g->curry[f->ncurry + i] = *argv[1 + i];
        cv_retain(g->curry[f->ncurry + i]);
    }
    g->ncurry = (uint16_t)nc;
    cv_set(&vm->heap, ret, cv_from_obj(&g->h));
    return CRYO_OK;
}

/* --- ranges ----------------------------------------------------------------------------------- */

static uint64_t range_count(const cryo_range *r) {
    if (r->end < r->start || (r->end == r->start && !r->h.extra)) return 0;
    return (uint64_t)r->end - (uint64_t)r->start + (r->h.extra ? 1 : 0);
}

CRYO_LIB_FN(clib_range_len) {
    (void)vm, (void)ud, (void)argc;
    uint64_t n = range_count(cv_range(*argv[0]));
    *ret = cryo_int(n > INT64_MAX ? INT64_MAX : (int64_t)n);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_range_is_empty) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_bool(range_count(cv_range(*argv[0])) == 0);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_range_contains) {
    (void)ud;
    const cryo_range *r = cv_range(*argv[0]);
    if (argv[1]->type != CRYO_T_INT) return clib_nofn(vm, "contains", argc, argv);
    int64_t x = argv[1]->as.i;
    *ret = cryo_bool(x >= r->start && (r->h.extra ? x <= r->end : x < r->end));
    return CRYO_OK;
}

static CRYO_LIB_FN(core_range_start) {
    (void)ud;
    if (argv[0]->type != CRYO_T_RANGE) return clib_nofn(vm, "start", argc, argv);
    *ret = cryo_int(cv_range(*argv[0])->start);
    return CRYO_OK;
}

static CRYO_LIB_FN(core_range_end) {
    (void)ud;
    if (argv[0]->type != CRYO_T_RANGE) return clib_nofn(vm, "end", argc, argv);
    *ret = cryo_int(cv_range(*argv[0])->end);
    return CRYO_OK;
}

static CRYO_LIB_FN(core_is_inclusive) {
    (void)ud;
    if (argv[0]->type != CRYO_T_RANGE) return clib_nofn(vm, "is_inclusive", argc, argv);
    *ret = cryo_bool(cv_range(*argv[0])->h.extra != 0);
    return CRYO_OK;
}

static CRYO_LIB_FN(core_is_exclusive) {
    (void)ud;
    if (argv[0]->type != CRYO_T_RANGE) return clib_nofn(vm, "is_exclusive", argc, argv);
    *ret = cryo_bool(cv_range(*argv[0])->h.extra == 0);
    return CRYO_OK;
}

/* range(a, b, step) for ints: the values as an array (a range value only steps by 1). */
static cryo_error_kind int_steps(cryo_vm *vm, int64_t a, int64_t b, int64_t step, cryo_value *ret) {
    uint64_t n = 0;
    if (step > 0 && a < b)
        n = ((uint64_t)b - (uint64_t)a - 1) / (uint64_t)step + 1;
    else if (step < 0 && a > b)
        n = ((uint64_t)a - (uint64_t)b - 1) / ((uint64_t)0 - (uint64_t)step) + 1;
    cryo_error_kind k = cvm_check_array(vm, n);
    if (k) return k;
    if (n > UINT32_MAX) return cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "range: too many steps");
    cryo_array *arr = cv_array_new(&vm->heap, (size_t)n);
    if (!arr) return cvm_raise_oom(vm);
    for (uint64_t i = 0; i < n; i++) {
        int64_t x = (int64_t)((uint64_t)a + i * (uint64_t)step);
        if (!cv_array_push(&vm->heap, arr, cryo_int(x))) {
            cv_release(&vm->heap, cv_from_obj(&arr->h));
            return cvm_raise_oom(vm);
        }
    }
    cv_set(&vm->heap, ret, cv_from_obj(&arr->h));
    return CRYO_OK;
}

static cryo_error_kind float_steps(cryo_vm *vm, double a, double b, double step, cryo_value *ret) {
    if (step == 0 || step != step)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "range: step cannot be zero");
    /* Bound the steps up front: a tiny step would otherwise loop (almost) forever. */
    double steps = (b - a) / step;
    if (steps > 4294967295.0)
        return cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "range: too many steps");
    uint64_t max = steps > 0 ? (uint64_t)steps + 1 : 0;
    cryo_array *arr = cv_array_new(&vm->heap, 0);
    if (!arr) return cvm_raise_oom(vm);
    double x = a;
    for (uint64_t i = 0; i < max && (step > 0 ? x < b : x > b); i++, x += step) {
        cryo_error_kind k = cvm_check_array(vm, (size_t)arr->len + 1);
        if (!k && arr->len >= UINT32_MAX - 1)
            k = cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "range: too many steps");
        if (!k && !cv_array_push(&vm->heap, arr, cryo_float(x))) k = cvm_raise_oom(vm);
        if (k) {
            cv_release(&vm->heap, cv_from_obj(&arr->h));
            return k;
        }
    }
    cv_set(&vm->heap, ret, cv_from_obj(&arr->h));
    return CRYO_OK;
}

static bool is_num(cryo_value v) {
    return v.type == CRYO_T_INT || v.type == CRYO_T_FLOAT;
}
static double num(cryo_value v) {
    return v.type == CRYO_T_INT ? (double)v.as.i : v.as.f;
}

static CRYO_LIB_FN(core_range) {
    (void)ud;
    cryo_value a = *argv[0], b = *argv[1];
    if (a.type == CRYO_T_INT && b.type == CRYO_T_INT) {
        if (argc == 3 && argv[2]->type == CRYO_T_INT) {
            if (argv[2]->as.i == 0)
                return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "range: step cannot be zero");
            if (argv[2]->as.i != 1) return int_steps(vm, a.as.i, b.as.i, argv[2]->as.i, ret);
        }
        if (argc == 2 || argv[2]->type == CRYO_T_INT) {
            cryo_range *r =
                cv_range_new(&vm->heap, a.as.i, b.as.i < a.as.i ? a.as.i : b.as.i, false);
            if (!r) return cvm_raise_oom(vm);
            cv_set(&vm->heap, ret, cv_from_obj(&r->h));
            return CRYO_OK;
        }
    }
    if (argc == 3 && is_num(a) && is_num(b) && is_num(*argv[2]) &&
        (a.type == CRYO_T_FLOAT || b.type == CRYO_T_FLOAT || argv[2]->type == CRYO_T_FLOAT))
        return float_steps(vm, num(a), num(b), num(*argv[2]), ret);
    return clib_nofn(vm, "range", argc, argv);
}

/* --- time
 * ------------------------------------------------------------------------------------------ */

/* cryo has no timestamp type: timestamp() is the monotonic clock in seconds (an f64), and
 * t.elapsed the seconds since t, which is all that Rhai's scripts do with them. */
static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static CRYO_LIB_FN(core_timestamp) {
    (void)vm, (void)ud, (void)argc, (void)argv;
    *ret = cryo_float(now_seconds());
    return CRYO_OK;
}

static CRYO_LIB_FN(core_elapsed) {
    (void)ud;
    if (argv[0]->type != CRYO_T_FLOAT) return clib_nofn(vm, "elapsed", argc, argv);
    *ret = cryo_float(now_seconds() - argv[0]->as.f);
    return CRYO_OK;
}

/* --- take, Fn properties (issue 15) ------------------------------------------------------------
 */

/* take(x) / x.take(): the receiver comes by reference (a variable, or a property or index
 * chain that the compiler writes back), so the value is moved out and () left behind, with no
 * copy and no reference count touched. */
static CRYO_LIB_FN(core_take) {
    (void)vm, (void)ud, (void)argc;
    *ret = *argv[0];
    cv_clear(argv[0]);
    return CRYO_OK;
}

static const cryo_fn *fn_of(cryo_value v) {
    if (v.type == CRYO_T_FN) return cv_fn(v);
    if (v.type == CRYO_T_SYNCFN) return ((const cryo_sync *)v.as.obj)->fn;
    return NULL;
}

/* Closures are named "anon$N" by the compiler, as Rhai names its anonymous functions. */
static bool fn_is_anonymous(const cryo_fn *f) {
    return f->name && f->name->len > 5 && memcmp(f->name->data, "anon$", 5) == 0;
}

/* f.name: the function's name (a closure's generated one); Rhai's FnPtr::fn_name. */
static CRYO_LIB_FN(core_fn_name) {
    (void)ud;
    const cryo_fn *f = fn_of(*argv[0]);
    if (!f) return clib_nofn(vm, "name", argc, argv);
    if (!f->name) return clib_ret_string(vm, ret, "", 0);
    return clib_ret_string(vm, ret, f->name->data, f->name->len);
}

static CRYO_LIB_FN(core_fn_is_anonymous) {
    (void)ud;
    const cryo_fn *f = fn_of(*argv[0]);
    if (!f) return clib_nofn(vm, "is_anonymous", argc, argv);
    *ret = cryo_bool(fn_is_anonymous(f));
    return CRYO_OK;
}

/* --- eval (issue 15) ---------------------------------------------------------------------------
 */

/* A text eval() compiled, kept (with its text, to compile a repeated text once) until the VM
 * is reset: values of the VM may point into the unit's constants. */
struct cryo_eval_unit {
    cryo_unit *unit;
    char *text;
    size_t len;
};

void clib_vm_release_evals(cryo_vm *vm) {
    for (int i = 0; i < vm->nevals; i++) {
        cryo_unit_release(vm->evals[i].unit);
        free(vm->evals[i].text);
    }
    free(vm->evals);
    vm->evals = NULL;
    vm->nevals = vm->capevals = 0;
}

/* A parse error of the eval'd text, raised as a script error at its own position. */
static cryo_error_kind eval_parse_error(cryo_vm *vm, cryo_error *errs) {
    cryo_error_kind k = cryo_vm_raise(vm, errs ? errs->kind : CRYO_ERR_PARSE, "%s",
                                      errs && errs->message ? errs->message : "eval failed");
    if (vm->err && errs) {
        vm->err->line = errs->line;
        vm->err->column = errs->column;
        free(vm->err->source_name);
        vm->err->source_name = errs->source_name;
        errs->source_name = NULL;
    }
    cryo_error_free(errs);
    return k;
}

static cryo_error_kind eval_unit(cryo_vm *vm, const cryo_string *text, cryo_unit **out) {
    for (int i = 0; i < vm->nevals; i++) {
        if (vm->evals[i].len == text->len &&
            memcmp(vm->evals[i].text, text->data, text->len) == 0) {
            *out = vm->evals[i].unit;
            return CRYO_OK;
        }
    }
    if (vm->nevals == vm->capevals) {
        int cap = vm->capevals ? 2 * vm->capevals : 4;
        struct cryo_eval_unit *ne = realloc(vm->evals, (size_t)cap * sizeof *ne);
        if (!ne) return cvm_raise_oom(vm);
        vm->evals = ne;
        vm->capevals = cap;
    }
    char *copy = malloc(text->len + 1);
    if (!copy) return cvm_raise_oom(vm);
    memcpy(copy, text->data, text->len + 1);
    cryo_compile_options opts = {.source_name = "eval"};
    cryo_error *errs = NULL;
    cryo_unit *u = cryo_compile(text->data, text->len, &opts, &errs);
    if (!u) {
        free(copy);
        return eval_parse_error(vm, errs);
    }
    vm->evals[vm->nevals++] = (struct cryo_eval_unit){u, copy, text->len};
    *out = u;
    return CRYO_OK;
}

/* eval(text): runs `text` as a script of its own in this VM (a nested run: same context,
 * limits, operation count and hooks) and returns its value. It sees none of the caller's
 * variables or fns (cryo resolves names at compile time): see docs/language.md. */
static CRYO_LIB_FN(core_eval) {
    (void)ud;
    if (!(cryo_vm_capabilities(vm) & CRYO_CAP_EVAL))
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                             "function not found: eval(%s): eval is not allowed: the host did "
                             "not grant CRYO_CAP_EVAL (the cryo command's --allow-eval grants it)",
                             cv_type_name(*argv[0]));
    if (argv[0]->type != CRYO_T_STRING) return clib_nofn(vm, "eval", argc, argv);
    cryo_unit *u = NULL;
    cryo_error_kind k = eval_unit(vm, cv_str(*argv[0]), &u);
    if (k != CRYO_OK) return k;
    cryo_fn *f = cv_fn_new(&vm->heap, CRYO_FN_SCRIPT, 0);
    if (!f) return cvm_raise_oom(vm);
    f->unit = cryo_unit_retain(u);
    f->proto = 0; /* the text's top level */
    cryo_value fv = cv_from_obj(&f->h);
    k = cryo_vm_call_value(vm, fv, 0, NULL, ret);
    cv_release(&vm->heap, fv);
    return k;
}

/* --- dispatchers for shared names ------------------------------------------------------------- */

typedef struct dispatch {
    const char *name;
    cryo_host_fn by_type[CRYO_T__COUNT];
} dispatch;

static cryo_error_kind dispatch_fn(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                   cryo_value *ret) {
    const dispatch *d = ud;
    if (argc < 1) return clib_nofn(vm, d->name, argc, argv);
    cryo_host_fn f = argv[0]->type < CRYO_T__COUNT ? d->by_type[argv[0]->type] : NULL;
    if (!f) return clib_nofn(vm, d->name, argc, argv);
    return f(vm, NULL, argc, argv, ret);
}

#define S                     CRYO_T_STRING
#define A                     CRYO_T_ARRAY
#define M                     CRYO_T_MAP
#define R                     CRYO_T_RANGE
#define C                     CRYO_T_CHAR
#define DISPATCH(id, nm, ...) static const dispatch id = {nm, {__VA_ARGS__}}
DISPATCH(
    d_len,
    "len", [S] = clib_str_len, [A] = clib_arr_len, [M] = clib_map_len_fn, [R] = clib_range_len);
DISPATCH(d_is_empty, "is_empty", [S] = clib_str_is_empty, [A] = clib_arr_is_empty,
         [M] = clib_map_is_empty, [R] = clib_range_is_empty);
DISPATCH(d_contains, "contains", [S] = clib_str_contains, [A] = clib_arr_contains,
         [M] = clib_map_contains, [R] = clib_range_contains);
DISPATCH(d_index_of, "index_of", [S] = clib_str_index_of, [A] = clib_arr_index_of);
DISPATCH(d_clear, "clear", [S] = clib_str_clear, [A] = clib_arr_clear, [M] = clib_map_clear);
DISPATCH(d_truncate, "truncate", [S] = clib_str_truncate, [A] = clib_arr_truncate);
DISPATCH(d_pad, "pad", [S] = clib_str_pad, [A] = clib_arr_pad);
DISPATCH(d_pop, "pop", [S] = clib_str_pop, [A] = clib_arr_pop);
DISPATCH(d_push, "push", [S] = clib_str_append, [A] = clib_arr_push);
DISPATCH(d_append, "append", [S] = clib_str_append, [A] = clib_arr_append);
DISPATCH(d_remove,
         "remove", [S] = clib_str_remove, [A] = clib_arr_remove, [M] = clib_map_remove_fn);
DISPATCH(d_get, "get", [S] = clib_str_get, [A] = clib_arr_get, [M] = clib_map_get);
DISPATCH(d_set, "set", [S] = clib_str_set, [A] = clib_arr_set, [M] = clib_map_set_fn);
DISPATCH(d_split, "split", [S] = clib_str_split, [A] = clib_arr_split);
DISPATCH(d_insert, "insert", [A] = clib_arr_insert);
DISPATCH(d_reverse, "reverse", [S] = clib_str_reverse, [A] = clib_arr_reverse);
DISPATCH(d_filter, "filter", [A] = clib_arr_filter, [M] = clib_map_filter);
DISPATCH(d_drain, "drain", [A] = clib_arr_drain, [M] = clib_map_drain);
DISPATCH(d_retain, "retain", [A] = clib_arr_retain, [M] = clib_map_retain);
DISPATCH(d_to_upper, "to_upper", [S] = clib_str_to_upper, [C] = clib_char_to_upper);
DISPATCH(d_to_lower, "to_lower", [S] = clib_str_to_lower, [C] = clib_char_to_lower);
#undef S
#undef A
#undef M
#undef R
#undef C

#define D(name, arity, d)                                                                          \
    { name, arity, dispatch_fn, (void *)&d }

const cryo_libreg clib_core[] = {
    {"print", 0, core_print, NULL},
    {"print", 1, core_print, NULL},
    {"debug", 0, core_debug, NULL},
    {"debug", 1, core_debug, NULL},
    {"to_string", 1, core_to_string, NULL},
    {"to_debug", 1, core_to_debug, NULL},
    {"type_of", 1, core_type_of, NULL},
    {"is_shared", 1, core_is_shared, NULL},
    {"Fn", 1, core_fn, NULL},
    {"call", -1, core_call, NULL},
    {"curry", -1, core_curry, NULL},
    {"range", 2, core_range, NULL},
    {"range", 3, core_range, NULL},
    {"start", 1, core_range_start, NULL},
    {"end", 1, core_range_end, NULL},
    {"is_inclusive", 1, core_is_inclusive, NULL},
    {"is_exclusive", 1, core_is_exclusive, NULL},
    {"timestamp", 0, core_timestamp, NULL},
    {"elapsed", 1, core_elapsed, NULL},
    {"take", 1, core_take, NULL},
    {"name", 1, core_fn_name, NULL},
    {"is_anonymous", 1, core_fn_is_anonymous, NULL},
    {"eval", 1, core_eval, NULL},
    D("len", 1, d_len),
    D("is_empty", 1, d_is_empty),
    D("contains", 2, d_contains),
    D("index_of", 2, d_index_of),
    D("index_of", 3, d_index_of),
    D("clear", 1, d_clear),
    D("truncate", 2, d_truncate),
    D("pad", 3, d_pad),
    D("pop", 1, d_pop),
    D("pop", 2, d_pop),
    D("push", 2, d_push),
    D("append", 2, d_append),
    D("remove", 2, d_remove),
    D("get", 2, d_get),
    D("set", 3, d_set),
    D("split", 1, d_split),
    D("split", 2, d_split),
    D("split", 3, d_split),
    D("insert", 3, d_insert),
    D("reverse", 1, d_reverse),
    D("filter", 2, d_filter),
    D("drain", 2, d_drain),
    D("drain", 3, d_drain),
    D("retain", 2, d_retain),
    D("retain", 3, d_retain),
    D("to_upper", 1, d_to_upper),
    D("to_lower", 1, d_to_lower),
    {NULL, 0, NULL, NULL},
};
