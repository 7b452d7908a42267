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
 * Memory: strings never freed one by one need no malloc chunk each: they are cut from 4 KB
 * blocks, each behind an 8-byte chain link (a 4-byte key: 48 bytes, as one malloc chunk of
 * Lua's TString), and a shard's chains average up to two strings, so the heads cost 4-8 bytes
 * per key (docs/performance.md: the map of 1,000 unique keys).
 *
 * Thread rules (also in docs/architecture.md, "Interned keys"):
 * - The table is split into NSHARDS shards by a mix of the key's hash; each shard is an array
 *   of chains under its own mutex. The mutex is taken only to
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
#define BLOCK      4096

/* An interned string with its chain link; the bytes follow. */
typedef struct ientry {
    struct ientry *next;
    cryo_string s;
} ientry;

typedef struct shard {
    pthread_mutex_t mu;
    ientry **heads; /* cap chains */
    uint32_t cap;   /* 0 or a power of two */
    uint32_t n;
} shard;

#define SHARD_INIT                                                                                 \
    { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 }
static uint32_t total; /* strings interned, all shards (relaxed atomic) */
static shard shards[NSHARDS] = {
    SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT,
    SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT, SHARD_INIT};

/* The blocks strings are cut from: one bump pointer for all shards, under its own mutex (taken
 * inside a shard's; never the other way round). Each block starts with the previous one's
 * address, so the destructor can free them. */
static struct {
    pthread_mutex_t mu;
    char *block; /* the current block, NULL before the first */
    size_t used; /* bytes of it handed out */
} slab = {PTHREAD_MUTEX_INITIALIZER, NULL, BLOCK};

static void *slab_alloc(size_t size) {
    size = (size + 7) & ~(size_t)7;
    pthread_mutex_lock(&slab.mu);
    void *p = NULL;
    if (BLOCK - slab.used < size) {
        char *b = malloc(BLOCK);
        if (b) {
            memcpy(b, &slab.block, sizeof slab.block);
            slab.block = b;
            slab.used = sizeof(char *);
        }
    }
    if (BLOCK - slab.used >= size) {
        p = slab.block + slab.used;
        slab.used += size;
    }
    pthread_mutex_unlock(&slab.mu);
    return p;
}

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
 * few shards get most keys. Chains use the low bits. */
static shard *shard_of(uint32_t hash) {
    return &shards[(hash * 0x9E3779B1u) >> (32 - SHARD_BITS)];
}

static bool shard_grow(shard *sh) {
    uint32_t ncap = sh->cap ? sh->cap * 2 : 8;
    ientry **nh = calloc(ncap, sizeof *nh);
    if (!nh) return false;
    for (uint32_t i = 0; i < sh->cap; i++) {
        for (ientry *e = sh->heads[i], *next; e; e = next) {
            next = e->next;
            uint32_t j = e->s.hash & (ncap - 1);
            e->next = nh[j];
            nh[j] = e;
        }
    }
    free(sh->heads);
    sh->heads = nh;
    sh->cap = ncap;
    return true;
}

/* The header and the bytes in one piece of a block (an interned string never grows). */
static ientry *intern_new(const char *p, size_t len, uint32_t hash) {
    ientry *e = slab_alloc(sizeof *e + len + 1);
    if (!e) return NULL;
    cryo_string *s = &e->s;
    s->h.rc = 1; /* never counted: shared */
    s->h.type = CRYO_T_STRING;
    s->h.flags = CRYO_OBJ_SHARED | CRYO_OBJ_INTERNED;
    s->h.extra = 0;
    s->len = (uint32_t)len;
    s->cap = (uint32_t)len + 1;
    s->data = (char *)(e + 1);
    if (len) memcpy(s->data, p, len);
    s->data[len] = '\0';
    uint32_t nc = 0;
    for (size_t i = 0; i < len; i++)
        nc += ((unsigned char)p[i] & 0xC0) != 0x80;
    s->nchars = nc;
    s->hash = hash;
    return e;
}

cryo_string *cv_intern(const char *p, size_t len) {
    if (len > CV_INTERN_MAX) return NULL;
    uint32_t hash = bytes_hash(p, len);
    shard *sh = shard_of(hash);
    cryo_string *r = NULL;
    pthread_mutex_lock(&sh->mu);
    /* Chains of two on average at most: interning is not on any per-access path. */
    if (sh->n >= sh->cap * 2 && !shard_grow(sh)) goto out;
    ientry **head = &sh->heads[hash & (sh->cap - 1)];
    for (ientry *e = *head; e; e = e->next) {
        if (e->s.hash == hash && e->s.len == len && memcmp(e->s.data, p, len) == 0) {
            r = &e->s;
            goto out;
        }
    }
    /* Bounded: a script making endless distinct keys fills the table once, then its keys are
     * copies in its maps again (accounted on its heap). */
    if (__atomic_fetch_add(&total, 1, __ATOMIC_RELAXED) >= CV_INTERN_LIMIT) {
        __atomic_fetch_sub(&total, 1, __ATOMIC_RELAXED);
        goto out;
    }
    ientry *e = intern_new(p, len, hash);
    if (e) {
        e->next = *head;
        *head = e;
        sh->n++;
        r = &e->s;
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

/* At exit: the blocks of every interned string and the shards' arrays (valgrind sees nothing
 * left). Values pointing to interned strings are not counted, so no later free touches them. */
__attribute__((destructor)) static void intern_cleanup(void) {
    for (int i = 0; i < NSHARDS; i++) {
        shard *sh = &shards[i];
        pthread_mutex_lock(&sh->mu);
        free(sh->heads);
        sh->heads = NULL;
        sh->cap = sh->n = 0;
        pthread_mutex_unlock(&sh->mu);
    }
    pthread_mutex_lock(&slab.mu);
    while (slab.block) {
        char *prev;
        memcpy(&prev, slab.block, sizeof prev);
        free(slab.block);
        slab.block = prev;
    }
    slab.used = BLOCK;
    pthread_mutex_unlock(&slab.mu);
}
