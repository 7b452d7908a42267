/*
 * channel.h — an internal bounded MPMC channel of pointers (workers, pools, the bridge).
 *
 * A ring buffer guarded by one pthread mutex, with two condition variables (not empty, not
 * full) on CLOCK_MONOTONIC. Any number of threads may send and receive at once. A blocking
 * receive first spins briefly and boundedly (cw_spin_until, at most CRYO_SPIN_NS) on an atomic
 * snapshot of the length, then sleeps on a condition variable as before: there is no unbounded
 * busy waiting (docs/concurrency.md, "Bounded spinning"). Closing wakes every waiter: further
 * sends fail with CRYO_CHAN_CLOSED, receives drain what is left and then fail the same way.
 */
#ifndef CRYO_CHANNEL_H
#define CRYO_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct cryo_chan cryo_chan;

typedef enum cryo_chan_status {
    CRYO_CHAN_OK = 0,
    CRYO_CHAN_TIMEOUT, /* full (send) or empty (recv) when the time ran out (or at once) */
    CRYO_CHAN_CLOSED,  /* closed (and, for recv, drained) */
} cryo_chan_status;

/* Timeouts in milliseconds: CRYO_CHAN_FOREVER blocks, 0 tries without blocking. */
#define CRYO_CHAN_FOREVER (-1)

/* A channel holding up to `capacity` (>= 1) pointers. NULL when out of memory. */
cryo_chan *cw_chan_new(size_t capacity);
/* Frees the channel. No thread may be using it; items still inside are the caller's. */
void cw_chan_free(cryo_chan *ch);

/* Sends `item`; blocks while the channel is full (up to timeout_ms). */
cryo_chan_status cw_chan_send(cryo_chan *ch, void *item, int64_t timeout_ms);
/* Receives the oldest item into *item; blocks while empty (up to timeout_ms). */
cryo_chan_status cw_chan_recv(cryo_chan *ch, void **item, int64_t timeout_ms);
/* Closes the channel (idempotent) and wakes every blocked sender and receiver. */
void cw_chan_close(cryo_chan *ch);
bool cw_chan_is_closed(cryo_chan *ch);
/* Items queued now (a snapshot). */
size_t cw_chan_len(cryo_chan *ch);

/* --- small helpers shared by the concurrency files ---------------------------------------- */

/* Initialises a condition variable on CLOCK_MONOTONIC; 0 on success. */
int cw_cond_init_mono(void *cond);
/* The CLOCK_MONOTONIC deadline `ms` milliseconds from now. */
struct timespec cw_deadline_ms(int64_t ms);
/* Now on CLOCK_MONOTONIC, in nanoseconds. */
uint64_t cw_now_ns(void);

/* The bound of the spin phase before a wait blocks on a condition variable, in nanoseconds.
 * Far longer than a back-to-back round trip (~0.5-1 us when both threads are awake), so such an
 * answer costs no sleep, no futex wake and no idle-CPU wake-up (~20-30 us each here); anything
 * slower pays at most this much extra CPU once per wait (less: cw_spin_until adapts the bound
 * per thread, and a future's wait spins only until CRYO_SPIN_NS after the future was made).
 * See docs/concurrency.md, "Bounded spinning". */
#define CRYO_SPIN_NS 20000u

/* Spins (pause instruction, with a sched_yield every few rounds so that a runnable thread on the
 * same CPU goes first) until ready(arg) is true or max_ns have passed (at most CRYO_SPIN_NS).
 * Returns the last value of ready(arg). `ready` must only read atomics. Never blocks. */
bool cw_spin_until(bool (*ready)(void *), void *arg, uint64_t max_ns);

#endif
