/*
 * test-image.c — images (issue 18): unit images run like their source; ConstValue images of
 * every value kind round-trip, with shared substructure loading shared; a SyncFunction dumped,
 * loaded and called (also from 8 threads); a unit referenced by hash; values that never
 * serialize; the buffer API; and hostile input: every truncation, every bit flip (hash fixed
 * up so that the parser and the verifier see it), and crafted bytecode the verifier rejects;
 * a version 1 image still loads. Host types in images: test-image-hosttype.c.
 */
/* ctest-labels: threads */
#include "test.h"

#include "unit.h" /* crafting hostile bytecode */

static cryo_vm *limited_vm(cryo_unit *u) {
    cryo_vm *vm = cryo_vm_new(u, NULL);
    assert_non_null(vm);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 20000);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 8u << 20);
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 32);
    return vm;
}

/* Runs u; its result's debug text (malloc'd), or "error: <message>". */
static char *run_text(cryo_unit *u) {
    cryo_vm *vm = limited_vm(u);
    cryo_value r;
    char *out;
    if (cryo_vm_run(vm, NULL, 0, &r) == CRYO_OK) {
        out = cryo_value_to_cstring(r, true);
        cryo_value_release(r);
    } else {
        const char *m = cryo_vm_error(vm)->message;
        out = malloc(strlen(m) + 8);
        sprintf(out, "error: %s", m);
    }
    cryo_vm_free(vm);
    return out;
}

/* Freezes what src returns. */
static cryo_const freeze_of(const char *src) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value v;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &v), CRYO_OK);
    cryo_const c;
    cryo_error_kind k = cryo_vm_freeze(vm, v, &c);
    if (k) fprintf(stderr, "freeze: %s\n", cryo_vm_error(vm)->message);
    assert_int_equal(k, CRYO_OK);
    cryo_value_release(v);
    cryo_vm_free(vm);
    return c;
}

static cryo_const reload(cryo_const c, unsigned flags, const cryo_image_load_options *o) {
    size_t n = 0;
    cryo_error *err = NULL;
    void *img = cryo_const_to_image_alloc(c, flags, &n, &err);
    if (!img) fprintf(stderr, "dump: %s\n", err ? err->message : "?");
    assert_non_null(img);
    assert_int_equal(cryo_image_kind(img, n), CRYO_IMAGE_CONST);
    cryo_const out;
    cryo_error_kind k = cryo_const_from_image(img, n, o, &out, &err);
    if (k) fprintf(stderr, "load: %s\n", err->message);
    assert_int_equal(k, CRYO_OK);
    free(img);
    return out;
}

static const char *PROGRAM = "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }\n"
                             "let m = #{a: [1, 2.5, 'c', \"s\"], r: 1..=3};\n"
                             "let t = 0; for i in 0..10 { t += i; }\n"
                             "let f = |x| x + t;\n"
                             "let s = try { throw \"boom\" } catch (e) { e };\n"
                             "`${fib(15)} ${m} ${f.call(1)} ${s} ${\"abc\".len()}`";

static void test_unit_round_trip(void **state) {
    (void)state;
    cryo_unit *u = test_compile(PROGRAM);
    size_t need = 0;
    cryo_error *err = NULL;
    assert_int_equal(cryo_unit_to_image(u, NULL, 0, &need, &err), CRYO_ERR_DATA_TOO_LARGE);
    assert_non_null(err);
    cryo_error_free(err);
    assert_true(need > 20);
    unsigned char *buf = malloc(need);
    size_t got = 0;
    assert_int_equal(cryo_unit_to_image(u, buf, need - 1, &got, NULL), CRYO_ERR_DATA_TOO_LARGE);
    assert_int_equal(got, need);
    assert_int_equal(cryo_unit_to_image(u, buf, need, &got, &err), CRYO_OK);
    assert_null(err);
    assert_memory_equal(buf, "CRYO", 4);
    assert_int_equal(cryo_image_kind(buf, got), CRYO_IMAGE_UNIT);
    cryo_unit *v = cryo_unit_from_image(buf, got, &err);
    assert_non_null(v);
    assert_int_equal(cryo_unit_hash(u), cryo_unit_hash(v));
    char *a = run_text(u), *b = run_text(v);
    assert_string_equal(
        a, "\"610 #{\\\"a\\\": [1, 2.5, 'c', \\\"s\\\"], \\\"r\\\": 1..=3} 46 boom 3\"");
    assert_string_equal(a, b);
    /* the image of the loaded unit is the same bytes */
    size_t n2 = 0;
    void *img2 = cryo_unit_to_image_alloc(v, &n2, NULL);
    assert_int_equal(n2, got);
    assert_memory_equal(img2, buf, got);
    free(img2);
    free(a);
    free(b);
    free(buf);
    cryo_unit_release(u);
    cryo_unit_release(v);
}

static void test_every_kind(void **state) {
    (void)state;
    const char *srcs[] = {"()",
                          "true",
                          "false",
                          "-9223372036854775807 - 1",
                          "2.5e-300",
                          "'\\u263A'",
                          "\"héllo\\0x\"",
                          "[]",
                          "[1, [2, [3, #{}]], \"x\"]",
                          "#{}",
                          "#{b: 1, a: [true], \"\": ()}",
                          "1..5",
                          "-3..=3",
                          "[1..2, 'x', 0.0, -0.0]"};
    for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
        cryo_const c = freeze_of(srcs[i]);
        cryo_const d = reload(c, 0, NULL);
        assert_int_equal(cryo_const_type(c), cryo_const_type(d));
        assert_true(cryo_const_equal(c, d));
        char *x = cryo_const_to_cstring(c, true), *y = cryo_const_to_cstring(d, true);
        assert_string_equal(x, y);
        free(x);
        free(y);
        cryo_const_release(c);
        cryo_const_release(d);
    }
    /* consts built by the host too */
    cryo_const items[2] = {cryo_const_string("k", 1), cryo_const_float(1.5)};
    cryo_const arr = cryo_const_array(items, 2);
    cryo_const d = reload(arr, 0, NULL);
    assert_true(cryo_const_equal(arr, d));
    cryo_const_release(arr);
    cryo_const_release(d);
}

static void test_sharing_kept(void **state) {
    (void)state;
    cryo_const c = freeze_of("let a = [1, 2]; let s = \"shared\";\n"
                             "let m = #{x: a, y: a, s: s};\n"
                             "[a, a, m, s]");
    cryo_const d = reload(c, 0, NULL);
    const cryo_value v = d.v;
    cryo_value a0 = cryo_array_get(v, 0), a1 = cryo_array_get(v, 1), m = cryo_array_get(v, 2);
    assert_ptr_equal(a0.as.obj, a1.as.obj);
    cryo_value mx, my, ms;
    assert_true(cryo_map_find(m, "x", &mx));
    assert_true(cryo_map_find(m, "y", &my));
    assert_true(cryo_map_find(m, "s", &ms));
    assert_ptr_equal(mx.as.obj, a0.as.obj);
    assert_ptr_equal(my.as.obj, a0.as.obj);
    /* the string: shared in the image exactly when freezing shared it */
    cryo_value cms;
    assert_true(cryo_map_find(cryo_array_get(c.v, 2), "s", &cms));
    assert_int_equal(cms.as.obj == cryo_array_get(c.v, 3).as.obj,
                     ms.as.obj == cryo_array_get(v, 3).as.obj);
    assert_true(cryo_const_equal(c, d));
    cryo_const_release(c);
    cryo_const_release(d);
    /* 2^40 paths, 41 arrays: the image is small and loads shared */
    c = freeze_of("let a = [1]; for i in 0..40 { a = [a, a]; } a");
    size_t n = 0;
    void *img = cryo_const_to_image_alloc(c, 0, &n, NULL);
    assert_non_null(img);
    assert_true(n < 2000);
    cryo_const e;
    assert_int_equal(cryo_const_from_image(img, n, NULL, &e, NULL), CRYO_OK);
    cryo_value x = e.v;
    for (int i = 0; i < 40; i++) {
        assert_ptr_equal(cryo_array_get(x, 0).as.obj, cryo_array_get(x, 1).as.obj);
        x = cryo_array_get(x, 0);
    }
    assert_int_equal(cryo_array_get(x, 0).as.i, 1);
    free(img);
    cryo_const_release(c);
    cryo_const_release(e);
}

/* x + k + len(s) + sum(a) + m.y + g(x) = 4x + 118, g a captured closure (a nested SyncFn) */
static const char *BIG = "let k = 7; let s = \"hello\"; let a = [1, 2, 3];\n"
                         "let m = #{y: 100, name: \"m\"}; let g = |z| z * 3;\n"
                         "let f = |x| x + k + s.len() + a.reduce(|acc, v| acc + v, 0) + m.y + "
                         "g.call(x);\n"
                         "f.into_sync()";

static cryo_sync *loaded_big(unsigned flags, const cryo_image_load_options *o) {
    cryo_const c = freeze_of(BIG);
    assert_int_equal(cryo_const_type(c), CRYO_T_SYNCFN);
    cryo_const d = reload(c, flags, o);
    cryo_const_release(c);
    cryo_sync *f = cryo_sync_retain(cryo_value_as_sync(d.v));
    assert_non_null(f);
    cryo_const_release(d);
    return f;
}

static void *call_many(void *arg) {
    cryo_sync *f = arg;
    for (int64_t x = 0; x < 2000; x++) {
        cryo_const a = cryo_const_int(x), r;
        if (cryo_sync_call(f, 1, &a, &r, NULL) != CRYO_OK || r.v.as.i != 4 * x + 118)
            return (void *)1;
    }
    return NULL;
}

static void test_sync_function(void **state) {
    (void)state;
    cryo_sync *f = loaded_big(0, NULL);
    assert_int_equal(cryo_sync_arity(f), 1);
    cryo_const a = cryo_const_int(10), r;
    assert_int_equal(cryo_sync_call(f, 1, &a, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 158);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, call_many, f), 0);
    for (int i = 0; i < 8; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    cryo_sync_release(f);
}

static cryo_unit *the_unit;
static cryo_unit *resolve(void *ud, uint64_t hash) {
    int *calls = ud;
    ++*calls;
    return hash == cryo_unit_hash(the_unit) ? cryo_unit_retain(the_unit) : NULL;
}

static void test_unit_by_hash(void **state) {
    (void)state;
    cryo_const c = freeze_of(BIG);
    cryo_sync *s = cryo_value_as_sync(c.v);
    /* the unit the SyncFunction runs is BIG's: compile it again, as a receiver would */
    the_unit = test_compile(BIG);
    size_t n_hash = 0, n_embed = 0;
    void *img = cryo_const_to_image_alloc(c, CRYO_IMAGE_UNIT_BY_HASH, &n_hash, NULL);
    free(cryo_const_to_image_alloc(c, 0, &n_embed, NULL));
    assert_true(n_hash < n_embed);
    cryo_const d;
    cryo_error *err = NULL;
    assert_int_equal(cryo_const_from_image(img, n_hash, NULL, &d, &err), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(err->message, "resolver"));
    cryo_error_free(err);
    int calls = 0;
    cryo_image_load_options o = {NULL, resolve, &calls};
    assert_int_equal(cryo_const_from_image(img, n_hash, &o, &d, NULL), CRYO_OK);
    assert_int_equal(calls, 1);
    cryo_const a = cryo_const_int(1), r;
    assert_int_equal(cryo_sync_call(cryo_value_as_sync(d.v), 1, &a, &r, NULL), CRYO_OK);
    assert_int_equal(r.v.as.i, 122);
    (void)s;
    free(img);
    cryo_const_release(c);
    cryo_const_release(d);
    cryo_unit_release(the_unit);
}

static void nop(void *p) {
    (void)p;
}

static void test_never_serializes(void **state) {
    (void)state;
    static const cryo_handle_type sendable = {"Socket", NULL, nop, nop, NULL};
    cryo_unit *u = test_compile("1");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value h = cryo_value_handle(&sendable, (void *)&sendable);
    cryo_const c;
    assert_int_equal(cryo_vm_freeze(vm, h, &c), CRYO_OK);
    cryo_value_release(h);
    size_t n = 0;
    cryo_error *err = NULL;
    assert_null(cryo_const_to_image_alloc(c, 0, &n, &err));
    assert_int_equal(err->kind, CRYO_ERR_TYPE);
    assert_non_null(strstr(err->message, "'Socket'")); /* sendable, but no dump/load hooks */
    cryo_error_free(err);
    cryo_const_release(c);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* --- hostile input ------------------------------------------------------------------------- */

static uint64_t fnv(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Rewrites the header's hash so that a changed payload reaches the parser and the verifier. */
static void fix_hash(unsigned char *img, size_t n) {
    uint64_t h = fnv(img + 20, n - 20);
    for (int i = 0; i < 8; i++)
        img[8 + i] = (unsigned char)(h >> (8 * i));
}

/* Loads img as whatever it is; runs what loads, under limits. Must not crash. */
static bool try_load(const unsigned char *img, size_t n) {
    cryo_error *err = NULL;
    if (n >= 7 && img[6] == CRYO_IMAGE_UNIT) {
        cryo_unit *u = cryo_unit_from_image(img, n, &err);
        if (!u) {
            assert_non_null(err);
            assert_int_equal(err->kind, CRYO_ERR_ARGUMENT);
            assert_true(strlen(err->message) > 8);
            cryo_error_free(err);
            return false;
        }
        free(run_text(u));
        cryo_unit_release(u);
        return true;
    }
    cryo_const c;
    cryo_error_kind k = cryo_const_from_image(img, n, NULL, &c, &err);
    if (k) {
        assert_non_null(err);
        assert_true(strlen(err->message) > 8);
        cryo_error_free(err);
        return false;
    }
    cryo_sync *f = cryo_value_as_sync(c.v);
    if (f) {
        cryo_unit *u = test_compile("1");
        cryo_vm *vm = limited_vm(u);
        cryo_value a = cryo_int(3), r;
        if (cryo_sync_call_in(f, vm, 1, &a, &r) == CRYO_OK) cryo_value_release(r);
        cryo_vm_free(vm);
        cryo_unit_release(u);
    }
    cryo_const_release(c);
    return true;
}

static void hostile_all(unsigned char *img, size_t n) {
    for (size_t cut = 0; cut < n; cut++) /* every truncation: an error, never a crash */
        assert_false(try_load(img, cut));
    unsigned char *copy = malloc(n);
    for (size_t i = 20; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, img, n);
            copy[i] ^= (unsigned char)(1u << bit);
            assert_false(try_load(copy, n)); /* the hash catches it */
            fix_hash(copy, n);
            try_load(copy, n); /* parser and verifier: either outcome, no crash */
        }
    free(copy);
    assert_true(try_load(img, n));
}

static void test_hostile_unit(void **state) {
    (void)state;
    cryo_unit *u = test_compile("let a = [1, 2]; let s = 0; for x in a { s += x; }\n"
                                "let f = |y| y + s; fn g(q) { q * 2 } g(f.call(1))");
    size_t n = 0;
    unsigned char *img = cryo_unit_to_image_alloc(u, &n, NULL);
    hostile_all(img, n);
    free(img);
    cryo_unit_release(u);
}

static void test_hostile_const(void **state) {
    (void)state;
    cryo_const c = freeze_of("let a = [1, \"x\", #{k: 2..3}]; let b = [a, a];\n"
                             "let f = |y| y + b.len(); f.into_sync()");
    size_t n = 0;
    unsigned char *img = cryo_const_to_image_alloc(c, 0, &n, NULL);
    assert_non_null(img);
    hostile_all(img, n);
    free(img);
    cryo_const_release(c);
}

/* A unit whose bytecode is changed after compiling, then dumped: the loader must refuse it. */
static void expect_rejected(const char *src, void (*patch)(cryo_unit *), const char *needle) {
    cryo_unit *u = test_compile(src);
    patch(u);
    size_t n = 0;
    void *img = cryo_unit_to_image_alloc(u, &n, NULL);
    assert_non_null(img);
    cryo_error *err = NULL;
    assert_null(cryo_unit_from_image(img, n, &err));
    if (!strstr(err->message, needle))
        fprintf(stderr, "message '%s' lacks '%s'\n", err->message, needle);
    assert_non_null(strstr(err->message, needle));
    cryo_error_free(err);
    free(img);
    cryo_unit_release(u);
}

static void patch_reg(cryo_unit *u) {
    u->protos[0]->code[0] = CRYO_ABC(OP_MOVE, 0, 249, 0);
}
static void patch_const(cryo_unit *u) {
    u->protos[0]->code[0] = CRYO_ABX(OP_LOADK, 0, 999);
}
static void patch_jump(cryo_unit *u) {
    u->protos[0]->code[0] = CRYO_SJX(OP_JMP, 100000);
}
static void patch_opcode(cryo_unit *u) {
    u->protos[0]->code[0] = 0xFF;
}
static void patch_end(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    p->code[p->ncode - 1] = CRYO_ABC(OP_MOVE, 0, 0, 0);
}
static void patch_upv(cryo_unit *u) {
    u->protos[0]->code[0] = CRYO_ABC(OP_GETUPV, 0, 0, 0);
}
static void patch_closure(cryo_unit *u) {
    u->protos[0]->code[0] = CRYO_ABX(OP_CLOSURE, 0, 0);
}
static void patch_fn(cryo_unit *u) {
    u->fns[0].proto = 77;
}
static void patch_call_extra(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    for (uint32_t i = 0; i + 1 < p->ncode; i++)
        if (CRYO_OP(p->code[i]) == OP_CALL) p->code[i + 1] = CRYO_EXTRA(500, 0, 0);
}
static void patch_host(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    for (uint32_t i = 0; i + 1 < p->ncode; i++)
        if (CRYO_OP(p->code[i]) == OP_CALLH) p->code[i + 1] = CRYO_EXTRA(900, 0, 0);
}
static void patch_capture(cryo_unit *u) {
    for (uint32_t i = 0; i < u->nprotos; i++)
        if (u->protos[i]->ncaps) u->protos[i]->caps[0].index = 240;
}

static void patch_backward(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    for (uint32_t i = 0; i < p->ncode; i++)
        if (CRYO_OP(p->code[i]) == OP_JMPF || CRYO_OP(p->code[i]) == OP_JMPT) {
            p->code[i] = CRYO_ASBX(CRYO_OP(p->code[i]), CRYO_A(p->code[i]), -1);
            return;
        }
    fail_msg("no conditional jump");
}

/* The first SETPATH of proto 0 (`o.a[i] = v`): its root word and first step word. */
static cryo_instr *setpath_of(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    for (uint32_t i = 0; i < p->ncode; i++)
        if (CRYO_OP(p->code[i]) == OP_SETPATH) return &p->code[i];
    fail_msg("no SETPATH");
    return NULL;
}
static void patch_path_step_reg(cryo_unit *u) {
    cryo_instr *w = setpath_of(u);
    w[2] = CRYO_PATH_STEP(250, 1);
}
static void patch_path_step_const(cryo_unit *u) {
    cryo_instr *w = setpath_of(u);
    w[2] = CRYO_PATH_STEP(4000, 0);
}
static void patch_path_root_upv(cryo_unit *u) {
    cryo_instr *w = setpath_of(u);
    w[1] = CRYO_PATH_ROOT(3, CRYO_PATH_UPV);
}
static void patch_path_op(cryo_unit *u) {
    cryo_instr *w = setpath_of(u);
    w[0] = CRYO_ABC(OP_SETPATH, CRYO_A(w[0]), CRYO_B(w[0]), OP_CALL);
}
static void patch_path_words(cryo_unit *u) { /* more steps than words before the end */
    cryo_instr *w = setpath_of(u);
    w[0] = CRYO_ABC(OP_SETPATH, CRYO_A(w[0]), 200, 0);
}
static void patch_path_bits(cryo_unit *u) {
    cryo_instr *w = setpath_of(u);
    w[2] |= 1u << 20;
}
static void patch_path_jump_in(cryo_unit *u) { /* a jump onto a raw word */
    cryo_proto *p = u->protos[0];
    cryo_instr *w = setpath_of(u);
    p->code[0] = CRYO_SJX(OP_JMP, (int)(w - p->code)); /* lands on w + 1, the root word */
}

static void test_verifier_rejects(void **state) {
    (void)state;
    const char *s = "let x = 1; x + 2";
    expect_rejected(s, patch_reg, "outside the frame");
    expect_rejected(s, patch_const, "constant 999");
    expect_rejected(s, patch_jump, "jump target");
    expect_rejected(s, patch_opcode, "opcode 255");
    expect_rejected(s, patch_end, "past its end");
    /* a loop the operations limit could not stop (found by fuzz_image) */
    expect_rejected("let x = 1; if x > 0 { 1 } else { 2 }", patch_backward, "jump backward");
    expect_rejected(s, patch_upv, "outside a closure");
    expect_rejected(s, patch_closure, "proto 0");
    expect_rejected("fn f(a) { a } f(1)", patch_fn, "invalid fn 0");
    expect_rejected("fn f(a) { a } f(1)", patch_call_extra, "calls proto 500");
    expect_rejected("print(1)", patch_host, "host slot 900");
    expect_rejected("let y = 1; let f = |x| x + y; f.call(1)", patch_capture, "capture 0");
    /* SETPATH and its raw words */
    const char *p = "let i = 0; let o = #{a: [1, 2]}; o.a[i] = 5; o";
    expect_rejected(p, patch_path_step_reg, "outside the frame");
    expect_rejected(p, patch_path_step_const, "constant 4000");
    expect_rejected(p, patch_path_root_upv, "outside a closure");
    expect_rejected(p, patch_path_op, "not a binary operator");
    expect_rejected(p, patch_path_words, "raw words are missing");
    expect_rejected(p, patch_path_bits, "reserved bits");
    expect_rejected(p, patch_path_jump_in, "jump target");
}

/* A path write round-trips: the loaded unit writes in place as the compiled one does. */
static void test_setpath_round_trip(void **state) {
    (void)state;
    cryo_unit *u = test_compile("let i = 1; let o = #{a: [1, 2]}; o.a[i] += 5; o.a[0] = 9; o.a");
    size_t n = 0;
    void *img = cryo_unit_to_image_alloc(u, &n, NULL);
    cryo_unit *v = cryo_unit_from_image(img, n, NULL);
    assert_non_null(v);
    char *t = run_text(v);
    assert_string_equal(t, "[9, 7]");
    free(t);
    free(img);
    cryo_unit_release(u);
    cryo_unit_release(v);
}

/* Hostile bytecode the verifier lets through (bounds are fine, types are not): the VM's own
 * checks stop it with an error. */
static void patch_getcell(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    p->code[0] = CRYO_ABC(OP_GETCELL, 0, 0, 0);
}
static void patch_iter(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    for (uint32_t i = 0; i < p->ncode; i++)
        if (CRYO_OP(p->code[i]) == OP_ITERPREP) /* skip the prep: the state is not set */
            p->code[i] = CRYO_SJX(OP_JMP, CRYO_SBX(p->code[i]));
}

/* SETCELL storing a cell into itself: a cycle every later read would walk forever (found by
 * fuzz_image as a timeout). */
static void patch_setcell_self(cryo_unit *u) {
    cryo_proto *p = u->protos[0];
    for (uint32_t i = 0; i < p->ncode; i++)
        if (CRYO_OP(p->code[i]) == OP_SETCELL) {
            uint32_t a = CRYO_A(p->code[i]);
            p->code[i] = CRYO_ABC(OP_SETCELL, a, a, 0);
        }
}

static void expect_runtime_error(const char *src, void (*patch)(cryo_unit *)) {
    cryo_unit *u = test_compile(src);
    patch(u);
    size_t n = 0;
    void *img = cryo_unit_to_image_alloc(u, &n, NULL);
    cryo_unit *v = cryo_unit_from_image(img, n, NULL);
    assert_non_null(v);
    char *t = run_text(v);
    assert_non_null(strstr(t, "invalid bytecode"));
    free(t);
    free(img);
    cryo_unit_release(u);
    cryo_unit_release(v);
}

static void patch_path_cell(cryo_unit *u) { /* a REG root retagged as a cell */
    cryo_instr *w = setpath_of(u);
    w[1] = CRYO_PATH_ROOT(CRYO_PATH_ROOT_INDEX(w[1]), CRYO_PATH_CELL);
}
static void test_vm_type_checks(void **state) {
    (void)state;
    expect_runtime_error("let i = 0; let o = #{a: [1, 2]}; o.a[i] = 5; o", patch_path_cell);
    expect_runtime_error("let x = 1; x + 2", patch_getcell);
    expect_runtime_error("let x = 1; let f = || x; x = 5; f.call()", patch_setcell_self);
    expect_runtime_error("let s = 0; let a = [1, 2]; for x in a { s += x; } s", patch_iter);
}

static void test_bad_headers(void **state) {
    (void)state;
    cryo_error *err = NULL;
    assert_null(cryo_unit_from_image("NOPE", 4, &err));
    assert_non_null(strstr(err->message, "truncated"));
    cryo_error_free(err);
    unsigned char h[24] = "XXXX";
    assert_null(cryo_unit_from_image(h, sizeof h, &err));
    assert_non_null(strstr(err->message, "magic"));
    cryo_error_free(err);
    memcpy(h, "CRYO\x09\x00\x01\x00", 8);
    assert_null(cryo_unit_from_image(h, sizeof h, &err));
    assert_non_null(strstr(err->message, "version 9"));
    cryo_error_free(err);
    assert_int_equal(cryo_image_kind(h, sizeof h), CRYO_IMAGE_UNIT);
    assert_int_equal(cryo_image_kind("CRY", 3), 0);
    /* a huge count in a tiny image: refused before any allocation */
    cryo_unit *u = test_compile("1");
    size_t n = 0;
    unsigned char *img = cryo_unit_to_image_alloc(u, &n, NULL);
    img[20] = img[21] = img[22] = 0xFF;
    img[23] = 0x7F;
    fix_hash(img, n);
    assert_null(cryo_unit_from_image(img, n, &err));
    assert_non_null(strstr(err->message, "cannot fit"));
    cryo_error_free(err);
    free(img);
    cryo_unit_release(u);
}

/* A version 1 unit image still loads and runs: version 2 only added fields. "40 + 2" is one
 * proto with no local variables and no fns or host slots, so its version 2 image ends with
 * that proto's local count (u32 0); without it, and with version 1 in the header, it is the
 * version 1 image of the same unit. */
static void test_version1_unit(void **state) {
    (void)state;
    cryo_unit *u = test_compile("40 + 2");
    size_t n = 0;
    unsigned char *img = cryo_unit_to_image_alloc(u, &n, NULL);
    uint64_t h2 = cryo_unit_hash(u);
    cryo_unit_release(u);
    assert_non_null(img);
    /* a unit image's payload is the unit section: its header hash is cryo_unit_hash */
    assert_int_not_equal(h2, 0);
    assert_memory_equal(img + 8, &h2, 8); /* little-endian hosts only, as chain_image */
    assert_int_equal(img[4], 2);
    static const unsigned char zero[4] = {0};
    assert_memory_equal(img + n - 4, zero, 4);
    n -= 4;
    img[4] = 1;
    uint32_t pl = (uint32_t)(n - 20);
    for (int i = 0; i < 4; i++)
        img[16 + i] = (unsigned char)(pl >> (8 * i));
    fix_hash(img, n);
    cryo_error *err = NULL;
    u = cryo_unit_from_image(img, n, &err);
    assert_non_null(u);
    char *t = run_text(u);
    assert_string_equal(t, "42");
    free(t);
    /* The version 1 section hashes differently (no local-name counts): a hash a version 1 cryo
     * recorded is not today's cryo_unit_hash. The unit loaded from it hashes in today's layout,
     * like any unit: the same as the fresh compile here, which has no local names to lose. */
    uint64_t h1;
    memcpy(&h1, img + 8, 8);
    assert_int_not_equal(h1, h2);
    assert_int_equal(cryo_unit_hash(u), h2);
    cryo_unit_release(u);
    /* the same bytes claiming version 2 miss the local count */
    img[4] = 2;
    fix_hash(img, n);
    assert_null(cryo_unit_from_image(img, n, &err));
    assert_non_null(strstr(err->message, "local-variable count"));
    cryo_error_free(err);
    free(img);
}

/* A value image of a chain of n arrays, each holding the previous one. */
static unsigned char *chain_image(uint32_t n, size_t *len) {
    size_t cap = 20 + 1 + 4 + (size_t)n * 10 + 5;
    unsigned char *p = calloc(1, cap), *w = p + 20;
    *w++ = 0;                 /* no unit */
    memcpy(w, &n, 4), w += 4; /* little-endian hosts only: the test's own shortcut */
    for (uint32_t i = 0; i < n; i++) {
        *w++ = 2; /* array */
        uint32_t len1 = i ? 1 : 0, prev = i - 1;
        memcpy(w, &len1, 4), w += 4;
        if (i) *w++ = 5, memcpy(w, &prev, 4), w += 4;
    }
    uint32_t last = n - 1;
    *w++ = 5, memcpy(w, &last, 4), w += 4;
    *len = (size_t)(w - p);
    memcpy(p, "CRYO\x01\x00\x02\x00", 8);
    uint32_t pl = (uint32_t)(*len - 20);
    memcpy(p + 16, &pl, 4);
    fix_hash(p, *len);
    return p;
}

static void test_depth_bounded(void **state) {
    (void)state;
    size_t n;
    unsigned char *img = chain_image(2001, &n); /* the deepest the dumper writes */
    cryo_const c;
    cryo_error *err = NULL;
    assert_int_equal(cryo_const_from_image(img, n, NULL, &c, &err), CRYO_OK);
    size_t n2 = 0;
    void *again = cryo_const_to_image_alloc(c, 0, &n2, NULL);
    assert_non_null(again);
    assert_int_equal(n2, n);
    free(again);
    cryo_const_release(c);
    free(img);
    img = chain_image(2002, &n);
    assert_int_equal(cryo_const_from_image(img, n, NULL, &c, &err), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(err->message, "nested deeper"));
    cryo_error_free(err);
    free(img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_round_trip),    cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_sharing_kept),       cmocka_unit_test(test_sync_function),
        cmocka_unit_test(test_unit_by_hash),       cmocka_unit_test(test_never_serializes),
        cmocka_unit_test(test_bad_headers),        cmocka_unit_test(test_verifier_rejects),
        cmocka_unit_test(test_vm_type_checks),     cmocka_unit_test(test_hostile_unit),
        cmocka_unit_test(test_hostile_const),      cmocka_unit_test(test_depth_bounded),
        cmocka_unit_test(test_setpath_round_trip), cmocka_unit_test(test_version1_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
