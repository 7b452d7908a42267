/*
 * govern.c — the checks of a watched VM (govern.h): a spawned thread's stop flag, the bounds
 * and interrupt epochs of SyncFunction calls, and the operations and memory budget a run
 * shares with the threads it spawns.
 *
 * The shared budget is an atomic count that each VM of the tree draws on in chunks: a VM counts
 * its operations locally as always and only takes the next chunk (one atomic compare-exchange)
 * when it has used the last one, so the dispatch loop never touches the shared count. Memory
 * goes the same way through the heap's grow hook. A chunk is at most 1/16 of what is left, so
 * what idle VMs hold back stays small; a VM gives back what it did not use when its run ends.
 */
#include "govern.h"

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#define OPS_CHUNK_MAX 4096
#define MEM_CHUNK_MIN (16u << 10)
#define MEM_CHUNK_MAX (1u << 20)

_Static_assert(offsetof(cryo_vm, heap) == 0, "the heap's grow hook finds its VM at offset 0");

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- call controls ------------------------------------------------------------------------- */

CRYO_API void cvm_call_ctl_set(cryo_call_ctl *c, const cryo_call_bounds *b) {
    if (b && (b->operations || b->timeout_ms))
        atomic_fetch_or_explicit(&c->epoch, CRYO_CTL_BOUNDED, memory_order_relaxed);
    atomic_store_explicit(&c->operations, b ? b->operations : 0, memory_order_relaxed);
    atomic_store_explicit(&c->timeout_ms, b ? b->timeout_ms : 0, memory_order_relaxed);
}

CRYO_API void cvm_call_ctl_get(const cryo_call_ctl *c, cryo_call_bounds *out) {
    out->operations = atomic_load_explicit(&c->operations, memory_order_relaxed);
    out->timeout_ms = atomic_load_explicit(&c->timeout_ms, memory_order_relaxed);
}

CRYO_API void cvm_call_ctl_interrupt(cryo_call_ctl *c) {
    atomic_fetch_add_explicit(&c->epoch, CRYO_CTL_EPOCH_STEP, memory_order_relaxed);
}

/* The first level that sets a bound wins; UINT64_MAX there means none. */
static uint64_t pick(uint64_t call, uint64_t cb, uint64_t fn) {
    uint64_t v = call ? call : cb ? cb : fn;
    return v == UINT64_MAX ? 0 : v;
}

static void arm_bounds(cryo_vm *vm, const cryo_call_ctl *cb, uint64_t fops, uint64_t fto) {
    const cryo_call_bounds *b = vm->next_bounds;
    uint64_t cops = cb ? atomic_load_explicit(&cb->operations, memory_order_relaxed) : 0;
    uint64_t cto = cb ? atomic_load_explicit(&cb->timeout_ms, memory_order_relaxed) : 0;
    vm->call_ops = pick(b ? b->operations : 0, cops, fops);
    vm->call_timeout_ms = pick(b ? b->timeout_ms : 0, cto, fto);
    vm->call_deadline = 0;
    if (vm->call_timeout_ms) {
        uint64_t ns = vm->call_timeout_ms > UINT64_MAX / 2000000u ? UINT64_MAX / 2
                                                                  : vm->call_timeout_ms * 1000000u;
        vm->call_deadline = now_ns() + ns;
    }
}

void cvm_call_arm(cryo_vm *vm, const cryo_call_ctl *fctl) {
    const cryo_call_ctl *cb = vm->next_cb_ctl;
    vm->call_ctl[0] = fctl;
    vm->call_epoch[0] = atomic_load_explicit(&fctl->epoch, memory_order_relaxed);
    vm->call_ctl[1] = cb;
    if (cb) vm->call_epoch[1] = atomic_load_explicit(&cb->epoch, memory_order_relaxed);
    uint64_t fops = atomic_load_explicit(&fctl->operations, memory_order_relaxed);
    uint64_t fto = atomic_load_explicit(&fctl->timeout_ms, memory_order_relaxed);
    uint64_t cbset = cb ? atomic_load_explicit(&cb->operations, memory_order_relaxed) |
                              atomic_load_explicit(&cb->timeout_ms, memory_order_relaxed)
                        : 0;
    if (__builtin_expect((fops | fto | cbset) != 0 || vm->next_bounds, 0))
        arm_bounds(vm, cb, fops, fto);
    else
        vm->call_ops = vm->call_deadline = 0;
    cvm_update_watch(vm);
}

/* --- the shared budget --------------------------------------------------------------------- */

cryo_gov *cvm_gov_retain(cryo_gov *g) {
    if (g) atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void cvm_gov_release(cryo_gov *g) {
    if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) free(g);
}

/* Takes `want` from *left, at least `need`; returns what was taken (0: not even `need`). */
static int64_t take(_Atomic int64_t *left, int64_t need, int64_t want) {
    int64_t have = atomic_load_explicit(left, memory_order_relaxed);
    for (;;) {
        if (have < need) return 0;
        int64_t n = want < need ? need : want;
        if (n > have) n = have;
        if (atomic_compare_exchange_weak_explicit(left, &have, have - n, memory_order_relaxed,
                                                  memory_order_relaxed))
            return n;
    }
}

static int64_t chunk(const _Atomic int64_t *left, int64_t lo, int64_t hi) {
    int64_t c = atomic_load_explicit(left, memory_order_relaxed) / 16;
    return c < lo ? lo : c > hi ? hi : c;
}

/* The heap's grow hook: raises the VM's local memory limit by a chunk of the shared budget. */
static bool gov_grow(cryo_heap *h, size_t need) {
    cryo_vm *vm = (cryo_vm *)h;
    cryo_gov *g = vm->gov;
    if (!g || !g->mem_limited) return false;
    size_t over = h->bytes > h->limit ? h->bytes - h->limit : 0;
    int64_t n = (int64_t)(need + over);
    int64_t got = take(&g->mem_left, n, chunk(&g->mem_left, MEM_CHUNK_MIN, MEM_CHUNK_MAX));
    if (!got) return false;
    h->limit += (size_t)got;
    vm->mem_granted += (uint64_t)got;
    return true;
}

cryo_gov *cvm_gov_of(cryo_vm *vm) {
    if (vm->gov) return vm->gov;
    cryo_gov *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    atomic_init(&g->refs, 1);
    g->max_threads = vm->limits[CRYO_LIMIT_THREADS];
    g->ops_limit = vm->limits[CRYO_LIMIT_OPERATIONS];
    g->ops_limited = g->ops_limit != 0;
    if (g->ops_limited) {
        uint64_t used = vm->ops < g->ops_limit ? vm->ops : g->ops_limit;
        atomic_init(&g->ops_left, (int64_t)(g->ops_limit - used));
        vm->ops_grant = vm->ops; /* from now on the run's operations come from chunks too */
    }
    g->mem_limit = vm->limits[CRYO_LIMIT_MEMORY];
    g->mem_limited = g->mem_limit != 0;
    if (g->mem_limited) {
        size_t keep = vm->heap.bytes ? vm->heap.bytes : 1; /* a limit of 0 would mean none */
        uint64_t left = g->mem_limit > keep ? g->mem_limit - keep : 0;
        atomic_init(&g->mem_left, (int64_t)left);
        vm->heap.limit = keep;
        vm->mem_granted = keep;
        vm->heap.grow = gov_grow;
    }
    vm->gov = g;
    vm->gov_owner = true;
    cvm_update_watch(vm);
    return g;
}

void cvm_gov_join(cryo_vm *vm, cryo_gov *g) {
    vm->gov = cvm_gov_retain(g);
    vm->gov_owner = false;
    vm->ops_grant = 0;
    vm->mem_granted = 0;
    if (g->mem_limited) {
        vm->heap.limit = 1; /* the first allocation takes a chunk */
        vm->heap.grow = gov_grow;
    }
    cvm_update_watch(vm);
}

void cvm_gov_leave(cryo_vm *vm) {
    cryo_gov *g = vm->gov;
    if (!g) return;
    if (g->ops_limited && vm->ops_grant > vm->ops)
        atomic_fetch_add_explicit(&g->ops_left, (int64_t)(vm->ops_grant - vm->ops),
                                  memory_order_relaxed);
    if (g->mem_limited && vm->mem_granted)
        atomic_fetch_add_explicit(&g->mem_left, (int64_t)vm->mem_granted, memory_order_relaxed);
    vm->gov = NULL;
    vm->gov_owner = false;
    vm->ops_grant = vm->mem_granted = 0;
    vm->heap.grow = NULL;
    vm->heap.limit = (size_t)vm->limits[CRYO_LIMIT_MEMORY];
    cvm_gov_release(g);
    cvm_update_watch(vm);
}

/* --- the checks ---------------------------------------------------------------------------- */

void cvm_update_watch(cryo_vm *vm) {
    vm->watch = vm->gov || vm->stop || vm->call_ctl[0] || vm->call_ctl[1];
    uint64_t m = vm->ops > UINT64_MAX - CRYO_WATCH_POLL ? UINT64_MAX : vm->ops + CRYO_WATCH_POLL;
    if (vm->call_ops && vm->call_ops < m) m = vm->call_ops;
    if (vm->gov && vm->gov->ops_limited && vm->ops_grant < m) m = vm->ops_grant;
    vm->watch_max = m;
    cvm_update_ops_max(vm);
}

static cryo_error_kind check_stop(cryo_vm *vm) {
    if (vm->stop && atomic_load_explicit(vm->stop, memory_order_relaxed))
        return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED,
                             "thread stopped: the run that spawned it ended or was interrupted");
    for (int i = 0; i < 2; i++)
        if (vm->call_ctl[i] && cvm_call_epoch_moved(atomic_load_explicit(&vm->call_ctl[i]->epoch,
                                                                         memory_order_relaxed),
                                                    vm->call_epoch[i]))
            return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "call interrupted by the host (%s)",
                                 i ? "cryo_ffi_callback_interrupt" : "cryo_sync_interrupt");
    if (vm->call_deadline && now_ns() >= vm->call_deadline)
        return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "call timed out (%llu ms)",
                             (unsigned long long)vm->call_timeout_ms);
    return CRYO_OK;
}

static cryo_error_kind charge_ops(cryo_vm *vm) {
    if (vm->call_ops && vm->ops > vm->call_ops)
        return cryo_vm_raise(vm, CRYO_ERR_TOO_MANY_OPERATIONS,
                             "too many operations in the call (budget %llu)",
                             (unsigned long long)vm->call_ops);
    cryo_gov *g = vm->gov;
    if (g && g->ops_limited && vm->ops > vm->ops_grant) {
        int64_t need = (int64_t)(vm->ops - vm->ops_grant);
        int64_t got = take(&g->ops_left, need, chunk(&g->ops_left, 1, OPS_CHUNK_MAX));
        if (!got)
            return cryo_vm_raise(vm, CRYO_ERR_TOO_MANY_OPERATIONS,
                                 "too many operations (limit %llu, shared with spawned threads)",
                                 (unsigned long long)g->ops_limit);
        vm->ops_grant += (uint64_t)got;
    }
    return CRYO_OK;
}

cryo_error_kind cvm_check_watch(cryo_vm *vm) {
    cryo_error_kind k = check_stop(vm);
    if (k == CRYO_OK) k = charge_ops(vm);
    cvm_update_watch(vm);
    return k;
}

cryo_error_kind cvm_poll_stop(cryo_vm *vm) {
    if (atomic_load_explicit(&vm->interrupt, memory_order_relaxed))
        return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "script interrupted");
    return vm->watch ? check_stop(vm) : CRYO_OK;
}

void cvm_end_run(cryo_vm *vm) {
    if (vm->jobs) clib_spawn_reap_all(vm);
    if (vm->gov_owner) cvm_gov_leave(vm);
}
