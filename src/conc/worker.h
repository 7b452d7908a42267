/*
 * worker.h — internals shared by future.c, worker.c, workerpool.c and bridge.c.
 *
 * A future is also the job it answers: one allocation holds the copied query, the state, the
 * answer and the synchronisation (a mutex and a condition variable on CLOCK_MONOTONIC). The
 * state only moves forward (PENDING -> RUNNING -> final, or PENDING -> final) and only under
 * `mu`; the first resolution wins and later ones are dropped, so nothing is answered twice.
 */
#ifndef CRYO_WORKER_H
#define CRYO_WORKER_H

#include "cryo.h"

#include <pthread.h>
#include <stdatomic.h>

/* The counters of a worker (atomic: read by any thread without a lock). */
typedef struct cryo_worker_counters {
    atomic_uint_fast64_t queued, running, done, failed, cancelled, rejected;
} cryo_worker_counters;

struct cryo_future {
    atomic_uint rc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int waiters;                     /* threads blocked in a wait (under mu) */
    _Atomic cryo_future_state state; /* written under mu; read anywhere */
    atomic_bool cancel;              /* cancellation asked: read by the running VM's checks */
    uint64_t born_ns;                /* creation time: waits spin only until born + CRYO_SPIN_NS */
    cryo_const value;                /* DONE */
    cryo_error *err;                 /* FAILED, CANCELLED, REJECTED */

    /* --- the job (worker side) --- */
    cryo_worker_counters *counters; /* of the worker that queued it; NULL when final */
    cryo_vm *vm;                    /* the VM running it (under mu), for cancellation */
    uint64_t deadline_ns;           /* 0 = none; set when the run starts */
    uint64_t timeout_ms;
    bool timed_out;
    cryo_query_kind kind;
    cryo_unit *unit; /* retained */
    char *source;    /* owned copy */
    size_t source_len;
    char *source_name; /* owned copy */
    char *name;        /* owned copy */
    cryo_sync *fn;     /* retained */
    cryo_const *argv;  /* owned array of retained consts */
    int argc;
    cryo_const message; /* retained */
};

/* A new PENDING future with one reference (NULL when out of memory). */
cryo_future *cw_future_new(void);
/* Copies the query into f's job fields; false when out of memory. */
bool cw_future_set_query(cryo_future *f, const cryo_query *q);
/* Resolves f (state DONE, FAILED, CANCELLED or REJECTED) unless already resolved; takes
 * `value` and `err` either way (dropping them when it lost). Returns whether it won.
 * Updates and detaches f->counters. Frees the job's query data. */
bool cw_future_resolve(cryo_future *f, cryo_future_state state, cryo_const value, cryo_error *err);
/* Same, with the caller already holding f->mu. */
bool cw_future_resolve_locked(cryo_future *f, cryo_future_state state, cryo_const value,
                              cryo_error *err);
/* A new error (owned; NULL when out of memory). */
cryo_error *cw_worker_error(cryo_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A deep copy of one error (not its chain); NULL when out of memory or err is NULL. */
cryo_error *cw_worker_error_copy(const cryo_error *err);
/* Waits until final or until the absolute CLOCK_MONOTONIC deadline (NULL = forever). */
cryo_future_state cw_future_wait_until(cryo_future *f, const struct timespec *deadline);

/* struct cryo_job is the future seen from a custom handler. */
static inline cryo_future *cryo_job_future(const cryo_job *j) {
    return (cryo_future *)j;
}

/* --- workers (worker.c), used by the pool --- */
/* Queued + running queries of a worker now. */
uint64_t cw_worker_load(cryo_worker *w);
/* Closes the queue (first half of a shutdown) / waits, cancels and joins (second half). */
void cw_worker_close(cryo_worker *w, cryo_shutdown_mode mode);
void cw_worker_join(cryo_worker *w, uint64_t deadline_ns);

#endif
