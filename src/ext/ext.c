/*
 * ext.c — the functions of the extension interface (ext.h) that an extension's shared library
 * calls: values built and released on a VM's heap, a named function with a curried argument,
 * and the heap and string primitives pointer values (ffi/pointer.c) are made of. Exported
 * from libcryo (CRYO_API); nothing here is on a hot path of the core.
 */
#include "ext.h"

#include <string.h>

void *cx_alloc(cryo_heap *h, size_t size) {
    return cv_alloc(h, size);
}

void cx_free(cryo_heap *h, void *p, size_t size) {
    cv_free(h, p, size);
}

bool cx_string_append(cryo_heap *h, cryo_string **s, const char *p, size_t len) {
    return cv_string_append(h, s, p, len);
}

const char *cx_type_name(cryo_value v) {
    return cv_type_name(v);
}

cryo_heap *cv_ffi_heap(cryo_vm *vm) {
    return &vm->heap;
}

void cv_ffi_release(cryo_vm *vm, cryo_value v) {
    cv_release(&vm->heap, v);
}

cryo_value cv_ffi_map_new(cryo_vm *vm) {
    cryo_map *m = cv_map_new(&vm->heap, 4);
    return m ? cv_from_obj(&m->h) : cryo_unit_value();
}

cryo_value cv_ffi_array_new(cryo_vm *vm, size_t cap) {
    cryo_array *a = cv_array_new(&vm->heap, cap);
    return a ? cv_from_obj(&a->h) : cryo_unit_value();
}

bool cv_ffi_array_push(cryo_vm *vm, cryo_value array, cryo_value v) {
    return cv_array_push(&vm->heap, cv_arr(array), v); /* releases v when it fails */
}

bool cv_ffi_map_set(cryo_vm *vm, cryo_value map, const char *key, cryo_value v) {
    return cvm_map_put(vm, map, key, strlen(key), v);
}

cryo_error_kind cv_ffi_bound_fn(cryo_vm *vm, const char *name, cryo_value curry, cryo_value *out) {
    cryo_fn *f = cv_fn_new(&vm->heap, CRYO_FN_NAMED, 0);
    if (!f) return cvm_raise_oom(vm);
    f->name = cv_string_new(&vm->heap, name, strlen(name));
    f->curry = cv_alloc(&vm->heap, sizeof(cryo_value));
    if (!f->name || !f->curry) {
        cv_free(&vm->heap, f->curry, sizeof(cryo_value));
        f->curry = NULL;
        cv_release(&vm->heap, cv_from_obj(&f->h));
        return cvm_raise_oom(vm);
    }
    cv_retain(curry);
    f->curry[0] = curry;
    f->ncurry = 1;
    *out = cv_from_obj(&f->h);
    return CRYO_OK;
}
