/*
 * compile.c — syntax tree to bytecode: the driver, function states, registers, constants,
 * name resolution, and statements / control flow. Expressions are in compile_expr.c.
 *
 * Two passes. The resolve pass walks the tree with the same scoping rules as code generation
 * and records which declarations some closure captures, so that code generation can put those
 * in cells right at their declaration (NEWCELL) — before the capturing closure is seen.
 */
#include "compile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- errors, growth ------------------------------------------------------------------------- */

void cc_error(cc *c, const cryo_node *n, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->nerrors++;
    cryo_error *e = cl_error_new(CRYO_ERR_COMPILE, c->source_name, n ? n->line : 0,
                                 n ? n->column : 0, "%s", buf);
    if (e)
        cl_error_append(c->errors, e);
    else
        c->oom = true;
}

static bool grow(cc *c, void **p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return true;
    uint32_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, (size_t)ncap * elem);
    if (!np) {
        c->oom = true;
        return false;
    }
    *p = np;
    *cap = ncap;
    return true;
}

#define GROW(c, arr, cap, need) grow((c), (void **)&(arr), &(cap), (need), sizeof *(arr))

static char *dupn(cc *c, const char *s, size_t len) {
    char *d = malloc(len + 1);
    if (!d) {
        c->oom = true;
        return NULL;
    }
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

/* --- emitting ------------------------------------------------------------------------------- */

int cc_pc(cc *c) {
    return (int)c->fs->p->ncode;
}

int cc_emit(cc *c, cryo_instr ins, const cryo_node *n) {
    cc_fn *fs = c->fs;
    cryo_proto *p = fs->p;
    if (p->ncode + 1 > fs->capcode) {
        uint32_t ncap = fs->capcode ? fs->capcode * 2 : 32;
        cryo_instr *code = realloc(p->code, (size_t)ncap * sizeof *code);
        if (code) p->code = code;
        cryo_lineinfo *lines = code ? realloc(p->lines, (size_t)ncap * sizeof *lines) : NULL;
        if (lines) p->lines = lines;
        if (!code || !lines) {
            c->oom = true;
            return (int)p->ncode;
        }
        fs->capcode = ncap;
    }
    p->code[p->ncode] = ins;
    p->lines[p->ncode].line = n ? n->line : 0;
    p->lines[p->ncode].column = n ? n->column : 0;
    return (int)p->ncode++;
}

void cc_patch(cc *c, int at, int target) {
    cryo_proto *p = c->fs->p;
    if (at < 0 || (uint32_t)at >= p->ncode) return;
    cryo_instr ins = p->code[at];
    int off = target - (at + 1);
    if (CRYO_OP(ins) == OP_JMP) {
        p->code[at] = CRYO_SJX(OP_JMP, off);
        return;
    }
    if (off < -CRYO_SBX_BIAS || off > 0xFFFF - CRYO_SBX_BIAS) {
        cc_error(c, NULL, "function too large: jump out of range");
        return;
    }
    p->code[at] = CRYO_ASBX(CRYO_OP(ins), CRYO_A(ins), off);
}

int cc_emit_jump(cc *c, cryo_opcode op, int a, const cryo_node *n) {
    if (op == OP_JMP) return cc_emit(c, CRYO_SJX(OP_JMP, 0), n);
    return cc_emit(c, CRYO_ASBX(op, a, 0), n);
}

void cc_emit_jump_to(cc *c, cryo_opcode op, int a, int target, const cryo_node *n) {
    int at = cc_emit_jump(c, op, a, n);
    cc_patch(c, at, target);
}

/* --- registers ------------------------------------------------------------------------------ */

int cc_alloc_n(cc *c, int count, const cryo_node *n) {
    cc_fn *fs = c->fs;
    int r = fs->freereg;
    if (r + count > CRYO_MAX_REGS) {
        if (!fs->reg_error)
            cc_error(c, n, "expression too complex (more than %d registers)", CRYO_MAX_REGS);
        fs->reg_error = 1;
        /* keep generating well-formed (discarded) code */
        return CRYO_MAX_REGS - count > 0 ? CRYO_MAX_REGS - count : 0;
    }
    fs->freereg += count;
    if (fs->freereg > fs->p->nregs) fs->p->nregs = (uint8_t)fs->freereg;
    return r;
}

int cc_alloc(cc *c, const cryo_node *n) {
    return cc_alloc_n(c, 1, n);
}

void cc_free_to(cc *c, int mark) {
    if (mark < c->fs->freereg) c->fs->freereg = mark;
}

/* --- constants ------------------------------------------------------------------------------ */

static int add_const(cc *c, cryo_value v) {
    cc_fn *fs = c->fs;
    cryo_proto *p = fs->p;
    if (p->nk >= 0xFFFF) {
        cc_error(c, NULL, "too many constants in one function");
        return 0;
    }
    if (!GROW(c, p->k, fs->capk, p->nk + 1)) return 0;
    p->k[p->nk] = v;
    return (int)p->nk++;
}

int cc_const_int(cc *c, int64_t v) {
    cryo_proto *p = c->fs->p;
    for (uint32_t i = 0; i < p->nk; i++)
        if (p->k[i].type == CRYO_T_INT && p->k[i].as.i == v) return (int)i;
    return add_const(c, cryo_int(v));
}

int cc_const_float(cc *c, double v) {
    cryo_proto *p = c->fs->p;
    for (uint32_t i = 0; i < p->nk; i++)
        if (p->k[i].type == CRYO_T_FLOAT && memcmp(&p->k[i].as.f, &v, sizeof v) == 0) return (int)i;
    return add_const(c, cryo_float(v));
}

int cc_const_char(cc *c, uint32_t v) {
    cryo_proto *p = c->fs->p;
    for (uint32_t i = 0; i < p->nk; i++)
        if (p->k[i].type == CRYO_T_CHAR && p->k[i].as.c == v) return (int)i;
    return add_const(c, cryo_char(v));
}

int cc_const_str(cc *c, const char *s, size_t len) {
    cryo_proto *p = c->fs->p;
    for (uint32_t i = 0; i < p->nk; i++) {
        if (p->k[i].type != CRYO_T_STRING) continue;
        cryo_string *ks = cv_str(p->k[i]);
        if (ks->len == len && memcmp(ks->data, s, len) == 0) return (int)i;
    }
    cryo_string *ks = cv_string_new_shared(s, len);
    if (!ks) {
        c->oom = true;
        return 0;
    }
    int k = add_const(c, cv_from_shared(&ks->h));
    if ((uint32_t)k >= p->nk || p->k[k].as.obj != &ks->h) cv_string_free_shared(ks);
    return k;
}

/* --- the captured-declaration set ------------------------------------------------------------ */

static uint32_t key_hash(const void *p, int slot) {
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull + (uint64_t)slot * 31u;
    return (uint32_t)(h >> 32);
}

static void keyset_add(cc *c, cc_keyset *s, const void *p, int slot) {
    if ((s->n + 1) * 2 > s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 64;
        const void **np = calloc(ncap, sizeof *np);
        int *ns = calloc(ncap, sizeof *ns);
        if (!np || !ns) {
            free(np);
            free(ns);
            c->oom = true;
            return;
        }
        for (uint32_t i = 0; i < s->cap; i++) {
            if (!s->p[i]) continue;
            uint32_t j = key_hash(s->p[i], s->slot[i]) & (ncap - 1);
            while (np[j])
                j = (j + 1) & (ncap - 1);
            np[j] = s->p[i];
            ns[j] = s->slot[i];
        }
        free(s->p);
        free(s->slot);
        s->p = np;
        s->slot = ns;
        s->cap = ncap;
    }
    uint32_t j = key_hash(p, slot) & (s->cap - 1);
    while (s->p[j]) {
        if (s->p[j] == p && s->slot[j] == slot) return;
        j = (j + 1) & (s->cap - 1);
    }
    s->p[j] = p;
    s->slot[j] = slot;
    s->n++;
}

static bool keyset_has(const cc_keyset *s, const void *p, int slot);

bool cc_is_last_use(const cc *c, const cryo_node *n) {
    return keyset_has(&c->moves, n, 0);
}

static bool keyset_has(const cc_keyset *s, const void *p, int slot) {
    if (!s->cap) return false;
    uint32_t j = key_hash(p, slot) & (s->cap - 1);
    while (s->p[j]) {
        if (s->p[j] == p && s->slot[j] == slot) return true;
        j = (j + 1) & (s->cap - 1);
    }
    return false;
}

/* --- resolve pass ---------------------------------------------------------------------------- */

/* The walk also finds each local's last reference in source order (c->moves): when that is
 * an argument of a script fn call in the declaring function, outside any loop the local is
 * declared outside of, nothing reads the local after the call, and the argument moves instead
 * of copying (place_args), so a callee that writes it does not copy it first. Places written
 * or used as a receiver after their operands run (`x[i] = f(x)`, `x.push(f(x))`,
 * `pad(x, f(x))`) count as a later reference, after the operands. Not moved: the top level's
 * variables (a debugger or the REPL may look at them after their last use) and arguments of
 * host functions (an ffi callback must live until its variable's scope ends). */
typedef struct rs_var {
    const char *name;
    size_t len;
    const void *key;
    int slot;
    int level;             /* closure nesting depth of the declaring function */
    int loops;             /* loops around the declaration, in that function */
    const cryo_node *last; /* the last reference so far */
    bool movable;          /* `last` is a call argument that may move */
} rs_var;

typedef struct rs {
    cc *c;
    rs_var *vars;
    uint32_t nvars, cap;
    int level;
    int loops;
    int again;    /* walking a place a second time: its variables are used later, not moved */
    bool stmt;    /* the next node walked is in statement position (rs_walk_stmt) */
    bool in_main; /* walking the top level (its variables stay visible to debuggers) */
    bool in_fn;   /* walking a fn: a name no local declares may be the unit's environment */
} rs;

/* Every declaration of the name: each publishes its value when it runs. */
static void env_mark(cc *c, const char *name, size_t len) {
    for (int i = 0; i < c->nenvs; i++)
        if (c->envs[i]->len == len && memcmp(c->envs[i]->name, name, len) == 0) c->env_used[i] = 1;
}

static void rs_push(rs *r, const char *name, size_t len, const void *key, int slot) {
    if (!name || !GROW(r->c, r->vars, r->cap, r->nvars + 1)) return;
    r->vars[r->nvars++] = (rs_var){name, len, key, slot, r->level, r->loops, NULL, false};
}

/* Ends the scope of the variables above `mark`, recording the last uses that move. */
static void rs_pop(rs *r, uint32_t mark) {
    for (uint32_t i = mark; i < r->nvars; i++)
        if (r->vars[i].movable) keyset_add(r->c, &r->c->moves, r->vars[i].last, 0);
    if (mark < r->nvars) r->nvars = mark;
}

/* `arg`: n is a call argument (an N_VAR) that may move if nothing reads it later. */
static void rs_ref(rs *r, const char *name, size_t len, const cryo_node *n, bool arg) {
    for (uint32_t i = r->nvars; i-- > 0;) {
        rs_var *v = &r->vars[i];
        if (v->len == len && memcmp(v->name, name, len) == 0) {
            if (v->level < r->level) keyset_add(r->c, &r->c->captured, v->key, v->slot);
            v->last = n;
            v->movable = arg && !r->again && v->level == r->level && v->loops == r->loops &&
                         !(r->in_main && r->level == 0);
            return;
        }
    }
    if (r->in_fn) env_mark(r->c, name, len);
}

static void rs_use(rs *r, const char *name, size_t len) {
    rs_ref(r, name, len, NULL, false);
}

static bool rs_visible(const rs *r, const char *name, size_t len) {
    for (uint32_t i = r->nvars; i-- > 0;)
        if (r->vars[i].len == len && memcmp(r->vars[i].name, name, len) == 0) return true;
    return false;
}

static void rs_walk(rs *r, const cryo_node *n, int depth);

/* Walks n in statement position: nothing of the expression around it is pending while it runs
 * (no operand read from a variable's register afterwards), so a call there may move its
 * variable arguments. A block, if, loop or try in statement position passes it on to its
 * statements; any other expression does not. */
static void rs_walk_stmt(rs *r, const cryo_node *n, int depth) {
    r->stmt = true;
    rs_walk(r, n, depth + 1);
    r->stmt = false;
}

static void rs_walk_if(rs *r, const cryo_node *n, bool stmt, int depth) {
    if (stmt)
        rs_walk_stmt(r, n, depth);
    else
        rs_walk(r, n, depth + 1);
}

/* A place or receiver that is written or used after its operands run: its variables (`x` and
 * `k` of `x[k].f`) are referenced again then, as plain uses. */
static void rs_walk_again(rs *r, const cryo_node *n, int depth) {
    r->again++;
    rs_walk(r, n, depth + 1);
    r->again--;
}

/* A call's arguments: a script fn's variable arguments may move (not when a variable of that
 * name, which may hold any Fn, is called instead); a host function's first is passed by
 * reference and used after the others run. */
static void rs_call(rs *r, const cryo_node *n, bool stmt, int depth) {
    bool var = rs_visible(r, n->name, n->len);
    rs_use(r, n->name, n->len);
    if (n->len == 7 && memcmp(n->name, "$global", 7) == 0 && n->nlist == 1 &&
        n->list[0]->kind == N_STRING) /* global::K: the unit's own K first (module.c) */
        env_mark(r->c, n->list[0]->name, n->list[0]->len);
    bool by_ref = !var && cc_find_fn(r->c, n->name, n->len, (uint32_t)n->nlist) < 0;
    bool movable = stmt && !var && !by_ref;
    for (int i = 0; i < n->nlist; i++) {
        const cryo_node *x = n->list[i];
        if (x->kind == N_VAR)
            rs_ref(r, x->name, x->len, x, movable);
        else
            rs_walk(r, x, depth + 1);
    }
    if (n->nlist > 0 && by_ref) rs_walk_again(r, n->list[0], depth);
}

static void rs_walk(rs *r, const cryo_node *n, int depth) {
    if (!n || depth > 2 * CC_MAX_DEPTH) return; /* code generation reports the depth */
    uint32_t mark = r->nvars;
    bool stmt = r->stmt;
    r->stmt = false;
    switch (n->kind) {
    case N_VAR: rs_use(r, n->name, n->len); return;
    case N_CALL: rs_call(r, n, stmt, depth); return;
    case N_ASSIGN:
    case N_METHOD: {
        rs_walk(r, n->a, depth + 1);
        if (n->kind == N_ASSIGN && stmt)
            rs_walk_stmt(r, n->b, depth);
        else
            rs_walk(r, n->b, depth + 1);
        for (int i = 0; i < n->nlist; i++)
            rs_walk(r, n->list[i], depth + 1);
        /* `x = f(x)` only writes x */
        if (!(n->kind == N_ASSIGN && n->op == 0 && n->a && n->a->kind == N_VAR))
            rs_walk_again(r, n->a, depth);
        return;
    }
    case N_WHILE:
    case N_LOOP:
    case N_DO:
        r->loops++;
        rs_walk(r, n->a, depth + 1);
        rs_walk_if(r, n->b, stmt, depth);
        r->loops--;
        return;
    case N_LET:
        rs_walk_stmt(r, n->a, depth);
        rs_push(r, n->name, n->len, n, 0);
        return;
    case N_RETURN:
    case N_THROW: rs_walk_stmt(r, n->a, depth); return;
    case N_IF:
        rs_walk_if(r, n->a, stmt, depth);
        rs_walk_if(r, n->b, stmt, depth);
        rs_walk_if(r, n->c, stmt, depth);
        return;
    case N_FOR:
        rs_walk(r, n->a, depth + 1);
        r->loops++;
        rs_push(r, n->name, n->len, n, 0);
        rs_push(r, n->name2, n->len2, n, 1);
        rs_walk_if(r, n->b, stmt, depth);
        rs_pop(r, mark);
        r->loops--;
        return;
    case N_TRY:
        rs_walk_if(r, n->a, stmt, depth);
        rs_push(r, n->name, n->len, n, 0);
        rs_walk_if(r, n->b, stmt, depth);
        rs_pop(r, mark);
        return;
    case N_CLOSURE:
        r->level++;
        for (int i = 0; i < n->nlist; i++)
            rs_push(r, n->list[i]->name, n->list[i]->len, n->list[i], 0);
        rs_walk_stmt(r, n->a, depth); /* a function of its own: nothing pending around it */
        r->level--;
        rs_pop(r, mark);
        return;
    case N_FNDEF: return; /* compiled on their own (pure) */
    case N_BLOCK:
        for (int i = 0; i < n->nlist; i++)
            rs_walk_if(r, n->list[i], stmt, depth);
        rs_pop(r, mark);
        return;
    default: break;
    }
    rs_walk(r, n->a, depth + 1);
    rs_walk(r, n->b, depth + 1);
    rs_walk(r, n->c, depth + 1);
    for (int i = 0; i < n->nlist; i++)
        rs_walk(r, n->list[i], depth + 1);
}

/* The top-level constants and import aliases (c->envs), when some fn may read them. */
static void collect_envs(cc *c) {
    const cryo_node *m = c->ast->main;
    if (c->ast->nfns == 0) return;
    int n = 0;
    for (int i = 0; i < m->nlist; i++)
        n += m->list[i] && m->list[i]->kind == N_LET && m->list[i]->ival == 1;
    if (n == 0) return;
    c->envs = calloc((size_t)n, sizeof *c->envs);
    c->env_used = calloc((size_t)n, 1);
    if (!c->envs || !c->env_used) {
        c->oom = true;
        return;
    }
    for (int i = 0; i < m->nlist; i++)
        if (m->list[i] && m->list[i]->kind == N_LET && m->list[i]->ival == 1)
            c->envs[c->nenvs++] = m->list[i];
}

static void resolve_pass(cc *c) {
    rs r = {c, NULL, 0, 0, 0, 0, 0, false, true, false};
    const cryo_compile_options *o = c->opts;
    collect_envs(c);
    for (int i = 0; o && i < o->nglobals; i++)
        rs_push(&r, o->globals[i], strlen(o->globals[i]), c, i);
    rs_walk(&r, c->ast->main, 0);
    r.in_main = false;
    r.in_fn = true;
    for (int f = 0; f < c->ast->nfns; f++) {
        const cryo_node *fn = c->ast->fns[f];
        rs_pop(&r, 0);
        for (int i = 0; i < fn->nlist; i++)
            rs_push(&r, fn->list[i]->name, fn->list[i]->len, fn->list[i], 0);
        r.stmt = true;
        rs_walk(&r, fn->a, 0);
    }
    rs_pop(&r, 0);
    free(r.vars);
}

/* --- scopes and names ----------------------------------------------------------------------- */

void cc_declare(cc *c, const char *name, size_t len, int reg, bool is_const, const void *key,
                int slot, const cryo_node *n) {
    cc_fn *fs = c->fs;
    bool cell = keyset_has(&c->captured, key, slot);
    if (cell) cc_emit(c, CRYO_ABC(OP_NEWCELL, reg, 0, 0), n);
    if (!GROW(c, fs->locals, fs->caplocals, (uint32_t)fs->nlocals + 1)) return;
    fs->locals[fs->nlocals++] = (cc_local){name, len, (uint8_t)reg, is_const, cell, -1};
    /* the name for debuggers, live from the next instruction to the end of its scope */
    cryo_proto *p = fs->p;
    char *nm = dupn(c, name, len);
    if (!nm || !GROW(c, p->locals, fs->capdbg, p->nlocals + 1)) {
        free(nm);
        return;
    }
    fs->locals[fs->nlocals - 1].dbg = (int)p->nlocals;
    p->locals[p->nlocals++] = (cryo_localinfo){nm, p->ncode, UINT32_MAX, (uint8_t)reg};
}

/* Ends the scope of the locals above `nloc`: their names stop at the current pc. */
static void pop_locals(cc_fn *fs, int nloc) {
    for (int i = fs->nlocals; i-- > nloc;)
        if (fs->locals[i].dbg >= 0) fs->p->locals[fs->locals[i].dbg].end = fs->p->ncode;
    fs->nlocals = nloc;
}

static int find_local(cc_fn *fs, const char *name, size_t len) {
    for (int i = fs->nlocals; i-- > 0;)
        if (fs->locals[i].len == len && memcmp(fs->locals[i].name, name, len) == 0) return i;
    return -1;
}

static int add_cap(cc *c, cc_fn *fs, const char *name, size_t len, bool from_local, int index,
                   bool is_const, const cryo_node *n) {
    cryo_proto *p = fs->p;
    if (p->ncaps >= CRYO_MAX_REGS * 4) {
        cc_error(c, n, "closure captures too many variables");
        return -1;
    }
    if (!GROW(c, p->caps, fs->capcaps, p->ncaps + 1u)) return -1;
    if (!GROW(c, fs->cap_const, fs->capconst, p->ncaps + 1u)) return -1;
    char *nm = dupn(c, name, len);
    if (!nm) return -1;
    p->caps[p->ncaps] = (cryo_capdesc){from_local, 0, (uint16_t)index, 0, 0, nm};
    fs->cap_const[p->ncaps] = is_const;
    return p->ncaps++;
}

/* Whether `name` is declared by a top-level `const` (or `import .. as`, whose hidden alias
 * is a const) of the script: its encapsulated environment, which its fns see read-only. Only
 * runs for names no local declares, seen from a fn: rare enough for a scan. */
static bool is_env_name(cc *c, const char *name, size_t len) {
    for (int i = 0; i < c->nenvs; i++)
        if (c->envs[i]->len == len && memcmp(c->envs[i]->name, name, len) == 0) return true;
    return false;
}

/* Finds `name` as seen from `fs`, adding captures to closures on the way. */
static cc_var resolve_in(cc *c, cc_fn *fs, const char *name, size_t len, const cryo_node *n) {
    cc_var v = {VK_NONE, 0, false};
    int li = find_local(fs, name, len);
    if (li >= 0) {
        v.kind = fs->locals[li].is_cell ? VK_CELL : VK_LOCAL;
        v.index = fs->locals[li].reg;
        v.is_const = fs->locals[li].is_const;
        return v;
    }
    if (!fs->is_closure && !fs->is_main && is_env_name(c, name, len))
        return (cc_var){VK_ENV, 0, true};
    if (!fs->is_closure || !fs->parent) return v;
    for (uint16_t i = 0; i < fs->p->ncaps; i++) {
        cryo_capdesc *cd = &fs->p->caps[i];
        if (strlen(cd->name) == len && memcmp(cd->name, name, len) == 0)
            return (cc_var){VK_UPV, i, fs->cap_const[i]};
    }
    cc_var pv = resolve_in(c, fs->parent, name, len, n);
    if (pv.kind == VK_NONE || pv.kind == VK_ENV) return pv; /* the env is the unit's: no capture */
    if (pv.kind == VK_LOCAL) {
        cc_error(c, n, "internal error: captured variable '%.*s' is not in a cell", (int)len, name);
        return v;
    }
    int ci = add_cap(c, fs, name, len, pv.kind == VK_CELL, pv.index, pv.is_const, n);
    if (ci < 0) return v;
    cryo_capdesc *cd = &fs->p->caps[ci];
    cd->line = n ? n->line : 0;
    cd->column = n ? n->column : 0;
    return (cc_var){VK_UPV, ci, pv.is_const};
}

bool cc_name_visible(cc *c, const char *name, size_t len) {
    for (cc_fn *fs = c->fs; fs; fs = fs->parent) {
        if (find_local(fs, name, len) >= 0) return true;
        if (!fs->is_closure) return false;
    }
    return false;
}

/* Resolves with a position for new capture descriptors. */
cc_var cc_resolve_at(cc *c, const char *name, size_t len, const cryo_node *n) {
    return resolve_in(c, c->fs, name, len, n);
}

void cc_mark_assigned(cc *c, cc_fn *fs, int cap) {
    (void)c;
    while (fs && fs->is_closure && cap >= 0 && cap < fs->p->ncaps) {
        cryo_capdesc *cd = &fs->p->caps[cap];
        cd->assigned = 1;
        if (cd->from_parent_local) return;
        cap = cd->index;
        fs = fs->parent;
    }
}

int cc_fn_index(const cc *c, const char *name, size_t len, uint32_t arity) {
    if (!c->fn_slots) return -1;
    for (uint32_t h = cl_name_hash(name, len) & c->fn_mask;; h = (h + 1) & c->fn_mask) {
        uint32_t e = c->fn_slots[h];
        if (e == 0) return -1;
        const cryo_fndef *f = &c->u->fns[e - 1];
        if ((arity == CC_ANY_ARITY || f->arity == arity) && c->fn_nodes[e - 1]->len == len &&
            memcmp(f->name, name, len) == 0)
            return (int)(e - 1);
    }
}

/* Enters u->fns[i] (already stored, with fn_nodes[i]) into the index. */
static void fn_index_add(cc *c, uint32_t i) {
    const cryo_node *fn = c->fn_nodes[i];
    uint32_t h = cl_name_hash(fn->name, fn->len) & c->fn_mask;
    while (c->fn_slots[h])
        h = (h + 1) & c->fn_mask;
    c->fn_slots[h] = i + 1;
    if (memchr(fn->name, '.', fn->len)) c->typed[c->ntyped++] = i;
}

int cc_find_fn(cc *c, const char *name, size_t len, uint32_t arity) {
    int i = cc_fn_index(c, name, len, arity);
    return i < 0 ? -1 : (int)c->u->fns[i].proto;
}

int cc_host_slot(cc *c, const char *name, size_t len, uint32_t arity) {
    cryo_unit *u = c->u;
    for (uint32_t i = 0; i < u->nhosts; i++)
        if (u->hosts[i].arity == arity && strlen(u->hosts[i].name) == len &&
            memcmp(u->hosts[i].name, name, len) == 0)
            return (int)i;
    if (u->nhosts >= 0xFFFF) {
        cc_error(c, NULL, "too many distinct host functions");
        return 0;
    }
    uint32_t cap = u->nhosts; /* exact-size growth: hosts are few */
    cryo_hostslot *nh = realloc(u->hosts, (size_t)(cap + 1) * sizeof *nh);
    if (!nh) {
        c->oom = true;
        return 0;
    }
    u->hosts = nh;
    char *nm = dupn(c, name, len);
    if (!nm) return 0;
    u->hosts[u->nhosts] = (cryo_hostslot){nm, arity};
    return (int)u->nhosts++;
}

/* --- protos ----------------------------------------------------------------------------------- */

static int new_proto(cc *c, const char *name, size_t len, int line) {
    cryo_unit *u = c->u;
    if (u->nprotos >= 0xFFFF) {
        cc_error(c, NULL, "too many functions");
        return -1;
    }
    if (!GROW(c, u->protos, c->capprotos, u->nprotos + 1)) return -1;
    cryo_proto *p = calloc(1, sizeof *p);
    char *nm = dupn(c, name, len);
    if (!p || !nm) {
        free(p);
        free(nm);
        c->oom = true;
        return -1;
    }
    p->name = nm;
    p->sname = cv_string_new_shared(name, len); /* NULL on OOM: CLOSURE then allocates one */
    p->unit = u;
    p->line = line;
    u->protos[u->nprotos] = p;
    return (int)u->nprotos++;
}

static void fs_open(cc *c, cc_fn *fs, cryo_proto *p, bool is_closure) {
    memset(fs, 0, sizeof *fs);
    fs->parent = c->fs;
    fs->p = p;
    fs->is_closure = is_closure;
    c->fs = fs;
}

static void fs_close(cc *c, cc_fn *fs) {
    pop_locals(fs, 0);
    free(fs->locals);
    free(fs->cap_const);
    c->fs = fs->parent;
}

static void ret_expr(cc *c, const cryo_node *n);

/* Params in R[0..n-1]; the body's value is returned. */
static void compile_body(cc *c, const cryo_node *params_owner, const cryo_node *body) {
    cc_fn *fs = c->fs;
    int np = params_owner->nlist;
    if (np > CRYO_MAX_REGS - 1) {
        cc_error(c, params_owner, "too many parameters");
        np = CRYO_MAX_REGS - 1;
    }
    fs->p->nparams = (uint8_t)np;
    cc_alloc_n(c, np, params_owner);
    for (int i = 0; i < np; i++) {
        const cryo_node *pn = params_owner->list[i];
        cc_declare(c, pn->name, pn->len, i, false, pn, 0, pn);
    }
    ret_expr(c, body);
}

static void compile_fndef(cc *c, const cryo_node *fn, int proto) {
    cc_fn fs;
    fs_open(c, &fs, c->u->protos[proto], false);
    compile_body(c, fn, fn->a);
    fs_close(c, &fs);
}

/* N_CLOSURE: a new proto; its captures are filled as its body resolves outer names. */
void cc_closure(cc *c, const cryo_node *n, int dst) {
    char name[32];
    snprintf(name, sizeof name, "anon$%d", c->nanon++);
    int pi = new_proto(c, name, strlen(name), n->line);
    if (pi < 0) return;
    cc_fn fs;
    fs_open(c, &fs, c->u->protos[pi], true);
    fs.p->is_closure = 1;
    compile_body(c, n, n->a);
    fs_close(c, &fs);
    if (dst != NO_REG) cc_emit(c, CRYO_ABX(OP_CLOSURE, dst, pi), n);
}

/* --- blocks and statements ------------------------------------------------------------------- */

/* After a top-level `const K` some fn reads: `$setenv("K", K)` records it in this VM's
 * environment of the unit, where the fns' `$env("K")` find it (vm/module.c). */
static void publish_env(cc *c, const cryo_node *n) {
    int i = 0;
    while (i < c->nenvs && c->envs[i] != n)
        i++;
    if (i == c->nenvs || !c->env_used[i]) return;
    int mark = c->fs->freereg;
    int a = cc_alloc_n(c, 2, n);
    const cryo_node var = {
        .kind = N_VAR, .line = n->line, .column = n->column, .name = n->name, .len = n->len};
    cc_emit(c, CRYO_ABX(OP_LOADK, a, cc_const_str(c, n->name, n->len)), n);
    cc_expr(c, &var, a + 1);
    cc_emit(c, CRYO_ABC(OP_CALLH, a, 2, 0), n);
    cc_emit(c, CRYO_EXTRA(cc_host_slot(c, "$setenv", 7, 2), 0, CRYO_RECV_NONE), n);
    cc_free_to(c, mark);
}

static void compile_let(cc *c, const cryo_node *n) {
    int r = cc_alloc(c, n);
    if (n->a)
        cc_expr(c, n->a, r);
    else
        cc_emit(c, CRYO_ABC(OP_LOADUNIT, r, 0, 0), n);
    cc_declare(c, n->name, n->len, r, n->ival != 0, n, 0, n);
    if (c->fs->is_main && n->ival == 1) publish_env(c, n);
}

static void load_unit(cc *c, int dst, const cryo_node *n) {
    if (dst != NO_REG) cc_emit(c, CRYO_ABC(OP_LOADUNIT, dst, 0, 0), n);
}

/* Statements whose value is always () (and that produce none when dst is NO_REG). */
static bool is_unit_stmt(const cryo_node *n) {
    switch (n->kind) {
    case N_LET:
    case N_FNDEF:
    case N_BREAK:
    case N_CONTINUE:
    case N_RETURN:
    case N_THROW: return true;
    default: return false;
    }
}

static void compile_stmt(cc *c, const cryo_node *n, int dst) {
    if (n->kind == N_LET) {
        compile_let(c, n);
        load_unit(c, dst, n);
    } else if (n->kind == N_FNDEF) {
        /* the parser collects fns; a nested one is a misuse */
        cc_error(c, n, "functions can only be defined at global level");
        load_unit(c, dst, n);
    } else {
        cc_expr(c, n, dst);
    }
}

void cc_stmt_block(cc *c, const cryo_node *n, int dst) {
    cc_fn *fs = c->fs;
    int nloc = fs->nlocals, mark = fs->freereg;
    for (int i = 0; i < n->nlist; i++) {
        const cryo_node *s = n->list[i];
        bool last = i == n->nlist - 1;
        /* Rhai: the last statement gives the block's value even when ';' ends it */
        if (last && !is_unit_stmt(s))
            compile_stmt(c, s, dst);
        else {
            compile_stmt(c, s, NO_REG);
            if (last) load_unit(c, dst, n);
        }
    }
    if (n->nlist == 0) load_unit(c, dst, n);
    pop_locals(fs, nloc);
    cc_free_to(c, mark);
}

/* --- control flow ---------------------------------------------------------------------------- */

/* Compiles a condition and returns the register holding it. */
static int cond_reg(cc *c, const cryo_node *n) {
    return cc_expr_any(c, n);
}

static void compile_if(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int r = cond_reg(c, n->a);
    int jf = cc_emit_jump(c, OP_JMPF, r, n);
    cc_free_to(c, mark);
    cc_expr(c, n->b, dst);
    if (!n->c && dst == NO_REG) {
        cc_patch(c, jf, cc_pc(c));
        return;
    }
    int jend = cc_emit_jump(c, OP_JMP, 0, n);
    cc_patch(c, jf, cc_pc(c));
    if (n->c)
        cc_expr(c, n->c, dst);
    else
        load_unit(c, dst, n);
    cc_patch(c, jend, cc_pc(c));
}

static void loop_push(cc *c, cc_loop *l, int result_reg) {
    memset(l, 0, sizeof *l);
    l->prev = c->fs->loop;
    l->result_reg = result_reg;
    l->try_depth = c->fs->try_depth;
    c->fs->loop = l;
}

static void add_jump(cc *c, int **arr, int *n, int *cap, int pc) {
    uint32_t ucap = (uint32_t)*cap;
    if (!grow(c, (void **)arr, &ucap, (uint32_t)*n + 1, sizeof **arr)) return;
    *cap = (int)ucap;
    (*arr)[(*n)++] = pc;
}

static void loop_pop(cc *c, cc_loop *l, int cont_target, int end_target) {
    for (int i = 0; i < l->nconts; i++)
        cc_patch(c, l->conts[i], cont_target);
    for (int i = 0; i < l->nbreaks; i++)
        cc_patch(c, l->breaks[i], end_target);
    free(l->conts);
    free(l->breaks);
    c->fs->loop = l->prev;
}

static void compile_while(cc *c, const cryo_node *n, int dst) {
    cc_loop l;
    load_unit(c, dst, n); /* `break v` may replace it */
    loop_push(c, &l, dst);
    int start = cc_pc(c);
    int mark = c->fs->freereg;
    int r = cond_reg(c, n->a);
    int jf = cc_emit_jump(c, OP_JMPF, r, n);
    cc_free_to(c, mark);
    cc_expr(c, n->b, NO_REG);
    cc_emit_jump_to(c, OP_JMP, 0, start, n);
    cc_patch(c, jf, cc_pc(c));
    loop_pop(c, &l, start, cc_pc(c));
}

static void compile_loop(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int res = dst != NO_REG ? dst : cc_alloc(c, n);
    cc_loop l;
    loop_push(c, &l, res);
    int start = cc_pc(c);
    cc_expr(c, n->b, NO_REG);
    cc_emit_jump_to(c, OP_JMP, 0, start, n);
    loop_pop(c, &l, start, cc_pc(c));
    cc_free_to(c, mark);
}

static void compile_do(cc *c, const cryo_node *n, int dst) {
    cc_loop l;
    load_unit(c, dst, n);
    loop_push(c, &l, dst);
    int start = cc_pc(c);
    cc_expr(c, n->b, NO_REG);
    int cont = cc_pc(c);
    int mark = c->fs->freereg;
    int r = cond_reg(c, n->a);
    /* `while`: leave when false; `until`: leave when true. The back edge is a JMP so that it
     * polls the interrupt flag. */
    int jx = cc_emit_jump(c, n->ival ? OP_JMPT : OP_JMPF, r, n);
    cc_free_to(c, mark);
    cc_emit_jump_to(c, OP_JMP, 0, start, n);
    cc_patch(c, jx, cc_pc(c));
    loop_pop(c, &l, cont, cc_pc(c));
}

/* A loop variable that a closure captures is one cell for the whole loop, updated each
 * iteration (Rhai: closures made in different iterations see the last value). */
static int for_var(cc *c, const cryo_node *n, int slot, int item) {
    const char *name = slot ? n->name2 : n->name;
    size_t len = slot ? n->len2 : n->len;
    if (!keyset_has(&c->captured, n, slot)) {
        cc_declare(c, name, len, item, false, n, slot, n);
        return -1;
    }
    int r = cc_alloc(c, n);
    cc_emit(c, CRYO_ABC(OP_LOADUNIT, r, 0, 0), n);
    cc_declare(c, name, len, r, false, n, slot, n);
    return r;
}

static void compile_for(cc *c, const cryo_node *n, int dst) {
    cc_fn *fs = c->fs;
    int mark = fs->freereg, nloc = fs->nlocals;
    load_unit(c, dst, n);
    int base = cc_alloc_n(c, 4, n);
    cc_expr(c, n->a, base);
    int cell_reg[2];
    cell_reg[0] = for_var(c, n, 0, base + 2);
    cell_reg[1] = n->name2 ? for_var(c, n, 1, base + 3) : -1;
    int prep = cc_emit_jump(c, OP_ITERPREP, base, n);
    cc_loop l;
    loop_push(c, &l, dst);
    int body = cc_pc(c);
    for (int i = 0; i < 2; i++)
        if (cell_reg[i] >= 0) cc_emit(c, CRYO_ABC(OP_SETCELL, cell_reg[i], base + 2 + i, 0), n);
    cc_expr(c, n->b, NO_REG);
    pop_locals(fs, nloc);
    int next = cc_pc(c);
    cc_patch(c, prep, next);
    cc_emit_jump_to(c, OP_ITERNEXT, base, body, n);
    loop_pop(c, &l, next, cc_pc(c));
    cc_free_to(c, mark);
}

static void emit_endtries(cc *c, int down_to, const cryo_node *n) {
    for (int i = c->fs->try_depth; i > down_to; i--)
        cc_emit(c, CRYO_ABC(OP_ENDTRY, 0, 0, 0), n);
}

static void compile_break(cc *c, const cryo_node *n) {
    cc_loop *l = c->fs->loop;
    if (!l) {
        cc_error(c, n, "'%s' outside of a loop", n->kind == N_BREAK ? "break" : "continue");
        return;
    }
    if (n->kind == N_BREAK) {
        if (n->a) {
            int mark = c->fs->freereg;
            cc_expr(c, n->a, l->result_reg);
            cc_free_to(c, mark);
        } else if (l->result_reg != NO_REG) {
            load_unit(c, l->result_reg, n);
        }
    }
    emit_endtries(c, l->try_depth, n);
    int j = cc_emit_jump(c, OP_JMP, 0, n);
    if (n->kind == N_BREAK)
        add_jump(c, &l->breaks, &l->nbreaks, &l->capbreaks, j);
    else
        add_jump(c, &l->conts, &l->nconts, &l->capconts, j);
}

/* --- values in return position: each path ends in its own RET (no MOVE + JMP to a shared
 * RET), which matters for small recursive functions --------------------------------------- */

static void emit_ret0(cc *c, const cryo_node *n) {
    emit_endtries(c, 0, n);
    cc_emit(c, CRYO_ABC(OP_RET0, 0, 0, 0), n);
}

static void ret_block(cc *c, const cryo_node *n) {
    cc_fn *fs = c->fs;
    int nloc = fs->nlocals, mark = fs->freereg;
    for (int i = 0; i < n->nlist; i++) {
        const cryo_node *s = n->list[i];
        bool last = i == n->nlist - 1;
        if (last && !is_unit_stmt(s)) {
            ret_expr(c, s);
        } else {
            compile_stmt(c, s, NO_REG);
            if (last && s->kind != N_RETURN) emit_ret0(c, n);
        }
    }
    if (n->nlist == 0) emit_ret0(c, n);
    pop_locals(fs, nloc);
    cc_free_to(c, mark);
}

static void ret_if(cc *c, const cryo_node *n) {
    int mark = c->fs->freereg;
    int r = cond_reg(c, n->a);
    int jf = cc_emit_jump(c, OP_JMPF, r, n);
    cc_free_to(c, mark);
    ret_expr(c, n->b);
    cc_patch(c, jf, cc_pc(c));
    if (n->c)
        ret_expr(c, n->c);
    else
        emit_ret0(c, n);
}

static void ret_expr(cc *c, const cryo_node *n) {
    if (n->kind == N_BLOCK) {
        ret_block(c, n);
        return;
    }
    if (n->kind == N_IF) {
        ret_if(c, n);
        return;
    }
    int mark = c->fs->freereg;
    int r = cc_expr_any(c, n);
    emit_endtries(c, 0, n);
    cc_emit(c, CRYO_ABC(OP_RET, r, 0, 0), n);
    cc_free_to(c, mark);
}

static void compile_return(cc *c, const cryo_node *n) {
    if (n->a)
        ret_expr(c, n->a);
    else
        emit_ret0(c, n);
}

static void compile_throw(cc *c, const cryo_node *n) {
    int mark = c->fs->freereg;
    if (!n->a && c->fs->catch_depth > 0) {
        cc_emit(c, CRYO_ABC(OP_THROW, 0, 1, 0), n);
        return;
    }
    int r;
    if (n->a)
        r = cc_expr_any(c, n->a);
    else {
        r = cc_alloc(c, n);
        cc_emit(c, CRYO_ABC(OP_LOADUNIT, r, 0, 0), n);
    }
    cc_emit(c, CRYO_ABC(OP_THROW, r, 0, 0), n);
    cc_free_to(c, mark);
}

static void compile_try(cc *c, const cryo_node *n, int dst) {
    cc_fn *fs = c->fs;
    int mark = fs->freereg, nloc = fs->nlocals;
    int er = cc_alloc(c, n);
    int t = cc_emit_jump(c, OP_TRY, er, n);
    fs->try_depth++;
    cc_expr(c, n->a, dst);
    fs->try_depth--;
    cc_emit(c, CRYO_ABC(OP_ENDTRY, 0, 0, 0), n);
    int jend = cc_emit_jump(c, OP_JMP, 0, n);
    cc_patch(c, t, cc_pc(c));
    if (n->name) cc_declare(c, n->name, n->len, er, false, n, 0, n);
    fs->catch_depth++;
    cc_expr(c, n->b, dst);
    fs->catch_depth--;
    cc_patch(c, jend, cc_pc(c));
    pop_locals(fs, nloc);
    cc_free_to(c, mark);
}

/* One arm's alternatives: jumps (added to `jumps`) to the arm when the subject equals one of
 * them, or is an int inside a range alternative (Rhai: a non-int subject is compared with the
 * range by equality instead — `isint` tells which). */
static void case_tests(cc *c, const cryo_node *arm, int subj, int isint, int *jumps, int *nj) {
    for (int i = 0; i < arm->nlist; i++) {
        const cryo_node *alt = arm->list[i];
        int mark = c->fs->freereg;
        int t = cc_alloc(c, alt);
        int v = cc_expr_any(c, alt);
        if (alt->kind == N_RANGE) {
            /* an int subject must lie in the range; any other must equal it */
            int not_int = cc_emit_jump(c, OP_JMPF, isint, alt);
            cc_emit(c, CRYO_ABC(OP_IN, t, subj, v), alt);
            int done = cc_emit_jump(c, OP_JMP, 0, alt);
            cc_patch(c, not_int, cc_pc(c));
            cc_emit(c, CRYO_ABC(OP_EQ, t, subj, v), alt);
            cc_patch(c, done, cc_pc(c));
        } else {
            cc_emit(c, CRYO_ABC(OP_EQ, t, subj, v), alt);
        }
        jumps[(*nj)++] = cc_emit_jump(c, OP_JMPT, t, alt);
        cc_free_to(c, mark);
    }
}

/* isint = type_of(subject) == "i64", computed once when some arm has a range. */
static int switch_isint(cc *c, const cryo_node *n, int subj) {
    bool ranges = false;
    for (int i = 0; i < n->nlist && !ranges; i++)
        for (int j = 0; j < n->list[i]->nlist; j++)
            if (n->list[i]->list[j]->kind == N_RANGE) ranges = true;
    if (!ranges) return -1;
    int r = cc_alloc_n(c, 2, n);
    cc_emit(c, CRYO_ABC(OP_MOVE, r + 1, subj, 0), n);
    cc_emit(c, CRYO_ABC(OP_CALLH, r + 1, 1, 0), n);
    cc_emit(c, CRYO_EXTRA(cc_host_slot(c, "type_of", 7, 1), 0, CRYO_RECV_NONE), n);
    cc_emit(c, CRYO_ABX(OP_LOADK, r, cc_const_str(c, "i64", 3)), n);
    cc_emit(c, CRYO_ABC(OP_EQ, r, r, r + 1), n);
    cc_free_to(c, r + 1);
    return r;
}

static void compile_switch(cc *c, const cryo_node *n, int dst) {
    int mark = c->fs->freereg;
    int subj = cc_expr_any(c, n->a);
    int isint = switch_isint(c, n, subj);
    int *ends = calloc((size_t)n->nlist + 1, sizeof *ends);
    int maxalts = 1;
    for (int i = 0; i < n->nlist; i++)
        if (n->list[i]->nlist > maxalts) maxalts = n->list[i]->nlist;
    int *jumps = calloc((size_t)maxalts, sizeof *jumps);
    if (!ends || !jumps) {
        free(ends);
        free(jumps);
        c->oom = true;
        return;
    }
    int nends = 0;
    for (int i = 0; i < n->nlist; i++) {
        const cryo_node *arm = n->list[i];
        int nj = 0, skip = -1, guard = -1;
        if (arm->nlist > 0) {
            case_tests(c, arm, subj, isint, jumps, &nj);
            skip = cc_emit_jump(c, OP_JMP, 0, arm);
        }
        for (int j = 0; j < nj; j++)
            cc_patch(c, jumps[j], cc_pc(c));
        if (arm->b) {
            int gm = c->fs->freereg;
            int g = cond_reg(c, arm->b);
            guard = cc_emit_jump(c, OP_JMPF, g, arm->b);
            cc_free_to(c, gm);
        }
        cc_expr(c, arm->c, dst);
        ends[nends++] = cc_emit_jump(c, OP_JMP, 0, arm);
        if (skip >= 0) cc_patch(c, skip, cc_pc(c));
        if (guard >= 0) cc_patch(c, guard, cc_pc(c));
    }
    load_unit(c, dst, n);
    for (int i = 0; i < nends; i++)
        cc_patch(c, ends[i], cc_pc(c));
    free(ends);
    free(jumps);
    cc_free_to(c, mark);
}

void cc_control(cc *c, const cryo_node *n, int dst) {
    switch (n->kind) {
    case N_BLOCK: cc_stmt_block(c, n, dst); break;
    case N_IF: compile_if(c, n, dst); break;
    case N_SWITCH: compile_switch(c, n, dst); break;
    case N_WHILE: compile_while(c, n, dst); break;
    case N_LOOP: compile_loop(c, n, dst); break;
    case N_DO: compile_do(c, n, dst); break;
    case N_FOR: compile_for(c, n, dst); break;
    case N_TRY: compile_try(c, n, dst); break;
    case N_BREAK:
    case N_CONTINUE: compile_break(c, n); break;
    case N_RETURN: compile_return(c, n); break;
    case N_THROW: compile_throw(c, n); break;
    case N_CLOSURE: cc_closure(c, n, dst); break;
    case N_LET:
    case N_FNDEF: compile_stmt(c, n, dst); break;
    default: cc_error(c, n, "internal error: unexpected node kind %d", (int)n->kind); break;
    }
}

/* --- driver ----------------------------------------------------------------------------------- */

/* The host's max_functions limit: a parse error at the first definition past it, as Rhai's
 * TooManyFunctions (it is a property of the source, known before anything runs). */
static bool within_max_functions(cc *c) {
    int max = c->opts ? c->opts->max_functions : 0;
    if (max <= 0 || c->ast->nfns <= max) return true;
    const cryo_node *fn = c->ast->fns[max];
    cryo_error *e =
        cl_error_new(CRYO_ERR_PARSE, c->source_name, fn->line, fn->column,
                     "too many functions: the script defines %d, the limit is %d (function '%s')",
                     c->ast->nfns, max, fn->name);
    c->nerrors++;
    if (e)
        cl_error_append(c->errors, e);
    else
        c->oom = true;
    return false;
}

static bool register_fns(cc *c) {
    cryo_unit *u = c->u;
    const cryo_ast *ast = c->ast;
    if (ast->nfns == 0) return true;
    if (!within_max_functions(c)) return false;
    u->fns = calloc((size_t)ast->nfns, sizeof *u->fns);
    c->fn_nodes = calloc((size_t)ast->nfns, sizeof *c->fn_nodes);
    uint32_t slots = 16;
    while (slots < 2 * (uint32_t)ast->nfns)
        slots *= 2;
    c->fn_slots = calloc(slots, sizeof *c->fn_slots);
    c->fn_mask = slots - 1;
    c->typed = malloc((size_t)ast->nfns * sizeof *c->typed);
    if (!u->fns || !c->fn_nodes || !c->fn_slots || !c->typed) {
        c->oom = true;
        return false;
    }
    for (int i = 0; i < ast->nfns; i++) {
        const cryo_node *fn = ast->fns[i];
        if (cc_fn_index(c, fn->name, fn->len, (uint32_t)fn->nlist) >= 0) {
            cc_error(c, fn, "function '%.*s' with %d parameter%s is already defined", (int)fn->len,
                     fn->name, fn->nlist, fn->nlist == 1 ? "" : "s");
            continue;
        }
        int pi = new_proto(c, fn->name, fn->len, fn->line);
        char *nm = dupn(c, fn->name, fn->len);
        if (pi < 0 || !nm) {
            free(nm);
            return false;
        }
        c->fn_nodes[u->nfns] = fn;
        u->fns[u->nfns] = (cryo_fndef){nm, (uint32_t)fn->nlist, (uint32_t)pi, fn->op != 0};
        fn_index_add(c, u->nfns++);
    }
    return true;
}

static void add_error(cryo_error **chain, cryo_error_kind kind, const char *src, const char *msg) {
    cryo_error *e = cl_error_new(kind, src, 0, 0, "%s", msg);
    if (e) cl_error_append(chain, e);
}

static void compile_main(cc *c) {
    cc_fn fs;
    fs_open(c, &fs, c->u->protos[0], false);
    fs.is_main = 1;
    const cryo_compile_options *o = c->opts;
    int ng = o ? o->nglobals : 0;
    if (ng > CRYO_MAX_REGS - 1) {
        cc_error(c, c->ast->main, "too many globals");
        ng = CRYO_MAX_REGS - 1;
    }
    cc_alloc_n(c, ng, c->ast->main);
    for (int i = 0; i < ng; i++) {
        bool k = o->global_is_const && o->global_is_const[i];
        cc_declare(c, o->globals[i], strlen(o->globals[i]), i, k, c, i, c->ast->main);
    }
    ret_expr(c, c->ast->main);
    fs_close(c, &fs);
}

cryo_unit *cl_compile_ast(const cryo_ast *ast, const cryo_compile_options *opts,
                          cryo_error **errors) {
    cryo_error *local_errs = NULL;
    cc c;
    memset(&c, 0, sizeof c);
    c.ast = ast;
    c.opts = opts;
    c.source_name = opts ? opts->source_name : NULL;
    c.errors = errors ? errors : &local_errs;
    c.u = calloc(1, sizeof *c.u);
    if (!ast || !ast->main || !c.u) {
        free(c.u);
        bool no_tree = !ast || !ast->main;
        add_error(c.errors, no_tree ? CRYO_ERR_API : CRYO_ERR_MEMORY, c.source_name,
                  no_tree ? "cl_compile_ast: no syntax tree" : "out of memory");
        return NULL;
    }
    atomic_init(&c.u->refcount, 1);
    c.u->nglobals = opts && opts->nglobals > 0 ? (uint32_t)opts->nglobals : 0;
    if (opts && opts->source_name)
        c.u->source_name = dupn(&c, opts->source_name, strlen(opts->source_name));
    new_proto(&c, "main", 4, 1);
    if (!c.oom && register_fns(&c)) {
        resolve_pass(&c);
        compile_main(&c);
        for (uint32_t i = 0; i < c.u->nfns && !c.oom; i++)
            compile_fndef(&c, c.fn_nodes[i], (int)c.u->fns[i].proto);
    }
    free(c.fn_nodes);
    free(c.fn_slots);
    free(c.typed);
    free(c.envs);
    free(c.env_used);
    free(c.captured.p);
    free(c.captured.slot);
    free(c.moves.p);
    free(c.moves.slot);
    if (c.oom) add_error(c.errors, CRYO_ERR_MEMORY, c.source_name, "out of memory while compiling");
    if (c.oom || c.nerrors) {
        cl_unit_destroy(c.u);
        if (!errors) cryo_error_free(local_errs);
        return NULL;
    }
    return c.u;
}
