/*
 * channel.c — the bounded MPMC channel of channel.h: a ring of pointers, one mutex, two
 * condition variables. Waiters are counted so that a send or receive signals only when someone
 * sleeps on the other side (no syscall on the uncontended path).
 */
#include "channel.h"
#include "value/value.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

struct cryo_chan {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    size_t cap, head, len;
    int recv_waiters, send_waiters;
    bool closed;
    void **items;
    /* Mirrors of len and closed, stored under mu, read without it by the spin phase of recv. */
    atomic_size_t alen;
    atomic_bool aclosed;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Set when a sched_yield of this thread's last spin let another thread run on its CPU (it
 * took > 3 us): the thread it waits for may share its CPU. The next wait then blocks at once,
 * so that the futex wake-up places one of the two on an idle CPU if there is one (two threads
 * that only spin and yield would otherwise stay paired on one CPU, ~6.5 us a round trip). */
static CRYO_TLS bool crowded;
/* Adaptive bound (as glibc's adaptive mutexes adapt their spin count): a spin that ran out
 * quarters this thread's next bound (down to 5 us), a spin that succeeded restores
 * CRYO_SPIN_NS. A host waiting on long queries one after another thus spends little CPU on
 * spins that never succeed, while back-to-back round trips keep the full bound. */
static CRYO_TLS uint32_t budget_ns = CRYO_SPIN_NS;

bool cw_spin_until(bool (*ready)(void *), void *arg, uint64_t max_ns) {
    if (max_ns > budget_ns) max_ns = budget_ns;
    if (ready(arg)) return true;
    if (max_ns == 0) return false;
    if (crowded) {
        crowded = false;
        return false;
    }
    uint64_t end = cw_now_ns() + max_ns;
    for (unsigned i = 1;; i++) {
        cpu_relax();
        if (ready(arg)) {
            budget_ns = CRYO_SPIN_NS;
            return true;
        }
        if ((i & 15) == 0) {
            uint64_t now = cw_now_ns();
            if (now >= end) {
                if (budget_ns >= 8000) budget_ns /= 4;
                return ready(arg);
            }
            if ((i & 63) == 0) {
                sched_yield();
                if (cw_now_ns() - now > 3000) crowded = true;
            }
        }
    }
}

int cw_cond_init_mono(void *cond) {
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return -1;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int r = pthread_cond_init((pthread_cond_t *)cond, &attr);
    pthread_condattr_destroy(&attr);
    return r;
}

struct timespec cw_deadline_ms(int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

uint64_t cw_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

cryo_chan *cw_chan_new(size_t capacity) {
    if (capacity == 0) capacity = 1;
    cryo_chan *ch = calloc(1, sizeof *ch);
    if (!ch) return NULL;
    ch->items = calloc(capacity, sizeof *ch->items);
    if (!ch->items) goto fail;
    if (pthread_mutex_init(&ch->mu, NULL) != 0) goto fail;
    if (cw_cond_init_mono(&ch->not_empty) != 0) goto fail_mu;
    if (cw_cond_init_mono(&ch->not_full) != 0) goto fail_ne;
    ch->cap = capacity;
    atomic_init(&ch->alen, 0);
    atomic_init(&ch->aclosed, false);
    return ch;
fail_ne:
    pthread_cond_destroy(&ch->not_empty);
fail_mu:
    pthread_mutex_destroy(&ch->mu);
fail:
    free(ch->items);
    free(ch);
    return NULL;
}

void cw_chan_free(cryo_chan *ch) {
    if (!ch) return;
    pthread_cond_destroy(&ch->not_full);
    pthread_cond_destroy(&ch->not_empty);
    pthread_mutex_destroy(&ch->mu);
    free(ch->items);
    free(ch);
}

/* Waits on `cond` until the deadline (when `timed`); false when the time ran out. */
static bool wait_on(cryo_chan *ch, pthread_cond_t *cond, bool timed, const struct timespec *dl) {
    if (!timed) {
        pthread_cond_wait(cond, &ch->mu);
        return true;
    }
    return pthread_cond_timedwait(cond, &ch->mu, dl) != ETIMEDOUT;
}

cryo_chan_status cw_chan_send(cryo_chan *ch, void *item, int64_t timeout_ms) {
    struct timespec dl = {0, 0};
    bool timed = timeout_ms > 0;
    if (timed) dl = cw_deadline_ms(timeout_ms);
    pthread_mutex_lock(&ch->mu);
    while (!ch->closed && ch->len == ch->cap) {
        if (timeout_ms == 0) break;
        ch->send_waiters++;
        bool ok = wait_on(ch, &ch->not_full, timed, &dl);
        ch->send_waiters--;
        if (!ok) break;
    }
    cryo_chan_status st;
    if (ch->closed) {
        st = CRYO_CHAN_CLOSED;
    } else if (ch->len == ch->cap) {
        st = CRYO_CHAN_TIMEOUT;
    } else {
        ch->items[(ch->head + ch->len) % ch->cap] = item;
        ch->len++;
        atomic_store_explicit(&ch->alen, ch->len, memory_order_release);
        if (ch->recv_waiters) pthread_cond_signal(&ch->not_empty);
        st = CRYO_CHAN_OK;
    }
    pthread_mutex_unlock(&ch->mu);
    return st;
}

static bool recv_ready(void *p) {
    cryo_chan *ch = p;
    return atomic_load_explicit(&ch->alen, memory_order_acquire) > 0 ||
           atomic_load_explicit(&ch->aclosed, memory_order_acquire);
}

cryo_chan_status cw_chan_recv(cryo_chan *ch, void **item, int64_t timeout_ms) {
    struct timespec dl = {0, 0};
    bool timed = timeout_ms > 0;
    if (timed) dl = cw_deadline_ms(timeout_ms);
    /* Bounded spin before sleeping (adaptive-mutex style): an item arriving within
     * CRYO_SPIN_NS is taken without a futex sleep and wake-up. The state is re-checked under
     * the mutex below, so the spin is only a hint. */
    if (timeout_ms != 0) cw_spin_until(recv_ready, ch, CRYO_SPIN_NS); /* < any 1 ms timeout */
    pthread_mutex_lock(&ch->mu);
    while (!ch->closed && ch->len == 0) {
        if (timeout_ms == 0) break;
        ch->recv_waiters++;
        bool ok = wait_on(ch, &ch->not_empty, timed, &dl);
        ch->recv_waiters--;
        if (!ok) break;
    }
    cryo_chan_status st;
    if (ch->len > 0) {
        *item = ch->items[ch->head];
        ch->items[ch->head] = NULL;
        ch->head = (ch->head + 1) % ch->cap;
        ch->len--;
        atomic_store_explicit(&ch->alen, ch->len, memory_order_release);
        if (ch->send_waiters) pthread_cond_signal(&ch->not_full);
        st = CRYO_CHAN_OK;
    } else {
        *item = NULL;
        st = ch->closed ? CRYO_CHAN_CLOSED : CRYO_CHAN_TIMEOUT;
    }
    pthread_mutex_unlock(&ch->mu);
    return st;
}

void cw_chan_close(cryo_chan *ch) {
    pthread_mutex_lock(&ch->mu);
    ch->closed = true;
    atomic_store_explicit(&ch->aclosed, true, memory_order_release);
    pthread_cond_broadcast(&ch->not_empty);
    pthread_cond_broadcast(&ch->not_full);
    pthread_mutex_unlock(&ch->mu);
}

bool cw_chan_is_closed(cryo_chan *ch) {
    pthread_mutex_lock(&ch->mu);
    bool c = ch->closed;
    pthread_mutex_unlock(&ch->mu);
    return c;
}

size_t cw_chan_len(cryo_chan *ch) {
    pthread_mutex_lock(&ch->mu);
    size_t n = ch->len;
    pthread_mutex_unlock(&ch->mu);
    return n;
}
