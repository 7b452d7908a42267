/*
 * intern.c — the process's table of interned short strings: map keys and the string constants
 * of units (property names), stored once per distinct text, so that a map built with computed
 * keys holds no copy of its keys and a property read finds its key by pointer.
 *
 * Thread rules (also in docs/architecture.md, "Interned keys"):
 * - The table is split into NSHARDS shards by the top bits of the key's hash; each shard is an
 *   open-addressing array (linear probing) under its own mutex. The mutex is taken only to
 *   intern (a map gets a key it does not hold yet, a unit constant is created) and when the
 *   last reference to an interned string goes — never to look up a key in a map or to read a
 *   property: those compare pointers and bytes of strings the map already holds.
 * - An interned string is immutable (CRYO_OBJ_SHARED | CRYO_OBJ_INTERNED): VMs hold it in
 *   values without counting (as a unit's constants); its `rc` counts the maps and units that
 *   hold it, and is changed only atomically. A holder adds a reference without the lock (the
 *   count is at least one, its own); a release that may drop the count to zero takes the
 *   shard's lock, so a string is removed from the table and freed under the same lock that
 *   lookups hold while they take a reference — a lookup never revives a dying string.
 * - The shards' arrays are freed at exit when empty (valgrind: nothing left behind).
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

static shard *shard_of(uint32_t hash) {
    return &shards[hash >> (32 - SHARD_BITS)];
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
    s->h.rc = 1;
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
            __atomic_fetch_add(&s->h.rc, 1, __ATOMIC_RELAXED);
            r = s;
            goto out;
        }
    }
    r = intern_new(p, len, hash);
    if (r) {
        sh->slots[j] = r;
        sh->n++;
    }
out:
    pthread_mutex_unlock(&sh->mu);
    return r;
}

void cv_intern_retain(cryo_string *s) {
    __atomic_fetch_add(&s->h.rc, 1, __ATOMIC_RELAXED);
}

/* Removes s from its shard (lock held): backward-shift deletion keeps every probe chain
 * unbroken without tombstones. */
static void shard_remove(shard *sh, const cryo_string *s) {
    uint32_t mask = sh->cap - 1, i = s->hash & mask;
    while (sh->slots[i] != s)
        i = (i + 1) & mask;
    sh->slots[i] = NULL;
    sh->n--;
    for (uint32_t j = (i + 1) & mask; sh->slots[j]; j = (j + 1) & mask) {
        uint32_t k = sh->slots[j]->hash & mask; /* where the entry at j wants to be */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        sh->slots[i] = sh->slots[j];
        sh->slots[j] = NULL;
        i = j;
    }
}

void cv_intern_release(cryo_string *s) {
    /* Above one reference no lookup can be racing to revive it: drop one without the lock. */
    uint32_t rc = __atomic_load_n(&s->h.rc, __ATOMIC_RELAXED);
    while (rc > 1) {
        if (__atomic_compare_exchange_n(&s->h.rc, &rc, rc - 1, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return;
    }
    shard *sh = shard_of(s->hash);
    pthread_mutex_lock(&sh->mu);
    bool last = __atomic_sub_fetch(&s->h.rc, 1, __ATOMIC_ACQ_REL) == 0;
    if (last) shard_remove(sh, s);
    pthread_mutex_unlock(&sh->mu);
    if (last) free(s);
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

/* At exit: the arrays of empty shards (strings still held belong to units or maps the host
 * never freed; those stay reachable through their holders). */
__attribute__((destructor)) static void intern_cleanup(void) {
    for (int i = 0; i < NSHARDS; i++) {
        shard *sh = &shards[i];
        pthread_mutex_lock(&sh->mu);
        if (sh->n == 0) {
            free(sh->slots);
            sh->slots = NULL;
            sh->cap = 0;
        }
        pthread_mutex_unlock(&sh->mu);
    }
}
