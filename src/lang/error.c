/*
 * error.c — errors as values: construction, chaining and the CLI's display format.
 */
#include "ast.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cryo_error_kind_name(cryo_error_kind kind) {
    switch (kind) {
    case CRYO_OK: return "ok";
    case CRYO_ERR_PARSE: return "parse error";
    case CRYO_ERR_COMPILE: return "compile error";
    case CRYO_ERR_TYPE: return "type error";
    case CRYO_ERR_ARITHMETIC: return "arithmetic error";
    case CRYO_ERR_INDEX: return "index error";
    case CRYO_ERR_NOT_FOUND: return "not found";
    case CRYO_ERR_ARGUMENT: return "argument error";
    case CRYO_ERR_CONSTANT: return "constant error";
    case CRYO_ERR_RUNTIME: return "runtime error";
    case CRYO_ERR_TOO_MANY_OPERATIONS: return "too many operations";
    case CRYO_ERR_STACK_OVERFLOW: return "stack overflow";
    case CRYO_ERR_DATA_TOO_LARGE: return "data too large";
    case CRYO_ERR_MEMORY: return "out of memory";
    case CRYO_ERR_INTERRUPTED: return "interrupted";
    case CRYO_ERR_API: return "API error";
    }
    return "unknown error";
}

cryo_error *cl_error_new(cryo_error_kind kind, const char *source_name, int line, int column,
                         const char *fmt, ...) {
    cryo_error *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->kind = kind;
    e->line = line;
    e->column = column;
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    e->message = malloc((size_t)n + 1);
    if (e->message) vsnprintf(e->message, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    if (source_name) e->source_name = strdup(source_name);
    if (!e->message || (source_name && !e->source_name)) {
        cryo_error_free(e);
        return NULL;
    }
    return e;
}

void cl_error_append(cryo_error **chain, cryo_error *err) {
    if (!chain || !err) return;
    while (*chain)
        chain = &(*chain)->next;
    *chain = err;
}

void cryo_error_free(cryo_error *err) {
    while (err) {
        cryo_error *next = err->next;
        free(err->message);
        free(err->source_name);
        free(err->trace); /* one block (vm/trace.h); the VM layer builds it */
        free(err);
        err = next;
    }
}

/* A growable string; `ok` turns false for good on the first failed allocation. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool ok;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (!b->ok) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->ok = false;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->ok = false;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    free(big);
}

/* Shows the source line of `line` and a caret under `column` (counted in characters; tabs
 * are echoed so the caret lines up whatever the tab width). */
typedef struct line_cursor {
    int line; /* the line that starts at `offset` */
    size_t offset;
} line_cursor;

static void show_line(sbuf *b, const char *src, size_t len, int line, int column, line_cursor *lc) {
    /* Errors usually come in source order: resume from the last line shown. */
    if (lc->line > line) {
        lc->line = 1;
        lc->offset = 0;
    }
    size_t i = lc->offset;
    for (int l = lc->line; l < line && i < len; i++) {
        if (src[i] == '\n') {
            l++;
            lc->line = l;
            lc->offset = i + 1;
        }
    }
    if (lc->line != line) return; /* past the end of the source */
    i = lc->offset;
    size_t end = i;
    while (end < len && src[end] != '\n' && src[end] != '\r')
        end++;
    sb_put(b, src + i, end - i);
    sb_put(b, "\n", 1);
    int col = 1;
    for (size_t k = i; k < end && col < column; k++) {
        unsigned char c = (unsigned char)src[k];
        if ((c & 0xC0) == 0x80) continue;
        sb_put(b, c == '\t' ? "\t" : " ", 1);
        col++;
    }
    for (; col < column; col++)
        sb_put(b, " ", 1);
    sb_put(b, "^\n", 2);
}

/* The calls under the error, innermost first (as Rust's and JavaScript's traces: the line
 * just above is the error's own position, so the frame nearest it reads first). A trace of one
 * frame only repeats the error's position and is left out. */
static void show_trace(sbuf *b, const cryo_error *e) {
    int n = cryo_error_frame_count(e);
    if (n < 2) return;
    sb_printf(b, "stack trace (innermost call first):\n");
    for (int i = 0; i < n; i++) {
        const cryo_trace_frame *f = cryo_error_frame(e, i);
        const char *fn = f->function ? f->function : "?";
        switch (f->kind) {
        case CRYO_FRAME_SCRIPT:
            sb_printf(b, "  at %s (%s:%d:%d)\n", fn, f->source_name ? f->source_name : "<script>",
                      f->line, f->column);
            break;
        case CRYO_FRAME_ELIDED: sb_printf(b, "  ... %d more calls ...\n", f->line); break;
        default: sb_printf(b, "  at %s [%s]\n", fn, cryo_frame_kind_name(f->kind)); break;
        }
    }
}

char *cryo_error_format(const cryo_error *err, const char *source, size_t source_len) {
    sbuf b = {NULL, 0, 0, true};
    sb_put(&b, "", 0);
    line_cursor lc = {1, 0};
    for (const cryo_error *e = err; e; e = e->next) {
        const char *name = e->source_name ? e->source_name : "<script>";
        const char *kind = cryo_error_kind_name(e->kind);
        const char *msg = e->message ? e->message : "";
        /* "not found: function not found: f()" says it twice: a message that already names
         * its kind stands alone. */
        const char *sep = ": ";
        if (strstr(msg, kind)) kind = sep = "";
        if (e->line > 0)
            sb_printf(&b, "%s:%d:%d: %s%s%s\n", name, e->line, e->column, kind, sep, msg);
        else
            sb_printf(&b, "%s: %s%s%s\n", name, kind, sep, msg);
        /* A position inside a text given to eval() is not one of `source`'s. */
        bool in_eval = e->source_name && strcmp(e->source_name, "eval") == 0;
        if (source && e->line > 0 && e->column > 0 && !in_eval)
            show_line(&b, source, source_len, e->line, e->column, &lc);
        show_trace(&b, e);
    }
    if (!b.ok) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
