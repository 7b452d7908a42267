/*
 * test-pointer.c — pointer values (CRYO_T_POINTER, type_of "ptr") through the public FFI API
 * (cryo_ffi.h, docs/ffi.md): buffers made by ffi::new, bounds-checked and range-checked
 * indexing, aliasing, ffi::cast / addr / string / null, pointers handed to and returned by C
 * functions registered with cryo_ffi_package_add, the errors with their kinds and messages, the
 * capability that guards them, ownership (a buffer lives as long as its value and counts
 * against the VM's memory limit) and the rule that pointers never leave their VM's thread
 * (into_sync, spawn, cryo_vm_freeze and to_json refuse them).
 */
#include "test.h"

#include <cryo_ffi.h>

/* C functions the scripts call with pointers. */
static int sum_ints(const int *p, int n) {
    if (!p) return -1; /* () arrives as NULL */
    int s = 0;
    for (int i = 0; i < n; i++)
        s += p[i];
    return s;
}
static int c_ints[4] = {10, 20, 30, 40};
static int *get_ints(void) {
    return c_ints;
}

static cryo_package *cpkg;   /* sum_ints, get_ints */
static cryo_context *ffi;    /* std + ffi + cpkg, CRYO_CAP_FFI and THREADS */
static cryo_context *no_cap; /* the same packages without the capability */

static int setup(void **state) {
    (void)state;
    cpkg = cryo_package_new("c");
    cryo_error *err = NULL;
    if (cryo_ffi_package_add(cpkg, NULL, NULL, "int sum_ints(const int *p, int n)",
                             (void *)sum_ints, &err) != CRYO_OK ||
        cryo_ffi_package_add(cpkg, NULL, NULL, "int *get_ints(void)", (void *)get_ints, &err) !=
            CRYO_OK) {
        cryo_error_free(err);
        return -1;
    }
    cryo_package *pk[3] = {cryo_package_std(), cryo_ffi_package(), cpkg};
    cryo_context_config cfg = {
        .packages = pk, .npackages = 3, .capabilities = CRYO_CAP_FFI | CRYO_CAP_THREADS};
    ffi = cryo_context_new(&cfg);
    cfg.capabilities = 0;
    no_cap = cryo_context_new(&cfg);
    return ffi && no_cap ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ffi);
    cryo_context_release(no_cap);
    cryo_package_release(cpkg);
    return 0;
}

static void test_new_and_indexing(void **state) {
    (void)state;
    EXPECT_IN(ffi, "let p = ffi::new(\"int\", 4); type_of(p)", "\"ptr\"");
    /* zeroed, written and read in place */
    EXPECT_IN(ffi, "let p = ffi::new(\"int\", 4); p[0] = 5; p[3] = -7; [p[0], p[1], p[3]]",
              "[5, 0, -7]");
    EXPECT_IN(ffi, "let p = ffi::new(\"double\", 2); p[1] = 2.5; p[1]", "2.5");
    EXPECT_IN(ffi, "let p = ffi::new(\"bool\"); p[0] = true; p[0]", "true");
    /* bounds are checked on both sides */
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"int\", 4); p[4]", CRYO_ERR_INDEX,
                  "pointer index 4 out of bounds (4 elements)");
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"int\", 4); p[-1] = 1", CRYO_ERR_INDEX,
                  "pointer index -1 out of bounds (4 elements)");
    /* writes are range- and type-checked */
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"unsigned char\", 2); p[0] = 256", CRYO_ERR_ARITHMETIC,
                  "256 is out of range for u8");
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"int\"); p[0] = \"x\"", CRYO_ERR_TYPE,
                  "cannot store string in a i32 element");
    /* a void pointer is not indexed: cast it */
    EXPECT_ERR_IN(ffi, "ffi::null()[0]", CRYO_ERR_TYPE, "cannot index a void pointer");
    /* no arithmetic on pointers */
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"int\"); p + 1", CRYO_ERR_TYPE,
                  "cannot apply '+' to ptr and i64");
}

static void test_new_errors(void **state) {
    (void)state;
    EXPECT_ERR_IN(ffi, "ffi::new(\"int\", -1)", CRYO_ERR_ARGUMENT,
                  "ffi::new: bad element count -1");
    EXPECT_ERR_IN(ffi, "ffi::new(\"void\", 1)", CRYO_ERR_ARGUMENT, "'void' has no size");
    EXPECT_ERR_IN(ffi, "ffi::new(\"nosuch\", 2)", CRYO_ERR_PARSE, "expected a type name");
    EXPECT_ERR_IN(ffi, "ffi::new(\"int\", \"2\")", CRYO_ERR_TYPE, "the count must be an i64");
}

static void test_alias_cast_addr_string(void **state) {
    (void)state;
    /* a pointer value is an address: copies alias the same buffer */
    EXPECT_IN(ffi, "let p = ffi::new(\"int\", 2); let q = p; q[0] = 9; p[0]", "9");
    EXPECT_IN(ffi, "let p = ffi::new(\"int\", 2); let q = p; p == q", "true");
    /* cast: the same address as another type (bytes of a little-endian int) */
    EXPECT_IN(ffi,
              "let p = ffi::new(\"int\", 2); let q = ffi::cast(p, \"unsigned char *\");"
              "q[0] = 1; q[1] = 1; p[0]",
              "257");
    EXPECT_IN(ffi, "let p = ffi::new(\"int\"); ffi::addr(p) == ffi::addr(ffi::cast(p, \"char *\"))",
              "true");
    EXPECT_IN(ffi, "[ffi::addr(ffi::null()), type_of(ffi::null())]", "[0, \"ptr\"]");
    EXPECT_IN(ffi, "let p = ffi::new(\"char\", 4); p[0] = 104; p[1] = 105; ffi::string(p)",
              "\"hi\"");
    EXPECT_IN(ffi, "let p = ffi::new(\"char\", 4); p[0] = 104; p[1] = 105; ffi::string(p, 1)",
              "\"h\"");
    EXPECT_ERR_IN(ffi, "ffi::addr(5)", CRYO_ERR_TYPE, "ffi::addr: expected a pointer");
}

static void test_c_functions_take_and_return_pointers(void **state) {
    (void)state;
    EXPECT_IN(ffi, "let p = ffi::new(\"int\", 3); p[0] = 1; p[1] = 2; p[2] = 39; sum_ints(p, 3)",
              "42");
    EXPECT_IN(ffi, "sum_ints((), 0)", "-1"); /* () is NULL */
    EXPECT_ERR_IN(ffi, "sum_ints(\"text\", 1)", CRYO_ERR_TYPE,
                  "sum_ints: argument 1 ('p'): cannot convert string to C type 'const int32_t *'");
    /* a pointer that C returns: raw memory, read and written in place */
    c_ints[2] = 30;
    EXPECT_IN(ffi, "let p = get_ints(); p[2] += 3; [type_of(p), p[0], p[2]]", "[\"ptr\", 10, 33]");
    assert_int_equal(c_ints[2], 33);
    c_ints[2] = 30;
}

static void test_capability_guards_pointers(void **state) {
    (void)state;
    /* the ffi package in a context without CRYO_CAP_FFI: no ffi:: function runs */
    EXPECT_ERR_IN(no_cap, "ffi::new(\"int\", 1)", CRYO_ERR_NOT_FOUND,
                  "the context lacks CRYO_CAP_FFI");
    EXPECT_ERR_IN(no_cap, "ffi::null()", CRYO_ERR_NOT_FOUND, "the context lacks CRYO_CAP_FFI");
    /* the standard context has no ffi:: names at all */
    EXPECT_ERR_IN(NULL, "ffi::new(\"int\", 1)", CRYO_ERR_NOT_FOUND, "ffi::new");
    /* a pointer a host function returns is usable without the capability (docs/ffi.md) */
    EXPECT_IN(no_cap, "get_ints()[1]", "20");
}

static void test_pointers_stay_on_their_thread(void **state) {
    (void)state;
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"int\", 2); let f = || p[0]; f.into_sync()",
                  CRYO_ERR_TYPE, "it holds a C pointer, a VM-local resource");
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"int\", 2); spawn(|q| 1, p).join()", CRYO_ERR_TYPE,
                  "cannot freeze spawn's argument 1: it holds a C pointer");
    EXPECT_ERR_IN(ffi, "to_json(ffi::new(\"int\", 2))", CRYO_ERR_TYPE,
                  "a value of type ptr cannot be written as JSON");
    /* from C: a pointer result reaches the host, which cannot freeze it */
    cryo_unit *u = test_compile("ffi::new(\"int\", 8)");
    cryo_vm *vm = cryo_vm_new(u, ffi);
    cryo_unit_release(u);
    cryo_value p = cryo_unit_value();
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &p), CRYO_OK);
    assert_int_equal(p.type, CRYO_T_POINTER);
    cryo_const c = cryo_const_int(1);
    assert_int_equal(cryo_vm_freeze(vm, p, &c), CRYO_ERR_TYPE);
    assert_int_equal(cryo_const_type(c), CRYO_T_UNIT);
    assert_non_null(cryo_vm_error(vm));
    assert_int_equal(cryo_vm_error(vm)->kind, CRYO_ERR_TYPE);
    cryo_error *jerr = NULL;
    assert_null(cryo_value_to_json(p, NULL, &jerr));
    assert_non_null(jerr);
    assert_int_equal(jerr->kind, CRYO_ERR_TYPE);
    cryo_error_free(jerr);
    cryo_value_release(p); /* the caller's reference: the buffer goes with it (ASan, valgrind) */
    cryo_vm_free(vm);
}

static void test_buffers_count_against_the_memory_limit(void **state) {
    (void)state;
    EXPECT_ERR_LIMIT(ffi, "let p = ffi::new(\"char\", 1000000); 1", CRYO_LIMIT_MEMORY, 100000,
                     CRYO_ERR_MEMORY, "ffi::new");
    /* buffers that die give their bytes back: 100 x 5000 bytes under a 100 kB limit */
    EXPECT_IN(ffi, "for i in 0..100 { let p = ffi::new(\"char\", 5000); p[4999] = 1; } 1", "1");
    cryo_unit *u = test_compile("for i in 0..100 { let p = ffi::new(\"char\", 5000); } 1");
    cryo_vm *vm = cryo_vm_new(u, ffi);
    cryo_unit_release(u);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 100000);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    cryo_vm_free(vm);
    /* ... and those kept alive do not: 100 x 5000 bytes held in an array */
    EXPECT_ERR_LIMIT(ffi, "let a = []; for i in 0..100 { a.push(ffi::new(\"char\", 5000)); } 1",
                     CRYO_LIMIT_MEMORY, 100000, CRYO_ERR_MEMORY, "out of memory");
}

/* A buffer of pointers (`ffi::new("T *", n)`: n elements of type T *) reads each element as a
 * typed T pointer, so p[i][j] works for int, double and char; more levels (char **) keep theirs.
 * A struct pointer element stays opaque (struct pointers are not indexed). */
static void test_pointer_elements_keep_their_pointee(void **state) {
    (void)state;
    EXPECT_IN(ffi,
              "let q = ffi::new(\"int\", 2); let p = ffi::new(\"int *\", 3); p[0] = q; "
              "p[0][1] = 5; [p[0][1] == 5, q[1], p[1] == ()]",
              "[true, 5, true]");
    EXPECT_IN(ffi,
              "let q = ffi::new(\"double\", 2); let p = ffi::new(\"double *\"); p[0] = q; "
              "p[0][1] = 2.5; q[1]",
              "2.5");
    EXPECT_IN(ffi,
              "let q = ffi::new(\"char\", 3); let p = ffi::new(\"char *\"); p[0] = q; "
              "p[0][0] = 104; p[0][1] = 105; ffi::string(q)",
              "\"hi\"");
    EXPECT_IN(ffi,
              "let s = ffi::new(\"char\", 2); s[0] = 120; let m = ffi::new(\"char *\"); m[0] = s; "
              "let p = ffi::new(\"char **\"); p[0] = m; p[0][0][0]",
              "120");
    EXPECT_IN(ffi,
              "let q = ffi::new(\"int\"); q[0] = 7; let p = ffi::new(\"int *\"); p[0] = q; "
              "ffi::cast(p, \"int **\")[0][0]",
              "7");
    EXPECT_IN(ffi,
              "ffi::cdef(\"struct HrevP { int x; };\"); let p = ffi::new(\"struct HrevP *\"); p[0]",
              "ptr<void>((nil))");
    EXPECT_ERR_IN(ffi, "let p = ffi::new(\"int *\"); p[0] = 5", CRYO_ERR_TYPE,
                  "cannot store i64 in a pointer element");
}

/* () is NULL for arguments, and a NULL pointer equals () (a non-NULL one does not). */
static void test_null_equals_unit(void **state) {
    (void)state;
    EXPECT_IN(ffi, "[ffi::null() == (), () == ffi::null(), ffi::null() != (), () != ffi::null()]",
              "[true, true, false, false]");
    EXPECT_IN(ffi, "let p = ffi::new(\"int\"); [p == (), p != (), ffi::cast(0, \"int *\") == ()]",
              "[false, true, true]");
    EXPECT_IN(ffi, "switch ffi::null() { () => 1, _ => 2 }", "1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_indexing),
        cmocka_unit_test(test_pointer_elements_keep_their_pointee),
        cmocka_unit_test(test_null_equals_unit),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_alias_cast_addr_string),
        cmocka_unit_test(test_c_functions_take_and_return_pointers),
        cmocka_unit_test(test_capability_guards_pointers),
        cmocka_unit_test(test_pointers_stay_on_their_thread),
        cmocka_unit_test(test_buffers_count_against_the_memory_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
