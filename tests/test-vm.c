/*
 * test-vm.c — the VM on hand-assembled units: fast paths, calls, closures, errors, limits,
 * iteration, the segmented stack and host functions.
 */
#include "test.h"

#include "ast.h"
#include "vm.h"

#include <unistd.h>

/* --- a tiny assembler ------------------------------------------------------------------- */

typedef struct pbuild {
    cryo_instr code[256];
    cryo_lineinfo lines[256];
    int n;
    cryo_value k[32];
    int nk;
    cryo_capdesc caps[8];
    int ncaps;
    int line;
} pbuild;

static int emit(pbuild *b, cryo_instr i) {
    b->lines[b->n] = (cryo_lineinfo){b->line, b->n + 1};
    b->code[b->n] = i;
    return b->n++;
}
static int kint(pbuild *b, int64_t v) {
    b->k[b->nk] = cryo_int(v);
    return b->nk++;
}
static int kfloat(pbuild *b, double v) {
    b->k[b->nk] = cryo_float(v);
    return b->nk++;
}
static int kstr(pbuild *b, const char *s) {
    b->k[b->nk] = cv_from_shared(&cv_string_new_shared(s, strlen(s))->h);
    return b->nk++;
}
static void cap_local(pbuild *b, int reg) {
    b->caps[b->ncaps++] = (cryo_capdesc){1, 0, (uint16_t)reg, 0, 0, NULL};
}
/* Offset from the instruction after `at` to `target`. */
static int off(int at, int target) {
    return target - (at + 1);
}
static void patch_sbx(pbuild *b, int at, int target) {
    cryo_instr i = b->code[at];
    b->code[at] = CRYO_ASBX(CRYO_OP(i), CRYO_A(i), off(at, target));
}

static cryo_unit *unit_new(void) {
    cryo_unit *u = calloc(1, sizeof *u);
    atomic_init(&u->refcount, 1);
    u->protos = calloc(16, sizeof *u->protos);
    u->fns = calloc(16, sizeof *u->fns);
    u->hosts = calloc(16, sizeof *u->hosts);
    return u;
}

static char *sdup(const char *s) {
    char *d = malloc(strlen(s) + 1);
    strcpy(d, s);
    return d;
}

static int add_proto(cryo_unit *u, pbuild *b, const char *name, int nparams, int nregs) {
    cryo_proto *p = calloc(1, sizeof *p);
    p->name = sdup(name);
    p->nparams = (uint8_t)nparams;
    p->nregs = (uint8_t)nregs;
    p->ncode = (uint32_t)b->n;
    p->code = malloc(sizeof(cryo_instr) * (size_t)b->n);
    memcpy(p->code, b->code, sizeof(cryo_instr) * (size_t)b->n);
    p->lines = malloc(sizeof(cryo_lineinfo) * (size_t)b->n);
    memcpy(p->lines, b->lines, sizeof(cryo_lineinfo) * (size_t)b->n);
    p->nk = (uint32_t)b->nk;
    p->k = malloc(sizeof(cryo_value) * (size_t)(b->nk + 1));
    memcpy(p->k, b->k, sizeof(cryo_value) * (size_t)b->nk);
    p->ncaps = (uint16_t)b->ncaps;
    p->is_closure = b->ncaps > 0;
    p->caps = malloc(sizeof(cryo_capdesc) * (size_t)(b->ncaps + 1));
    memcpy(p->caps, b->caps, sizeof(cryo_capdesc) * (size_t)b->ncaps);
    p->unit = u;
    u->protos[u->nprotos] = p;
    return (int)u->nprotos++;
}

static void add_fn(cryo_unit *u, const char *name, int arity, int proto) {
    u->fns[u->nfns++] = (cryo_fndef){sdup(name), (uint32_t)arity, (uint32_t)proto, false};
}
static int add_host(cryo_unit *u, const char *name, int arity) {
    u->hosts[u->nhosts] = (cryo_hostslot){sdup(name), (uint32_t)arity};
    return (int)u->nhosts++;
}

/* Runs proto 0 of u and returns the kind; *out gets the result. */
static cryo_error_kind run(cryo_unit *u, cryo_context *ctx, const cryo_value *g, int ng,
                           cryo_value *out, cryo_vm **keep) {
    cryo_vm *vm = cryo_vm_new(u, ctx);
    assert_non_null(vm);
    cryo_error_kind k = cryo_vm_run(vm, g, ng, out);
    if (keep)
        *keep = vm;
    else
        cryo_vm_free(vm);
    return k;
}

/* fib(n) as proto `self` of u. */
static int add_fib(cryo_unit *u) {
    int self = (int)u->nprotos;
    pbuild b = {.line = 1};
    emit(&b, CRYO_ASBX(OP_LOADI, 1, 2));
    emit(&b, CRYO_ABC(OP_LT, 1, 0, 1));
    emit(&b, CRYO_ASBX(OP_JMPF, 1, 1));
    emit(&b, CRYO_ABC(OP_RET, 0, 0, 0));
    emit(&b, CRYO_ABC(OP_ADDI, 1, 0, 127));
    emit(&b, CRYO_ABC(OP_CALL, 1, 1, 0));
    emit(&b, CRYO_EXTRA(self, 0, 0));
    emit(&b, CRYO_ABC(OP_ADDI, 2, 0, 126));
    emit(&b, CRYO_ABC(OP_CALL, 2, 1, 0));
    emit(&b, CRYO_EXTRA(self, 0, 0));
    emit(&b, CRYO_ABC(OP_ADD, 1, 1, 2));
    emit(&b, CRYO_ABC(OP_RET, 1, 0, 0));
    add_proto(u, &b, "fib", 1, 3);
    add_fn(u, "fib", 1, self);
    return self;
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_arith_fast_paths(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    int kf = kfloat(&b, 1.5);
    emit(&b, CRYO_ASBX(OP_LOADI, 0, 40));
    emit(&b, CRYO_ASBX(OP_LOADI, 1, 2));
    emit(&b, CRYO_ABC(OP_ADD, 2, 0, 1));    /* 42 */
    emit(&b, CRYO_ABC(OP_MUL, 3, 2, 1));    /* 84 */
    emit(&b, CRYO_ABC(OP_SUB, 3, 3, 0));    /* 44 */
    emit(&b, CRYO_ABC(OP_DIV, 3, 3, 1));    /* 22 */
    emit(&b, CRYO_ABC(OP_MOD, 4, 3, 0));    /* 22 */
    emit(&b, CRYO_ABC(OP_ADDI, 4, 4, 148)); /* 42 */
    emit(&b, CRYO_ABC(OP_EQ, 5, 4, 2));     /* true */
    emit(&b, CRYO_ASBX(OP_JMPF, 5, 1));
    emit(&b, CRYO_ABX(OP_LOADK, 6, kf));
    emit(&b, CRYO_ABC(OP_ADD, 6, 6, 6)); /* 3.0 */
    emit(&b, CRYO_ABC(OP_LT, 7, 6, 6));  /* false */
    emit(&b, CRYO_ASBX(OP_JMPT, 7, 1));
    emit(&b, CRYO_ABC(OP_NEG, 4, 4, 0)); /* -42 */
    emit(&b, CRYO_ABC(OP_NEG, 4, 4, 0)); /* 42 */
    emit(&b, CRYO_ABC(OP_NEWARRAY, 0, 0, 0));
    emit(&b, CRYO_ABC(OP_MOVE, 0, 4, 0)); /* overwrite a heap value with an int */
    emit(&b, CRYO_ABC(OP_RET, 0, 0, 0));
    add_proto(u, &b, "main", 0, 8);
    cryo_value r;
    assert_int_equal(run(u, NULL, NULL, 0, &r, NULL), CRYO_OK);
    assert_int_equal(r.type, CRYO_T_INT);
    assert_int_equal(r.as.i, 42);
    cryo_unit_release(u);
}

static void test_float_and_overflow(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    int kmax = kint(&b, INT64_MAX);
    emit(&b, CRYO_ABX(OP_LOADK, 0, kmax));
    b.line = 2;
    emit(&b, CRYO_ASBX(OP_LOADI, 1, 1));
    b.line = 3;
    emit(&b, CRYO_ABC(OP_ADD, 2, 0, 1));
    emit(&b, CRYO_ABC(OP_RET, 2, 0, 0));
    add_proto(u, &b, "main", 0, 3);
    cryo_vm *vm;
    cryo_value r;
    assert_int_equal(run(u, NULL, NULL, 0, &r, &vm), CRYO_ERR_ARITHMETIC);
    const cryo_error *e = cryo_vm_error(vm);
    assert_non_null(e);
    assert_int_equal(e->kind, CRYO_ERR_ARITHMETIC);
    assert_int_equal(e->line, 3);
    assert_int_equal(e->column, 3);
    /* The VM stays usable and the next run clears the error. */
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_ARITHMETIC);
    cryo_vm_free(vm);
    cryo_unit_release(u);

    u = unit_new();
    pbuild c = {.line = 1};
    int kmin = kint(&c, INT64_MIN);
    emit(&c, CRYO_ABX(OP_LOADK, 0, kmin));
    emit(&c, CRYO_ABC(OP_NEG, 1, 0, 0));
    emit(&c, CRYO_ABC(OP_RET, 1, 0, 0));
    add_proto(u, &c, "main", 0, 2);
    assert_int_equal(run(u, NULL, NULL, 0, &r, NULL), CRYO_ERR_ARITHMETIC);
    cryo_unit_release(u);

    u = unit_new();
    pbuild d = {.line = 1};
    emit(&d, CRYO_ASBX(OP_LOADI, 0, 1));
    emit(&d, CRYO_ASBX(OP_JMPT, 0, 0)); /* a non-bool condition */
    emit(&d, CRYO_ABC(OP_RET0, 0, 0, 0));
    add_proto(u, &d, "main", 0, 1);
    assert_int_equal(run(u, NULL, NULL, 0, &r, NULL), CRYO_ERR_TYPE);
    cryo_unit_release(u);
}

static void test_fib_and_api_call(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    emit(&b, CRYO_ASBX(OP_LOADI, 0, 20));
    emit(&b, CRYO_ABC(OP_CALL, 0, 1, 0));
    emit(&b, CRYO_EXTRA(1, 0, 0));
    emit(&b, CRYO_ABC(OP_RET, 0, 0, 0));
    add_proto(u, &b, "main", 0, 1);
    add_fib(u);
    cryo_vm *vm;
    cryo_value r;
    assert_int_equal(run(u, NULL, NULL, 0, &r, &vm), CRYO_OK);
    assert_int_equal(r.as.i, 6765);
    cryo_value arg = cryo_int(25);
    assert_int_equal(cryo_vm_call(vm, "fib", 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, 75025);
    assert_int_equal(cryo_vm_call(vm, "fib", 0, NULL, &r), CRYO_ERR_NOT_FOUND);
    assert_int_equal(cryo_vm_call(vm, "nope", 1, &arg, &r), CRYO_ERR_NOT_FOUND);
    assert_string_equal(cryo_vm_error(vm)->message, "function not found: nope(i64)");

    /* fib(30) (its timing and the Lua 5.4 comparison are in bench/) */
    arg = cryo_int(30);
    assert_int_equal(cryo_vm_call(vm, "fib", 1, &arg, &r), CRYO_OK);
    assert_int_equal(r.as.i, 832040);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* sum(n) = n == 0 ? 0 : n + sum(n - 1), with frames 20 registers wide, 10 apart. */
static void test_segmented_stack(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild m = {.line = 1};
    emit(&m, CRYO_ABX(OP_LOADK, 0, kint(&m, 3000)));
    emit(&m, CRYO_ABC(OP_CALL, 0, 1, 0));
    emit(&m, CRYO_EXTRA(1, 0, 0));
    emit(&m, CRYO_ABC(OP_RET, 0, 0, 0));
    add_proto(u, &m, "main", 0, 1);
    pbuild b = {.line = 1};
    emit(&b, CRYO_ASBX(OP_LOADI, 1, 0));
    emit(&b, CRYO_ABC(OP_EQ, 2, 0, 1));
    emit(&b, CRYO_ASBX(OP_JMPF, 2, 1));
    emit(&b, CRYO_ABC(OP_RET, 1, 0, 0));
    emit(&b, CRYO_ABC(OP_NEWARRAY, 15, 0, 0)); /* a heap value the callee's frame overlaps */
    emit(&b, CRYO_ABC(OP_ADDI, 10, 0, 127));
    emit(&b, CRYO_ABC(OP_CALL, 10, 1, 0));
    emit(&b, CRYO_EXTRA(1, 0, 0));
    emit(&b, CRYO_ABC(OP_ADD, 10, 0, 10));
    emit(&b, CRYO_ABC(OP_RET, 10, 0, 0));
    add_proto(u, &b, "sum", 1, 20);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 0);
    cryo_value r;
    for (int rep = 0; rep < 3; rep++) { /* segments are reused by later runs */
        assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
        assert_int_equal(r.as.i, 3000 * 3001 / 2);
        assert_null(vm->seg->prev);
    }
    /* The default depth limit stops it. */
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 64);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_STACK_OVERFLOW);
    assert_int_equal(vm->nframes, 0);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void test_closures(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild m = {.line = 1};
    emit(&m, CRYO_ASBX(OP_LOADI, 0, 10));
    emit(&m, CRYO_ABC(OP_NEWCELL, 0, 0, 0));
    emit(&m, CRYO_ABX(OP_CLOSURE, 1, 1));
    emit(&m, CRYO_ABC(OP_MOVE, 2, 1, 0));
    emit(&m, CRYO_ASBX(OP_LOADI, 3, 5));
    emit(&m, CRYO_ABC(OP_CALLV, 2, 1, 0)); /* 15 */
    emit(&m, CRYO_ABC(OP_MOVE, 3, 1, 0));
    emit(&m, CRYO_ASBX(OP_LOADI, 4, 5));
    emit(&m, CRYO_ABC(OP_CALLV, 3, 1, 0));   /* 20 */
    emit(&m, CRYO_ABC(OP_GETCELL, 4, 0, 0)); /* 20 */
    emit(&m, CRYO_ABC(OP_ADD, 5, 2, 3));
    emit(&m, CRYO_ABC(OP_ADD, 5, 5, 4));
    emit(&m, CRYO_ABC(OP_RET, 5, 0, 0));
    add_proto(u, &m, "main", 0, 6);
    pbuild c = {.line = 1};
    cap_local(&c, 0);
    emit(&c, CRYO_ABC(OP_GETUPV, 1, 0, 0));
    emit(&c, CRYO_ABC(OP_ADD, 1, 1, 0));
    emit(&c, CRYO_ABC(OP_SETUPV, 1, 0, 0));
    emit(&c, CRYO_ABC(OP_RET, 1, 0, 0));
    add_proto(u, &c, "anon$1", 1, 2);
    cryo_value r;
    assert_int_equal(run(u, NULL, NULL, 0, &r, NULL), CRYO_OK);
    assert_int_equal(r.as.i, 55);
    cryo_unit_release(u);
}

/* A function value for proto `pi` of u with curried ints (NULL heap: owned by the test). */
static cryo_value make_fn(cryo_unit *u, int pi, const char *name, int ncurry, int64_t c0) {
    cryo_fn *f = cv_fn_new(NULL, CRYO_FN_SCRIPT, 0);
    f->unit = cryo_unit_retain(u);
    f->proto = (uint32_t)pi;
    f->name = cv_string_new(NULL, name, strlen(name));
    if (ncurry) {
        f->curry = malloc(sizeof(cryo_value));
        f->curry[0] = cryo_int(c0);
        f->ncurry = 1;
    }
    return cv_from_obj(&f->h);
}

static cryo_value make_named(const char *name) {
    cryo_fn *f = cv_fn_new(NULL, CRYO_FN_NAMED, 0);
    f->name = cv_string_new(NULL, name, strlen(name));
    return cv_from_obj(&f->h);
}

/* sub(a, b) = a - b as proto 1; proto 0 calls the global R[0] with `nargs` args 10, 3. */
static cryo_unit *callv_unit(int nargs) {
    cryo_unit *u = unit_new();
    u->nglobals = 1;
    pbuild m = {.line = 1};
    emit(&m, CRYO_ABC(OP_MOVE, 1, 0, 0));
    if (nargs == 2) emit(&m, CRYO_ASBX(OP_LOADI, 2, 10));
    emit(&m, CRYO_ASBX(OP_LOADI, nargs == 2 ? 3 : 2, 3));
    emit(&m, CRYO_ABC(OP_CALLV, 1, nargs, 0));
    emit(&m, CRYO_ABC(OP_RET, 1, 0, 0));
    add_proto(u, &m, "main", 1, 5);
    pbuild s = {.line = 1};
    emit(&s, CRYO_ABC(OP_SUB, 2, 0, 1));
    emit(&s, CRYO_ABC(OP_RET, 2, 0, 0));
    add_proto(u, &s, "sub", 2, 3);
    add_fn(u, "sub", 2, 1);
    return u;
}

static cryo_error_kind host_add(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_INT || argv[1]->type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "hadd wants ints");
    *ret = cryo_int(argv[0]->as.i + argv[1]->as.i);
    return CRYO_OK;
}

static cryo_error_kind host_push1(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud, (void)argc, (void)ret;
    if (argv[0]->type != CRYO_T_ARRAY) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "not an array");
    if (!cv_make_unique(&vm->heap, argv[0])) return cvm_raise_oom(vm);
    cv_array_push(&vm->heap, cv_arr(*argv[0]), cryo_int(1));
    return CRYO_OK;
}

static cryo_error_kind host_apply(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud, (void)argc;
    return cryo_vm_call_value(vm, *argv[0], 1, argv[1], ret);
}

static const cryo_libreg test_lib[] = {
    {"hadd", 2, host_add, NULL},
    {"push1", 1, host_push1, NULL},
    {"apply", 2, host_apply, NULL},
    {NULL, 0, NULL, NULL},
};

static cryo_context *test_context(void) {
    const cryo_libreg *const tables[] = {test_lib};
    return cvm_context_from_tables(tables, 1);
}

static void test_callv_curry_and_named(void **state) {
    (void)state;
    cryo_context *ctx = test_context();
    cryo_unit *u = callv_unit(1);
    cryo_value fn = make_fn(u, 1, "sub", 1, 10), r;
    assert_int_equal(run(u, ctx, &fn, 1, &r, NULL), CRYO_OK);
    assert_int_equal(r.as.i, 7);
    cryo_value_release(fn);
    /* Arity mismatch: sub takes 2, the call gives 1 without curry. */
    fn = make_fn(u, 1, "sub", 0, 0);
    cryo_vm *vm;
    assert_int_equal(run(u, ctx, &fn, 1, &r, &vm), CRYO_ERR_NOT_FOUND);
    assert_string_equal(cryo_vm_error(vm)->message, "function not found: sub(i64)");
    cryo_vm_free(vm);
    cryo_value_release(fn);
    cryo_unit_release(u);

    u = callv_unit(2);
    fn = make_named("sub"); /* a script fn by name */
    assert_int_equal(run(u, ctx, &fn, 1, &r, NULL), CRYO_OK);
    assert_int_equal(r.as.i, 7);
    cryo_value_release(fn);
    fn = make_named("hadd"); /* a host fn by name */
    assert_int_equal(run(u, ctx, &fn, 1, &r, NULL), CRYO_OK);
    assert_int_equal(r.as.i, 13);
    cryo_value_release(fn);
    fn = make_named("zzz");
    assert_int_equal(run(u, ctx, &fn, 1, &r, NULL), CRYO_ERR_NOT_FOUND);
    cryo_value_release(fn);
    fn = cryo_int(3);
    assert_int_equal(run(u, ctx, &fn, 1, &r, NULL), CRYO_ERR_TYPE);
    cryo_unit_release(u);
    cvm_context_free_tables(ctx);
}

static void test_try_catch(void **state) {
    (void)state;
    cryo_value r;
    /* A VM error: the catch register gets the message. */
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    int t = emit(&b, CRYO_ASBX(OP_TRY, 0, 0));
    emit(&b, CRYO_ASBX(OP_LOADI, 1, 1));
    emit(&b, CRYO_ASBX(OP_LOADI, 2, 0));
    emit(&b, CRYO_ABC(OP_DIV, 1, 1, 2));
    emit(&b, CRYO_ABC(OP_ENDTRY, 0, 0, 0));
    emit(&b, CRYO_ABC(OP_RET, 1, 0, 0));
    int l = emit(&b, CRYO_ABC(OP_RET, 0, 0, 0));
    patch_sbx(&b, t, l);
    add_proto(u, &b, "main", 0, 3);
    assert_int_equal(run(u, NULL, NULL, 0, &r, NULL), CRYO_OK);
    assert_int_equal(r.type, CRYO_T_STRING);
    assert_true(cv_str(r)->len > 0);
    cryo_value_release(r);
    cryo_unit_release(u);

    /* A thrown value from a callee, with the callee's frame unwound. */
    u = unit_new();
    pbuild m = {.line = 1};
    t = emit(&m, CRYO_ASBX(OP_TRY, 0, 0));
    emit(&m, CRYO_ABC(OP_CALL, 1, 0, 0));
    emit(&m, CRYO_EXTRA(1, 0, 0));
    emit(&m, CRYO_ABC(OP_ENDTRY, 0, 0, 0));
    emit(&m, CRYO_ABC(OP_RET, 1, 0, 0));
    l = emit(&m, CRYO_ABC(OP_RET, 0, 0, 0));
    patch_sbx(&m, t, l);
    add_proto(u, &m, "main", 0, 2);
    pbuild th = {.line = 7};
    emit(&th, CRYO_ABC(OP_NEWARRAY, 1, 0, 0));
    emit(&th, CRYO_ASBX(OP_LOADI, 0, 42));
    emit(&th, CRYO_ABC(OP_THROW, 0, 0, 0));
    add_proto(u, &th, "thrower", 0, 2);
    assert_int_equal(run(u, NULL, NULL, 0, &r, NULL), CRYO_OK);
    assert_int_equal(r.type, CRYO_T_INT);
    assert_int_equal(r.as.i, 42);
    /* Uncaught: a runtime error at the callee's line. */
    cryo_vm *vm = cryo_vm_new(u, NULL);
    assert_int_equal(cryo_vm_call(vm, "x", 0, NULL, &r), CRYO_ERR_NOT_FOUND);
    cryo_vm_free(vm);
    cryo_unit_release(u);

    /* `throw;` re-raises with the caught error's kind. */
    u = unit_new();
    pbuild c = {.line = 1};
    t = emit(&c, CRYO_ASBX(OP_TRY, 0, 0));
    emit(&c, CRYO_ASBX(OP_LOADI, 1, 1));
    emit(&c, CRYO_ASBX(OP_LOADI, 2, 0));
    emit(&c, CRYO_ABC(OP_MOD, 1, 1, 2));
    emit(&c, CRYO_ABC(OP_ENDTRY, 0, 0, 0));
    c.line = 5;
    l = emit(&c, CRYO_ABC(OP_THROW, 0, 1, 0));
    patch_sbx(&c, t, l);
    add_proto(u, &c, "main", 0, 3);
    assert_int_equal(run(u, NULL, NULL, 0, &r, &vm), CRYO_ERR_ARITHMETIC);
    assert_int_equal(cryo_vm_error(vm)->line, 5);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void test_uncaught_throw(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild m = {.line = 1};
    emit(&m, CRYO_ABC(OP_CALL, 0, 0, 0));
    emit(&m, CRYO_EXTRA(1, 0, 0));
    emit(&m, CRYO_ABC(OP_RET, 0, 0, 0));
    add_proto(u, &m, "main", 0, 1);
    pbuild th = {.line = 7};
    emit(&th, CRYO_ABX(OP_LOADK, 0, kstr(&th, "boom")));
    th.line = 8;
    emit(&th, CRYO_ABC(OP_THROW, 0, 0, 0));
    add_proto(u, &th, "thrower", 0, 1);
    u->source_name = sdup("test.rhai");
    cryo_vm *vm;
    cryo_value r;
    assert_int_equal(run(u, NULL, NULL, 0, &r, &vm), CRYO_ERR_RUNTIME);
    const cryo_error *e = cryo_vm_error(vm);
    assert_string_equal(e->message, "boom");
    assert_int_equal(e->line, 8);
    assert_int_equal(e->column, 2);
    assert_string_equal(e->source_name, "test.rhai");
    assert_int_equal(vm->nframes, 0);
    cryo_vm_free(vm);
    cryo_unit_release(u);

    u = unit_new();
    pbuild v = {.line = 3};
    emit(&v, CRYO_ABX(OP_ERRVAR, 0, kstr(&v, "x")));
    add_proto(u, &v, "main", 0, 1);
    assert_int_equal(run(u, NULL, NULL, 0, &r, &vm), CRYO_ERR_NOT_FOUND);
    assert_string_equal(cryo_vm_error(vm)->message, "variable not found: x");
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* main: try { loop forever } catch {} -- limits are not catchable. */
static cryo_unit *endless_unit(void) {
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    int t = emit(&b, CRYO_ASBX(OP_TRY, 0, 0));
    emit(&b, CRYO_ASBX(OP_LOADI, 1, 0));
    int top = emit(&b, CRYO_ABC(OP_ADDI, 1, 1, 129));
    int j = emit(&b, CRYO_SJX(OP_JMP, 0));
    b.code[j] = CRYO_SJX(OP_JMP, off(j, top));
    int l = emit(&b, CRYO_ABC(OP_RET, 0, 0, 0));
    patch_sbx(&b, t, l);
    add_proto(u, &b, "main", 0, 2);
    return u;
}

static void test_operation_limit(void **state) {
    (void)state;
    cryo_unit *u = endless_unit();
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 1000);
    assert_int_equal(cryo_vm_get_limit(vm, CRYO_LIMIT_OPERATIONS), 1000);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_TOO_MANY_OPERATIONS);
    assert_true(vm->ops > 1000 && vm->ops <= 1004); /* 2 ops per loop instruction */
    assert_int_equal(vm->nframes, 0);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void test_call_depth_limit(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild m = {.line = 1};
    int t = emit(&m, CRYO_ASBX(OP_TRY, 0, 0));
    emit(&m, CRYO_ABC(OP_CALL, 1, 0, 0));
    emit(&m, CRYO_EXTRA(1, 0, 0));
    int l = emit(&m, CRYO_ABC(OP_RET, 0, 0, 0));
    patch_sbx(&m, t, l);
    add_proto(u, &m, "main", 0, 2);
    pbuild f = {.line = 1};
    emit(&f, CRYO_ABC(OP_CALL, 0, 0, 0));
    emit(&f, CRYO_EXTRA(1, 0, 0));
    emit(&f, CRYO_ABC(OP_RET, 0, 0, 0));
    add_proto(u, &f, "f", 0, 1);
    cryo_vm *vm;
    cryo_value r;
    assert_int_equal(run(u, NULL, NULL, 0, &r, &vm), CRYO_ERR_STACK_OVERFLOW);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

static void *interrupter(void *arg) {
    usleep(30000);
    cryo_vm_interrupt(arg);
    return NULL;
}

static void test_interrupt(void **state) {
    (void)state;
    cryo_unit *u = endless_unit();
    cryo_vm *vm = cryo_vm_new(u, NULL);
    pthread_t th;
    pthread_create(&th, NULL, interrupter, vm);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_INTERRUPTED);
    pthread_join(th, NULL);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* for (x, i) in R[0] { append x to R[7], i to R[8] }; returns [items, indexes]. */
static void emit_collect_loop(pbuild *b) {
    emit(b, CRYO_ABC(OP_NEWARRAY, 7, 0, 0));
    emit(b, CRYO_ABC(OP_NEWARRAY, 8, 0, 0));
    int prep = emit(b, CRYO_ASBX(OP_ITERPREP, 0, 0));
    int body = emit(b, CRYO_ABC(OP_APPEND, 7, 2, 0));
    emit(b, CRYO_ABC(OP_APPEND, 8, 3, 0));
    int next = emit(b, CRYO_ASBX(OP_ITERNEXT, 0, 0));
    patch_sbx(b, prep, next);
    patch_sbx(b, next, body);
    emit(b, CRYO_ABC(OP_NEWARRAY, 9, 2, 0));
    emit(b, CRYO_ABC(OP_APPEND, 9, 7, 0));
    emit(b, CRYO_ABC(OP_APPEND, 9, 8, 0));
    emit(b, CRYO_ABC(OP_RET, 9, 0, 0));
}

static cryo_error_kind run_loop(void (*setup)(pbuild *), cryo_value *items, cryo_value *idx,
                                cryo_value *whole) {
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    setup(&b);
    emit_collect_loop(&b);
    add_proto(u, &b, "main", 0, 10);
    cryo_error_kind k = run(u, NULL, NULL, 0, whole, NULL);
    if (k == CRYO_OK) {
        *items = cryo_array_get(*whole, 0);
        *idx = cryo_array_get(*whole, 1);
    }
    cryo_unit_release(u);
    return k;
}

static void setup_array(pbuild *b) {
    emit(b, CRYO_ABC(OP_NEWARRAY, 0, 3, 0));
    for (int i = 1; i <= 3; i++) {
        emit(b, CRYO_ASBX(OP_LOADI, 5, i * 10));
        emit(b, CRYO_ABC(OP_APPEND, 0, 5, 0));
    }
}
static void setup_string(pbuild *b) {
    emit(b, CRYO_ABX(OP_LOADK, 0, kstr(b, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80")));
}
static void setup_range(pbuild *b) {
    emit(b, CRYO_ASBX(OP_LOADI, 4, 2));
    emit(b, CRYO_ASBX(OP_LOADI, 5, 5));
    emit(b, CRYO_ABC(OP_RANGE, 0, 4, 5));
}
static void setup_range_max(pbuild *b) {
    emit(b, CRYO_ABX(OP_LOADK, 4, kint(b, INT64_MAX - 2)));
    emit(b, CRYO_ABX(OP_LOADK, 5, kint(b, INT64_MAX)));
    emit(b, CRYO_ABC(OP_RANGEI, 0, 4, 5));
}
static void setup_empty_range(pbuild *b) {
    emit(b, CRYO_ASBX(OP_LOADI, 4, 5));
    emit(b, CRYO_ASBX(OP_LOADI, 5, 4));
    emit(b, CRYO_ABC(OP_RANGEI, 0, 4, 5));
}
static void setup_int(pbuild *b) {
    emit(b, CRYO_ASBX(OP_LOADI, 0, 5));
}

static void test_iteration(void **state) {
    (void)state;
    cryo_value items, idx, whole;
    assert_int_equal(run_loop(setup_array, &items, &idx, &whole), CRYO_OK);
    assert_int_equal(cryo_array_len(items), 3);
    assert_int_equal(cryo_array_get(items, 2).as.i, 30);
    assert_int_equal(cryo_array_get(idx, 2).as.i, 2);
    cryo_value_release(whole);

    assert_int_equal(run_loop(setup_string, &items, &idx, &whole), CRYO_OK);
    assert_int_equal(cryo_array_len(items), 4);
    assert_int_equal(cryo_array_get(items, 0).as.c, 'a');
    assert_int_equal(cryo_array_get(items, 1).as.c, 0xE9);
    assert_int_equal(cryo_array_get(items, 2).as.c, 0x20AC);
    assert_int_equal(cryo_array_get(items, 3).as.c, 0x1F600);
    assert_int_equal(cryo_array_get(idx, 3).as.i, 3);
    cryo_value_release(whole);

    assert_int_equal(run_loop(setup_range, &items, &idx, &whole), CRYO_OK);
    assert_int_equal(cryo_array_len(items), 3);
    assert_int_equal(cryo_array_get(items, 0).as.i, 2);
    assert_int_equal(cryo_array_get(items, 2).as.i, 4);
    assert_int_equal(cryo_array_get(idx, 2).as.i, 2);
    cryo_value_release(whole);

    assert_int_equal(run_loop(setup_range_max, &items, &idx, &whole), CRYO_OK);
    assert_int_equal(cryo_array_len(items), 3);
    assert_true(cryo_array_get(items, 2).as.i == INT64_MAX);
    cryo_value_release(whole);

    assert_int_equal(run_loop(setup_empty_range, &items, &idx, &whole), CRYO_OK);
    assert_int_equal(cryo_array_len(items), 0);
    cryo_value_release(whole);

    assert_int_equal(run_loop(setup_int, &items, &idx, &whole), CRYO_ERR_TYPE);
}

static void test_host_calls(void **state) {
    (void)state;
    cryo_context *ctx = test_context();
    cryo_unit *u = unit_new();
    int h_push = add_host(u, "push1", 1);
    int h_add = add_host(u, "hadd", 2);
    int h_nope = add_host(u, "nope", 2);
    pbuild b = {.line = 1};
    emit(&b, CRYO_ABC(OP_NEWARRAY, 0, 0, 0));
    emit(&b, CRYO_ABC(OP_MOVE, 5, 0, 0)); /* a second reference: push1 must copy on write */
    emit(&b, CRYO_ABC(OP_CALLH, 1, 1, 0));
    emit(&b, CRYO_EXTRA(h_push, 0, CRYO_RECV_REG));
    emit(&b, CRYO_ABC(OP_CALLH, 1, 1, 0));
    emit(&b, CRYO_EXTRA(h_push, 0, CRYO_RECV_REG));
    emit(&b, CRYO_ABC(OP_NEWARRAY, 2, 0, 0)); /* in a cell */
    emit(&b, CRYO_ABC(OP_NEWCELL, 2, 0, 0));
    emit(&b, CRYO_ABC(OP_CALLH, 3, 1, 0));
    emit(&b, CRYO_EXTRA(h_push, 2, CRYO_RECV_CELL));
    emit(&b, CRYO_ABC(OP_GETCELL, 2, 2, 0));
    emit(&b, CRYO_ASBX(OP_LOADI, 3, 40));
    emit(&b, CRYO_ASBX(OP_LOADI, 4, 2));
    emit(&b, CRYO_ABC(OP_CALLH, 3, 2, 0));
    emit(&b, CRYO_EXTRA(h_add, 0, 0));
    emit(&b, CRYO_ABC(OP_NEWARRAY, 6, 4, 0));
    emit(&b, CRYO_ABC(OP_APPEND, 6, 0, 0));
    emit(&b, CRYO_ABC(OP_APPEND, 6, 2, 0));
    emit(&b, CRYO_ABC(OP_APPEND, 6, 3, 0));
    emit(&b, CRYO_ABC(OP_APPEND, 6, 5, 0));
    emit(&b, CRYO_ABC(OP_RET, 6, 0, 0));
    add_proto(u, &b, "main", 0, 7);
    cryo_value r;
    assert_int_equal(run(u, ctx, NULL, 0, &r, NULL), CRYO_OK);
    assert_int_equal(cryo_array_len(cryo_array_get(r, 0)), 2);
    assert_int_equal(cryo_array_len(cryo_array_get(r, 1)), 1);
    assert_int_equal(cryo_array_get(r, 2).as.i, 42);
    assert_int_equal(cryo_array_len(cryo_array_get(r, 3)), 0);
    cryo_value_release(r);
    cryo_unit_release(u);

    /* Unbound: the error lists the argument types. */
    u = unit_new();
    h_nope = add_host(u, "nope", 2);
    pbuild n = {.line = 2};
    emit(&n, CRYO_ASBX(OP_LOADI, 0, 1));
    emit(&n, CRYO_ABX(OP_LOADK, 1, kstr(&n, "s")));
    emit(&n, CRYO_ABC(OP_CALLH, 0, 2, 0));
    emit(&n, CRYO_EXTRA(h_nope, 0, 0));
    emit(&n, CRYO_ABC(OP_RET, 0, 0, 0));
    add_proto(u, &n, "main", 0, 2);
    cryo_vm *vm;
    assert_int_equal(run(u, ctx, NULL, 0, &r, &vm), CRYO_ERR_NOT_FOUND);
    assert_string_equal(cryo_vm_error(vm)->message, "function not found: nope(i64, string)");
    assert_int_equal(cryo_vm_error(vm)->line, 2);
    cryo_vm_free(vm);
    cryo_unit_release(u);
    cvm_context_free_tables(ctx);
}

/* this: a script method called with a receiver register, a map method, and a host function
 * calling a closure back (re-entry) whose error a try in the outer script catches. */
static void test_methods_and_reentry(void **state) {
    (void)state;
    cryo_context *ctx = test_context();
    cryo_unit *u = unit_new();
    u->nglobals = 1;
    int h_greet = add_host(u, "greet", 2);
    int h_apply = add_host(u, "apply", 2);
    pbuild m = {.line = 1};
    emit(&m, CRYO_ASBX(OP_LOADI, 1, 41));
    emit(&m, CRYO_ABC(OP_CALL, 2, 0, 0)); /* R[1].inc() */
    emit(&m, CRYO_EXTRA(2, 1, CRYO_RECV_REG));
    emit(&m, CRYO_ASBX(OP_LOADI, 3, 2));
    emit(&m, CRYO_ABC(OP_CALLH, 2, 2, 0)); /* R[0].greet(2) */
    emit(&m, CRYO_EXTRA(h_greet, 0, CRYO_RECV_REG));
    emit(&m, CRYO_ABC(OP_ADD, 1, 1, 2));  /* 42 + 42 */
    emit(&m, CRYO_ABX(OP_CLOSURE, 2, 3)); /* apply(|x| x + x, 21) */
    emit(&m, CRYO_ASBX(OP_LOADI, 3, 21));
    emit(&m, CRYO_ABC(OP_CALLH, 2, 2, 0));
    emit(&m, CRYO_EXTRA(h_apply, 0, 0));
    emit(&m, CRYO_ABC(OP_ADD, 1, 1, 2)); /* 126 */
    int t = emit(&m, CRYO_ASBX(OP_TRY, 4, 0));
    emit(&m, CRYO_ABX(OP_CLOSURE, 2, 4)); /* apply(|x| throw x, 7) */
    emit(&m, CRYO_ASBX(OP_LOADI, 3, 7));
    emit(&m, CRYO_ABC(OP_CALLH, 2, 2, 0));
    emit(&m, CRYO_EXTRA(h_apply, 0, 0));
    emit(&m, CRYO_ABC(OP_ENDTRY, 0, 0, 0));
    emit(&m, CRYO_ABC(OP_RET, 2, 0, 0));
    int l = emit(&m, CRYO_ABC(OP_ADD, 1, 1, 4)); /* 133 */
    patch_sbx(&m, t, l);
    emit(&m, CRYO_ABC(OP_RET, 1, 0, 0));
    add_proto(u, &m, "main", 0, 5);
    pbuild g = {.line = 1}; /* greet(x) = this.n + x */
    int kn = kstr(&g, "n");
    emit(&g, CRYO_ABC(OP_THIS, 1, 0, 0));
    emit(&g, CRYO_ABC(OP_GETFIELD, 1, 1, kn));
    emit(&g, CRYO_ABC(OP_ADD, 1, 1, 0));
    emit(&g, CRYO_ABC(OP_RET, 1, 0, 0));
    add_proto(u, &g, "greet", 1, 2);
    pbuild inc = {.line = 1}; /* inc() { this += 1 } */
    emit(&inc, CRYO_ABC(OP_THIS, 0, 0, 0));
    emit(&inc, CRYO_ABC(OP_ADDI, 0, 0, 129));
    emit(&inc, CRYO_ABC(OP_SETTHIS, 0, 0, 0));
    emit(&inc, CRYO_ABC(OP_RET0, 0, 0, 0));
    add_proto(u, &inc, "inc", 0, 1);
    pbuild dbl = {.line = 1};
    emit(&dbl, CRYO_ABC(OP_ADD, 1, 0, 0));
    emit(&dbl, CRYO_ABC(OP_RET, 1, 0, 0));
    add_proto(u, &dbl, "anon$1", 1, 2);
    pbuild thr = {.line = 1};
    emit(&thr, CRYO_ABC(OP_THROW, 0, 0, 0));
    add_proto(u, &thr, "anon$2", 1, 1);

    cryo_map *map = cv_map_new(NULL, 2);
    cryo_string *kg = cv_string_new(NULL, "greet", 5), *knn = cv_string_new(NULL, "n", 1);
    cv_map_set(NULL, map, kg, make_fn(u, 1, "greet", 0, 0));
    cv_map_set(NULL, map, knn, cryo_int(40));
    cryo_value_release(cv_from_obj(&kg->h));
    cryo_value_release(cv_from_obj(&knn->h));
    cryo_value mv = cv_from_obj(&map->h), r;
    assert_int_equal(run(u, ctx, &mv, 1, &r, NULL), CRYO_OK);
    assert_int_equal(r.type, CRYO_T_INT);
    assert_int_equal(r.as.i, 133);
    cryo_value_release(mv);
    cryo_unit_release(u);
    cvm_context_free_tables(ctx);
}

/* rec(f) = apply(f, f): host -> script re-entry without end. With the call depth limit off,
 * the re-entry bound still stops it before the C stack overflows. */
static void test_reentry_bound(void **state) {
    (void)state;
    cryo_context *ctx = test_context();
    cryo_unit *u = unit_new();
    u->nglobals = 1;
    int h_apply = add_host(u, "apply", 2);
    for (int p = 0; p < 2; p++) {
        pbuild b = {.line = 1};
        emit(&b, CRYO_ABC(OP_MOVE, 1, 0, 0));
        emit(&b, CRYO_ABC(OP_MOVE, 2, 0, 0));
        emit(&b, CRYO_ABC(OP_CALLH, 1, 2, 0));
        emit(&b, CRYO_EXTRA(h_apply, 0, 0));
        emit(&b, CRYO_ABC(OP_RET, 1, 0, 0));
        add_proto(u, &b, p ? "rec" : "main", p ? 1 : 0, 3);
    }
    cryo_value fn = make_fn(u, 1, "rec", 0, 0), r;
    cryo_vm *vm = cryo_vm_new(u, ctx);
    assert_int_equal(cryo_vm_run(vm, &fn, 1, &r), CRYO_ERR_STACK_OVERFLOW);
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 0);
    assert_int_equal(cryo_vm_run(vm, &fn, 1, &r), CRYO_ERR_STACK_OVERFLOW);
    assert_int_equal(vm->nframes, 0);
    assert_int_equal(vm->run_level, 0);
    cryo_vm_free(vm);
    cryo_value_release(fn);
    cryo_unit_release(u);
    cvm_context_free_tables(ctx);
}

/* An endless loop growing an array: the memory limit ends it, and try cannot catch that. */
static void test_memory_and_data_limits(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    int t = emit(&b, CRYO_ASBX(OP_TRY, 0, 0));
    emit(&b, CRYO_ABC(OP_NEWARRAY, 1, 0, 0));
    int top = emit(&b, CRYO_ABC(OP_APPEND, 1, 1, 0)); /* x.push(x): nested copies */
    int j = emit(&b, CRYO_SJX(OP_JMP, 0));
    b.code[j] = CRYO_SJX(OP_JMP, off(j, top));
    int l = emit(&b, CRYO_ABC(OP_RET, 0, 0, 0));
    patch_sbx(&b, t, l);
    add_proto(u, &b, "main", 0, 2);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 64 * 1024);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_MEMORY);
    /* The same loop with an array size limit: totals count nested elements. */
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 0);
    cryo_vm_set_limit(vm, CRYO_LIMIT_ARRAY_SIZE, 10);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_ERR_DATA_TOO_LARGE);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

typedef struct captured_output {
    char text[64];
    int calls;
} captured_output;

static void capture(void *ud, const char *text, size_t len) {
    captured_output *o = ud;
    snprintf(o->text, sizeof o->text, "%.*s", (int)len, text);
    o->calls++;
}

static void test_print_hooks(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    emit(&b, CRYO_ABC(OP_RET0, 0, 0, 0));
    add_proto(u, &b, "main", 0, 1);
    cryo_vm *vm = cryo_vm_new(u, cryo_context_raw());
    captured_output p = {{0}, 0}, d = {{0}, 0};
    cryo_vm_set_print(vm, capture, &p);
    cryo_vm_set_debug(vm, capture, &d);
    cvm_print(vm, "hello", 5);
    cvm_debug(vm, "dbg", 3);
    assert_string_equal(p.text, "hello");
    assert_string_equal(d.text, "dbg");
    assert_int_equal(p.calls + d.calls, 2);
    assert_null(cvm_context_find(cryo_context_raw(), "print", 5, 1));
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

/* cryo_vm_new is one small allocation (cryo.h): registers and frames wait for the first run,
 * and cryo_vm_free gives every byte back. Measured with malloc's statistics (test.h), which
 * sanitizers, valgrind and glibc's tcache hide: there the byte counts are skipped (the
 * structural checks still run; ctest turns the tcache off). No timing (timings belong to
 * bench/vm_create.c). */
static void test_vm_new_is_cheap(void **state) {
    (void)state;
    cryo_unit *u = unit_new();
    pbuild b = {.line = 1};
    emit(&b, CRYO_ASBX(OP_LOADI, 0, 1));
    emit(&b, CRYO_ABC(OP_RET, 0, 0, 0));
    add_proto(u, &b, "main", 0, 1);
    cryo_vm *warm = cryo_vm_new(u, NULL); /* the std context is built once, by its first use */
    cryo_vm_free(warm);

    bool counted = test_heap_counted(sizeof(cryo_vm));
    size_t b0;

    enum { N = 100 };
    cryo_vm *vms[N];
    b0 = test_heap_in_use();
    for (int i = 0; i < N; i++) {
        vms[i] = cryo_vm_new(u, NULL);
        assert_non_null(vms[i]);
        assert_null(vms[i]->seg); /* nothing allocated before the first run */
        assert_null(vms[i]->frames);
    }
    size_t per_vm = (test_heap_in_use() - b0) / N;
    for (int i = 0; i < N; i++)
        cryo_vm_free(vms[i]);
    if (counted) {
        print_message("cryo_vm_new: %zu bytes per VM (sizeof(cryo_vm) = %zu)\n", per_vm,
                      sizeof(cryo_vm));
        /* one calloc of the struct: its size plus malloc's header and rounding */
        assert_true(per_vm >= sizeof(cryo_vm));
        assert_true(per_vm <= sizeof(cryo_vm) + 32);
        assert_int_equal(test_heap_in_use(), b0); /* freeing gives every byte back */
    }

    /* the first run allocates the registers and frames; a second run reuses them */
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value r;
    b0 = test_heap_in_use();
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 1);
    assert_non_null(vm->seg);
    assert_non_null(vm->frames);
    size_t after_first = test_heap_in_use();
    if (counted) assert_true(after_first > b0);
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 1);
    if (counted) assert_int_equal(test_heap_in_use(), after_first);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith_fast_paths), cmocka_unit_test(test_float_and_overflow),
        cmocka_unit_test(test_fib_and_api_call), cmocka_unit_test(test_segmented_stack),
        cmocka_unit_test(test_closures),         cmocka_unit_test(test_callv_curry_and_named),
        cmocka_unit_test(test_try_catch),        cmocka_unit_test(test_uncaught_throw),
        cmocka_unit_test(test_operation_limit),  cmocka_unit_test(test_call_depth_limit),
        cmocka_unit_test(test_interrupt),        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_host_calls),       cmocka_unit_test(test_methods_and_reentry),
        cmocka_unit_test(test_reentry_bound),    cmocka_unit_test(test_memory_and_data_limits),
        cmocka_unit_test(test_print_hooks),      cmocka_unit_test(test_vm_new_is_cheap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
