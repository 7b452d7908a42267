/*
 * test-parse.c — the lexer and parser: tree shapes (through an s-expression printer),
 * precedence, literals, errors with positions, recovery, the depth limit, the Rhai corpus,
 * and robustness against random and truncated input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "lex.h"

#define CORPUS "../shared/conformance/rhai/"

/* ---- s-expression printer for the tree (test helper) ---- */
typedef struct sx {
    char *s;
    size_t len, cap;
} sx;

static void sx_put(sx *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = realloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static void sx_str(sx *b, const char *s) {
    sx_put(b, s, strlen(s));
}

static void sx_quoted(sx *b, const char *s, size_t n, char q) {
    char tmp[16];
    sx_put(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            sx_str(b, "\\n");
        else if (c == '\t')
            sx_str(b, "\\t");
        else if (c == '\r')
            sx_str(b, "\\r");
        else if (c == '\\')
            sx_str(b, "\\\\");
        else if (c == (unsigned char)q) {
            sx_put(b, "\\", 1);
            sx_put(b, &q, 1);
        } else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            sx_str(b, tmp);
        } else
            sx_put(b, (const char *)&c, 1);
    }
    sx_put(b, &q, 1);
}

static const char *const binop_names[] = {"?", "+", "-",  "*",  "/", "%",  "**", "<<", ">>", "&",
                                          "|", "^", "==", "!=", "<", "<=", ">",  ">=", "in", "!in"};

static void sx_node(sx *b, const cryo_node *n);
static void sx_list(sx *b, const cryo_node *n) {
    for (int i = 0; i < n->nlist; i++) {
        sx_str(b, " ");
        sx_node(b, n->list[i]);
    }
}
static void sx_opt(sx *b, const cryo_node *n) {
    if (n) {
        sx_str(b, " ");
        sx_node(b, n);
    }
}
static void sx_name(sx *b, const char *s, size_t n) {
    sx_put(b, s, n);
}

static void sx_node(sx *b, const cryo_node *n) {
    char tmp[64];
    if (!n) {
        sx_str(b, "_");
        return;
    }
    switch (n->kind) {
    case N_UNIT: sx_str(b, "()"); break;
    case N_BOOL: sx_str(b, n->ival ? "true" : "false"); break;
    case N_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)n->ival);
        sx_str(b, tmp);
        break;
    case N_FLOAT:
        snprintf(tmp, sizeof tmp, "%.17g", n->fval);
        if (!strpbrk(tmp, ".eni")) strcat(tmp, ".0");
        sx_str(b, tmp);
        break;
    case N_CHAR: {
        char u[8];
        uint32_t c = (uint32_t)n->ival;
        size_t k = 0;
        if (c < 0x80)
            u[k++] = (char)c;
        else if (c < 0x800) {
            u[k++] = (char)(0xC0 | (c >> 6));
            u[k++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            u[k++] = (char)(0xE0 | (c >> 12));
            u[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            u[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            u[k++] = (char)(0xF0 | (c >> 18));
            u[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
            u[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            u[k++] = (char)(0x80 | (c & 0x3F));
        }
        sx_quoted(b, u, k, '\'');
        break;
    }
    case N_STRING: sx_quoted(b, n->name, n->len, '"'); break;
    case N_INTERP:
        sx_str(b, "(interp");
        sx_list(b, n);
        sx_str(b, ")");
        break;
    case N_ARRAY:
        sx_str(b, "(array");
        sx_list(b, n);
        sx_str(b, ")");
        break;
    case N_MAP:
        sx_str(b, "(map");
        sx_list(b, n);
        sx_str(b, ")");
        break;
    case N_MAPENTRY:
        sx_name(b, n->name, n->len);
        sx_str(b, ":");
        sx_node(b, n->a);
        break;
    case N_VAR: sx_name(b, n->name, n->len); break;
    case N_THIS: sx_str(b, "this"); break;
    case N_UNARY:
        snprintf(tmp, sizeof tmp, "(%c ", n->op);
        sx_str(b, tmp);
        sx_node(b, n->a);
        sx_str(b, ")");
        break;
    case N_BINARY:
        sx_str(b, "(");
        sx_str(b, binop_names[n->op]);
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_AND:
        sx_str(b, "(&&");
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_OR:
        sx_str(b, "(||");
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_ASSIGN:
        sx_str(b, "(");
        if (n->op) sx_str(b, binop_names[n->op]);
        sx_str(b, "=");
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_INDEX:
        sx_str(b, "(index");
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_FIELD:
        sx_str(b, "(. ");
        sx_node(b, n->a);
        sx_str(b, " ");
        sx_name(b, n->name, n->len);
        sx_str(b, ")");
        break;
    case N_RANGE:
        sx_str(b, n->ival ? "(..= " : "(.. ");
        sx_node(b, n->a);
        sx_str(b, " ");
        sx_node(b, n->b);
        sx_str(b, ")");
        break;
    case N_CALL:
        sx_str(b, "(call ");
        sx_name(b, n->name, n->len);
        sx_list(b, n);
        sx_str(b, ")");
        break;
    case N_METHOD:
        sx_str(b, "(method ");
        sx_node(b, n->a);
        sx_str(b, " ");
        sx_name(b, n->name, n->len);
        sx_list(b, n);
        sx_str(b, ")");
        break;
    case N_CLOSURE:
        sx_str(b, "(closure (");
        for (int i = 0; i < n->nlist; i++) {
            if (i) sx_str(b, " ");
            sx_node(b, n->list[i]);
        }
        sx_str(b, ")");
        sx_opt(b, n->a);
        sx_str(b, ")");
        break;
    case N_PARAM: sx_name(b, n->name, n->len); break;
    case N_BLOCK:
        sx_str(b, "{");
        for (int i = 0; i < n->nlist; i++) {
            if (i) sx_str(b, " ");
            sx_node(b, n->list[i]);
        }
        sx_str(b, n->ival ? ";}" : "}");
        break;
    case N_IF:
        sx_str(b, "(if");
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_opt(b, n->c);
        sx_str(b, ")");
        break;
    case N_SWITCH:
        sx_str(b, "(switch");
        sx_opt(b, n->a);
        sx_list(b, n);
        sx_str(b, ")");
        break;
    case N_CASE:
        sx_str(b, "(case (");
        for (int i = 0; i < n->nlist; i++) {
            if (i) sx_str(b, " ");
            sx_node(b, n->list[i]);
        }
        sx_str(b, n->nlist ? ")" : "_)");
        if (n->b) {
            sx_str(b, " if ");
            sx_node(b, n->b);
        }
        sx_str(b, " =>");
        sx_opt(b, n->c);
        sx_str(b, ")");
        break;
    case N_WHILE:
        sx_str(b, "(while");
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_LOOP:
        sx_str(b, "(loop");
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_DO:
        sx_str(b, "(do");
        sx_opt(b, n->b);
        sx_str(b, n->ival ? " until" : " while");
        sx_opt(b, n->a);
        sx_str(b, ")");
        break;
    case N_FOR:
        sx_str(b, "(for ");
        sx_name(b, n->name, n->len);
        if (n->name2) {
            sx_str(b, " ");
            sx_name(b, n->name2, n->len2);
        }
        sx_opt(b, n->a);
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_BREAK:
        sx_str(b, "(break");
        sx_opt(b, n->a);
        sx_str(b, ")");
        break;
    case N_CONTINUE: sx_str(b, "(continue)"); break;
    case N_RETURN:
        sx_str(b, "(return");
        sx_opt(b, n->a);
        sx_str(b, ")");
        break;
    case N_THROW:
        sx_str(b, "(throw");
        sx_opt(b, n->a);
        sx_str(b, ")");
        break;
    case N_TRY:
        sx_str(b, "(try");
        sx_opt(b, n->a);
        if (n->name) {
            sx_str(b, " ");
            sx_name(b, n->name, n->len);
        }
        sx_opt(b, n->b);
        sx_str(b, ")");
        break;
    case N_LET:
        sx_str(b, n->ival ? "(const " : "(let ");
        sx_name(b, n->name, n->len);
        sx_opt(b, n->a);
        sx_str(b, ")");
        break;
    case N_FNDEF:
        sx_str(b, "(fn ");
        sx_name(b, n->name, n->len);
        sx_str(b, " (");
        for (int i = 0; i < n->nlist; i++) {
            if (i) sx_str(b, " ");
            sx_node(b, n->list[i]);
        }
        sx_str(b, ")");
        sx_opt(b, n->a);
        sx_str(b, ")");
        break;
    default: sx_str(b, "(?)"); break;
    }
}

/* The whole tree: function definitions, then the main block. Caller frees. */
static char *sx_ast(const cryo_ast *ast) {
    sx b = {0};
    sx_str(&b, "");
    for (int i = 0; i < ast->nfns; i++) {
        sx_node(&b, ast->fns[i]);
        sx_str(&b, " ");
    }
    sx_node(&b, ast->main);
    return b.s;
}

/* ---- helpers ---- */

/* Parses and returns the s-expression (or "ERR <first message>"), caller frees. */
static char *parse_to_sx(const char *src, bool expr_only) {
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, strlen(src), "test", expr_only, &err);
    char *out;
    if (ast) {
        assert_null(err);
        out = sx_ast(ast);
        cl_ast_free(ast);
    } else {
        assert_non_null(err);
        out = malloc(strlen(err->message) + 8);
        sprintf(out, "ERR %s", err->message);
        cryo_error_free(err);
    }
    return out;
}

static void check_shape_mode(const char *src, const char *want, bool expr_only) {
    char *got = parse_to_sx(src, expr_only);
    if (strcmp(got, want) != 0) {
        print_error("source: %s\n  want: %s\n   got: %s\n", src, want, got);
        free(got);
        fail();
    }
    free(got);
}
static void check_shape(const char *src, const char *want) {
    check_shape_mode(src, want, false);
}

/* Expects a parse failure whose first error is at line:col and contains `msg`. */
static void check_error_mode(const char *src, int line, int col, const char *msg, bool expr_only) {
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, strlen(src), "test", expr_only, &err);
    if (ast) {
        print_error("source: %s\n  parsed but an error was expected\n", src);
        cl_ast_free(ast);
        fail();
    }
    assert_non_null(err);
    if (err->kind != CRYO_ERR_PARSE || err->line != line || err->column != col ||
        !strstr(err->message, msg)) {
        print_error("source: %s\n  want: %d:%d %s\n   got: %d:%d %s\n", src, line, col, msg,
                    err->line, err->column, err->message);
        cryo_error_free(err);
        fail();
    }
    cryo_error_free(err);
}
static void check_error(const char *src, int line, int col, const char *msg) {
    check_error_mode(src, line, col, msg, false);
}

static int count_errors(const char *src, size_t len) {
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, len, "test", false, &err);
    cl_ast_free(ast);
    int n = 0;
    for (cryo_error *e = err; e; e = e->next)
        n++;
    cryo_error_free(err);
    return n;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* ---- shapes ---- */

static void test_statements(void **state) {
    (void)state;
    check_shape("let x = 1; x", "{(let x 1) x}");
    check_shape("let x; const Y = 2;", "{(let x) (const Y 2);}");
    check_shape("", "{}");
    check_shape("1;;", "{1;}");
    check_shape("fn add(a, b) { a + b } add(1, 2)", "(fn add (a b) {(+ a b)}) {(call add 1 2)}");
    check_shape("private fn f() { } 1", "(fn f () {}) {1}");
    check_shape("if a { 1 } else if b { 2 } else { 3 }", "{(if a {1} (if b {2} {3}))}");
    check_shape("if a { 1 } x", "{(if a {1}) x}");
    check_shape("while x < 10 { x += 1; }", "{(while (< x 10) {(+= x 1);})}");
    check_shape("loop { break; }", "{(loop {(break);})}");
    check_shape("loop { break 42 }", "{(loop {(break 42)})}");
    check_shape("do { x -= 1 } while x > 0;", "{(do {(-= x 1)} while (> x 0));}");
    check_shape("do { x } until x", "{(do {x} until x)}");
    check_shape("for x in arr { continue; }", "{(for x arr {(continue);})}");
    check_shape("for (x, i) in 0..10 { }", "{(for x i (.. 0 10) {})}");
    check_shape("return;", "{(return);}");
    check_shape("return x + 1", "{(return (+ x 1))}");
    check_shape("throw \"oops\"", "{(throw \"oops\")}");
    check_shape("try { throw 1 } catch (e) { e }", "{(try {(throw 1)} e {e})}");
    check_shape("try { 1 } catch { 2 }", "{(try {1} {2})}");
    check_shape("{ let a = 1; a } { 2; }", "{{(let a 1) a} {2;}}");
    check_shape("x = 1; this.y = 2; a[0].b = 3; a.b[1] **= 2",
                "{(= x 1) (= (. this y) 2) (= (. (index a 0) b) 3) (**= (index (. a b) 1) 2)}");
    check_shape("x <<= 1; x >>= 1; x &= 1; x |= 1; x ^= 1; x %= 2; x /= 2; x *= 2",
                "{(<<= x 1) (>>= x 1) (&= x 1) (|= x 1) (^= x 1) (%= x 2) (/= x 2) (*= x 2)}");
    /* block-ending statements need no ';' and do not continue as expressions */
    check_shape("switch x { _ => 1 } -1", "{(switch x (case (_) => 1)) -1}");
    check_shape("let y = if a { 1 } else { 2 } + 3;", "{(let y (+ (if a {1} {2}) 3));}");
}

static void test_expressions(void **state) {
    (void)state;
    check_shape("f(1, g(2), )", "{(call f 1 (call g 2))}");
    check_shape("Fn(\"foo\").call(1)", "{(method (call Fn \"foo\") call 1)}");
    check_shape("a.b.c(1).d[2][3]", "{(index (index (. (method (. a b) c 1) d) 2) 3)}");
    check_shape("42.type_of()", "{(method 42 type_of)}");
    check_shape("[1, [2, 3], ]", "{(array 1 (array 2 3))}");
    check_shape("[]", "{(array)}");
    check_shape("#{a: 1, \"b c\": 2, }", "{(map a:1 b c:2)}");
    check_shape("#{}", "{(map)}");
    check_shape("|a, b| a + b", "{(closure (a b) (+ a b))}");
    check_shape("|| 42", "{(closure () 42)}");
    check_shape("|x| { x }", "{(closure (x) {x})}");
    check_shape("|| x = this", "{(closure () (= x this))}");
    check_shape("arr.map(|x| x * 2).filter(|x| x > 2)",
                "{(method (method arr map (closure (x) (* x 2))) filter (closure (x) (> x 2)))}");
    check_shape("()", "{()}");
    check_shape("(1 + 2) * 3", "{(* (+ 1 2) 3)}");
    check_shape("x in y && z !in w", "{(&& (in x y) (!in z w))}");
    check_shape("1..10", "{(.. 1 10)}");
    check_shape("1..=10", "{(..= 1 10)}");
    check_shape("y[2..]; y[..2]; y[..=]; f(..)", "{(index y (.. 2 _)) (index y (.. _ 2)) "
                                                 "(index y (..= _ _)) (call f (.. _ _))}");
    check_shape("for x in 0.. { }", "{(for x (.. 0 _) {})}");
    check_shape("let x = loop { break 1; };", "{(let x (loop {(break 1);}));}");
    check_shape("switch x { 1 | 2 => 3, 5..10 if x > 2 => { 7 } 'a' => (), _ => 0 }",
                "{(switch x (case (1 2) => 3) (case ((.. 5 10)) if (> x 2) => {7}) "
                "(case ('a') => ()) (case (_) => 0))}");
    check_shape("switch x { -10..20 => 1, [1, 2] => 2, #{a: 1} => 3 }",
                "{(switch x (case ((.. -10 20)) => 1) (case ((array 1 2)) => 2) "
                "(case ((map a:1)) => 3))}");
    check_shape(
        "switch x { 1 => x = 2, 2 => break, 3 => return 4 }",
        "{(switch x (case (1) => (= x 2)) (case (2) => (break)) (case (3) => (return 4)))}");
    check_shape("switch x { 1 => 2, } + 1", "{(switch x (case (1) => 2)) 1}");
}

static void test_precedence(void **state) {
    (void)state;
    check_shape("1 + 2 * 3 - 4", "{(- (+ 1 (* 2 3)) 4)}");
    check_shape("1 - 2 - 3", "{(- (- 1 2) 3)}");
    check_shape("a / b % c * d", "{(* (% (/ a b) c) d)}");
    check_shape("2 ** 3 ** 2", "{(** 2 (** 3 2))}");
    check_shape("2 * 3 ** 2", "{(* 2 (** 3 2))}");
    check_shape("-2 ** 2", "{(** -2 2)}");
    check_shape("-x ** 2", "{(** (- x) 2)}");
    check_shape("1 << 2 ** 3", "{(** (<< 1 2) 3)}"); /* << binds tighter than ** in Rhai */
    check_shape("1 + 2 << 3", "{(+ 1 (<< 2 3))}");
    check_shape("1 + 2 .. 3 * 4", "{(.. (+ 1 2) (* 3 4))}");
    check_shape("a < b == c > d", "{(== (< a b) (> c d))}");
    check_shape("a in b == c", "{(== (in a b) c)}");
    check_shape("a < b in c", "{(in (< a b) c)}");
    check_shape("a == b && c != d", "{(&& (== a b) (!= c d))}");
    check_shape("a & b == c", "{(& a (== b c))}");
    check_shape("a || b && c", "{(|| a (&& b c))}");
    check_shape("a | b & c ^ d", "{(^ (| a (& b c)) d)}");
    check_shape("a || b | c", "{(| (|| a b) c)}");
    check_shape("!a && !!b", "{(&& (! a) (! (! b)))}");
    check_shape("5 - -+ + + - -+-5", "{(- 5 5)}");
    check_shape("-a.b[1]", "{(- (index (. a b) 1))}");
    check_shape("10 % +4", "{(% 10 4)}");
    check_shape("-(1)", "{-1}");
    check_shape("- -x", "{(- (- x))}");
}

static void test_literals(void **state) {
    (void)state;
    check_shape("42; 1_000_000; 0xff; 0XfF; 0o17; 0O17; 0b101; 0B1_01",
                "{42 1000000 255 255 15 15 5 5}");
    check_shape("0xffffffffffffffff", "{-1}");
    check_shape("9223372036854775807", "{9223372036854775807}");
    check_shape("-9223372036854775808", "{-9223372036854775808}");
    check_shape("1.5; 1e10; 1.5e-3; 1_000.5; 2.; 123456E-3; 1e+2",
                "{1.5 10000000000.0 0.0015 1000.5 2.0 123.456 100.0}");
    check_shape("1..2", "{(.. 1 2)}");
    check_shape("true; false", "{true false}");
    check_shape("\"a\\n\\t\\r\\\\\\\"\\'\\0\"", "{\"a\\n\\t\\r\\\\\\\"'\\x00\"}");
    check_shape("\"\\x41\\u00e9\\U0001F600\"", "{\"A\xc3\xa9\xf0\x9f\x98\x80\"}");
    check_shape("\"say \"\"hi\"\"\"", "{\"say \\\"hi\\\"\"}");
    /* continuation: the newline and the next line's indentation up to the quote's column
     * are dropped */
    check_shape("   \"a\\\n     b\"", "{\"a b\"}");
    check_shape("\"a\\\r\nb\"", "{\"ab\"}");
    check_shape("\"caf\xc3\xa9\"", "{\"caf\xc3\xa9\"}");
    check_shape("#\"raw \\n \"# + ##\"a\"#b\"##", "{(+ \"raw \\\\n \" \"a\\\"#b\")}");
    check_shape("#\"two\nlines\"#", "{\"two\\nlines\"}");
    check_shape("'a'; '\\n'; '\\''; '\"'; '\\u2764'; '\xc3\xa9'",
                "{'a' '\\n' '\\'' '\"' '\xe2\x9d\xa4' '\xc3\xa9'}");
    check_shape("`plain \\n text`", "{\"plain \\\\n text\"}");
    check_shape("`\nfirst`", "{\"first\"}");
    check_shape("`a``b`", "{\"a`b\"}");
    check_shape("`multi\nline`", "{\"multi\\nline\"}");
    check_shape("`x = ${x}!`", "{(interp \"x = \" x \"!\")}");
    check_shape("`${a}${b}`", "{(interp a b)}");
    check_shape("`${}`", "{(interp ())}");
    check_shape("`${ let w = 1; w + 1 }`", "{(interp {(let w 1) (+ w 1)})}");
    check_shape("`a ${ #{b: `${ \"}\" }`}.b } c`",
                "{(interp \"a \" (. (map b:(interp \"}\")) b) \" c\")}");
    check_shape("`${ if x { `y` } else { \"z\" } }`", "{(interp (if x {\"y\"} {\"z\"}))}");
    check_shape("`$x {} $`", "{\"$x {} $\"}");
    check_shape("// line\n/* block /* nested */ still */ 1 /// doc\n//! inner doc\n", "{1}");
    check_shape("#!/usr/bin/env rhai\n1", "{1}");
}

static void test_positions(void **state) {
    (void)state;
    const char *src = "let x = 1;\n  foo(\"\xc3\xa9\xc3\xa9\", y.z);\n\tbar";
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, strlen(src), "p", false, &err);
    assert_non_null(ast);
    cryo_node *m = ast->main;
    assert_int_equal(m->nlist, 3);
    assert_int_equal(m->list[0]->line, 1);
    assert_int_equal(m->list[0]->column, 1);
    assert_int_equal(m->list[0]->a->column, 9);
    cryo_node *call = m->list[1];
    assert_int_equal(call->kind, N_CALL);
    assert_int_equal(call->line, 2);
    assert_int_equal(call->column, 3);
    assert_int_equal(call->list[0]->column, 7);
    assert_int_equal(call->list[1]->kind, N_FIELD);
    assert_int_equal(call->list[1]->column, 13); /* columns count characters, not bytes */
    assert_int_equal(m->list[2]->line, 3);
    assert_int_equal(m->list[2]->column, 2);
    cl_ast_free(ast);
    /* binary nodes sit at their first token */
    ast = cl_parse("  a +\n b", 8, NULL, false, &err);
    assert_non_null(ast);
    assert_int_equal(ast->main->list[0]->kind, N_BINARY);
    assert_int_equal(ast->main->list[0]->line, 1);
    assert_int_equal(ast->main->list[0]->column, 3);
    assert_int_equal(ast->main->list[0]->b->line, 2);
    cl_ast_free(ast);
}

static void test_functions_collected(void **state) {
    (void)state;
    const char *src = "fn a() { 1 } let x = 2; fn b(p, q) { p } x";
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, strlen(src), NULL, false, &err);
    assert_non_null(ast);
    assert_int_equal(ast->nfns, 2);
    assert_string_equal(ast->fns[0]->name, "a");
    assert_string_equal(ast->fns[1]->name, "b");
    assert_int_equal(ast->fns[1]->nlist, 2);
    assert_int_equal(ast->fns[1]->list[1]->kind, N_PARAM);
    assert_int_equal(ast->main->nlist, 2);
    assert_int_equal(ast->main->ival, 0);
    cl_ast_free(ast);
    /* a fn after the last statement does not change the block's value rule */
    check_shape("let x = 1; fn f() {}", "(fn f () {}) {(let x 1);}");
    check_shape("fn f(x) { x } fn f(x, y) { y }", "(fn f (x) {x}) (fn f (x y) {y}) {}");
}

static void test_expression_mode(void **state) {
    (void)state;
    check_shape_mode("2 + (10 + 10) * 2", "{(+ 2 (* (+ 10 10) 2))}", true);
    check_shape_mode("if x { 1 } else { 2 }", "{(if x {1} {2})}", true);
    check_shape_mode("switch x { 1 => 2, _ => 3 }", "{(switch x (case (1) => 2) (case (_) => 3))}",
                     true);
    check_shape_mode("|x| x + 1", "{(closure (x) (+ x 1))}", true);
    check_error_mode("40 + 2;", 1, 7, "';' is not allowed", true);
    check_error_mode("40 + { 2 }", 1, 6, "'{' is not allowed", true);
    check_error_mode("x = 42", 1, 3, "'=' is not allowed", true);
    check_error_mode("let x = 42", 1, 1, "expected an expression but found 'let'", true);
    check_error_mode("|x| {}", 1, 5, "'{' is not allowed", true);
    check_error_mode("do { break 42; } while true", 1, 1, "'do' is not allowed", true);
    check_error_mode("1 2", 1, 3, "expected end of the expression but found '2'", true);
}

/* ---- errors ---- */

static void test_syntax_errors(void **state) {
    (void)state;
    check_error("foo(1, 2 }", 1, 10, "expected ',' or ')' but found '}'");
    check_error("let = 5;", 1, 5, "expected a variable name but found '='");
    check_error("let x = ;", 1, 9, "expected an expression but found ';'");
    check_error("let x = 1 let y = 2;", 1, 11, "expected ';' but found 'let'");
    check_error("(1 + 2", 1, 7, "expected ')' but found end of input");
    check_error("[1, 2", 1, 6, "expected ',' or ']' but found end of input");
    check_error("#{a 1}", 1, 5, "expected ':' but found '1'");
    check_error("#{1: 2}", 1, 3, "expected a property name");
    check_error("let y = #{`a${1}`: 1};", 1, 11, "expected a property name");
    check_error("if x 1", 1, 6, "expected '{' but found '1'");
    check_error("if (x) print(1);", 1, 8, "expected '{' but found 'print'");
    check_error("while { }", 1, 10, "expected '{' but found end of input");
    check_error("do { } x", 1, 8, "expected 'while' or 'until' but found 'x'");
    check_error("for in x {}", 1, 5, "expected a loop variable name but found 'in'");
    check_error("for x y {}", 1, 7, "expected 'in' but found 'y'");
    check_error("try { } (e) { }", 1, 9, "expected 'catch' but found '('");
    check_error("fn (x) {}", 1, 4, "expected a function name but found '('");
    check_error("fn f(1) {}", 1, 6, "expected a parameter name but found '1'");
    check_error("fn f() { fn g() {} }", 1, 10, "only be defined at the top level");
    check_error("{ fn g() {} }", 1, 3, "only be defined at the top level");
    check_error("let f = || { fn g() {} };", 1, 14, "only be defined at the top level");
    check_error("a.1", 1, 3, "expected a property or method name after '.' but found '1'");
    check_error("0xabcd.123", 1, 8, "expected a property or method name");
    check_error("123.456e1.23", 1, 11, "expected a property or method name");
    check_error("let y = (x = 1);", 1, 12, "an assignment is a statement");
    check_error("x = y = 1;", 1, 7, "expected ';' but found '='");
    check_error("switch x { 1 => 2 3 => 4 }", 1, 19, "expected ',' or '}' but found '3'");
    check_error("switch x { 1 2 }", 1, 14, "expected '=>' but found '2'");
    check_error("}", 1, 1, "unexpected '}'");
    check_error("|a b| a", 1, 4, "expected ',' or '|' but found 'b'");
    check_error("import \"x\" as ;", 1, 15, "expected a module name after 'as'");
    check_error("{ export let x = 1; }", 1, 3, "'export' is only allowed at the top level");
    check_error("let x = a::;", 1, 12, "expected a name after '::'");
    check_error("let x = global::f();", 1, 9, "expected 'global::NAME'");
    check_error("a ? b", 1, 3, "'?' is not supported");
    check_error("fn int.double { this * 2 }", 1, 15, "expected '(' but found '{'");
    check_error("call!(f)", 1, 1, "caller-scope calls ('call!(...)') are not supported");
    check_error("x++", 1, 4, "expected an expression but found end of input");
    check_error("fn/*", 1, 3, "unterminated block comment");
}

static void test_lexical_errors(void **state) {
    (void)state;
    check_error("let x = 9223372036854775808;", 1, 9,
                "integer literal '9223372036854775808' is too large");
    check_error("0x1_0000_0000_0000_0000", 1, 1, "is too large");
    check_error("0b102", 1, 1, "malformed number '0b102'");
    check_error("0x", 1, 1, "malformed number");
    check_error("123abc", 1, 1, "malformed number '123abc'");
    check_error("\"abc", 1, 1, "unterminated string literal");
    check_error("\"ab\ncd\"", 1, 1, "unterminated string literal");
    check_error("\"a\\qb\"", 1, 3, "unknown escape sequence '\\q'");
    check_error("\"\\x4\"", 1, 2, "invalid escape sequence '\\x'");
    check_error("'\\uhello'", 1, 2, "invalid escape sequence '\\u'");
    check_error("\"\\uD800\"", 1, 2, "invalid escape sequence");
    check_error("''", 1, 1, "empty character literal");
    check_error("'ab'", 1, 1, "more than one character");
    check_error("'a", 1, 1, "unterminated character literal");
    check_error("`abc", 1, 1, "unterminated backtick string");
    check_error("let s = `a ${x", 1, 9, "unterminated");
    check_error("#\"abc", 1, 1, "unterminated raw string literal");
    check_error("#\"Test string: \\\"##", 1, 19, "unknown operator '#'");
    check_error("let x = 1 @ 2;", 1, 11, "unexpected character '@'");
    check_error("let var = 1;", 1, 5, "'var' is a reserved keyword");
    check_error("let x = null;", 1, 9, "'null' is a reserved keyword");
    check_error("/* open /* nested */", 1, 1, "unterminated block comment");
    check_error("let \xc3\xa9 = 1;", 1, 5, "unexpected character '\xc3\xa9'");
    check_error("let x = \"a\xff\";", 1, 11, "invalid UTF-8 byte 0xFF");
    check_error("let x = 1; // \xc3\n", 1, 15, "invalid UTF-8");
    check_error("x\xe2\x82", 1, 2, "invalid UTF-8");
    check_error("\xed\xa0\x80", 1, 1, "invalid UTF-8"); /* an encoded surrogate */
    check_error("\xc0\xaf", 1, 1, "invalid UTF-8");     /* overlong */
    /* NUL bytes: strlen cannot carry them, so parse directly */
    const char src[] = "let x = \"a\0b\";";
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, sizeof src - 1, "n", false, &err);
    assert_null(ast);
    assert_non_null(err);
    assert_int_equal(err->line, 1);
    assert_int_equal(err->column, 11);
    assert_non_null(strstr(err->message, "NUL byte"));
    cryo_error_free(err);
    const char src2[] = "1 +\0 2";
    assert_int_equal(count_errors(src2, sizeof src2 - 1), 1);
}

static void test_semantic_errors(void **state) {
    (void)state;
    check_error("(x+y) = 42;", 1, 1, "invalid assignment target");
    check_error("foo(x) = 42;", 1, 1, "invalid assignment target");
    check_error("x.foo() = 42;", 1, 1, "invalid assignment target");
    check_error("x[y].z.foo() = 42;", 1, 1, "invalid assignment target");
    check_error("x.foo().x.y = 42;", 1, 1, "invalid assignment target");
    check_error("true = 42;", 1, 1, "cannot assign to a constant value");
    check_error("123 = 42;", 1, 1, "cannot assign to a constant value");
    check_error("[1, 2, 3]['x']", 1, 11, "array access expects an integer index");
    check_error("[1, 2, 3][()]", 1, 11, "array access expects an integer index");
    check_error("[1, 2, 3][1.5]", 1, 11, "array access expects an integer index");
    check_error("[1, 2, 3][\"a\"]", 1, 11, "array access expects an integer index");
    check_error("[1, 2, 3][true && false]", 1, 11, "array access expects an integer index");
    check_error("\"abc\"[\"a\"]", 1, 7, "string access expects an integer index");
    check_error("#{a:1}['x']", 1, 8, "object map access expects a string index");
    check_error("#{a:1}[1]", 1, 8, "object map access expects a string index");
    check_shape("[1, 2][1..2]; #{a: 1}[\"a\"]; x['c']", "{(index (array 1 2) (.. 1 2)) "
                                                        "(index (map a:1) \"a\") (index x 'c')}");
    check_error("fn abc(x) { x }\nfn abc(y) { y }", 2, 4,
                "function 'abc' with 1 parameter(s) is already defined");
    check_error("fn hello(x, x) { x }", 1, 13, "duplicate parameter 'x' in function 'hello'");
    check_error("|x, x| x", 1, 5, "duplicate parameter 'x'");
    check_error("#{a: 1, a: 2}", 1, 9, "duplicate property 'a'");
    check_error("switch x { _ => 123, 1 => 42 }", 1, 22, "the default case '_' must be the last");
    check_error("switch x { 1 => 123, _ if true => 42 }", 1, 24, "cannot have a condition");
    check_error("switch x { 10..20 => (), 42 => 'x' }", 1, 26,
                "numeric switch cases must come before range cases");
    check_error("switch x { 10..20 => (), 42.0 => 'x' }", 1, 26,
                "numeric switch cases must come before range cases");
    check_error("switch x { y => 1 }", 1, 12, "a switch case value must be a literal");
    check_error("switch x { 1 + 2 => 1 }", 1, 12, "a switch case value must be a literal");
    check_shape("switch x { 42 => 1, 42 => 2, 'w' => 3, 1..2 => 4, 'z' => 5 }",
                "{(switch x (case (42) => 1) (case (42) => 2) (case ('w') => 3) "
                "(case ((.. 1 2)) => 4) (case ('z') => 5))}");
}

static void test_recovery(void **state) {
    (void)state;
    const char *src = "let a = ;\n"
                      "let b = 1 +;\n"
                      "fn f( { }\n"
                      "let ok = 1;\n"
                      "if x { let c = ) ; let d = 2 }\n"
                      "foo(1, 2 };\n"
                      "let e = \"\\q\"; let f = 'xy';\n"
                      "x = 1 2;\n";
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, strlen(src), "r.rhai", false, &err);
    assert_null(ast);
    int want[][2] = {{1, 9}, {2, 12}, {3, 7}, {5, 16}, {6, 10}, {7, 10}, {7, 23}, {8, 7}};
    int n = 0;
    for (cryo_error *e = err; e; e = e->next, n++) {
        if (n < 8 && (e->line != want[n][0] || e->column != want[n][1]))
            print_error("error %d at %d:%d: %s\n", n, e->line, e->column, e->message);
        if (n < 8) {
            assert_int_equal(e->line, want[n][0]);
            assert_int_equal(e->column, want[n][1]);
        }
        assert_int_equal(e->kind, CRYO_ERR_PARSE);
        assert_string_equal(e->source_name, "r.rhai");
    }
    assert_int_equal(n, 8);
    cryo_error_free(err);
    /* errors after a broken block are still found */
    assert_int_equal(count_errors("fn f() { let x = ; }\nlet y = ;\n", 20 + 10), 2);
    /* NULL error pointer is allowed */
    assert_null(cl_parse("let = ;", 7, NULL, false, NULL));
}

static void test_lexer_tokens(void **state) {
    (void)state;
    const char *src = "x !in `a${ {1} }b` #{ ..= 0b11 'c' \"averyveryveryverylongstring\"";
    cryo_arena *arena = cl_arena_new();
    cryo_tokens toks;
    cryo_error *err = NULL;
    assert_true(cl_lex(src, strlen(src), NULL, arena, &toks, &err));
    assert_null(err);
    cryo_tok want[] = {T_IDENT,  T_NOTIN,      T_INTERP_BEGIN, T_LBRACE,   T_INT,
                       T_RBRACE, T_INTERP_END, T_MAPSTART,     T_DOTDOTEQ, T_INT,
                       T_CHAR,   T_STRING,     T_EOF};
    assert_int_equal(toks.n, (int)(sizeof want / sizeof *want));
    for (int i = 0; i < toks.n; i++)
        assert_int_equal(toks.v[i].type, want[i]);
    assert_string_equal(toks.v[2].str, "a");
    assert_string_equal(toks.v[6].str, "b");
    assert_int_equal(toks.v[9].ival, 3);
    assert_int_equal(toks.v[10].ival, 'c');
    char buf[64];
    cl_tok_describe(&toks.v[0], buf, sizeof buf);
    assert_string_equal(buf, "'x'");
    cl_tok_describe(&toks.v[11], buf, sizeof buf);
    assert_string_equal(buf, "'\"averyveryveryverylongst...'");
    cl_tok_describe(&toks.v[12], buf, sizeof buf);
    assert_string_equal(buf, "end of input");
    cl_tokens_free(&toks);
    cl_arena_free(arena);
    /* no source at all is an empty script */
    cryo_ast *ast = cl_parse(NULL, 0, NULL, false, &err);
    assert_non_null(ast);
    assert_int_equal(ast->main->nlist, 0);
    cl_ast_free(ast);
    /* big allocations from the arena stay usable and zeroed */
    arena = cl_arena_new();
    char *small = cl_arena_alloc(arena, 10);
    char *big = cl_arena_alloc(arena, 100000);
    char *small2 = cl_arena_alloc(arena, 10);
    assert_non_null(small);
    assert_non_null(big);
    assert_non_null(small2);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(big[i], 0);
    assert_int_equal((uintptr_t)small2 % _Alignof(max_align_t), 0);
    cl_arena_free(arena);
}

static void test_error_format(void **state) {
    (void)state;
    const char *src = "let x = 1;\n\tfoo(1 };\nlet = 2;";
    cryo_error *err = NULL;
    assert_null(cl_parse(src, strlen(src), "main.rhai", false, &err));
    char *s = cryo_error_format(err, src, strlen(src));
    assert_string_equal(s, "main.rhai:2:8: parse error: expected ',' or ')' but found '}'\n"
                           "\tfoo(1 };\n"
                           "\t      ^\n"
                           "main.rhai:3:5: parse error: expected a variable name but found '='\n"
                           "let = 2;\n"
                           "    ^\n");
    free(s);
    s = cryo_error_format(err, NULL, 0);
    assert_string_equal(s, "main.rhai:2:8: parse error: expected ',' or ')' but found '}'\n"
                           "main.rhai:3:5: parse error: expected a variable name but found '='\n");
    free(s);
    cryo_error_free(err);
    cryo_error *e = cl_error_new(CRYO_ERR_TYPE, NULL, 0, 0, "bad %s %d", "thing", 3);
    s = cryo_error_format(e, "x", 1);
    assert_string_equal(s, "<script>: type error: bad thing 3\n");
    free(s);
    cl_error_append(&e, cl_error_new(CRYO_ERR_RUNTIME, "a", 1, 2, "boom"));
    assert_non_null(e->next);
    s = cryo_error_format(e, "xyz", 3);
    assert_string_equal(s,
                        "<script>: type error: bad thing 3\na:1:2: runtime error: boom\nxyz\n ^\n");
    free(s);
    cryo_error_free(e);
    cryo_error_free(NULL);
    assert_string_equal(cryo_error_kind_name(CRYO_ERR_PARSE), "parse error");
    assert_string_equal(cryo_error_kind_name(CRYO_ERR_ARITHMETIC), "arithmetic error");
    assert_string_equal(cryo_error_kind_name((cryo_error_kind)999), "unknown error");
}

static char *repeat(const char *a, int n, const char *mid, const char *b) {
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = malloc(la * (size_t)n + lb * (size_t)n + lm + 1), *q = s;
    for (int i = 0; i < n; i++)
        memcpy(q, a, la), q += la;
    memcpy(q, mid, lm), q += lm;
    for (int i = 0; i < n; i++)
        memcpy(q, b, lb), q += lb;
    *q = '\0';
    return s;
}

static void expect_too_deep(const char *src) {
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, strlen(src), NULL, false, &err);
    assert_null(ast);
    assert_non_null(err);
    bool found = false;
    for (cryo_error *e = err; e; e = e->next)
        found |= strstr(e->message, "nested too deeply") != NULL;
    assert_true(found);
    cryo_error_free(err);
}

static void expect_parses(const char *src) {
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, strlen(src), NULL, false, &err);
    if (!ast) print_error("%s\n", err ? err->message : "?");
    assert_non_null(ast);
    cl_ast_free(ast);
}

static void test_depth_limit(void **state) {
    (void)state;
    const int deep = 100000; /* far past any C stack if recursion were unbounded */
    char *s;
    s = repeat("(", deep, "1", ")");
    expect_too_deep(s);
    free(s);
    s = repeat("(1+", deep, "1", ")");
    expect_too_deep(s);
    free(s);
    s = repeat("[", deep, "", "]");
    expect_too_deep(s);
    free(s);
    s = repeat("{", deep, "", "}");
    expect_too_deep(s);
    free(s);
    s = repeat("!", deep, "x", "");
    expect_too_deep(s);
    free(s);
    s = repeat("-", deep, "x", "");
    expect_too_deep(s);
    free(s);
    s = repeat("1**", deep, "1", "");
    expect_too_deep(s);
    free(s);
    s = repeat("f(", deep, "", ")");
    expect_too_deep(s);
    free(s);
    s = repeat("if x {", deep, "", "}");
    expect_too_deep(s);
    free(s);
    s = repeat("|x| ", deep, "x", "");
    expect_too_deep(s);
    free(s);
    s = repeat("#{a:", deep, "1", "}");
    expect_too_deep(s);
    free(s);
    s = repeat("`${", deep, "", "}`");
    expect_too_deep(s);
    free(s);
    s = repeat("a.b(", deep, "", ")");
    expect_too_deep(s);
    free(s);
    /* moderate nesting is fine */
    s = repeat("(", 40, "1", ")");
    expect_parses(s);
    free(s);
    s = repeat("if x {", 40, "", "}");
    expect_parses(s);
    free(s);
    s = repeat("!", 100, "x", "");
    expect_parses(s);
    free(s);
    s = repeat("[", 60, "", "]");
    expect_parses(s);
    free(s);
    /* long flat chains are not nesting */
    s = repeat("1+", deep, "1", "");
    expect_parses(s);
    free(s);
    s = repeat("a.b", deep / 10, "", "");
    expect_parses(s);
    free(s);
    s = repeat("x;", deep, "", "");
    expect_parses(s);
    free(s);
}

/* ---- corpus ---- */

/* Parses the JSON string starting at the opening quote. Returns malloc'd bytes. */
static char *json_string(const char *p, size_t *len) {
    char *out = malloc(strlen(p) + 1);
    size_t n = 0;
    p++;
    while (*p && *p != '"') {
        if (*p != '\\') {
            out[n++] = *p++;
            continue;
        }
        p++;
        char c = *p++;
        switch (c) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'u': {
            unsigned cp = (unsigned)strtoul((char[]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = (unsigned)strtoul((char[]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp < 0x80)
                out[n++] = (char)cp;
            else if (cp < 0x800)
                out[n++] = (char)(0xC0 | (cp >> 6)), out[n++] = (char)(0x80 | (cp & 0x3F));
            else if (cp < 0x10000)
                out[n++] = (char)(0xE0 | (cp >> 12)), out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                out[n++] = (char)(0x80 | (cp & 0x3F));
            else
                out[n++] = (char)(0xF0 | (cp >> 18)), out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F)),
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)), out[n++] = (char)(0x80 | (cp & 0x3F));
            break;
        }
        default: out[n++] = c; break;
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Parse errors Rhai reports that belong to the compiler or to engine limits, not to us. */
static bool not_ours(const char *kind) {
    return strstr(kind, "LoopBreak") || strstr(kind, "AssignmentToConstant\"") ||
           strstr(kind, "LiteralTooLarge") || strstr(kind, "TooManyFunctions");
}

/* Features cryo leaves out: the parser says so with "not supported". */
static bool unsupported(const cryo_error *err) {
    for (const cryo_error *e = err; e; e = e->next)
        if (strstr(e->message, "not supported")) return true;
    return false;
}

static void run_cases(const char *file, int *parsed, int *skipped, int *failed_ok) {
    size_t len;
    char *text = read_file(file, &len);
    if (!text) {
        print_error("cannot read %s (run from the repository root)\n", file);
        fail();
    }
    char *line = text;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *sp = strstr(line, "\"script\": \"");
        if (sp) {
            size_t slen;
            char *script = json_string(sp + 10, &slen);
            const char *ek = strstr(line, "\"error_kind\": \"parse");
            bool expr = strstr(line, "\"mode\": \"expression\"") != NULL;
            cryo_error *err = NULL;
            cryo_ast *ast = cl_parse(script, slen, "case", expr, &err);
            if (ek && !not_ours(ek)) {
                if (ast) print_error("should fail: %.80s\n", line);
                assert_null(ast);
                (*failed_ok)++;
            } else if (!ek && !ast && unsupported(err)) {
                (*skipped)++;
            } else if (!ek && !ast && strstr(line, "\"type\": \"error\"")) {
                (*failed_ok)++; /* an error case with no kind given: any error will do */
            } else if (!ek) {
                if (!ast)
                    print_error("%s\n  %s at %d:%d\n", line, err->message, err->line, err->column);
                assert_non_null(ast);
                (*parsed)++;
            }
            cl_ast_free(ast);
            cryo_error_free(err);
            free(script);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
}

/* The corpus sits beside the repository (../shared); without it these tests are skipped. */
static bool have_corpus(void) {
    FILE *f = fopen(CORPUS "cases.jsonl", "r");
    if (!f) return false;
    fclose(f);
    return true;
}

static void test_corpus_cases(void **state) {
    (void)state;
    if (!have_corpus()) skip();
    int parsed = 0, skipped = 0, failed_ok = 0;
    run_cases(CORPUS "cases.jsonl", &parsed, &skipped, &failed_ok);
    run_cases(CORPUS "cases_extra.jsonl", &parsed, &skipped, &failed_ok);
    print_message("cases: %d parsed, %d expected errors found, %d skipped (unsupported)\n", parsed,
                  failed_ok, skipped);
    assert_true(parsed > 500);
}

typedef void (*file_fn)(const char *path, const char *name, const char *text, size_t len,
                        void *ctx);

static void for_each_script(const char *dir, file_fn fn, void *ctx) {
    DIR *d = opendir(dir);
    if (!d) {
        print_error("cannot open %s (run from the repository root)\n", dir);
        fail();
    }
    struct dirent *ent;
    while ((ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 5, ".rhai") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        size_t len;
        char *text = read_file(path, &len);
        if (text) fn(path, ent->d_name, text, len, ctx);
        free(text);
    }
    closedir(d);
}

/* Scripts that are not meant to parse as Rhai at all: a type-definition stub, and a fuzzing
 * seed with deliberate mistakes (missing `;`, an unterminated string, duplicate fns). */
static const char *const known_invalid[] = {"all_in_one.d.rhai", "fuzzing_seed_corpus_all.rhai"};

static void parse_script(const char *path, const char *name, const char *text, size_t len,
                         void *ctx) {
    int *counts = ctx;
    for (size_t i = 0; i < sizeof known_invalid / sizeof *known_invalid; i++)
        if (strcmp(name, known_invalid[i]) == 0) {
            counts[1]++;
            print_message("skipped %s (not core Rhai)\n", name);
            return;
        }
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(text, len, path, false, &err);
    if (!ast && unsupported(err)) {
        counts[1]++;
        print_message("skipped %s: %s\n", name, err->message);
    } else {
        if (!ast) print_error("%s:%d:%d: %s\n", path, err->line, err->column, err->message);
        assert_non_null(ast);
        counts[0]++;
    }
    cl_ast_free(ast);
    cryo_error_free(err);
}

static void test_corpus_scripts(void **state) {
    (void)state;
    if (!have_corpus()) skip();
    int counts[2] = {0, 0};
    for_each_script(CORPUS "scripts", parse_script, counts);
    for_each_script(CORPUS "scripts/benches", parse_script, counts);
    print_message("scripts: %d parsed, %d skipped\n", counts[0], counts[1]);
    assert_true(counts[0] > 60);
}

/* ---- robustness ---- */

static void parse_quietly(const char *src, size_t len, bool expr) {
    cryo_error *err = NULL;
    cryo_ast *ast = cl_parse(src, len, "fuzz", expr, &err);
    assert_true((ast == NULL) == (err != NULL));
    cl_ast_free(ast);
    char *s = cryo_error_format(err, src, len);
    free(s);
    cryo_error_free(err);
}

static void prefixes(const char *path, const char *name, const char *text, size_t len, void *ctx) {
    (void)path, (void)name, (void)ctx;
    /* every prefix of small files; a sample of big ones keeps the test (and valgrind) fast */
    size_t step = len <= 6000 ? 1 : len / 100;
    for (size_t n = 0; n <= len; n += step)
        parse_quietly(text, n, false);
}

static void test_truncated_scripts(void **state) {
    (void)state;
    if (!have_corpus()) skip();
    for_each_script(CORPUS "scripts", prefixes, NULL);
    for_each_script(CORPUS "scripts/benches", prefixes, NULL);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_random_input(void **state) {
    (void)state;
    static const char *const pieces[] = {"let ",     "x",
                                         " = ",      "1",
                                         "+",        "(",
                                         ")",        "{",
                                         "}",        "[",
                                         "]",        "#{",
                                         ":",        ";",
                                         ",",        "|",
                                         "||",       "if ",
                                         "else ",    "switch ",
                                         "=>",       "_",
                                         "fn ",      "\"",
                                         "'",        "`",
                                         "${",       "\\",
                                         "/*",       "*/",
                                         "//",       "\n",
                                         "..",       "..=",
                                         "!in ",     "in ",
                                         "for ",     "while ",
                                         "do ",      "loop ",
                                         "break ",   "return ",
                                         "try ",     "catch ",
                                         "throw ",   "this",
                                         ".",        "0x",
                                         "1e",       "\xc3\xa9",
                                         "\xff",     "#",
                                         "\"",       "::",
                                         "?.",       "**",
                                         "<<=",      "const ",
                                         "private ", "a",
                                         "0",        "9223372036854775808",
                                         "-"};
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0, want = rnd() % 200;
        if (iter % 3 == 0) {
            while (n < want)
                buf[n++] = (char)rnd(); /* raw bytes, NULs included */
        } else {
            while (n < want) {
                const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
                size_t k = strlen(p);
                if (n + k > sizeof buf) break;
                memcpy(buf + n, p, k);
                n += k;
            }
        }
        parse_quietly(buf, n, iter % 5 == 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statements),        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_precedence),        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_positions),         cmocka_unit_test(test_functions_collected),
        cmocka_unit_test(test_expression_mode),   cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_lexical_errors),    cmocka_unit_test(test_semantic_errors),
        cmocka_unit_test(test_recovery),          cmocka_unit_test(test_lexer_tokens),
        cmocka_unit_test(test_error_format),      cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_corpus_cases),      cmocka_unit_test(test_corpus_scripts),
        cmocka_unit_test(test_truncated_scripts), cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
