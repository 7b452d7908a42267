/*
 * intern.c — the process's table of interned short strings: map keys and the string constants
 * of units (property names), stored once per distinct text, so that a map built with computed
 * keys holds no copy of its keys and a property read finds its key by pointer.
 *
 * Lifetime: an interned string lives until the process exits (the table frees every string at
 * exit). Nothing counts references to it: copying or freeing a map does no atomic operation
 * per key (counted keys made copy-on-write copies and frees of maps 5 % slower in Richards),
 * and a key may be handed to scripts as a plain shared value. The table is bounded: after
 * CV_INTERN_LIMIT strings, new texts are not interned and maps store their own copies, as
 * before interning (same results, no sharing).
 *
 * Thread rules (also in docs/architecture.md, "Interned keys"):
 * - The table is split into NSHARDS shards by a mix of the key's hash; each shard is an
 *   open-addressing array (linear probing) under its own mutex. The mutex is taken only to
 *   intern (a map gets a computed key it does not hold yet, a unit constant is created) —
 *   never to look up a key in a map or to read a property: those compare pointers and bytes
 *   of strings the map already holds.
 * - An interned string is immutable and never freed while the process runs, so any thread may
 *   read it without synchronisation once it has the pointer (published under the mutex).
 */
#include "value.h"

#include <pthread.h>
#include <stdlib.h>

#define NSHARDS    16
#define SHARD_BITS 4

typedef struct shard {
    pthread_mutex_t mu;
    cryo_string **slots; /* cap slots, NULL = empty */
    uint32_t cap;        /* 0 or a power of two */
    uint32_t n;
} shard;

#define SHARD_INIT                                                                                 \
    { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 }
static uint32_t total; /* strings interned, all shards (relaxed atomic) */
static shard shards[NSHARDS] = {
    SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT,
    SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT};

/* The same hash as cv_string_hash (FNV-1a, never 0), so a key's cached hash serves both. */
static uint32_t bytes_hash(const char *p, size_t len) {
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        x ^= (unsigned char)p[i];
        x *= 16777619u;
    }
    return x ? x : 1;
}

/* FNV's top bits are poorly spread over short similar keys ("k0".."k999"): mixed first, or a
 * few shards get most keys and the tables grow early. Slots use the low bits. */
static shard *shard_of(uint32_t hash) {
    return &shards[(hash * 0x9E3779B1u) >> (32 - SHARD_BITS)];
}

static bool shard_grow(shard *sh) {
    uint32_t ncap = sh->cap ? sh->cap * 2 : 16;
    cryo_string **ns = calloc(ncap, sizeof *ns);
    if (!ns) return false;
    for (uint32_t i = 0; i < sh->cap; i++) {
        cryo_string *s = sh->slots[i];
        if (!s) continue;
        uint32_t j = s->hash & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = s;
    }
    free(sh->slots);
    sh->slots = ns;
    sh->cap = ncap;
    return true;
}

/* One allocation: the bytes follow the header (an interned string never grows). */
static cryo_string *intern_new(const char *p, size_t len, uint32_t hash) {
    cryo_string *s = malloc(sizeof *s + len + 1);
    if (!s) return NULL;
    s->h.rc = 1; /* never counted: shared */
    s->h.type = CRYO_T_STRING;
    s->h.flags = CRYO_OBJ_SHARED | CRYO_OBJ_INTERNED;
    s->h.extra = 0;
    s->len = (uint32_t)len;
    s->cap = (uint32_t)len + 1;
    s->data = (char *)(s + 1);
    if (len) memcpy(s->data, p, len);
    s->data[len] = '\0';
    uint32_t nc = 0;
    for (size_t i = 0; i < len; i++)
        nc += ((unsigned char)p[i] & 0xC0) != 0x80;
    s->nchars = nc;
    s->hash = hash;
    return s;
}

cryo_string *cv_intern(const char *p, size_t len) {
    if (len > CV_INTERN_MAX) return NULL;
    uint32_t hash = bytes_hash(p, len);
    shard *sh = shard_of(hash);
    cryo_string *r = NULL;
    pthread_mutex_lock(&sh->mu);
    /* Grow at 3/4 full: linear probing stays short, and an empty slot always ends a probe. */
    if ((sh->n + 1) * 4 > sh->cap * 3 && !shard_grow(sh)) goto out;
    uint32_t mask = sh->cap - 1, j = hash & mask;
    for (cryo_string *s; (s = sh->slots[j]) != NULL; j = (j + 1) & mask) {
        if (s->hash == hash && s->len == len && memcmp(s->data, p, len) == 0) {
            r = s;
            goto out;
        }
    }
    /* Bounded: a script making endless distinct keys fills the table once, then its keys are
     * copies in its maps again (accounted on its heap). */
    if (__atomic_fetch_add(&total, 1, __ATOMIC_RELAXED) >= CV_INTERN_LIMIT) {
        __atomic_fetch_sub(&total, 1, __ATOMIC_RELAXED);
        goto out;
    }
    r = intern_new(p, len, hash);
    if (r) {
        sh->slots[j] = r;
        sh->n++;
    } else {
        __atomic_fetch_sub(&total, 1, __ATOMIC_RELAXED);
    }
out:
    pthread_mutex_unlock(&sh->mu);
    return r;
}

size_t cv_intern_count(void) {
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&shards[i].mu);
        n += shards[i].n;
        pthread_mutex_unlock(&shards[i].mu);
    }
    return n;
}

/* At exit: every interned string and the shards' arrays (valgrind sees nothing left). Values
 * pointing to interned strings are not counted, so no later free touches them. */
__attribute__((destructor)) static void intern_cleanup(void) {
    for (int i = 0; i < NSHARDS; i++) {
        shard *sh = &shards[i];
        pthread_mutex_lock(&sh->mu);
        for (uint32_t j = 0; j < sh->cap; j++)
            free(sh->slots[j]);
        free(sh->slots);
        sh->slots = NULL;
        sh->cap = sh->n = 0;
        pthread_mutex_unlock(&sh->mu);
    }
}
