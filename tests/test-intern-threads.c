/* ctest-labels: threads */
/*
 * test-intern-threads.c — interned map keys shared by VMs on many threads: 8 threads, each
 * making many VMs that build maps of computed keys (`"k" + i`) at once, the contents checked;
 * maps from different VMs and threads hold the same key strings, and the table holds each
 * text once. Run under ThreadSanitizer by scripts/test.sh (label threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "value.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define NVMS     40
#define NKEYS    300
#define NOWN     20 /* keys only one VM makes: 8 x 40 x 20 = 6,400 texts, under the limit */

/* Keys shared by all threads ("k0".."k299") and keys only one thread makes ("t<seed>_<i>"),
 * inserted, some removed again, so interning and freeing race across threads. */
static const char SCRIPT[] = "fn build(seed, n, own) {\n"
                             "  let m = #{};\n"
                             "  for i in 0..n { m[\"k\" + i] = i * seed; }\n"
                             "  for i in 0..own { m[`t${seed}_${i}`] = i; }\n"
                             "  for i in 0..own { if i % 2 == 0 { m.remove(`t${seed}_${i}`); } }\n"
                             "  let c = m; c.extra = 1;\n" /* copy on write shares the keys */
                             "  m\n"
                             "}\n";

static cryo_unit *unit;
static cryo_context *ctx;

/* Checks build(seed, NKEYS)'s map; returns the number of problems. */
static int check_map(cryo_value m, int64_t seed) {
    int bad = 0;
    if (cryo_map_len(m) != NKEYS + NOWN / 2) bad++;
    char buf[48];
    for (int i = 0; i < NKEYS; i++) {
        cryo_value v;
        snprintf(buf, sizeof buf, "k%d", i);
        if (!cryo_map_find(m, buf, &v) || v.type != CRYO_T_INT || v.as.i != i * seed) bad++;
    }
    for (int i = 0; i < NOWN; i++) {
        cryo_value v;
        snprintf(buf, sizeof buf, "t%lld_%d", (long long)seed, i);
        bool found = cryo_map_find(m, buf, &v);
        if (found != (i % 2 == 1) || (found && v.as.i != i)) bad++;
    }
    return bad;
}

typedef struct job {
    int id;
    int bad;
    cryo_value last; /* the thread's last map, kept to compare keys across VMs */
} job;

static void *worker(void *arg) {
    job *j = arg;
    for (int n = 0; n < NVMS; n++) {
        cryo_vm *vm = cryo_vm_new(unit, ctx);
        if (!vm) {
            j->bad++;
            continue;
        }
        int64_t seed = j->id * 1000 + n;
        cryo_value args[3] = {cryo_int(seed), cryo_int(NKEYS), cryo_int(NOWN)}, m;
        if (cryo_vm_call(vm, "build", 3, args, &m) != CRYO_OK) {
            j->bad++;
        } else {
            j->bad += check_map(m, seed);
            const cryo_map_entry *e = cv_map_find(cv_map(m), "k5", 2);
            if (!e || !cv_is_interned(e->key)) j->bad++;
            cryo_value_release(j->last);
            j->last = m; /* outlives its VM */
        }
        cryo_vm_free(vm);
    }
    return NULL;
}

static void test_many_vms_many_threads(void **state) {
    (void)state;
    size_t base = cv_intern_count();
    cryo_error *err = NULL;
    unit = cryo_compile(SCRIPT, strlen(SCRIPT), NULL, &err);
    assert_non_null(unit);
    ctx = cryo_context_std();
    pthread_t t[NTHREADS];
    job jobs[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (job){.id = i + 1, .last = cryo_unit_value()};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    cryo_unit_release(unit); /* the maps keep their keys without the unit */
    /* Keys from different VMs on different threads are one string per text. */
    const cryo_map_entry *e0 = cv_map_find(cv_map(jobs[0].last), "k5", 2);
    assert_non_null(e0);
    assert_string_equal(e0->key->data, "k5");
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(jobs[i].bad, 0);
        assert_int_equal(check_map(jobs[i].last, jobs[i].id * 1000 + NVMS - 1), 0);
        const cryo_map_entry *e = cv_map_find(cv_map(jobs[i].last), "k5", 2);
        assert_non_null(e);
        assert_ptr_equal(e->key, e0->key);
    }
    /* Each text once: NKEYS shared keys, NOWN per VM of its own ("t<seed>_<i>"), and the
     * unit's constants (a handful). */
    size_t made = cv_intern_count() - base;
    assert_true(made >= (size_t)NKEYS + (size_t)NOWN * NTHREADS * NVMS);
    assert_true(made <= (size_t)NKEYS + (size_t)NOWN * NTHREADS * NVMS + 16);
    for (int i = 0; i < NTHREADS; i++)
        cryo_value_release(jobs[i].last);
}

/* After CV_INTERN_LIMIT texts the table takes no more: keys are copies in their maps again,
 * with the same results. (Run last: it fills this process's table.) */
static void test_limit(void **state) {
    (void)state;
    char buf[48];
    for (unsigned i = 0; cv_intern_count() < CV_INTERN_LIMIT; i++) {
        int n = snprintf(buf, sizeof buf, "fill%u", i);
        assert_non_null(cv_intern(buf, (size_t)n));
    }
    assert_null(cv_intern("one more text", 13));
    assert_non_null(cv_intern("k5", 2)); /* texts already in still are */
    assert_int_equal(cv_intern_count(), CV_INTERN_LIMIT);
    const char *src = "let m = #{}; for i in 0..50 { m[`late${i}`] = i; } m.late7 = 77;"
                      "m.late_name = 1; m[\"late7\"] + m.late_name + m.keys().len()";
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.type, CRYO_T_INT);
    assert_int_equal(r.as.i, 77 + 1 + 51);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    assert_int_equal(cv_intern_count(), CV_INTERN_LIMIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_vms_many_threads),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
