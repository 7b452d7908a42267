/*
 * lib_sync.c — the script side of SyncFunctions: f.into_sync(), spawn(f, args...) and
 * h.join(). See docs/sync.md.
 */
#include "lang/lang.h" /* cl_error_new */
#include "vm/vm.h"
#include "lib.h"
#include "frozen/frozen.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* f.into_sync(): the SyncFunction is pinned in the VM (it lives until the VM is reset or
 * freed) and returned as an uncounted value. */
static CRYO_LIB_FN(sync_into_sync) {
    (void)ud;
    (void)argc;
    cryo_value f = *argv[0];
    if (f.type == CRYO_T_SYNCFN) {
        *ret = f;
        return CRYO_OK;
    }
    if (f.type != CRYO_T_FN)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "into_sync: expected a function, got %s",
                             cv_type_name(f));
    cryo_sync *s;
    cryo_error_kind k = cfz_sync_from_fn(vm, cv_fn(f), 0, &s);
    if (k != CRYO_OK) return k;
    if (!cfz_pin_owned(vm, &s->h)) return cvm_raise_oom(vm);
    *ret = cv_from_shared(&s->h);
    return CRYO_OK;
}

/* --- spawn / join --------------------------------------------------------------------------
 * A spawned thread runs on its own thread's pooled VM with its parent's limits, drawing on the
 * budget its parent's run shares with all its threads (govern.h). The parent's VM keeps every
 * thread it spawned on vm->jobs until joined: when its run ends (or the VM is reset or freed)
 * the threads still there are stopped (their stop flag, then an interrupt of their VM) and
 * joined, so no thread outlives the run that made it. */

#define JOIN_SLICE_MS 10 /* how often a waiting join looks at its own VM's interrupt */

typedef struct spawn_job spawn_job;

struct spawn_job {
    _Atomic int refs; /* the handle, the parent's list, the thread */
    cryo_sync *f;
    int argc;
    cryo_const *argv;
    uint64_t limits[CRYO_LIMIT__COUNT]; /* the parent's, inherited */
    cryo_gov *gov;                      /* retained */
    cryo_const result;
    cryo_error *err;
    cryo_error_kind kind;
    pthread_t thread;
    pthread_mutex_t lock;   /* guards vm, done, reaped */
    pthread_cond_t cond;    /* signalled when done */
    cryo_vm *vm;            /* the thread's VM while it runs */
    bool done;              /* the call ended: result/err/kind are final */
    bool reaped;            /* pthread_join was called (or claimed) */
    bool joined;            /* a script's join() took the result */
    atomic_int stop;        /* set by the parent: the VM stops at its next check */
    struct spawn_job *next; /* in the parent VM's jobs list */
};

static void job_unref(spawn_job *j) {
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1) return;
    cryo_sync_release(j->f);
    for (int i = 0; i < j->argc; i++)
        cryo_const_release(j->argv[i]);
    free(j->argv);
    cryo_const_release(j->result);
    cryo_error_free(j->err);
    cvm_gov_release(j->gov);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j);
}

static cryo_error_kind job_call(spawn_job *j, cryo_vm *vm) {
    memcpy(vm->limits, j->limits, sizeof vm->limits);
    cvm_limits_changed(vm);
    vm->stop = &j->stop;
    cvm_gov_join(vm, j->gov);
    cryo_value ret;
    cryo_error_kind k = cryo_sync_call_in(j->f, vm, j->argc, (const cryo_value *)j->argv, &ret);
    if (k == CRYO_OK) {
        if (cv_is_heap(ret))
            k = cryo_vm_freeze(vm, ret, &j->result);
        else
            j->result.v = ret;
        cv_release(&vm->heap, ret);
    }
    if (k != CRYO_OK) {
        const cryo_error *e = cryo_vm_error(vm);
        j->err = cl_error_new(k, e ? e->source_name : NULL, e ? e->line : 0, e ? e->column : 0,
                              "%s", e && e->message ? e->message : cryo_error_kind_name(k));
        if (j->err && e) j->err->trace = cvm_trace_copy(e->trace); /* join shows it */
    }
    cvm_gov_leave(vm);
    vm->stop = NULL;
    return k;
}

static void *job_run(void *p) {
    spawn_job *j = p;
    cryo_error_kind k = CRYO_ERR_INTERRUPTED;
    cryo_vm *vm = cryo_vm_pool_acquire(j->f->unit, j->f->ctx);
    pthread_mutex_lock(&j->lock);
    bool stopped = atomic_load(&j->stop) != 0;
    if (vm && !stopped) j->vm = vm;
    pthread_mutex_unlock(&j->lock);
    if (!vm)
        k = CRYO_ERR_MEMORY;
    else if (!stopped)
        k = job_call(j, vm);
    pthread_mutex_lock(&j->lock);
    j->vm = NULL;
    pthread_mutex_unlock(&j->lock);
    cryo_vm_pool_release(vm);
    cryo_vm_pool_clear(); /* the thread ends: free its pooled VMs */
    if (k != CRYO_OK && !j->err)
        j->err = cl_error_new(k, NULL, 0, 0, "%s",
                              k == CRYO_ERR_MEMORY ? "spawn: no VM (out of memory)"
                                                   : "thread stopped before it started");
    atomic_fetch_sub_explicit(&j->gov->threads, 1, memory_order_relaxed);
    pthread_mutex_lock(&j->lock);
    j->kind = k;
    j->done = true;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    job_unref(j);
    return NULL;
}

/* Asks a thread to stop: its stop flag (seen at its VM's next check, or before it starts) and
 * an interrupt of its VM (seen at once by a loop, and by a join or bridge call it waits in). */
static void job_stop(spawn_job *j) {
    atomic_store(&j->stop, 1);
    pthread_mutex_lock(&j->lock);
    if (j->vm) cryo_vm_interrupt(j->vm);
    pthread_mutex_unlock(&j->lock);
}

/* Joins the OS thread once, whoever asks first. */
static void job_reap(spawn_job *j) {
    pthread_mutex_lock(&j->lock);
    bool mine = !j->reaped;
    j->reaped = true;
    pthread_mutex_unlock(&j->lock);
    if (mine) pthread_join(j->thread, NULL);
}

static bool job_done(spawn_job *j) {
    pthread_mutex_lock(&j->lock);
    bool d = j->done;
    pthread_mutex_unlock(&j->lock);
    return d;
}

/* Takes j off vm's list (dropping the list's reference); false when it was not there. */
static bool unlist(cryo_vm *vm, spawn_job *j) {
    for (spawn_job **l = &vm->jobs; *l; l = &(*l)->next)
        if (*l == j) {
            *l = j->next;
            j->next = NULL;
            job_unref(j);
            return true;
        }
    return false;
}

/* Reaps the finished threads of the list, so that a loop of spawns keeps it short. */
static void reap_finished(cryo_vm *vm) {
    spawn_job **l = &vm->jobs;
    while (*l) {
        spawn_job *j = *l;
        if (!job_done(j)) {
            l = &j->next;
            continue;
        }
        job_reap(j);
        *l = j->next;
        job_unref(j);
    }
}

void clib_spawn_reap_all(cryo_vm *vm) {
    for (spawn_job *j = vm->jobs; j; j = j->next)
        job_stop(j); /* all first, so they stop in parallel */
    while (vm->jobs) {
        spawn_job *j = vm->jobs;
        vm->jobs = j->next;
        job_reap(j);
        job_unref(j);
    }
}

/* The handle dropped: the thread stays on its parent's list, joined at the latest when the
 * parent's run ends. */
static void job_destroy(void *p) {
    job_unref(p);
}

static const cryo_handle_type thread_type = {"Thread", job_destroy, NULL, NULL, NULL};

/* Counts one more thread of the tree, or refuses (false) at the limit. */
static bool count_thread(cryo_gov *g) {
    int n = atomic_load_explicit(&g->threads, memory_order_relaxed);
    do {
        if (g->max_threads && (uint64_t)n >= g->max_threads) return false;
    } while (!atomic_compare_exchange_weak_explicit(&g->threads, &n, n + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

static cryo_error_kind freeze_args(cryo_vm *vm, spawn_job *j, int argc, cryo_value **argv) {
    if (argc <= 1) return CRYO_OK;
    j->argv = calloc((size_t)argc - 1, sizeof *j->argv);
    if (!j->argv) return cvm_raise_oom(vm);
    for (int i = 1; i < argc; i++) {
        char what[48];
        snprintf(what, sizeof what, "spawn's argument %d", i);
        cryo_error_kind k = cfz_freeze_named(vm, *argv[i], what, &j->argv[i - 1]);
        if (k != CRYO_OK) return k;
        j->argc = i;
    }
    return CRYO_OK;
}

static spawn_job *job_new(void) {
    spawn_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    if (pthread_mutex_init(&j->lock, NULL) != 0) {
        free(j);
        return NULL;
    }
    if (pthread_cond_init(&j->cond, NULL) != 0) {
        pthread_mutex_destroy(&j->lock);
        free(j);
        return NULL;
    }
    atomic_init(&j->refs, 1);
    return j;
}

static CRYO_LIB_FN(sync_spawn) {
    (void)ud;
    if (argc < 1) return clib_nofn(vm, "spawn", argc, argv);
    if (!(cryo_vm_capabilities(vm) & CRYO_CAP_THREADS))
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                             "function not found: spawn (the context lacks CRYO_CAP_THREADS)");
    cryo_value f = *argv[0];
    if (f.type == CRYO_T_CELL) f = cv_cell(f)->v;
    if (f.type != CRYO_T_FN && f.type != CRYO_T_SYNCFN)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "spawn: expected a function, got %s",
                             cv_type_name(f));
    reap_finished(vm);
    cryo_gov *g = cvm_gov_of(vm);
    if (!g) return cvm_raise_oom(vm);
    if (!count_thread(g))
        return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "spawn: too many threads running (limit %llu)",
                             (unsigned long long)g->max_threads);
    spawn_job *j = job_new();
    if (!j) {
        atomic_fetch_sub_explicit(&g->threads, 1, memory_order_relaxed);
        return cvm_raise_oom(vm);
    }
    j->gov = cvm_gov_retain(g);
    memcpy(j->limits, vm->limits, sizeof j->limits);
    cryo_error_kind k = cryo_vm_into_sync(vm, f, &j->f);
    if (k == CRYO_OK) k = freeze_args(vm, j, argc, argv);
    cryo_value h = k == CRYO_OK ? cryo_value_handle(&thread_type, j) : cryo_unit_value();
    if (k == CRYO_OK && h.type != CRYO_T_HANDLE) k = cvm_raise_oom(vm);
    if (k != CRYO_OK) {
        atomic_fetch_sub_explicit(&g->threads, 1, memory_order_relaxed);
        job_unref(j);
        return k;
    }
    atomic_store(&j->refs, 3); /* the handle, the list and the thread */
    if (pthread_create(&j->thread, NULL, job_run, j) != 0) {
        atomic_fetch_sub_explicit(&g->threads, 1, memory_order_relaxed);
        atomic_store(&j->refs, 1); /* the handle's, dropped below */
        cryo_value_release(h);
        return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "spawn: cannot create a thread");
    }
    j->next = vm->jobs;
    vm->jobs = j;
    *ret = h;
    return CRYO_OK;
}

/* Waits for j's call to end; gives up (raising) when vm is interrupted or stopped. */
static cryo_error_kind wait_done(cryo_vm *vm, spawn_job *j) {
    pthread_mutex_lock(&j->lock);
    while (!j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += JOIN_SLICE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cond, &j->lock, &ts);
        if (j->done) break;
        pthread_mutex_unlock(&j->lock);
        cryo_error_kind k = cvm_poll_stop(vm);
        if (k != CRYO_OK) return k; /* the run ends: its end stops and joins j */
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    return CRYO_OK;
}

static CRYO_LIB_FN(sync_join) {
    (void)ud;
    spawn_job *j = cryo_value_as_handle(*argv[0], &thread_type);
    if (!j) return clib_nofn(vm, "join", argc, argv);
    if (j->joined)
        return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "join: the thread was already joined");
    cryo_error_kind k = wait_done(vm, j);
    if (k != CRYO_OK) return k;
    job_reap(j);
    unlist(vm, j);
    j->joined = true;
    if (j->kind != CRYO_OK) {
        k = cryo_vm_raise(vm, j->kind, "%s",
                          j->err && j->err->message ? j->err->message : "spawned call failed");
        /* the thread's own calls, then where it was joined: one chain from the failure up */
        if (j->err && j->err->trace)
            cvm_trace_prepend(vm->err, j->err->trace, CRYO_FRAME_THREAD, "<spawned thread>");
        return k;
    }
    cryo_value v;
    k = cryo_vm_thaw(vm, j->result, &v);
    if (k != CRYO_OK) return k;
    /* The value comes back into this run: its nested sizes count against this VM's limits
     * (memoized per shared object, so a value of many shared paths is measured quickly). */
    k = cvm_check_data(vm, v);
    if (k != CRYO_OK) return k;
    *ret = v;
    return CRYO_OK;
}

const cryo_libreg clib_sync[] = {
    {"into_sync", 1, sync_into_sync, NULL},
    {"spawn", -1, sync_spawn, NULL},
    {"join", 1, sync_join, NULL},
    {NULL, 0, NULL, NULL},
};
