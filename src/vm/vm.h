/*
 * vm.h — the VM's state, the host-function ABI and contexts (internal).
 *
 * Registers live on a segmented stack: fixed-size segments that never move, so a pointer to a
 * register (a host function's argv, a method's `this`) stays valid while the frame lives,
 * even when a nested call needs a new segment. A frame fits in one segment; when a call does
 * not fit in the rest of the current segment, its arguments are copied to the next one.
 *
 * Layer (src/vm/): this header, which ends by including govern.h (bounds of spawned threads
 * and bounded calls), is the VM layer's interface: the dispatch loop, calls, the API,
 * contexts, packages, the per-thread VM pool. It may use the value and lang layers
 * (value/value.h, lang/lang.h). The layers above (frozen, lib) provide a few functions the VM
 * calls at reset and on a SyncFn value; they are declared at the end ("Provided by the layers
 * above"), so that no VM file includes a header of a higher layer.
 */
#ifndef CRYO_VM_H
#define CRYO_VM_H

#include "cryo.h"
#include "lang/lang.h"
#include "value/value.h"
#include <stdatomic.h>

/* --- host functions ------------------------------------------------------------------------ */

/* cryo_host_fn, cryo_vm_raise and cryo_vm_call_value are public: see cryo.h. */

/* One registration: name, arity (-1 = any number of arguments), function, userdata. */
typedef struct cryo_libreg {
    const char *name;
    int arity;
    cryo_host_fn fn;
    void *userdata;
} cryo_libreg;

/* The standard library, one table per concern (lib/lib_*.c), each ended by a {NULL} entry. */
extern const cryo_libreg clib_core[];   /* print, debug, type_of, Fn, call, curry, ... */
extern const cryo_libreg clib_math[];   /* abs, sqrt, sin, floor, parse_int, to_int, ... */
extern const cryo_libreg clib_string[]; /* len, sub_string, split, trim, replace, ... */
extern const cryo_libreg clib_array[];  /* push, pop, insert, remove, map, filter, sort, ... */
extern const cryo_libreg clib_map[];    /* keys, values, remove, contains, mixin, ... */
extern const cryo_libreg clib_sync[];   /* into_sync, spawn, join (lib_sync.c) */
extern const cryo_libreg clib_json[];   /* parse_json, to_json (lib_json.c) */

/* A context: sealed packages searched in order, capabilities and default limits (context.c).
 * Immutable once created; `refcount` is atomic; `is_static` for the std/raw contexts. */
struct cryo_context {
    atomic_uint refcount;
    bool is_static;
    int npackages;
    unsigned capabilities;              /* CRYO_CAP_* */
    uint64_t limits[CRYO_LIMIT__COUNT]; /* defaults for new/reset VMs */
    cryo_package **packages;            /* each retained */
    uint64_t id;                        /* unique for the process (keys unit bindings) */
    struct cvm_modules *modules; /* resolvers and the module unit cache (module.c), or NULL */
};

/* Modules (module.c). The registry a context owns: NULL with *bad = false when cfg is NULL,
 * *bad = true for an invalid config; freed with cvm_modules_free. */
struct cvm_modules *cvm_modules_new(const cryo_module_config *cfg, bool *bad);
void cvm_modules_free(struct cvm_modules *m);
/* The intrinsic a unit's host slot "$import", "$modcall", ... binds to (parse.c desugars the
 * module syntax into them); NULL if none. */
const cryo_libreg *cvm_module_intrinsic(const char *name, int arity);
/* Drops a VM's module values and `global::` constants (reset and free). */
void cvm_module_vm_release(cryo_vm *vm);
/* map[key (len bytes)] = v, taking v's reference even when it fails (false: out of memory).
 * The one string-keyed map store of the layers above value/ (module.c; ext's cv_ffi_map_set). */
bool cvm_map_put(cryo_vm *vm, cryo_value map, const char *key, size_t len, cryo_value v);

/* Looks up a function by name and arity (falling back to arity -1 entries). NULL if none.
 * Not for the hot path: calls bind once per (unit, context), see cvm_unit_bind. */
const cryo_libreg *cvm_context_find(const cryo_context *ctx, const char *name, size_t len,
                                    int arity);

/* Looks up a function in a sealed package (its own functions, then its includes in order),
 * exact arity only (-1 looks up variadic entries). NULL if none. (package.c) */
const cryo_libreg *cvm_package_find(const cryo_package *pkg, const char *name, size_t len,
                                    int arity);
/* The same with the hash of (name, arity) computed once by cvm_fn_hash (package.c). */
uint32_t cvm_fn_hash(const char *name, size_t len, int arity);
const cryo_libreg *cvm_package_find_h(const cryo_package *pkg, const char *name, size_t len,
                                      int arity, uint32_t hash);
/* a < b through a host type's binary hook, for sort() without a comparer (hosttype.c): *lt
 * the answer, *done false when neither operand's type answers '<'. A non-bool answer raises
 * CRYO_ERR_TYPE. */
cryo_error_kind cvm_host_less(cryo_vm *vm, cryo_value a, cryo_value b, bool *lt, bool *done);
/* The host type registered under `name` in a sealed package (its own, then its includes in
 * order), or NULL (package.c); cvm_context_find_type searches a context's packages in order
 * (context.c). For image loading: not on any hot path. */
const cryo_handle_type *cvm_package_find_type(const cryo_package *pkg, const char *name);
const cryo_handle_type *cvm_context_find_type(const cryo_context *ctx, const char *name);
/* A sealed package over borrowed registration tables (each ended by {NULL}; the first
 * registration of a (name, arity) wins); NULL when out of memory. (package.c) */
cryo_package *cvm_package_from_tables(const char *name, const cryo_libreg *const *tables,
                                      int ntables);

/* Builds a context from `ntables` registration tables (each ended by a {NULL} entry; the first
 * registration of a (name, arity) wins). The tables are borrowed and must outlive the context.
 * NULL when out of memory. Freed with cryo_context_free (never for std/raw). (Addition, VM
 * owner.) */
cryo_context *cvm_context_from_tables(const cryo_libreg *const *tables, int ntables);
void cvm_context_free_tables(cryo_context *ctx);

/* The host slots of one unit bound to one context; cached in the unit (unit.h). */
typedef struct cryo_binding {
    const cryo_context *ctx;
    uint64_t ctx_id; /* the context's cryo_context.id: addresses of freed contexts are reused */
    struct cryo_binding *next;
    const cryo_libreg *slots[]; /* unit->nhosts entries; NULL = not found */
} cryo_binding;

/* Returns the binding of `u` to `ctx`, creating and caching it on first use (thread-safe). */
const cryo_binding *cvm_unit_bind(cryo_unit *u, const cryo_context *ctx);

/* --- the VM -------------------------------------------------------------------------------- */

typedef struct cryo_frame {
    const cryo_proto *proto;
    const cryo_instr *pc;        /* next instruction */
    cryo_value *base;            /* R[0] */
    cryo_fn *closure;            /* the running closure (captures), or NULL */
    cryo_value *this_ref;        /* where `this` lives (method calls), or NULL */
    const cryo_binding *binding; /* host slots of proto->unit in this VM's context */
    cryo_value *ret_slot;        /* where the caller wants the result */
    int run_level;               /* nesting of cvm_exec entries (host -> script calls) */
} cryo_frame;

typedef struct cryo_handler {
    int frame; /* index in vm->frames */
    int reg;   /* register for the caught value */
    const cryo_instr *target;
    int run_level;
} cryo_handler;

typedef struct cryo_segment {
    struct cryo_segment *next;
    struct cryo_segment *prev;
    size_t size; /* values */
    cryo_value slots[];
} cryo_segment;

struct cryo_vm {
    cryo_heap heap;
    cryo_unit *unit;             /* retained */
    const cryo_context *ctx;     /* retained (cryo_context_retain) */
    const cryo_binding *binding; /* unit's host slots in ctx */

    cryo_segment *seg; /* current segment */
    cryo_value *top;   /* first free register in seg */
    cryo_frame *frames;
    int nframes, capframes;
    cryo_handler *handlers;
    int nhandlers, caphandlers;
    int run_level;

    cryo_error *err; /* last error (owned) */
    /* An error was raised since the per-run state was last reset (set by every raise, cleared
     * only by a full reset): while false, err, thrown, caught_kind, the handlers, the run level
     * and the heap's exceeded flag are known to be clean, which is the one test a SyncFunction's
     * hot call makes instead of checking each (sync.h). */
    bool dirty;
    cryo_value thrown;           /* value of a pending `throw` / the last caught error */
    cryo_error_kind caught_kind; /* kind of the last caught error, for `throw;` */

    uint64_t limits[CRYO_LIMIT__COUNT];
    uint64_t depth_max; /* the call depth limit, INT_MAX when none (from limits) */
    bool data_limits;   /* a string, array or map size limit is set (from limits) */
    uint64_t ops;       /* operations counted in this run */
    atomic_int interrupt;

    cryo_print_fn print_fn, debug_fn;
    void *print_ud, *debug_ud;

    /* --- additions (VM owner) --- */
    bool thrown_pending; /* vm->err comes from `throw v`: vm->thrown holds v */

    /* --- additions (sync owner): frozen objects (ConstValues, SyncFunctions) this VM may
     * hold uncounted values into; each holds one atomic reference. Released by
     * cfz_release_pins (sync.h) on VM reset and free. */
    cryo_obj **pins;
    int npins, cappins;
    /* A hash set over pins[] once the list is long (O(1) "already pinned?"), and the bytes of
     * frozen objects this VM made, charged to its heap (memory limit) until the pins go. */
    cryo_obj **pin_set;
    size_t pin_set_cap; /* power of two, or 0 while pins[] is scanned */
    size_t frozen_bytes;

    /* --- additions (eval, lib_core.c): units compiled by eval(); values of this VM may point
     * into their constants (uncounted), so they live until clib_vm_release_evals, on VM reset
     * and free. */
    struct cryo_eval_unit *evals;
    int nevals, capevals;

    /* --- additions (embedding: vm_api.c, cache.c) --- */
    uint64_t ops_max; /* next vm->ops value at which COUNT_OPS calls cvm_check_ops */
    cryo_progress_fn progress_fn;
    void *progress_ud;
    uint64_t progress_every; /* 0 = no progress callback */
    uint64_t progress_next;  /* vm->ops value of the next progress call */
    void *userdata;
    struct cryo_vm *pool_next; /* the idle list of the thread's VM cache (cache.c) */

    /* --- additions (governed threads and bounded calls: lib_sync.c, sync.c, govern.c) ---
     * While `watch` is set, cvm_check_ops also runs cvm_check_watch at vm->ops ==
     * watch_max (folded into ops_max), so these cost nothing per instruction. */
    bool watch;
    uint64_t watch_max;     /* next vm->ops at which cvm_check_watch runs */
    struct cryo_gov *gov;   /* the budget and thread count shared with spawned threads */
    bool gov_owner;         /* this VM's run made `gov` (ends it when the run ends) */
    uint64_t ops_grant;     /* gov: vm->ops may reach this before taking another chunk */
    uint64_t mem_granted;   /* gov: bytes taken from the shared memory budget */
    struct spawn_job *jobs; /* threads this VM's run spawned, not yet joined by the C side */
    const atomic_int *stop; /* a spawned thread's VM: set by the parent to stop it */
    const struct cryo_call_ctl *call_ctl[2]; /* bounded call: the SyncFunction's, callback's */
    uint64_t call_epoch[2];                  /* their interrupt epochs when the call began */
    uint64_t call_ops;                       /* operations budget of the call (0 = none) */
    uint64_t call_deadline;   /* CLOCK_MONOTONIC ns at which the call times out (0 = none) */
    uint64_t call_timeout_ms; /* for the message */
    const struct cryo_call_ctl *next_cb_ctl;    /* set by a callback for the call it starts */
    const struct cryo_call_bounds *next_bounds; /* per-call bounds for the call it starts */

    /* --- additions (the line hook: debug.c). cvm_exec picks its dispatch table by
     * line_hook at entry, so a VM without a hook never reads the rest. --- */
    cryo_line_hook line_hook;
    void *line_ud;
    int dbg_depth;               /* where the hook last looked: frame count, */
    const cryo_proto *dbg_proto; /* function, */
    const cryo_instr *dbg_ip;    /* instruction */
    int dbg_line;                /* and line */

    /* --- additions (modules: module.c): the modules imported in this VM, the module being
     * built, the main script's constants for global::; NULL until the first import. --- */
    struct cvm_modvm *modstate;
};

/* Recomputes vm->depth_max and vm->data_limits after vm->limits changed. (vm_api.c) */
void cvm_limits_changed(cryo_vm *vm);
/* Recomputes vm->ops_max from the operation limit and the progress callback. (vm_api.c) */
void cvm_update_ops_max(cryo_vm *vm);
/* Resets an idle VM to its context's defaults: error, hooks, limits, progress, userdata.
 * (vm_api.c; used by the pool) */
void cvm_reset(cryo_vm *vm);

/* Errors and limits (limits.c). Raises the error for a failed allocation: CRYO_ERR_MEMORY
 * (limit or out of memory). */
cryo_error_kind cvm_raise_oom(cryo_vm *vm);

/* Checks a size against the limits: CRYO_OK or raises CRYO_ERR_DATA_TOO_LARGE. */
cryo_error_kind cvm_check_string(cryo_vm *vm, size_t bytes);
cryo_error_kind cvm_check_array(cryo_vm *vm, size_t len);
cryo_error_kind cvm_check_map(cryo_vm *vm, size_t len);

/* THE nested-size check: checks a value against the string, array and map size limits the way
 * Rhai does: the sizes are totals over the whole value tree (elements of nested arrays count
 * toward the array limit, and so on; a value reachable twice counts twice), raising
 * CRYO_ERR_DATA_TOO_LARGE. CRYO_OK at once when none of those limits is set. The totals of an
 * object reached by several references are computed once (linear in distinct objects). Call it
 * once after a container grew, and on any value brought into a VM from outside (join, a bridge
 * reply). (limits.c) */
cryo_error_kind cvm_check_data(cryo_vm *vm, cryo_value v);

/* Calls `fn` with `this` referring to *this_ref (which SETTHIS in the callee may overwrite),
 * otherwise as cryo_vm_call_value. (Addition, VM owner.) */
cryo_error_kind cvm_call_method(cryo_vm *vm, cryo_value fn, cryo_value *this_ref, int argc,
                                const cryo_value *argv, cryo_value *ret);

/* --- VM internals shared by vm.c, stack.c, limits.c, vm_call.c and vm_api.c ----------------- */

#define CRYO_VM_MAX_RUN_LEVEL 100 /* host -> script re-entry nesting (bounds the C stack) */

/* Runs the top frame until the frame count drops back to `stop`; the entry frame's result is
 * stored in its ret_slot. On an error not caught at this run level, the frames above `stop`
 * are unwound and the kind returned. */
CRYO_API cryo_error_kind cvm_exec(cryo_vm *vm, int stop); /* exported for cfz_sync_run_hot_inline */
/* The same loop with the line hook before every instruction (debug_exec.c); cvm_exec calls
 * it when vm->line_hook is set. */
cryo_error_kind cvm_exec_hooked(cryo_vm *vm, int stop);

/* The register stack (stack.c). Allocates the first segment and the frames array if needed;
 * false when out of memory. */
bool cvm_prepare(cryo_vm *vm);

/* Before a first frame of `nregs` registers on an idle, prepared VM (its arguments not yet
 * written): makes the first segment, where such a frame starts, hold them. False (nothing
 * raised) when out of memory or past the memory limit. */
bool cvm_fit_first(cryo_vm *vm, size_t nregs);

/* Makes room for one more frame in vm->frames; false (nothing raised) when out of memory. */
bool cvm_grow_frames(cryo_vm *vm);

/* Returns where a frame of `nregs` registers wanting to start at `want` can start: `want`
 * itself when it fits in the current segment, else the start of the next segment (made
 * current; its first `nmove` values are moved from `want`). NULL when out of memory. */
cryo_value *cvm_fit_frame(cryo_vm *vm, cryo_value *want, size_t nregs, size_t nmove);

/* After a frame starting at `base` was popped: makes the previous segment current again when
 * that frame had opened the current one. */
void cvm_pop_segment(cryo_vm *vm, cryo_value *base);

/* Releases the frames above `nframes` (their registers and handlers). */
void cvm_unwind(cryo_vm *vm, int nframes);

/* Clears n registers from r, releasing their values (stack.c's unwind, the calls in vm_call.c). */
static inline void cvm_release_regs(cryo_heap *h, cryo_value *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cryo_value v = r[i];
        cv_clear(&r[i]);
        cv_release(h, v);
    }
}

/* Checks the interrupt flag and the operation limit (after vm->ops was incremented). */
cryo_error_kind cvm_check_ops(cryo_vm *vm);

/* Governed threads and bounded calls (govern.c). cvm_check_watch runs from
 * cvm_check_ops when vm->watch is set: a spawned thread's stop flag, the interrupt epochs
 * and the deadline and operations budget of a bounded call, the shared budget of a run and its
 * threads. CRYO_OK or raises. cvm_poll_stop is the same test for a VM that waits (join):
 * the interrupt flag too, no operation counted. */
cryo_error_kind cvm_check_watch(cryo_vm *vm);
cryo_error_kind cvm_poll_stop(cryo_vm *vm);
/* Recomputes vm->watch and vm->watch_max from the fields above. */
void cvm_update_watch(cryo_vm *vm);
/* When a run ends (and at reset and free): stops and joins the threads the run spawned, gives
 * back what its budget grants did not use, ends the bounded call. */
void cvm_end_run(cryo_vm *vm);

/* The slow parts of CALLH and CALLV (vm_call.c). *pushed is set when CALLV pushed a script
 * frame that the dispatch loop must now run. */
cryo_error_kind cvm_op_callh(cryo_vm *vm, cryo_value *base, cryo_instr i, cryo_instr x);
cryo_error_kind cvm_op_callv(cryo_vm *vm, cryo_value *base, cryo_instr i, bool *pushed);
/* SETPATH (vm_path.c): `words` are its 1 + B raw words. */
cryo_error_kind cvm_op_setpath(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr i,
                               const cryo_instr *words);
/* The receiver slot of a call in mode CRYO_RECV_PATH, from the pin PIN left in pin[0..1]; NULL
 * with an error raised when they are not what PIN leaves (hostile bytecode). */
cryo_value *cvm_path_recv(cryo_vm *vm, cryo_value *pin);

/* Host slots of `u` in the VM's context (vm->binding for the VM's own unit). */
const cryo_binding *cvm_binding(cryo_vm *vm, cryo_unit *u);

/* Raises NOT_FOUND "function not found: name(t1, t2)" from argument types. */
cryo_error_kind cvm_fn_not_found(cryo_vm *vm, const char *name, size_t len, int argc,
                                 cryo_value *const *argv);

/* --- operators on values (ops.c): the slow paths behind the VM's fast paths --------------------
 * Each stores an owned result in *out (which the caller then owns; *out is overwritten without
 * release) and returns CRYO_OK, or raises and returns the error kind. Operands are borrowed. */

/* ADD..GE, IN for the opcode `op` (OP_ADD, ..., OP_IN): every type combination Rhai allows
 * (int/float mixing, string + anything, char + string, array + array, ...), checked int
 * arithmetic (overflow and division by zero are CRYO_ERR_ARITHMETIC), type errors naming both
 * types ("cannot apply '+' to i64 and bool"). */
cryo_error_kind cvm_op_binary(cryo_vm *vm, int op, cryo_value a, cryo_value b, cryo_value *out);
cryo_error_kind cvm_op_unary(cryo_vm *vm, int op, cryo_value a, cryo_value *out); /* NEG, NOT */

/* obj[idx] for arrays, strings (a char), maps (string key; missing = ()), ints (bit idx). */
cryo_error_kind cvm_op_getindex(cryo_vm *vm, cryo_value obj, cryo_value idx, cryo_value *out);
/* *obj[idx] = v (v's reference is taken; obj made unique first). */
cryo_error_kind cvm_op_setindex(cryo_vm *vm, cryo_value *obj, cryo_value idx, cryo_value v);
/* obj.name: maps (missing = ()); other types call the host getter of that name, one argument. */
cryo_error_kind cvm_op_getfield(cryo_vm *vm, cryo_value *obj, const cryo_string *name,
                                cryo_value *out);
cryo_error_kind cvm_op_setfield(cryo_vm *vm, cryo_value *obj, const cryo_string *name,
                                cryo_value v);
/* Appends to_string(v) to *s (string interpolation and CONCAT). */
cryo_error_kind cvm_op_concat(cryo_vm *vm, cryo_string **s, cryo_value v);

/* cv_append_repr for the VM, bounded by the host's limits (ops.c): on the VM's heap
 * (memory limit), one operation per element of nested arrays and maps (cvm_charge: the
 * operations limit and the interrupt stop it), and it stops once the text passes the string
 * size limit, so printing data reachable by 2^40 paths ends. CRYO_OK, or the kind raised
 * (DATA_TOO_LARGE, MEMORY, TOO_MANY_OPERATIONS, INTERRUPTED); *s stays valid either way. */
cryo_error_kind cvm_append_repr(cryo_vm *vm, cryo_string **s, cryo_value v, bool debug);

/* The line hook's check before instruction `ip` of the top frame `f` (debug.c): calls the hook
 * when the run reached a new line; CRYO_OK, or raises CRYO_ERR_INTERRUPTED when it said stop. */
cryo_error_kind cvm_debug_step(cryo_vm *vm, const cryo_frame *f, const cryo_instr *ip);

/* print()/debug() output through the VM's hooks. */
void cvm_print(cryo_vm *vm, const char *text, size_t len);
void cvm_debug(cryo_vm *vm, const char *text, size_t len);

/* --- provided by the layers above (declared here: the VM may not include their headers) --- */

/* Drops the units eval() compiled (lib_core.c); call after the values that may point into
 * them are gone. */
void clib_vm_release_evals(cryo_vm *vm);

/* Drops every pin (VM reset and free). frozen/pin.c; see frozen/sync.h. */
void cfz_release_pins(cryo_vm *vm);

/* For calls of a SyncFunction value from a script: pins it and returns an uncounted CRYO_T_FN
 * value of its shared fn (which the call machinery treats like any closure). frozen/sync.c. */
cryo_value cfz_sync_fn_value(cryo_vm *vm, cryo_value syncv);

/* --- the per-thread VM cache (cache.c; docs/notes/vm-cache.md) ------------------------------
 * A thread keeps up to CVM_CACHE_KEPT VMs, each for one key (an opaque pointer its caller
 * chooses and never reuses for another owner while a VM is kept for it: a SyncFunction, whose
 * last release forgets it; a callback's process-unique id), next to the idle list of
 * cryo_vm_pool_acquire/release. The rule: a kept VM is never handed out while a call runs on
 * it (busy), so a nested call of the same key takes another VM; at most one entry is *ready*,
 * the one whose last caller said it is ready for its key's next call, with nothing run on it
 * since; forgetting a key (cvm_cache_forget) leaves nothing kept or ready for it. Every VM of
 * the cache is freed at thread exit or by cryo_vm_pool_clear. Thread rules: all of it is the
 * calling thread's; no lock, no atomic operation. */
#define CVM_CACHE_KEPT 4

typedef struct cvm_kept {
    const void *key; /* NULL: empty, or forgotten while busy */
    cryo_vm *vm;
    bool busy; /* a call runs on vm */
} cvm_kept;

typedef struct cvm_cache {
    const void *ready;    /* the key whose kept VM is ready, else NULL */
    cvm_kept *ready_kept; /* its entry */
    cvm_kept kept[CVM_CACHE_KEPT];
    unsigned next; /* the next entry to evict, in turn */
    cryo_vm *idle; /* the idle list (vm->pool_next) */
    int nidle;
    bool registered; /* the thread-exit destructor is set */
} cvm_cache;

CRYO_API extern CRYO_TLS cvm_cache cvm_tc;

/* The hot path's test: the entry of key's kept VM when it is ready, else NULL. Two loads and a
 * compare; the caller then runs it between cvm_cache_enter and cvm_cache_leave. */
static inline cvm_kept *cvm_cache_ready(const void *key) {
    return cvm_tc.ready == key ? cvm_tc.ready_kept : NULL;
}

/* Marks the ready entry k busy (no longer ready: a nested call takes another VM); its VM. */
static inline cryo_vm *cvm_cache_enter(cvm_kept *k) {
    cvm_tc.ready = NULL;
    k->busy = true;
    return k->vm;
}

CRYO_API void cvm_cache_drop_forgotten(cvm_kept *k);

/* Ends a call on k (from cvm_cache_enter or cvm_cache_take): ready for key's next call when
 * ready_again says so (the caller's check: nothing raised, nothing new pinned); a VM whose key
 * was forgotten during the call goes to the idle list. */
static inline void cvm_cache_leave(cvm_kept *k, const void *key, bool ready_again) {
    k->busy = false;
    if (__builtin_expect(k->key != key, 0)) {
        cvm_cache_drop_forgotten(k);
        return;
    }
    if (ready_again) {
        cvm_tc.ready = key;
        cvm_tc.ready_kept = k;
    }
}

/* The slow path: a VM for (unit, ctx) and key — key's kept VM when it is idle and bound to
 * (unit, ctx) (*fresh = false: not reset since its last call), else one from the idle list or a
 * new one (*fresh = true), kept for key when an entry is free or can be evicted (*kept, busy;
 * NULL when not kept: a NULL key, a nested call of key, all entries busy). NULL when out of
 * memory. Give it back with cvm_cache_give, or cvm_cache_leave when *kept. */
CRYO_API cryo_vm *cvm_cache_take(const void *key, cryo_unit *unit, cryo_context *ctx,
                                 cvm_kept **kept, bool *fresh);

/* Gives back a VM of cvm_cache_take: when k is NULL, to the idle list (reset); else it stays
 * kept (not ready) when clean, and goes to the idle list otherwise. */
CRYO_API void cvm_cache_give(cvm_kept *k, cryo_vm *vm, bool clean);

/* Forgets key on the calling thread: its kept VMs go to the idle list (a busy one when its call
 * ends), and nothing stays ready for it. */
CRYO_API void cvm_cache_forget(const void *key);

#include "govern.h" /* part of this layer's interface */
#include "trace.h"  /* the same: errors crossing threads copy their traces */

#endif
