/*
 * test-compile — the compiler on hand-built syntax trees: emitted instructions for the key
 * shapes (calls, captures, receiver modes, assignment chains, switch, loops, try/catch) and
 * the compile errors with their positions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ast.h"
#include "opcodes.h"
#include "unit.h"

/* --- tree builders -----------------------------------------------------------------------------
 */

static cryo_arena *A;
static int LINE = 1;

static cryo_node *node(cryo_node_kind k) {
    cryo_node *n = cl_arena_alloc(A, sizeof *n);
    n->kind = k;
    n->line = LINE;
    n->column = 1;
    return n;
}
static cryo_node *at(cryo_node *n, int line, int col) {
    n->line = line;
    n->column = col;
    return n;
}
static cryo_node **vlist(int *count, va_list ap) {
    cryo_node *tmp[64];
    int n = 0;
    cryo_node *x;
    while ((x = va_arg(ap, cryo_node *)) != NULL)
        tmp[n++] = x;
    cryo_node **l = cl_arena_alloc(A, sizeof(cryo_node *) * (size_t)(n ? n : 1));
    memcpy(l, tmp, sizeof(cryo_node *) * (size_t)n);
    *count = n;
    return l;
}
static cryo_node *named(cryo_node_kind k, const char *name) {
    cryo_node *n = node(k);
    n->name = name;
    n->len = strlen(name);
    return n;
}
static cryo_node *INT(int64_t v) {
    cryo_node *n = node(N_INT);
    n->ival = v;
    return n;
}
static cryo_node *STR(const char *s) {
    return named(N_STRING, s);
}
static cryo_node *VAR(const char *s) {
    return named(N_VAR, s);
}
static cryo_node *UNIT_NODE(void) {
    return node(N_UNIT);
}
static cryo_node *THIS(void) {
    return node(N_THIS);
}
static cryo_node *BIN(int op, cryo_node *a, cryo_node *b) {
    cryo_node *n = node(N_BINARY);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}
static cryo_node *LET(const char *name, cryo_node *v) {
    cryo_node *n = named(N_LET, name);
    n->a = v;
    return n;
}
static cryo_node *CONST(const char *name, cryo_node *v) {
    cryo_node *n = LET(name, v);
    n->ival = 1;
    return n;
}
static cryo_node *ASSIGN(int op, cryo_node *t, cryo_node *v) {
    cryo_node *n = node(N_ASSIGN);
    n->op = op;
    n->a = t;
    n->b = v;
    return n;
}
static cryo_node *INDEX(cryo_node *a, cryo_node *b) {
    cryo_node *n = node(N_INDEX);
    n->a = a;
    n->b = b;
    return n;
}
static cryo_node *FIELD(cryo_node *a, const char *name) {
    cryo_node *n = named(N_FIELD, name);
    n->a = a;
    return n;
}
/* lists end with NULL */
static cryo_node *BLOCK(int semi, ...) {
    cryo_node *n = node(N_BLOCK);
    va_list ap;
    va_start(ap, semi);
    n->list = vlist(&n->nlist, ap);
    va_end(ap);
    n->ival = semi;
    return n;
}
static cryo_node *CALL(const char *name, ...) {
    cryo_node *n = named(N_CALL, name);
    va_list ap;
    va_start(ap, name);
    n->list = vlist(&n->nlist, ap);
    va_end(ap);
    return n;
}
static cryo_node *METHOD(cryo_node *recv, const char *name, ...) {
    cryo_node *n = named(N_METHOD, name);
    n->a = recv;
    va_list ap;
    va_start(ap, name);
    n->list = vlist(&n->nlist, ap);
    va_end(ap);
    return n;
}
static cryo_node *PARAM(const char *name) {
    return named(N_PARAM, name);
}
static cryo_node *CLOSURE(cryo_node *body, ...) {
    cryo_node *n = node(N_CLOSURE);
    n->a = body;
    va_list ap;
    va_start(ap, body);
    n->list = vlist(&n->nlist, ap);
    va_end(ap);
    return n;
}
static cryo_node *FNDEF(const char *name, cryo_node *body, ...) {
    cryo_node *n = named(N_FNDEF, name);
    n->a = body;
    va_list ap;
    va_start(ap, body);
    n->list = vlist(&n->nlist, ap);
    va_end(ap);
    return n;
}
static cryo_node *CASE(cryo_node *guard, cryo_node *result, ...) {
    cryo_node *n = node(N_CASE);
    n->b = guard;
    n->c = result;
    va_list ap;
    va_start(ap, result);
    n->list = vlist(&n->nlist, ap);
    va_end(ap);
    return n;
}
static cryo_node *SWITCH(cryo_node *subj, ...) {
    cryo_node *n = node(N_SWITCH);
    n->a = subj;
    va_list ap;
    va_start(ap, subj);
    n->list = vlist(&n->nlist, ap);
    va_end(ap);
    return n;
}
static cryo_node *K2(cryo_node_kind k, cryo_node *a, cryo_node *b) {
    cryo_node *n = node(k);
    n->a = a;
    n->b = b;
    return n;
}

static cryo_ast AST;
static cryo_node *FNS[8];

static cryo_unit *compile_opts(cryo_node *main, cryo_node **fns, int nfns,
                               const cryo_compile_options *o, cryo_error **err) {
    AST.main = main;
    AST.fns = fns;
    AST.nfns = nfns;
    AST.arena = A;
    *err = NULL;
    return cl_compile_ast(&AST, o, err);
}

static cryo_unit *compile_ok(cryo_node *main, cryo_node **fns, int nfns) {
    cryo_error *err = NULL;
    cryo_unit *u = compile_opts(main, fns, nfns, NULL, &err);
    if (!u)
        fail_msg("compile failed: %s (%d:%d)", err ? err->message : "?", err ? err->line : 0,
                 err ? err->column : 0);
    assert_null(err);
    if (getenv("CRYO_DUMP")) cryo_unit_dump(u, stderr);
    return u;
}

/* --- instruction helpers --------------------------------------------------------------------- */

/* Raw operand words after an instruction (not opcodes). */
static uint32_t has_extra(cryo_instr i) {
    if (CRYO_OP(i) == OP_SETPATH) return 1 + CRYO_B(i);
    return CRYO_OP(i) == OP_CALL || CRYO_OP(i) == OP_CALLH;
}

/* Index of the n-th (0-based) instruction with opcode op, skipping EXTRA words; -1 if none. */
static int find_op(const cryo_proto *p, unsigned op, int nth) {
    for (uint32_t pc = 0; pc < p->ncode; pc++) {
        if (CRYO_OP(p->code[pc]) == op && nth-- == 0) return (int)pc;
        pc += has_extra(p->code[pc]);
    }
    return -1;
}
static int count_op(const cryo_proto *p, unsigned op) {
    int n = 0;
    while (find_op(p, op, n) >= 0)
        n++;
    return n;
}
/* The opcode sequence of a proto (EXTRA words skipped), as a space-separated string. */
static const char *ops(const cryo_proto *p) {
    static char buf[4096];
    buf[0] = 0;
    for (uint32_t pc = 0; pc < p->ncode; pc++) {
        if (buf[0]) strcat(buf, " ");
        strcat(buf, cl_opcode_names[CRYO_OP(p->code[pc])]);
        pc += has_extra(p->code[pc]);
    }
    return buf;
}

static int setup(void **state) {
    (void)state;
    A = cl_arena_new();
    LINE = 1;
    return 0;
}
static int teardown(void **state) {
    (void)state;
    cl_arena_free(A);
    return 0;
}

/* --- tests --------------------------------------------------------------------------------------
 */

static void test_call_args_consecutive(void **state) {
    (void)state;
    FNS[0] = FNDEF("f", VAR("a"), PARAM("a"), PARAM("b"), NULL);
    /* let x = 5; f(x, 2) */
    cryo_node *m = BLOCK(0, LET("x", INT(5)), CALL("f", VAR("x"), INT(2), NULL), NULL);
    cryo_unit *u = compile_ok(m, FNS, 1);
    assert_int_equal(u->nprotos, 2);
    assert_int_equal(u->nfns, 1);
    assert_string_equal(u->fns[0].name, "f");
    assert_int_equal(u->fns[0].arity, 2);
    const cryo_proto *p = u->protos[0];
    /* R0 = result, R1 = x, call at R2: MOVE R2 R1; LOADI R3 2; CALL R2 2 */
    int pc = find_op(p, OP_CALL, 0);
    assert_true(pc >= 2);
    cryo_instr call = p->code[pc];
    int a = (int)CRYO_A(call);
    assert_int_equal(CRYO_B(call), 2);
    assert_int_equal(CRYO_X_INDEX(p->code[pc + 1]), 1);
    assert_int_equal(CRYO_X_MODE(p->code[pc + 1]), CRYO_RECV_NONE);
    assert_int_equal(CRYO_OP(p->code[pc - 2]), OP_MOVE);
    assert_int_equal(CRYO_A(p->code[pc - 2]), a);
    assert_int_equal(CRYO_OP(p->code[pc - 1]), OP_LOADI);
    assert_int_equal(CRYO_A(p->code[pc - 1]), a + 1);
    assert_int_equal(CRYO_SBX(p->code[pc - 1]), 2);
    /* x is R0; the call is the script's value: args go to the first free register */
    assert_int_equal(a, 1);
    assert_int_equal(CRYO_OP(p->code[pc + 2]), OP_RET);
    assert_int_equal(CRYO_A(p->code[pc + 2]), a);
    assert_int_equal(u->protos[1]->nparams, 2);
    assert_string_equal(ops(u->protos[1]), "RET"); /* returns its parameter's register */
    cryo_unit_release(u);
}

static void test_host_call_and_dedupe(void **state) {
    (void)state;
    cryo_node *m = BLOCK(1, CALL("print", STR("a"), NULL), CALL("print", STR("b"), NULL),
                         CALL("print", NULL), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    assert_int_equal(u->nhosts, 2);
    assert_string_equal(u->hosts[0].name, "print");
    assert_int_equal(u->hosts[0].arity, 1);
    assert_int_equal(u->hosts[1].arity, 0);
    const cryo_proto *p = u->protos[0];
    assert_int_equal(count_op(p, OP_CALLH), 3);
    assert_int_equal(p->nk, 2); /* "a", "b" */
    assert_int_equal(p->k[0].type, CRYO_T_STRING);
    assert_int_equal(p->k[0].flags & CRYO_VF_COUNTED, 0);
    cryo_unit_release(u);
}

static void test_fib_shape(void **state) {
    (void)state;
    /* fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } } */
    cryo_node *iff = node(N_IF);
    iff->a = BIN(BOP_LT, VAR("n"), INT(2));
    iff->b = BLOCK(0, VAR("n"), NULL);
    iff->c = BLOCK(0,
                   BIN(BOP_ADD, CALL("fib", BIN(BOP_SUB, VAR("n"), INT(1)), NULL),
                       CALL("fib", BIN(BOP_SUB, VAR("n"), INT(2)), NULL)),
                   NULL);
    FNS[0] = FNDEF("fib", BLOCK(0, iff, NULL), PARAM("n"), NULL);
    cryo_unit *u = compile_ok(BLOCK(0, CALL("fib", INT(30), NULL), NULL), FNS, 1);
    const cryo_proto *p = u->protos[1];
    assert_string_equal(ops(p), "LOADI LT JMPF RET SUBI CALL SUBI CALL ADD RET");
    /* calls bind statically to proto 1 and their arguments are computed in place */
    int c0 = find_op(p, OP_CALL, 0);
    assert_int_equal(CRYO_A(p->code[c0]), CRYO_A(p->code[c0 - 1]));
    assert_int_equal(CRYO_X_INDEX(p->code[c0 + 1]), 1);
    assert_true(p->nregs <= 5);
    cryo_unit_release(u);
}

static void test_capture_cell_and_capdesc(void **state) {
    (void)state;
    /* let x = 1;            (line 1)
     * let f = || x += 1;    (line 2)
     * let y = 2;  let g = || y;  x */
    cryo_node *lx = LET("x", INT(1));
    LINE = 2;
    cryo_node *xuse = at(VAR("x"), 2, 12);
    cryo_node *lf = LET("f", CLOSURE(ASSIGN(BOP_ADD, xuse, INT(1)), NULL));
    LINE = 3;
    cryo_node *ly = LET("y", INT(2));
    cryo_node *lg = LET("g", CLOSURE(at(VAR("y"), 3, 20), NULL));
    cryo_node *m = BLOCK(0, lx, lf, ly, lg, VAR("x"), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    /* R0 x, R1 f, R2 y, R3 g */
    assert_int_equal(CRYO_OP(p->code[0]), OP_LOADI);
    assert_int_equal(CRYO_OP(p->code[1]), OP_NEWCELL);
    assert_int_equal(CRYO_A(p->code[1]), 0);
    assert_int_equal(count_op(p, OP_NEWCELL), 2);
    assert_int_equal(count_op(p, OP_CLOSURE), 2);
    assert_int_equal(u->nprotos, 3);
    const cryo_proto *f = u->protos[1];
    assert_true(f->is_closure);
    assert_string_equal(f->name, "anon$0");
    assert_int_equal(f->ncaps, 1);
    assert_string_equal(f->caps[0].name, "x");
    assert_int_equal(f->caps[0].from_parent_local, 1);
    assert_int_equal(f->caps[0].index, 0);
    assert_int_equal(f->caps[0].assigned, 1);
    assert_int_equal(f->caps[0].line, 2);
    assert_int_equal(f->caps[0].column, 12);
    assert_string_equal(ops(f), "GETUPV ADDI SETUPV LOADUNIT RET");
    const cryo_proto *g = u->protos[2];
    assert_int_equal(g->caps[0].assigned, 0);
    assert_int_equal(g->caps[0].index, 2);
    assert_int_equal(g->caps[0].line, 3);
    /* the outer frame reads x through its cell */
    int last = find_op(p, OP_GETCELL, 0);
    assert_true(last > 0);
    assert_int_equal(CRYO_B(p->code[last]), 0);
    cryo_unit_release(u);
}

static void test_nested_closure_captures_through_parent(void **state) {
    (void)state;
    /* let x = 1; let f = || { let g = || { x = 2 }; g }; */
    cryo_node *inner = CLOSURE(BLOCK(0, ASSIGN(0, VAR("x"), INT(2)), NULL), NULL);
    cryo_node *outer = CLOSURE(BLOCK(0, LET("g", inner), VAR("g"), NULL), NULL);
    cryo_node *m = BLOCK(1, LET("x", INT(1)), LET("f", outer), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    assert_int_equal(u->nprotos, 3);
    const cryo_proto *f = u->protos[1], *g = u->protos[2];
    assert_int_equal(f->ncaps, 1);
    assert_int_equal(f->caps[0].from_parent_local, 1);
    assert_int_equal(f->caps[0].assigned, 1); /* a nested closure assigns it */
    assert_int_equal(g->ncaps, 1);
    assert_int_equal(g->caps[0].from_parent_local, 0);
    assert_int_equal(g->caps[0].index, 0);
    assert_int_equal(g->caps[0].assigned, 1);
    assert_string_equal(ops(g), "LOADI SETUPV LOADUNIT RET");
    cryo_unit_release(u);
}

static void test_captured_param_and_for_var(void **state) {
    (void)state;
    /* fn h(a) { || a }   for x in r { || x } */
    FNS[0] = FNDEF("h", CLOSURE(VAR("a"), NULL), PARAM("a"), NULL);
    cryo_node *loop = named(N_FOR, "x");
    loop->a = VAR("r");
    loop->b = BLOCK(0, CLOSURE(VAR("x"), NULL), NULL);
    cryo_node *m = BLOCK(0, LET("r", INT(3)), loop, NULL);
    cryo_unit *u = compile_ok(m, FNS, 1);
    const cryo_proto *h = u->protos[1];
    assert_int_equal(CRYO_OP(h->code[0]), OP_NEWCELL);
    assert_int_equal(CRYO_A(h->code[0]), 0);
    const cryo_proto *p = u->protos[0];
    int prep = find_op(p, OP_ITERPREP, 0);
    assert_true(prep >= 0);
    int base = (int)CRYO_A(p->code[prep]);
    /* Rhai: a captured loop variable is one shared cell for the whole loop (closures made in
     * different iterations all see the last value), set from the item at each iteration */
    assert_int_equal(CRYO_OP(p->code[prep - 2]), OP_LOADUNIT);
    assert_int_equal(CRYO_OP(p->code[prep - 1]), OP_NEWCELL);
    int cell = (int)CRYO_A(p->code[prep - 1]);
    assert_int_equal(cell, base + 4);
    assert_int_equal(CRYO_OP(p->code[prep + 1]), OP_SETCELL);
    assert_int_equal(CRYO_A(p->code[prep + 1]), cell);
    assert_int_equal(CRYO_B(p->code[prep + 1]), base + 2);
    assert_int_equal(u->protos[2]->caps[0].index, cell);
    int next = find_op(p, OP_ITERNEXT, 0);
    assert_int_equal(prep + 1 + CRYO_SBX(p->code[prep]), next);
    assert_int_equal(next + 1 + CRYO_SBX(p->code[next]), prep + 1);
    cryo_unit_release(u);
}

static void test_fn_is_pure_errvar(void **state) {
    (void)state;
    FNS[0] = FNDEF("f", VAR("x"), NULL);
    cryo_unit *u = compile_ok(BLOCK(0, LET("x", INT(1)), CALL("f", NULL), NULL), FNS, 1);
    const cryo_proto *f = u->protos[1];
    assert_string_equal(ops(f), "ERRVAR RET");
    assert_string_equal(cv_str(f->k[CRYO_BX(f->code[0])])->data, "x");
    cryo_unit_release(u);
}

static void test_receiver_modes(void **state) {
    (void)state;
    /* fn m() { this.push(1) }
     * let a = []; a.push(1); let b = []; let k = || b; b.push(2); a[0].push(3); a.m(); a.len() */
    FNS[0] = FNDEF("m", METHOD(THIS(), "push", INT(1), NULL), NULL);
    cryo_node *arr = node(N_ARRAY);
    cryo_node *arr2 = node(N_ARRAY);
    cryo_node *m = BLOCK(0, LET("a", arr), METHOD(VAR("a"), "push", INT(1), NULL), LET("b", arr2),
                         LET("k", CLOSURE(VAR("b"), NULL)), METHOD(VAR("b"), "push", INT(2), NULL),
                         METHOD(INDEX(VAR("a"), INT(0)), "push", INT(3), NULL),
                         METHOD(VAR("a"), "m", NULL), NULL);
    cryo_unit *u = compile_ok(m, FNS, 1);
    const cryo_proto *p = u->protos[0];
    /* R0 a, R1 b, R2 k */
    int c0 = find_op(p, OP_CALLH, 0);
    assert_int_equal(CRYO_B(p->code[c0]), 2); /* receiver + 1 arg */
    assert_int_equal(CRYO_X_MODE(p->code[c0 + 1]), CRYO_RECV_REG);
    assert_int_equal(CRYO_X_RECV(p->code[c0 + 1]), 0);
    assert_int_equal(CRYO_OP(p->code[c0 - 1]), OP_LOADI);
    assert_int_equal(CRYO_A(p->code[c0 - 1]), CRYO_A(p->code[c0]) + 1);
    int c1 = find_op(p, OP_CALLH, 1);
    assert_int_equal(CRYO_X_MODE(p->code[c1 + 1]), CRYO_RECV_CELL);
    assert_int_equal(CRYO_X_RECV(p->code[c1 + 1]), 1);
    /* a[0].push(3) on the element in place: SETPATH PIN p (root a, index k); CALLH with mode
     * PATH on p; SETPATH UNPIN p; the pin registers below the call's */
    int c2 = find_op(p, OP_CALLH, 2);
    int pin = find_op(p, OP_SETPATH, 0), unpin = find_op(p, OP_SETPATH, 1);
    assert_true(pin < c2 && c2 < unpin);
    assert_int_equal(count_op(p, OP_GETINDEX) + count_op(p, OP_SETINDEX), 0);
    assert_int_equal(CRYO_C(p->code[pin]), CRYO_PATH_PIN);
    assert_int_equal(CRYO_C(p->code[unpin]), CRYO_PATH_UNPIN);
    assert_int_equal(CRYO_B(p->code[pin]), 1);
    assert_int_equal(CRYO_PATH_ROOT_KIND(p->code[pin + 1]), CRYO_PATH_REG);
    assert_int_equal(CRYO_PATH_ROOT_INDEX(p->code[pin + 1]), 0);
    assert_true(CRYO_PATH_STEP_IS_INDEX(p->code[pin + 2]));
    assert_int_equal(p->code[unpin + 1], p->code[pin + 1]);
    assert_int_equal(p->code[unpin + 2], p->code[pin + 2]);
    assert_int_equal(CRYO_X_MODE(p->code[c2 + 1]), CRYO_RECV_PATH);
    assert_int_equal(CRYO_X_RECV(p->code[c2 + 1]), CRYO_A(p->code[pin]));
    assert_true(CRYO_A(p->code[pin]) + 2 <= (int)CRYO_A(p->code[c2]));
    /* a.m(): script fn, method style, 0 args */
    int c3 = find_op(p, OP_CALL, 0);
    assert_int_equal(CRYO_B(p->code[c3]), 0);
    assert_int_equal(CRYO_X_INDEX(p->code[c3 + 1]), 1);
    assert_int_equal(CRYO_X_MODE(p->code[c3 + 1]), CRYO_RECV_REG);
    assert_int_equal(CRYO_X_RECV(p->code[c3 + 1]), 0);
    const cryo_proto *fm = u->protos[1];
    assert_true(fm->uses_this);
    int ct = find_op(fm, OP_CALLH, 0);
    assert_int_equal(CRYO_X_MODE(fm->code[ct + 1]), CRYO_RECV_THIS);
    cryo_unit_release(u);
}

static void test_call_on_variable_and_dot_call(void **state) {
    (void)state;
    /* let f = |x| x; f(1); f.call(); f.call(2) */
    cryo_node *m =
        BLOCK(0, LET("f", CLOSURE(VAR("x"), PARAM("x"), NULL)), CALL("f", INT(1), NULL),
              METHOD(VAR("f"), "call", NULL), METHOD(VAR("f"), "call", INT(2), NULL), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    assert_int_equal(count_op(p, OP_CALLV), 2);
    int c = find_op(p, OP_CALLV, 0);
    assert_int_equal(CRYO_B(p->code[c]), 1);
    assert_int_equal(CRYO_OP(p->code[c - 2]), OP_MOVE);
    assert_int_equal(CRYO_A(p->code[c - 2]), CRYO_A(p->code[c]));
    assert_int_equal(CRYO_A(p->code[c - 1]), CRYO_A(p->code[c]) + 1);
    assert_int_equal(CRYO_B(p->code[find_op(p, OP_CALLV, 1)]), 0);
    /* with arguments, `x.call(f, ..)` may bind this = x: the host `call` decides, x by ref */
    int h = find_op(p, OP_CALLH, 0);
    assert_int_equal(CRYO_B(p->code[h]), 2);
    assert_int_equal(CRYO_X_MODE(p->code[h + 1]), CRYO_RECV_REG);
    assert_string_equal(u->hosts[CRYO_X_INDEX(p->code[h + 1])].name, "call");
    cryo_unit_release(u);
}

static void test_host_first_arg_by_ref_and_fn_ptr(void **state) {
    (void)state;
    /* fn dbl(x) { x * 2 }  let y = []; pad(y, 5, 0); let f = dbl; is_shared(y) */
    FNS[0] = FNDEF("dbl", BIN(BOP_MUL, VAR("x"), INT(2)), PARAM("x"), NULL);
    cryo_node *m = BLOCK(0, LET("y", node(N_ARRAY)), CALL("pad", VAR("y"), INT(5), INT(0), NULL),
                         LET("f", VAR("dbl")), CALL("is_shared", VAR("y"), NULL), NULL);
    cryo_unit *u = compile_ok(m, FNS, 1);
    const cryo_proto *p = u->protos[0];
    int h = find_op(p, OP_CALLH, 0);
    assert_int_equal(CRYO_B(p->code[h]), 3);
    assert_int_equal(CRYO_X_MODE(p->code[h + 1]), CRYO_RECV_REG);
    assert_int_equal(CRYO_X_RECV(p->code[h + 1]), 0);
    assert_string_equal(u->hosts[CRYO_X_INDEX(p->code[h + 1])].name, "pad");
    int h2 = find_op(p, OP_CALLH, 1);
    assert_string_equal(u->hosts[CRYO_X_INDEX(p->code[h2 + 1])].name, "Fn");
    assert_int_equal(CRYO_OP(p->code[h2 - 1]), OP_LOADK);
    assert_int_equal(CRYO_OP(p->code[find_op(p, OP_RET, 0) - 1]), OP_LOADBOOL);
    cryo_unit_release(u);
}

static void test_assignment_chain(void **state) {
    (void)state;
    /* let a = #{}; a.b[1].c = 5; a.b[1].c += 2 */
    cryo_node *t1 = FIELD(INDEX(FIELD(VAR("a"), "b"), INT(1)), "c");
    cryo_node *t2 = FIELD(INDEX(FIELD(VAR("a"), "b"), INT(1)), "c");
    cryo_node *m =
        BLOCK(1, LET("a", node(N_MAP)), ASSIGN(0, t1, INT(5)), ASSIGN(BOP_ADD, t2, INT(2)), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    /* each write is one SETPATH through the chain, written in place (vm_path.c): the key 1
     * and the value evaluated first, then root a (R[0]), steps .b, [R[key]], .c */
    assert_string_equal(ops(p), "NEWMAP LOADI LOADI SETPATH LOADI LOADI SETPATH LOADUNIT RET");
    for (int w = 0; w < 2; w++) {
        int sp = find_op(p, OP_SETPATH, w);
        cryo_instr i = p->code[sp];
        assert_int_equal(CRYO_B(i), 3);
        assert_int_equal(CRYO_C(i), w == 0 ? 0 : OP_ADD);
        assert_int_equal(CRYO_PATH_ROOT_KIND(p->code[sp + 1]), CRYO_PATH_REG);
        assert_int_equal(CRYO_PATH_ROOT_INDEX(p->code[sp + 1]), 0);
        assert_false(CRYO_PATH_STEP_IS_INDEX(p->code[sp + 2]));
        assert_true(CRYO_PATH_STEP_IS_INDEX(p->code[sp + 3]));
        assert_false(CRYO_PATH_STEP_IS_INDEX(p->code[sp + 4]));
        assert_string_equal(cv_str(p->k[CRYO_PATH_STEP_KEY(p->code[sp + 4])])->data, "c");
    }
    cryo_unit_release(u);
}

static void test_assign_cell_this_and_upvalue(void **state) {
    (void)state;
    /* fn f() { this = 1; this += 2 }  let x = 0; let g = || x; x = 3; */
    FNS[0] = FNDEF("f", BLOCK(1, ASSIGN(0, THIS(), INT(1)), ASSIGN(BOP_ADD, THIS(), INT(2)), NULL),
                   NULL);
    cryo_node *m = BLOCK(1, LET("x", INT(0)), LET("g", CLOSURE(VAR("x"), NULL)),
                         ASSIGN(0, VAR("x"), INT(3)), NULL);
    cryo_unit *u = compile_ok(m, FNS, 1);
    assert_string_equal(ops(u->protos[1]), "LOADI SETTHIS THIS ADDI SETTHIS LOADUNIT RET");
    assert_string_equal(ops(u->protos[0]), "LOADI NEWCELL CLOSURE LOADI SETCELL LOADUNIT RET");
    cryo_unit_release(u);
}

static void test_logic_ops(void **state) {
    (void)state;
    /* let a = true; a && (1 < 2) */
    cryo_node *b = node(N_BOOL);
    b->ival = 1;
    cryo_node *m = BLOCK(0, LET("a", b), K2(N_AND, VAR("a"), BIN(BOP_LT, INT(1), INT(2))), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    assert_string_equal(ops(p), "LOADBOOL MOVE JMPF LOADI LOADI LT JMPT RET");
    int jf = find_op(p, OP_JMPF, 0), jt = find_op(p, OP_JMPT, 0);
    assert_int_equal(jf + 1 + CRYO_SBX(p->code[jf]), jt + 1);
    assert_int_equal(CRYO_SBX(p->code[jt]), 0); /* a type check of b only */
    cryo_unit_release(u);
}

static void test_switch(void **state) {
    (void)state;
    /* switch x { 1 | 2 => 10, 3..5 if x > 3 => 20, _ => 30 } */
    cryo_node *range = K2(N_RANGE, INT(3), INT(5));
    cryo_node *sw = SWITCH(VAR("x"), CASE(NULL, INT(10), INT(1), INT(2), NULL),
                           CASE(BIN(BOP_GT, VAR("x"), INT(3)), INT(20), range, NULL),
                           CASE(NULL, INT(30), NULL), NULL);
    cryo_node *m = BLOCK(0, LET("x", INT(4)), sw, NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    /* ranges only match ints (Rhai): the subject's type is tested once, up front */
    assert_string_equal(ops(p), "LOADI "
                                "MOVE CALLH LOADK EQ "
                                "LOADI EQ JMPT LOADI EQ JMPT JMP LOADI JMP "
                                "LOADI LOADI RANGE JMPF IN JMP EQ JMPT JMP LOADI GT JMPF LOADI JMP "
                                "LOADI JMP LOADUNIT RET");
    int h = find_op(p, OP_CALLH, 0);
    assert_string_equal(u->hosts[CRYO_X_INDEX(p->code[h + 1])].name, "type_of");
    int isint = (int)CRYO_A(p->code[find_op(p, OP_EQ, 0)]);
    int jf = find_op(p, OP_JMPF, 0);
    assert_int_equal(CRYO_A(p->code[jf]), isint);
    assert_int_equal(jf + 1 + CRYO_SBX(p->code[jf]), find_op(p, OP_EQ, 3)); /* to EQ */
    assert_int_equal(CRYO_OP(p->code[jf + 1]), OP_IN);
    /* every arm's value lands in R0 and every arm jumps to the end */
    int ret = find_op(p, OP_RET, 0);
    for (int i = 0; i < 3; i++) {
        int pc = find_op(p, OP_LOADI, 0);
        (void)pc;
    }
    int endj = find_op(p, OP_JMP, 1);
    assert_int_equal(endj + 1 + CRYO_SJ(p->code[endj]), ret);
    int in = find_op(p, OP_IN, 0);
    assert_int_equal(CRYO_B(p->code[in]), 0); /* subject: x's own register */
    cryo_unit_release(u);
}

static void test_loop_break_value(void **state) {
    (void)state;
    /* let v = loop { break 7; };  while true { continue; }  v */
    cryo_node *brk = node(N_BREAK);
    brk->a = INT(7);
    cryo_node *lp = node(N_LOOP);
    lp->b = BLOCK(1, brk, NULL);
    cryo_node *t = node(N_BOOL);
    t->ival = 1;
    cryo_node *wh = K2(N_WHILE, t, BLOCK(1, node(N_CONTINUE), NULL));
    cryo_node *m = BLOCK(0, LET("v", lp), wh, VAR("v"), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    assert_string_equal(ops(p), "LOADI JMP JMP LOADBOOL JMPF JMP JMP RET");
    assert_int_equal(CRYO_A(p->code[0]), 0); /* break value straight into v */
    assert_int_equal(CRYO_A(p->code[7]), 0);
    assert_int_equal(1 + 1 + CRYO_SJ(p->code[1]), 3); /* break: to after the loop */
    assert_int_equal(2 + 1 + CRYO_SJ(p->code[2]), 0); /* back edge */
    assert_int_equal(5 + 1 + CRYO_SJ(p->code[5]), 3); /* continue: to the condition */
    assert_int_equal(6 + 1 + CRYO_SJ(p->code[6]), 3);
    cryo_unit_release(u);
}

static void test_try_catch(void **state) {
    (void)state;
    /* loop { try { throw 1; break; } catch (e) { throw; } } */
    cryo_node *th = node(N_THROW);
    th->a = INT(1);
    cryo_node *tr = named(N_TRY, "e");
    tr->a = BLOCK(1, th, node(N_BREAK), NULL);
    tr->b = BLOCK(1, node(N_THROW), NULL);
    cryo_node *lp = node(N_LOOP);
    lp->b = BLOCK(1, tr, NULL);
    cryo_unit *u = compile_ok(BLOCK(0, lp, NULL), NULL, 0);
    const cryo_proto *p = u->protos[0];
    assert_string_equal(ops(p), "TRY LOADI THROW LOADUNIT ENDTRY JMP ENDTRY JMP THROW JMP RET");
    int t = find_op(p, OP_TRY, 0), rethrow = find_op(p, OP_THROW, 1);
    assert_int_equal(t + 1 + CRYO_SBX(p->code[t]), rethrow);
    assert_int_equal(CRYO_B(p->code[rethrow]), 1);
    assert_int_equal(CRYO_B(p->code[find_op(p, OP_THROW, 0)]), 0);
    cryo_unit_release(u);
}

static void test_interp_array_map_lines(void **state) {
    (void)state;
    cryo_node *interp = node(N_INTERP);
    interp->nlist = 2;
    interp->list = cl_arena_alloc(A, 2 * sizeof(cryo_node *));
    interp->list[0] = STR("n = ");
    interp->list[1] = VAR("n");
    cryo_node *arr = node(N_ARRAY);
    arr->nlist = 2;
    arr->list = cl_arena_alloc(A, 2 * sizeof(cryo_node *));
    arr->list[0] = INT(1);
    arr->list[1] = at(INT(100000), 7, 3);
    cryo_node *me = named(N_MAPENTRY, "k");
    me->a = INT(1);
    cryo_node *map = node(N_MAP);
    map->nlist = 1;
    map->list = cl_arena_alloc(A, sizeof(cryo_node *));
    map->list[0] = me;
    cryo_node *m = BLOCK(1, LET("n", INT(1)), interp, arr, map, NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    assert_string_equal(ops(p), "LOADI LOADK MOVE CONCAT NEWARRAY LOADI APPEND LOADK APPEND "
                                "NEWMAP LOADI SETFIELD RET");
    int c = find_op(p, OP_CONCAT, 0);
    assert_int_equal(CRYO_C(p->code[c]), 2);
    int big = find_op(p, OP_LOADK, 1);
    assert_int_equal(p->lines[big].line, 7);
    assert_int_equal(p->lines[big].column, 3);
    assert_int_equal(p->k[CRYO_BX(p->code[big])].as.i, 100000);
    cryo_unit_release(u);
}

static void test_globals(void **state) {
    (void)state;
    const char *names[] = {"g", "k"};
    bool isk[] = {false, true};
    cryo_compile_options o = {.globals = names, .nglobals = 2, .global_is_const = isk};
    cryo_error *err = NULL;
    cryo_unit *u =
        compile_opts(BLOCK(0, BIN(BOP_ADD, VAR("g"), VAR("k")), NULL), NULL, 0, &o, &err);
    assert_non_null(u);
    assert_int_equal(u->nglobals, 2);
    const cryo_proto *p = u->protos[0];
    assert_int_equal(CRYO_OP(p->code[0]), OP_ADD);
    assert_int_equal(CRYO_B(p->code[0]), 0);
    assert_int_equal(CRYO_C(p->code[0]), 1);
    cryo_unit_release(u);
    LINE = 4;
    u = compile_opts(BLOCK(1, ASSIGN(0, VAR("k"), INT(1)), NULL), NULL, 0, &o, &err);
    assert_null(u);
    assert_non_null(err);
    assert_string_equal(err->message, "cannot assign to constant 'k'");
    cryo_error_free(err);
}

static void test_error_duplicate_fn(void **state) {
    (void)state;
    FNS[0] = FNDEF("f", INT(1), PARAM("a"), NULL);
    FNS[1] = at(FNDEF("f", INT(2), PARAM("b"), NULL), 3, 5);
    FNS[2] = FNDEF("f", INT(3), NULL); /* other arity: fine */
    cryo_error *err = NULL;
    cryo_unit *u = compile_opts(BLOCK(0, NULL), FNS, 3, NULL, &err);
    assert_null(u);
    assert_non_null(err);
    assert_int_equal(err->kind, CRYO_ERR_COMPILE);
    assert_int_equal(err->line, 3);
    assert_int_equal(err->column, 5);
    assert_non_null(strstr(err->message, "'f'"));
    assert_null(err->next);
    cryo_error_free(err);
}

static void test_error_assign_const(void **state) {
    (void)state;
    cryo_node *as = at(ASSIGN(0, VAR("c"), INT(2)), 2, 9);
    cryo_node *as2 = at(ASSIGN(0, INDEX(VAR("c"), INT(0)), INT(2)), 3, 1);
    cryo_node *as3 = at(ASSIGN(0, VAR("c"), INT(2)), 4, 2); /* inside a closure */
    cryo_node *m = BLOCK(1, CONST("c", INT(1)), as, as2, CLOSURE(as3, NULL), NULL);
    cryo_error *err = NULL;
    cryo_unit *u = compile_opts(m, NULL, 0, NULL, &err);
    assert_null(u);
    assert_non_null(err);
    assert_string_equal(err->message, "cannot assign to constant 'c'");
    assert_int_equal(err->line, 2);
    assert_int_equal(err->column, 9);
    assert_non_null(err->next);
    assert_int_equal(err->next->line, 3);
    assert_non_null(err->next->next);
    assert_int_equal(err->next->next->line, 4);
    cryo_error_free(err);
}

static void test_error_too_many_registers(void **state) {
    (void)state;
    /* 300 lets in one block */
    cryo_node *m = node(N_BLOCK);
    m->nlist = 300;
    m->list = cl_arena_alloc(A, 300 * sizeof(cryo_node *));
    static char names[300][8];
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof names[i], "v%d", i);
        m->list[i] = at(LET(names[i], INT(i)), i + 1, 1);
    }
    cryo_error *err = NULL;
    cryo_unit *u = compile_opts(m, NULL, 0, NULL, &err);
    assert_null(u);
    assert_non_null(err);
    assert_non_null(strstr(err->message, "expression too complex"));
    assert_int_equal(err->line, 251); /* the 251st let is one too many */
    assert_null(err->next);
    cryo_error_free(err);
}

static void test_error_this_and_break_outside(void **state) {
    (void)state;
    cryo_error *err = NULL;
    cryo_unit *u = compile_opts(BLOCK(0, at(THIS(), 1, 4), at(node(N_BREAK), 2, 1), NULL), NULL, 0,
                                NULL, &err);
    assert_null(u);
    assert_non_null(err);
    assert_int_equal(err->column, 4);
    assert_non_null(err->next);
    assert_int_equal(err->next->line, 2);
    cryo_error_free(err);
    /* `this` inside a closure is fine */
    u = compile_ok(BLOCK(0, CLOSURE(THIS(), NULL), NULL), NULL, 0);
    assert_true(u->protos[1]->uses_this);
    cryo_unit_release(u);
}

static void test_while_break_value_and_pure_methods(void **state) {
    (void)state;
    /* let a = [[1]]; let v = while true { break 5; }; a[0].len(); a[0].push(2);
     * let f = || a.len(); let g = || a.push(3); v */
    cryo_node *brk = node(N_BREAK);
    brk->a = INT(5);
    cryo_node *t = node(N_BOOL);
    t->ival = 1;
    cryo_node *wh = K2(N_WHILE, t, BLOCK(1, brk, NULL));
    cryo_node *inner = node(N_ARRAY);
    cryo_node *outer = node(N_ARRAY);
    outer->nlist = 1;
    outer->list = cl_arena_alloc(A, sizeof(cryo_node *));
    outer->list[0] = inner;
    cryo_node *m =
        BLOCK(0, LET("a", outer), LET("v", wh), METHOD(INDEX(VAR("a"), INT(0)), "len", NULL),
              METHOD(INDEX(VAR("a"), INT(0)), "push", INT(2), NULL),
              LET("f", CLOSURE(METHOD(VAR("a"), "len", NULL), NULL)),
              LET("g", CLOSURE(METHOD(VAR("a"), "push", INT(3), NULL), NULL)), VAR("v"), NULL);
    cryo_unit *u = compile_ok(m, NULL, 0);
    const cryo_proto *p = u->protos[0];
    /* v = () first; `break 5` writes v's register directly */
    int lu = find_op(p, OP_LOADUNIT, 0);
    assert_int_equal(CRYO_A(p->code[lu]), 1);
    int l5 = find_op(p, OP_LOADI, 0);
    assert_int_equal(CRYO_SBX(p->code[l5]), 5);
    assert_int_equal(CRYO_A(p->code[l5]), 1);
    /* len() changes nothing: no write-back; push() runs on a[0] in place, pinned around it */
    assert_int_equal(count_op(p, OP_SETINDEX), 0);
    assert_int_equal(count_op(p, OP_SETPATH), 2);
    assert_true(find_op(p, OP_SETPATH, 0) < find_op(p, OP_CALLH, 1));
    assert_true(find_op(p, OP_SETPATH, 1) > find_op(p, OP_CALLH, 1));
    /* a closure calling a mutating method on a capture assigns it (into_sync must refuse) */
    assert_int_equal(u->protos[1]->caps[0].assigned, 0);
    assert_int_equal(u->protos[2]->caps[0].assigned, 1);
    assert_string_equal(ops(u->protos[2]), "GETUPV LOADI CALLH MOVE SETUPV RET");
    cryo_unit_release(u);
}

static void test_compile_time_queries_and_open_range(void **state) {
    (void)state;
    /* fn f(a) {}  let x = 1; [is_def_var("x"), is_def_var("y"), is_def_fn("f", 1), x[..2]] */
    FNS[0] = FNDEF("f", UNIT_NODE(), PARAM("a"), NULL);
    cryo_node *r = node(N_RANGE);
    r->b = INT(2);
    cryo_node *arr = node(N_ARRAY);
    arr->nlist = 4;
    arr->list = cl_arena_alloc(A, 4 * sizeof(cryo_node *));
    arr->list[0] = CALL("is_def_var", STR("x"), NULL);
    arr->list[1] = CALL("is_def_var", STR("y"), NULL);
    arr->list[2] = CALL("is_def_fn", STR("f"), INT(1), NULL);
    arr->list[3] = INDEX(VAR("x"), r);
    /* inside a closure the question captures nothing */
    cryo_node *cl = CLOSURE(CALL("is_def_var", STR("x"), NULL), NULL);
    cryo_unit *u = compile_ok(BLOCK(0, LET("x", INT(1)), cl, arr, NULL), FNS, 1);
    const cryo_proto *p = u->protos[0];
    assert_int_equal(count_op(p, OP_CALLH), 0);
    assert_int_equal(count_op(p, OP_NEWCELL), 0);
    assert_int_equal(u->protos[2]->ncaps, 0);
    assert_string_equal(ops(u->protos[2]), "LOADBOOL RET");
    assert_int_equal(CRYO_B(p->code[find_op(p, OP_LOADBOOL, 0)]), 1);
    assert_int_equal(CRYO_B(p->code[find_op(p, OP_LOADBOOL, 1)]), 0);
    assert_int_equal(CRYO_B(p->code[find_op(p, OP_LOADBOOL, 2)]), 1);
    int rg = find_op(p, OP_RANGE, 0);
    assert_int_equal(CRYO_SBX(p->code[rg - 2]), 0); /* open start: 0 */
    assert_int_equal(CRYO_SBX(p->code[rg - 1]), 2);
    cryo_unit_release(u);
}

static void test_error_nested_too_deeply(void **state) {
    (void)state;
    /* x + x + ... (left-leaning chains are not bounded by the parser's depth limit) */
    cryo_node *e = VAR("x");
    for (int i = 0; i < 5000; i++)
        e = BIN(BOP_ADD, e, VAR("x"));
    at(e->a->a->a, 9, 9);
    cryo_error *err = NULL;
    cryo_unit *u = compile_opts(BLOCK(0, LET("x", INT(1)), e, NULL), NULL, 0, NULL, &err);
    assert_null(u);
    assert_non_null(err);
    assert_string_equal(err->message, "expression nested too deeply");
    assert_null(err->next);
    cryo_error_free(err);
    /* a long but acceptable chain needs no more registers than a short one */
    e = VAR("x");
    for (int i = 0; i < 300; i++)
        e = BIN(BOP_ADD, e, INT(1000));
    u = compile_ok(BLOCK(0, LET("x", INT(1)), e, NULL), NULL, 0);
    assert_true(u->protos[0]->nregs <= 3);
    cryo_unit_release(u);
}

static void test_dump(void **state) {
    (void)state;
    FNS[0] = FNDEF("f", VAR("a"), PARAM("a"), NULL);
    cryo_unit *u = compile_ok(BLOCK(0, LET("q", INT(3)), CLOSURE(VAR("q"), NULL),
                                    CALL("f", STR("s"), NULL), CALL("g", NULL), NULL),
                              FNS, 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cryo_unit_dump(u, f);
    fclose(f);
    assert_non_null(strstr(buf, "proto 0: main"));
    assert_non_null(strstr(buf, "proto 1: f (params 1"));
    assert_non_null(strstr(buf, "anon$0 [closure]"));
    assert_non_null(strstr(buf, "cap 0: q from local 0"));
    assert_non_null(strstr(buf, "; fn f"));
    assert_non_null(strstr(buf, "; host g/0"));
    free(buf);
    assert_int_equal(cl_unit_find_fn(u, "f", 1, 1), 0);
    assert_int_equal(cl_unit_find_fn(u, "f", 1, 2), -1);
    assert_int_equal(cl_unit_find_fn(u, "fx", 1, 1), 0); /* length-bounded name */
    assert_ptr_equal(cryo_unit_retain(u), u);
    cryo_unit_release(u);
    cryo_unit_release(u);
}

/* The compiler behind cryo_compile, with the library's own parser, strings and text forms (no
 * stand-ins): the same program from source and as a hand-built tree compiles to the same
 * instructions; a string constant is a real string the API reads and the dump prints; a syntax
 * error comes from the parser with its position. */
static void test_source_matches_tree(void **state) {
    (void)state;
    const char *src = "fn f(a, b) { a }\nlet x = 5; f(x, 2); f(\"s\", 1)";
    cryo_error *err = NULL;
    cryo_unit *from_src = cryo_compile(src, strlen(src), NULL, &err);
    assert_non_null(from_src);
    assert_null(err);
    FNS[0] = FNDEF("f", VAR("a"), PARAM("a"), PARAM("b"), NULL);
    cryo_node *m = BLOCK(0, LET("x", INT(5)), CALL("f", VAR("x"), INT(2), NULL),
                         CALL("f", STR("s"), INT(1), NULL), NULL);
    cryo_unit *from_tree = compile_ok(m, FNS, 1);
    char want[4096];
    snprintf(want, sizeof want, "%s", ops(from_src->protos[0]));
    assert_string_equal(ops(from_tree->protos[0]), want);
    assert_string_equal(want, "LOADI MOVE LOADI CALL LOADK LOADI CALL RET");
    snprintf(want, sizeof want, "%s", ops(from_src->protos[1]));
    assert_string_equal(ops(from_tree->protos[1]), want);

    const cryo_proto *p = from_tree->protos[0];
    int k = find_op(p, OP_LOADK, 0);
    assert_true(k >= 0);
    size_t len = 0;
    const char *text = cryo_value_str(p->k[CRYO_BX(p->code[k])], &len);
    assert_non_null(text);
    assert_int_equal(len, 1);
    assert_string_equal(text, "s");

    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    cryo_unit_dump(from_tree, f);
    fclose(f);
    assert_non_null(strstr(buf, "K[0] = \"s\""));
    assert_non_null(strstr(buf, "; \"s\""));
    free(buf);
    cryo_unit_release(from_tree);
    cryo_unit_release(from_src);

    assert_null(cryo_compile("let = 1", 7, NULL, &err));
    assert_non_null(err);
    assert_int_equal(err->kind, CRYO_ERR_PARSE);
    assert_int_equal(err->line, 1);
    assert_int_equal(err->column, 5);
    assert_string_equal(err->message, "expected a variable name but found '='");
    cryo_error_free(err);
}

/* cl_unit_find_fn by hash: every one of 2,000 fns (two arities each for some) is found, names
 * are compared by length (a prefix or an extension is not a match), and a name holding a NUL
 * matches nothing (the old scan read past the stored name's end: ASan saw it). */
static void test_find_fn_many_and_nul(void **state) {
    (void)state;
    enum { N = 2000 };
    size_t cap = (size_t)N * 48, used = 0;
    char *src = malloc(cap);
    assert_non_null(src);
    for (int i = 0; i < N; i++)
        used += (size_t)snprintf(src + used, cap - used, "fn f%d(a) { a + %d }\n", i, i);
    used += (size_t)snprintf(src + used, cap - used, "fn f7(a, b) { a }\nfn f(a) { a }\n0");
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, used, NULL, &err);
    free(src);
    assert_null(err);
    assert_non_null(u);
    char name[16];
    for (int i = 0; i < N; i++) {
        int len = snprintf(name, sizeof name, "f%d", i);
        int fi = cl_unit_find_fn(u, name, (size_t)len, 1);
        assert_true(fi >= 0);
        assert_string_equal(u->fns[fi].name, name);
        assert_int_equal(u->fns[fi].arity, 1);
        assert_int_equal(cl_unit_find_fn(u, name, (size_t)len, 3), -1);
    }
    int f7 = cl_unit_find_fn(u, "f7", 2, 2);
    assert_true(f7 >= 0);
    assert_int_equal(u->fns[f7].arity, 2);
    assert_int_not_equal(f7, cl_unit_find_fn(u, "f7", 2, 1));
    assert_int_equal(cl_unit_find_fn(u, "f20000", 6, 1), -1);
    assert_int_not_equal(cl_unit_find_fn(u, "f", 1, 1), cl_unit_find_fn(u, "f1", 2, 1));
    /* Embedded NULs: "f\0x", "f1\0", "f\0" name no fn although "f" and "f1" exist. */
    assert_int_equal(cl_unit_find_fn(u, "f\0x", 3, 1), -1);
    assert_int_equal(cl_unit_find_fn(u, "f1\0", 3, 1), -1);
    assert_int_equal(cl_unit_find_fn(u, "f\0", 2, 1), -1);
    assert_int_equal(cl_unit_find_fn(u, "", 0, 1), -1);
    cryo_unit_release(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_args_consecutive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_call_and_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fib_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capture_cell_and_capdesc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_closure_captures_through_parent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_captured_param_and_for_var, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fn_is_pure_errvar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receiver_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_on_variable_and_dot_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_first_arg_by_ref_and_fn_ptr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assignment_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assign_cell_this_and_upvalue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logic_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_break_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_try_catch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_array_map_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_duplicate_fn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_assign_const, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_too_many_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_this_and_break_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_while_break_value_and_pure_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_time_queries_and_open_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_nested_too_deeply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_matches_tree, setup, teardown),
        cmocka_unit_test(test_find_fn_many_and_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
