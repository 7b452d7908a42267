/*
 * sync.h — ConstValues, SyncFunctions and pins, internal (const.c, sync.c, pin.c, image.c).
 *
 * A const's heap objects carry CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN in their header. Their `rc`
 * counts const references and is only changed atomically, by cfz_retain/release (never
 * by a VM). The values inside them never have CRYO_VF_COUNTED, so a VM reading them never
 * writes a count. See docs/sync.md.
 */
#ifndef CRYO_SYNC_H
#define CRYO_SYNC_H

#include "vm/vm.h"

/* A SyncFunction. `fn` is an immutable shared cryo_fn (CRYO_OBJ_SHARED | CRYO_OBJ_FROZEN) whose
 * caps are shared cells holding the frozen capture values, so that the VM's GETUPV reads them
 * like any closure's captures. */
struct cryo_sync {
    cryo_obj h;              /* type CRYO_T_SYNCFN, flags SHARED | FROZEN, rc atomic */
    cryo_unit *unit;         /* retained (atomic) */
    cryo_context *ctx;       /* the context of the VM that froze it (retained when possible) */
    cryo_fn *fn;             /* shared: owned by this object */
    const cryo_proto *proto; /* fn's proto (script functions), or NULL: saves loads per call */
    int arity;               /* parameters after curried arguments; -1 unknown (placed next to
                              * hot_argc: no padding, so that into_sync's block fits 128 bytes) */
    int hot_argc;            /* the argc of a hot call: proto's nparams when nothing is curried,
                              * else -1 (never hot) */
    cryo_call_ctl ctl;       /* default bounds and interrupt epoch of its calls (govern.h) */
};

/* A cryo_obj.flags bit of a SyncFunction's fn allocated in one block right after its cryo_sync
 * (into_sync; value.h has 0x1 and 0x2, value.c's cycle collector 0x80): when s goes, the block
 * stays until fn's own count ends too, and freeing fn frees the block (const.c). */
#define CFZ_FN_IN_SYNC 0x40

/* Atomic retain/release of a frozen object (string, array, map, range, SyncFunction). The last
 * release frees the whole tree it owns. Other objects are ignored. */
void cfz_retain(cryo_obj *o);
void cfz_release(cryo_obj *o);

static inline bool cfz_is_frozen_obj(const cryo_obj *o) {
    return (o->flags & CRYO_OBJ_FROZEN) != 0;
}

/* Freezes v into *out (owned). On failure raises in vm (kind returned); `what` names the
 * value in the message ("the captured variable 'x' (line 3)") and may be NULL. */
cryo_error_kind cfz_freeze_named(cryo_vm *vm, cryo_value v, const char *what, cryo_const *out);

/* One freeze (const.c): the memo that makes a value reachable twice frozen once (source object
 * -> its frozen copy), and the heap bytes before it began. Copies are allocated on the VM's
 * heap, so the memory limit bounds a freeze; cfz_freezer_end keeps the bytes of a successful
 * freeze charged to the VM (vm->frozen_bytes, until cfz_release_pins) and uncharges a
 * failed one. Each object copied is charged one operation (cvm_charge). */
typedef struct cryo_freeze_memo {
    const cryo_obj *src;
    cryo_obj *dst;
} cryo_freeze_memo;
typedef struct cryo_freezer {
    cryo_vm *vm;
    cryo_freeze_memo *memo; /* open addressing, `cap` a power of two (malloc'd) */
    size_t n, cap;
    size_t bytes_before;
} cryo_freezer;
void cfz_freezer_begin(cryo_freezer *fz, cryo_vm *vm);
/* Ends the freeze whose outcome is k (returned). */
cryo_error_kind cfz_freezer_end(cryo_freezer *fz, cryo_error_kind k);

/* Freezing within one freeze at a nesting depth (const.c), and a SyncFunction from a closure
 * (sync.c): the two call each other for closures captured by closures. */
cryo_error_kind cfz_freeze_in(cryo_freezer *fz, cryo_value v, const char *what, int depth,
                              cryo_value *out);
cryo_error_kind cfz_sync_from_fn_in(cryo_freezer *fz, cryo_fn *fn, int depth, cryo_sync **out);
/* A SyncFunction from a closure, as one freeze of its own. */
cryo_error_kind cfz_sync_from_fn(cryo_vm *vm, cryo_fn *fn, int depth, cryo_sync **out);
/* Frees a SyncFunction whose last reference went (cfz_release, const.c): drops its
 * unit and context references and returns its shared fn, whose reference the caller drops. */
cryo_fn *cfz_sync_destroy(cryo_sync *s);

/* Pins (pin.c). Keeps a frozen object alive for as long as the VM may hold values that point into
 * it: adds it to the VM's pin list (once; the first pin takes one atomic reference). */
bool cfz_pin(cryo_vm *vm, cryo_obj *o);
/* Gives the reference of `o` (already owned by the caller) to the VM's pin list. */
bool cfz_pin_owned(cryo_vm *vm, cryo_obj *o);
/* cfz_release_pins (pin.c) and cfz_sync_fn_value (sync.c) are declared in vm/vm.h: the VM
 * calls them. */

/* True when f is the VM's last pin: a VM that keeps calling f pinned it last, so this one test
 * stands for "f is pinned" on the hot paths (pins go only at a reset). */
static inline bool cfz_sync_pinned_last(const cryo_sync *f, const cryo_vm *vm) {
    return vm->npins > 0 && vm->pins[vm->npins - 1] == &f->h;
}

/* True when vm's first frame (vm->frames not NULL) still holds what a call of f set up there:
 * its last run was f's, started by run_frame0 (sync.c), and nothing ran since (a frame's
 * proto, closure, this, binding and run level change only when a frame is pushed there). The
 * hot path (cfz_sync_run_hot) then sets only where the call starts and where its result lands.
 */
static inline bool cfz_sync_frame0_is(const cryo_sync *f, const cryo_vm *vm) {
    const cryo_frame *fr = &vm->frames[0];
    return fr->proto == f->proto && fr->closure == f->fn && fr->binding == vm->binding &&
           fr->this_ref == NULL && fr->run_level == 0;
}

/* The hot path of a call of f in vm (the FFI trampoline, cryo_sync_call_in): when vm is idle
 * and clean (vm->dirty covers the error state), f is its last pin and f is a script function of
 * vm's unit taking argc arguments (none curried), returns the registers of the first frame,
 * which hold (), for the caller to write the arguments into (then call cfz_sync_run_hot),
 * when also its first frame is still f's (cfz_sync_frame0_is: after one call of f there);
 * otherwise NULL. No lock, no atomic read-modify-write, no allocation. */
static inline cryo_value *cfz_sync_hot_regs(cryo_sync *f, cryo_vm *vm, int argc) {
    if (__builtin_expect(argc == f->hot_argc && vm->nframes == 0 && !vm->dirty &&
                             f->proto->unit == vm->unit && vm->binding && vm->seg && vm->frames &&
                             f->proto->nregs <= vm->seg->size && cfz_sync_pinned_last(f, vm) &&
                             cfz_sync_frame0_is(f, vm),
                         1))
        return vm->seg->slots; /* a call's return (or unwind) clears its registers */
    return NULL;
}

/* Runs f on the arguments written at cfz_sync_hot_regs' registers; *result (() on error)
 * is owned by the caller. Errors stay in the VM (cryo_vm_error) as for cryo_sync_call_in.
 * Exported (undocumented) for libcryo_ffi, whose shared library may use only exported symbols
 * of libcryo. */
CRYO_API cryo_error_kind cfz_sync_run_hot(cryo_sync *f, cryo_vm *vm, cryo_value *result);
/* The end of a hot call that did not return CRYO_OK or whose run made a thread budget (spawn):
 * ends the run and empties *result on error; returns k. */
CRYO_API cryo_error_kind cfz_sync_run_end(cryo_vm *vm, cryo_error_kind k, cryo_value *result);

/* cfz_sync_run_hot inlined into its caller (the FFI's direct thunks, through ext.h) for a call
 * made by the callback control cb (or NULL): the common case (no bound on f or on cb, no
 * per-call bounds, no thread budget) enters the dispatch loop directly; anything else is
 * cfz_sync_run_hot, which reads cb from vm->next_cb_ctl. Saves the call of cfz_sync_run_hot,
 * and cb's store to and load from the VM on the common path. */
static inline __attribute__((always_inline)) cryo_error_kind
cfz_sync_run_hot_inline(cryo_sync *f, cryo_vm *vm, const cryo_call_ctl *cb, cryo_value *result) {
    if (!cvm_call_arm_if_plain(vm, &f->ctl, cb)) {
        vm->next_cb_ctl = cb;
        cryo_error_kind k = cfz_sync_run_hot(f, vm, result);
        vm->next_cb_ctl = NULL;
        return k;
    }
    vm->ops = 0;
    atomic_store_explicit(&vm->interrupt, 0, memory_order_relaxed);
    *result = cryo_unit_value();
    cryo_frame *fr = &vm->frames[0]; /* still f's: cfz_sync_hot_regs */
    fr->pc = f->proto->code;
    fr->base = vm->seg->slots;
    fr->ret_slot = result;
    vm->nframes = 1;
    cryo_error_kind k = cvm_exec(vm, 0);
    cvm_call_disarm(vm);
    if (__builtin_expect(k != CRYO_OK || vm->gov != NULL, 0))
        return cfz_sync_run_end(vm, k, result);
    return k;
}

#endif
