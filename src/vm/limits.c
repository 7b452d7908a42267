/*
 * limits.c — raising errors in a VM (the message, position and source of a cryo_error) and
 * checking the host's limits: operations, sizes of strings, arrays, maps and nested data
 * (split out of vm_call.c; ops.c, const.c, the library and ffi/ raise through these).
 */
#include "vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    cvm_trace_capture(vm, e); /* only here, on the error path: calls never pay for traces */
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

cryo_error_kind cvm_raise_oom(cryo_vm *vm) {
    if (vm->heap.exceeded) /* the limit, not vm->heap.limit: a share of it under a gov */
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "memory limit exceeded (%llu bytes)",
                             (unsigned long long)(vm->limits[CRYO_LIMIT_MEMORY]
                                                      ? vm->limits[CRYO_LIMIT_MEMORY]
                                                      : vm->heap.limit));
    return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
}

cryo_error_kind cvm_check_ops(cryo_vm *vm) {
    if (atomic_load_explicit(&vm->interrupt, memory_order_relaxed))
        return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "script interrupted");
    if (vm->watch) { /* threads and bounded calls (govern.c) */
        cryo_error_kind k = cvm_check_watch(vm);
        if (k != CRYO_OK) return k;
    }
    uint64_t limit = vm->limits[CRYO_LIMIT_OPERATIONS];
    if (limit && vm->ops > limit)
        return cryo_vm_raise(vm, CRYO_ERR_TOO_MANY_OPERATIONS, "too many operations (limit %llu)",
                             (unsigned long long)limit);
    if (vm->progress_fn && vm->ops >= vm->progress_next) {
        vm->progress_next = vm->ops + (vm->progress_every ? vm->progress_every : 1);
        if (!vm->progress_fn(vm->progress_ud, vm->ops)) {
            cvm_update_ops_max(vm);
            return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "stopped by the progress callback");
        }
    }
    cvm_update_ops_max(vm);
    return CRYO_OK;
}

cryo_error_kind cvm_charge(cryo_vm *vm, uint64_t n) {
    if (!vm) return CRYO_OK;
    vm->ops += n;
    if (vm->ops > vm->ops_max || atomic_load_explicit(&vm->interrupt, memory_order_relaxed))
        return cvm_check_ops(vm);
    return CRYO_OK;
}

static cryo_error_kind check_size(cryo_vm *vm, cryo_limit which, size_t n, const char *what) {
    uint64_t limit = vm->limits[which];
    if (limit && n > limit)
        return cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "%s exceeds the size limit (%llu)", what,
                             (unsigned long long)limit);
    return CRYO_OK;
}

cryo_error_kind cvm_check_string(cryo_vm *vm, size_t bytes) {
    return check_size(vm, CRYO_LIMIT_STRING_SIZE, bytes, "length of string");
}
cryo_error_kind cvm_check_array(cryo_vm *vm, size_t len) {
    return check_size(vm, CRYO_LIMIT_ARRAY_SIZE, len, "size of array");
}
cryo_error_kind cvm_check_map(cryo_vm *vm, size_t len) {
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

cryo_error_kind cvm_check_data(cryo_vm *vm, cryo_value v) {
    const uint64_t *l = vm->limits;
    if (!(l[CRYO_LIMIT_STRING_SIZE] | l[CRYO_LIMIT_ARRAY_SIZE] | l[CRYO_LIMIT_MAP_SIZE]) ||
        v.type < CRYO_T_STRING)
        return CRYO_OK;
    sizer z = {NULL, 0, 0};
    data_sizes d = measure(&z, v, 0);
    free(z.slots);
    cryo_error_kind k = cvm_check_string(vm, d.strings);
    if (k == CRYO_OK) k = cvm_check_array(vm, d.arrays);
    if (k == CRYO_OK) k = cvm_check_map(vm, d.maps);
    return k;
}

cryo_error_kind cvm_fn_not_found(cryo_vm *vm, const char *name, size_t len, int argc,
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
