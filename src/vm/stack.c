/*
 * stack.c — the VM's register stack: segments that never move, frames, and unwinding them
 * (split out of vm_call.c; see vm.h for the segmented stack).
 */
#include "vm.h"

#include <stdlib.h>
#include <string.h>

/* Segment sizes, in values. The first is sized to what the unit's top level needs plus room for
 * a few small calls (first_size), so that a VM after a small script's first run stays small
 * (issue 19); a first frame that needs more makes it bigger (cvm_fit_first), and deeper calls
 * take further segments, each at least twice the size of the one before (cvm_fit_frame). */
#define FIRST_MIN    32
#define FIRST_SPARE  32
#define NEXT_MIN     64
#define SEGMENT_MAX  65536
#define FIRST_FRAMES 16

/* --- segments and frames ----------------------------------------------------------------- */

static cryo_segment *segment_new(size_t size) {
    cryo_segment *s = calloc(1, sizeof *s + size * sizeof(cryo_value)); /* zero = () */
    if (s) s->size = size;
    return s;
}

static size_t first_size(const cryo_vm *vm) {
    const cryo_unit *u = vm->unit;
    size_t n = (u && u->nprotos ? u->protos[0]->nregs : 0) + FIRST_SPARE;
    return n < FIRST_MIN ? FIRST_MIN : n;
}

bool cvm_prepare(cryo_vm *vm) {
    if (!vm->seg) {
        vm->seg = segment_new(first_size(vm));
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
        size_t size = s->size * 2 > NEXT_MIN ? s->size * 2 : NEXT_MIN;
        if (size > SEGMENT_MAX) size = SEGMENT_MAX;
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

/* The first segment, replaced by a bigger one: the VM is idle (no frame), so it holds only ()
 * (a return or an unwind clears its registers) and the segments after it stay as they are. */
static bool grow_first(cryo_vm *vm, size_t nregs) {
    cryo_segment *s = vm->seg;
    while (s->prev)
        s = s->prev;
    vm->seg = s;
    if (nregs <= s->size) return true;
    size_t size = s->size * 2 > nregs ? s->size * 2 : nregs;
    if (!within_memory_limit(vm, (size - s->size) * sizeof(cryo_value))) return false;
    cryo_segment *n = segment_new(size);
    if (!n) return false;
    n->next = s->next;
    if (n->next) n->next->prev = n;
    free(s);
    vm->seg = n;
    vm->top = n->slots;
    return true;
}

bool cvm_fit_first(cryo_vm *vm, size_t nregs) {
    if (__builtin_expect(nregs <= vm->seg->size && !vm->seg->prev, 1)) return true;
    return grow_first(vm, nregs);
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
