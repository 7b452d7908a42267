/*
 * cbtype.c — the parsed C types of callbacks, shared: every callback of one declaration string
 * in one scope uses one immutable parsed type (its cfunc, prepared cif and the hot path's
 * per-parameter value templates), interned in a process-wide table and refcounted, so that a
 * callback costs its own small struct and not a parser arena of its own (issue 19).
 *
 * Thread rules: the table and every entry's count are under one mutex, taken only when a
 * callback is made or freed (never on a call). An entry is immutable once in the table, so
 * calls read it with no lock. The declaration is parsed outside the table's lock (the parser
 * takes the scope's lock); when two threads parse the same declaration at once, the first to
 * insert wins and the other frees its copy.
 *
 * Why interning by the declaration's text is sound: a scope's names never change meaning once
 * defined (a typedef may only be repeated with the same type, struct and enum tags and
 * constants cannot be redefined, nothing is ever removed), so a declaration that parsed once
 * parses to the same type later. Scopes are named by a process-unique id, never by address: a
 * freed scope's address may be reused by a new scope with other names.
 */
#include "ffi_internal.h"
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 64
/* The entry's arena blocks: a parsed callback type is a few hundred bytes, so the arena does
 * not take the parser's default 4,000-byte blocks. */
#define TYPE_BLOCK 512

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static cf_cbtype *buckets[NBUCKETS];

static size_t bucket_of(uint64_t scope_id, const char *decl) {
    uint64_t h = 1469598103934665603ull ^ scope_id; /* FNV-1a */
    for (const unsigned char *s = (const unsigned char *)decl; *s; s++)
        h = (h ^ *s) * 1099511628211ull;
    return (size_t)(h % NBUCKETS);
}

/* Under table_lock. */
static cf_cbtype *find(size_t b, uint64_t scope_id, const char *decl) {
    for (cf_cbtype *t = buckets[b]; t; t = t->next)
        if (t->scope_id == scope_id && strcmp(t->decl, decl) == 0) return t;
    return NULL;
}

/* A parameter the hot path converts inline, and its value template (the payload is filled in
 * per call from the C slot). */
static bool hot_param(const ctype *pt, cryo_value *tmpl) {
    switch (pt->kind) {
    case CT_I32:
    case CT_I64: *tmpl = cryo_int(0); return true;
    case CT_F64: *tmpl = cryo_float(0); return true;
    case CT_PTR: *tmpl = cv_pointer_raw(NULL, (cryo_ptr_elem)pt->elem); return !pt->to_char;
    default: *tmpl = cryo_unit_value(); return false;
    }
}

/* Parses decl into a new entry with a count of one (not in the table yet). */
static cf_cbtype *parse(cryo_ffi_scope *scope, const char *decl, cryo_error **err) {
    cf_cbtype *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->arena.block = TYPE_BLOCK;
    char *name;
    ctype *ct;
    cryo_error *e = cf_parse_decl(scope, &t->arena, decl, &name, &ct);
    if (e) {
        fa_free(&t->arena);
        free(t);
        if (err)
            *err = e;
        else
            cryo_error_free(e);
        return NULL;
    }
    t->fn = ct->fn;
    t->scope_id = scope->id;
    t->refs = 1;
    int n = t->fn->nparams;
    cryo_value *argt = n ? fa_alloc(&t->arena, (size_t)n * sizeof *argt) : NULL;
    bool *arg32 = n ? fa_alloc(&t->arena, (size_t)n * sizeof *arg32) : NULL;
    char *copy = fa_strndup(&t->arena, decl, strlen(decl));
    if ((n && (!argt || !arg32)) || !copy) {
        fa_free(&t->arena);
        free(t);
        return NULL;
    }
    t->hot = true;
    for (int i = 0; i < n; i++) {
        const ctype *pt = t->fn->params[i];
        if (!hot_param(pt, &argt[i])) t->hot = false;
        arg32[i] = pt->kind == CT_I32;
    }
    t->argt = argt;
    t->arg32 = arg32;
    t->decl = copy;
    return t;
}

static void destroy(cf_cbtype *t) {
    fa_free(&t->arena);
    free(t);
}

cf_cbtype *cf_cbtype_get(cryo_ffi_scope *scope, const char *decl, cryo_error **err) {
    scope = cf_scope(scope);
    size_t b = bucket_of(scope->id, decl);
    pthread_mutex_lock(&table_lock);
    cf_cbtype *t = find(b, scope->id, decl);
    if (t) t->refs++;
    pthread_mutex_unlock(&table_lock);
    if (t) return t;

    cf_cbtype *mine = parse(scope, decl, err);
    if (!mine) return NULL;
    pthread_mutex_lock(&table_lock);
    t = find(b, scope->id, decl); /* another thread's, parsed meanwhile */
    if (t) {
        t->refs++;
    } else {
        mine->next = buckets[b];
        buckets[b] = t = mine;
        mine = NULL;
    }
    pthread_mutex_unlock(&table_lock);
    if (mine) destroy(mine);
    return t;
}

void cf_cbtype_put(cf_cbtype *t) {
    if (!t) return;
    pthread_mutex_lock(&table_lock);
    bool last = --t->refs == 0;
    if (last) {
        cf_cbtype **pt = &buckets[bucket_of(t->scope_id, t->decl)];
        while (*pt != t)
            pt = &(*pt)->next;
        *pt = t->next;
    }
    pthread_mutex_unlock(&table_lock);
    if (last) destroy(t);
}

size_t cf_cbtype_refs(const cf_cbtype *t) {
    pthread_mutex_lock(&table_lock);
    size_t n = t ? t->refs : 0;
    pthread_mutex_unlock(&table_lock);
    return n;
}
