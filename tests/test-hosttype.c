/* ctest-labels: threads */
/*
 * test-hosttype.c — host types (cryo_host_ops): property getters and setters (compound and
 * through paths), indexers (int and string keys, read and write), operators (arithmetic,
 * comparisons, ==, unary), to_string/to_debug in print, interpolation and debug, type_of,
 * iteration, the usual errors when a hook is missing or declines, wrong-type errors from the
 * hooks, and a sendable type frozen into a SyncFunction called from 8 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cryo.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- P: an integer point, sendable, with every hook ------------------------------------------ */

static atomic_int live; /* P objects alive */

typedef struct pt {
    atomic_int rc;
    int64_t x, y;
} pt;

static void p_retain(void *p) {
    atomic_fetch_add_explicit(&((pt *)p)->rc, 1, memory_order_relaxed);
}
static void p_release(void *p) {
    if (atomic_fetch_sub_explicit(&((pt *)p)->rc, 1, memory_order_acq_rel) == 1) {
        free(p);
        atomic_fetch_sub(&live, 1);
    }
}

static const cryo_host_ops p_ops;
static const cryo_handle_type p_type = {
    .name = "P", .retain = p_retain, .release = p_release, .ops = &p_ops};

static cryo_value p_new(int64_t x, int64_t y) {
    pt *p = malloc(sizeof *p);
    atomic_init(&p->rc, 1);
    p->x = x;
    p->y = y;
    atomic_fetch_add(&live, 1);
    return cryo_value_handle(&p_type, p);
}

static int64_t *field(pt *p, const char *name) {
    if (strcmp(name, "x") == 0) return &p->x;
    if (strcmp(name, "y") == 0) return &p->y;
    return NULL;
}

static cryo_error_kind p_get(cryo_vm *vm, void *ptr, const char *name, cryo_value *out) {
    (void)vm;
    if (strcmp(name, "broken") == 0) return CRYO_ERR_RUNTIME; /* fails without raising */
    int64_t *f = field(ptr, name);
    if (!f) return CRYO_HOST_DECLINE;
    *out = cryo_int(*f);
    return CRYO_OK;
}

static cryo_error_kind p_set(cryo_vm *vm, void *ptr, const char *name, cryo_value v) {
    int64_t *f = field(ptr, name);
    if (!f) return CRYO_HOST_DECLINE;
    if (v.type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "P.%s takes an i64, not %s", name,
                             cryo_type_name(v.type));
    *f = v.as.i;
    return CRYO_OK;
}

/* p[0], p[1], p["x"], p["y"] */
static int64_t *slot(cryo_vm *vm, pt *p, cryo_value idx, cryo_error_kind *k) {
    *k = CRYO_OK;
    if (idx.type == CRYO_T_INT && (idx.as.i == 0 || idx.as.i == 1))
        return idx.as.i == 0 ? &p->x : &p->y;
    if (idx.type == CRYO_T_STRING) {
        char key[8] = {0};
        cryo_value kv = idx;
        size_t n = 0;
        const char *s = cryo_value_str(kv, &n);
        if (s && n < sizeof key) memcpy(key, s, n);
        int64_t *f = field(p, key);
        if (f) return f;
        *k = cryo_vm_raise(vm, CRYO_ERR_INDEX, "P has no key '%s'", key);
        return NULL;
    }
    if (idx.type == CRYO_T_INT)
        *k = cryo_vm_raise(vm, CRYO_ERR_INDEX, "P index %lld out of bounds", (long long)idx.as.i);
    else
        *k =
            cryo_vm_raise(vm, CRYO_ERR_TYPE, "P cannot be indexed by %s", cryo_type_name(idx.type));
    return NULL;
}

static cryo_error_kind p_index_get(cryo_vm *vm, void *ptr, cryo_value idx, cryo_value *out) {
    cryo_error_kind k;
    int64_t *f = slot(vm, ptr, idx, &k);
    if (f) *out = cryo_int(*f);
    return k;
}

static cryo_error_kind p_index_set(cryo_vm *vm, void *ptr, cryo_value idx, cryo_value v) {
    cryo_error_kind k;
    int64_t *f = slot(vm, ptr, idx, &k);
    if (!f) return k;
    if (v.type != CRYO_T_INT) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "P items are i64");
    *f = v.as.i;
    return CRYO_OK;
}

static cryo_error_kind p_binary(cryo_vm *vm, cryo_operator op, cryo_value a, cryo_value b,
                                cryo_value *out) {
    (void)vm;
    pt *pa = cryo_value_as_handle(a, &p_type), *pb = cryo_value_as_handle(b, &p_type);
    if (pa && pb) {
        switch (op) {
        case CRYO_OPER_ADD: *out = p_new(pa->x + pb->x, pa->y + pb->y); return CRYO_OK;
        case CRYO_OPER_SUB: *out = p_new(pa->x - pb->x, pa->y - pb->y); return CRYO_OK;
        case CRYO_OPER_EQ: *out = cryo_bool(pa->x == pb->x && pa->y == pb->y); return CRYO_OK;
        case CRYO_OPER_LT: /* by x, then y */
            *out = cryo_bool(pa->x < pb->x || (pa->x == pb->x && pa->y < pb->y));
            return CRYO_OK;
        default: return CRYO_HOST_DECLINE;
        }
    }
    /* P * int and int * P */
    if (op == CRYO_OPER_MUL && pa && b.type == CRYO_T_INT) {
        *out = p_new(pa->x * b.as.i, pa->y * b.as.i);
        return CRYO_OK;
    }
    if (op == CRYO_OPER_MUL && pb && a.type == CRYO_T_INT) {
        *out = p_new(pb->x * a.as.i, pb->y * a.as.i);
        return CRYO_OK;
    }
    return CRYO_HOST_DECLINE;
}

static cryo_error_kind p_unary(cryo_vm *vm, cryo_operator op, void *ptr, cryo_value *out) {
    (void)vm;
    pt *p = ptr;
    if (op != CRYO_OPER_NEG) return CRYO_HOST_DECLINE;
    *out = p_new(-p->x, -p->y);
    return CRYO_OK;
}

static size_t p_to_string(void *ptr, bool debug, char *buf, size_t cap) {
    pt *p = ptr;
    int n = debug ? snprintf(buf, cap, "P{x: %lld, y: %lld}", (long long)p->x, (long long)p->y)
                  : snprintf(buf, cap, "(%lld, %lld)", (long long)p->x, (long long)p->y);
    return n < 0 ? 0 : (size_t)n;
}

static int64_t p_len(void *ptr) {
    (void)ptr;
    return 2;
}

static const cryo_host_ops p_ops = {
    .get = p_get,
    .set = p_set,
    .index_get = p_index_get,
    .index_set = p_index_set,
    .binary = p_binary,
    .unary = p_unary,
    .to_string = p_to_string,
    .len = p_len,
};

/* Bare: a host type with an empty ops table (every hook missing). */
static const cryo_host_ops bare_ops = {0};
static const cryo_handle_type bare_type = {.name = "Bare", .ops = &bare_ops};
static int bare_obj;

static cryo_error_kind fn_p(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_INT || argv[1]->type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "P(x, y) takes two i64");
    *ret = p_new(argv[0]->as.i, argv[1]->as.i);
    return CRYO_OK;
}

static cryo_error_kind fn_bare(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)vm, (void)ud, (void)argc, (void)argv;
    *ret = cryo_value_handle(&bare_type, &bare_obj);
    return CRYO_OK;
}

/* --- harness ---------------------------------------------------------------------------------- */

static cryo_context *ctx;
static char printed[1024];

static void on_print(void *ud, const char *text, size_t len) {
    (void)ud;
    size_t n = strlen(printed);
    snprintf(printed + n, sizeof printed - n, "%.*s|", (int)len, text);
}

static int setup(void **state) {
    (void)state;
    cryo_package *pkg = cryo_package_new("points");
    cryo_package_add(pkg, "P", 2, fn_p, NULL);
    cryo_package_add(pkg, "bare", 0, fn_bare, NULL);
    cryo_package *pkgs[] = {pkg, cryo_package_std()};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    return ctx ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cryo_context_release(ctx);
    return 0;
}

/* Runs src; returns its kind, the result in *out (owned) and the message in msg. */
static cryo_error_kind run(const char *src, cryo_value *out, char *msg, size_t cap) {
    cryo_compile_options o = {.source_name = "t"};
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), &o, &err);
    if (!u) fail_msg("compile: %s", err ? err->message : "?");
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    printed[0] = 0;
    cryo_vm_set_print(vm, on_print, NULL);
    cryo_vm_set_debug(vm, on_print, NULL);
    cryo_value r = cryo_unit_value();
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    if (msg) snprintf(msg, cap, "%s", k ? cryo_vm_error(vm)->message : "");
    if (out)
        *out = r;
    else
        cryo_value_release(r);
    cryo_vm_free(vm);
    return k;
}

static int64_t run_int(const char *src) {
    cryo_value r;
    char msg[256];
    cryo_error_kind k = run(src, &r, msg, sizeof msg);
    if (k) fail_msg("%s: %s", cryo_error_kind_name(k), msg);
    if (r.type != CRYO_T_INT) fail_msg("not an int: %s", cryo_type_name(r.type));
    return r.as.i;
}

static void expect_error(const char *src, cryo_error_kind want, const char *msg_part) {
    char msg[256];
    cryo_error_kind k = run(src, NULL, msg, sizeof msg);
    if (k != want || !strstr(msg, msg_part))
        fail_msg("%s\n  got %s: %s\n  want %s: ...%s...", src, cryo_error_kind_name(k), msg,
                 cryo_error_kind_name(want), msg_part);
}

/* --- tests ------------------------------------------------------------------------------------ */

static void properties(void **state) {
    (void)state;
    assert_int_equal(run_int("let p = P(3, 4); p.x * 10 + p.y"), 34);
    assert_int_equal(run_int("let p = P(3, 4); p.x = 7; p.x"), 7);
    assert_int_equal(run_int("let p = P(3, 4); p.y += 5; p.y -= 1; p.y"), 8);
    /* a handle is a reference: the setter changes the object every holder sees */
    assert_int_equal(run_int("let p = P(1, 1); let q = p; q.x = 9; p.x"), 9);
    /* through a path: a map holding a P, an array of P */
    assert_int_equal(run_int("let m = #{ at: P(1, 2) }; m.at.y = 20; m.at.y"), 20);
    assert_int_equal(run_int("let a = [P(1, 2), P(3, 4)]; a[1].x += 100; a[1].x"), 103);
    assert_int_equal(run_int("fn P.sum() { this.x + this.y } let p = P(2, 5); p.sum()"), 7);
    /* wrong names and types */
    expect_error("let p = P(1, 2); p.z", CRYO_ERR_NOT_FOUND, "unknown property 'z' of P");
    expect_error("let p = P(1, 2); p.z = 1", CRYO_ERR_NOT_FOUND, "cannot set property 'z' of P");
    expect_error("let p = P(1, 2); p.x = \"a\"", CRYO_ERR_TYPE, "P.x takes an i64, not string");
    expect_error("let p = P(1, 2); p.broken", CRYO_ERR_RUNTIME, "property getter failed");
    /* an error from a hook is catchable and has the script's position */
    assert_int_equal(run_int("let p = P(1, 2); try { p.x = 1.5; 0 } catch (e) { 1 }"), 1);
}

static void indexers(void **state) {
    (void)state;
    assert_int_equal(run_int("let p = P(3, 4); p[0] * 10 + p[1]"), 34);
    assert_int_equal(run_int("let p = P(3, 4); p[\"y\"]"), 4);
    assert_int_equal(run_int("let p = P(3, 4); p[1] = 40; p[\"x\"] = 30; p.x + p.y"), 70);
    assert_int_equal(run_int("let p = P(3, 4); p[0] += 2; p[0]"), 5);
    expect_error("let p = P(1, 2); p[2]", CRYO_ERR_INDEX, "P index 2 out of bounds");
    expect_error("let p = P(1, 2); p[\"z\"] = 1", CRYO_ERR_INDEX, "P has no key 'z'");
    expect_error("let p = P(1, 2); p[true]", CRYO_ERR_TYPE, "P cannot be indexed by bool");
    expect_error("let p = P(1, 2); p[0] = ()", CRYO_ERR_TYPE, "P items are i64");
    /* a type without indexers keeps the usual error */
    char msg[256];
    assert_int_not_equal(run("let b = bare(); b[0]", NULL, msg, sizeof msg), CRYO_OK);
    assert_int_not_equal(run("let b = bare(); b[0] = 1", NULL, msg, sizeof msg), CRYO_OK);
}

static void operators(void **state) {
    (void)state;
    assert_int_equal(run_int("let p = P(1, 2) + P(10, 20); p.x + p.y"), 33);
    assert_int_equal(run_int("let p = P(1, 2) - P(10, 20); p.x + p.y"), -27);
    assert_int_equal(run_int("let p = P(1, 2) * 3; p.y"), 6);
    assert_int_equal(run_int("let p = 3 * P(1, 2); p.x"), 3);
    assert_int_equal(run_int("let p = -P(1, 2); p.x + p.y"), -3);
    assert_int_equal(run_int("let p = P(1, 2); p += P(1, 1); p.x * 10 + p.y"), 23);
    assert_int_equal(run_int("if P(1, 2) == P(1, 2) { 1 } else { 0 }"), 1);
    assert_int_equal(run_int("if P(1, 2) != P(1, 3) { 1 } else { 0 }"), 1);
    assert_int_equal(run_int("let a = P(1, 2); let b = P(1, 3);"
                             "(if a < b {1} else {0}) + (if b > a {10} else {0}) +"
                             "(if a <= a {100} else {0}) + (if b >= a {1000} else {0}) +"
                             "(if a > b {10000} else {0})"),
                     1111);
    assert_int_equal(run_int("let a = [P(2, 0), P(1, 5), P(1, 1)];"
                             "a.sort(|u, v| if u < v { -1 } else if v < u { 1 } else { 0 });"
                             "a[0].y * 10 + a[2].x"),
                     12);
    /* declined: the usual type errors, naming the type */
    expect_error("P(1, 2) / P(1, 1)", CRYO_ERR_TYPE, "cannot apply '/' to P and P");
    expect_error("P(1, 2) + 1", CRYO_ERR_TYPE, "P");
    expect_error("!P(1, 2)", CRYO_ERR_TYPE, "cannot apply '!' to P");
    /* no binary hook: == is identity, as for any handle */
    assert_int_equal(run_int("let b = bare(); if b == b { 1 } else { 0 }"), 1);
    expect_error("bare() + bare()", CRYO_ERR_TYPE, "Bare");
}

static void printing(void **state) {
    (void)state;
    cryo_value r;
    assert_int_equal(run("let p = P(1, -2); print(p); print(`at ${p}!`); debug(p);"
                         "print(p.to_string()); print(p.to_debug()); print(type_of(p));"
                         "print(bare()); print([P(0, 1)]);",
                         &r, NULL, 0),
                     CRYO_OK);
    assert_string_equal(printed, "(1, -2)|at (1, -2)!|P{x: 1, y: -2}|(1, -2)|P{x: 1, y: -2}|P|"
                                 "<Bare>|[P{x: 0, y: 1}]|");
}

static void iteration(void **state) {
    (void)state;
    assert_int_equal(run_int("let s = 0; for v in P(30, 12) { s = s * 100 + v; } s"), 3012);
    assert_int_equal(run_int("let n = 0; for (v, i) in P(5, 6) { n += i; } n"), 1);
    expect_error("for v in bare() { }", CRYO_ERR_TYPE, "cannot iterate over Bare");
}

/* sort() without a comparer orders host values by their type's '<' (stable, also descending
 * and into a new array), and fails clearly for a type without one or a mix it declines. */
static void sorting(void **state) {
    (void)state;
    /* by x, then y: P(1,1) P(1,5) P(2,0) P(3,3); a[i].x * 10 + a[i].y read as digits */
    const char *digits = "let s = 0; for p in a { s = s * 100 + p.x * 10 + p.y; } s";
    char src[512];
    snprintf(src, sizeof src, "let a = [P(2, 0), P(1, 5), P(3, 3), P(1, 1)]; a.sort(); %s", digits);
    assert_int_equal(run_int(src), 11152033);
    snprintf(src, sizeof src, "let a = [P(2, 0), P(1, 5), P(3, 3), P(1, 1)]; a.sort_desc(); %s",
             digits);
    assert_int_equal(run_int(src), 33201511);
    /* stable: equal points keep their order; told apart by writing through the sorted array
     * (handles are references: the setter changes the one object) */
    assert_int_equal(run_int("let q = P(1, 1); let r = P(1, 1);"
                             "let a = [r, P(0, 0), q]; a.sort(); a[1].y = 7;"
                             "let b = [q, P(0, 0), r]; b.sort(); b[1].x = 5;"
                             "r.y * 10 + q.x"),
                     75);
    /* order() leaves the receiver as it was */
    assert_int_equal(run_int("let a = [P(5, 0), P(4, 0)]; let b = a.order(); b[0].x * 10 + a[0].x"),
                     45);
    expect_error("let a = [bare(), bare()]; a.sort()", CRYO_ERR_TYPE,
                 "sort: cannot order Bare and Bare: no '<'");
    expect_error("let a = [P(1, 1), 3]; a.sort()", CRYO_ERR_TYPE, "sort: cannot order i64 and P");
    /* a comparer still wins over the type's '<' */
    snprintf(src, sizeof src,
             "let a = [P(2, 0), P(1, 5), P(3, 3), P(1, 1)]; a.sort(|u, v| v.y - u.y); %s", digits);
    assert_int_equal(run_int(src), 15331120);
}

/* --- a sendable host type in a SyncFunction, 8 threads -----------------------------------------
 */

typedef struct job {
    cryo_sync *f;
    int id;
    int bad;
} job;

static void *worker(void *arg) {
    job *j = arg;
    for (int i = 0; i < 300; i++) {
        cryo_const a = {cryo_int(j->id * 1000 + i)}, res;
        cryo_error *err = NULL;
        if (cryo_sync_call(j->f, 1, &a, &res, &err) != CRYO_OK) {
            j->bad++;
            cryo_error_free(err);
            continue;
        }
        /* base = P(1, 2): (base * k + base).x + [1] = (k + 1) + 2 (k + 1) = 3 (k + 1) */
        int64_t k = j->id * 1000 + i;
        if (res.v.type != CRYO_T_INT || res.v.as.i != 3 * (k + 1)) j->bad++;
        cryo_const_release(res);
    }
    return NULL;
}

static void sendable_across_threads(void **state) {
    (void)state;
    int before = atomic_load(&live);
    const char *src = "let base = P(1, 2);\n"
                      "|k| { let v = base * k + base; v.x + v[1] }";
    cryo_compile_options o = {.source_name = "t"};
    cryo_unit *u = cryo_compile(src, strlen(src), &o, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value fv;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &fv), CRYO_OK);
    cryo_sync *f = NULL;
    assert_int_equal(cryo_vm_into_sync(vm, fv, &f), CRYO_OK);
    cryo_value_release(fv);
    cryo_vm_free(vm);
    job jobs[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (job){f, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
    cryo_sync_release(f);
    assert_int_equal(atomic_load(&live), before); /* every P made by the calls was released */
}

/* A non-sendable host type cannot be frozen, hooks or not. */
static void not_sendable(void **state) {
    (void)state;
    expect_error("let b = bare(); into_sync(|| b)", CRYO_ERR_TYPE, "not sendable");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(properties),   cmocka_unit_test(indexers),
        cmocka_unit_test(operators),    cmocka_unit_test(printing),
        cmocka_unit_test(iteration),    cmocka_unit_test(sendable_across_threads),
        cmocka_unit_test(not_sendable), cmocka_unit_test(sorting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
