/*
 * pin.c — a VM's pins: the frozen objects (ConstValues, SyncFunctions) it may hold uncounted
 * values into, kept alive until its reset; and thawing a ConstValue into a VM, which pins it.
 * See sync.h and docs/sync.md.
 */
#include "sync.h"

#include <stdlib.h>
#include <string.h>

/* --- pins and thawing ---------------------------------------------------------------------- */

/* A VM pins whatever frozen object it may hold uncounted values into; a script making
 * SyncFunctions in a loop pins each one. The list is scanned while short; past PIN_SCAN entries
 * an open-addressing set answers "already pinned?" in O(1), so n pins cost O(n), not O(n^2).
 * The list and the set are allocated on the VM's heap: they count against its memory limit. */
#define PIN_SCAN 16

static size_t pin_slot(const cryo_obj *o, size_t cap) {
    uint64_t x = (uint64_t)(uintptr_t)o;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static void pin_set_put(cryo_obj **set, size_t cap, cryo_obj *o) {
    size_t i = pin_slot(o, cap);
    while (set[i])
        i = (i + 1) & (cap - 1);
    set[i] = o;
}

static bool pinned(const cryo_vm *vm, const cryo_obj *o) {
    if (!vm->pin_set) {
        for (int i = vm->npins; i-- > 0;)
            if (vm->pins[i] == o) return true;
        return false;
    }
    for (size_t i = pin_slot(o, vm->pin_set_cap); vm->pin_set[i];
         i = (i + 1) & (vm->pin_set_cap - 1))
        if (vm->pin_set[i] == o) return true;
    return false;
}

/* Makes room for one more pin in the list and, past PIN_SCAN, in the set (at most half full). */
static bool pin_reserve(cryo_vm *vm) {
    if (vm->npins == vm->cappins) {
        int nc = vm->cappins ? vm->cappins * 2 : 8;
        if (nc <= vm->cappins) return false;
        cryo_obj **g = cv_realloc(&vm->heap, vm->pins, (size_t)vm->cappins * sizeof *g,
                                  (size_t)nc * sizeof *g);
        if (!g) return false;
        vm->pins = g;
        vm->cappins = nc;
    }
    size_t need = (size_t)vm->npins + 1;
    if (need <= PIN_SCAN || need * 2 <= vm->pin_set_cap) return true;
    size_t cap = vm->pin_set_cap ? vm->pin_set_cap * 2 : 64;
    while (cap < need * 2)
        cap *= 2;
    cryo_obj **set = cv_alloc(&vm->heap, cap * sizeof *set);
    if (!set) return false;
    memset(set, 0, cap * sizeof *set);
    for (int i = 0; i < vm->npins; i++)
        pin_set_put(set, cap, vm->pins[i]);
    cv_free(&vm->heap, vm->pin_set, vm->pin_set_cap * sizeof *set);
    vm->pin_set = set;
    vm->pin_set_cap = cap;
    return true;
}

bool cfz_pin_owned(cryo_vm *vm, cryo_obj *o) {
    if (pinned(vm, o)) {
        cfz_release(o); /* already pinned: the list keeps one reference */
        return true;
    }
    if (!pin_reserve(vm)) {
        cfz_release(o);
        return false;
    }
    vm->pins[vm->npins++] = o;
    if (vm->pin_set) pin_set_put(vm->pin_set, vm->pin_set_cap, o);
    return true;
}

bool cfz_pin(cryo_vm *vm, cryo_obj *o) {
    if (!o || !cfz_is_frozen_obj(o)) return true;
    if (pinned(vm, o)) return true;
    cfz_retain(o);
    return cfz_pin_owned(vm, o);
}

void cfz_release_pins(cryo_vm *vm) {
    for (int i = 0; i < vm->npins; i++)
        cfz_release(vm->pins[i]);
    cv_free(&vm->heap, vm->pins, (size_t)vm->cappins * sizeof *vm->pins);
    cv_free(&vm->heap, vm->pin_set, vm->pin_set_cap * sizeof *vm->pin_set);
    vm->pins = vm->pin_set = NULL;
    vm->npins = vm->cappins = 0;
    vm->pin_set_cap = 0;
    /* What this VM froze is no longer charged to it (its owners free it with free()). */
    vm->heap.bytes = vm->heap.bytes >= vm->frozen_bytes ? vm->heap.bytes - vm->frozen_bytes : 0;
    vm->frozen_bytes = 0;
}

CRYO_API cryo_error_kind cryo_vm_thaw(cryo_vm *vm, cryo_const c, cryo_value *out) {
    if (!out) return CRYO_ERR_API;
    *out = cryo_unit_value();
    if (!vm) return CRYO_ERR_API;
    if (cv_is_heap(c.v) && !cfz_pin(vm, c.v.as.obj)) return cvm_raise_oom(vm);
    *out = c.v;
    out->flags = 0;
    return CRYO_OK;
}
