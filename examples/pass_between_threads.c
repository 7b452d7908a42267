/*
 * pass_between_threads.c — a producer thread sends SyncFunctions and ConstValues through a
 * queue to a consumer thread, which calls each function with its argument and sends the result
 * back. Everything that crosses is a cryo_sync or a cryo_const: immutable, atomically counted,
 * safe on any thread.
 */
#include "cryo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tiny blocking queue of (function, argument) messages; fn == NULL ends the stream. */
typedef struct msg {
    cryo_sync *fn;
    cryo_const arg;
} msg;

typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg items[16];
    int head, len;
} queue;

static void put(queue *q, msg m) {
    pthread_mutex_lock(&q->mu);
    while (q->len == 16)
        pthread_cond_wait(&q->cv, &q->mu);
    q->items[(q->head + q->len++) % 16] = m;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static msg take(queue *q) {
    pthread_mutex_lock(&q->mu);
    while (q->len == 0)
        pthread_cond_wait(&q->cv, &q->mu);
    msg m = q->items[q->head];
    q->head = (q->head + 1) % 16;
    q->len--;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return m;
}

static queue work = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0};
static queue results = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0};

/* The consumer: calls what it receives, sends results back (as consts, fn = NULL). */
static void *consumer(void *p) {
    (void)p;
    for (;;) {
        msg m = take(&work);
        if (!m.fn) break;
        cryo_const r;
        cryo_error *err = NULL;
        if (cryo_sync_call(m.fn, 1, &m.arg, &r, &err) != CRYO_OK) {
            r = cryo_const_string(err->message, strlen(err->message));
            cryo_error_free(err);
        }
        cryo_sync_release(m.fn); /* the message's references end here */
        cryo_const_release(m.arg);
        put(&results, (msg){NULL, r});
    }
    put(&results, (msg){NULL, cryo_const_unit()});
    cryo_vm_pool_clear();
    return NULL;
}

/* Freezes the closure a script returns. */
static cryo_sync *freeze(const char *src) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    if (!u) return NULL;
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value f;
    cryo_sync *s = NULL;
    if (cryo_vm_run(vm, NULL, 0, &f) == CRYO_OK) cryo_vm_into_sync(vm, f, &s);
    cryo_value_release(f);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    return s;
}

int main(void) {
    cryo_sync *sum = freeze("|a| a.reduce(|s, x| s + x, 0)");
    cryo_sync *tag = freeze("let prefix = \"item-\"; |m| prefix + m.name + \"#\" + m.id");
    if (!sum || !tag) return 1;
    pthread_t th;
    pthread_create(&th, NULL, consumer, NULL);

    cryo_const nums[3] = {cryo_const_int(1), cryo_const_int(2), cryo_const_int(39)};
    put(&work, (msg){cryo_sync_retain(sum), cryo_const_array(nums, 3)});
    const char *keys[] = {"name", "id"};
    cryo_const vals[] = {cryo_const_string("box", 3), cryo_const_int(7)};
    put(&work, (msg){cryo_sync_retain(tag), cryo_const_map(keys, vals, 2)});
    put(&work, (msg){cryo_sync_retain(sum), cryo_const_string("not an array", 12)});
    put(&work, (msg){NULL, cryo_const_unit()});

    const char *want[] = {"42", "item-box#7", NULL};
    int failed = 0;
    for (int i = 0;; i++) {
        msg m = take(&results);
        if (m.arg.v.type == CRYO_T_UNIT) break;
        char *s = cryo_const_to_cstring(m.arg, false);
        printf("result %d: %s\n", i, s);
        if (i < 2 && strcmp(s, want[i]) != 0) failed = 1;
        if (i == 2 && !strstr(s, "reduce")) failed = 1; /* the error came back as text */
        free(s);
        cryo_const_release(m.arg);
    }
    pthread_join(th, NULL);
    cryo_sync_release(sum);
    cryo_sync_release(tag);
    return failed;
}
