/*
 * vm_call.c — the VM's call machinery outside the hot loop: segments and frames, errors and
 * limits, host calls (CALLH), function-value calls (CALLV) and re-entrant calls from hosts.
 */
#include "vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_SEGMENT 512 /* values: small, so that a fresh VM's first run is cheap */
#define NEXT_SEGMENT  4096
#define FIRST_FRAMES  16

/* --- segments and frames ----------------------------------------------------------------- */

static cryo_segment *segment_new(size_t size) {
    cryo_segment *s = calloc(1, sizeof *s + size * sizeof(cryo_value)); /* zero = () */
    if (s) s->size = size;
    return s;
}

bool cryo_vm_prepare(cryo_vm *vm) {
    if (!vm->seg) {
        vm->seg = segment_new(FIRST_SEGMENT);
        if (!vm->seg) return false;
        vm->top = vm->seg->slots;
    }
    if (!vm->frames) {
        vm->frames = malloc(FIRST_FRAMES * sizeof *vm->frames);
        if (!vm->frames) return false;
        vm->capframes = FIRST_FRAMES;
    }
    return true;
}

/* Frames and register segments are not heap objects, but a runaway recursion with no call
 * depth limit must still stop at the memory limit: they count against it here (checked, not
 * accounted). */
static bool within_memory_limit(cryo_vm *vm, size_t extra) {
    cryo_heap *h = &vm->heap;
    if (h->limit && (extra > h->limit || h->bytes > h->limit - extra)) {
        h->exceeded = true;
        return false;
    }
    return true;
}

bool cryo_vm_grow_frames(cryo_vm *vm) {
    if (vm->nframes < vm->capframes) return true;
    int cap = vm->capframes ? vm->capframes * 2 : FIRST_FRAMES;
    if (!within_memory_limit(vm, (size_t)cap * sizeof(cryo_frame))) return false;
    cryo_frame *f = realloc(vm->frames, (size_t)cap * sizeof *f);
    if (!f) return false;
    vm->frames = f;
    vm->capframes = cap;
    return true;
}

cryo_value *cryo_vm_fit_frame(cryo_vm *vm, cryo_value *want, size_t nregs, size_t nmove) {
    cryo_segment *s = vm->seg;
    if (want + nregs <= s->slots + s->size) return want;
    cryo_segment *n = s->next;
    if (n && n->size < nregs) {
        /* Unused segments hold only (): dropping the chain is safe. */
        for (cryo_segment *x = n; x;) {
            cryo_segment *nx = x->next;
            free(x);
            x = nx;
        }
        s->next = n = NULL;
    }
    if (!n) {
        size_t size = s->size * 2 > NEXT_SEGMENT ? s->size * 2 : NEXT_SEGMENT;
        if (size > 65536) size = 65536;
        if (size < nregs) size = nregs;
        if (vm->heap.limit) {
            size_t total = size;
            for (cryo_segment *x = s; x; x = x->prev)
                total += x->size;
            if (!within_memory_limit(vm, total * sizeof(cryo_value) +
                                             (size_t)vm->capframes * sizeof(cryo_frame)))
                return NULL;
        }
        n = segment_new(size);
        if (!n) return NULL;
        n->prev = s;
        s->next = n;
    }
    for (size_t i = 0; i < nmove; i++) {
        n->slots[i] = want[i];
        want[i] = cryo_unit_value();
    }
    vm->seg = n;
    return n->slots;
}

static bool in_segment(const cryo_segment *s, const cryo_value *p) {
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->slots;
    return a >= lo && a < lo + s->size * sizeof(cryo_value);
}

/* A frame opened a segment when it starts the segment and the frame below it lives elsewhere
 * (a frame called with A = 0 may also start there, but then its caller does too). */
void cryo_vm_pop_segment(cryo_vm *vm, cryo_value *base) {
    cryo_segment *s = vm->seg;
    if (base != s->slots || !s->prev) return;
    if (vm->nframes == 0 || !in_segment(s, vm->frames[vm->nframes - 1].base)) vm->seg = s->prev;
}

static void release_regs(cryo_heap *h, cryo_value *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cryo_value v = r[i];
        cv_clear(&r[i]);
        cv_release(h, v);
    }
}

void cryo_vm_unwind(cryo_vm *vm, int nframes) {
    while (vm->nframes > nframes) {
        cryo_frame *f = &vm->frames[vm->nframes - 1];
        cryo_value *base = f->base;
        release_regs(&vm->heap, base, f->proto->nregs);
        vm->nframes--;
        cryo_vm_pop_segment(vm, base);
    }
    while (vm->nhandlers > 0 && vm->handlers[vm->nhandlers - 1].frame >= nframes)
        vm->nhandlers--;
}

/* --- errors and limits ------------------------------------------------------------------- */

static void current_position(cryo_vm *vm, int *line, int *column) {
    *line = 0;
    *column = 0;
    if (vm->nframes <= 0) return;
    const cryo_frame *f = &vm->frames[vm->nframes - 1];
    const cryo_proto *p = f->proto;
    if (!p || !p->lines || p->ncode == 0) return;
    const cryo_instr *ip = f->pc > p->code ? f->pc - 1 : p->code;
    size_t idx = (size_t)(ip - p->code);
    if (idx >= p->ncode) idx = p->ncode - 1;
    *line = p->lines[idx].line;
    *column = p->lines[idx].column;
}

static char *dup_cstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static cryo_error_kind set_error(cryo_vm *vm, cryo_error_kind kind, char *message) {
    cryo_error *e = calloc(1, sizeof *e);
    cryo_error_free(vm->err);
    vm->err = e;
    vm->dirty = true;
    vm->thrown_pending = false;
    if (!e) {
        free(message);
        return kind;
    }
    e->kind = kind;
    e->message = message ? message : dup_cstr("");
    current_position(vm, &e->line, &e->column);
    const cryo_unit *u = vm->nframes > 0 ? vm->frames[vm->nframes - 1].proto->unit : vm->unit;
    e->source_name = u ? dup_cstr(u->source_name) : NULL;
    return kind;
}

cryo_error_kind cryo_vm_raise(cryo_vm *vm, cryo_error_kind kind, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (msg) vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return set_error(vm, kind, msg);
}

cryo_error_kind cryo_vm_raise_oom(cryo_vm *vm) {
    if (vm->heap.exceeded) /* the limit, not vm->heap.limit: a share of it under a gov */
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "memory limit exceeded (%llu bytes)",
                             (unsigned long long)(vm->limits[CRYO_LIMIT_MEMORY]
                                                      ? vm->limits[CRYO_LIMIT_MEMORY]
                                                      : vm->heap.limit));
    return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
}

cryo_error_kind cryo_vm_check_ops(cryo_vm *vm) {
    if (atomic_load_explicit(&vm->interrupt, memory_order_relaxed))
        return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "script interrupted");
    if (vm->watch) { /* threads and bounded calls (govern.c) */
        cryo_error_kind k = cryo_vm_check_watch(vm);
        if (k != CRYO_OK) return k;
    }
    uint64_t limit = vm->limits[CRYO_LIMIT_OPERATIONS];
    if (limit && vm->ops > limit)
        return cryo_vm_raise(vm, CRYO_ERR_TOO_MANY_OPERATIONS, "too many operations (limit %llu)",
                             (unsigned long long)limit);
    if (vm->progress_fn && vm->ops >= vm->progress_next) {
        vm->progress_next = vm->ops + (vm->progress_every ? vm->progress_every : 1);
        if (!vm->progress_fn(vm->progress_ud, vm->ops)) {
            cryo_vm_update_ops_max(vm);
            return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "stopped by the progress callback");
        }
    }
    cryo_vm_update_ops_max(vm);
    return CRYO_OK;
}

cryo_error_kind cryo_vm_charge(cryo_vm *vm, uint64_t n) {
    if (!vm) return CRYO_OK;
    vm->ops += n;
    if (vm->ops > vm->ops_max || atomic_load_explicit(&vm->interrupt, memory_order_relaxed))
        return cryo_vm_check_ops(vm);
    return CRYO_OK;
}

static cryo_error_kind check_size(cryo_vm *vm, cryo_limit which, size_t n, const char *what) {
    uint64_t limit = vm->limits[which];
    if (limit && n > limit)
        return cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "%s exceeds the size limit (%llu)", what,
                             (unsigned long long)limit);
    return CRYO_OK;
}

cryo_error_kind cryo_vm_check_string(cryo_vm *vm, size_t bytes) {
    return check_size(vm, CRYO_LIMIT_STRING_SIZE, bytes, "length of string");
}
cryo_error_kind cryo_vm_check_array(cryo_vm *vm, size_t len) {
    return check_size(vm, CRYO_LIMIT_ARRAY_SIZE, len, "size of array");
}
cryo_error_kind cryo_vm_check_map(cryo_vm *vm, size_t len) {
    return check_size(vm, CRYO_LIMIT_MAP_SIZE, len, "size of object map");
}

typedef struct data_sizes {
    uint64_t arrays, maps, strings;
} data_sizes;

/* The nested totals of an object that more than one reference reaches are computed once and
 * remembered: `a = [a, a]` forty times has 2^40 paths but 41 arrays. (Totals still count
 * every path, as Rhai's copies would; they saturate instead of overflowing.) */
typedef struct size_memo {
    const cryo_obj *o;
    data_sizes d;
} size_memo;
typedef struct sizer {
    size_memo *slots; /* open addressing, cap a power of two; malloc'd */
    size_t n, cap;
} sizer;

#define SIZE_SAT (UINT64_MAX / 4)

static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a + b > SIZE_SAT || a + b < a ? SIZE_SAT : a + b;
}

static size_t size_slot(const cryo_obj *o, size_t cap) {
    uint64_t x = (uint64_t)(uintptr_t)o;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static const data_sizes *sizer_get(const sizer *z, const cryo_obj *o) {
    if (!z->slots) return NULL;
    for (size_t i = size_slot(o, z->cap); z->slots[i].o; i = (i + 1) & (z->cap - 1))
        if (z->slots[i].o == o) return &z->slots[i].d;
    return NULL;
}

static void sizer_put(sizer *z, const cryo_obj *o, data_sizes d) {
    if ((z->n + 1) * 2 > z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 32;
        size_memo *m = calloc(cap, sizeof *m);
        if (!m) return; /* no memo: slower, still right */
        for (size_t i = 0; i < z->cap; i++) {
            if (!z->slots[i].o) continue;
            size_t j = size_slot(z->slots[i].o, cap);
            while (m[j].o)
                j = (j + 1) & (cap - 1);
            m[j] = z->slots[i];
        }
        free(z->slots);
        z->slots = m;
        z->cap = cap;
    }
    size_t i = size_slot(o, z->cap);
    while (z->slots[i].o)
        i = (i + 1) & (z->cap - 1);
    z->slots[i].o = o;
    z->slots[i].d = d;
    z->n++;
}

static void add_sizes(data_sizes *d, const data_sizes *x) {
    d->arrays = sat_add(d->arrays, x->arrays);
    d->maps = sat_add(d->maps, x->maps);
    d->strings = sat_add(d->strings, x->strings);
}

static data_sizes measure(sizer *z, cryo_value v, int depth) {
    data_sizes d = {0, 0, 0};
    while (v.type == CRYO_T_CELL)
        v = cv_cell(v)->v;
    if (depth > 10000 || v.type < CRYO_T_STRING) return d; /* limits stop the growth before */
    if (v.type == CRYO_T_STRING) {
        d.strings = cv_str(v)->len;
        return d;
    }
    if (v.type != CRYO_T_ARRAY && v.type != CRYO_T_MAP) return d;
    const cryo_obj *o = v.as.obj;
    bool shared = !(v.flags & CRYO_VF_COUNTED) || o->rc != 1;
    const data_sizes *known = shared ? sizer_get(z, o) : NULL;
    if (known) return *known;
    if (v.type == CRYO_T_ARRAY) {
        const cryo_array *a = cv_arr(v);
        d.arrays = a->len;
        for (uint32_t i = 0; i < a->len; i++) {
            if (a->items[i].type < CRYO_T_STRING) continue;
            data_sizes x = measure(z, a->items[i], depth + 1);
            add_sizes(&d, &x);
        }
    } else {
        const cryo_map *m = cv_map(v);
        d.maps = m->len;
        for (uint32_t i = 0; i < m->len; i++) {
            if (m->entries[i].value.type < CRYO_T_STRING) continue;
            data_sizes x = measure(z, m->entries[i].value, depth + 1);
            add_sizes(&d, &x);
        }
    }
    if (shared) sizer_put(z, o, d);
    return d;
}

cryo_error_kind cryo_vm_check_data(cryo_vm *vm, cryo_value v) {
    const uint64_t *l = vm->limits;
    if (!(l[CRYO_LIMIT_STRING_SIZE] | l[CRYO_LIMIT_ARRAY_SIZE] | l[CRYO_LIMIT_MAP_SIZE]) ||
        v.type < CRYO_T_STRING)
        return CRYO_OK;
    sizer z = {NULL, 0, 0};
    data_sizes d = measure(&z, v, 0);
    free(z.slots);
    cryo_error_kind k = cryo_vm_check_string(vm, d.strings);
    if (k == CRYO_OK) k = cryo_vm_check_array(vm, d.arrays);
    if (k == CRYO_OK) k = cryo_vm_check_map(vm, d.maps);
    return k;
}

cryo_error_kind cryo_vm_fn_not_found(cryo_vm *vm, const char *name, size_t len, int argc,
                                     cryo_value *const *argv) {
    char buf[512];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < argc && n < sizeof buf - 40; i++) {
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", cv_type_name(*argv[i]));
        if (w > 0) n += (size_t)w;
    }
    if (len > 5 && memcmp(name, "ffi::", 5) == 0 && !(cryo_vm_capabilities(vm) & CRYO_CAP_FFI))
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                             "function not found: %.*s(%s): the ffi module needs the FFI "
                             "capability (a host grants it with CRYO_CAP_FFI in its context; "
                             "the cryo command's --ffi grants it)",
                             (int)len, name, buf);
    return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "function not found: %.*s(%s)", (int)len, name,
                         buf);
}

/* --- bindings ------------------------------------------------------------------------------ */

const cryo_binding *cryo_vm_binding(cryo_vm *vm, cryo_unit *u) {
    if (u == vm->unit && vm->binding) return vm->binding;
    return cryo_unit_bind(u, vm->ctx);
}

/* --- calling function values ------------------------------------------------------------ */

/* What a function value resolves to for a call with `nargs` arguments (curried included). */
typedef struct callee {
    const cryo_proto *proto; /* script function, or NULL */
    cryo_fn *closure;
    const cryo_libreg *host; /* host function, or NULL */
} callee;

static cryo_unit *current_unit(cryo_vm *vm) {
    return vm->nframes > 0 ? vm->frames[vm->nframes - 1].proto->unit : vm->unit;
}

static cryo_error_kind resolve(cryo_vm *vm, cryo_value fv, int nargs, cryo_value *const *argv,
                               callee *out) {
    out->proto = NULL;
    out->closure = NULL;
    out->host = NULL;
    if (fv.type != CRYO_T_FN)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot call a value of type %s as a function",
                             cv_type_name(fv));
    cryo_fn *fn = cv_fn(fv);
    const char *name = fn->name ? fn->name->data : "anonymous";
    size_t len = fn->name ? fn->name->len : strlen(name);
    if (fn->h.extra == CRYO_FN_SCRIPT) {
        const cryo_proto *p = fn->unit->protos[fn->proto];
        if (p->nparams != nargs) goto not_found;
        out->proto = p;
        out->closure = fn;
        return CRYO_OK;
    }
    cryo_unit *u = current_unit(vm);
    int fi = u ? cryo_unit_find_fn(u, name, len, (uint32_t)nargs) : -1;
    if (fi >= 0) {
        out->proto = u->protos[u->fns[fi].proto];
        return CRYO_OK;
    }
    out->host = cryo_context_find(vm->ctx, name, len, nargs);
    if (out->host) return CRYO_OK;
not_found:;
    /* The message lists the call's own arguments after the curried ones. */
    cryo_value *types[256];
    int n = 0;
    for (int i = 0; i < fn->ncurry && n < 255; i++)
        types[n++] = &fn->curry[i];
    for (int i = 0; i + fn->ncurry < nargs && n < 255; i++)
        types[n++] = argv[i];
    return cryo_vm_fn_not_found(vm, name, len, n, types);
}

/* Calls a resolved host function with curried + given arguments. */
static cryo_error_kind call_host(cryo_vm *vm, const cryo_libreg *reg, cryo_fn *fn, int argc,
                                 cryo_value *const *argv, cryo_value *ret) {
    int n = fn->ncurry + argc;
    cryo_value *ptrs[n > 0 ? n : 1];
    for (int i = 0; i < fn->ncurry; i++)
        ptrs[i] = &fn->curry[i];
    for (int i = 0; i < argc; i++)
        ptrs[fn->ncurry + i] = argv[i];
    cryo_value r = cryo_unit_value();
    /* The fn value may be dropped by the host (e.g. a receiver replaced): keep it alive.
     * A SyncFunction's shared fn is kept alive by the VM's pins instead (sync.h). */
    bool counted = !(fn->h.flags & CRYO_OBJ_SHARED);
    if (counted) fn->h.rc++;
    cryo_error_kind k = reg->fn(vm, reg->userdata, n, ptrs, &r);
    if (counted) cv_release(&vm->heap, cv_from_obj(&fn->h));
    if (k != CRYO_OK) {
        cv_release(&vm->heap, r);
        return k;
    }
    cv_set(&vm->heap, ret, r);
    return CRYO_OK;
}

/* Runs a script callee in a nested dispatch loop (host -> script re-entry). The fn value is
 * borrowed by the caller for the length of the call. */
static cryo_error_kind invoke_script(cryo_vm *vm, const callee *c, cryo_fn *fn,
                                     cryo_value *this_ref, int argc, cryo_value *const *argv,
                                     cryo_value *ret) {
    uint64_t depth = vm->limits[CRYO_LIMIT_CALL_DEPTH];
    if (vm->run_level >= CRYO_VM_MAX_RUN_LEVEL || (depth && (uint64_t)vm->nframes > depth))
        return cryo_vm_raise(vm, CRYO_ERR_STACK_OVERFLOW, "stack overflow: too many nested calls");
    if (!cryo_vm_prepare(vm) || !cryo_vm_grow_frames(vm)) return cryo_vm_raise_oom(vm);
    const cryo_proto *p = c->proto;
    /* Rhai refuses to bind `this` to a shared variable the closure also captures. */
    for (int i = 0; this_ref && fn && i < fn->ncaps; i++)
        if (this_ref == &fn->caps[i]->v)
            return cryo_vm_raise(vm, CRYO_ERR_RUNTIME,
                                 "data race: 'this' is a variable the closure captures");
    const cryo_binding *b = cryo_vm_binding(vm, p->unit);
    if (!b && p->unit->nhosts) return cryo_vm_raise_oom(vm);
    cryo_value *top = vm->seg->slots;
    if (vm->nframes > 0) {
        const cryo_frame *cur = &vm->frames[vm->nframes - 1];
        top = cur->base + cur->proto->nregs;
    }
    cryo_value *nb = cryo_vm_fit_frame(vm, top, p->nregs, 0);
    if (!nb) return cryo_vm_raise_oom(vm);
    int ncurry = fn ? fn->ncurry : 0;
    for (int i = 0; i < ncurry; i++) {
        cv_retain(fn->curry[i]);
        cv_set(&vm->heap, &nb[i], fn->curry[i]);
    }
    for (int i = 0; i < argc; i++) {
        cv_retain(*argv[i]);
        cv_set(&vm->heap, &nb[ncurry + i], *argv[i]);
    }
    release_regs(&vm->heap, nb + ncurry + argc, p->nregs - (size_t)(ncurry + argc));
    int stop = vm->nframes;
    cryo_frame *f = &vm->frames[vm->nframes++];
    f->proto = p;
    f->pc = p->code;
    f->base = nb;
    f->closure = c->closure;
    f->this_ref = this_ref;
    f->binding = b;
    f->ret_slot = ret;
    f->run_level = ++vm->run_level;
    /* the closure's captures must outlive the call (a SyncFunction's: pinned, sync.h) */
    bool counted = fn && !(fn->h.flags & CRYO_OBJ_SHARED);
    if (counted) fn->h.rc++;
    cryo_error_kind k = cryo_vm_exec(vm, stop);
    vm->run_level--;
    if (counted) cv_release(&vm->heap, cv_from_obj(&fn->h));
    return k;
}

static cryo_error_kind invoke(cryo_vm *vm, cryo_value fv, cryo_value *this_ref, int argc,
                              cryo_value *const *argv, cryo_value *ret) {
    if (fv.type == CRYO_T_SYNCFN) fv = cryo_sync_fn_value(vm, fv);
    if (fv.type != CRYO_T_FN) return resolve(vm, fv, argc, argv, &(callee){0});
    cryo_fn *fn = cv_fn(fv);
    callee c;
    cryo_error_kind k = resolve(vm, fv, fn->ncurry + argc, argv, &c);
    if (k != CRYO_OK) return k;
    if (c.host) return call_host(vm, c.host, fn, argc, argv, ret);
    return invoke_script(vm, &c, fn, this_ref, argc, argv, ret);
}

cryo_error_kind cryo_vm_call_method(cryo_vm *vm, cryo_value fn, cryo_value *this_ref, int argc,
                                    const cryo_value *argv, cryo_value *ret) {
    *ret = cryo_unit_value();
    if (argc < 0 || argc > 255)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "too many arguments (%d)", argc);
    cryo_value *ptrs[argc > 0 ? argc : 1];
    for (int i = 0; i < argc; i++)
        ptrs[i] = (cryo_value *)&argv[i];
    return invoke(vm, fn, this_ref, argc, ptrs, ret);
}

cryo_error_kind cryo_vm_call_value(cryo_vm *vm, cryo_value fn, int argc, const cryo_value *argv,
                                   cryo_value *ret) {
    return cryo_vm_call_method(vm, fn, NULL, argc, argv, ret);
}

/* --- CALLH ------------------------------------------------------------------------------- */

/* An unbound method-style call on a map holding a function under the method's name calls that
 * function with `this` = the map (Rhai's object-map methods). */
static cryo_error_kind call_map_method(cryo_vm *vm, const cryo_hostslot *hs, int argc,
                                       cryo_value **argv, cryo_value *ret, bool *done) {
    *done = false;
    cryo_value *recv = argv[0];
    if (recv->type != CRYO_T_MAP) return CRYO_OK;
    cryo_map_entry *e = cv_map_find(cv_map(*recv), hs->name, strlen(hs->name));
    if (!e || e->value.type != CRYO_T_FN) return CRYO_OK;
    *done = true;
    cryo_value fv = e->value;
    cv_retain(fv); /* the callee may replace the map's entry */
    cryo_error_kind k = invoke(vm, fv, recv, argc - 1, argv + 1, ret);
    cv_release(&vm->heap, fv);
    return k;
}

cryo_error_kind cryo_vm_op_callh(cryo_vm *vm, cryo_value *base, cryo_instr i, cryo_instr x) {
    cryo_frame *f = &vm->frames[vm->nframes - 1];
    unsigned a = CRYO_A(i), argc = CRYO_B(i), mode = CRYO_X_MODE(x);
    cryo_value *argv[argc > 0 ? argc : 1];
    for (unsigned j = 0; j < argc; j++)
        argv[j] = &base[a + j];
    if (mode != CRYO_RECV_NONE && argc > 0) {
        cryo_value *r = &base[CRYO_X_RECV(x)];
        if (mode == CRYO_RECV_CELL) {
            if (r->type != CRYO_T_CELL) /* hostile bytecode (image.c verifies bounds only) */
                return cryo_vm_raise(vm, CRYO_ERR_TYPE, "invalid bytecode: receiver is no cell");
            r = &cv_cell(*r)->v;
        } else if (mode == CRYO_RECV_THIS) {
            r = f->this_ref;
            if (!r) return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "'this' is not bound");
        }
        argv[0] = r;
    }
    const cryo_libreg *reg = f->binding ? f->binding->slots[CRYO_X_INDEX(x)] : NULL;
    cryo_value ret = cryo_unit_value();
    cryo_error_kind k;
    if (reg) {
        k = reg->fn(vm, reg->userdata, (int)argc, argv, &ret);
    } else {
        const cryo_hostslot *hs = &f->proto->unit->hosts[CRYO_X_INDEX(x)];
        bool done = false;
        k = CRYO_OK;
        if (mode != CRYO_RECV_NONE && argc > 0)
            k = call_map_method(vm, hs, (int)argc, argv, &ret, &done);
        if (!done) k = cryo_vm_fn_not_found(vm, hs->name, strlen(hs->name), (int)argc, argv);
    }
    if (k != CRYO_OK) {
        cv_release(&vm->heap, ret);
        return k;
    }
    cv_set(&vm->heap, &base[a], ret);
    return CRYO_OK;
}

/* --- CALLV ------------------------------------------------------------------------------- */

/* Pushes a script frame for R[A](R[A+1..A+B]) with the curried arguments inserted first; the
 * callee's frame starts at R[A+1]. */
static cryo_error_kind push_callv(cryo_vm *vm, cryo_value *base, unsigned a, unsigned argc,
                                  const callee *c, cryo_fn *fn) {
    const cryo_proto *p = c->proto;
    uint64_t depth = vm->limits[CRYO_LIMIT_CALL_DEPTH];
    if (depth && (uint64_t)vm->nframes > depth)
        return cryo_vm_raise(vm, CRYO_ERR_STACK_OVERFLOW, "stack overflow: too many nested calls");
    if (!cryo_vm_grow_frames(vm)) return cryo_vm_raise_oom(vm);
    const cryo_binding *b = cryo_vm_binding(vm, p->unit);
    if (!b && p->unit->nhosts) return cryo_vm_raise_oom(vm);
    unsigned ncurry = fn->ncurry;
    cryo_value *nb = cryo_vm_fit_frame(vm, base + a + 1, p->nregs, argc);
    if (!nb) return cryo_vm_raise_oom(vm);
    if (ncurry) {
        /* Registers past the arguments are dead temporaries: shift the arguments up. */
        for (unsigned j = argc; j-- > 0;) {
            cryo_value v = nb[j];
            nb[j] = cryo_unit_value();
            cv_set(&vm->heap, &nb[j + ncurry], v);
        }
        for (unsigned j = 0; j < ncurry; j++) {
            cv_retain(fn->curry[j]);
            cv_set(&vm->heap, &nb[j], fn->curry[j]);
        }
    }
    release_regs(&vm->heap, nb + ncurry + argc, p->nregs - (ncurry + argc));
    cryo_frame *f = &vm->frames[vm->nframes++];
    f->proto = p;
    f->pc = p->code;
    f->base = nb;
    f->closure = c->closure;
    f->this_ref = NULL;
    f->binding = b;
    f->ret_slot = &base[a];
    f->run_level = vm->run_level;
    return CRYO_OK;
}

cryo_error_kind cryo_vm_op_callv(cryo_vm *vm, cryo_value *base, cryo_instr i, bool *pushed) {
    unsigned a = CRYO_A(i), argc = CRYO_B(i);
    cryo_value fv = base[a];
    *pushed = false;
    cryo_value *argv[argc > 0 ? argc : 1];
    for (unsigned j = 0; j < argc; j++)
        argv[j] = &base[a + 1 + j];
    if (fv.type == CRYO_T_SYNCFN) fv = cryo_sync_fn_value(vm, fv); /* pinned; base[a] unchanged */
    if (fv.type != CRYO_T_FN) return resolve(vm, fv, (int)argc, argv, &(callee){0});
    cryo_fn *fn = cv_fn(fv);
    callee c;
    cryo_error_kind k = resolve(vm, fv, fn->ncurry + (int)argc, argv, &c);
    if (k != CRYO_OK) return k;
    if (c.host) return call_host(vm, c.host, fn, (int)argc, argv, &base[a]);
    if (c.proto->nregs > CRYO_MAX_REGS || fn->ncurry + argc > c.proto->nregs)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "too many arguments");
    k = push_callv(vm, base, a, argc, &c, fn);
    *pushed = k == CRYO_OK;
    return k;
}
