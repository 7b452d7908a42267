/*
 * context.c — contexts (immutable hash tables of host functions by name and arity) and the
 * per-(unit, context) bindings of a unit's host slots.
 */
#include "vm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash_name(const char *name, size_t len, int arity) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    h ^= (uint32_t)(arity + 1) * 0x9E3779B1u;
    h ^= h >> 15;
    return h;
}

static bool same_name(const cryo_libreg *r, const char *name, size_t len) {
    return strncmp(r->name, name, len) == 0 && r->name[len] == '\0';
}

static const cryo_libreg *lookup(const cryo_context *ctx, const char *name, size_t len, int arity) {
    if (ctx->nentries == 0) return NULL;
    uint32_t i = hash_name(name, len, arity) & ctx->mask;
    for (;;) {
        const cryo_libreg *r = ctx->buckets[i];
        if (!r) return NULL;
        if (r->arity == arity && same_name(r, name, len)) return r;
        i = (i + 1) & ctx->mask;
    }
}

const cryo_libreg *cryo_context_find(const cryo_context *ctx, const char *name, size_t len,
                                     int arity) {
    if (!ctx || !name) return NULL;
    const cryo_libreg *r = lookup(ctx, name, len, arity);
    return r ? r : lookup(ctx, name, len, -1);
}

/* Inserts a registration; the first one of a (name, arity) wins. */
static void insert(cryo_context *ctx, const cryo_libreg *reg) {
    size_t len = strlen(reg->name);
    uint32_t i = hash_name(reg->name, len, reg->arity) & ctx->mask;
    while (ctx->buckets[i]) {
        const cryo_libreg *r = ctx->buckets[i];
        if (r->arity == reg->arity && same_name(r, reg->name, len)) return;
        i = (i + 1) & ctx->mask;
    }
    ctx->buckets[i] = reg;
    ctx->nentries++;
}

static const cryo_libreg *no_buckets[1];
static cryo_context raw_context = {0, 0, no_buckets};
static cryo_context std_context = {0, 0, no_buckets};
static pthread_once_t std_once = PTHREAD_ONCE_INIT;

/* Fills an empty context from the tables; false when out of memory. */
static bool fill(cryo_context *ctx, const cryo_libreg *const *tables, int ntables) {
    size_t n = 0;
    for (int t = 0; t < ntables; t++)
        for (const cryo_libreg *r = tables[t]; r && r->name; r++)
            n++;
    uint32_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    const cryo_libreg **b = calloc(cap, sizeof *b);
    if (!b) return false;
    ctx->buckets = b;
    ctx->mask = cap - 1;
    ctx->nentries = 0;
    for (int t = 0; t < ntables; t++)
        for (const cryo_libreg *r = tables[t]; r && r->name; r++)
            insert(ctx, r);
    return true;
}

cryo_context *cryo_context_from_tables(const cryo_libreg *const *tables, int ntables) {
    cryo_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    if (!fill(ctx, tables, ntables)) {
        free(ctx);
        return NULL;
    }
    return ctx;
}

void cryo_context_free_tables(cryo_context *ctx) {
    if (!ctx || ctx == &std_context || ctx == &raw_context) return;
    free((void *)ctx->buckets);
    free(ctx);
}

static void build_std(void) {
    const cryo_libreg *const tables[] = {cryo_lib_core, cryo_lib_math, cryo_lib_string,
                                         cryo_lib_array, cryo_lib_map};
    /* Built once and kept for the life of the process, as cryo.h documents; out of memory
     * leaves the standard context empty. */
    if (!fill(&std_context, tables, (int)(sizeof tables / sizeof tables[0])))
        std_context.buckets = no_buckets;
}

CRYO_API cryo_context *cryo_context_std(void) {
    pthread_once(&std_once, build_std);
    return &std_context;
}

CRYO_API cryo_context *cryo_context_raw(void) {
    return &raw_context;
}

/* --- bindings ------------------------------------------------------------------------------ */

static cryo_binding *find_binding(cryo_binding *b, const cryo_context *ctx) {
    for (; b; b = b->next)
        if (b->ctx == ctx) return b;
    return NULL;
}

const cryo_binding *cryo_unit_bind(cryo_unit *u, const cryo_context *ctx) {
    cryo_binding *head = atomic_load_explicit(&u->bindings, memory_order_acquire);
    cryo_binding *b = find_binding(head, ctx);
    if (b) return b;
    /* Allocated with malloc, freed with free() by cryo_unit_destroy. */
    b = malloc(sizeof *b + (size_t)u->nhosts * sizeof b->slots[0]);
    if (!b) return NULL;
    b->ctx = ctx;
    for (uint32_t i = 0; i < u->nhosts; i++) {
        const cryo_hostslot *hs = &u->hosts[i];
        b->slots[i] = cryo_context_find(ctx, hs->name, strlen(hs->name), (int)hs->arity);
    }
    for (;;) {
        b->next = head;
        if (atomic_compare_exchange_weak_explicit(&u->bindings, &head, b, memory_order_release,
                                                  memory_order_acquire))
            return b;
        /* Another thread published first: it may have bound the same context. */
        cryo_binding *other = find_binding(head, ctx);
        if (other) {
            free(b);
            return other;
        }
    }
}
