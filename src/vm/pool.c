/*
 * pool.c — per-thread pools of idle VMs. No lock: each thread has its own free list, reached
 * through a thread-local pointer. A pthread key's destructor frees a thread's idle VMs when
 * the thread exits; cryo_vm_pool_clear frees them earlier (e.g. on the main thread, whose key
 * destructors do not run at exit()).
 *
 * An idle VM keeps its unit and context references, so acquiring a VM for the same (unit,
 * context) again touches no shared reference count (no atomic operation).
 */
#include "vm.h"

#include <pthread.h>
#include <stdlib.h>

#define POOL_MAX 16 /* idle VMs kept per thread; more are freed on release */

typedef struct vm_pool {
    cryo_vm *head;
    int n;
} vm_pool;

static CRYO_TLS vm_pool *tls_pool;
static pthread_key_t pool_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_ok;

static void free_pool(vm_pool *p) {
    while (p->head) {
        cryo_vm *vm = p->head;
        p->head = vm->pool_next;
        vm->pool_next = NULL;
        cryo_vm_free(vm);
    }
    p->n = 0;
}

static void pool_destructor(void *arg) {
    vm_pool *p = arg;
    if (!p) return;
    /* Freeing a VM may release a SyncFunction whose release uses this thread's pool: keep the
     * thread-local pointer valid while freeing, then drop it. */
    free_pool(p);
    if (tls_pool == p) tls_pool = NULL;
    free(p);
}

static void make_key(void) {
    key_ok = pthread_key_create(&pool_key, pool_destructor) == 0;
}

static vm_pool *get_pool(void) {
    vm_pool *p = tls_pool;
    if (p) return p;
    pthread_once(&key_once, make_key);
    if (!key_ok) return NULL;
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (pthread_setspecific(pool_key, p) != 0) {
        free(p);
        return NULL;
    }
    tls_pool = p;
    return p;
}

CRYO_API cryo_vm *cryo_vm_pool_acquire(cryo_unit *unit, cryo_context *ctx) {
    if (!unit) return NULL;
    if (!ctx) ctx = cryo_context_std();
    vm_pool *p = tls_pool;
    if (p && p->head) {
        /* Prefer an idle VM already set up for (unit, ctx); else take the first one. */
        cryo_vm **link = &p->head, **pick = &p->head;
        for (cryo_vm *vm = p->head; vm; link = &vm->pool_next, vm = vm->pool_next)
            if (vm->unit == unit && vm->ctx == ctx) {
                pick = link;
                break;
            }
        cryo_vm *vm = *pick;
        *pick = vm->pool_next;
        vm->pool_next = NULL;
        p->n--;
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
    vm_pool *p = get_pool();
    if (!p || p->n >= POOL_MAX) {
        cryo_vm_free(vm);
        return;
    }
    vm->pool_next = p->head;
    p->head = vm;
    p->n++;
}

CRYO_API void cryo_vm_pool_clear(void) {
    cfz_sync_clear_thread(); /* the VM of the thread's last cryo_sync_call, kept out of the pool */
    vm_pool *p = tls_pool;
    if (!p) return;
    free_pool(p);
    pthread_setspecific(pool_key, NULL);
    tls_pool = NULL;
    free(p);
}
