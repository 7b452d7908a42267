/*
 * map.c — object maps: entries sorted by key bytes (as Rhai's BTreeMap), binary search. Keys
 * of up to CV_INTERN_MAX bytes are interned (intern.c): maps share them.
 */
#include "value.h"

#define MAP_MAX_LEN 0x7FFFFFF0u

cryo_map *cv_map_new(cryo_heap *h, size_t cap) {
    if (cap > MAP_MAX_LEN) return NULL;
    cryo_map *m = cv_alloc(h, sizeof *m);
    if (!m) return NULL;
    m->h.rc = 1;
    m->h.type = CRYO_T_MAP;
    m->h.flags = 0;
    m->h.extra = 0;
    m->len = 0;
    m->cap = 0;
    m->entries = NULL;
    if (cap) {
        m->entries = cv_alloc(h, cap * sizeof(cryo_map_entry));
        if (!m->entries) {
            cv_free(h, m, sizeof *m);
            return NULL;
        }
        m->cap = (uint32_t)cap;
    }
    return m;
}

/* Keys order as memcmp orders them (unsigned bytes), then by length. Most steps of a search
 * among field names are decided by the first byte, compared here before the call to memcmp. */
static int key_cmp(const cryo_string *k, const char *key, size_t len) {
    size_t n = k->len < len ? k->len : len;
    if (n) {
        unsigned char a = (unsigned char)k->data[0], b = (unsigned char)key[0];
        if (a != b) return a < b ? -1 : 1;
    }
    int c = memcmp(k->data, key, n);
    if (c) return c;
    return k->len < len ? -1 : k->len > len ? 1 : 0;
}

/* Index of the key, or of where it would be inserted (*found false). */
static uint32_t map_search(const cryo_map *m, const char *key, size_t len, bool *found) {
    uint32_t lo = 0, hi = m->len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(m->entries[mid].key, key, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

cryo_map_entry *cv_map_find(const cryo_map *m, const char *key, size_t len) {
    /* Small maps (most objects): a scan that calls memcmp only on a key of the same length and
     * first byte, usually once, where the binary search calls it at every step (memcmp and
     * this function were 15-27 % of the object benchmarks, docs/performance.md). */
    if (m->len <= 8) {
        for (uint32_t i = 0; i < m->len; i++) {
            const cryo_string *k = m->entries[i].key;
            if (k->len == len &&
                (len == 0 || (k->data[0] == key[0] && memcmp(k->data, key, len) == 0)))
                return &m->entries[i];
        }
        return NULL;
    }
    bool found;
    uint32_t i = map_search(m, key, len, &found);
    return found ? &m->entries[i] : NULL;
}

cryo_map_entry *cv_map_find_str(const cryo_map *m, const cryo_string *key) {
    /* Interned keys are one string per text: a property name (a unit constant) or a computed
     * key is usually this map's key itself, found without reading any bytes. */
    if (cv_is_interned(key)) {
        cryo_map_entry *e = cv_map_find_ptr(m, key);
        if (e) return e;
    }
    return cv_map_find(m, key->data, key->len);
}

/* The key a map stores for `key`: the interned string of its text (one per process, nothing
 * counted), else the key retained, or copied when shared (a long unit constant or a frozen
 * key: the map may outlive its unit or const). NULL when out of memory. */
static cryo_string *map_key(cryo_heap *h, cryo_string *key) {
    if (cv_is_interned(key)) return key;
    cryo_string *k = key->len <= CV_INTERN_MAX ? cv_intern(key->data, key->len) : NULL;
    if (k) return k;
    if (key->h.flags & CRYO_OBJ_SHARED) return cv_string_new(h, key->data, key->len);
    key->h.rc++;
    return key;
}

bool cv_map_set(cryo_heap *h, cryo_map *m, cryo_string *key, cryo_value v) {
    if (cv_is_interned(key)) { /* `o.x = v` on an existing field: no byte compared */
        cryo_map_entry *e = cv_map_find_ptr(m, key);
        if (e) {
            cv_set(h, &e->value, v);
            return true;
        }
    }
    bool found;
    uint32_t i = map_search(m, key->data, key->len, &found);
    if (found) {
        cv_set(h, &m->entries[i].value, v);
        return true;
    }
    if (m->len == m->cap) {
        size_t ncap = m->cap < 4 ? 4 : (size_t)m->cap * 2;
        cryo_map_entry *e =
            ncap > MAP_MAX_LEN
                ? NULL
                : cv_realloc(h, m->entries, (size_t)m->cap * sizeof *e, ncap * sizeof *e);
        if (!e) {
            cv_release(h, v);
            return false;
        }
        m->entries = e;
        m->cap = (uint32_t)ncap;
    }
    cryo_string *k = map_key(h, key);
    if (!k) {
        cv_release(h, v);
        return false;
    }
    memmove(&m->entries[i + 1], &m->entries[i], (size_t)(m->len - i) * sizeof(cryo_map_entry));
    m->entries[i].key = k;
    m->entries[i].value = v;
    m->len++;
    return true;
}

bool cv_map_remove(cryo_heap *h, cryo_map *m, const char *key, size_t len, cryo_value *out) {
    bool found;
    uint32_t i = map_search(m, key, len, &found);
    if (!found) return false;
    cryo_map_entry e = m->entries[i];
    memmove(&m->entries[i], &m->entries[i + 1], (size_t)(m->len - i - 1) * sizeof e);
    m->len--;
    if (out)
        *out = e.value;
    else
        cv_release(h, e.value);
    if (!(e.key->h.flags & CRYO_OBJ_SHARED)) cv_release(h, cv_from_obj(&e.key->h));
    return true;
}
