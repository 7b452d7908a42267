/*
 * pthread_callback.c — a frozen script closure as the start routine of several pthreads, and
 * the same closure (another callback of it) called concurrently by all of them.
 *
 * `void *(*)(void *)` is pthread_create's start routine type: the script receives the thread's
 * argument as a typed pointer (here `long *`, the declared parameter type), writes its result
 * through it, and returns (), which becomes NULL. No lock anywhere: each thread runs the
 * SyncFunction on its own pooled VM and the frozen captures are shared read-only.
 *
 * Build against an installed cryo:  cc pthread_callback.c $(pkg-config --cflags --libs cryo_ffi)
 */
#include <cryo.h>
#include <cryo_ffi.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, CALLS = 100000 };

/* A closure capturing a frozen table: job[0] = thread number in, job[1] = result out. */
static const char script[] = "let weights = [1, 2, 3, 4, 5, 6, 7, 8];\n"
                             "|job| {\n"
                             "    let n = job[0];\n"
                             "    let acc = 0;\n"
                             "    for i in 0..1000 { acc += weights[(n + i) % 8] * i; }\n"
                             "    job[1] = acc;\n"
                             "}\n";
static const char score_src[] = "|x| x * 3 + 1";

static cryo_sync *freeze(const char *src) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    if (!u) return NULL;
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value f;
    cryo_sync *s = NULL;
    if (cryo_vm_run(vm, NULL, 0, &f) == CRYO_OK) {
        cryo_vm_into_sync(vm, f, &s);
        cryo_value_release(f);
    }
    cryo_vm_free(vm);
    return s;
}

typedef struct shared {
    long (*score)(long); /* the same script closure, called by every thread */
    long total[THREADS];
} shared;
static shared S;

/* Each thread also calls the `score` callback many times, concurrently with the others. */
static void *hammer(void *arg) {
    long id = (long)(intptr_t)arg, sum = 0;
    for (long i = 0; i < CALLS; i++)
        sum += S.score(i);
    S.total[id] = sum;
    return NULL;
}

int main(void) {
    cryo_sync *body = freeze(script), *score = freeze(score_src);
    if (!body || !score) return 1;
    cryo_error *err = NULL;
    cryo_ffi_callback *start = cryo_ffi_callback_new(body, NULL, "void *(*)(long *)", &err);
    cryo_ffi_callback *scb = cryo_ffi_callback_new(score, NULL, "long (*)(long)", &err);
    cryo_sync_release(body);
    cryo_sync_release(score);
    if (!start || !scb) {
        fprintf(stderr, "callback: %s\n", err ? err->message : "?");
        return 1;
    }
    S.score = (long (*)(long))cryo_ffi_callback_ptr(scb);

    /* 1. the script closure IS the start routine */
    pthread_t t[THREADS];
    long jobs[THREADS][2];
    for (long i = 0; i < THREADS; i++) {
        jobs[i][0] = i;
        jobs[i][1] = -1;
        pthread_create(&t[i], NULL, (void *(*)(void *))cryo_ffi_callback_ptr(start), jobs[i]);
    }
    int status = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        long want = 0;
        for (long k = 0; k < 1000; k++)
            want += (long)((i + k) % 8 + 1) * k;
        printf("thread %d: script result %ld (%s)\n", i, jobs[i][1],
               jobs[i][1] == want ? "ok" : "WRONG");
        status |= jobs[i][1] != want;
    }

    /* 2. the same callback called concurrently by all threads */
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)i);
    long want = 0;
    for (long i = 0; i < CALLS; i++)
        want += i * 3 + 1;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        status |= S.total[i] != want;
    }
    printf("%d threads x %d concurrent calls: %s\n", THREADS, CALLS, status ? "WRONG" : "ok");
    cryo_ffi_callback_free(start);
    cryo_ffi_callback_free(scb);
    return status;
}
