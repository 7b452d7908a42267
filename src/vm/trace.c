/*
 * trace.c — stack traces of runtime errors: captured from the VM's frames when an error is
 * raised, completed with host frames as the error leaves host functions, copied with the error
 * across threads. See trace.h; the public walk (cryo_error_frame) is documented in cryo.h.
 */
#include "trace.h"
#include "vm.h"

#include <stdlib.h>
#include <string.h>

/* A deeper stack keeps this many innermost and outermost frames around one ELIDED frame
 * (INNER + 1 + OUTER == CRYO_TRACE_MAX): the innermost calls say where it failed, the
 * outermost how the program got there; a runaway recursion's middle says nothing new. */
#define TRACE_INNER 40
#define TRACE_OUTER (CRYO_TRACE_MAX - TRACE_INNER - 1)

const char *cryo_frame_kind_name(cryo_frame_kind kind) {
    switch (kind) {
    case CRYO_FRAME_SCRIPT: return "script";
    case CRYO_FRAME_HOST: return "host";
    case CRYO_FRAME_BUILTIN: return "builtin";
    case CRYO_FRAME_CALLBACK: return "callback";
    case CRYO_FRAME_THREAD: return "thread";
    case CRYO_FRAME_ELIDED: return "elided";
    }
    return "unknown";
}

int cryo_error_frame_count(const cryo_error *err) {
    return err && err->trace ? err->trace->n : 0;
}

const cryo_trace_frame *cryo_error_frame(const cryo_error *err, int i) {
    if (!err || !err->trace || i < 0 || i >= err->trace->n) return NULL;
    return &err->trace->e[i].f;
}

void cvm_trace_free(struct cryo_trace *t) {
    free(t);
}

static size_t str_size(const char *s) {
    return s ? strlen(s) + 1 : 0;
}

static const char *put_str(char **pool, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = *pool;
    memcpy(d, s, n);
    *pool += n;
    return d;
}

/* Frames an item stands for: an ELIDED item counts what it left out. */
static int weight(const cryo_trace_item *it) {
    return it->f.kind == CRYO_FRAME_ELIDED ? it->f.line : 1;
}

/* One block holding `n` items (strings borrowed from anywhere, copied in), cut down to
 * CRYO_TRACE_MAX items around one ELIDED item. NULL when n == 0 or out of memory. */
static struct cryo_trace *build(const cryo_trace_item *items, int n) {
    if (n <= 0) return NULL;
    cryo_trace_item cut[CRYO_TRACE_MAX];
    if (n > CRYO_TRACE_MAX) {
        int m = 0, left = 0;
        for (int i = 0; i < TRACE_INNER; i++)
            cut[m++] = items[i];
        for (int i = TRACE_INNER; i < n - TRACE_OUTER; i++)
            left += weight(&items[i]);
        cut[m++] = (cryo_trace_item){{CRYO_FRAME_ELIDED, "...", NULL, left, 0}, -1};
        for (int i = n - TRACE_OUTER; i < n; i++)
            cut[m++] = items[i];
        items = cut;
        n = m;
    }
    size_t bytes = sizeof(struct cryo_trace) + (size_t)n * sizeof(cryo_trace_item);
    for (int i = 0; i < n; i++)
        bytes += str_size(items[i].f.function) + str_size(items[i].f.source_name);
    struct cryo_trace *t = malloc(bytes);
    if (!t) return NULL;
    t->n = n;
    char *pool = (char *)&t->e[n];
    for (int i = 0; i < n; i++) {
        t->e[i] = items[i];
        t->e[i].f.function = put_str(&pool, items[i].f.function);
        t->e[i].f.source_name = put_str(&pool, items[i].f.source_name);
    }
    return t;
}

struct cryo_trace *cvm_trace_copy(const struct cryo_trace *t) {
    return t ? build(t->e, t->n) : NULL;
}

const char *cvm_trace_fn_name(const cryo_proto *p) {
    if (p->unit && p->unit->nprotos > 0 && p == p->unit->protos[0]) return "<main>";
    if (!p->name) return "?";
    return strncmp(p->name, "anon$", 5) == 0 ? "<closure>" : p->name;
}

/* The script frame vm->frames[i]: its function as written and the position it is at (the
 * instruction before its saved pc: the call it made, or the one that raised). */
static cryo_trace_item script_item(const cryo_vm *vm, int i) {
    const cryo_frame *f = &vm->frames[i];
    const cryo_proto *p = f->proto;
    cryo_trace_item it = {{CRYO_FRAME_SCRIPT, "?", NULL, 0, 0}, i};
    if (!p) return it;
    it.f.function = cvm_trace_fn_name(p);
    if (p->unit) it.f.source_name = p->unit->source_name;
    if (p->lines && p->ncode > 0) {
        const cryo_instr *ip = f->pc > p->code ? f->pc - 1 : p->code;
        size_t idx = (size_t)(ip - p->code);
        if (idx >= p->ncode) idx = p->ncode - 1;
        it.f.line = p->lines[idx].line;
        it.f.column = p->lines[idx].column;
    }
    return it;
}

void cvm_trace_capture(cryo_vm *vm, cryo_error *e) {
    cvm_trace_free(e->trace);
    e->trace = NULL;
    int nf = vm->nframes;
    if (nf <= 0 || !vm->frames) return;
    /* Only the frames a trace keeps are read: a deep recursion costs no more than 64. */
    cryo_trace_item items[CRYO_TRACE_MAX];
    int n = 0;
    if (nf <= CRYO_TRACE_MAX) {
        for (int i = nf - 1; i >= 0; i--)
            items[n++] = script_item(vm, i);
    } else {
        for (int i = nf - 1; i >= nf - TRACE_INNER; i--)
            items[n++] = script_item(vm, i);
        items[n++] = (cryo_trace_item){
            {CRYO_FRAME_ELIDED, "...", NULL, nf - TRACE_INNER - TRACE_OUTER, 0}, -1};
        for (int i = TRACE_OUTER - 1; i >= 0; i--)
            items[n++] = script_item(vm, i);
    }
    e->trace = build(items, n);
}

/* Replaces e->trace with `n` items (borrowed strings may point into the old trace: it is
 * freed only after the new one is built). Out of memory keeps the old trace. */
static void replace(cryo_error *e, const cryo_trace_item *items, int n) {
    struct cryo_trace *t = build(items, n);
    if (!t) return;
    cvm_trace_free(e->trace);
    e->trace = t;
}

void cvm_trace_add_host(cryo_error *e, const char *name, const struct cryo_libreg *reg, int depth) {
    if (!e || !e->trace) return;
    const struct cryo_trace *old = e->trace;
    int n = old->n;
    cryo_trace_item *items = malloc((size_t)(n + 1) * sizeof *items);
    if (!items) return;
    /* under the frames of script code the host function called back (depth > `depth`) and
     * under host frames the same script frame called inside it (call(Fn("abs"), ..)) */
    int pos = 0;
    while (pos < n && !(old->e[pos].f.kind == CRYO_FRAME_SCRIPT && old->e[pos].depth >= 0 &&
                        old->e[pos].depth <= depth))
        pos++;
    memcpy(items, old->e, (size_t)pos * sizeof *items);
    items[pos] =
        (cryo_trace_item){{reg && cvm_libreg_is_std(reg) ? CRYO_FRAME_BUILTIN : CRYO_FRAME_HOST,
                           name ? name : "<host>", NULL, 0, 0},
                          depth};
    memcpy(items + pos + 1, old->e + pos, (size_t)(n - pos) * sizeof *items);
    replace(e, items, n + 1);
    free(items);
}

void cvm_trace_add_outer(cryo_error *e, cryo_frame_kind kind, const char *name) {
    if (!e) return;
    int n = e->trace ? e->trace->n : 0;
    cryo_trace_item *items = malloc((size_t)(n + 1) * sizeof *items);
    if (!items) return;
    if (n) memcpy(items, e->trace->e, (size_t)n * sizeof *items);
    items[n] = (cryo_trace_item){{kind, name, NULL, 0, 0}, -1};
    replace(e, items, n + 1);
    free(items);
}

void cvm_trace_prepend(cryo_error *e, const struct cryo_trace *inner, cryo_frame_kind kind,
                       const char *name) {
    if (!e) return;
    int ni = inner ? inner->n : 0, no = e->trace ? e->trace->n : 0;
    cryo_trace_item *items = malloc((size_t)(ni + 1 + no) * sizeof *items);
    if (!items) return;
    for (int i = 0; i < ni; i++) {
        items[i] = inner->e[i];
        items[i].depth = -1; /* another VM's frames */
    }
    items[ni] = (cryo_trace_item){{kind, name, NULL, 0, 0}, -1};
    if (no) memcpy(items + ni + 1, e->trace->e, (size_t)no * sizeof *items);
    replace(e, items, ni + 1 + no);
    free(items);
}
