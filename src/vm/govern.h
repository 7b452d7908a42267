/*
 * govern.h — what keeps spawned threads and SyncFunction calls inside the host's bounds
 * (govern.c, lib_sync.c, sync.c, ffi/callback.c). See docs/reliability.md, "Threads" and
 * "Bounded calls".
 *
 * Nothing here runs per instruction. A watched VM (vm->watch) folds its next check point into
 * vm->ops_max, so the dispatch loop's existing operation test calls cvm_check_watch at
 * most every CRYO_WATCH_POLL operations; atomics are read there, never in the loop.
 */
#ifndef CRYO_GOVERN_H
#define CRYO_GOVERN_H

#include "vm.h"

/* Operations between two checks of a watched VM: an interrupt of a SyncFunction or of a
 * spawned thread's parent is seen within this many operations (tens of microseconds). */
#define CRYO_WATCH_POLL 4096u

/* The bounds and the interrupt epoch of a SyncFunction or a callback. Every field is read and
 * written atomically (relaxed): a host may change the defaults or interrupt from any thread
 * while calls run. A call notes the epoch when it starts; cryo_sync_interrupt increments it,
 * so calls running at that moment stop and later calls are not affected. */
typedef struct cryo_call_ctl {
    _Atomic uint64_t epoch;
    _Atomic uint64_t operations; /* default bounds: 0 = none (UINT64_MAX too) */
    _Atomic uint64_t timeout_ms;
} cryo_call_ctl;

/* The epoch word counts interrupts in steps of CRYO_CTL_EPOCH_STEP; its bit CRYO_CTL_BOUNDED is
 * set once a bound was set on the control and never cleared (so that no interleaving of two
 * hosts' cvm_call_ctl_set can hide a bound). A call loads the epoch word it notes anyway and so
 * learns from the same load whether it may skip reading the bounds. Epochs compare without
 * that bit (cvm_call_epoch_moved). */
#define CRYO_CTL_BOUNDED    1u
#define CRYO_CTL_EPOCH_STEP 2u
static inline bool cvm_call_epoch_moved(uint64_t now, uint64_t noted) {
    return ((now ^ noted) & ~(uint64_t)CRYO_CTL_BOUNDED) != 0;
}

/* Exported (undocumented) for libcryo_ffi's callbacks, like cfz_sync_run_hot. */
CRYO_API void cvm_call_ctl_set(cryo_call_ctl *c, const cryo_call_bounds *b);
CRYO_API void cvm_call_ctl_get(const cryo_call_ctl *c, cryo_call_bounds *out);
CRYO_API void cvm_call_ctl_interrupt(cryo_call_ctl *c);

/* The budget a run shares with the threads it spawns (and theirs, transitively). Made by the
 * run's first spawn; each VM of the tree takes chunks of it (cvm_check_watch, the heap's
 * grow hook) and gives back what it did not use when its run ends. */
typedef struct cryo_gov {
    _Atomic int refs;
    _Atomic int threads; /* spawned threads of the tree still running */
    uint64_t max_threads;
    bool ops_limited, mem_limited;
    uint64_t ops_limit, mem_limit; /* the root run's limits, for messages */
    _Atomic int64_t ops_left;
    _Atomic int64_t mem_left;
} cryo_gov;

/* The run's gov, made on first use (its VM becomes the owner); NULL when out of memory. */
cryo_gov *cvm_gov_of(cryo_vm *vm);
cryo_gov *cvm_gov_retain(cryo_gov *g);
void cvm_gov_release(cryo_gov *g);
/* Makes vm (idle, limits already set) draw on g, as a spawned thread's VM; cvm_gov_leave
 * gives back what it did not use and detaches it. */
void cvm_gov_join(cryo_vm *vm, cryo_gov *g);
void cvm_gov_leave(cryo_vm *vm);

/* Arms a SyncFunction call of f's control on an idle VM (sync.c's first frame): notes the
 * epochs of f and of the callback that makes the call (vm->next_cb_ctl) and the call's bounds
 * (vm->next_bounds, then the callback's, then f's defaults). Cheap when nothing is bounded. */
void cvm_call_arm(cryo_vm *vm, const cryo_call_ctl *fctl);

/* cvm_call_arm's common case inline (no bound set anywhere, no thread budget): the hot path
 * of a callback or a cryo_sync_call pays a few loads and stores, no call. vm->ops is 0.
 * Notes the epochs (e0 of fctl, e1 of cb, any value when cb is NULL), no bound. */
static inline void cvm_call_arm_plain_at(cryo_vm *vm, const cryo_call_ctl *fctl, uint64_t e0,
                                         const cryo_call_ctl *cb, uint64_t e1) {
    vm->call_ctl[0] = fctl;
    vm->call_epoch[0] = e0;
    vm->call_ctl[1] = cb;
    vm->call_epoch[1] = e1;
    vm->call_ops = vm->call_deadline = 0;
    vm->watch = true;
    vm->watch_max = CRYO_WATCH_POLL;
    /* ops_max is already the min of the limit, the progress point and an earlier check point;
     * only a later check point (left by a long call) needs lowering. A smaller stale value
     * only brings the first check earlier, where the full computation runs. */
    if (vm->ops_max > CRYO_WATCH_POLL) vm->ops_max = CRYO_WATCH_POLL;
}
/* True, the call armed, when a call of fctl's function made by the callback control cb (or
 * NULL) is unbounded: no bound ever set on either, no per-call bounds, no thread budget (a
 * spawned thread's VM, vm->stop, always has a gov). Else false, nothing written: the caller
 * takes cvm_call_arm's path. Loads each epoch word once, for the test and the arming. */
static inline bool cvm_call_arm_if_plain(cryo_vm *vm, const cryo_call_ctl *fctl,
                                         const cryo_call_ctl *cb) {
    uint64_t e0 = atomic_load_explicit(&fctl->epoch, memory_order_relaxed);
    uint64_t e1 = cb ? atomic_load_explicit(&cb->epoch, memory_order_relaxed) : 0;
    if (__builtin_expect(((e0 | e1) & CRYO_CTL_BOUNDED) || vm->next_bounds || vm->gov, 0))
        return false;
    cvm_call_arm_plain_at(vm, fctl, e0, cb, e1);
    return true;
}
static inline void cvm_call_arm_fast(cryo_vm *vm, const cryo_call_ctl *fctl) {
    if (!cvm_call_arm_if_plain(vm, fctl, vm->next_cb_ctl)) cvm_call_arm(vm, fctl);
}
/* The call ended: forgets its controls (which may be freed after the call). */
static inline void cvm_call_disarm(cryo_vm *vm) {
    vm->call_ctl[0] = vm->call_ctl[1] = NULL; /* the bounds are set again by every arm */
}

/* lib_sync.c: stops the threads vm's run spawned and joins them (the run ends). */
void clib_spawn_reap_all(cryo_vm *vm);

#endif
