/*
 * stack.c — the VM's register stack: segments that never move, frames, and unwinding them
 * (split out of vm_call.c; see vm.h for the segmented stack).
 */
#include "vm.h"

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

bool cvm_prepare(cryo_vm *vm) {
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

bool cvm_grow_frames(cryo_vm *vm) {
    if (vm->nframes < vm->capframes) return true;
    int cap = vm->capframes ? vm->capframes * 2 : FIRST_FRAMES;
    if (!within_memory_limit(vm, (size_t)cap * sizeof(cryo_frame))) return false;
    cryo_frame *f = realloc(vm->frames, (size_t)cap * sizeof *f);
    if (!f) return false;
    vm->frames = f;
    vm->capframes = cap;
    return true;
}

cryo_value *cvm_fit_frame(cryo_vm *vm, cryo_value *want, size_t nregs, size_t nmove) {
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
void cvm_pop_segment(cryo_vm *vm, cryo_value *base) {
    cryo_segment *s = vm->seg;
    if (base != s->slots || !s->prev) return;
    if (vm->nframes == 0 || !in_segment(s, vm->frames[vm->nframes - 1].base)) vm->seg = s->prev;
}

void cvm_unwind(cryo_vm *vm, int nframes) {
    while (vm->nframes > nframes) {
        cryo_frame *f = &vm->frames[vm->nframes - 1];
        cryo_value *base = f->base;
        cvm_release_regs(&vm->heap, base, f->proto->nregs);
        vm->nframes--;
        cvm_pop_segment(vm, base);
    }
    while (vm->nhandlers > 0 && vm->handlers[vm->nhandlers - 1].frame >= nframes)
        vm->nhandlers--;
}
