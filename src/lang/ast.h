/*
 * ast.h — the syntax tree the parser (parse.c) builds and the compiler (compile.c) reads.
 *
 * Everything is an expression (Rhai: blocks, if, switch, loops all have values), so there is
 * one node type. Each kind uses the generic fields as its comment says; unused fields are
 * zero. Nodes, names and lists live in the tree's arena and are freed with it at once.
 */
#ifndef CRYO_AST_H
#define CRYO_AST_H

#include "cryo.h"
#include <stddef.h>
#include <stdint.h>

typedef enum cryo_node_kind {
    /* literals */
    N_UNIT,     /* () */
    N_BOOL,     /* ival 0/1 */
    N_INT,      /* ival */
    N_FLOAT,    /* fval */
    N_CHAR,     /* ival = code point */
    N_STRING,   /* name/len = decoded UTF-8 bytes */
    N_INTERP,   /* backtick string: list = parts (N_STRING pieces and expressions) */
    N_ARRAY,    /* list = elements */
    N_MAP,      /* list = N_MAPENTRY nodes */
    N_MAPENTRY, /* name/len = key, a = value */
    /* names */
    N_VAR,  /* name/len */
    N_THIS, /* this */
    /* operators */
    N_UNARY,  /* op = '-', '+', '!'; a = operand */
    N_BINARY, /* op = a cryo_binop; a, b */
    N_AND,    /* a && b */
    N_OR,     /* a || b */
    N_ASSIGN, /* op = 0 for `=`, or the cryo_binop of a compound assignment (`+=`); a = target
                 (N_VAR, N_THIS, N_INDEX, N_FIELD), b = value */
    N_INDEX,  /* a[b] */
    N_FIELD,  /* a.name */
    N_RANGE,  /* a..b (ival 0) or a..=b (ival 1) */
    /* calls */
    N_CALL,    /* name(list...): a script fn, a host function, or a variable holding a Fn */
    N_METHOD,  /* a.name(list...) */
    N_CLOSURE, /* |params| body: list = N_PARAM nodes, a = body */
    N_PARAM,   /* name/len */
    /* control */
    N_BLOCK,    /* { list; ... }; ival = 1 when the last statement ended with ';' (value ()) */
    N_IF,       /* if a { b } else c (c may be NULL, an N_BLOCK or another N_IF) */
    N_SWITCH,   /* switch a { list = N_CASE ... } */
    N_CASE,     /* list = alternatives (values or N_RANGE; empty for `_`), b = guard (if
                   ...) or NULL, c = result expression */
    N_WHILE,    /* while a { b } */
    N_LOOP,     /* loop { b } */
    N_DO,       /* do { b } while a (ival 0) / until a (ival 1) */
    N_FOR,      /* for name in a { b }; name2/len2 = the index variable of `for (x, i)`
                   (NULL when absent) */
    N_BREAK,    /* break [a] */
    N_CONTINUE, /* continue */
    N_RETURN,   /* return [a] */
    N_THROW,    /* throw [a] (a NULL: re-throw inside catch) */
    N_TRY,      /* try { a } catch (name) { b }; name NULL when no variable */
    N_LET,      /* let name = a (a NULL: ()); ival = 1 for const */
    N_FNDEF,    /* fn name(list = N_PARAM) { a }; only at top level, collected in cryo_ast.fns;
                   a typed method `fn T.m()` has name "T.m" and name2 "m" */
    N_COALESCE, /* a ?? b: a, or b (evaluated only then) when a is () */
    N__COUNT
} cryo_node_kind;

typedef enum cryo_binop {
    BOP_NONE = 0,
    BOP_ADD,
    BOP_SUB,
    BOP_MUL,
    BOP_DIV,
    BOP_MOD,
    BOP_POW,
    BOP_SHL,
    BOP_SHR,
    BOP_BAND,
    BOP_BOR,
    BOP_BXOR,
    BOP_EQ,
    BOP_NE,
    BOP_LT,
    BOP_LE,
    BOP_GT,
    BOP_GE,
    BOP_IN,
    BOP_NOTIN,
} cryo_binop;

/* Bits of `op` on N_FIELD, N_INDEX and N_METHOD (Rhai's Elvis operators `?.` and `?[`). A
 * STEP tests its receiver: when it is (), the rest of the chain is skipped and the chain's value
 * is () (an assignment through it does nothing). The parser marks the outermost node of a
 * postfix chain holding a STEP with END: the compiler lands the skipped chain there. */
#define CRYO_ELVIS_STEP 1
#define CRYO_ELVIS_END  2

typedef struct cryo_node cryo_node;
struct cryo_node {
    cryo_node_kind kind;
    int line; /* 1-based position of the node's first token */
    int column;
    int op; /* cryo_binop or unary op char */
    int64_t ival;
    double fval;
    const char *name; /* arena string, NUL-terminated; len bytes */
    size_t len;
    const char *name2;
    size_t len2;
    cryo_node *a, *b, *c;
    cryo_node **list;
    int nlist;
};

typedef struct cryo_arena cryo_arena;

typedef struct cryo_ast {
    cryo_node *main; /* N_BLOCK: the top-level statements (fn definitions removed) */
    cryo_node **fns; /* N_FNDEF nodes in source order */
    int nfns;
    cryo_arena *arena;
} cryo_ast;

/* Parses `len` bytes of source. Returns the tree (owned by the caller, free with
 * cl_ast_free) or NULL when there were errors; then *errors receives the chain of every
 * error found (owned by the caller), each with kind CRYO_ERR_PARSE, a message naming what was
 * found and what was expected, line and column. `source_name` is copied into the errors.
 * `expression_only` accepts exactly one expression (Rhai's eval_expression).
 * Nesting deeper than CRYO_MAX_PARSE_DEPTH is a parse error, never a C stack overflow. */
#define CRYO_MAX_PARSE_DEPTH 200
cryo_ast *cl_parse(const char *src, size_t len, const char *source_name, bool expression_only,
                   cryo_error **errors);
void cl_ast_free(cryo_ast *ast);

/* Arena allocation (zeroed memory); used by the parser. */
cryo_arena *cl_arena_new(void);
void *cl_arena_alloc(cryo_arena *a, size_t size);
/* Zeroed bytes without alignment, for strings: no padding between names. */
void *cl_arena_alloc_str(cryo_arena *a, size_t size);
void cl_arena_free(cryo_arena *a);

/* Compiles a tree to a unit (compile.c). Errors (kind CRYO_ERR_COMPILE or CRYO_ERR_PARSE:
 * assignment to a constant, `this` outside a fn, break outside a loop, too many registers, ...)
 * go to *errors like the parser's. */
cryo_unit *cl_compile_ast(const cryo_ast *ast, const cryo_compile_options *opts,
                          cryo_error **errors);

/* Appends a new error to a chain (helpers shared by the parser and the compiler). */
cryo_error *cl_error_new(cryo_error_kind kind, const char *source_name, int line, int column,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cl_error_append(cryo_error **chain, cryo_error *err);

/* Parser notes (additions, parse.c): details of the tree the comments above leave open.
 * - N_RANGE: `a` or `b` (or both) is NULL for an open range: `..b`, `a..`, `..`, `..=`.
 * - N_BLOCK: `{}` and `{;}` have nlist 0 and ival 0 (value ()).
 * - N_INT / N_FLOAT: a sign applied directly to a numeric literal is folded (`-5` is one
 *   N_INT -5, so `-9223372036854775808` is INT64_MIN); any other `-x` is N_UNARY.
 * - A parenthesised expression has no node of its own; its node takes the position of `(`.
 * - N_INTERP: empty text pieces are left out; `${}` is N_UNIT; `${e}` is e itself; several
 *   statements (or one ending in `;`, or a `let`) are an N_BLOCK.
 * - N_CASE: the result `c` may be N_BREAK / N_CONTINUE / N_RETURN / N_THROW / N_ASSIGN, like
 *   a closure body `a` (Rhai parses both as statements). Case values are literals (N_INT,
 *   N_FLOAT, N_CHAR, N_STRING, N_BOOL, N_UNIT, N_RANGE of two N_INT, N_ARRAY / N_MAP of
 *   literals); the parser rejects anything else, a `_` that is not last, a `_ if`, and a
 *   numeric case after a range case.
 * - N_LET with ival 1 (const) may have a NULL `a`.
 * - The parser already rejects: duplicate fn (same name and arity), duplicate parameters,
 *   duplicate map keys, assignment to a literal or to a call result, index literals of the
 *   wrong type on array/string/map literals. Left to the compiler: break/continue outside a
 *   loop, assignment to a constant, `this` outside a fn.
 * - Unsupported Rhai features are parse errors whose message says "not supported": a lone
 *   `?`, caller-scope calls `f!(...)`, `ffi::` other than a call.
 * - Modules (`import`, `export`, `name::..`, `global::`) have no node kinds: the parser
 *   desugars them into N_CALL / N_LET / N_VAR nodes of the intrinsics `$import`, `$export`,
 *   `$modget`, `$modcall`, `$global`, `$setglobal` (parse.c, "Modules"; docs/modules.md).
 * - N_FNDEF: op = 1 for `private fn` (not exported from a module).
 * - `a?.b`, `a?.f(..)`, `a?[i]` are N_FIELD / N_METHOD / N_INDEX with CRYO_ELVIS_STEP in `op`;
 *   `??` is N_COALESCE at precedence 135 (between comparisons and ranges), left-associative.
 * - A typed method `fn T.m(..)` (T an identifier or a string) is an N_FNDEF named "T.m", name2
 *   "m": only a method call `x.m(..)` on a value whose type_of is T reaches it. */

#endif
