/*
 * workerpool.c — a pool of N workers, each with its own bounded queue: round-robin or
 * least-loaded submission, broadcast, statistics, orderly shutdown, and the script-side
 * `submit(f, args...)` / `join(h)` functions.
 */
#include "channel.h"
#include "vm/vm.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cryo_worker_pool {
    int n;
    cryo_pool_policy policy;
    atomic_uint next; /* round-robin cursor */
    cryo_worker **workers;
};

CRYO_API cryo_worker_pool *cryo_worker_pool_new(const cryo_pool_config *config) {
    cryo_pool_config dflt = {0};
    if (!config) config = &dflt;
    int n = config->nworkers;
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    cryo_worker_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->workers = calloc((size_t)n, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        return NULL;
    }
    p->policy = config->policy;
    atomic_init(&p->next, 0);
    bool custom = config->worker.handler != NULL;
    for (int i = 0; i < n; i++) {
        p->workers[i] =
            custom ? cryo_worker_new_custom(&config->worker) : cryo_worker_new(&config->worker);
        if (!p->workers[i]) {
            p->n = i;
            cryo_worker_pool_free(p);
            return NULL;
        }
    }
    p->n = n;
    return p;
}

CRYO_API int cryo_worker_pool_size(const cryo_worker_pool *p) {
    return p ? p->n : 0;
}

static cryo_worker *pick(cryo_worker_pool *p) {
    unsigned turn = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
    int start = (int)(turn % (unsigned)p->n);
    if (p->policy != CRYO_POOL_LEAST_LOADED) return p->workers[start];
    /* Least loaded; ties go to the round-robin turn so idle workers share the work. */
    int best = start;
    uint64_t best_load = cw_worker_load(p->workers[start]);
    for (int k = 1; k < p->n && best_load; k++) {
        int i = (start + k) % p->n;
        uint64_t l = cw_worker_load(p->workers[i]);
        if (l < best_load) {
            best = i;
            best_load = l;
        }
    }
    return p->workers[best];
}

CRYO_API cryo_future *cryo_worker_pool_submit(cryo_worker_pool *p, const cryo_query *q) {
    if (!p || p->n == 0) return cryo_worker_submit(NULL, q);
    return cryo_worker_submit(pick(p), q);
}

CRYO_API int cryo_worker_pool_broadcast(cryo_worker_pool *p, const cryo_query *q,
                                        cryo_future **futures) {
    if (!p || !q || !futures) return 0;
    int queued = 0;
    for (int i = 0; i < p->n; i++) {
        futures[i] = cryo_worker_submit(p->workers[i], q);
        if (futures[i] && cryo_future_poll(futures[i]) != CRYO_FUTURE_REJECTED) queued++;
    }
    return queued;
}

CRYO_API void cryo_worker_pool_get_stats(cryo_worker_pool *p, cryo_worker_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        cryo_worker_stats s;
        cryo_worker_get_stats(p->workers[i], &s);
        out->queued += s.queued;
        out->running += s.running;
        out->done += s.done;
        out->failed += s.failed;
        out->cancelled += s.cancelled;
        out->rejected += s.rejected;
    }
}

CRYO_API void cryo_worker_pool_shutdown(cryo_worker_pool *p, cryo_shutdown_mode mode,
                                        uint64_t grace_ms) {
    if (!p) return;
    for (int i = 0; i < p->n; i++)
        cw_worker_close(p->workers[i], mode);
    uint64_t deadline = grace_ms ? cw_now_ns() + grace_ms * 1000000ull : 0;
    for (int i = 0; i < p->n; i++)
        cw_worker_join(p->workers[i], deadline);
}

CRYO_API void cryo_worker_pool_free(cryo_worker_pool *p) {
    if (!p) return;
    cryo_worker_pool_shutdown(p, CRYO_SHUTDOWN_FINISH, 0);
    for (int i = 0; i < p->n; i++)
        cryo_worker_free(p->workers[i]);
    free(p->workers);
    free(p);
}

/* --- scripts: submit(f, args...) and join(h) --------------------------------------------- */

static void future_handle_retain(void *ptr) {
    cryo_future_retain(ptr);
}
static void future_handle_release(void *ptr) {
    cryo_future_release(ptr);
}
static const cryo_handle_type future_handle = {
    .name = "Future",
    .destroy = future_handle_release,
    .retain = future_handle_retain,
    .release = future_handle_release,
};

static cryo_error_kind script_submit(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                     cryo_value *ret) {
    cryo_worker_pool *p = ud;
    if (argc < 1) return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "submit: expected a function");
    cryo_sync *fn = cryo_value_as_sync(*argv[0]);
    cryo_error_kind k;
    if (fn) {
        cryo_sync_retain(fn);
    } else if ((k = cryo_vm_into_sync(vm, *argv[0], &fn)) != CRYO_OK) {
        return k;
    }
    int n = argc - 1;
    cryo_const args[n > 0 ? n : 1];
    int made = 0;
    k = CRYO_OK;
    for (; made < n; made++)
        if ((k = cryo_vm_freeze(vm, *argv[made + 1], &args[made])) != CRYO_OK) break;
    if (k == CRYO_OK) {
        cryo_query q = {.kind = CRYO_QUERY_SYNC, .fn = fn, .argc = n, .argv = args};
        cryo_future *f = cryo_worker_pool_submit(p, &q);
        if (!f) {
            k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "submit: out of memory");
        } else {
            *ret = cryo_value_handle(&future_handle, f); /* takes our reference */
            if (ret->type != CRYO_T_HANDLE) {
                cryo_future_release(f);
                k = cryo_vm_raise(vm, CRYO_ERR_MEMORY, "submit: out of memory");
            }
        }
    }
    for (int i = 0; i < made; i++)
        cryo_const_release(args[i]);
    cryo_sync_release(fn);
    return k;
}

static cryo_error_kind script_join(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                   cryo_value *ret) {
    (void)ud;
    (void)argc;
    cryo_future *f = cryo_value_as_handle(*argv[0], &future_handle);
    if (!f) { /* not ours: a spawn() handle, say; the standard join() serves it */
        const cryo_libreg *r = cvm_package_find(cryo_package_std(), "join", 4, 1);
        if (r) return r->fn(vm, r->userdata, argc, argv, ret);
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "join: expected a Future");
    }
    cryo_future_state s = cryo_future_wait(f);
    if (s == CRYO_FUTURE_DONE) return cryo_vm_thaw(vm, cryo_future_value(f), ret);
    const cryo_error *e = cryo_future_error(f);
    cryo_error_kind k = e ? e->kind : CRYO_ERR_RUNTIME;
    /* Limits and interrupts of the other script become ordinary (catchable) script errors. */
    if (k > CRYO_ERR_RUNTIME) k = CRYO_ERR_RUNTIME;
    return cryo_vm_raise(vm, k, "join: %s", e && e->message ? e->message : "failed");
}

CRYO_API cryo_error_kind cryo_worker_pool_expose(cryo_worker_pool *p, cryo_package *pkg) {
    if (!p || !pkg) return CRYO_ERR_API;
    cryo_error_kind k = cryo_package_add(pkg, "submit", -1, script_submit, p);
    if (k == CRYO_OK) k = cryo_package_add(pkg, "join", 1, script_join, p);
    return k;
}
