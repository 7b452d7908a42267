/*
 * parallel_units.c — one compiled Unit run at the same time by VMs on several threads. The
 * unit and the context are immutable and shared (no copy, no lock); each thread has its own
 * VMs, here taken from its per-thread pool.
 *
 * Build against an installed cryo:
 *   cc parallel_units.c $(pkg-config --cflags --libs cryo) -pthread
 */
#include <cryo.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define NTHREADS 4
#define NJOBS    2000

static const char script[] =
    "fn collatz(n) {\n"
    "  let steps = 0;\n"
    "  while n != 1 { n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 }; steps += 1; }\n"
    "  steps\n"
    "}\n";

typedef struct job {
    cryo_unit *unit; /* shared by all threads */
    int first;       /* this thread computes collatz(first), collatz(first + NTHREADS), ... */
    int64_t total;
    int errors;
} job;

static void *worker(void *arg) {
    job *j = arg;
    for (int n = j->first; n <= NJOBS; n += NTHREADS) {
        cryo_vm *vm = cryo_vm_pool_acquire(j->unit, cryo_context_std());
        cryo_value x = cryo_int(n), r;
        if (cryo_vm_call(vm, "collatz", 1, &x, &r) == CRYO_OK)
            j->total += r.as.i;
        else
            j->errors++;
        cryo_vm_pool_release(vm);
    }
    return NULL; /* the thread's pooled VMs are freed when it exits */
}

static int64_t collatz_c(int64_t n) {
    int64_t s = 0;
    while (n != 1) {
        n = n % 2 == 0 ? n / 2 : 3 * n + 1;
        s++;
    }
    return s;
}

int main(void) {
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(script, strlen(script), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile error: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return 1;
    }
    pthread_t th[NTHREADS];
    job jobs[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        jobs[t] = (job){unit, t + 1, 0, 0};
        pthread_create(&th[t], NULL, worker, &jobs[t]);
    }
    int64_t total = 0;
    int errors = 0;
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        printf("thread %d: %lld steps\n", t, (long long)jobs[t].total);
        total += jobs[t].total;
        errors += jobs[t].errors;
    }
    cryo_unit_release(unit);

    int64_t expect = 0;
    for (int n = 1; n <= NJOBS; n++)
        expect += collatz_c(n);
    printf("total Collatz steps for 1..%d: %lld (expected %lld), %d errors\n", NJOBS,
           (long long)total, (long long)expect, errors);
    return total == expect && errors == 0 ? 0 : 1;
}
