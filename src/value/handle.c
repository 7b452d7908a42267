/*
 * handle.c — opaque host handles: a host pointer with a type tag (name, destructor, and for
 * sendable types thread-safe retain/release).
 */
#include "value.h"

#include <stdlib.h>

CRYO_API cryo_value cryo_value_handle(const cryo_handle_type *type, void *ptr) {
    if (!type) return cryo_unit_value();
    /* Untracked allocation: the host creates handles outside any VM heap. */
    cryo_handle *hd = cv_alloc(NULL, sizeof *hd);
    if (!hd) return cryo_unit_value();
    hd->h.rc = 1;
    hd->h.type = CRYO_T_HANDLE;
    hd->h.flags = 0;
    hd->h.extra = 0;
    hd->type = type;
    hd->ptr = ptr;
    return cv_from_obj(&hd->h);
}

CRYO_API void *cryo_value_as_handle(cryo_value v, const cryo_handle_type *type) {
    if (v.type == CRYO_T_CELL) v = cv_cell(v)->v;
    if (v.type != CRYO_T_HANDLE || !type || cv_handle(v)->type != type) return NULL;
    return cv_handle(v)->ptr;
}

void cv_handle_free(cryo_heap *h, cryo_obj *o) {
    (void)h; /* allocated untracked: see cryo_value_handle */
    cryo_handle *hd = (cryo_handle *)o;
    const cryo_handle_type *t = hd->type;
    if (t) {
        if (t->release)
            t->release(hd->ptr);
        else if (t->destroy)
            t->destroy(hd->ptr);
    }
    cv_free(NULL, hd, sizeof *hd);
}

/* A host type's to_string hook behind print, interpolation and debug (cryo.h, cryo_host_ops):
 * the value layer prints handles, so the hook is called from here. */
bool cv_host_repr(cryo_heap *h, cryo_string **s, cryo_value v, bool debug, bool *ok) {
    void *ptr;
    if (v.type == CRYO_T_CELL) v = cv_cell(v)->v;
    if (v.type != CRYO_T_HANDLE) return false;
    const cryo_handle *hd = cv_handle(v);
    const cryo_host_ops *o = hd->type ? hd->type->ops : NULL;
    if (!o || !o->to_string) return false;
    ptr = hd->ptr;
    char buf[256];
    size_t n = o->to_string(ptr, debug, buf, sizeof buf);
    if (n < sizeof buf) {
        *ok = cv_string_append(h, s, buf, n);
        return true;
    }
    char *big = malloc(n + 1);
    if (!big) {
        *ok = false;
        return true;
    }
    size_t m = o->to_string(ptr, debug, big, n + 1);
    *ok = cv_string_append(h, s, big, m <= n ? m : n);
    free(big);
    return true;
}
