/*
 * context.c — contexts (the sealed packages a VM sees, capabilities, default limits) and the
 * per-(unit, context) bindings of a unit's host slots.
 *
 * A context holds references to its packages, not copies of their functions: creating one is
 * O(number of packages). Lookups walk the packages; they happen once per (unit, context) when
 * a unit is bound (cached in the unit), for Fn("name") calls and property getters, never per
 * CALLH.
 */
#include "vm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CALL_DEPTH 64 /* Rhai's max_call_levels in release builds */
/* Spawned threads running at once per run (with their own spawns): enough for a script to use
 * the cores of a common machine, few enough that a hostile loop of spawns cannot exhaust the
 * host's threads. */
#define DEFAULT_THREADS 8

static const cryo_libreg *find_exact(const cryo_context *ctx, const char *name, size_t len,
                                     int arity) {
    uint32_t h = cvm_fn_hash(name, len, arity); /* once for all packages */
    for (int i = 0; i < ctx->npackages; i++) {
        const cryo_libreg *r = cvm_package_find_h(ctx->packages[i], name, len, arity, h);
        if (r) return r;
    }
    return NULL;
}

const cryo_libreg *cvm_context_find(const cryo_context *ctx, const char *name, size_t len,
                                    int arity) {
    if (!ctx || !name || ctx->npackages == 0) return NULL;
    const cryo_libreg *r = find_exact(ctx, name, len, arity);
    return r ? r : find_exact(ctx, name, len, -1);
}

const cryo_handle_type *cvm_context_find_type(const cryo_context *ctx, const char *name) {
    const cryo_handle_type *t = NULL;
    for (int i = 0; ctx && !t && i < ctx->npackages; i++)
        t = cvm_package_find_type(ctx->packages[i], name);
    return t;
}

/* --- the std and raw contexts -------------------------------------------------------------- */

static cryo_package *std_packages[1];
static cryo_context raw_context = {
    .is_static = true,
    .limits =
        {[CRYO_LIMIT_CALL_DEPTH] = DEFAULT_CALL_DEPTH, [CRYO_LIMIT_THREADS] = DEFAULT_THREADS},
    .id = 1};
/* spawn is part of the language: the standard context grants threads (see cryo.h). */
static cryo_context std_context = {
    .is_static = true,
    .capabilities = CRYO_CAP_THREADS,
    .limits =
        {[CRYO_LIMIT_CALL_DEPTH] = DEFAULT_CALL_DEPTH, [CRYO_LIMIT_THREADS] = DEFAULT_THREADS},
    .id = 2};
static atomic_uint_least64_t next_id = 3;
static pthread_once_t std_once = PTHREAD_ONCE_INIT;

static void build_std(void) {
    std_packages[0] = cryo_package_std();
    std_context.packages = std_packages;
    std_context.npackages = 1;
}

CRYO_API cryo_context *cryo_context_std(void) {
    pthread_once(&std_once, build_std);
    return &std_context;
}

CRYO_API cryo_context *cryo_context_raw(void) {
    return &raw_context;
}

/* --- contexts made by hosts ------------------------------------------------------------------ */

CRYO_API cryo_context *cryo_context_new(const cryo_context_config *config) {
    if (config && (config->npackages < 0 || (config->npackages > 0 && !config->packages)))
        return NULL;
    int n = config ? config->npackages : 0;
    for (int i = 0; i < n; i++)
        if (!config->packages[i]) return NULL;
    cryo_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    if (n > 0) {
        ctx->packages = malloc((size_t)n * sizeof *ctx->packages);
        if (!ctx->packages) {
            free(ctx);
            return NULL;
        }
    }
    atomic_init(&ctx->refcount, 1);
    ctx->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        cryo_package *p = config->packages[i];
        cryo_package_seal(p); /* no-op when sealed, as it should be */
        ctx->packages[i] = cryo_package_retain(p);
    }
    ctx->npackages = n;
    if (config) {
        ctx->capabilities = config->capabilities;
        memcpy(ctx->limits, config->limits, sizeof ctx->limits);
    }
    /* 0 in the config's call depth means the default, as for the std context. */
    if (ctx->limits[CRYO_LIMIT_CALL_DEPTH] == 0)
        ctx->limits[CRYO_LIMIT_CALL_DEPTH] = DEFAULT_CALL_DEPTH;
    else if (ctx->limits[CRYO_LIMIT_CALL_DEPTH] == UINT64_MAX)
        ctx->limits[CRYO_LIMIT_CALL_DEPTH] = 0;
    if (ctx->limits[CRYO_LIMIT_THREADS] == 0)
        ctx->limits[CRYO_LIMIT_THREADS] = DEFAULT_THREADS;
    else if (ctx->limits[CRYO_LIMIT_THREADS] == UINT64_MAX)
        ctx->limits[CRYO_LIMIT_THREADS] = 0;
    return ctx;
}

CRYO_API cryo_context *cryo_context_retain(cryo_context *ctx) {
    if (ctx && !ctx->is_static) atomic_fetch_add_explicit(&ctx->refcount, 1, memory_order_relaxed);
    return ctx;
}

CRYO_API void cryo_context_release(cryo_context *ctx) {
    if (!ctx || ctx->is_static) return;
    if (atomic_fetch_sub_explicit(&ctx->refcount, 1, memory_order_acq_rel) != 1) return;
    for (int i = 0; i < ctx->npackages; i++)
        cryo_package_release(ctx->packages[i]);
    free(ctx->packages);
    cvm_modules_free(ctx->modules);
    free(ctx);
}

CRYO_API cryo_error_kind cryo_context_set_modules(cryo_context *ctx,
                                                  const cryo_module_config *config) {
    if (!ctx || ctx->is_static || ctx->modules || !config) return CRYO_ERR_API;
    bool bad = false;
    ctx->modules = cvm_modules_new(config, &bad);
    if (bad) return CRYO_ERR_API;
    return ctx->modules ? CRYO_OK : CRYO_ERR_MEMORY;
}

/* The capabilities of a context (CRYO_CAP_*); 0 for NULL. */
CRYO_API unsigned cryo_context_capabilities(const cryo_context *ctx) {
    return ctx ? ctx->capabilities : 0;
}

/* --- the internal table-based constructor (tests) ----------------------------------------------
 */

cryo_context *cvm_context_from_tables(const cryo_libreg *const *tables, int ntables) {
    cryo_package *p = cvm_package_from_tables("tables", tables, ntables);
    if (!p) return NULL;
    cryo_context_config cfg = {.packages = &p, .npackages = 1};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(p);
    return ctx;
}

void cvm_context_free_tables(cryo_context *ctx) {
    cryo_context_release(ctx);
}

/* --- bindings ------------------------------------------------------------------------------ */

/* Bindings are keyed by the context's id, not its address: a freed context's address may be
 * reused by a new context while the unit lives, and the old binding points to registrations
 * of packages that may be gone. Each binding costs 16 + 8 * nhosts bytes; they are freed with
 * the unit. */
static cryo_binding *find_binding(cryo_binding *b, const cryo_context *ctx) {
    for (; b; b = b->next)
        if (b->ctx_id == ctx->id) return b;
    return NULL;
}

const cryo_binding *cvm_unit_bind(cryo_unit *u, const cryo_context *ctx) {
    cryo_binding *head = atomic_load_explicit(&u->bindings, memory_order_acquire);
    cryo_binding *b = find_binding(head, ctx);
    if (b) return b;
    /* Allocated with malloc, freed with free() by cl_unit_destroy. */
    b = malloc(sizeof *b + (size_t)u->nhosts * sizeof b->slots[0]);
    if (!b) return NULL;
    b->ctx = ctx;
    b->ctx_id = ctx->id;
    for (uint32_t i = 0; i < u->nhosts; i++) {
        const cryo_hostslot *hs = &u->hosts[i];
        b->slots[i] = hs->name[0] == '$' /* the module syntax's intrinsics (module.c) */
                          ? cvm_module_intrinsic(hs->name, (int)hs->arity)
                          : cvm_context_find(ctx, hs->name, strlen(hs->name), (int)hs->arity);
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

void cvm_unit_free_bindings(cryo_unit *u) {
    cryo_binding *b = atomic_load_explicit(&u->bindings, memory_order_acquire);
    while (b) {
        cryo_binding *next = b->next;
        free(b);
        b = next;
    }
}
