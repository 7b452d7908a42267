/*
 * compile_expr.c — expressions: literals, names, operators, containers, calls and
 * assignments (including index/property chains, which are read level by level into temps and
 * written back outward so that value semantics hold: `a.b[i].c = v`, `a[0].push(1)`).
 */
#include "compile.h"

#include <stdlib.h>
#include <string.h>

static int top_or_alloc(cc *c, int dst, const cryo_node *n) {
    if (dst != NO_REG && dst == c->fs->freereg - 1) return dst;
    return cc_alloc(c, n);
}

static void move_to(cc *c, int dst, int src, const cryo_node *n) {
    if (dst != NO_REG && dst != src) cc_emit(c, CRYO_ABC(OP_MOVE, dst, src, 0), n);
}

static bool name_is(const cryo_node *n, const char *s) {
    size_t l = strlen(s);
    return n->len == l && memcmp(n->name, s, l) == 0;
}

static bool this_allowed(cc *c, const cryo_node *n) {
    if (c->fs->is_main) {
        cc_error(c, n, "'this' can only be used in functions");
        return false;
    }
    c->fs->p->uses_this = 1;
    return true;
}

static void emit_errvar(cc *c, const cryo_node *n) {
    int k = cc_const_str(c, n->name, n->len);
    cc_emit(c, CRYO_ABX(OP_ERRVAR, 0, k), n);
}

/* True when `n` may change a plain local while it is evaluated (so an operand read earlier
 * straight from that local's register would see the new value). */
static bool has_effects(const cryo_node *n, int depth) {
    if (!n) return false;
    if (depth > CC_MAX_DEPTH) return true;
    switch (n->kind) {
    case N_ASSIGN:
    case N_METHOD: return true;
    case N_UNIT:
    case N_BOOL:
    case N_INT:
    case N_FLOAT:
    case N_CHAR:
    case N_STRING:
    case N_VAR:
    case N_THIS:
    case N_CLOSURE: return false;
    default: break;
    }
    if (has_effects(n->a, depth + 1) || has_effects(n->b, depth + 1) ||
        has_effects(n->c, depth + 1))
        return true;
    for (int i = 0; i < n->nlist; i++)
        if (has_effects(n->list[i], depth + 1)) return true;
    return false;
}

bool cc_dest_safe(const cryo_node *n) {
    switch (n->kind) {
    case N_UNIT:
    case N_BOOL:
    case N_INT:
    case N_FLOAT:
    case N_CHAR:
    case N_STRING:
    case N_VAR:
    case N_THIS:
    case N_UNARY:
    case N_BINARY:
    case N_INDEX:
    case N_FIELD:
    case N_RANGE:
    case N_CLOSURE: return true;
    default: return false;
    }
}

int cc_expr_any(cc *c, const cryo_node *n) {
    if (n->kind == N_VAR) {
        cc_var v = cc_resolve_at(c, n->name, n->len, n);
        if (v.kind == VK_LOCAL) return v.index;
    }
    int t = cc_alloc(c, n);
    cc_expr(c, n, t);
    return t;
}

/* --- Elvis chains (`?.`, `?[`) ---------------------------------------------------------------- */

static bool elvis_step(const cryo_node *n) {
    return (n->op & CRYO_ELVIS_STEP) &&
           (n->kind == N_FIELD || n->kind == N_INDEX || n->kind == N_METHOD);
}

static bool elvis_end(const cryo_node *n) {
    return (n->op & CRYO_ELVIS_END) &&
           (n->kind == N_FIELD || n->kind == N_INDEX || n->kind == N_METHOD);
}

/* A `?.` step: when R[reg] is (), jump to the end of the chain (patched by elvis_close). */
static void elvis_test(cc *c, int reg, const cryo_node *n) {
    cc_elvis *e = c->elvis;
    if (!e) {
        cc_error(c, n, "internal error: '?.' outside its chain");
        return;
    }
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 4;
        int *nj = realloc(e->jumps, (size_t)cap * sizeof *nj);
        if (!nj) {
            c->oom = true;
            return;
        }
        e->jumps = nj;
        e->cap = cap;
    }
    e->jumps[e->n++] = cc_emit_jump(c, OP_JMPU, reg, n);
}

static void elvis_open(cc *c, cc_elvis *e) {
    *e = (cc_elvis){c->elvis, NULL, 0, 0};
    c->elvis = e;
}

/* Ends a chain: a skipped chain lands on `dst = ()`, which the normal path jumps over. */
static void elvis_close(cc *c, cc_elvis *e, int dst, const cryo_node *n) {
    c->elvis = e->prev;
    if (e->n > 0) {
        int over = dst != NO_REG ? cc_emit_jump(c, OP_JMP, 0, n) : -1;
        for (int i = 0; i < e->n; i++)
            cc_patch(c, e->jumps[i], cc_pc(c));
        if (dst != NO_REG) {
            cc_emit(c, CRYO_ABC(OP_LOADUNIT, dst, 0, 0), n);
            cc_patch(c, over, cc_pc(c));
        }
    }
    free(e->jumps);
}

/* --- literals and names ----------------------------------------------------------------------- */

static void load_int(cc *c, int dst, int64_t v, const cryo_node *n) {
    if (v >= -CRYO_SBX_BIAS && v <= 0xFFFF - CRYO_SBX_BIAS)
        cc_emit(c, CRYO_ASBX(OP_LOADI, dst, (int)v), n);
    else
        cc_emit(c, CRYO_ABX(OP_LOADK, dst, cc_const_int(c, v)), n);
}

static void compile_literal(cc *c, const cryo_node *n, int dst) {
    if (dst == NO_REG) return;
    switch (n->kind) {
    case N_UNIT: cc_emit(c, CRYO_ABC(OP_LOADUNIT, dst, 0, 0), n); break;
    case N_BOOL: cc_emit(c, CRYO_ABC(OP_LOADBOOL, dst, n->ival != 0, 0), n); break;
    case N_INT: load_int(c, dst, n->ival, n); break;
    case N_FLOAT: cc_emit(c, CRYO_ABX(OP_LOADK, dst, cc_const_float(c, n->fval)), n); break;
    case N_CHAR: cc_emit(c, CRYO_ABX(OP_LOADK, dst, cc_const_char(c, (uint32_t)n->ival)), n); break;
    default: cc_emit(c, CRYO_ABX(OP_LOADK, dst, cc_const_str(c, n->name, n->len)), n); break;
    }
}

static bool fn_name_exists(cc *c, const char *name, size_t len) {
    return cc_fn_index(c, name, len, CC_ANY_ARITY) >= 0;
}

/* A script fn's bare name used as a value is a function pointer, as Fn("name"). */
static void load_fn_ptr(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int a = dst == NO_REG || dst != c->fs->freereg - 1 ? cc_alloc(c, n) : dst;
    cc_emit(c, CRYO_ABX(OP_LOADK, a, cc_const_str(c, n->name, n->len)), n);
    cc_emit(c, CRYO_ABC(OP_CALLH, a, 1, 0), n);
    cc_emit(c, CRYO_EXTRA(cc_host_slot(c, "Fn", 2, 1), 0, CRYO_RECV_NONE), n);
    move_to(c, dst, a, n);
    cc_free_to(c, mark);
}

/* A top-level constant or import alias seen from a fn: `$env(name)` reads it from the
 * environment the unit's top level recorded in this VM (vm/module.c). */
static void load_env(cc *c, const cryo_node *n, int dst) {
    if (dst == NO_REG) return;
    int mark = c->fs->freereg;
    int a = dst != c->fs->freereg - 1 ? cc_alloc(c, n) : dst;
    cc_emit(c, CRYO_ABX(OP_LOADK, a, cc_const_str(c, n->name, n->len)), n);
    cc_emit(c, CRYO_ABC(OP_CALLH, a, 1, 0), n);
    cc_emit(c, CRYO_EXTRA(cc_host_slot(c, "$env", 4, 1), 0, CRYO_RECV_NONE), n);
    move_to(c, dst, a, n);
    cc_free_to(c, mark);
}

static void compile_var(cc *c, const cryo_node *n, int dst) {
    cc_var v = cc_resolve_at(c, n->name, n->len, n);
    switch (v.kind) {
    case VK_ENV: load_env(c, n, dst); break;
    case VK_NONE:
        if (fn_name_exists(c, n->name, n->len))
            load_fn_ptr(c, n, dst);
        else
            emit_errvar(c, n);
        break;
    case VK_LOCAL: move_to(c, dst, v.index, n); break;
    case VK_CELL:
        if (dst != NO_REG) cc_emit(c, CRYO_ABC(OP_GETCELL, dst, v.index, 0), n);
        break;
    case VK_UPV:
        if (dst != NO_REG) cc_emit(c, CRYO_ABC(OP_GETUPV, dst, v.index, 0), n);
        break;
    }
}

/* --- operators ----------------------------------------------------------------------------------
 */

static const uint8_t binop_opcode[] = {
    [BOP_ADD] = OP_ADD,   [BOP_SUB] = OP_SUB, [BOP_MUL] = OP_MUL,   [BOP_DIV] = OP_DIV,
    [BOP_MOD] = OP_MOD,   [BOP_POW] = OP_POW, [BOP_SHL] = OP_SHL,   [BOP_SHR] = OP_SHR,
    [BOP_BAND] = OP_BAND, [BOP_BOR] = OP_BOR, [BOP_BXOR] = OP_BXOR, [BOP_EQ] = OP_EQ,
    [BOP_NE] = OP_NE,     [BOP_LT] = OP_LT,   [BOP_LE] = OP_LE,     [BOP_GT] = OP_GT,
    [BOP_GE] = OP_GE,     [BOP_IN] = OP_IN,   [BOP_NOTIN] = OP_IN,
};

/* True when `r` lies above every live local: a scratch register nobody else reads. */
static bool is_temp(cc *c, int r) {
    const cc_fn *fs = c->fs;
    for (int i = 0; i < fs->nlocals; i++)
        if (fs->locals[i].reg >= r) return false;
    return true;
}

/* dst = ra op rb, both operands in registers. */
static void emit_binop_regs(cc *c, int op, int dst, int ra, int rb, const cryo_node *n) {
    cc_emit(c, CRYO_ABC(binop_opcode[op], dst, ra, rb), n);
    if (op == BOP_NOTIN) cc_emit(c, CRYO_ABC(OP_NOT, dst, dst, 0), n);
}

/* dst = ra op b: b is compiled here so that `x + 1` becomes one ADDI. */
static void emit_binop(cc *c, int op, int dst, int ra, const cryo_node *b, const cryo_node *n) {
    if (op == BOP_ADD && b->kind == N_INT && b->ival >= -128 && b->ival <= 127) {
        cc_emit(c, CRYO_ABC(OP_ADDI, dst, ra, (int)b->ival + 128), n);
        return;
    }
    /* `n - 1`: its own opcode, not ADDI -1, which would turn `"a" - 1` into "a-1" */
    if (op == BOP_SUB && b->kind == N_INT && b->ival >= -128 && b->ival <= 127) {
        cc_emit(c, CRYO_ABC(OP_SUBI, dst, ra, (int)b->ival + 128), n);
        return;
    }
    if (op <= BOP_NONE || op > BOP_NOTIN) {
        cc_error(c, n, "internal error: bad operator %d", op);
        return;
    }
    int mark = c->fs->freereg;
    int rb;
    if (dst != ra && b->kind != N_VAR && is_temp(c, dst)) {
        cc_expr(c, b, dst); /* `n - 1`: the constant in the result register, one register less */
        rb = dst;
    } else {
        rb = cc_expr_any(c, b);
    }
    emit_binop_regs(c, op, dst, ra, rb, n);
    cc_free_to(c, mark);
}

/* Evaluates an operand, into `d` itself when that is a scratch register (so chains such as
 * a.b.c or a[0][1] reuse one register), else as cc_expr_any. */
static int operand_into(cc *c, const cryo_node *a, int d, int dst) {
    if (dst != NO_REG && a->kind != N_VAR && is_temp(c, d)) {
        cc_expr(c, a, d);
        return d;
    }
    return cc_expr_any(c, a);
}

static void compile_binary(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    int ra;
    if (n->a->kind == N_VAR && has_effects(n->b, 0)) {
        ra = cc_alloc(c, n->a);
        cc_expr(c, n->a, ra);
    } else {
        ra = operand_into(c, n->a, d, dst); /* `a + b + c + ...` in one register */
    }
    emit_binop(c, n->op, d, ra, n->b, n);
    cc_free_to(c, mark);
}

static void compile_unary(cc *c, const cryo_node *n, int dst) {
    if (n->op == '-' && n->a->kind == N_INT && n->a->ival != INT64_MIN) {
        if (dst != NO_REG) load_int(c, dst, -n->a->ival, n);
        return;
    }
    if (n->op == '-' && n->a->kind == N_FLOAT) {
        if (dst != NO_REG) cc_emit(c, CRYO_ABX(OP_LOADK, dst, cc_const_float(c, -n->a->fval)), n);
        return;
    }
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    int r = operand_into(c, n->a, d, dst);
    if (n->op == '-')
        cc_emit(c, CRYO_ABC(OP_NEG, d, r, 0), n);
    else if (n->op == '!')
        cc_emit(c, CRYO_ABC(OP_NOT, d, r, 0), n);
    else
        move_to(c, d, r, n); /* unary plus */
    cc_free_to(c, mark);
}

/* a && b / a || b: the result is a's value when it decides, else b's, which must be a bool. */
static void compile_logic(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    bool is_and = n->kind == N_AND;
    cc_expr(c, n->a, d);
    int j = cc_emit_jump(c, is_and ? OP_JMPF : OP_JMPT, d, n);
    cc_expr(c, n->b, d);
    cc_emit_jump(c, is_and ? OP_JMPT : OP_JMPF, d, n->b); /* offset 0: a type check only */
    cc_patch(c, j, cc_pc(c));
    cc_free_to(c, mark);
}

/* An open range bound: `..b` starts at 0, `a..` runs to the largest int. */
static int range_bound(cc *c, const cryo_node *b, int64_t dflt, const cryo_node *n) {
    if (b) return cc_expr_any(c, b);
    int r = cc_alloc(c, n);
    load_int(c, r, dflt, n);
    return r;
}

static void compile_pair(cc *c, const cryo_node *n, int dst, int op) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    int ra = n->a ? operand_into(c, n->a, d, dst) : range_bound(c, NULL, 0, n);
    int rb = range_bound(c, n->b, INT64_MAX, n);
    cc_emit(c, CRYO_ABC(op, d, ra, rb), n);
    cc_free_to(c, mark);
}

/* `a[3]`: a small constant index is an operand (GETINDEXI), not a register loaded first. */
static void compile_index(cc *c, const cryo_node *n, int dst) {
    bool small = n->b->kind == N_INT && n->b->ival >= 0 && n->b->ival <= 255;
    if (!small && !elvis_step(n)) {
        compile_pair(c, n, dst, OP_GETINDEX);
        return;
    }
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    int ra = operand_into(c, n->a, d, dst);
    if (elvis_step(n)) elvis_test(c, ra, n);
    if (small)
        cc_emit(c, CRYO_ABC(OP_GETINDEXI, d, ra, (int)n->b->ival), n);
    else
        cc_emit(c, CRYO_ABC(OP_GETINDEX, d, ra, cc_expr_any(c, n->b)), n);
    cc_free_to(c, mark);
}

/* R[d] = R[obj].name, through GETFIELD when the name's constant fits C, else GETFIELDX. */
static void emit_getfield(cc *c, int d, int obj, const cryo_node *n) {
    int k = cc_const_str(c, n->name, n->len);
    if (k <= 255) {
        cc_emit(c, CRYO_ABC(OP_GETFIELD, d, obj, k), n);
        return;
    }
    cc_emit(c, CRYO_ABC(OP_GETFIELDX, d, obj, 0), n);
    cc_emit(c, CRYO_EXTRA(k, 0, CRYO_RECV_NONE), n);
}

static void emit_setfield(cc *c, int obj, const char *name, size_t len, int v, const cryo_node *n) {
    int k = cc_const_str(c, name, len);
    if (k <= 255) {
        cc_emit(c, CRYO_ABC(OP_SETFIELD, obj, k, v), n);
        return;
    }
    cc_emit(c, CRYO_ABC(OP_SETFIELDX, obj, v, 0), n);
    cc_emit(c, CRYO_EXTRA(k, 0, CRYO_RECV_NONE), n);
}

static void compile_field(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    int obj = operand_into(c, n->a, d, dst);
    if (elvis_step(n)) elvis_test(c, obj, n);
    emit_getfield(c, d, obj, n);
    cc_free_to(c, mark);
}

/* --- containers ----------------------------------------------------------------------------- */

static void compile_array(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    cc_emit(c, CRYO_ABC(OP_NEWARRAY, d, n->nlist > 255 ? 255 : n->nlist, 0), n);
    for (int i = 0; i < n->nlist; i++) {
        int m = c->fs->freereg;
        int r = cc_expr_any(c, n->list[i]);
        cc_emit(c, CRYO_ABC(OP_APPEND, d, r, 0), n->list[i]);
        cc_free_to(c, m);
    }
    cc_free_to(c, mark);
}

static void compile_map(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    cc_emit(c, CRYO_ABC(OP_NEWMAP, d, n->nlist > 255 ? 255 : n->nlist, 0), n);
    for (int i = 0; i < n->nlist; i++) {
        const cryo_node *e = n->list[i];
        int m = c->fs->freereg;
        int r = cc_expr_any(c, e->a);
        emit_setfield(c, d, e->name, e->len, r, e);
        cc_free_to(c, m);
    }
    cc_free_to(c, mark);
}

static void compile_interp(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    if (n->nlist == 0) {
        cc_emit(c, CRYO_ABX(OP_LOADK, d, cc_const_str(c, "", 0)), n);
        cc_free_to(c, mark);
        return;
    }
    int np = n->nlist > 255 ? 255 : n->nlist;
    if (np < n->nlist) cc_error(c, n, "too many parts in an interpolated string");
    int base = cc_alloc_n(c, np, n);
    for (int i = 0; i < np; i++)
        cc_expr(c, n->list[i], base + i);
    cc_emit(c, CRYO_ABC(OP_CONCAT, d, base, np), n);
    cc_free_to(c, mark);
}

/* --- calls ---------------------------------------------------------------------------------- */

typedef struct recv_info {
    int reg;
    int mode;
} recv_info;

/* Places args in R[first..]; returns false when there are too many. */
static bool place_args(cc *c, const cryo_node *n, int skip, int first) {
    if (n->nlist > 255) {
        cc_error(c, n, "too many arguments");
        return false;
    }
    for (int i = skip; i < n->nlist; i++) {
        const cryo_node *x = n->list[i];
        int r = first + i - skip;
        if (r >= c->fs->freereg) r = cc_alloc(c, x);
        cc_expr(c, x, r);
        if (x->kind == N_VAR && cc_is_last_use(c, x)) {
            /* nothing reads the local after this call: leave the callee the only reference,
             * so writing the argument does not copy it */
            cc_var v = cc_resolve_at(c, x->name, x->len, x);
            if (v.kind == VK_LOCAL && !v.is_const && v.index != r)
                cc_emit(c, CRYO_ABC(OP_LOADUNIT, v.index, 0, 0), x);
        }
    }
    return true;
}

static void emit_with_extra(cc *c, cryo_opcode op, int a, int b, int index, int recv, int mode,
                            const cryo_node *n) {
    cc_emit(c, CRYO_ABC(op, a, b, 0), n);
    cc_emit(c, CRYO_EXTRA(index, recv, mode), n);
}

/* `is_shared(x)` / `x.is_shared()`: whether x lives in a cell is known here. */
static bool compile_is_shared(cc *c, const cryo_node *var, int dst) {
    if (var->kind != N_VAR) return false;
    cc_var v = cc_resolve_at(c, var->name, var->len, var);
    if (v.kind == VK_NONE) return false;
    if (dst != NO_REG)
        cc_emit(c, CRYO_ABC(OP_LOADBOOL, dst, v.kind == VK_CELL || v.kind == VK_UPV, 0), var);
    return true;
}

static void emit_method(cc *c, const cryo_node *n, recv_info r, int dst, int skip);

/* take() empties what it is called on: refused on a constant (or a part of one), as an
 * assignment is, unless the script defines its own `take`. */
static void check_take(cc *c, const cryo_node *call, const cryo_node *var, bool is_const) {
    int arity = call->kind == N_CALL ? 1 : 0;
    if (is_const && call->nlist == arity && name_is(call, "take") &&
        cc_find_fn(c, "take", 4, (uint32_t)arity) < 0)
        cc_error(c, call, "cannot take from constant '%.*s'", (int)var->len, var->name);
}

/* Host functions get a variable first argument by reference, as Rhai passes it: `pad(y, 5, 0)`
 * changes y. Same layout as a method call on that variable. */
static bool call_first_by_ref(cc *c, const cryo_node *n, int dst) {
    if (n->nlist < 1) return false;
    const cryo_node *x = n->list[0];
    if (x->kind == N_THIS) { /* `take(this)` moves out of the caller's receiver */
        if (this_allowed(c, x)) emit_method(c, n, (recv_info){0, CRYO_RECV_THIS}, dst, 1);
        return true;
    }
    if (x->kind != N_VAR) return false;
    cc_var v = cc_resolve_at(c, x->name, x->len, x);
    if (v.kind != VK_LOCAL && v.kind != VK_CELL) return false;
    check_take(c, n, x, v.is_const);
    recv_info r = {v.index, v.kind == VK_CELL ? CRYO_RECV_CELL : CRYO_RECV_REG};
    emit_method(c, n, r, dst, 1);
    return true;
}

/* is_def_var("x") / is_def_fn("f", 2) with literal arguments: scopes and fns are known here. */
static bool compile_is_def(cc *c, const cryo_node *n, int dst) {
    const cryo_node *a0 = n->nlist > 0 ? n->list[0] : NULL;
    if (!a0 || a0->kind != N_STRING) return false;
    bool yes;
    if (n->nlist == 1 && name_is(n, "is_def_var")) {
        yes = cc_name_visible(c, a0->name, a0->len);
    } else if (n->nlist == 2 && name_is(n, "is_def_fn") && n->list[1]->kind == N_INT) {
        int64_t ar = n->list[1]->ival;
        yes = ar >= 0 && ar <= 255 && cc_find_fn(c, a0->name, a0->len, (uint32_t)ar) >= 0;
    } else {
        return false;
    }
    if (dst != NO_REG) cc_emit(c, CRYO_ABC(OP_LOADBOOL, dst, yes, 0), n);
    return true;
}

static void compile_call(cc *c, const cryo_node *n, int dst);

/* `u::f(x)` in a fn, `u` a top-level import of the script: `$envcall("u::", "f/1", x)`, one
 * host call that finds the module in the environment, instead of `$env` then `$modcall`. */
static bool compile_envcall(cc *c, const cryo_node *n, int dst) {
    const cryo_node *m = n->nlist >= 2 ? n->list[0] : NULL;
    if (!m || m->kind != N_VAR || !name_is(n, "$modcall") ||
        cc_resolve_at(c, m->name, m->len, m).kind != VK_ENV)
        return false;
    const cryo_node **list = malloc((size_t)n->nlist * sizeof *list);
    if (!list) {
        c->oom = true;
        return true;
    }
    cryo_node alias = *m;
    alias.kind = N_STRING;
    cryo_node call = *n;
    call.name = "$envcall";
    call.len = 8;
    list[0] = &alias;
    for (int i = 1; i < n->nlist; i++)
        list[i] = n->list[i];
    call.list = (cryo_node **)list;
    compile_call(c, &call, dst);
    free(list);
    return true;
}

static void compile_call(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int argc = n->nlist;
    if (compile_envcall(c, n, dst)) return;
    if (argc == 1 && name_is(n, "is_shared") && compile_is_shared(c, n->list[0], dst)) return;
    if (compile_is_def(c, n, dst)) return;
    cc_var v = cc_resolve_at(c, n->name, n->len, n);
    if (v.kind == VK_NONE && cc_find_fn(c, n->name, n->len, (uint32_t)argc) < 0 &&
        call_first_by_ref(c, n, dst))
        return;
    int a = top_or_alloc(c, dst, n);
    if (v.kind != VK_NONE) {
        const cryo_node var = {
            .kind = N_VAR, .line = n->line, .column = n->column, .name = n->name, .len = n->len};
        cc_expr(c, &var, a);
        place_args(c, n, 0, a + 1);
        cc_emit(c, CRYO_ABC(OP_CALLV, a, argc, 0), n);
    } else {
        place_args(c, n, 0, a);
        int pi = cc_find_fn(c, n->name, n->len, (uint32_t)argc);
        if (pi >= 0)
            emit_with_extra(c, OP_CALL, a, argc, pi, 0, CRYO_RECV_NONE, n);
        else
            emit_with_extra(c, OP_CALLH, a, argc, cc_host_slot(c, n->name, n->len, (uint32_t)argc),
                            0, CRYO_RECV_NONE, n);
    }
    move_to(c, dst, a, n);
    cc_free_to(c, mark);
}

/* Methods that never change their receiver: no write-back after calling them on a temp. */
static bool is_pure_method(const cryo_node *n) {
    static const char *const pure[] = {"len",
                                       "is_empty",
                                       "contains",
                                       "index_of",
                                       "get",
                                       "keys",
                                       "values",
                                       "to_string",
                                       "to_debug",
                                       "type_of",
                                       "sub_string",
                                       "to_upper",
                                       "to_lower",
                                       "starts_with",
                                       "ends_with",
                                       "split",
                                       "to_int",
                                       "to_float",
                                       "to_chars",
                                       "is_odd",
                                       "is_even",
                                       "abs",
                                       "filter",
                                       "map",
                                       "reduce",
                                       "some",
                                       "all",
                                       "find",
                                       "find_map",
                                       "fold",
                                       "trim_start_matches",
                                       "to_blob",
                                       "start",
                                       "end",
                                       "is_inclusive",
                                       "is_exclusive",
                                       "tag",
                                       "bytes",
                                       "call",
                                       NULL};
    for (int i = 0; pure[i]; i++)
        if (name_is(n, pure[i])) return true;
    return false;
}

/* Emits the call itself once the receiver is known; the arguments are n->list[skip..]. */
/* `x?.f()`: the receiver's value is tested, wherever it lives. */
static void elvis_test_recv(cc *c, recv_info r, const cryo_node *n) {
    if (r.mode == CRYO_RECV_REG) {
        elvis_test(c, r.reg, n);
        return;
    }
    int t = cc_alloc(c, n);
    if (r.mode == CRYO_RECV_CELL)
        cc_emit(c, CRYO_ABC(OP_GETCELL, t, r.reg, 0), n);
    else
        cc_emit(c, CRYO_ABC(OP_THIS, t, 0, 0), n);
    elvis_test(c, t, n);
}

/* The typed methods `fn T.name(..)` with `argc` parameters: their indexes in u->fns (at most
 * `max` stored; the count returned may be larger). */
static int typed_methods(cc *c, const cryo_node *n, int argc, int *out, int max) {
    int k = 0;
    for (uint32_t t = 0; t < c->ntyped; t++) {
        uint32_t i = c->typed[t];
        const cryo_fndef *f = &c->u->fns[i];
        size_t l = strlen(f->name);
        if (f->arity == (uint32_t)argc && l > n->len + 1 && f->name[l - n->len - 1] == '.' &&
            memcmp(f->name + l - n->len, n->name, n->len) == 0) {
            if (k < max) out[k] = (int)i;
            k++; /* counted past max: the caller reports it */
        }
    }
    return k;
}

static void emit_untyped_method(cc *c, const cryo_node *n, recv_info r, int dst, int skip);

/* `x.m(..)` when typed methods named m exist: test x's type against each (ISTYPE), call the
 * one that matches, else the untyped way (a plain fn, a host function, or "not found"). The
 * arguments are placed in each branch: only one runs. */
static void emit_typed_dispatch(cc *c, const cryo_node *n, recv_info r, int dst, const int *fns,
                                int nfns) {
    int mark = c->fs->freereg;
    int recv = cc_alloc(c, n), type = cc_alloc(c, n), cond = cc_alloc(c, n);
    if (r.mode == CRYO_RECV_REG)
        cc_emit(c, CRYO_ABC(OP_MOVE, recv, r.reg, 0), n);
    else if (r.mode == CRYO_RECV_CELL)
        cc_emit(c, CRYO_ABC(OP_GETCELL, recv, r.reg, 0), n);
    else
        cc_emit(c, CRYO_ABC(OP_THIS, recv, 0, 0), n);
    int a = cc_alloc(c, n);
    int ends[16], nends = 0;
    for (int i = 0; i < nfns; i++) {
        const cryo_fndef *f = &c->u->fns[fns[i]];
        size_t tl = strlen(f->name) - n->len - 1;
        cc_emit(c, CRYO_ABX(OP_LOADK, type, cc_const_str(c, f->name, tl)), n);
        cc_emit(c, CRYO_ABC(OP_ISTYPE, cond, recv, type), n);
        int skip = cc_emit_jump(c, OP_JMPF, cond, n);
        place_args(c, n, 0, a);
        emit_with_extra(c, OP_CALL, a, n->nlist, (int)f->proto, r.reg, r.mode, n);
        ends[nends++] = cc_emit_jump(c, OP_JMP, 0, n);
        cc_patch(c, skip, cc_pc(c));
    }
    emit_untyped_method(c, n, r, a, 0);
    for (int i = 0; i < nends; i++)
        cc_patch(c, ends[i], cc_pc(c));
    move_to(c, dst, a, n);
    cc_free_to(c, mark);
}

static void emit_method(cc *c, const cryo_node *n, recv_info r, int dst, int skip) {
    int mark = c->fs->freereg;
    if (!skip && elvis_step(n)) {
        elvis_test_recv(c, r, n);
        cc_free_to(c, mark);
    }
    int fns[16];
    int nfns = skip ? 0 : typed_methods(c, n, n->nlist, fns, 16);
    if (nfns > 16) {
        cc_error(c, n, "more than 16 typed methods named '%.*s' with %d parameter(s)", (int)n->len,
                 n->name, n->nlist);
        return;
    }
    if (nfns > 0) {
        emit_typed_dispatch(c, n, r, dst, fns, nfns);
        return;
    }
    emit_untyped_method(c, n, r, dst, skip);
}

static void emit_untyped_method(cc *c, const cryo_node *n, recv_info r, int dst, int skip) {
    int mark = c->fs->freereg;
    int argc = n->nlist - skip;
    int a = top_or_alloc(c, dst, n);
    int pi = skip ? -1 : cc_find_fn(c, n->name, n->len, (uint32_t)argc);
    if (pi >= 0) {
        place_args(c, n, skip, a);
        emit_with_extra(c, OP_CALL, a, argc, pi, r.reg, r.mode, n);
    } else {
        place_args(c, n, skip, a + 1);
        emit_with_extra(c, OP_CALLH, a, argc + 1,
                        cc_host_slot(c, n->name, n->len, (uint32_t)argc + 1), r.reg, r.mode, n);
    }
    move_to(c, dst, a, n);
    cc_free_to(c, mark);
}

/* --- places: variables, `this`, and index/property chains rooted at them ---------------------- */

/* Called with a register holding the current value of a place; may change that register's
 * value, which the caller then writes back. */
typedef struct place_op {
    void (*fn)(cc *c, struct place_op *op, int reg);
    const cryo_node *node; /* the assignment or method call */
    int dst;
    bool store_only; /* the op ignores the current value: no need to load it */
    int value;       /* an assignment's right side, evaluated before the target; or NO_REG */
} place_op;

static bool is_place(const cryo_node *n) {
    while (n->kind == N_INDEX || n->kind == N_FIELD)
        n = n->a;
    return n->kind == N_VAR || n->kind == N_THIS;
}

static void const_error(cc *c, const cryo_node *at, const cryo_node *var) {
    cc_error(c, at, "cannot assign to constant '%.*s'", (int)var->len, var->name);
}

/* A mutating method (or `x op= v`) on a top-level constant inside a fn: the fn reads a shared
 * value it must not change (Rhai: functions are pure). */
static void env_const_error(cc *c, const cryo_node *at, const cryo_node *var) {
    if (at->kind == N_METHOD)
        cc_error(c, at,
                 "cannot call '%.*s' on constant '%.*s': a script's top-level constants are "
                 "read-only in its fns",
                 (int)at->len, at->name, (int)var->len, var->name);
    else
        cc_error(c, at, "cannot modify constant '%.*s'", (int)var->len, var->name);
}

/* Runs `op` on the place `p` and writes the result back into it. */
static void update_place(cc *c, const cryo_node *p, place_op *op);

typedef struct level_op {
    place_op base;
    const cryo_node *level; /* N_INDEX / N_FIELD whose container is being updated */
    place_op *inner;
} level_op;

static void level_fn(cc *c, place_op *po, int obj) {
    level_op *lo = (level_op *)po;
    const cryo_node *lv = lo->level;
    if (elvis_step(lv)) elvis_test(c, obj, lv);
    int key = -1;
    if (lv->kind == N_INDEX) key = cc_expr_any(c, lv->b);
    int t = cc_alloc(c, lv);
    if (lv->kind == N_INDEX)
        cc_emit(c, CRYO_ABC(OP_GETINDEX, t, obj, key), lv);
    else
        emit_getfield(c, t, obj, lv);
    lo->inner->fn(c, lo->inner, t);
    if (lv->kind == N_INDEX)
        cc_emit(c, CRYO_ABC(OP_SETINDEX, obj, key, t), lv);
    else
        emit_setfield(c, obj, lv->name, lv->len, t, lv);
}

static void update_place_inner(cc *c, const cryo_node *p, place_op *op);

/* A place that ends an Elvis chain (`(m?.a).push(1)`) lands its skipped steps after its own
 * write-back, with the operation's result (). */
static void update_place(cc *c, const cryo_node *p, place_op *op) {
    if (!elvis_end(p)) {
        update_place_inner(c, p, op);
        return;
    }
    cc_elvis e;
    elvis_open(c, &e);
    update_place_inner(c, p, op);
    elvis_close(c, &e, op->dst, p);
}

static void update_place_inner(cc *c, const cryo_node *p, place_op *op) {
    int mark = c->fs->freereg;
    if (p->kind == N_INDEX || p->kind == N_FIELD) {
        level_op lo = {{level_fn, op->node, op->dst, false, NO_REG}, p, op};
        update_place(c, p->a, &lo.base);
    } else if (p->kind == N_THIS) {
        if (this_allowed(c, p)) {
            int t = cc_alloc(c, p);
            if (!op->store_only) cc_emit(c, CRYO_ABC(OP_THIS, t, 0, 0), p);
            op->fn(c, op, t);
            cc_emit(c, CRYO_ABC(OP_SETTHIS, t, 0, 0), p);
        }
    } else if (p->kind == N_VAR) {
        cc_var v = cc_resolve_at(c, p->name, p->len, p);
        if (v.is_const && op->node->kind == N_ASSIGN) const_error(c, op->node, p);
        if (op->node->kind != N_ASSIGN) check_take(c, op->node, p, v.is_const);
        if (v.kind == VK_NONE) {
            emit_errvar(c, p);
        } else if (v.kind == VK_ENV) {
            if (op->node->kind != N_ASSIGN) env_const_error(c, op->node, p);
        } else if (v.kind == VK_LOCAL) {
            op->fn(c, op, v.index);
        } else {
            int t = cc_alloc(c, p);
            bool cell = v.kind == VK_CELL;
            if (!op->store_only)
                cc_emit(c, CRYO_ABC(cell ? OP_GETCELL : OP_GETUPV, t, v.index, 0), p);
            op->fn(c, op, t);
            if (cell)
                cc_emit(c, CRYO_ABC(OP_SETCELL, v.index, t, 0), p);
            else {
                cc_emit(c, CRYO_ABC(OP_SETUPV, t, v.index, 0), p);
                cc_mark_assigned(c, c->fs, v.index);
            }
        }
    } else {
        int t = cc_expr_any(c, p); /* a temporary: changes are not kept */
        op->fn(c, op, t);
    }
    cc_free_to(c, mark);
}

/* --- method calls ------------------------------------------------------------------------------
 */

static void method_on_reg(cc *c, place_op *po, int reg) {
    emit_method(c, po->node, (recv_info){reg, CRYO_RECV_REG}, po->dst, 0);
}

#define PATH_MAX_STEPS 32

/* `root.k1[k2]...kB.m(args)` with the receiver reached in place: the arguments, then SETPATH
 * PIN into two registers below the call's, the call with receiver mode PATH on them, then
 * SETPATH UNPIN (opcodes.h, "Paths in detail"; vm_path.c). Reading the receiver into a register
 * instead would make the method's first write copy it, and the write-back copy every container
 * above it. Returns false, having emitted nothing, when the general route applies: `?.` chains,
 * typed methods (their dispatch reads the receiver), constants, paths too long, unknown names. */
static bool compile_method_path(cc *c, const cryo_node *n, int dst) {
    const cryo_node *steps[PATH_MAX_STEPS], *r = n->a;
    int ns = 0, typed[1];
    if (elvis_step(n)) return false;
    for (; r->kind == N_INDEX || r->kind == N_FIELD; r = r->a) {
        if (elvis_step(r) || elvis_end(r) || ns == PATH_MAX_STEPS) return false;
        steps[ns++] = r; /* innermost first */
    }
    if (ns == 0 || typed_methods(c, n, n->nlist, typed, 1) != 0 || n->nlist > 254) return false;
    unsigned kind, index = 0;
    if (r->kind == N_THIS) {
        if (!this_allowed(c, r)) return true;
        kind = CRYO_PATH_THIS;
    } else if (r->kind == N_VAR) {
        cc_var v = cc_resolve_at(c, r->name, r->len, r);
        if (v.kind == VK_NONE || v.is_const) return false;
        kind = v.kind == VK_LOCAL  ? CRYO_PATH_REG
               : v.kind == VK_CELL ? CRYO_PATH_CELL
                                   : CRYO_PATH_UPV;
        index = (unsigned)v.index;
        if (v.kind == VK_UPV) cc_mark_assigned(c, c->fs, v.index);
    } else {
        return false;
    }
    for (int s = ns - 1; s >= 0; s--) {
        if (steps[s]->kind == N_FIELD &&
            cc_const_str(c, steps[s]->name, steps[s]->len) > (int)CRYO_PATH_STEP_KEY(~0u))
            return false;
    }
    int mark = c->fs->freereg, keys[PATH_MAX_STEPS];
    for (int s = ns - 1; s >= 0; s--) {
        const cryo_node *st = steps[s];
        keys[s] = st->kind == N_INDEX ? cc_expr_any(c, st->b) : cc_const_str(c, st->name, st->len);
    }
    int pin = cc_alloc_n(c, 2, n), a = cc_alloc(c, n), argc = n->nlist;
    int pi = cc_find_fn(c, n->name, n->len, (uint32_t)argc);
    place_args(c, n, 0, pi >= 0 ? a : a + 1);
    for (int w = 0; w < 2; w++) {
        if (w == 1) {
            if (pi >= 0)
                emit_with_extra(c, OP_CALL, a, argc, pi, pin, CRYO_RECV_PATH, n);
            else
                emit_with_extra(c, OP_CALLH, a, argc + 1,
                                cc_host_slot(c, n->name, n->len, (uint32_t)argc + 1), pin,
                                CRYO_RECV_PATH, n);
        }
        cc_emit(c, CRYO_ABC(OP_SETPATH, pin, ns, w ? CRYO_PATH_UNPIN : CRYO_PATH_PIN), n);
        cc_emit(c, CRYO_PATH_ROOT(index, kind), n);
        for (int s = ns - 1; s >= 0; s--)
            cc_emit(c, CRYO_PATH_STEP(keys[s], steps[s]->kind == N_INDEX), steps[s]);
    }
    move_to(c, dst, a, n);
    cc_free_to(c, mark);
    return true;
}

static void compile_method(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    const cryo_node *recv = n->a;
    if (n->nlist == 0 && name_is(n, "is_shared") && compile_is_shared(c, recv, dst)) return;
    /* f.call(): a direct call. With arguments, `x.call(f, ..)` may bind `this` = x (Rhai), which
     * only the host `call` can tell at run time: it gets x by reference below. */
    if (name_is(n, "call") && n->nlist == 0) {
        int a = top_or_alloc(c, dst, n);
        cc_expr(c, recv, a);
        if (elvis_step(n)) elvis_test(c, a, n);
        cc_emit(c, CRYO_ABC(OP_CALLV, a, n->nlist, 0), n);
        move_to(c, dst, a, n);
        cc_free_to(c, mark);
        return;
    }
    int typed[1];
    bool pure = is_pure_method(n) && cc_find_fn(c, n->name, n->len, (uint32_t)n->nlist) < 0 &&
                typed_methods(c, n, n->nlist, typed, 1) == 0;
    recv_info r = {0, CRYO_RECV_REG};
    if (recv->kind == N_VAR) {
        cc_var v = cc_resolve_at(c, recv->name, recv->len, recv);
        if (v.kind == VK_LOCAL || v.kind == VK_CELL) {
            check_take(c, n, recv, v.is_const);
            r = (recv_info){v.index, v.kind == VK_CELL ? CRYO_RECV_CELL : CRYO_RECV_REG};
            emit_method(c, n, r, dst, 0);
            cc_free_to(c, mark);
            return;
        }
    } else if (recv->kind == N_THIS) {
        if (this_allowed(c, recv)) emit_method(c, n, (recv_info){0, CRYO_RECV_THIS}, dst, 0);
        cc_free_to(c, mark);
        return;
    }
    if (!pure && is_place(recv) && compile_method_path(c, n, dst)) {
        /* called on the element in place */
    } else if (!pure && is_place(recv)) {
        place_op po = {method_on_reg, n, dst, false, NO_REG};
        update_place(c, recv, &po);
    } else {
        r.reg = cc_expr_any(c, recv);
        emit_method(c, n, r, dst, 0);
    }
    cc_free_to(c, mark);
}

/* --- assignment ------------------------------------------------------------------------------ */

/* R[reg] = value (or R[reg] op= value). */
static void assign_value(cc *c, const cryo_node *n, int reg, int value) {
    if (n->op && value != NO_REG) {
        emit_binop_regs(c, n->op, reg, reg, value, n);
    } else if (n->op) {
        emit_binop(c, n->op, reg, reg, n->b, n);
    } else if (cc_dest_safe(n->b)) {
        cc_expr(c, n->b, reg);
    } else {
        int mark = c->fs->freereg;
        int t = cc_alloc(c, n->b);
        cc_expr(c, n->b, t);
        move_to(c, reg, t, n);
        cc_free_to(c, mark);
    }
}

static void assign_whole(cc *c, place_op *po, int reg) {
    assign_value(c, po->node, reg, po->value);
}

/* The deepest level: the container is in R[obj]; store the value at the key. */
static void assign_leaf(cc *c, place_op *po, int obj) {
    const cryo_node *n = po->node, *t = n->a;
    if (elvis_step(t)) elvis_test(c, obj, t);
    int key = -1;
    if (t->kind == N_INDEX) key = cc_expr_any(c, t->b);
    int v;
    if (n->op) {
        v = cc_alloc(c, n);
        if (t->kind == N_INDEX)
            cc_emit(c, CRYO_ABC(OP_GETINDEX, v, obj, key), t);
        else
            emit_getfield(c, v, obj, t);
        if (po->value != NO_REG)
            emit_binop_regs(c, n->op, v, v, po->value, n);
        else
            emit_binop(c, n->op, v, v, n->b, n);
    } else {
        v = po->value != NO_REG ? po->value : cc_expr_any(c, n->b);
    }
    if (t->kind == N_INDEX)
        cc_emit(c, CRYO_ABC(OP_SETINDEX, obj, key, v), n);
    else
        emit_setfield(c, obj, t->name, t->len, v, n);
}

/* Whether an assignment evaluates its right side before its target, as Rhai does: needed when
 * the target's current value is read first (a chain `a.b[i] = v`, or `x op= v` on a cell or
 * `this`) and the right side may change it (`this.b = this.m()` must keep what m wrote). A
 * literal or a variable read changes nothing and keeps its short forms (`x.n += 1` as ADDI).
 * A `?.` chain keeps its right side last: it is not evaluated when the chain stops early. */
static bool rhs_first(const cryo_node *n) {
    switch (n->b->kind) {
    case N_UNIT:
    case N_BOOL:
    case N_INT:
    case N_FLOAT:
    case N_CHAR:
    case N_STRING:
    case N_VAR: return false;
    default: break;
    }
    for (const cryo_node *t = n->a; t->kind == N_INDEX || t->kind == N_FIELD; t = t->a)
        if (elvis_step(t) || elvis_end(t)) return false;
    /* `x = v` / `this = v` on a whole variable reads nothing first */
    return n->op || (n->a->kind != N_VAR && n->a->kind != N_THIS);
}

/* `root.k1[k2]... = v` (or op=) on a variable or `this` as one SETPATH, which the VM writes in
 * place (vm_path.c) instead of reading every level into a register (a second reference that
 * makes copy-on-write copy the inner container on each write). The keys are evaluated outermost
 * first, then the right side unless it already was (rhs_first), then the walk: no script code
 * runs while the VM holds pointers into the containers. Returns false, having emitted nothing,
 * when the general route applies: `?.` chains, paths too long, a plain local with one step
 * (SETINDEX/SETFIELD already write its register in place), unknown names. */
static bool compile_setpath(cc *c, const cryo_node *n, int value) {
    const cryo_node *steps[PATH_MAX_STEPS], *r = n->a;
    int ns = 0;
    for (; r->kind == N_INDEX || r->kind == N_FIELD; r = r->a) {
        if (elvis_step(r) || elvis_end(r) || ns == PATH_MAX_STEPS) return false;
        steps[ns++] = r; /* innermost first */
    }
    if (n->op && (n->op <= BOP_NONE || n->op >= BOP_EQ)) return false;
    unsigned kind, index = 0;
    if (r->kind == N_THIS) {
        if (!this_allowed(c, r)) return true;
        kind = CRYO_PATH_THIS;
    } else if (r->kind == N_VAR) {
        cc_var v = cc_resolve_at(c, r->name, r->len, r);
        if (v.kind == VK_NONE || (v.kind == VK_LOCAL && ns == 1)) return false;
        if (v.is_const) {
            const_error(c, n, r);
            return true;
        }
        kind = v.kind == VK_LOCAL  ? CRYO_PATH_REG
               : v.kind == VK_CELL ? CRYO_PATH_CELL
                                   : CRYO_PATH_UPV;
        index = (unsigned)v.index;
        if (v.kind == VK_UPV) cc_mark_assigned(c, c->fs, v.index);
    } else {
        return false;
    }
    int keys[PATH_MAX_STEPS];
    for (int s = ns - 1; s >= 0; s--) {
        if (steps[s]->kind == N_FIELD &&
            cc_const_str(c, steps[s]->name, steps[s]->len) > (int)CRYO_PATH_STEP_KEY(~0u))
            return false;
    }
    for (int s = ns - 1; s >= 0; s--) {
        const cryo_node *st = steps[s];
        keys[s] = st->kind == N_INDEX ? cc_expr_any(c, st->b) : cc_const_str(c, st->name, st->len);
    }
    int v = value != NO_REG ? value : cc_expr_any(c, n->b);
    int op = n->op ? binop_opcode[n->op] : 0;
    cc_emit(c, CRYO_ABC(OP_SETPATH, v, ns, op), n);
    cc_emit(c, CRYO_PATH_ROOT(index, kind), n);
    for (int s = ns - 1; s >= 0; s--)
        cc_emit(c, CRYO_PATH_STEP(keys[s], steps[s]->kind == N_INDEX), steps[s]);
    return true;
}

static void compile_assign(cc *c, const cryo_node *n, int dst) {
    const cryo_node *t = n->a;
    int mark = c->fs->freereg;
    int value = NO_REG;
    if ((t->kind == N_VAR || t->kind == N_THIS || t->kind == N_INDEX || t->kind == N_FIELD) &&
        rhs_first(n))
        value = cc_expr_any(c, n->b);
    if (t->kind == N_VAR || t->kind == N_THIS) {
        place_op po = {assign_whole, n, NO_REG, n->op == 0, value};
        update_place(c, t, &po);
    } else if ((t->kind == N_INDEX || t->kind == N_FIELD) && compile_setpath(c, n, value)) {
        /* written in place */
    } else if (t->kind == N_INDEX || t->kind == N_FIELD) {
        place_op po = {assign_leaf, n, NO_REG, false, value};
        cc_elvis e;
        elvis_open(c, &e); /* `m?.a = v` does nothing when m is () */
        update_place(c, t->a, &po);
        elvis_close(c, &e, NO_REG, n);
    } else {
        cc_error(c, n, "invalid assignment target");
    }
    cc_free_to(c, mark);
    if (dst != NO_REG) cc_emit(c, CRYO_ABC(OP_LOADUNIT, dst, 0, 0), n);
}

/* `a ?? b`: b only when a is (). */
static void compile_coalesce(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int d = dst == NO_REG ? cc_alloc(c, n) : dst;
    cc_expr(c, n->a, d);
    int j = cc_emit_jump(c, OP_JMPNU, d, n);
    cc_expr(c, n->b, d);
    cc_patch(c, j, cc_pc(c));
    cc_free_to(c, mark);
}

/* --- dispatch ------------------------------------------------------------------------------- */

static void expr_node(cc *c, const cryo_node *n, int dst);

void cc_expr(cc *c, const cryo_node *n, int dst) {
    if (c->depth >= CC_MAX_DEPTH) {
        if (!c->too_deep) cc_error(c, n, "expression nested too deeply");
        c->too_deep = true;
        return;
    }
    c->depth++;
    if (elvis_end(n)) {
        cc_elvis e;
        elvis_open(c, &e);
        expr_node(c, n, dst);
        elvis_close(c, &e, dst, n);
    } else {
        expr_node(c, n, dst);
    }
    c->depth--;
}

static void expr_node(cc *c, const cryo_node *n, int dst) {
    switch (n->kind) {
    case N_UNIT:
    case N_BOOL:
    case N_INT:
    case N_FLOAT:
    case N_CHAR:
    case N_STRING: compile_literal(c, n, dst); break;
    case N_INTERP: compile_interp(c, n, dst); break;
    case N_ARRAY: compile_array(c, n, dst); break;
    case N_MAP: compile_map(c, n, dst); break;
    case N_VAR: compile_var(c, n, dst); break;
    case N_THIS:
        if (this_allowed(c, n) && dst != NO_REG) cc_emit(c, CRYO_ABC(OP_THIS, dst, 0, 0), n);
        break;
    case N_UNARY: compile_unary(c, n, dst); break;
    case N_BINARY: compile_binary(c, n, dst); break;
    case N_AND:
    case N_OR: compile_logic(c, n, dst); break;
    case N_ASSIGN: compile_assign(c, n, dst); break;
    case N_INDEX: compile_index(c, n, dst); break;
    case N_FIELD: compile_field(c, n, dst); break;
    case N_RANGE: compile_pair(c, n, dst, n->ival ? OP_RANGEI : OP_RANGE); break;
    case N_CALL: compile_call(c, n, dst); break;
    case N_METHOD: compile_method(c, n, dst); break;
    case N_COALESCE: compile_coalesce(c, n, dst); break;
    default: cc_control(c, n, dst); break;
    }
}
