/*
 * parse.c — recursive-descent parser from tokens (lex.c) to the tree of ast.h.
 *
 * Binary operator precedence, low to high, as the Rhai book's "Operator Precedence" table
 * gives it (its 0-255 numbers are used directly):
 *    30  ||  |  ^        left
 *    60  &&  &           left
 *    90  ==  !=          left
 *   110  in  !in         left
 *   130  <  <=  >  >=    left
 *   135  ??              left (null-coalescing: b is evaluated only when a is ())
 *   140  ..  ..=         left; either end may be missing (`..5`, `2..`, `..`)
 *   150  +  -            left
 *   180  *  /  %         left
 *   190  **              right
 *   210  <<  >>          left
 * then the prefix operators - + ! (tighter than every binary operator: -2 ** 2 is 4) and
 * the postfix . [] () (tightest). Inside switch case values `|` separates alternatives and
 * is not an operator.
 *
 * Rhai details followed: `if`, `switch`, loops, `try` and blocks at the start of a statement
 * are statements (no operator continues them) and need no `;`; assignment is a statement,
 * never an expression; literal `-5` folds to one integer node; index literals of the wrong
 * type on array/map/string literals and bad switch case layouts are parse errors.
 *
 * Errors: a syntax error sets `panic`; every parse function then returns at once up to the
 * nearest statement list, which skips to the next `;` or `}` and carries on, so every
 * statement with an error reports one. Semantic errors (duplicate parameter, ...) do not
 * stop parsing. The tree is only returned when there was no error at all.
 */
#include "lex.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vec {
    cryo_node **v;
    int n, cap;
} vec;

typedef struct parser {
    cryo_token *t;
    int ntok, pos;
    cryo_arena *arena;
    cryo_error *errors;
    cryo_error **err_tail; /* appending at the tail keeps thousands of errors linear */
    const char *name;
    bool panic, oom, expr_only, no_pipe;
    int depth;
    int sync_stop; /* token index where the last recovery stopped on a '}' */
    vec fns;
    vec pending;      /* statements a statement adds after itself (export, module aliases) */
    bool uses_global; /* some `global::X` was read: top-level constants are published */
    cryo_node dummy;  /* stands in for nodes when the arena is out of memory */
    /* The signatures (name, parameter count) in `fns`, for the duplicate-definition check in
     * O(1) (fn_seen_count): open addressing, fns index + 1 (0 = empty) per distinct
     * signature, with how many of `fns` have it. `seen_upto` = fns entered so far. */
    struct fn_seen {
        uint32_t idx1, count;
    } * seen;
    uint32_t seen_cap, seen_n;
    int seen_upto;
} parser;

/* ---------------------------------------------------------------------------------------
 * Tokens, nodes, errors
 * ------------------------------------------------------------------------------------- */

static cryo_token *cur(parser *p) {
    return &p->t[p->pos];
}
static cryo_tok ctype(parser *p) {
    return p->t[p->pos].type;
}
static cryo_tok peek_type(parser *p, int k) {
    int i = p->pos + k;
    return i < p->ntok ? p->t[i].type : T_EOF;
}
static void next(parser *p) {
    if (p->pos < p->ntok - 1) p->pos++;
}
static bool at(parser *p, cryo_tok t) {
    return ctype(p) == t;
}
static bool accept(parser *p, cryo_tok t) {
    if (!at(p, t)) return false;
    next(p);
    return true;
}

static void add_error(parser *p, int line, int col, const char *msg) {
    cryo_error *e = cl_error_new(CRYO_ERR_PARSE, p->name, line, col, "%s", msg);
    if (!e) {
        p->oom = true;
        return;
    }
    while (*p->err_tail)
        p->err_tail = &(*p->err_tail)->next;
    *p->err_tail = e;
}

/* A syntax error: reported unless we are already recovering, and starts recovery. Errors at
 * a T_ERROR token were already reported by the lexer. */
static void syntax_error(parser *p, const cryo_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void syntax_error(parser *p, const cryo_token *t, const char *fmt, ...) {
    if (p->panic) return;
    p->panic = true;
    if (t->type == T_ERROR) return;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_error(p, t->line, t->column, msg);
}

/* An error that leaves the token stream in a good state: parsing goes on. */
static void semantic_error(parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void semantic_error(parser *p, int line, int col, const char *fmt, ...) {
    if (p->panic) return;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_error(p, line, col, msg);
}

static void expected(parser *p, const char *what) {
    char found[64];
    cl_tok_describe(cur(p), found, sizeof found);
    syntax_error(p, cur(p), "expected %s but found %s", what, found);
}

static bool expect(parser *p, cryo_tok t, const char *what) {
    if (accept(p, t)) return true;
    expected(p, what);
    return false;
}

static cryo_node *new_node(parser *p, cryo_node_kind kind, const cryo_token *t) {
    cryo_node *n = cl_arena_alloc(p->arena, sizeof *n);
    if (!n) {
        p->oom = true;
        n = &p->dummy;
        memset(n, 0, sizeof *n);
    }
    n->kind = kind;
    n->line = t->line;
    n->column = t->column;
    return n;
}

static cryo_node *new_node_at(parser *p, cryo_node_kind kind, const cryo_node *pos) {
    cryo_token t = {.line = pos->line, .column = pos->column};
    return new_node(p, kind, &t);
}

static cryo_node *error_node(parser *p) {
    return new_node(p, N_UNIT, cur(p));
}

static void vec_push(parser *p, vec *v, cryo_node *n) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        cryo_node **nv = realloc(v->v, (size_t)cap * sizeof *nv);
        if (!nv) {
            p->oom = true;
            return;
        }
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = n;
}

/* Moves the collected nodes into the arena as `n`'s list. */
static void vec_finish(parser *p, vec *v, cryo_node *n) {
    if (v->n > 0) {
        cryo_node **l = cl_arena_alloc(p->arena, (size_t)v->n * sizeof *l);
        if (l) {
            memcpy(l, v->v, (size_t)v->n * sizeof *l);
            n->list = l;
            n->nlist = v->n;
        } else {
            p->oom = true;
        }
    }
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

/* Counts one level of nesting; past the limit it is a syntax error. Always pair with
 * p->depth-- whatever the result. */
static bool enter(parser *p) {
    if (++p->depth <= CRYO_MAX_PARSE_DEPTH) return true;
    syntax_error(p, cur(p), "expression or block nested too deeply (more than %d levels)",
                 CRYO_MAX_PARSE_DEPTH);
    return false;
}

/* ---------------------------------------------------------------------------------------
 * Expressions
 * ------------------------------------------------------------------------------------- */

static cryo_node *parse_expr(parser *p);
static cryo_node *parse_binary(parser *p, int min_prec);
static cryo_node *parse_unary(parser *p);
static cryo_node *parse_block(parser *p);
static cryo_node *parse_if(parser *p);
static cryo_node *parse_switch(parser *p);
static cryo_node *parse_while(parser *p);
static cryo_node *parse_loop(parser *p);
static cryo_node *parse_do(parser *p);
static cryo_node *parse_for(parser *p);
static cryo_node *parse_try(parser *p);
static cryo_node *parse_simple_stmt(parser *p);
static void parse_stmts(parser *p, cryo_node *block, cryo_tok end, bool top);

/* Tokens that can begin an expression (used where an expression is optional). */
static bool starts_expr(cryo_tok t) {
    switch (t) {
    case T_INT:
    case T_FLOAT:
    case T_CHAR:
    case T_STRING:
    case T_INTERP_BEGIN:
    case T_IDENT:
    case T_THIS:
    case T_TRUE:
    case T_FALSE:
    case T_LPAREN:
    case T_LBRACKET:
    case T_MAPSTART:
    case T_MINUS:
    case T_PLUS:
    case T_BANG:
    case T_PIPE:
    case T_OROR:
    case T_IF:
    case T_SWITCH:
    case T_WHILE:
    case T_LOOP:
    case T_DO:
    case T_FOR:
    case T_TRY:
    case T_LBRACE:
    case T_DOTDOT:
    case T_DOTDOTEQ:
    case T_ERROR: return true;
    default: return false;
    }
}

/* The end of an open range must not swallow the body of `for x in 0.. { }`. */
static bool starts_range_end(cryo_tok t) {
    return starts_expr(t) && t != T_LBRACE && t != T_DOTDOT && t != T_DOTDOTEQ;
}

/* An expression inside brackets, where `|` is an operator again. */
static cryo_node *parse_expr_nested(parser *p) {
    bool saved = p->no_pipe;
    p->no_pipe = false;
    cryo_node *e = parse_expr(p);
    p->no_pipe = saved;
    return e;
}

static cryo_node *parse_expr(parser *p) {
    return parse_binary(p, 0);
}

/* Binding power of the binary operator `t` (0: not one); *kind and *op describe the node. */
static int binop_info(parser *p, cryo_tok t, cryo_node_kind *kind, int *op) {
    *kind = N_BINARY;
    switch (t) {
    case T_OROR:
        *kind = N_OR;
        *op = 0;
        return 30;
    case T_PIPE: *op = BOP_BOR; return p->no_pipe ? 0 : 30;
    case T_CARET: *op = BOP_BXOR; return 30;
    case T_ANDAND:
        *kind = N_AND;
        *op = 0;
        return 60;
    case T_AMP: *op = BOP_BAND; return 60;
    case T_EQEQ: *op = BOP_EQ; return 90;
    case T_NE: *op = BOP_NE; return 90;
    case T_IN: *op = BOP_IN; return 110;
    case T_NOTIN: *op = BOP_NOTIN; return 110;
    case T_LT: *op = BOP_LT; return 130;
    case T_LE: *op = BOP_LE; return 130;
    case T_GT: *op = BOP_GT; return 130;
    case T_GE: *op = BOP_GE; return 130;
    case T_QQ:
        *kind = N_COALESCE;
        *op = 0;
        return 135;
    case T_DOTDOT:
        *kind = N_RANGE;
        *op = 0;
        return 140;
    case T_DOTDOTEQ:
        *kind = N_RANGE;
        *op = 1;
        return 140;
    case T_PLUS: *op = BOP_ADD; return 150;
    case T_MINUS: *op = BOP_SUB; return 150;
    case T_STAR: *op = BOP_MUL; return 180;
    case T_SLASH: *op = BOP_DIV; return 180;
    case T_PERCENT: *op = BOP_MOD; return 180;
    case T_POW: *op = BOP_POW; return 190;
    case T_SHL: *op = BOP_SHL; return 210;
    case T_SHR: *op = BOP_SHR; return 210;
    default: return 0;
    }
}

static cryo_node *parse_binary_inner(parser *p, int min_prec) {
    cryo_node *lhs = parse_unary(p);
    for (;;) {
        if (p->panic) return lhs;
        cryo_node_kind kind;
        int op = 0;
        int prec = binop_info(p, ctype(p), &kind, &op);
        if (prec == 0 || prec < min_prec) return lhs;
        next(p);
        cryo_node *rhs;
        if (kind == N_RANGE)
            rhs = starts_range_end(ctype(p)) ? parse_binary(p, prec + 1) : NULL;
        else if (op == BOP_POW && kind == N_BINARY)
            rhs = parse_binary(p, prec); /* right-associative */
        else
            rhs = parse_binary(p, prec + 1);
        cryo_node *n = new_node_at(p, kind, lhs);
        if (kind == N_RANGE)
            n->ival = op;
        else
            n->op = op;
        n->a = lhs;
        n->b = rhs;
        lhs = n;
    }
}

static cryo_node *parse_binary(parser *p, int min_prec) {
    cryo_node *r = enter(p) ? parse_binary_inner(p, min_prec) : error_node(p);
    p->depth--;
    return r;
}

static bool is_literal_kind(cryo_node_kind k) {
    return k == N_UNIT || k == N_BOOL || k == N_INT || k == N_FLOAT || k == N_CHAR || k == N_STRING;
}

/* Rhai rejects, at parse time, index literals that can never work on a literal container. */
static void check_index(parser *p, const cryo_node *lhs, const cryo_node *idx) {
    cryo_node_kind k = idx->kind;
    bool never_key = k == N_BOOL || k == N_AND || k == N_OR || k == N_UNIT || k == N_FLOAT ||
                     k == N_CHAR || k == N_ARRAY || k == N_MAP;
    if (lhs->kind == N_MAP && (never_key || k == N_INT))
        semantic_error(p, idx->line, idx->column, "object map access expects a string index");
    else if ((lhs->kind == N_ARRAY || lhs->kind == N_STRING || lhs->kind == N_INTERP) &&
             (never_key || k == N_STRING || k == N_INTERP))
        semantic_error(p, idx->line, idx->column, "%s access expects an integer index",
                       lhs->kind == N_ARRAY ? "array" : "string");
}

/* `(` args `)` with the cursor on `(`. */
static void parse_args(parser *p, cryo_node *call) {
    vec args = {0};
    next(p);
    while (!at(p, T_RPAREN) && !p->panic) {
        vec_push(p, &args, parse_expr_nested(p));
        if (p->panic || !accept(p, T_COMMA)) break;
    }
    if (!p->panic) expect(p, T_RPAREN, "',' or ')'");
    vec_finish(p, &args, call);
}

static cryo_node *parse_postfix(parser *p, cryo_node *e) {
    /* A chain's nodes start where its first operand does, except method calls: their errors
     * ("function not found") are about the method, so their caret goes under its name. */
    const cryo_node start = {.line = e->line, .column = e->column};
    bool elvis = false;
    for (;;) {
        if (p->panic) return e;
        cryo_token *t = cur(p);
        bool step = t->type == T_QDOT || t->type == T_QBRACKET;
        elvis |= step;
        if (t->type == T_DOT || t->type == T_QDOT) {
            next(p);
            if (!at(p, T_IDENT)) {
                expected(p, "a property or method name after '.'");
                return e;
            }
            cryo_token *name = cur(p);
            next(p);
            cryo_node *n =
                at(p, T_LPAREN) ? new_node(p, N_METHOD, name) : new_node_at(p, N_FIELD, &start);
            n->a = e;
            n->name = name->str;
            n->len = name->slen;
            n->op = step ? CRYO_ELVIS_STEP : 0;
            if (n->kind == N_METHOD) parse_args(p, n);
            e = n;
        } else if (t->type == T_LBRACKET || t->type == T_QBRACKET) {
            next(p);
            cryo_node *idx = parse_expr_nested(p);
            if (p->panic) return e;
            if (!expect(p, T_RBRACKET, "']'")) return e;
            check_index(p, e, idx);
            cryo_node *n = new_node_at(p, N_INDEX, &start);
            n->a = e;
            n->b = idx;
            n->op = step ? CRYO_ELVIS_STEP : 0;
            e = n;
        } else if (t->type == T_QUESTION) {
            syntax_error(p, t, "'%.*s' is not supported", (int)t->len, t->start);
            return e;
        } else if (t->type == T_COLONCOLON) {
            syntax_error(p, t, "modules and namespaces ('::') are not supported");
            return e;
        } else {
            if (elvis) e->op |= CRYO_ELVIS_END;
            return e;
        }
    }
}

static cryo_node *parse_array(parser *p) {
    cryo_node *n = new_node(p, N_ARRAY, cur(p));
    vec items = {0};
    next(p);
    while (!at(p, T_RBRACKET) && !p->panic) {
        vec_push(p, &items, parse_expr_nested(p));
        if (p->panic || !accept(p, T_COMMA)) break;
    }
    if (!p->panic) expect(p, T_RBRACKET, "',' or ']'");
    vec_finish(p, &items, n);
    return n;
}

static cryo_node *parse_map(parser *p) {
    cryo_node *n = new_node(p, N_MAP, cur(p));
    vec items = {0};
    next(p);
    while (!at(p, T_RBRACE) && !p->panic) {
        cryo_token *k = cur(p);
        if (k->type != T_IDENT && k->type != T_STRING) {
            expected(p, "a property name (an identifier or a string)");
            break;
        }
        for (int i = 0; i < items.n; i++) {
            if (items.v[i]->len == k->slen && memcmp(items.v[i]->name, k->str, k->slen) == 0) {
                semantic_error(p, k->line, k->column, "duplicate property '%s' in object map",
                               k->str);
                break;
            }
        }
        next(p);
        if (!expect(p, T_COLON, "':'")) break;
        cryo_node *e = new_node(p, N_MAPENTRY, k);
        e->name = k->str;
        e->len = k->slen;
        e->a = parse_expr_nested(p);
        vec_push(p, &items, e);
        if (p->panic || !accept(p, T_COMMA)) break;
    }
    if (!p->panic) expect(p, T_RBRACE, "',' or '}'");
    vec_finish(p, &items, n);
    return n;
}

static cryo_node *parse_closure(parser *p) {
    cryo_node *n = new_node(p, N_CLOSURE, cur(p));
    vec params = {0};
    if (!accept(p, T_OROR)) {
        next(p);
        while (!at(p, T_PIPE) && !p->panic) {
            cryo_token *t = cur(p);
            if (!expect(p, T_IDENT, "a parameter name")) break;
            for (int i = 0; i < params.n; i++)
                if (strcmp(params.v[i]->name, t->str) == 0)
                    semantic_error(p, t->line, t->column, "duplicate parameter '%s'", t->str);
            cryo_node *pn = new_node(p, N_PARAM, t);
            pn->name = t->str;
            pn->len = t->slen;
            vec_push(p, &params, pn);
            if (!accept(p, T_COMMA)) break;
        }
        if (!p->panic) expect(p, T_PIPE, "',' or '|'");
    }
    vec_finish(p, &params, n);
    if (p->panic) return n;
    bool saved = p->no_pipe;
    p->no_pipe = false;
    /* A block body ends the closure: `|x| { .. }.curry(1)` curries the closure, as in Rhai. */
    n->a = at(p, T_LBRACE) && !p->expr_only ? parse_block(p) : parse_simple_stmt(p);
    p->no_pipe = saved;
    return n;
}

/* A backtick string with ${...}: the cursor is on T_INTERP_BEGIN. */
static cryo_node *parse_interp(parser *p) {
    cryo_node *n = new_node(p, N_INTERP, cur(p));
    vec parts = {0};
    for (;;) {
        cryo_token *piece = cur(p);
        if (piece->slen > 0) {
            cryo_node *s = new_node(p, N_STRING, piece);
            s->name = piece->str;
            s->len = piece->slen;
            vec_push(p, &parts, s);
        }
        if (piece->type == T_INTERP_END) {
            next(p);
            break;
        }
        next(p);
        cryo_node *block = new_node(p, N_BLOCK, cur(p));
        parse_stmts(p, block, T_INTERP_MID, false);
        if (p->panic) break;
        if (!at(p, T_INTERP_MID) && !at(p, T_INTERP_END)) {
            if (at(p, T_EOF))
                p->panic = true; /* the lexer reported the unterminated string */
            else
                expected(p, "'}'");
            break;
        }
        cryo_node *part = block;
        if (block->nlist == 0)
            part = new_node_at(p, N_UNIT, block);
        else if (block->nlist == 1 && !block->ival && block->list[0]->kind != N_LET)
            part = block->list[0];
        vec_push(p, &parts, part);
    }
    vec_finish(p, &parts, n);
    return n;
}

static cryo_node *literal(parser *p, cryo_node_kind kind) {
    cryo_token *t = cur(p);
    cryo_node *n = new_node(p, kind, t);
    n->ival = t->ival;
    n->fval = t->fval;
    if (kind == N_STRING) {
        n->name = t->str;
        n->len = t->slen;
    }
    if (t->type == T_TRUE) n->ival = 1;
    next(p);
    return n;
}

/* ---------------------------------------------------------------------------------------
 * Modules (docs/modules.md). The syntax desugars into calls of the VM's module intrinsics
 * (vm/module.c), so the compiler and the bytecode need nothing new:
 *   import P as u;      -> const `u::` = $import(P, "u", top)    (`u::` is a hidden local)
 *   import P;           -> $import(P, (), top)
 *   export let x = v;   -> let x = v; $export("x", x)
 *   export x as y;      -> $export("y", x)
 *   u::a::f(x, y)       -> $modcall($modget(`u::`, "a::"), "f/2", x, y)
 *   u::K                -> $modget(`u::`, "K")
 *   global::K           -> $global("K"); top-level `const K` then adds $setglobal("K", K)
 * ------------------------------------------------------------------------------------- */

static bool tok_is(const cryo_token *t, const char *word) {
    size_t n = strlen(word);
    return t->len == n && memcmp(t->start, word, n) == 0;
}

/* An arena copy of a..b (b may be NULL) as one NUL-terminated string. */
static const char *arena_cat(parser *p, const char *a, size_t alen, const char *b, size_t blen,
                             size_t *len) {
    char *s = cl_arena_alloc(p->arena, alen + blen + 1);
    *len = alen + blen;
    if (!s) {
        p->oom = true;
        return "";
    }
    memcpy(s, a, alen);
    if (blen) memcpy(s + alen, b, blen);
    s[alen + blen] = '\0';
    return s;
}

static cryo_node *str_node(parser *p, const cryo_node *pos, const char *s, size_t len) {
    cryo_node *n = new_node_at(p, N_STRING, pos);
    n->name = s;
    n->len = len;
    return n;
}

/* A call of intrinsic `name` with `nargs` arguments, at `pos`. */
static cryo_node *intrinsic(parser *p, const cryo_node *pos, const char *name, int nargs,
                            cryo_node **args) {
    cryo_node *n = new_node_at(p, N_CALL, pos);
    n->name = name;
    n->len = strlen(name);
    n->list = cl_arena_alloc(p->arena, (size_t)(nargs > 0 ? nargs : 1) * sizeof *n->list);
    if (!n->list) {
        p->oom = true;
        return n;
    }
    memcpy(n->list, args, (size_t)nargs * sizeof *args);
    n->nlist = nargs;
    return n;
}

/* The hidden local holding an imported module: the alias and "::" (no variable has that). */
static cryo_node *alias_var(parser *p, const cryo_token *t) {
    cryo_node *v = new_node(p, N_VAR, t);
    v->name = arena_cat(p, t->str, t->slen, "::", 2, &v->len);
    return v;
}

/* After `root` and its `::`: segments up to the member, then a call or a value. */
static cryo_node *parse_path(parser *p, cryo_node *root, const cryo_token *first) {
    cryo_node *e = root;
    for (;;) {
        next(p); /* the '::' */
        const cryo_token *seg = cur(p);
        if (seg->type != T_IDENT &&
            !(seg->len > 0 && (isalpha((unsigned char)seg->start[0]) || seg->start[0] == '_'))) {
            expected(p, "a name after '::'");
            return error_node(p);
        }
        next(p);
        if (at(p, T_COLONCOLON)) { /* a sub-module */
            size_t kl;
            const char *k = arena_cat(p, seg->start, seg->len, "::", 2, &kl);
            cryo_node *args[2] = {e, str_node(p, e, k, kl)};
            e = intrinsic(p, e, "$modget", 2, args);
            continue;
        }
        if (!at(p, T_LPAREN)) {
            size_t kl;
            const char *k = arena_cat(p, seg->start, seg->len, NULL, 0, &kl);
            cryo_node *args[2] = {e, str_node(p, e, k, kl)};
            cryo_node *n = intrinsic(p, e, "$modget", 2, args);
            n->line = first->line;
            n->column = first->column;
            return n;
        }
        cryo_node tmp = {0};
        parse_args(p, &tmp);
        if (p->panic) return error_node(p);
        char arity[16];
        int al = snprintf(arity, sizeof arity, "/%d", tmp.nlist);
        size_t kl;
        const char *k = arena_cat(p, seg->start, seg->len, arity, (size_t)al, &kl);
        vec args = {0};
        vec_push(p, &args, e);
        vec_push(p, &args, str_node(p, e, k, kl));
        for (int i = 0; i < tmp.nlist; i++)
            vec_push(p, &args, tmp.list[i]);
        cryo_node *n = new_node(p, N_CALL, seg); /* errors point at the function's name */
        n->name = "$modcall";
        n->len = 8;
        vec_finish(p, &args, n);
        return n;
    }
}

/* `global::NAME`: the main script's top-level constant. */
static cryo_node *parse_global(parser *p) {
    const cryo_token *t = cur(p);
    next(p);
    if (!at(p, T_COLONCOLON) || peek_type(p, 1) != T_IDENT || peek_type(p, 2) == T_LPAREN ||
        peek_type(p, 2) == T_COLONCOLON) {
        syntax_error(p, t, "expected 'global::NAME' (a constant of the main script)");
        return error_node(p);
    }
    next(p);
    const cryo_token *name = cur(p);
    next(p);
    p->uses_global = true;
    cryo_node *pos = new_node(p, N_UNIT, t);
    cryo_node *args[1] = {str_node(p, pos, name->str, name->slen)};
    return intrinsic(p, pos, "$global", 1, args);
}

/* import EXPR [as NAME] */
static cryo_node *parse_import(parser *p, bool top) {
    const cryo_token *t = cur(p);
    next(p);
    cryo_node *pos = new_node(p, N_UNIT, t);
    cryo_node *path = parse_expr(p);
    if (p->panic) return path;
    const cryo_token *alias = NULL;
    if (at(p, T_MODULE_KW) && tok_is(cur(p), "as")) {
        next(p);
        alias = cur(p);
        if (!expect(p, T_IDENT, "a module name after 'as'")) return error_node(p);
    }
    cryo_node *flag = new_node(p, N_BOOL, t);
    flag->ival = top;
    cryo_node *args[3] = {
        path, alias ? str_node(p, pos, alias->str, alias->slen) : new_node(p, N_UNIT, t), flag};
    cryo_node *call = intrinsic(p, pos, "$import", 3, args);
    if (!alias) return call;
    cryo_node *let = new_node(p, N_LET, t);
    let->ival = 1;
    cryo_node *v = alias_var(p, alias);
    let->name = v->name;
    let->len = v->len;
    let->a = call;
    return let;
}

static cryo_node *export_call(parser *p, const cryo_token *at_tok, const char *var, size_t vlen,
                              const char *as, size_t alen) {
    cryo_node *v = new_node(p, N_VAR, at_tok);
    v->name = var;
    v->len = vlen;
    cryo_node *args[2] = {str_node(p, v, as, alen), v};
    return intrinsic(p, v, "$export", 2, args);
}

static cryo_node *parse_let(parser *p);

/* export let x = v; export const X = v; export x [as y], ...; (top level only) */
static cryo_node *parse_export(parser *p, bool top) {
    const cryo_token *t = cur(p);
    if (!top) {
        syntax_error(p, t, "'export' is only allowed at the top level of a script");
        return error_node(p);
    }
    next(p);
    if (at(p, T_LET) || at(p, T_CONST)) {
        cryo_node *let = parse_let(p);
        if (!p->panic)
            vec_push(p, &p->pending, export_call(p, t, let->name, let->len, let->name, let->len));
        return let;
    }
    cryo_node *first = NULL;
    for (;;) {
        const cryo_token *name = cur(p);
        if (!expect(p, T_IDENT, "a variable name after 'export'")) return error_node(p);
        const cryo_token *as = name;
        if (at(p, T_MODULE_KW) && tok_is(cur(p), "as")) {
            next(p);
            as = cur(p);
            if (!expect(p, T_IDENT, "a name after 'as'")) return error_node(p);
        }
        cryo_node *c = export_call(p, name, name->str, name->slen, as->str, as->slen);
        if (!first)
            first = c;
        else
            vec_push(p, &p->pending, c);
        if (!accept(p, T_COMMA)) break;
    }
    return first;
}

/* With `global::` used anywhere: each top-level `const K` of the script publishes K. */
static void add_global_setters(parser *p, cryo_node *main) {
    vec out = {0};
    for (int i = 0; i < main->nlist; i++) {
        cryo_node *s = main->list[i];
        vec_push(p, &out, s);
        if (s->kind == N_LET && s->ival == 1 && s->name[s->len - 1] != ':') {
            cryo_node *v = new_node_at(p, N_VAR, s);
            v->name = s->name;
            v->len = s->len;
            cryo_node *args[2] = {str_node(p, s, s->name, s->len), v};
            vec_push(p, &out, intrinsic(p, s, "$setglobal", 2, args));
        }
    }
    int semi = (int)main->ival;
    vec_finish(p, &out, main);
    main->ival = semi;
}

static cryo_node *parse_ident(parser *p) {
    cryo_token *t = cur(p);
    next(p);
    if (at(p, T_BANG) && peek_type(p, 1) == T_LPAREN) {
        syntax_error(p, t, "caller-scope calls ('%s!(...)') are not supported", t->str);
        return error_node(p);
    }
    if (at(p, T_COLONCOLON)) {
        /* The one namespace: `ffi::name(args)` is a call of the host function "ffi::name",
         * which only contexts with CRYO_CAP_FFI provide (see ffi/lib_ffi.c). */
        const cryo_token *fn = p->pos + 1 < p->ntok ? &p->t[p->pos + 1] : NULL;
        if (t->slen == 3 && memcmp(t->str, "ffi", 3) == 0 && fn && fn->len > 0 &&
            (isalpha((unsigned char)fn->start[0]) || fn->start[0] == '_') &&
            peek_type(p, 2) == T_LPAREN) {
            /* any word after `ffi::`, reserved ones included (ffi::new) */
            next(p);
            next(p);
            char *full = cl_arena_alloc(p->arena, 5 + fn->len + 1);
            cryo_node *n = new_node(p, N_CALL, t);
            if (full) {
                memcpy(full, "ffi::", 5);
                memcpy(full + 5, fn->start, fn->len);
                full[5 + fn->len] = '\0';
                n->name = full;
                n->len = 5 + fn->len;
            } else {
                n->name = t->str;
                n->len = t->slen;
            }
            parse_args(p, n);
            return n;
        }
        if (t->slen == 3 && memcmp(t->str, "ffi", 3) == 0) {
            syntax_error(p, cur(p),
                         "'ffi::' names functions only ('ffi::name(...)'); other "
                         "uses of the ffi namespace are not supported");
            return error_node(p);
        }
        return parse_path(p, alias_var(p, t), t);
    }
    cryo_node *n = new_node(p, at(p, T_LPAREN) ? N_CALL : N_VAR, t);
    n->name = t->str;
    n->len = t->slen;
    if (n->kind == N_CALL) parse_args(p, n);
    return n;
}

static cryo_node *no_statement_in_expression(parser *p) {
    char found[64];
    cl_tok_describe(cur(p), found, sizeof found);
    syntax_error(p, cur(p), "%s is not allowed in an expression-only script", found);
    return error_node(p);
}

static cryo_node *parse_primary(parser *p) {
    cryo_token *t = cur(p);
    switch (t->type) {
    case T_INT:
        if (t->int_min) {
            syntax_error(p, t, "integer literal '%.*s' is too large", (int)t->len, t->start);
            return error_node(p);
        }
        return literal(p, N_INT);
    case T_FLOAT: return literal(p, N_FLOAT);
    case T_CHAR: return literal(p, N_CHAR);
    case T_STRING: return literal(p, N_STRING);
    case T_TRUE:
    case T_FALSE: return literal(p, N_BOOL);
    case T_INTERP_BEGIN: return parse_interp(p);
    case T_IDENT: return parse_ident(p);
    case T_THIS: next(p); return new_node(p, N_THIS, t);
    case T_LPAREN: {
        next(p);
        if (at(p, T_RPAREN)) {
            /* `()` is one token in Rhai: `( )` is an empty parenthesised expression */
            if (cur(p)->start != t->start + 1) {
                expected(p, "an expression");
                return error_node(p);
            }
            next(p);
            return new_node(p, N_UNIT, t);
        }
        cryo_node *e = parse_expr_nested(p);
        e->line = t->line; /* a node starts at its first token, the parenthesis */
        e->column = t->column;
        if (!p->panic) {
            if (at(p, T_ASSIGN))
                syntax_error(p, cur(p),
                             "an assignment is a statement, not an expression; "
                             "expected ')' but found '='");
            else
                expect(p, T_RPAREN, "')'");
        }
        return e;
    }
    case T_LBRACKET: return parse_array(p);
    case T_MAPSTART: return parse_map(p);
    case T_PIPE:
    case T_OROR: return parse_closure(p);
    case T_IF: return parse_if(p);
    case T_SWITCH: return parse_switch(p);
    case T_WHILE:
    case T_LOOP:
    case T_DO:
    case T_FOR:
    case T_TRY:
    case T_LBRACE:
        if (p->expr_only) return no_statement_in_expression(p);
        if (t->type == T_WHILE) return parse_while(p);
        if (t->type == T_LOOP) return parse_loop(p);
        if (t->type == T_DO) return parse_do(p);
        if (t->type == T_FOR) return parse_for(p);
        if (t->type == T_TRY) return parse_try(p);
        return parse_block(p);
    case T_DOTDOT:
    case T_DOTDOTEQ: {
        cryo_node *n = new_node(p, N_RANGE, t);
        n->ival = t->type == T_DOTDOTEQ;
        next(p);
        if (starts_range_end(ctype(p))) n->b = parse_binary(p, 141);
        return n;
    }
    case T_FN:
    case T_PRIVATE:
        syntax_error(p, t, "functions can only be defined at the top level of a script");
        return error_node(p);
    case T_MODULE_KW:
        if (tok_is(t, "global")) return parse_global(p);
        syntax_error(p, t, "'%.*s' is not allowed in an expression", (int)t->len, t->start);
        return error_node(p);
    case T_QUESTION:
        syntax_error(p, t, "'%.*s' is not supported", (int)t->len, t->start);
        return error_node(p);
    case T_COLONCOLON:
        syntax_error(p, t, "modules and namespaces ('::') are not supported");
        return error_node(p);
    default: expected(p, "an expression"); return error_node(p);
    }
}

/* Folds `-5` and `+5` into one literal, as Rhai does (and switch cases rely on). */
static cryo_node *fold_sign(cryo_node *operand, const cryo_token *t) {
    if (operand->kind == N_INT && (t->type == T_PLUS || operand->ival != INT64_MIN)) {
        if (t->type == T_MINUS) operand->ival = -operand->ival;
    } else if (operand->kind == N_FLOAT) {
        if (t->type == T_MINUS) operand->fval = -operand->fval;
    } else {
        return NULL;
    }
    operand->line = t->line;
    operand->column = t->column;
    return operand;
}

static cryo_node *parse_unary_inner(parser *p) {
    cryo_token *t = cur(p);
    cryo_tok after = peek_type(p, 2);
    if (t->type == T_MINUS && p->t[p->pos + 1].int_min && after != T_DOT && after != T_QDOT &&
        after != T_LBRACKET && after != T_QBRACKET) {
        /* -9223372036854775808 is the one literal whose magnitude is not an i64 */
        next(p);
        cryo_node *n = new_node(p, N_INT, t);
        n->ival = INT64_MIN;
        next(p);
        return n;
    }
    if (t->type == T_MINUS || t->type == T_PLUS || t->type == T_BANG) {
        next(p);
        cryo_node *operand = parse_unary(p);
        if (p->panic) return operand;
        if (t->type != T_BANG) {
            cryo_node *f = fold_sign(operand, t);
            if (f) return f;
        }
        cryo_node *n = new_node(p, N_UNARY, t);
        n->op = t->type == T_MINUS ? '-' : t->type == T_PLUS ? '+' : '!';
        n->a = operand;
        return n;
    }
    return parse_postfix(p, parse_primary(p));
}

static cryo_node *parse_unary(parser *p) {
    cryo_node *r = enter(p) ? parse_unary_inner(p) : error_node(p);
    p->depth--;
    return r;
}

/* ---------------------------------------------------------------------------------------
 * Control flow
 * ------------------------------------------------------------------------------------- */

static cryo_node *parse_block_inner(parser *p) {
    cryo_node *n = new_node(p, N_BLOCK, cur(p));
    if (!expect(p, T_LBRACE, "'{'")) return n;
    parse_stmts(p, n, T_RBRACE, false);
    if (!p->panic) expect(p, T_RBRACE, "'}'");
    return n;
}

static cryo_node *parse_block(parser *p) {
    cryo_node *r = enter(p) ? parse_block_inner(p) : error_node(p);
    p->depth--;
    return r;
}

static cryo_node *parse_if(parser *p) {
    cryo_node *n = new_node(p, N_IF, cur(p));
    next(p);
    n->a = parse_expr(p);
    if (p->panic) return n;
    n->b = parse_block(p);
    if (p->panic) return n;
    if (accept(p, T_ELSE)) {
        if (at(p, T_IF)) {
            if (enter(p)) n->c = parse_if(p);
            p->depth--;
        } else {
            n->c = parse_block(p);
        }
    }
    return n;
}

static cryo_node *parse_while(parser *p) {
    cryo_node *n = new_node(p, N_WHILE, cur(p));
    next(p);
    n->a = parse_expr(p);
    if (!p->panic) n->b = parse_block(p);
    return n;
}

static cryo_node *parse_loop(parser *p) {
    cryo_node *n = new_node(p, N_LOOP, cur(p));
    next(p);
    n->b = parse_block(p);
    return n;
}

static cryo_node *parse_do(parser *p) {
    cryo_node *n = new_node(p, N_DO, cur(p));
    next(p);
    n->b = parse_block(p);
    if (p->panic) return n;
    if (accept(p, T_UNTIL))
        n->ival = 1;
    else if (!expect(p, T_WHILE, "'while' or 'until'"))
        return n;
    n->a = parse_expr(p);
    return n;
}

static bool take_name(parser *p, const char *what, const char **name, size_t *len) {
    cryo_token *t = cur(p);
    if (!expect(p, T_IDENT, what)) return false;
    *name = t->str;
    *len = t->slen;
    return true;
}

static cryo_node *parse_for(parser *p) {
    cryo_node *n = new_node(p, N_FOR, cur(p));
    next(p);
    if (accept(p, T_LPAREN)) {
        if (!take_name(p, "a loop variable name", &n->name, &n->len)) return n;
        if (!expect(p, T_COMMA, "','")) return n;
        if (!take_name(p, "an index variable name", &n->name2, &n->len2)) return n;
        if (!expect(p, T_RPAREN, "')'")) return n;
    } else if (!take_name(p, "a loop variable name", &n->name, &n->len)) {
        return n;
    }
    if (!expect(p, T_IN, "'in'")) return n;
    n->a = parse_expr(p);
    if (!p->panic) n->b = parse_block(p);
    return n;
}

static cryo_node *parse_try(parser *p) {
    cryo_node *n = new_node(p, N_TRY, cur(p));
    next(p);
    n->a = parse_block(p);
    if (p->panic || !expect(p, T_CATCH, "'catch'")) return n;
    if (accept(p, T_LPAREN)) {
        if (!take_name(p, "a variable name", &n->name, &n->len)) return n;
        if (!expect(p, T_RPAREN, "')'")) return n;
    }
    n->b = parse_block(p);
    return n;
}

/* Switch case values must be literals (Rhai hashes them at compile time). */
static bool is_case_literal(const cryo_node *n) {
    if (!n) return false;
    if (is_literal_kind(n->kind)) return true;
    if (n->kind == N_RANGE) return n->a && n->b && n->a->kind == N_INT && n->b->kind == N_INT;
    if (n->kind == N_ARRAY || n->kind == N_MAP) {
        for (int i = 0; i < n->nlist; i++) {
            const cryo_node *e = n->list[i];
            if (!is_case_literal(n->kind == N_MAP ? e->a : e)) return false;
        }
        return true;
    }
    return false;
}

/* The values of one case: `a | b | lo..hi`. */
static void parse_case_values(parser *p, vec *alts, bool *seen_range) {
    for (;;) {
        bool saved = p->no_pipe;
        p->no_pipe = true;
        cryo_node *v = parse_expr(p);
        p->no_pipe = saved;
        if (p->panic) return;
        if (!is_case_literal(v))
            semantic_error(p, v->line, v->column, "a switch case value must be a literal");
        if (v->kind == N_RANGE)
            *seen_range = true;
        else if ((v->kind == N_INT || v->kind == N_FLOAT) && *seen_range)
            semantic_error(p, v->line, v->column,
                           "numeric switch cases must come before range cases");
        vec_push(p, alts, v);
        if (!accept(p, T_PIPE)) return;
    }
}

static cryo_node *parse_case(parser *p, bool *seen_default, bool *seen_range, bool *was_block) {
    cryo_node *c = new_node(p, N_CASE, cur(p));
    vec alts = {0};
    if (*seen_default)
        semantic_error(p, c->line, c->column, "the default case '_' must be the last case");
    if (at(p, T_UNDERSCORE)) {
        *seen_default = true;
        next(p);
        if (at(p, T_IF))
            semantic_error(p, cur(p)->line, cur(p)->column,
                           "the default case '_' cannot have a condition");
    } else {
        parse_case_values(p, &alts, seen_range);
    }
    vec_finish(p, &alts, c);
    if (p->panic) return c;
    if (accept(p, T_IF)) {
        c->b = parse_expr_nested(p);
        if (p->panic) return c;
    }
    if (!expect(p, T_ARROW, "'=>'")) return c;
    *was_block = at(p, T_LBRACE);
    c->c = *was_block ? parse_block(p) : parse_simple_stmt(p);
    return c;
}

static cryo_node *parse_switch(parser *p) {
    cryo_node *n = new_node(p, N_SWITCH, cur(p));
    next(p);
    n->a = parse_expr(p);
    if (p->panic || !expect(p, T_LBRACE, "'{'")) return n;
    vec cases = {0};
    bool seen_default = false, seen_range = false;
    while (!at(p, T_RBRACE) && !at(p, T_EOF) && !p->panic) {
        bool was_block = false;
        vec_push(p, &cases, parse_case(p, &seen_default, &seen_range, &was_block));
        if (p->panic || accept(p, T_COMMA) || at(p, T_RBRACE) || was_block) continue;
        expected(p, "',' or '}'");
    }
    vec_finish(p, &cases, n);
    if (!p->panic) expect(p, T_RBRACE, "'}'");
    return n;
}

/* ---------------------------------------------------------------------------------------
 * Statements
 * ------------------------------------------------------------------------------------- */

static int assign_op(cryo_tok t) {
    switch (t) {
    case T_ASSIGN: return 0;
    case T_PLUSEQ: return BOP_ADD;
    case T_MINUSEQ: return BOP_SUB;
    case T_STAREQ: return BOP_MUL;
    case T_SLASHEQ: return BOP_DIV;
    case T_PERCENTEQ: return BOP_MOD;
    case T_POWEQ: return BOP_POW;
    case T_SHLEQ: return BOP_SHL;
    case T_SHREQ: return BOP_SHR;
    case T_AMPEQ: return BOP_BAND;
    case T_PIPEEQ: return BOP_BOR;
    case T_CARETEQ: return BOP_BXOR;
    default: return -1;
    }
}

/* `first` is the target's first token (a method call node sits at the method's name). */
static void check_target(parser *p, const cryo_node *e, const cryo_token *first) {
    const cryo_node *base = e;
    while (base->kind == N_INDEX || base->kind == N_FIELD)
        base = base->a;
    if (base->kind == N_VAR || base->kind == N_THIS) return;
    if (is_literal_kind(e->kind))
        semantic_error(p, first->line, first->column, "cannot assign to a constant value");
    else
        semantic_error(p, first->line, first->column,
                       "invalid assignment target: expected a variable, 'this', an index or a "
                       "property");
}

/* An expression, or an assignment to one. */
static cryo_node *parse_assign_or_expr(parser *p) {
    cryo_token *first = cur(p);
    cryo_node *e = parse_expr(p);
    if (p->panic) return e;
    int op = assign_op(ctype(p));
    if (op < 0) return e;
    if (p->expr_only) return no_statement_in_expression(p);
    check_target(p, e, first);
    next(p);
    cryo_node *n = new_node(p, N_ASSIGN, first);
    n->op = op;
    n->a = e;
    n->b = parse_expr(p);
    return n;
}

/* break / continue / return / throw, with their optional value. */
static cryo_node *parse_jump(parser *p) {
    cryo_token *t = cur(p);
    cryo_node_kind kind = t->type == T_BREAK      ? N_BREAK
                          : t->type == T_CONTINUE ? N_CONTINUE
                          : t->type == T_RETURN   ? N_RETURN
                                                  : N_THROW;
    cryo_node *n = new_node(p, kind, t);
    next(p);
    if (kind != N_CONTINUE && starts_expr(ctype(p)) && !at(p, T_LBRACE)) n->a = parse_expr(p);
    return n;
}

/* The body of a closure or a switch arm: a jump, an assignment or an expression. */
static cryo_node *parse_simple_stmt(parser *p) {
    cryo_tok t = ctype(p);
    if (t == T_BREAK || t == T_CONTINUE || t == T_RETURN || t == T_THROW) {
        if (p->expr_only) return no_statement_in_expression(p);
        return parse_jump(p);
    }
    return parse_assign_or_expr(p);
}

static cryo_node *parse_let(parser *p) {
    cryo_node *n = new_node(p, N_LET, cur(p));
    n->ival = at(p, T_CONST);
    next(p);
    if (!take_name(p, "a variable name", &n->name, &n->len)) return n;
    if (accept(p, T_ASSIGN)) n->a = parse_expr(p);
    return n;
}

/* A typed method is named "TYPE.name" (no identifier holds a '.', so it never clashes with a
 * plain fn); name2 keeps the method's own name. TYPE is what type_of gives; Rhai's `int` and
 * `float` stand for i64 and f64. */
static void typed_method_name(parser *p, cryo_node *n, const cryo_token *type) {
    const char *t = type->str;
    size_t tl = type->slen;
    if (type->type == T_IDENT && tl == 3 && memcmp(t, "int", 3) == 0) t = "i64";
    if (type->type == T_IDENT && tl == 5 && memcmp(t, "float", 5) == 0) t = "f64", tl = 3;
    if (tl == 0) {
        semantic_error(p, type->line, type->column, "the type of a method cannot be empty");
        return;
    }
    char *full = cl_arena_alloc(p->arena, tl + 1 + n->len + 1);
    if (!full) {
        p->oom = true;
        return;
    }
    memcpy(full, t, tl);
    full[tl] = '.';
    memcpy(full + tl + 1, n->name, n->len);
    full[tl + 1 + n->len] = '\0';
    n->name2 = full + tl + 1;
    n->len2 = n->len;
    n->name = full;
    n->len = tl + 1 + n->len;
}

static uint32_t sig_hash(const cryo_node *f) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < f->len; i++)
        h = (h ^ (unsigned char)f->name[i]) * 16777619u;
    return (h ^ (uint32_t)f->nlist) * 16777619u;
}

static bool sig_eq(const cryo_node *f, const cryo_node *n) {
    return f->len == n->len && memcmp(f->name, n->name, n->len) == 0 && f->nlist == n->nlist;
}

/* The entry for n's signature, or the empty slot where it goes. */
static struct fn_seen *seen_slot(parser *p, const cryo_node *n) {
    uint32_t mask = p->seen_cap - 1;
    for (uint32_t h = sig_hash(n) & mask;; h = (h + 1) & mask)
        if (!p->seen[h].idx1 || sig_eq(p->fns.v[p->seen[h].idx1 - 1], n)) return &p->seen[h];
}

/* How many of the functions collected so far have n's name and parameter count. */
static uint32_t fn_seen_count(parser *p, const cryo_node *n) {
    for (; p->seen_upto < p->fns.n; p->seen_upto++) {
        if ((p->seen_n + 1) * 2 > p->seen_cap) {
            uint32_t cap = p->seen_cap ? p->seen_cap * 2 : 64;
            struct fn_seen *old = p->seen, *nv = calloc(cap, sizeof *nv);
            if (!nv) {
                p->oom = true;
                return 0;
            }
            uint32_t oldcap = p->seen_cap;
            p->seen = nv;
            p->seen_cap = cap;
            for (uint32_t i = 0; i < oldcap; i++)
                if (old[i].idx1) *seen_slot(p, p->fns.v[old[i].idx1 - 1]) = old[i];
            free(old);
        }
        struct fn_seen *e = seen_slot(p, p->fns.v[p->seen_upto]);
        if (!e->idx1) {
            e->idx1 = (uint32_t)p->seen_upto + 1;
            p->seen_n++;
        }
        e->count++;
    }
    return p->seen ? seen_slot(p, n)->count : 0;
}

static cryo_node *parse_fndef(parser *p) {
    cryo_node *n = new_node(p, N_FNDEF, cur(p));
    n->op = at(p, T_PRIVATE); /* not exported from a module */
    if (accept(p, T_PRIVATE) && !expect(p, T_FN, "'fn'")) return n;
    if (at(p, T_FN)) next(p);
    cryo_token *type = NULL;
    if ((at(p, T_IDENT) || at(p, T_STRING)) && peek_type(p, 1) == T_DOT) {
        type = cur(p); /* `fn string.shout()`, `fn "My-Type".shout()` */
        next(p);
        next(p);
    }
    cryo_token *name = cur(p);
    if (!take_name(p, "a function name", &n->name, &n->len)) return n;
    if (type) typed_method_name(p, n, type);
    if (!expect(p, T_LPAREN, "'('")) return n;
    vec params = {0};
    while (!at(p, T_RPAREN) && !p->panic) {
        cryo_token *t = cur(p);
        if (!expect(p, T_IDENT, "a parameter name")) break;
        for (int i = 0; i < params.n; i++)
            if (strcmp(params.v[i]->name, t->str) == 0)
                semantic_error(p, t->line, t->column, "duplicate parameter '%s' in function '%s'",
                               t->str, n->name);
        cryo_node *pn = new_node(p, N_PARAM, t);
        pn->name = t->str;
        pn->len = t->slen;
        vec_push(p, &params, pn);
        if (!accept(p, T_COMMA)) break;
    }
    vec_finish(p, &params, n);
    if (p->panic || !expect(p, T_RPAREN, "',' or ')'")) return n;
    for (uint32_t i = fn_seen_count(p, n); i > 0; i--) /* one error per earlier definition */
        semantic_error(p, name->line, name->column,
                       "function '%s' with %d parameter(s) is already defined", n->name, n->nlist);
    n->a = parse_block(p);
    return n;
}

static bool block_like(cryo_tok t) {
    return t == T_IF || t == T_SWITCH || t == T_WHILE || t == T_LOOP || t == T_FOR || t == T_TRY ||
           t == T_LBRACE || t == T_FN || t == T_PRIVATE;
}

static cryo_node *parse_stmt_inner(parser *p, bool top) {
    cryo_token *t = cur(p);
    switch (t->type) {
    case T_LET:
    case T_CONST: return parse_let(p);
    case T_FN:
    case T_PRIVATE:
        if (!top) {
            syntax_error(p, t, "functions can only be defined at the top level of a script");
            return error_node(p);
        }
        return parse_fndef(p);
    case T_IF: return parse_if(p);
    case T_SWITCH: return parse_switch(p);
    case T_WHILE: return parse_while(p);
    case T_LOOP: return parse_loop(p);
    case T_DO: return parse_do(p);
    case T_FOR: return parse_for(p);
    case T_TRY: return parse_try(p);
    case T_LBRACE: return parse_block(p);
    case T_BREAK:
    case T_CONTINUE:
    case T_RETURN:
    case T_THROW: return parse_jump(p);
    case T_MODULE_KW:
        if (tok_is(t, "import")) return parse_import(p, top);
        if (tok_is(t, "export")) return parse_export(p, top);
        return parse_assign_or_expr(p); /* global::X, or an error */
    default: return parse_assign_or_expr(p);
    }
}

static cryo_node *parse_stmt(parser *p, bool top) {
    cryo_node *r = enter(p) ? parse_stmt_inner(p, top) : error_node(p);
    p->depth--;
    return r;
}

static bool list_end(parser *p, cryo_tok end) {
    cryo_tok t = ctype(p);
    return t == end || t == T_EOF || (end == T_INTERP_MID && t == T_INTERP_END);
}

/* Error recovery: skip to just after the next `;`, or to the `}` (or end of an interpolated
 * expression) closing the current statement list, whichever comes first. */
static void sync(parser *p, cryo_tok end) {
    int depth = 0;
    while (!at(p, T_EOF)) {
        cryo_tok t = ctype(p);
        if (depth == 0 &&
            (list_end(p, end) || t == T_RBRACE || t == T_INTERP_MID || t == T_INTERP_END)) {
            p->sync_stop = p->pos;
            break;
        }
        if (depth == 0 && t == T_SEMI) {
            next(p);
            break;
        }
        if (t == T_LBRACE || t == T_MAPSTART || t == T_INTERP_BEGIN) depth++;
        if (t == T_RBRACE || t == T_INTERP_END) depth--;
        next(p);
    }
    p->panic = false;
}

/* Statements up to a token of type `end` (T_INTERP_MID also stops at T_INTERP_END). */
static void parse_stmts(parser *p, cryo_node *block, cryo_tok end, bool top) {
    vec stmts = {0};
    bool last_semi = false;
    while (!list_end(p, end)) {
        int start = p->pos;
        cryo_tok t = ctype(p);
        if (t == T_RBRACE || t == T_INTERP_MID || t == T_INTERP_END) {
            if (p->sync_stop != p->pos) syntax_error(p, cur(p), "unexpected '}'");
            p->panic = false;
            next(p);
            continue;
        }
        if (accept(p, T_SEMI)) {
            last_semi = true;
            continue;
        }
        cryo_node *s = parse_stmt(p, top);
        if (!p->panic) {
            bool is_fn = s->kind == N_FNDEF;
            if (is_fn)
                vec_push(p, &p->fns, s);
            else
                vec_push(p, &stmts, s);
            for (int i = 0; i < p->pending.n; i++)
                vec_push(p, &stmts, p->pending.v[i]);
            p->pending.n = 0;
            if (accept(p, T_SEMI)) {
                if (!is_fn) last_semi = true;
            } else if (list_end(p, end) || block_like(t)) {
                if (!is_fn) last_semi = false;
            } else {
                expected(p, "';'");
            }
        }
        if (p->panic) {
            p->pending.n = 0;
            sync(p, end);
            last_semi = true;
        }
        if (p->pos == start) next(p); /* never loop without progress */
    }
    block->ival = last_semi && stmts.n > 0;
    vec_finish(p, &stmts, block);
}

/* ---------------------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------------------- */

static bool before(const cryo_error *a, const cryo_error *b) {
    return a->line < b->line || (a->line == b->line && a->column <= b->column);
}

/* Errors come from the lexer (all at once) and the parser: put them in source order with a
 * stable merge sort (a broken file can have thousands). */
static cryo_error *sort_errors(cryo_error *chain) {
    if (!chain || !chain->next) return chain;
    cryo_error *slow = chain, *fast = chain->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    cryo_error *right = slow->next;
    slow->next = NULL;
    cryo_error *l = sort_errors(chain), *r = sort_errors(right);
    cryo_error *head = NULL, **tail = &head;
    while (l && r) {
        cryo_error **pick = before(l, r) ? &l : &r;
        *tail = *pick;
        tail = &(*pick)->next;
        *pick = (*pick)->next;
    }
    *tail = l ? l : r;
    return head;
}

static void parse_program(parser *p, cryo_node *main) {
    if (!p->expr_only) {
        parse_stmts(p, main, T_EOF, true);
        return;
    }
    cryo_node *e = parse_expr(p);
    if (!p->panic && !at(p, T_EOF)) {
        if (at(p, T_SEMI) || assign_op(ctype(p)) >= 0)
            no_statement_in_expression(p);
        else
            expected(p, "end of the expression");
    }
    main->list = cl_arena_alloc(p->arena, sizeof *main->list);
    if (!main->list) {
        p->oom = true;
        return;
    }
    main->list[0] = e;
    main->nlist = 1;
}

cryo_ast *cl_parse(const char *src, size_t len, const char *source_name, bool expression_only,
                   cryo_error **errors) {
    if (errors) *errors = NULL;
    parser p;
    memset(&p, 0, sizeof p);
    p.name = source_name;
    p.expr_only = expression_only;
    p.sync_stop = -1;
    p.err_tail = &p.errors;
    p.arena = cl_arena_new();
    cryo_tokens toks = {0};
    bool ok = p.arena && cl_lex(src, len, source_name, p.arena, &toks, &p.errors);
    cryo_ast *ast = NULL;
    if (ok) {
        p.t = toks.v;
        p.ntok = toks.n;
        cryo_node *main = new_node(&p, N_BLOCK, &p.t[0]);
        main->line = main->column = 1;
        parse_program(&p, main);
        if (p.uses_global && !p.expr_only && !p.errors) add_global_setters(&p, main);
        ast = (p.errors || p.oom) ? NULL : calloc(1, sizeof *ast);
        if (ast) {
            ast->main = main;
            ast->arena = p.arena;
            ast->nfns = p.fns.n;
            if (p.fns.n > 0) {
                ast->fns = cl_arena_alloc(p.arena, (size_t)p.fns.n * sizeof *ast->fns);
                if (ast->fns)
                    memcpy(ast->fns, p.fns.v, (size_t)p.fns.n * sizeof *ast->fns);
                else
                    p.oom = true;
            }
            if (p.oom) {
                free(ast);
                ast = NULL;
            }
        }
        if (!p.errors && !ast) p.oom = true;
    } else {
        p.oom = true;
    }
    free(p.fns.v);
    free(p.pending.v);
    free(p.seen);
    cl_tokens_free(&toks);
    if (!ast) {
        cl_arena_free(p.arena);
        if (p.oom && !p.errors)
            cl_error_append(&p.errors, cl_error_new(CRYO_ERR_MEMORY, source_name, 0, 0,
                                                    "out of memory while parsing"));
        p.errors = sort_errors(p.errors);
        if (errors)
            *errors = p.errors;
        else
            cryo_error_free(p.errors);
    }
    return ast;
}

void cl_ast_free(cryo_ast *ast) {
    if (!ast) return;
    cl_arena_free(ast->arena);
    free(ast);
}
