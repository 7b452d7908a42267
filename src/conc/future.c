/*
 * future.c — futures: one-shot answers with wait, timed wait, poll and cancel. See worker.h
 * for the layout and the state rules.
 */
#define _GNU_SOURCE /* vasprintf */
#include "channel.h"
#include "vm/vm.h" /* cvm_trace_copy: a failed query keeps its trace */
#include "worker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cryo_error *cw_worker_error(cryo_error_kind kind, const char *fmt, ...) {
    cryo_error *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&e->message, fmt, ap);
    va_end(ap);
    if (n < 0) {
        free(e);
        return NULL;
    }
    return e;
}

cryo_error *cw_worker_error_copy(const cryo_error *err) {
    if (!err) return NULL;
    cryo_error *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = err->kind;
    e->line = err->line;
    e->column = err->column;
    e->message = strdup(err->message ? err->message : "");
    e->source_name = err->source_name ? strdup(err->source_name) : NULL;
    e->trace = cvm_trace_copy(err->trace); /* out of memory: the error without its trace */
    if (!e->message || (err->source_name && !e->source_name)) {
        cryo_error_free(e);
        return NULL;
    }
    return e;
}

cryo_future *cw_future_new(void) {
    cryo_future *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        free(f);
        return NULL;
    }
    if (cw_cond_init_mono(&f->cv) != 0) {
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NULL;
    }
    atomic_init(&f->rc, 1);
    atomic_init(&f->state, CRYO_FUTURE_PENDING);
    atomic_init(&f->cancel, false);
    f->born_ns = cw_now_ns();
    f->value = cryo_const_unit();
    return f;
}

static void free_query(cryo_future *f) {
    if (f->unit) cryo_unit_release(f->unit);
    f->unit = NULL;
    free(f->source);
    f->source = NULL;
    free(f->source_name);
    f->source_name = NULL;
    free(f->name);
    f->name = NULL;
    if (f->fn) cryo_sync_release(f->fn);
    f->fn = NULL;
    for (int i = 0; i < f->argc; i++)
        cryo_const_release(f->argv[i]);
    free(f->argv);
    f->argv = NULL;
    f->argc = 0;
    cryo_const_release(f->message);
    f->message = cryo_const_unit();
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

bool cw_future_set_query(cryo_future *f, const cryo_query *q) {
    f->kind = q->kind;
    f->timeout_ms = q->timeout_ms;
    if (q->unit) f->unit = cryo_unit_retain(q->unit);
    if (q->source) {
        f->source_len = q->source_len ? q->source_len : strlen(q->source);
        if (!(f->source = dup_n(q->source, f->source_len))) return false;
    }
    if (q->source_name && !(f->source_name = strdup(q->source_name))) return false;
    if (q->name && !(f->name = strdup(q->name))) return false;
    if (q->fn) f->fn = cryo_sync_retain(q->fn);
    if (q->argc > 0 && q->argv) {
        f->argv = malloc(sizeof(cryo_const) * (size_t)q->argc);
        if (!f->argv) return false;
        for (int i = 0; i < q->argc; i++)
            f->argv[i] = cryo_const_retain(q->argv[i]);
        f->argc = q->argc;
    }
    f->message = cryo_const_retain(q->message);
    return true;
}

bool cw_future_resolve_locked(cryo_future *f, cryo_future_state state, cryo_const value,
                              cryo_error *err) {
    cryo_future_state old = atomic_load(&f->state);
    if (cryo_future_state_final(old)) {
        cryo_const_release(value);
        cryo_error_free(err);
        return false;
    }
    cryo_worker_counters *c = f->counters;
    if (c) {
        if (old == CRYO_FUTURE_PENDING && state != CRYO_FUTURE_REJECTED)
            atomic_fetch_sub(&c->queued, 1);
        if (old == CRYO_FUTURE_RUNNING) atomic_fetch_sub(&c->running, 1);
        switch (state) {
        case CRYO_FUTURE_DONE: atomic_fetch_add(&c->done, 1); break;
        case CRYO_FUTURE_FAILED: atomic_fetch_add(&c->failed, 1); break;
        case CRYO_FUTURE_CANCELLED: atomic_fetch_add(&c->cancelled, 1); break;
        case CRYO_FUTURE_REJECTED: atomic_fetch_add(&c->rejected, 1); break;
        default: break;
        }
        f->counters = NULL;
    }
    f->value = value;
    f->err = err;
    f->vm = NULL;
    free_query(f);
    atomic_store(&f->state, state);
    if (f->waiters) pthread_cond_broadcast(&f->cv);
    return true;
}

bool cw_future_resolve(cryo_future *f, cryo_future_state state, cryo_const value, cryo_error *err) {
    pthread_mutex_lock(&f->mu);
    bool won = cw_future_resolve_locked(f, state, value, err);
    pthread_mutex_unlock(&f->mu);
    return won;
}

static bool future_final(void *p) {
    return cryo_future_state_final(atomic_load(&((cryo_future *)p)->state));
}

cryo_future_state cw_future_wait_until(cryo_future *f, const struct timespec *deadline) {
    cryo_future_state s = atomic_load(&f->state);
    if (cryo_future_state_final(s)) return s;
    /* Bounded spin before sleeping (see CRYO_SPIN_NS and docs/concurrency.md): an answer that
     * comes within the spin costs no futex sleep, no wake-up latency, and no signal (the
     * resolver only signals counted waiters). Only until CRYO_SPIN_NS after the future was
     * made (a wait for an older query is a wait for a long one: it sleeps at once, and the
     * spin never competes with the worker), and never past the deadline. */
    uint64_t age = cw_now_ns() - f->born_ns;
    uint64_t max = age >= CRYO_SPIN_NS ? 0 : CRYO_SPIN_NS - age;
    if (deadline) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t left = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 +
                       (deadline->tv_nsec - now.tv_nsec);
        max = left <= 0 ? 0 : (uint64_t)left < max ? (uint64_t)left : max;
    }
    if (cw_spin_until(future_final, f, max)) return atomic_load(&f->state);
    pthread_mutex_lock(&f->mu);
    f->waiters++;
    while (!cryo_future_state_final(s = atomic_load(&f->state))) {
        if (!deadline) {
            pthread_cond_wait(&f->cv, &f->mu);
        } else if (pthread_cond_timedwait(&f->cv, &f->mu, deadline) == ETIMEDOUT) {
            s = atomic_load(&f->state);
            break;
        }
    }
    f->waiters--;
    pthread_mutex_unlock(&f->mu);
    return s;
}

CRYO_API cryo_future_state cryo_future_wait(cryo_future *f) {
    if (!f) return CRYO_FUTURE_REJECTED;
    return cw_future_wait_until(f, NULL);
}

CRYO_API cryo_future_state cryo_future_wait_for(cryo_future *f, uint64_t timeout_ms) {
    if (!f) return CRYO_FUTURE_REJECTED;
    if (timeout_ms > (uint64_t)INT64_MAX / 2) return cw_future_wait_until(f, NULL);
    struct timespec dl = cw_deadline_ms((int64_t)timeout_ms);
    return cw_future_wait_until(f, &dl);
}

CRYO_API cryo_future_state cryo_future_poll(cryo_future *f) {
    if (!f) return CRYO_FUTURE_REJECTED;
    return atomic_load(&f->state);
}

CRYO_API bool cryo_future_cancel(cryo_future *f) {
    if (!f) return false;
    pthread_mutex_lock(&f->mu);
    bool will = false;
    cryo_future_state s = atomic_load(&f->state);
    if (s == CRYO_FUTURE_PENDING) {
        atomic_store(&f->cancel, true);
        will = cw_future_resolve_locked(
            f, CRYO_FUTURE_CANCELLED, cryo_const_unit(),
            cw_worker_error(CRYO_ERR_INTERRUPTED, "query cancelled before it started"));
    } else if (s == CRYO_FUTURE_RUNNING) {
        atomic_store(&f->cancel, true);
        if (f->vm) cryo_vm_interrupt(f->vm);
        will = true;
    }
    pthread_mutex_unlock(&f->mu);
    return will;
}

CRYO_API cryo_const cryo_future_value(const cryo_future *f) {
    if (!f || atomic_load(&((cryo_future *)f)->state) != CRYO_FUTURE_DONE) return cryo_const_unit();
    return f->value;
}

CRYO_API const cryo_error *cryo_future_error(const cryo_future *f) {
    if (!f || !cryo_future_state_final(atomic_load(&((cryo_future *)f)->state))) return NULL;
    return f->err;
}

CRYO_API cryo_future *cryo_future_retain(cryo_future *f) {
    if (f) atomic_fetch_add_explicit(&f->rc, 1, memory_order_relaxed);
    return f;
}

CRYO_API void cryo_future_release(cryo_future *f) {
    if (!f) return;
    if (atomic_fetch_sub_explicit(&f->rc, 1, memory_order_acq_rel) != 1) return;
    free_query(f);
    cryo_const_release(f->value);
    cryo_error_free(f->err);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
