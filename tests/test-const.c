/*
 * test-const.c — ConstValues: constructors, readers, equality, text, retain/release, freezing
 * VM values and thawing consts (copy on write).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_scalars(void **state) {
    (void)state;
    assert_int_equal(cryo_const_type(cryo_const_unit()), CRYO_T_UNIT);
    assert_int_equal(cryo_const_int(42).v.as.i, 42);
    assert_true(cryo_const_bool(true).v.as.b);
    assert_int_equal(cryo_const_char(0x263A).v.as.c, 0x263A);
    assert_true(cryo_const_equal(cryo_const_int(1), cryo_const_float(1.0)));
    assert_false(cryo_const_equal(cryo_const_int(1), cryo_const_int(2)));
    char *s = cryo_const_to_cstring(cryo_const_float(0.5), false);
    assert_string_equal(s, "0.5");
    free(s);
}

static void test_trees(void **state) {
    (void)state;
    cryo_const items[3] = {cryo_const_int(1), cryo_const_string("two", 3),
                           cryo_const_array((cryo_const[]){cryo_const_bool(false)}, 1)};
    cryo_const arr = cryo_const_array(items, 3);
    const char *keys[] = {"b", "a"};
    cryo_const vals[] = {cryo_const_retain(arr), cryo_const_string("x", 1)};
    cryo_const map = cryo_const_map(keys, vals, 2);
    char *s = cryo_const_to_cstring(map, true);
    assert_string_equal(s, "#{\"a\": \"x\", \"b\": [1, \"two\", [false]]}");
    free(s);
    /* readers on c.v */
    assert_int_equal(cryo_array_len(arr.v), 3);
    size_t len;
    assert_string_equal(cryo_value_str(cryo_array_get(arr.v, 1), &len), "two");
    cryo_value b;
    assert_true(cryo_map_find(map.v, "b", &b));
    assert_int_equal(cryo_array_len(b), 3);
    /* equality is deep */
    cryo_const again = cryo_const_array(
        (cryo_const[]){cryo_const_int(1), cryo_const_string("two", 3),
                       cryo_const_array((cryo_const[]){cryo_const_bool(false)}, 1)},
        3);
    assert_true(cryo_const_equal(arr, again));
    cryo_const_release(again);
    cryo_const_release(arr);
    cryo_const_release(map); /* frees the array too (valgrind checks) */
}

static cryo_vm *vm_for(const char *src, const char *global) {
    const char *const globals[] = {global};
    cryo_compile_options opts = {.globals = globals, .nglobals = global ? 1 : 0};
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), &opts, &err);
    if (!u) fprintf(stderr, "%s\n", err->message);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    return vm;
}

/* The value `src` evaluates to, frozen: the VM it ran in is gone, the const owns its copy. */
static cryo_const frozen(const char *src) {
    cryo_vm *vm = vm_for(src, NULL);
    cryo_value v;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_OK);
    cryo_const c;
    assert_int_equal(cryo_vm_freeze(vm, v, &c), CRYO_OK);
    cryo_value_release(v);
    cryo_vm_free(vm);
    return c;
}

/* Freeze a VM value, thaw it in another VM, write to it there: the const does not change. */
static void test_freeze_thaw(void **state) {
    (void)state;
    cryo_const c = frozen("#{list: [1, 2, \"s\"], n: 5, r: 1..3}");
    assert_int_equal(cryo_const_type(c), CRYO_T_MAP);

    cryo_vm *b = vm_for("x.list.push(3); x.n += 1; [x, type_of(x.r)]", "x");
    cryo_value t;
    assert_int_equal(cryo_vm_thaw(b, c, &t), CRYO_OK);
    cryo_value r;
    assert_int_equal(cryo_vm_run(b, &t, 1, &r), CRYO_OK);
    char *s = cryo_value_to_cstring(r, true);
    assert_string_equal(s, "[#{\"list\": [1, 2, \"s\", 3], \"n\": 6, \"r\": 1..3}, \"range\"]");
    free(s);
    cryo_value_release(r);
    s = cryo_const_to_cstring(c, true);
    assert_string_equal(s, "#{\"list\": [1, 2, \"s\"], \"n\": 5, \"r\": 1..3}");
    free(s);
    cryo_const_release(c); /* the VM's pin keeps it while b lives */
    assert_int_equal(cryo_vm_run(b, &t, 1, &r), CRYO_OK);
    cryo_value_release(r);
    cryo_vm_free(b);
}

/* Maps whose keys are interned (computed keys, property names) freeze, serialize and thaw
 * as before: frozen and loaded maps keep their own key copies, found by bytes, and compare
 * equal to maps built again in another VM. */
static void test_interned_keys_frozen(void **state) {
    (void)state;
    const char *build = "let m = #{a: 1}; for i in 0..20 { m[\"k\" + i] = i; } m.b = 2; m";
    cryo_const c = frozen(build);
    size_t size = 0;
    cryo_error *err = NULL;
    void *img = cryo_const_to_image_alloc(c, 0, &size, &err);
    assert_non_null(img);
    cryo_const back;
    assert_int_equal(cryo_const_from_image(img, size, NULL, &back, &err), CRYO_OK);
    free(img);
    assert_true(cryo_const_equal(c, back));
    /* Thawed into a VM: read by name, written, and equal to a map built there again. */
    cryo_const both[2] = {c, back};
    for (int i = 0; i < 2; i++) {
        cryo_vm *b = vm_for("let y = x; y.k3 += 100; y.c = 3;"
                            "let m = #{a: 1}; for i in 0..20 { m[\"k\" + i] = i; } m.b = 2;"
                            "[x == m, x.k19 + x.a + x[\"k\" + 7], y.k3, y.c, y.len(), x.len()]",
                            "x");
        cryo_value t, r;
        assert_int_equal(cryo_vm_thaw(b, both[i], &t), CRYO_OK);
        assert_int_equal(cryo_vm_run(b, &t, 1, &r), CRYO_OK);
        char *s = cryo_value_to_cstring(r, false);
        assert_string_equal(s, "[true, 27, 103, 3, 23, 22]");
        free(s);
        cryo_value_release(r);
        cryo_vm_free(b);
    }
    cryo_const_release(back);
    cryo_const_release(c);
}

/* Freezing a function value gives a SyncFunction const; a C pointer-like VM-local value fails. */
static void test_freeze_functions(void **state) {
    (void)state;
    cryo_const c = frozen("let k = 1; [|x| x + k, 2]");
    cryo_value f = cryo_array_get(c.v, 0);
    assert_int_equal(f.type, CRYO_T_SYNCFN);
    cryo_sync *sf = cryo_value_as_sync(f);
    cryo_const arg = cryo_const_int(41), r;
    assert_int_equal(cryo_sync_call(sf, 1, &arg, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 42);
    char *s = cryo_const_to_cstring(c, false);
    assert_string_equal(s, "[SyncFn(anon$0), 2]");
    free(s);
    cryo_const_release(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),          cmocka_unit_test(test_trees),
        cmocka_unit_test(test_freeze_thaw),      cmocka_unit_test(test_interned_keys_frozen),
        cmocka_unit_test(test_freeze_functions),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    cryo_vm_pool_clear();
    return r;
}
