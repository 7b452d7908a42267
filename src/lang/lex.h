/*
 * lex.h — the tokenizer behind parse.c. The whole source is turned into an array of tokens up
 * front: the parser needs arbitrary lookahead only rarely, and a flat array makes error
 * recovery (skipping to the next `;` or `}`) trivial.
 */
#ifndef CRYO_LEX_H
#define CRYO_LEX_H

#include "ast.h"

typedef enum cryo_tok {
    T_EOF = 0,
    T_ERROR, /* the lexer already reported an error here */
    T_IDENT,
    T_INT,
    T_FLOAT,
    T_STRING, /* "..." #"..."# or a backtick string without ${} */
    T_CHAR,
    T_INTERP_BEGIN, /* `text${   (str = text before the first ${) */
    T_INTERP_MID,   /* }text${ */
    T_INTERP_END,   /* }text`  */
    /* keywords */
    T_LET,
    T_CONST,
    T_IF,
    T_ELSE,
    T_SWITCH,
    T_DO,
    T_WHILE,
    T_UNTIL,
    T_LOOP,
    T_FOR,
    T_IN,
    T_BREAK,
    T_CONTINUE,
    T_RETURN,
    T_THROW,
    T_TRY,
    T_CATCH,
    T_FN,
    T_THIS,
    T_TRUE,
    T_FALSE,
    T_PRIVATE,
    T_MODULE_KW, /* import export as global (told apart by their text; parse.c) */
    /* punctuation */
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    T_POW,
    T_SHL,
    T_SHR,
    T_AMP,
    T_PIPE,
    T_CARET,
    T_ANDAND,
    T_OROR,
    T_BANG,
    T_EQEQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_DOTDOT,
    T_DOTDOTEQ,
    T_ASSIGN,
    T_PLUSEQ,
    T_MINUSEQ,
    T_STAREQ,
    T_SLASHEQ,
    T_PERCENTEQ,
    T_POWEQ,
    T_SHLEQ,
    T_SHREQ,
    T_AMPEQ,
    T_PIPEEQ,
    T_CARETEQ,
    T_DOT,
    T_LBRACKET,
    T_RBRACKET,
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_SEMI,
    T_COLON,
    T_ARROW,
    T_MAPSTART,
    T_NOTIN,
    T_UNDERSCORE,
    T_QUESTION,   /* ? alone: unsupported */
    T_QDOT,       /* ?.  (Elvis property access / method call) */
    T_QBRACKET,   /* ?[  (Elvis indexing) */
    T_QQ,         /* ??  (null-coalescing) */
    T_COLONCOLON, /* :: module paths */
    T__COUNT
} cryo_tok;

typedef struct cryo_token {
    cryo_tok type;
    int line, column;
    const char *start; /* source text of the token */
    size_t len;
    int64_t ival;    /* T_INT, T_CHAR */
    double fval;     /* T_FLOAT */
    const char *str; /* decoded text (arena) for strings, interp pieces, identifiers */
    size_t slen;
    bool int_min; /* T_INT 9223372036854775808: only valid right after a unary minus */
} cryo_token;

typedef struct cryo_tokens {
    cryo_token *v; /* malloc'd; the last one is T_EOF */
    int n;
    bool oom;
} cryo_tokens;

/* Tokenizes `len` bytes. Strings are decoded into `arena`. Every lexical error is appended to
 * *errors (and shows up as a T_ERROR token). Returns false only when out of memory. */
bool cl_lex(const char *src, size_t len, const char *source_name, cryo_arena *arena,
            cryo_tokens *out, cryo_error **errors);
void cl_tokens_free(cryo_tokens *t);

/* A short description of a token for messages: "'foo'", "end of input", "a string". */
void cl_tok_describe(const cryo_token *t, char *buf, size_t size);

#endif
