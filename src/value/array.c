/*
 * array.c — growable arrays of values.
 */
#include "value.h"

#define ARRAY_MAX_LEN 0x7FFFFFF0u

cryo_array *cv_array_new(cryo_heap *h, size_t cap) {
    if (cap > ARRAY_MAX_LEN) return NULL;
    cryo_array *a = cv_alloc(h, sizeof *a);
    if (!a) return NULL;
    a->h.rc = 1;
    a->h.type = CRYO_T_ARRAY;
    a->h.flags = 0;
    a->h.extra = 0;
    a->len = 0;
    a->cap = 0;
    a->items = NULL;
    if (cap) {
        a->items = cv_alloc(h, cap * sizeof(cryo_value));
        if (!a->items) {
            cv_free(h, a, sizeof *a);
            return NULL;
        }
        a->cap = (uint32_t)cap;
    }
    return a;
}

bool cv_array_reserve(cryo_heap *h, cryo_array *a, size_t cap) {
    if (cap <= a->cap) return true;
    if (cap > ARRAY_MAX_LEN) return false;
    cryo_value *items =
        cv_realloc(h, a->items, (size_t)a->cap * sizeof(cryo_value), cap * sizeof(cryo_value));
    if (!items) return false;
    a->items = items;
    a->cap = (uint32_t)cap;
    return true;
}

bool cv_array_push(cryo_heap *h, cryo_array *a, cryo_value v) {
    if (a->len == a->cap) {
        size_t ncap = a->cap < 4 ? 4 : (size_t)a->cap * 2;
        if (ncap > ARRAY_MAX_LEN) ncap = ARRAY_MAX_LEN;
        if (ncap <= a->len || !cv_array_reserve(h, a, ncap)) {
            cv_release(h, v);
            return false;
        }
    }
    a->items[a->len++] = v;
    return true;
}
