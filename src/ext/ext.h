/*
 * ext.h — the extension layer's interface (src/ext/): what code outside the core (ffi/, an
 * extension library) builds on. ffi/ includes this header and no other of src/.
 *
 * Offers:
 *   - a value-type hook for the C pointer value kind, whose code lives in ffi/pointer.c:
 *     cv_pointer_hooks (value/value.h; the layout of a pointer value is there too);
 *   - values built and released on a VM's heap from outside the core (cv_ffi_*), and the heap
 *     primitives an extension's own heap objects are made of (cx_alloc, ...), below (ext.c);
 *   - the hot-call entry of a SyncFunction, below: everything an FFI callback's trampoline
 *     needs to call one again and again in a VM it keeps, as documented inline functions, so
 *     that an extension reads no field of cryo_vm or of a SyncFunction itself;
 *   - call bounds (cryo_call_ctl, cvm_call_ctl_set/get/interrupt: vm/govern.h).
 * Symbols an extension's shared library calls are exported from libcryo (CRYO_API).
 *
 * May use: every layer below (value, lang, vm, frozen, lib, conc).
 */
#ifndef CRYO_EXT_H
#define CRYO_EXT_H

#include "frozen/frozen.h"
#include "vm/vm.h"

/* The few internals the FFI library (a separate shared object) needs, exported:
 * the VM's heap, maps built field by field, and a named host function with one curried
 * argument (Fn("name") curried with `curry`, which is retained). */
CRYO_API cryo_heap *cv_ffi_heap(cryo_vm *vm);
CRYO_API cryo_value cv_ffi_map_new(cryo_vm *vm);               /* unit when out of memory */
CRYO_API cryo_value cv_ffi_array_new(cryo_vm *vm, size_t cap); /* unit when out of memory */
/* Appends v (its reference is taken, also on failure) to the array; false when out of memory. */
CRYO_API bool cv_ffi_array_push(cryo_vm *vm, cryo_value array, cryo_value v);
/* Releases a value of `vm` through its heap (keeps the VM's byte accounting right). */
CRYO_API void cv_ffi_release(cryo_vm *vm, cryo_value v);
CRYO_API bool cv_ffi_map_set(cryo_vm *vm, cryo_value map, const char *key, cryo_value v);
CRYO_API cryo_error_kind cv_ffi_bound_fn(cryo_vm *vm, const char *name, cryo_value curry,
                                         cryo_value *out);

/* The heap and string primitives an extension builds its own heap objects with (pointer
 * values: ffi/pointer.c), the same as cv_alloc, cv_free, cv_string_append and cv_type_name. */
CRYO_API void *cx_alloc(cryo_heap *h, size_t size);
CRYO_API void cx_free(cryo_heap *h, void *p, size_t size);
CRYO_API bool cx_string_append(cryo_heap *h, cryo_string **s, const char *p, size_t len);
CRYO_API const char *cx_type_name(cryo_value v);

/* --- a SyncFunction as an extension sees it ----------------------------------------------- */

/* The argc of a hot call of f (cx_hot_regs): its script function's parameter count when
 * nothing is curried, else -1 (never hot). */
static inline int cx_sync_hot_argc(const cryo_sync *f) {
    return f->hot_argc;
}

/* The name and line of f's script function for messages ("anon$..." for a closure); NULL when
 * f calls a function by name. */
static inline const char *cx_sync_fn_name(const cryo_sync *f, int *line) {
    if (!f->proto) return NULL;
    *line = f->proto->line;
    return f->proto->name;
}

/* A VM of the calling thread's pool ready to run f (its unit and context); NULL when out of
 * memory. Give it back with cryo_vm_pool_release. */
static inline cryo_vm *cx_sync_vm_acquire(const cryo_sync *f) {
    return cryo_vm_pool_acquire(f->unit, f->ctx);
}

/* True when vm, a VM kept for calls of some SyncFunction, has f's context. */
static inline bool cx_vm_has_context(const cryo_vm *vm, const cryo_sync *f) {
    return vm->ctx == f->ctx;
}

/* The number of frozen objects vm keeps pinned (a VM kept across calls drops them at a reset). */
static inline int cx_vm_npins(const cryo_vm *vm) {
    return vm->npins;
}

/* The bounds and interrupt epoch (a callback's) the next SyncFunction call in vm notes; NULL
 * after the call. */
static inline void cx_vm_next_call_ctl(cryo_vm *vm, const cryo_call_ctl *ctl) {
    vm->next_cb_ctl = ctl;
}

/* --- the hot call ---------------------------------------------------------------------------
 * A caller that keeps one VM for repeated calls of f (an FFI callback's kept VM):
 *   1. cx_hot_regs(f, vm, argc) != NULL, checked once: vm is ready for f;
 *   2. each call: write the arguments at cx_hot_first_regs(vm), call cx_run_hot;
 *   3. after the call, cx_hot_still_ready(f, vm) says whether the next call may skip step 1.
 * No lock, no atomic read-modify-write, no allocation on this path. */

/* The registers of vm's first frame, holding (), when vm is idle and clean and f is its last
 * pin, a script function of vm's unit taking argc arguments; else NULL (frozen/sync.h). */
static inline cryo_value *cx_hot_regs(cryo_sync *f, cryo_vm *vm, int argc) {
    return cfz_sync_hot_regs(f, vm, argc);
}

/* The registers cx_hot_regs returned, for a VM known to be still ready (step 2). */
static inline cryo_value *cx_hot_first_regs(cryo_vm *vm) {
    return vm->seg->slots;
}

/* Runs f on the arguments written at the first registers; *result (() on error) is owned by
 * the caller; errors stay in the VM (cryo_vm_error). */
static inline __attribute__((always_inline)) cryo_error_kind cx_run_hot(cryo_sync *f, cryo_vm *vm,
                                                                        cryo_value *result) {
    return cfz_sync_run_hot_inline(f, vm, vm->next_cb_ctl, result);
}

/* cx_run_hot for a call made by the callback control ctl (or NULL), instead of
 * cx_vm_next_call_ctl(vm, ctl) before it and cx_vm_next_call_ctl(vm, NULL) after it. */
static inline __attribute__((always_inline)) cryo_error_kind
cx_run_hot_ctl(cryo_sync *f, cryo_vm *vm, const cryo_call_ctl *ctl, cryo_value *result) {
    return cfz_sync_run_hot_inline(f, vm, ctl, result);
}

/* After a hot call: true when nothing was raised and nothing new pinned, so vm is still ready
 * for f. */
static inline bool cx_hot_still_ready(const cryo_sync *f, const cryo_vm *vm) {
    return !vm->dirty && cfz_sync_pinned_last(f, vm);
}

/* The same test for a call that started on a VM ready for f with npins0 = cx_vm_npins(vm):
 * pins are only appended between resets, so an unchanged count means f is still the last. */
static inline bool cx_hot_still_ready_since(const cryo_vm *vm, int npins0) {
    return !vm->dirty && vm->npins == npins0;
}

/* --- the calling thread's VM cache (vm/cache.c; the rules: vm/vm.h, docs/notes/vm-cache.md) --
 * A caller that keeps a VM for its key between calls (an FFI callback, named by a key never
 * reused for another callback):
 *   hot:  cx_cache_ready(key) != NULL -> cx_cache_enter, the call, cx_cache_leave;
 *   slow: cx_cache_take -> the call -> cx_cache_leave (kept) or cx_cache_give.
 * The hot test is two loads and a compare; no lock, no atomic operation, no allocation. */
typedef cvm_kept cx_kept;

/* key's kept VM entry when it is ready for key's next call, else NULL. */
static inline cx_kept *cx_cache_ready(const void *key) {
    return cvm_cache_ready(key);
}

/* Marks the ready entry busy; its VM. */
static inline cryo_vm *cx_cache_enter(cx_kept *k) {
    return cvm_cache_enter(k);
}

/* Ends a call on a kept VM; ready says it may take key's next call on the hot path. */
static inline void cx_cache_leave(cx_kept *k, const void *key, bool ready) {
    cvm_cache_leave(k, key, ready);
}

/* A VM for a call of f under key: key's kept VM (not reset since its last call) or one from the
 * idle list; *kept is its entry, NULL when it is not kept (a nested call of key). NULL when out
 * of memory. */
static inline cryo_vm *cx_cache_take(const void *key, const cryo_sync *f, cx_kept **kept) {
    bool fresh;
    return cvm_cache_take(key, f->unit, f->ctx, kept, &fresh);
}

/* Gives back a VM of cx_cache_take: to the idle list when k is NULL or keep is false (its pins
 * dropped), else it stays kept for its key, not ready. */
static inline void cx_cache_give(cx_kept *k, cryo_vm *vm, bool keep) {
    cvm_cache_give(k, vm, keep);
}

/* Forgets key on the calling thread (a callback being freed). */
static inline void cx_cache_forget(const void *key) {
    cvm_cache_forget(key);
}

#endif
