/*
 * package.c — packages: named sets of host functions, built by one thread, then sealed into an
 * immutable hash table of (name, arity) -> registration, shared by any number of contexts and
 * threads. A package may include other sealed packages (by reference, O(1)); lookups search a
 * package's own functions first, then its includes in order.
 */
#include "vm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cryo_package {
    atomic_uint refcount;
    bool sealed;
    bool is_static;  /* the standard package: never freed */
    bool owns_names; /* regs[i].name were strdup'ed (cryo_package_add) */
    char *name;
    cryo_libreg *regs; /* own functions, in registration order */
    uint32_t nregs, capregs;
    cryo_package **includes; /* each retained */
    uint32_t nincludes, capincludes;
    /* Built by cryo_package_seal: open addressing over regs. */
    uint32_t mask;
    const cryo_libreg **buckets;
    /* Host types registered by name (cryo_package_add_type), borrowed; few: a linear scan. */
    const cryo_handle_type **types;
    uint32_t ntypes, captypes;
};

uint32_t cvm_fn_hash(const char *name, size_t len, int arity) {
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

static const cryo_libreg *lookup_own(const cryo_package *p, const char *name, size_t len, int arity,
                                     uint32_t hash) {
    if (!p->buckets) return NULL;
    uint32_t i = hash & p->mask;
    for (;;) {
        const cryo_libreg *r = p->buckets[i];
        if (!r) return NULL;
        if (r->arity == arity && same_name(r, name, len)) return r;
        i = (i + 1) & p->mask;
    }
}

const cryo_libreg *cvm_package_find_h(const cryo_package *pkg, const char *name, size_t len,
                                      int arity, uint32_t hash) {
    if (!pkg || !pkg->sealed) return NULL;
    const cryo_libreg *r = lookup_own(pkg, name, len, arity, hash);
    if (r) return r;
    for (uint32_t i = 0; i < pkg->nincludes; i++) {
        r = cvm_package_find_h(pkg->includes[i], name, len, arity, hash);
        if (r) return r;
    }
    return NULL;
}

const cryo_libreg *cvm_package_find(const cryo_package *pkg, const char *name, size_t len,
                                    int arity) {
    return cvm_package_find_h(pkg, name, len, arity, cvm_fn_hash(name, len, arity));
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

CRYO_API cryo_package *cryo_package_new(const char *name) {
    cryo_package *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    atomic_init(&p->refcount, 1);
    p->owns_names = true;
    p->name = dup_str(name ? name : "");
    if (!p->name) {
        free(p);
        return NULL;
    }
    return p;
}

static bool valid_name(const char *name) {
    if (!name || !*name) return false;
    for (const char *c = name; *c; c++)
        if (*c == ' ' || *c == '(' || *c == ')' || *c == ',') return false;
    return true;
}

static bool push_reg(cryo_package *p, cryo_libreg r) {
    if (p->nregs == p->capregs) {
        uint32_t cap = p->capregs ? p->capregs * 2 : 16;
        cryo_libreg *n = realloc(p->regs, cap * sizeof *n);
        if (!n) return false;
        p->regs = n;
        p->capregs = cap;
    }
    p->regs[p->nregs++] = r;
    return true;
}

CRYO_API cryo_error_kind cryo_package_add(cryo_package *pkg, const char *name, int arity,
                                          cryo_host_fn fn, void *userdata) {
    if (!pkg || pkg->sealed || !pkg->owns_names || !valid_name(name) || !fn || arity < -1 ||
        arity > 255)
        return CRYO_ERR_API;
    char *n = dup_str(name);
    if (!n) return CRYO_ERR_MEMORY;
    if (!push_reg(pkg, (cryo_libreg){n, arity, fn, userdata})) {
        free(n);
        return CRYO_ERR_MEMORY;
    }
    return CRYO_OK;
}

CRYO_API cryo_error_kind cryo_package_include(cryo_package *pkg, cryo_package *other) {
    if (!pkg || !other || pkg->sealed || pkg == other) return CRYO_ERR_API;
    if (!other->sealed) cryo_package_seal(other);
    if (pkg->nincludes == pkg->capincludes) {
        uint32_t cap = pkg->capincludes ? pkg->capincludes * 2 : 4;
        cryo_package **n = realloc(pkg->includes, cap * sizeof *n);
        if (!n) return CRYO_ERR_MEMORY;
        pkg->includes = n;
        pkg->capincludes = cap;
    }
    pkg->includes[pkg->nincludes++] = cryo_package_retain(other);
    return CRYO_OK;
}

static const cryo_handle_type *own_type(const cryo_package *p, const char *name) {
    for (uint32_t i = 0; i < p->ntypes; i++)
        if (strcmp(p->types[i]->name, name) == 0) return p->types[i];
    return NULL;
}

const cryo_handle_type *cvm_package_find_type(const cryo_package *pkg, const char *name) {
    if (!pkg || !pkg->sealed || !name) return NULL;
    const cryo_handle_type *t = own_type(pkg, name);
    for (uint32_t i = 0; !t && i < pkg->nincludes; i++)
        t = cvm_package_find_type(pkg->includes[i], name);
    return t;
}

CRYO_API cryo_error_kind cryo_package_add_type(cryo_package *pkg, const cryo_handle_type *type) {
    if (!pkg || pkg->sealed || pkg->is_static || !type || !valid_name(type->name) ||
        own_type(pkg, type->name))
        return CRYO_ERR_API;
    if (pkg->ntypes == pkg->captypes) {
        uint32_t cap = pkg->captypes ? pkg->captypes * 2 : 4;
        const cryo_handle_type **n = realloc((void *)pkg->types, cap * sizeof *n);
        if (!n) return CRYO_ERR_MEMORY;
        pkg->types = n;
        pkg->captypes = cap;
    }
    pkg->types[pkg->ntypes++] = type;
    return CRYO_OK;
}

/* Builds the hash table; the first registration of a (name, arity) wins. False when out of
 * memory (lookups then find none of the package's own functions). */
static bool build_table(cryo_package *p) {
    uint32_t cap = 16;
    while (cap < p->nregs * 2u)
        cap *= 2;
    const cryo_libreg **b = calloc(cap, sizeof *b);
    if (!b) return false;
    for (uint32_t k = 0; k < p->nregs; k++) {
        const cryo_libreg *reg = &p->regs[k];
        size_t len = strlen(reg->name);
        uint32_t i = cvm_fn_hash(reg->name, len, reg->arity) & (cap - 1);
        bool dup = false;
        while (b[i]) {
            if (b[i]->arity == reg->arity && same_name(b[i], reg->name, len)) {
                dup = true;
                break;
            }
            i = (i + 1) & (cap - 1);
        }
        if (!dup) b[i] = reg;
    }
    p->mask = cap - 1;
    p->buckets = b;
    return true;
}

CRYO_API void cryo_package_seal(cryo_package *pkg) {
    if (!pkg || pkg->sealed) return;
    build_table(pkg);
    /* No fence: a sealed package reaches other threads only through something that already
     * orders memory (a thread start, a queue, a mutex), which publishes the table with it. */
    pkg->sealed = true;
}

CRYO_API cryo_package *cryo_package_retain(cryo_package *pkg) {
    if (pkg && !pkg->is_static) atomic_fetch_add_explicit(&pkg->refcount, 1, memory_order_relaxed);
    return pkg;
}

CRYO_API void cryo_package_release(cryo_package *pkg) {
    if (!pkg || pkg->is_static) return;
    if (atomic_fetch_sub_explicit(&pkg->refcount, 1, memory_order_acq_rel) != 1) return;
    for (uint32_t i = 0; i < pkg->nincludes; i++)
        cryo_package_release(pkg->includes[i]);
    free(pkg->includes);
    if (pkg->owns_names)
        for (uint32_t i = 0; i < pkg->nregs; i++)
            free((char *)pkg->regs[i].name);
    free(pkg->regs);
    free((void *)pkg->buckets);
    free((void *)pkg->types);
    free(pkg->name);
    free(pkg);
}

cryo_package *cvm_package_from_tables(const char *name, const cryo_libreg *const *tables,
                                      int ntables) {
    cryo_package *p = cryo_package_new(name);
    if (!p) return NULL;
    p->owns_names = false; /* names point into the borrowed tables */
    for (int t = 0; t < ntables; t++)
        for (const cryo_libreg *r = tables[t]; r && r->name; r++)
            if (!push_reg(p, *r)) {
                cryo_package_release(p);
                return NULL;
            }
    if (!build_table(p)) {
        cryo_package_release(p);
        return NULL;
    }
    p->sealed = true;
    return p;
}

/* --- the standard package ---------------------------------------------------------------- */

static cryo_package *std_package;
static cryo_package empty_std = {.sealed = true, .is_static = true, .name = (char *)"std"};
static pthread_once_t std_once = PTHREAD_ONCE_INIT;

static void build_std(void) {
    const cryo_libreg *const tables[] = {clib_core, clib_math, clib_string, clib_array,
                                         clib_map,  clib_sync, clib_json};
    cryo_package *p = cvm_package_from_tables("std", tables, (int)(sizeof tables / sizeof *tables));
    /* Built once and kept for the life of the process; out of memory leaves it empty. */
    if (p) p->is_static = true;
    std_package = p ? p : &empty_std;
}

CRYO_API cryo_package *cryo_package_std(void) {
    pthread_once(&std_once, build_std);
    return std_package;
}

bool cvm_libreg_is_std(const cryo_libreg *reg) {
    /* Only asked on an error's way out (trace.c): the registrations are copied into the
     * standard package's own array, so a pointer into it is a builtin. */
    const cryo_package *p = cryo_package_std();
    if (!reg || !p || !p->regs) return false;
    uintptr_t a = (uintptr_t)reg, lo = (uintptr_t)p->regs;
    return a >= lo && a < lo + p->nregs * sizeof *p->regs;
}
