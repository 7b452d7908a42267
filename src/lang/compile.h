/*
 * compile.h — internal interface between the compiler's halves: compile.c (driver, scopes,
 * statements and control flow) and compile_expr.c (expressions, calls, assignments).
 *
 * Register discipline: locals occupy registers in declaration order; temporaries live above
 * them and are freed LIFO by resetting `freereg` to a saved mark. A destination register of
 * NO_REG means "value not needed".
 */
#ifndef CRYO_COMPILE_H
#define CRYO_COMPILE_H

#include "ast.h"
#include "unit.h"

#define NO_REG (-1)

/* Expression nesting the compiler accepts: the parser bounds most nesting, but left-leaning
 * operator chains (`a + b + c + ...`) are built iteratively and can be arbitrarily deep; this
 * keeps the compiler's recursion (and C stack) bounded. */
#define CC_MAX_DEPTH (4 * CRYO_MAX_PARSE_DEPTH)

typedef struct cc_local {
    const char *name;
    size_t len;
    uint8_t reg;
    uint8_t is_const;
    uint8_t is_cell;
    int dbg; /* its entry in the proto's local names (cryo_localinfo), or -1 */
} cc_local;

typedef struct cc_loop {
    struct cc_loop *prev;
    int *breaks; /* pcs of JMPs to patch to the loop's end */
    int nbreaks, capbreaks;
    int *conts; /* pcs of JMPs to patch to the continue target */
    int nconts, capconts;
    int result_reg; /* where `break v` puts v (a `loop`), or NO_REG */
    int try_depth;  /* handlers active when the loop started */
} cc_loop;

typedef struct cc_fn {
    struct cc_fn *parent;
    cryo_proto *p;
    uint32_t capcode, capk, capcaps, capconst;
    uint8_t *cap_const; /* per capture: the captured variable is a constant */
    cc_local *locals;
    int nlocals;
    uint32_t caplocals;
    uint32_t capdbg; /* capacity of p->locals */
    int freereg;
    int try_depth;   /* TRY handlers active at this point of the code */
    int catch_depth; /* inside a catch block: `throw;` re-raises */
    cc_loop *loop;
    uint8_t is_closure;
    uint8_t is_main;
    uint8_t reg_error; /* "expression too complex" already reported */
} cc_fn;

/* A set of declarations (let, param, for/catch variable, global) captured by some closure, or
 * of call arguments that move, keyed by (node, slot). */
typedef struct cc_keyset {
    const void **p;
    int *slot;
    uint32_t cap, n;
} cc_keyset;

/* The postfix chain being compiled that holds `?.` / `?[` steps: their JMPUs, patched at the
 * chain's end (see CRYO_ELVIS_* in ast.h). */
typedef struct cc_elvis {
    struct cc_elvis *prev;
    int *jumps;
    int n, cap;
} cc_elvis;

typedef struct cc {
    const cryo_ast *ast;
    const cryo_compile_options *opts;
    const char *source_name;
    cryo_unit *u;
    uint32_t capprotos;
    const cryo_node **fn_nodes; /* parallel to u->fns */
    cryo_error **errors;
    int nerrors;
    bool oom;
    cc_fn *fs;
    cc_keyset captured;
    cc_keyset moves; /* N_VAR call arguments that are their local's last use (resolve pass) */
    int nanon;
    int depth;       /* cc_expr nesting */
    bool too_deep;   /* reported once */
    cc_elvis *elvis; /* innermost open chain with Elvis steps, or NULL */
    /* Script functions by name (open addressing, u->fns index + 1, 0 = empty; see
     * cc_fn_index): a call site looks its callee up in O(1), not by scanning u->fns. */
    uint32_t *fn_slots;
    uint32_t fn_mask;
    /* u->fns indexes of the typed methods (`fn T.name`), ascending: the only ones a method
     * call site must consider for type dispatch. */
    uint32_t *typed;
    uint32_t ntyped;
    /* The top-level `const` statements (import aliases included): the environment a fn sees
     * (VK_ENV). env_used[i]: some fn (or a `global::`) reads envs[i], so the top level
     * publishes it with `$setenv` when it runs. */
    const cryo_node **envs;
    uint8_t *env_used;
    int nenvs;
} cc;

/* How a name resolves. */
/* VK_ENV: a top-level `const` or `import .. as` alias of the unit, seen from a fn (or a
 * closure inside one): read at run time with the `$env` intrinsic (vm/module.c). */
typedef enum { VK_NONE, VK_LOCAL, VK_CELL, VK_UPV, VK_ENV } cc_varkind;
typedef struct cc_var {
    cc_varkind kind;
    int index; /* register, or capture index */
    bool is_const;
} cc_var;

/* --- compile.c ------------------------------------------------------------------------------ */
void cc_error(cc *c, const cryo_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cc_emit(cc *c, cryo_instr ins, const cryo_node *n);
int cc_pc(cc *c);
void cc_patch(cc *c, int at, int target); /* jump at `at` now goes to `target` */
int cc_emit_jump(cc *c, cryo_opcode op, int a, const cryo_node *n); /* target patched later */
void cc_emit_jump_to(cc *c, cryo_opcode op, int a, int target, const cryo_node *n);
int cc_alloc(cc *c, const cryo_node *n); /* a fresh temp register */
int cc_alloc_n(cc *c, int count, const cryo_node *n);
void cc_free_to(cc *c, int mark);
int cc_const_int(cc *c, int64_t v);
int cc_const_float(cc *c, double v);
int cc_const_char(cc *c, uint32_t v);
int cc_const_str(cc *c, const char *s, size_t len);
/* Whether `name` is a variable in scope here, without capturing it. */
bool cc_name_visible(cc *c, const char *name, size_t len);
cc_var cc_resolve_at(cc *c, const char *name, size_t len, const cryo_node *n);
/* Whether the N_VAR call argument n is its local's last use (nothing reads it after the call). */
bool cc_is_last_use(const cc *c, const cryo_node *n);
void cc_mark_assigned(cc *c, cc_fn *fs, int cap);
int cc_find_fn(cc *c, const char *name, size_t len, uint32_t arity);
/* The u->fns index of the script function `name` with `arity` parameters (CC_ANY_ARITY: any),
 * or -1. Same answer as cl_unit_find_fn, through the compiler's hash index. */
#define CC_ANY_ARITY UINT32_MAX
int cc_fn_index(const cc *c, const char *name, size_t len, uint32_t arity);
int cc_host_slot(cc *c, const char *name, size_t len, uint32_t arity);
void cc_declare(cc *c, const char *name, size_t len, int reg, bool is_const, const void *key,
                int slot, const cryo_node *n);
void cc_stmt_block(cc *c, const cryo_node *n, int dst); /* also compile.c: control flow */
void cc_control(cc *c, const cryo_node *n, int dst);    /* if/switch/loops/try/... */
void cc_closure(cc *c, const cryo_node *n, int dst);

/* --- compile_expr.c ------------------------------------------------------------------------- */
/* Compiles `n` so that its value ends up in `dst` (NO_REG: evaluated for effect only). */
void cc_expr(cc *c, const cryo_node *n, int dst);
/* Compiles `n` into some register and returns it: a plain local's own register, or a new temp
 * (free with cc_free_to). */
int cc_expr_any(cc *c, const cryo_node *n);
/* True when compiling `n` straight into an existing local's register is safe (the register is
 * written only after every operand has been read). */
bool cc_dest_safe(const cryo_node *n);

#endif
