/*
 * sync_function_threads.c — one script closure frozen with into_sync, then called from 8
 * threads at once, each with its own arguments.
 *
 * The closure captures a string and a map; freezing copies them once into immutable
 * ConstValues. The threads share the SyncFunction read-only: no lock, no copy per call. Each
 * call runs on the calling thread's pooled VM.
 */
#include "cryo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SCRIPT = "let greeting = \"hello\";\n"
                            "let weights = #{a: 1, b: 10, c: 100};\n"
                            "|name, n| `${greeting} ${name}: ${weights[name] * n}`";

typedef struct task {
    cryo_sync *fn;
    int id;
    char out[64];
    int ok;
} task;

static void *worker(void *p) {
    task *t = p;
    static const char *names[] = {"a", "b", "c"};
    const char *name = names[t->id % 3];
    cryo_const args[2] = {cryo_const_string(name, strlen(name)), cryo_const_int(t->id)};
    cryo_const result;
    cryo_error *err = NULL;
    if (cryo_sync_call(t->fn, 2, args, &result, &err) == CRYO_OK) {
        size_t len;
        const char *s = cryo_value_str(result.v, &len);
        snprintf(t->out, sizeof t->out, "%s", s ? s : "?");
        t->ok = 1;
        cryo_const_release(result);
    } else {
        snprintf(t->out, sizeof t->out, "error: %s", err ? err->message : "?");
        cryo_error_free(err);
    }
    cryo_const_release(args[0]);
    cryo_vm_pool_clear(); /* this thread is done with cryo: free its pooled VM */
    return NULL;
}

int main(void) {
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(SCRIPT, strlen(SCRIPT), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile error: %s\n", err->message);
        cryo_error_free(err);
        return 1;
    }
    /* Run the script once to get the closure, then freeze it. */
    cryo_vm *vm = cryo_vm_new(unit, NULL);
    cryo_value closure;
    cryo_sync *fn = NULL;
    if (cryo_vm_run(vm, NULL, 0, &closure) != CRYO_OK ||
        cryo_vm_into_sync(vm, closure, &fn) != CRYO_OK) {
        fprintf(stderr, "error: %s\n", cryo_vm_error(vm)->message);
        return 1;
    }
    cryo_value_release(closure);
    cryo_vm_free(vm);        /* the SyncFunction keeps what it needs */
    cryo_unit_release(unit); /* ... including the unit */

    enum { N = 8 };
    pthread_t th[N];
    task tasks[N];
    for (int i = 0; i < N; i++) {
        tasks[i] = (task){.fn = fn, .id = i};
        pthread_create(&th[i], NULL, worker, &tasks[i]);
    }
    int failed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        printf("thread %d: %s\n", i, tasks[i].out);
        failed |= !tasks[i].ok;
    }
    /* Check one: thread 4 -> name "b", n = 4 -> 40. */
    if (strcmp(tasks[4].out, "hello b: 40") != 0) failed = 1;
    cryo_sync_release(fn);
    cryo_vm_pool_clear();
    return failed;
}
