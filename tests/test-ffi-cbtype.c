/* ctest-labels: threads */
/*
 * test-ffi-cbtype.c — callbacks share their parsed C type (ffi/cbtype.c): two callbacks of one
 * declaration in one scope use one type, freeing one keeps the other working, a declaration
 * means what its own scope says (a new scope at a freed scope's address shares nothing), a
 * further callback costs its own small struct, and 8 threads making, calling and freeing
 * callbacks of one declaration at once agree.
 */
#include "test.h"

#include "cryo_ffi.h"
#include "ffi_internal.h"

typedef int (*int2)(int, int);
typedef double (*dbl1)(double);
typedef int (*int1)(int);

static cryo_ffi_callback *cb_new(cryo_sync *f, cryo_ffi_scope *scope, const char *decl,
                                 unsigned flags) {
    cryo_error *err = NULL;
    cryo_ffi_callback *cb = cryo_ffi_callback_new_ex(f, scope, decl, flags, &err);
    if (!cb) fprintf(stderr, "callback '%s': %s\n", decl, err ? err->message : "?");
    cryo_error_free(err);
    assert_non_null(cb);
    return cb;
}

static void test_one_declaration_one_type(void **state) {
    (void)state;
    cryo_sync *sub = test_sync(NULL, "|a, b| a - b");
    cryo_sync *add = test_sync(NULL, "|a, b| a + b");
    cryo_ffi_callback *a = cb_new(sub, NULL, "int (*)(int, int)", 0);
    cryo_ffi_callback *b = cb_new(add, NULL, "int (*)(int, int)", CRYO_FFI_CALLBACK_LIBFFI);
    cryo_ffi_callback *c = cb_new(add, NULL, "long (*)(long, long)", 0);
    const cf_cbtype *t = cf_callback_shape(a);
    assert_non_null(t);
    assert_ptr_equal(cf_callback_shape(b), t); /* both paths share it */
    assert_ptr_not_equal(cf_callback_shape(c), t);
    assert_int_equal(cf_cbtype_refs(t), 2);
    assert_string_equal(t->decl, "int (*)(int, int)");
    assert_int_equal(t->fn->nparams, 2);
    assert_true(t->hot);
    int2 fa = (int2)cryo_ffi_callback_ptr(a), fb = (int2)cryo_ffi_callback_ptr(b);
    assert_int_equal(fa(7, 2), 5);
    assert_int_equal(fb(7, 2), 9);
    /* freeing one keeps the type, and the other callback, working */
    cryo_ffi_callback_free(a);
    assert_int_equal(cf_cbtype_refs(t), 1);
    for (int i = 0; i < 3; i++) /* cold, then hot */
        assert_int_equal(fb(i, 10), i + 10);
    /* a new callback of the declaration takes the same type again */
    cryo_ffi_callback *d = cb_new(sub, NULL, "int (*)(int, int)", 0);
    assert_ptr_equal(cf_callback_shape(d), t);
    assert_int_equal(((int2)cryo_ffi_callback_ptr(d))(1, 5), -4);
    cryo_ffi_callback_free(b);
    cryo_ffi_callback_free(d);
    cryo_ffi_callback_free(c);
    cryo_sync_release(sub);
    cryo_sync_release(add);
    cryo_vm_pool_clear();
}

/* The same text names different types in different scopes, and a scope made after another was
 * freed (possibly at its address) shares nothing with it. */
static void test_scopes_do_not_share(void **state) {
    (void)state;
    cryo_sync *inc = test_sync(NULL, "|x| x + 1");
    cryo_ffi_scope *s1 = cryo_ffi_scope_new();
    assert_int_equal(cryo_ffi_cdef(s1, "typedef int (*cb_t)(int);", NULL), CRYO_OK);
    cryo_ffi_callback *a = cb_new(inc, s1, "cb_t", 0);
    assert_int_equal(((int1)cryo_ffi_callback_ptr(a))(41), 42);
    cryo_ffi_callback_free(a);
    cryo_ffi_scope_free(s1);
    cryo_ffi_scope *s2 = cryo_ffi_scope_new();
    assert_int_equal(cryo_ffi_cdef(s2, "typedef double (*cb_t)(double);", NULL), CRYO_OK);
    cryo_ffi_callback *b = cb_new(inc, s2, "cb_t", 0);
    assert_int_equal(cf_callback_shape(b)->fn->ret->kind, CT_F64);
    assert_true(((dbl1)cryo_ffi_callback_ptr(b))(0.5) == 1.5);
    /* the process-wide scope has no cb_t */
    cryo_error *err = NULL;
    assert_null(cryo_ffi_callback_new(inc, NULL, "cb_t", &err));
    assert_non_null(err);
    cryo_error_free(err);
    cryo_ffi_callback_free(b);
    cryo_ffi_scope_free(s2);
    cryo_sync_release(inc);
    cryo_vm_pool_clear();
}

/* What a further callback of a declaration allocates: its own struct, not a parser arena. */
static void test_further_callback_is_small(void **state) {
    (void)state;
    if (!test_heap_counted(64)) return;
    cryo_sync *sub = test_sync(NULL, "|a, b| a - b");
    cryo_ffi_callback *first = cb_new(sub, NULL, "int (*)(int, int)", 0);
    enum { N = 8 };
    cryo_ffi_callback *more[N];
    size_t b0 = test_heap_in_use();
    for (int i = 0; i < N; i++)
        more[i] = cb_new(sub, NULL, "int (*)(int, int)", 0);
    size_t each = (test_heap_in_use() - b0) / N;
    print_message("a further callback: %zu bytes\n", each);
    assert_true(each <= 256); /* issue 19: at most 512 */
    for (int i = 0; i < N; i++)
        cryo_ffi_callback_free(more[i]);
    cryo_ffi_callback_free(first);
    cryo_sync_release(sub);
}

typedef struct job {
    cryo_sync *f;
    int errors;
} job;

static void *churn(void *p) {
    job *j = p;
    for (int i = 0; i < 200; i++) {
        cryo_ffi_callback *cb = cryo_ffi_callback_new(j->f, NULL, "int (*)(int, int)", NULL);
        if (!cb) {
            j->errors++;
            continue;
        }
        int2 fn = (int2)cryo_ffi_callback_ptr(cb);
        if (fn(i, 3) != i - 3 || fn(3, i) != 3 - i) j->errors++;
        cryo_ffi_callback_free(cb);
    }
    cryo_vm_pool_clear();
    return NULL;
}

static void test_threads_share_one_declaration(void **state) {
    (void)state;
    cryo_sync *sub = test_sync(NULL, "|a, b| a - b");
    /* one callback lives throughout: the type is shared with every thread's */
    cryo_ffi_callback *keep = cb_new(sub, NULL, "int (*)(int, int)", 0);
    const cf_cbtype *t = cf_callback_shape(keep);
    pthread_t th[8];
    job jobs[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (job){sub, 0};
        assert_int_equal(pthread_create(&th[i], NULL, churn, &jobs[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].errors, 0);
    }
    assert_int_equal(cf_cbtype_refs(t), 1);
    assert_int_equal(((int2)cryo_ffi_callback_ptr(keep))(10, 4), 6);
    cryo_ffi_callback_free(keep);
    cryo_sync_release(sub);
    cryo_vm_pool_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_declaration_one_type),
        cmocka_unit_test(test_scopes_do_not_share),
        cmocka_unit_test(test_further_callback_is_small),
        cmocka_unit_test(test_threads_share_one_declaration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
