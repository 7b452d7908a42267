/*
 * bridge.c — host "async" functions served by a host thread. A script's call freezes its
 * arguments, queues a cryo_bridge_call on the bridge's command channel and blocks the VM's
 * thread on the call's own reply (a future: a one-shot reply channel) until the host answers,
 * the timeout runs out (a catchable script error) or the VM is interrupted. A late answer to an
 * abandoned call finds its future already resolved and is dropped.
 */
#include "channel.h"
#include "vm/vm.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#define WAIT_SLICE_MS 10 /* how often a waiting VM looks at its interrupt flag */

typedef struct bridge_fn {
    struct bridge_fn *next;
    cryo_bridge *bridge;
    char *name;
    uint64_t timeout_ms;
    void *userdata;
} bridge_fn;

struct cryo_bridge {
    cryo_chan *commands;
    pthread_mutex_t mu; /* guards fns */
    bridge_fn *fns;
};

struct cryo_bridge_call {
    cryo_future *reply; /* retained; resolved by the answer or abandoned (cancelled) */
    const bridge_fn *fn;
    int argc;
    cryo_const *argv; /* owned */
};

static void call_free(cryo_bridge_call *c) {
    for (int i = 0; i < c->argc; i++)
        cryo_const_release(c->argv[i]);
    free(c->argv);
    cryo_future_release(c->reply);
    free(c);
}

CRYO_API cryo_bridge *cryo_bridge_new(size_t capacity) {
    cryo_bridge *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->commands = cw_chan_new(capacity ? capacity : 1024);
    if (!b->commands) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

/* The script-side function: send, then wait for the answer. */
static cryo_error_kind bridge_host_fn(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                      cryo_value *ret) {
    const bridge_fn *bf = ud;
    cryo_bridge_call *c = calloc(1, sizeof *c);
    if (!c) return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "%s: out of memory", bf->name);
    c->fn = bf;
    c->reply = cw_future_new();
    if (argc > 0) c->argv = calloc((size_t)argc, sizeof *c->argv);
    if (!c->reply || (argc > 0 && !c->argv)) {
        call_free(c);
        return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "%s: out of memory", bf->name);
    }
    for (; c->argc < argc; c->argc++) {
        cryo_error_kind k = cryo_vm_freeze(vm, *argv[c->argc], &c->argv[c->argc]);
        if (k != CRYO_OK) {
            call_free(c);
            return k;
        }
    }
    cryo_future *reply = cryo_future_retain(c->reply);
    uint64_t start = cw_now_ns();
    uint64_t deadline = bf->timeout_ms ? start + bf->timeout_ms * 1000000ull : 0;
    int64_t send_ms = bf->timeout_ms ? (int64_t)bf->timeout_ms : CRYO_CHAN_FOREVER;
    cryo_chan_status st = cw_chan_send(bf->bridge->commands, c, send_ms);
    if (st != CRYO_CHAN_OK) {
        call_free(c);
        cryo_future_release(reply);
        if (st == CRYO_CHAN_CLOSED)
            return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "%s: the bridge is closed", bf->name);
        return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "%s: timed out after %llu ms (queue full)",
                             bf->name, (unsigned long long)bf->timeout_ms);
    }
    /* From here the host owns c; we only hold `reply`. */
    cryo_future_state s;
    for (;;) {
        uint64_t now = cw_now_ns();
        uint64_t until = now + WAIT_SLICE_MS * 1000000ull;
        if (deadline && deadline < until) until = deadline;
        struct timespec ts = {(time_t)(until / 1000000000ull), (long)(until % 1000000000ull)};
        s = cw_future_wait_until(reply, &ts);
        if (cryo_future_state_final(s)) break;
        if (atomic_load_explicit(&vm->interrupt, memory_order_relaxed)) {
            cryo_future_cancel(reply);
            cryo_future_release(reply);
            return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "%s: interrupted while waiting",
                                 bf->name);
        }
        if (deadline && cw_now_ns() >= deadline) {
            if (cryo_future_cancel(reply)) {
                cryo_future_release(reply);
                return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "%s: timed out after %llu ms", bf->name,
                                     (unsigned long long)bf->timeout_ms);
            }
            s = cryo_future_poll(reply); /* answered just in time */
            break;
        }
    }
    cryo_error_kind k;
    if (s == CRYO_FUTURE_DONE) {
        k = cryo_vm_thaw(vm, cryo_future_value(reply), ret);
    } else {
        const cryo_error *e = cryo_future_error(reply);
        k = cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "%s: %s", bf->name,
                          e && e->message ? e->message : "failed");
    }
    cryo_future_release(reply);
    return k;
}

CRYO_API cryo_error_kind cryo_bridge_register(cryo_bridge *b, cryo_package *pkg, const char *name,
                                              int arity, uint64_t timeout_ms, void *userdata) {
    if (!b || !pkg || !name) return CRYO_ERR_API;
    bridge_fn *bf = calloc(1, sizeof *bf);
    if (!bf || !(bf->name = strdup(name))) {
        free(bf);
        return CRYO_ERR_MEMORY;
    }
    bf->bridge = b;
    bf->timeout_ms = timeout_ms;
    bf->userdata = userdata;
    cryo_error_kind k = cryo_package_add(pkg, name, arity, bridge_host_fn, bf);
    if (k != CRYO_OK) {
        free(bf->name);
        free(bf);
        return k;
    }
    pthread_mutex_lock(&b->mu);
    bf->next = b->fns;
    b->fns = bf;
    pthread_mutex_unlock(&b->mu);
    return CRYO_OK;
}

CRYO_API cryo_bridge_call *cryo_bridge_next(cryo_bridge *b, int64_t timeout_ms) {
    if (!b) return NULL;
    void *item = NULL;
    if (cw_chan_recv(b->commands, &item, timeout_ms < 0 ? CRYO_CHAN_FOREVER : timeout_ms) !=
        CRYO_CHAN_OK)
        return NULL;
    return item;
}

CRYO_API const char *cryo_bridge_call_name(const cryo_bridge_call *c) {
    return c ? c->fn->name : NULL;
}

CRYO_API int cryo_bridge_call_argc(const cryo_bridge_call *c) {
    return c ? c->argc : 0;
}

CRYO_API cryo_const cryo_bridge_call_arg(const cryo_bridge_call *c, int i) {
    if (!c || i < 0 || i >= c->argc) return cryo_const_unit();
    return c->argv[i];
}

CRYO_API void *cryo_bridge_call_userdata(const cryo_bridge_call *c) {
    return c ? c->fn->userdata : NULL;
}

CRYO_API bool cryo_bridge_call_abandoned(const cryo_bridge_call *c) {
    return c && cryo_future_poll(c->reply) == CRYO_FUTURE_CANCELLED;
}

CRYO_API void cryo_bridge_reply(cryo_bridge_call *c, cryo_const value) {
    if (!c) {
        cryo_const_release(value);
        return;
    }
    cw_future_resolve(c->reply, CRYO_FUTURE_DONE, value, NULL);
    call_free(c);
}

CRYO_API void cryo_bridge_fail(cryo_bridge_call *c, const char *message) {
    if (!c) return;
    cw_future_resolve(c->reply, CRYO_FUTURE_FAILED, cryo_const_unit(),
                      cw_worker_error(CRYO_ERR_RUNTIME, "%s", message ? message : "failed"));
    call_free(c);
}

CRYO_API void cryo_bridge_close(cryo_bridge *b) {
    if (b) cw_chan_close(b->commands);
}

CRYO_API void cryo_bridge_free(cryo_bridge *b) {
    if (!b) return;
    cw_chan_close(b->commands);
    cryo_bridge_call *c;
    while ((c = cryo_bridge_next(b, 0)) != NULL)
        cryo_bridge_fail(c, "the bridge is closed");
    bridge_fn *bf = b->fns;
    while (bf) {
        bridge_fn *n = bf->next;
        free(bf->name);
        free(bf);
        bf = n;
    }
    cw_chan_free(b->commands);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
