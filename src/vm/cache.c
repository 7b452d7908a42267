/*
 * cache.c — the per-thread VM cache: the one place a thread keeps VMs between calls, for
 * cryo_sync_call, FFI callbacks (libffi closures and direct thunks) and spawned threads and
 * workers (cryo_vm_pool_acquire/release). No lock: each thread has its own cache, a thread-local
 * structure (cvm_tc). One pthread key's destructor frees a thread's VMs when the thread exits;
 * cryo_vm_pool_clear frees them earlier (e.g. on the main thread, whose key destructors do not
 * run at exit()). docs/notes/vm-cache.md states the rules.
 *
 * Two parts:
 *   - the idle list: up to CVM_IDLE_MAX reset VMs. An idle VM keeps its unit and context
 *     references, so acquiring a VM for the same (unit, context) again touches no shared
 *     reference count (no atomic operation);
 *   - CVM_CACHE_KEPT kept entries: a VM kept, not reset, for one key (an opaque pointer the
 *     caller chooses: a SyncFunction, a callback's id). At most one entry is *ready*
 *     (cvm_tc.ready): its key's last caller declared it ready for its next call, and nothing
 *     ran on it since. cvm_cache_ready (vm.h) is the hot path's test of that.
 */
#include "vm.h"

#include <pthread.h>
#include <stdlib.h>

#define CVM_IDLE_MAX 16 /* idle VMs kept per thread; more are freed on release */

CRYO_API CRYO_TLS cvm_cache cvm_tc;
static pthread_key_t cache_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_ok;

static void make_key(void);

/* Registers the thread-exit destructor once per thread (the first time a VM is kept). */
static bool registered(void) {
    if (cvm_tc.registered) return true;
    pthread_once(&key_once, make_key);
    if (!key_ok || pthread_setspecific(cache_key, &cvm_tc) != 0) return false;
    cvm_tc.registered = true;
    return true;
}

/* Frees the idle VMs and the kept ones no call runs on. Freeing a VM may release a
 * SyncFunction whose release forgets its key here: each VM is detached before it is freed. */
static void free_thread_vms(void) {
    cvm_cache *c = &cvm_tc;
    c->ready = NULL;
    c->ready_kept = NULL;
    for (int i = 0; i < CVM_CACHE_KEPT; i++) {
        cvm_kept *k = &c->kept[i];
        if (!k->vm || k->busy) continue;
        cryo_vm *vm = k->vm;
        k->vm = NULL;
        k->key = NULL;
        cryo_vm_free(vm);
    }
    while (c->idle) {
        cryo_vm *vm = c->idle;
        c->idle = vm->pool_next;
        c->nidle--;
        vm->pool_next = NULL;
        cryo_vm_free(vm);
    }
    c->nidle = 0;
}

static void cache_destructor(void *arg) {
    (void)arg;
    free_thread_vms();
    cvm_tc.registered = false;
}

static void make_key(void) {
    key_ok = pthread_key_create(&cache_key, cache_destructor) == 0;
}

/* --- the idle list ------------------------------------------------------------------------- */

CRYO_API cryo_vm *cryo_vm_pool_acquire(cryo_unit *unit, cryo_context *ctx) {
    if (!unit) return NULL;
    if (!ctx) ctx = cryo_context_std();
    cvm_cache *c = &cvm_tc;
    if (c->idle) {
        /* Prefer an idle VM already set up for (unit, ctx); else take the first one. */
        cryo_vm **link = &c->idle, **pick = &c->idle;
        for (cryo_vm *vm = c->idle; vm; link = &vm->pool_next, vm = vm->pool_next)
            if (vm->unit == unit && vm->ctx == ctx) {
                pick = link;
                break;
            }
        cryo_vm *vm = *pick;
        *pick = vm->pool_next;
        vm->pool_next = NULL;
        c->nidle--;
        cryo_vm_set_unit(vm, unit);
        cryo_vm_set_context(vm, ctx);
        return vm;
    }
    return cryo_vm_new(unit, ctx);
}

CRYO_API void cryo_vm_pool_release(cryo_vm *vm) {
    if (!vm) return;
    if (vm->nframes > 0) { /* released from inside its own run: refuse quietly */
        return;
    }
    cvm_reset(vm);
    cvm_cache *c = &cvm_tc;
    if (c->nidle >= CVM_IDLE_MAX || !registered()) {
        cryo_vm_free(vm);
        return;
    }
    vm->pool_next = c->idle;
    c->idle = vm;
    c->nidle++;
}

CRYO_API void cryo_vm_pool_clear(void) {
    free_thread_vms();
}

/* --- kept VMs ------------------------------------------------------------------------------ */

/* Empties entry k (not busy) and gives its VM to the idle list, which resets it (dropping its
 * pins). */
static void drop(cvm_kept *k) {
    cryo_vm *vm = k->vm;
    if (cvm_tc.ready_kept == k) cvm_tc.ready = NULL, cvm_tc.ready_kept = NULL;
    k->vm = NULL;
    k->key = NULL;
    if (vm) cryo_vm_pool_release(vm);
}

/* An entry for a new key: an empty one, else the next not busy in turn; NULL when all run. */
static cvm_kept *victim(void) {
    cvm_cache *c = &cvm_tc;
    for (int i = 0; i < CVM_CACHE_KEPT; i++)
        if (!c->kept[i].vm) return &c->kept[i];
    for (int n = 0; n < CVM_CACHE_KEPT; n++) {
        cvm_kept *k = &c->kept[c->next++ % CVM_CACHE_KEPT];
        if (!k->busy) {
            drop(k);
            return k;
        }
    }
    return NULL;
}

CRYO_API cryo_vm *cvm_cache_take(const void *key, cryo_unit *unit, cryo_context *ctx,
                                 cvm_kept **kept, bool *fresh) {
    cvm_cache *c = &cvm_tc;
    *kept = NULL;
    *fresh = true;
    if (!ctx) ctx = cryo_context_std();
    if (c->ready == key) c->ready = NULL, c->ready_kept = NULL;
    bool nested = false;
    for (int i = 0; key && i < CVM_CACHE_KEPT; i++) {
        cvm_kept *k = &c->kept[i];
        if (k->key != key || !k->vm) continue;
        if (k->busy) { /* a call of key runs on it: this nested one takes another VM */
            nested = true;
            continue;
        }
        if (k->vm->unit == unit && k->vm->ctx == ctx) {
            k->busy = true;
            *kept = k;
            *fresh = false;
            return k->vm;
        }
        drop(k); /* the key's address was reused for another (unit, context) */
    }
    cryo_vm *vm = cryo_vm_pool_acquire(unit, ctx);
    if (!vm || !key || nested || !registered()) return vm;
    cvm_kept *k = victim();
    if (k) {
        k->key = key;
        k->vm = vm;
        k->busy = true;
        *kept = k;
    }
    return vm;
}

CRYO_API void cvm_cache_give(cvm_kept *k, cryo_vm *vm, bool clean) {
    if (!k) {
        cryo_vm_pool_release(vm);
        return;
    }
    k->busy = false;
    if (!clean || !k->key) drop(k); /* dirty, or its key was forgotten during the call */
}

CRYO_API void cvm_cache_drop_forgotten(cvm_kept *k) {
    drop(k);
}

CRYO_API void cvm_cache_forget(const void *key) {
    cvm_cache *c = &cvm_tc;
    if (!key) return;
    if (c->ready == key) c->ready = NULL, c->ready_kept = NULL;
    for (int i = 0; i < CVM_CACHE_KEPT; i++) {
        cvm_kept *k = &c->kept[i];
        if (k->key != key) continue;
        if (k->busy)
            k->key = NULL; /* the running call gives it back, and it is dropped then */
        else
            drop(k);
    }
}
