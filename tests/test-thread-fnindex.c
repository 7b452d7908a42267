/*
 * test-thread-fnindex — the unit's fn index (cl_unit_find_fn) is built by the first lookup and
 * published with compare-and-swap: several threads racing to build it on one fresh unit all
 * get the right answers, and the loser's copy is freed (LeakSanitizer, TSan).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

enum { NFNS = 300, NTHREADS = 4 };

typedef struct {
    const cryo_unit *u;
    pthread_barrier_t *start;
    int wrong;
} job;

static void *look_up_all(void *arg) {
    job *j = arg;
    pthread_barrier_wait(j->start);
    char name[16];
    for (int i = NFNS - 1; i >= 0; i--) {
        int len = snprintf(name, sizeof name, "g%d", i);
        int fi = cl_unit_find_fn(j->u, name, (size_t)len, 2);
        if (fi < 0 || strcmp(j->u->fns[fi].name, name) != 0) j->wrong++;
        if (cl_unit_find_fn(j->u, name, (size_t)len, 1) != -1) j->wrong++;
    }
    return NULL;
}

static void test_first_lookups_race(void **state) {
    (void)state;
    for (int round = 0; round < 20; round++) {
        size_t cap = (size_t)NFNS * 40, used = 0;
        char *src = malloc(cap);
        assert_non_null(src);
        for (int i = 0; i < NFNS; i++)
            used += (size_t)snprintf(src + used, cap - used, "fn g%d(a, b) { a + b }\n", i);
        cryo_error *err = NULL;
        cryo_unit *u = cryo_compile(src, used, NULL, &err);
        free(src);
        assert_null(err);
        assert_non_null(u);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, NTHREADS);
        pthread_t th[NTHREADS];
        job jobs[NTHREADS];
        for (int t = 0; t < NTHREADS; t++) {
            jobs[t] = (job){.u = u, .start = &start};
            assert_int_equal(pthread_create(&th[t], NULL, look_up_all, &jobs[t]), 0);
        }
        for (int t = 0; t < NTHREADS; t++) {
            pthread_join(th[t], NULL);
            assert_int_equal(jobs[t].wrong, 0);
        }
        pthread_barrier_destroy(&start);
        cryo_unit_release(u);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_lookups_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
