/*
 * worker.c — a worker: one thread serving queries from a bounded channel, one at a time.
 *
 * The worker thread takes a future (the job) from its queue, marks it RUNNING, runs it on a VM
 * of the thread's VM pool and resolves it. Cancellation reaches a running script two ways: the
 * canceller calls cryo_vm_interrupt on the job's VM (fast), and the VM's progress callback,
 * called every PROGRESS_EVERY operations, checks the job's cancel flag and deadline (this one
 * also covers a cancel that lands before the run has cleared the VM's interrupt flag).
 */
#include "channel.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_QUEUE  1024
#define PROGRESS_EVERY 4096

struct cryo_worker {
    pthread_t thread;
    bool started;
    cryo_chan *queue;
    cryo_worker_counters counters;
    cryo_context *ctx; /* retained */
    bool fail_when_full;
    uint64_t timeout_ms;
    uint64_t limits[CRYO_LIMIT__COUNT];
    cryo_print_fn print;
    void *print_ud;
    cryo_worker_handler handler;
    void *(*init)(void *userdata);
    void (*fini)(void *state);
    void *userdata;

    atomic_bool cancel_all; /* shutdown CANCEL: cancel everything still queued or running */
    pthread_mutex_t mu;     /* guards current, exited, closing/joined */
    pthread_cond_t cv;      /* signalled when the thread exits */
    cryo_future *current;   /* the running job (retained by the thread) */
    bool exited, closed, joined;

    /* worker thread only */
    cryo_unit *loaded; /* the loaded unit (retained) */
    cryo_unit *empty;  /* an empty unit for SyncFunction calls before any load */
    void *state;       /* the custom handler's state */
};

/* --- running a job on a VM ------------------------------------------------------------------ */

static bool job_progress(void *ud, uint64_t ops) {
    (void)ops;
    cryo_future *f = ud;
    if (atomic_load_explicit(&f->cancel, memory_order_relaxed)) return false;
    if (f->deadline_ns && cw_now_ns() >= f->deadline_ns) {
        f->timed_out = true;
        return false;
    }
    return true;
}

/* Attaches / detaches the VM that runs f. Returns false when f was cancelled already. */
static bool watch_vm(cryo_future *f, cryo_vm *vm) {
    pthread_mutex_lock(&f->mu);
    f->vm = vm;
    bool cancelled = atomic_load(&f->cancel);
    pthread_mutex_unlock(&f->mu);
    return !cancelled;
}

static cryo_vm *job_vm(cryo_worker *w, cryo_future *f, cryo_unit *unit) {
    cryo_vm *vm = cryo_vm_pool_acquire(unit, w->ctx);
    if (!vm) return NULL;
    for (int i = 0; i < CRYO_LIMIT__COUNT; i++)
        if (w->limits[i]) cryo_vm_set_limit(vm, (cryo_limit)i, w->limits[i]);
    if (w->print) cryo_vm_set_print(vm, w->print, w->print_ud);
    cryo_vm_set_progress(vm, job_progress, f, PROGRESS_EVERY);
    return vm;
}

static void drop_vm(cryo_future *f, cryo_vm *vm) {
    watch_vm(f, NULL);
    cryo_vm_pool_release(vm);
}

/* The answer of one job. */
typedef struct answer {
    cryo_future_state state;
    cryo_const value;
    cryo_error *err;
} answer;

static answer ok_answer(cryo_const v) {
    return (answer){CRYO_FUTURE_DONE, v, NULL};
}

static answer fail_answer(cryo_error *err) {
    return (answer){CRYO_FUTURE_FAILED, cryo_const_unit(), err};
}

static answer oom_answer(void) {
    return fail_answer(cw_worker_error(CRYO_ERR_MEMORY, "out of memory"));
}

/* After a run that returned `k`: the answer, with the VM's result frozen. */
static answer finish_run(cryo_vm *vm, cryo_future *f, cryo_error_kind k, cryo_value result) {
    if (k == CRYO_OK) {
        cryo_const out;
        k = cryo_vm_freeze(vm, result, &out);
        cryo_value_release(result);
        if (k == CRYO_OK) return ok_answer(out);
    } else {
        cryo_value_release(result);
    }
    if (k == CRYO_ERR_INTERRUPTED && f->timed_out)
        return fail_answer(cw_worker_error(CRYO_ERR_INTERRUPTED, "query timed out after %llu ms",
                                           (unsigned long long)f->timeout_ms));
    cryo_error *e = cw_worker_error_copy(cryo_vm_error(vm));
    if (!e) e = cw_worker_error(k, "%s", cryo_error_kind_name(k));
    return fail_answer(e);
}

static cryo_unit *compile_job(cryo_future *f, answer *a) {
    cryo_compile_options opts = {.source_name = f->source_name};
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(f->source, f->source_len, &opts, &err);
    if (!u) {
        /* The first error carries the position; the rest of the chain is dropped. */
        if (err) {
            cryo_error_free(err->next);
            err->next = NULL;
        }
        *a = fail_answer(err ? err : cw_worker_error(CRYO_ERR_MEMORY, "out of memory"));
    }
    return u;
}

/* Thaws the job's arguments into vm values (owned, in out[]). */
static cryo_error_kind thaw_args(cryo_vm *vm, cryo_future *f, cryo_value *out) {
    for (int i = 0; i < f->argc; i++) {
        cryo_error_kind k = cryo_vm_thaw(vm, f->argv[i], &out[i]);
        if (k != CRYO_OK) {
            for (int j = 0; j < i; j++)
                cryo_value_release(out[j]);
            return k;
        }
    }
    return CRYO_OK;
}

static answer run_job(cryo_worker *w, cryo_future *f) {
    answer a;
    cryo_unit *unit = NULL;
    switch (f->kind) {
    case CRYO_QUERY_LOAD:
    case CRYO_QUERY_EVAL:
        if (f->unit) {
            unit = cryo_unit_retain(f->unit);
        } else if (f->source) {
            if (!(unit = compile_job(f, &a))) return a;
        } else {
            return fail_answer(cw_worker_error(CRYO_ERR_API, "query without unit or source"));
        }
        break;
    case CRYO_QUERY_CALL:
        if (!w->loaded)
            return fail_answer(cw_worker_error(CRYO_ERR_API, "call of '%s': no unit loaded",
                                               f->name ? f->name : "?"));
        if (!f->name) return fail_answer(cw_worker_error(CRYO_ERR_API, "call without a name"));
        unit = cryo_unit_retain(w->loaded);
        break;
    case CRYO_QUERY_SYNC:
        if (!f->fn) return fail_answer(cw_worker_error(CRYO_ERR_API, "SYNC query without fn"));
        if (!w->empty) {
            w->empty = cryo_compile("", 0, NULL, NULL);
            if (!w->empty) return oom_answer();
        }
        unit = cryo_unit_retain(w->loaded ? w->loaded : w->empty);
        break;
    case CRYO_QUERY_MESSAGE: {
        if (!w->handler) return fail_answer(cw_worker_error(CRYO_ERR_API, "not a custom worker"));
        cryo_const out = cryo_const_unit();
        cryo_error *err = NULL;
        cryo_error_kind k = w->handler(w->state, (cryo_job *)f, f->message, &out, &err);
        cryo_job_watch_vm((cryo_job *)f, NULL);
        if (k == CRYO_OK) {
            cryo_error_free(err);
            return ok_answer(out);
        }
        cryo_const_release(out);
        if (!err) err = cw_worker_error(k, "%s", cryo_error_kind_name(k));
        return fail_answer(err);
    }
    default: return fail_answer(cw_worker_error(CRYO_ERR_API, "unknown query kind"));
    }

    cryo_vm *vm = job_vm(w, f, unit);
    if (!vm) {
        cryo_unit_release(unit);
        return oom_answer();
    }
    if (!watch_vm(f, vm)) {
        drop_vm(f, vm);
        cryo_unit_release(unit);
        return fail_answer(NULL); /* cancelled: the caller resolves it CANCELLED */
    }
    cryo_value result = cryo_unit_value();
    cryo_error_kind k;
    if (f->kind == CRYO_QUERY_LOAD || f->kind == CRYO_QUERY_EVAL) {
        k = cryo_vm_run(vm, NULL, 0, &result);
        a = finish_run(vm, f, k, result);
        if (f->kind == CRYO_QUERY_LOAD && a.state == CRYO_FUTURE_DONE) {
            if (w->loaded) cryo_unit_release(w->loaded);
            w->loaded = cryo_unit_retain(unit);
        }
    } else {
        cryo_value args[f->argc > 0 ? f->argc : 1];
        k = thaw_args(vm, f, args);
        if (k == CRYO_OK) {
            if (f->kind == CRYO_QUERY_CALL)
                k = cryo_vm_call(vm, f->name, f->argc, args, &result);
            else
                k = cryo_sync_call_in(f->fn, vm, f->argc, args, &result);
            for (int i = 0; i < f->argc; i++)
                cryo_value_release(args[i]);
        }
        a = finish_run(vm, f, k, result);
    }
    drop_vm(f, vm);
    cryo_unit_release(unit);
    return a;
}

/* --- the thread ----------------------------------------------------------------------------- */

static void serve(cryo_worker *w, cryo_future *f) {
    pthread_mutex_lock(&f->mu);
    if (atomic_load(&f->state) != CRYO_FUTURE_PENDING) { /* cancelled while queued */
        pthread_mutex_unlock(&f->mu);
        return;
    }
    atomic_store(&f->state, CRYO_FUTURE_RUNNING);
    atomic_fetch_sub(&w->counters.queued, 1);
    atomic_fetch_add(&w->counters.running, 1);
    uint64_t t = f->timeout_ms ? f->timeout_ms : w->timeout_ms;
    f->timeout_ms = t;
    f->deadline_ns = t ? cw_now_ns() + t * 1000000ull : 0;
    pthread_mutex_unlock(&f->mu);

    pthread_mutex_lock(&w->mu);
    w->current = f;
    pthread_mutex_unlock(&w->mu);
    if (atomic_load(&w->cancel_all)) cryo_future_cancel(f);

    answer a = run_job(w, f);

    pthread_mutex_lock(&w->mu);
    w->current = NULL;
    pthread_mutex_unlock(&w->mu);

    pthread_mutex_lock(&f->mu);
    if (atomic_load(&f->cancel)) {
        cryo_const_release(a.value);
        cryo_error_free(a.err);
        a = (answer){CRYO_FUTURE_CANCELLED, cryo_const_unit(),
                     cw_worker_error(CRYO_ERR_INTERRUPTED, "query cancelled")};
    } else if (a.state == CRYO_FUTURE_FAILED && !a.err) {
        a.err = cw_worker_error(CRYO_ERR_MEMORY, "out of memory");
    }
    cw_future_resolve_locked(f, a.state, a.value, a.err);
    pthread_mutex_unlock(&f->mu);
}

static void *worker_main(void *arg) {
    cryo_worker *w = arg;
    if (w->init) w->state = w->init(w->userdata);
    for (;;) {
        void *item;
        if (cw_chan_recv(w->queue, &item, CRYO_CHAN_FOREVER) != CRYO_CHAN_OK) break;
        cryo_future *f = item;
        if (atomic_load(&w->cancel_all))
            cw_future_resolve(f, CRYO_FUTURE_CANCELLED, cryo_const_unit(),
                              cw_worker_error(CRYO_ERR_INTERRUPTED, "query cancelled by shutdown"));
        else
            serve(w, f);
        cryo_future_release(f); /* the queue's reference */
    }
    if (w->fini) w->fini(w->state);
    if (w->loaded) cryo_unit_release(w->loaded);
    if (w->empty) cryo_unit_release(w->empty);
    w->loaded = w->empty = NULL;
    cryo_vm_pool_clear();
    pthread_mutex_lock(&w->mu);
    w->exited = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* --- public API ------------------------------------------------------------------------------ */

static cryo_worker *worker_start(const cryo_worker_config *cfg, bool custom) {
    cryo_worker_config dflt = {0};
    if (!cfg) cfg = &dflt;
    if (custom && !cfg->handler) return NULL;
    cryo_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->queue = cw_chan_new(cfg->queue_capacity ? cfg->queue_capacity : DEFAULT_QUEUE);
    if (!w->queue) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    cw_cond_init_mono(&w->cv);
    w->ctx = cryo_context_retain(cfg->context ? cfg->context : cryo_context_std());
    w->fail_when_full = cfg->fail_when_full;
    w->timeout_ms = cfg->timeout_ms;
    memcpy(w->limits, cfg->limits, sizeof w->limits);
    w->print = cfg->print;
    w->print_ud = cfg->print_userdata;
    if (custom) {
        w->handler = cfg->handler;
        w->init = cfg->init;
        w->fini = cfg->fini;
        w->userdata = cfg->userdata;
    }
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        cryo_context_release(w->ctx);
        cw_chan_free(w->queue);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    w->started = true;
    return w;
}

CRYO_API cryo_worker *cryo_worker_new(const cryo_worker_config *config) {
    return worker_start(config, false);
}

CRYO_API cryo_worker *cryo_worker_new_custom(const cryo_worker_config *config) {
    return worker_start(config, true);
}

static cryo_future *rejected(cryo_worker_counters *c, cryo_future *f, const char *why) {
    if (!f && !(f = cw_future_new())) return NULL;
    f->counters = c;
    cw_future_resolve(f, CRYO_FUTURE_REJECTED, cryo_const_unit(),
                      cw_worker_error(CRYO_ERR_API, "%s", why));
    return f;
}

CRYO_API cryo_future *cryo_worker_submit(cryo_worker *w, const cryo_query *q) {
    if (!w || !q) return rejected(NULL, NULL, "cryo_worker_submit: NULL argument");
    cryo_future *f = cw_future_new();
    if (!f) return NULL;
    if (!cw_future_set_query(f, q)) return rejected(&w->counters, f, "out of memory");
    f->counters = &w->counters;
    atomic_fetch_add(&w->counters.queued, 1);
    cryo_future_retain(f); /* the queue's reference */
    cryo_chan_status st = cw_chan_send(w->queue, f, w->fail_when_full ? 0 : CRYO_CHAN_FOREVER);
    if (st == CRYO_CHAN_OK) return f;
    atomic_fetch_sub(&w->counters.queued, 1);
    cryo_future_release(f);
    return rejected(&w->counters, f,
                    st == CRYO_CHAN_CLOSED ? "the worker is shut down" : "the queue is full");
}

CRYO_API cryo_future *cryo_worker_eval(cryo_worker *w, const char *source) {
    cryo_query q = {.kind = CRYO_QUERY_EVAL, .source = source};
    return cryo_worker_submit(w, &q);
}

CRYO_API cryo_future *cryo_worker_call_sync(cryo_worker *w, cryo_sync *fn, int argc,
                                            const cryo_const *argv) {
    cryo_query q = {.kind = CRYO_QUERY_SYNC, .fn = fn, .argc = argc, .argv = argv};
    return cryo_worker_submit(w, &q);
}

CRYO_API cryo_future *cryo_worker_send(cryo_worker *w, cryo_const message) {
    cryo_query q = {.kind = CRYO_QUERY_MESSAGE, .message = message};
    return cryo_worker_submit(w, &q);
}

uint64_t cw_worker_load(cryo_worker *w) {
    return atomic_load_explicit(&w->counters.queued, memory_order_relaxed) +
           atomic_load_explicit(&w->counters.running, memory_order_relaxed);
}

static void cancel_running(cryo_worker *w) {
    atomic_store(&w->cancel_all, true);
    pthread_mutex_lock(&w->mu);
    if (w->current) cryo_future_cancel(w->current);
    pthread_mutex_unlock(&w->mu);
}

void cw_worker_close(cryo_worker *w, cryo_shutdown_mode mode) {
    pthread_mutex_lock(&w->mu);
    bool was = w->closed;
    w->closed = true;
    pthread_mutex_unlock(&w->mu);
    if (!was) cw_chan_close(w->queue);
    if (mode == CRYO_SHUTDOWN_CANCEL) cancel_running(w);
}

void cw_worker_join(cryo_worker *w, uint64_t deadline_ns) {
    pthread_mutex_lock(&w->mu);
    if (w->joined) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    if (deadline_ns) {
        struct timespec ts = {(time_t)(deadline_ns / 1000000000ull),
                              (long)(deadline_ns % 1000000000ull)};
        while (!w->exited)
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0) break;
        if (!w->exited) {
            pthread_mutex_unlock(&w->mu);
            cancel_running(w);
            pthread_mutex_lock(&w->mu);
        }
    }
    bool do_join = !w->joined && w->started;
    w->joined = true;
    pthread_mutex_unlock(&w->mu);
    if (do_join) pthread_join(w->thread, NULL);
}

CRYO_API void cryo_worker_shutdown(cryo_worker *w, cryo_shutdown_mode mode, uint64_t grace_ms) {
    if (!w) return;
    cw_worker_close(w, mode);
    cw_worker_join(w, grace_ms ? cw_now_ns() + grace_ms * 1000000ull : 0);
}

CRYO_API void cryo_worker_free(cryo_worker *w) {
    if (!w) return;
    cryo_worker_shutdown(w, CRYO_SHUTDOWN_FINISH, 0);
    cryo_context_release(w->ctx);
    cw_chan_free(w->queue);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

CRYO_API void cryo_worker_get_stats(cryo_worker *w, cryo_worker_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!w) return;
    out->queued = atomic_load(&w->counters.queued);
    out->running = atomic_load(&w->counters.running);
    out->done = atomic_load(&w->counters.done);
    out->failed = atomic_load(&w->counters.failed);
    out->cancelled = atomic_load(&w->counters.cancelled);
    out->rejected = atomic_load(&w->counters.rejected);
}

CRYO_API bool cryo_job_cancelled(const cryo_job *job) {
    cryo_future *f = cryo_job_future(job);
    if (!f) return false;
    if (atomic_load(&f->cancel)) return true;
    if (f->deadline_ns && cw_now_ns() >= f->deadline_ns) {
        f->timed_out = true;
        return true;
    }
    return false;
}

CRYO_API void cryo_job_watch_vm(cryo_job *job, cryo_vm *vm) {
    cryo_future *f = cryo_job_future(job);
    if (!f) return;
    pthread_mutex_lock(&f->mu);
    cryo_vm *prev = f->vm;
    pthread_mutex_unlock(&f->mu);
    /* The previous VM must not keep a callback pointing at this job. */
    if (prev && prev != vm) cryo_vm_set_progress(prev, NULL, NULL, 0);
    if (vm) cryo_vm_set_progress(vm, job_progress, f, PROGRESS_EVERY);
    if (!watch_vm(f, vm) && vm) cryo_vm_interrupt(vm);
}
