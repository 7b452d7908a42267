/*
 * lib_array.c — array functions. Positions follow Rhai: negative positions count from the end,
 * out-of-range positions clamp (insert, extract, drain, ...) or give () (get, remove).
 *
 * Callbacks (map, filter, for_each, sort, ...) may reach the array being worked on: a closure
 * can capture the variable and change it. So a function never keeps a pointer into the
 * receiver's items across a callback: it iterates over a retained snapshot (any write through
 * the variable then copies, by copy-on-write) and writes results back afterwards.
 */
#include "lib.h"

#define NOFN(name) clib_nofn(vm, name, argc, argv)
#define ARR0       cv_arr(*argv[0])

/* --- helpers ---------------------------------------------------------------------------------- */

/* An index for get/set/remove: negative from the end; -1 when out of bounds. */
static int64_t arr_index(size_t len, int64_t i) {
    if (i < 0) {
        uint64_t abs = (uint64_t)0 - (uint64_t)i;
        return abs > len ? -1 : (int64_t)(len - abs);
    }
    return (uint64_t)i < len ? i : -1;
}

/* Makes the receiver unique and returns its array (NULL after raising on failure). */
static cryo_array *arr_mut(cryo_vm *vm, cryo_value *slot) {
    if (cv_is_unique(*slot)) return cv_arr(*slot); /* the usual case (push in a loop), no call */
    return clib_unique(vm, slot) ? NULL : cv_arr(*slot);
}

static cryo_error_kind new_array(cryo_vm *vm, size_t cap, cryo_array **out) {
    *out = cv_array_new(&vm->heap, cap);
    return *out ? CRYO_OK : cvm_raise_oom(vm);
}

static cryo_error_kind drop_array(cryo_vm *vm, cryo_array *a, cryo_error_kind k) {
    if (a) cv_release(&vm->heap, cv_from_obj(&a->h));
    return k;
}

static cryo_error_kind ret_array(cryo_vm *vm, cryo_array *a, cryo_value *ret) {
    cv_set(&vm->heap, ret, cv_from_obj(&a->h));
    return CRYO_OK;
}

/* Appends a retained copy of v, checking the size limit. */
static cryo_error_kind push_copy(cryo_vm *vm, cryo_array *a, cryo_value v) {
    cryo_error_kind k = cvm_check_array(vm, (size_t)a->len + 1);
    if (k) return k;
    if (a->len == UINT32_MAX) return cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "array too large");
    cv_retain(v);
    /* cv_array_push takes the reference even when it fails (value.h). */
    if (!cv_array_push(&vm->heap, a, v)) return cvm_raise_oom(vm);
    return CRYO_OK;
}

/* After a container grew: its nested totals against the size limits (cvm_check_data),
 * once per call rather than per element; scalars added were covered by the length checks. */
static cryo_error_kind check_grown(cryo_vm *vm, cryo_value container, cryo_error_kind k) {
    return k || !vm->data_limits ? k : cvm_check_data(vm, container);
}

/* Work that grows with a count (pad, sort, ...), charged to the operations limit. */
static cryo_error_kind charge(cryo_vm *vm, size_t n) {
    return cvm_charge(vm, (uint64_t)n);
}

/* A new array holding copies of items[start, start+len). */
static cryo_error_kind copy_span(cryo_vm *vm, const cryo_array *src, size_t start, size_t len,
                                 cryo_array **out) {
    cryo_error_kind k = new_array(vm, len, out);
    for (size_t i = 0; !k && i < len; i++)
        k = push_copy(vm, *out, src->items[start + i]);
    return k ? drop_array(vm, *out, k) : CRYO_OK;
}

/* Removes items[start, start+len) of a unique array, moving them into *moved (when not NULL)
 * or releasing them. An empty array (or result) has no items buffer: with nothing to move,
 * memcpy/memmove must not see its NULL (undefined behaviour even for 0 bytes). */
static cryo_error_kind cut_span(cryo_vm *vm, cryo_array *a, size_t start, size_t len,
                                cryo_array **moved) {
    if (moved) {
        cryo_error_kind k = new_array(vm, len, moved);
        if (k) return k;
        if (len) memcpy((*moved)->items, a->items + start, len * sizeof(cryo_value));
        (*moved)->len = (uint32_t)len;
    } else {
        for (size_t i = 0; i < len; i++)
            cv_release(&vm->heap, a->items[start + i]);
    }
    size_t tail = (size_t)a->len - start - len;
    if (len && tail) memmove(a->items + start, a->items + start + len, tail * sizeof(cryo_value));
    a->len -= (uint32_t)len;
    return CRYO_OK;
}

/* The (start, len) span of argv[1..]: (start), (start, len) or (range). */
static bool span_args(size_t length, int argc, cryo_value **argv, size_t *s, size_t *l) {
    if (argc == 2 && argv[1]->type == CRYO_T_RANGE) {
        clib_range_span(length, cv_range(*argv[1]), s, l);
        return true;
    }
    if (argv[1]->type != CRYO_T_INT || (argc == 3 && argv[2]->type != CRYO_T_INT)) return false;
    clib_offset_len(length, argv[1]->as.i, argc == 3 ? argv[2]->as.i : INT64_MAX, s, l);
    return true;
}

/* A retained snapshot of the receiver, safe to iterate across callbacks. */
static cryo_value snapshot(cryo_value v) {
    cv_retain(v);
    return v;
}

/* --- size
 * ------------------------------------------------------------------------------------------ */

CRYO_LIB_FN(clib_arr_len) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_int(ARR0->len);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_arr_is_empty) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_bool(ARR0->len == 0);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_arr_clear) {
    (void)ud, (void)argc, (void)ret;
    if (ARR0->len == 0) return CRYO_OK;
    cryo_array *a = arr_mut(vm, argv[0]);
    return a ? cut_span(vm, a, 0, a->len, NULL) : CRYO_ERR_MEMORY;
}

CRYO_LIB_FN(clib_arr_truncate) {
    (void)ud, (void)ret;
    if (argv[1]->type != CRYO_T_INT) return NOFN("truncate");
    int64_t n = argv[1]->as.i < 0 ? 0 : argv[1]->as.i;
    if ((uint64_t)n >= ARR0->len) return CRYO_OK;
    cryo_array *a = arr_mut(vm, argv[0]);
    return a ? cut_span(vm, a, (size_t)n, a->len - (size_t)n, NULL) : CRYO_ERR_MEMORY;
}

/* chop(n): keeps the last n items. */
static CRYO_LIB_FN(arr_chop) {
    (void)ud, (void)ret;
    if (argv[0]->type != CRYO_T_ARRAY || argv[1]->type != CRYO_T_INT) return NOFN("chop");
    int64_t n = argv[1]->as.i < 0 ? 0 : argv[1]->as.i;
    if ((uint64_t)n >= ARR0->len) return CRYO_OK;
    cryo_array *a = arr_mut(vm, argv[0]);
    return a ? cut_span(vm, a, 0, a->len - (size_t)n, NULL) : CRYO_ERR_MEMORY;
}

CRYO_LIB_FN(clib_arr_pad) {
    (void)ud, (void)ret;
    if (argv[1]->type != CRYO_T_INT) return NOFN("pad");
    int64_t n = argv[1]->as.i;
    if (n <= 0 || (uint64_t)n <= ARR0->len) return CRYO_OK;
    cryo_error_kind k = cvm_check_array(vm, (uint64_t)n > SIZE_MAX ? SIZE_MAX : (size_t)n);
    if (k) return k;
    if (n > UINT32_MAX) return cryo_vm_raise(vm, CRYO_ERR_DATA_TOO_LARGE, "pad: array too large");
    cryo_array *a = arr_mut(vm, argv[0]);
    if (!a) return CRYO_ERR_MEMORY;
    if (!cv_array_reserve(&vm->heap, a, (size_t)n)) return cvm_raise_oom(vm);
    if ((k = charge(vm, (size_t)n - a->len))) return k;
    while (!k && a->len < (uint64_t)n)
        k = push_copy(vm, a, *argv[2]);
    return check_grown(vm, *argv[0], k);
}

/* --- adding and removing ---------------------------------------------------------------------- */

CRYO_LIB_FN(clib_arr_push) {
    (void)ud, (void)argc, (void)ret;
    cryo_array *a = arr_mut(vm, argv[0]);
    if (!a) return CRYO_ERR_MEMORY;
    cryo_error_kind k = push_copy(vm, a, *argv[1]);
    return argv[1]->type >= CRYO_T_STRING ? check_grown(vm, *argv[0], k) : k;
}

/* append(array): adds its items; another value is pushed. */
CRYO_LIB_FN(clib_arr_append) {
    (void)ud, (void)argc, (void)ret;
    if (argv[1]->type != CRYO_T_ARRAY) return clib_arr_push(vm, NULL, argc, argv, ret);
    cryo_value other = snapshot(*argv[1]);
    const cryo_array *b = cv_arr(other);
    cryo_error_kind k = cvm_check_array(vm, (size_t)ARR0->len + b->len);
    cryo_array *a = k ? NULL : arr_mut(vm, argv[0]);
    if (!k && !a) k = CRYO_ERR_MEMORY;
    if (!k) k = charge(vm, b->len);
    for (uint32_t i = 0; !k && i < b->len; i++)
        k = push_copy(vm, a, b->items[i]);
    cv_release(&vm->heap, other);
    return check_grown(vm, *argv[0], k);
}

/* insert(pos, item): negative from the end, clamped at both ends. */
CRYO_LIB_FN(clib_arr_insert) {
    (void)ud, (void)ret;
    if (argv[1]->type != CRYO_T_INT) return NOFN("insert");
    size_t len = ARR0->len, at, unused;
    clib_offset_len(len, argv[1]->as.i, 0, &at, &unused);
    cryo_array *a = arr_mut(vm, argv[0]);
    if (!a) return CRYO_ERR_MEMORY;
    cryo_error_kind k = push_copy(vm, a, *argv[2]);
    if (!k && argv[2]->type >= CRYO_T_STRING) k = check_grown(vm, *argv[0], k);
    if (k || at >= len) return k;
    cryo_value v = a->items[len];
    memmove(a->items + at + 1, a->items + at, (len - at) * sizeof(cryo_value));
    a->items[at] = v;
    return CRYO_OK;
}

static cryo_error_kind take_at(cryo_vm *vm, cryo_value *slot, int64_t i, cryo_value *ret) {
    if (i < 0) return CRYO_OK;
    cryo_array *a = arr_mut(vm, slot);
    if (!a) return CRYO_ERR_MEMORY;
    cv_set(&vm->heap, ret, a->items[i]);
    a->items[i] = cryo_unit_value();
    return cut_span(vm, a, (size_t)i, 1, NULL);
}

CRYO_LIB_FN(clib_arr_pop) {
    (void)ud;
    if (argc != 1) return NOFN("pop");
    return take_at(vm, argv[0], (int64_t)ARR0->len - 1, ret);
}

static CRYO_LIB_FN(arr_shift) {
    (void)ud;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("shift");
    return take_at(vm, argv[0], ARR0->len ? 0 : -1, ret);
}

CRYO_LIB_FN(clib_arr_remove) {
    (void)ud;
    if (argv[1]->type != CRYO_T_INT) return NOFN("remove");
    return take_at(vm, argv[0], arr_index(ARR0->len, argv[1]->as.i), ret);
}

CRYO_LIB_FN(clib_arr_get) {
    (void)ud;
    if (argv[1]->type != CRYO_T_INT) return NOFN("get");
    int64_t i = arr_index(ARR0->len, argv[1]->as.i);
    if (i < 0) return CRYO_OK;
    cv_retain(ARR0->items[i]);
    cv_set(&vm->heap, ret, ARR0->items[i]);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_arr_set) {
    (void)ud, (void)ret;
    if (argv[1]->type != CRYO_T_INT) return NOFN("set");
    int64_t i = arr_index(ARR0->len, argv[1]->as.i);
    if (i < 0) return CRYO_OK;
    cryo_array *a = arr_mut(vm, argv[0]);
    if (!a) return CRYO_ERR_MEMORY;
    cv_retain(*argv[2]);
    cv_set(&vm->heap, &a->items[i], *argv[2]);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_arr_reverse) {
    (void)ud, (void)argc, (void)ret;
    if (ARR0->len < 2) return CRYO_OK;
    cryo_array *a = arr_mut(vm, argv[0]);
    if (!a) return CRYO_ERR_MEMORY;
    for (size_t i = 0, j = a->len - 1; i < j; i++, j--) {
        cryo_value t = a->items[i];
        a->items[i] = a->items[j];
        a->items[j] = t;
    }
    return CRYO_OK;
}

/* --- spans
 * ------------------------------------------------------------------------------------------ */

static CRYO_LIB_FN(arr_extract) {
    (void)ud;
    size_t s, l;
    if (argv[0]->type != CRYO_T_ARRAY || !span_args(ARR0->len, argc, argv, &s, &l))
        return NOFN("extract");
    cryo_array *out;
    cryo_error_kind k = copy_span(vm, ARR0, s, l, &out);
    return k ? k : ret_array(vm, out, ret);
}

/* split(pos): keeps the items before pos, returns the rest. */
CRYO_LIB_FN(clib_arr_split) {
    (void)ud;
    if (argc != 2 || argv[1]->type != CRYO_T_INT) return NOFN("split");
    size_t s, l;
    clib_offset_len(ARR0->len, argv[1]->as.i, INT64_MAX, &s, &l);
    cryo_array *a = arr_mut(vm, argv[0]), *out = NULL;
    if (!a) return CRYO_ERR_MEMORY;
    cryo_error_kind k = cut_span(vm, a, s, a->len - s, &out);
    return k ? k : ret_array(vm, out, ret);
}

static cryo_error_kind drain_span(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret) {
    size_t s, l;
    if (!span_args(ARR0->len, argc, argv, &s, &l)) return NOFN("drain");
    cryo_array *a = arr_mut(vm, argv[0]), *out = NULL;
    if (!a) return CRYO_ERR_MEMORY;
    cryo_error_kind k = cut_span(vm, a, s, l, &out);
    return k ? k : ret_array(vm, out, ret);
}

static cryo_error_kind retain_span(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret) {
    size_t s, l;
    if (!span_args(ARR0->len, argc, argv, &s, &l)) return NOFN("retain");
    cryo_array *a = arr_mut(vm, argv[0]), *head = NULL, *tail = NULL;
    if (!a) return CRYO_ERR_MEMORY;
    cryo_error_kind k = cut_span(vm, a, s + l, a->len - s - l, &tail);
    if (!k) k = cut_span(vm, a, 0, s, &head);
    for (uint32_t i = 0; !k && i < tail->len; i++)
        k = push_copy(vm, head, tail->items[i]);
    drop_array(vm, tail, k);
    return k ? drop_array(vm, head, k) : ret_array(vm, head, ret);
}

/* splice(start, len, items) / splice(range, items): replaces a span with the items. */
static CRYO_LIB_FN(arr_splice) {
    (void)ud, (void)ret;
    cryo_value *with = argv[argc - 1];
    size_t s, l;
    if (argv[0]->type != CRYO_T_ARRAY || !span_args(ARR0->len, argc - 1, argv, &s, &l))
        return NOFN("splice");
    cryo_value src = snapshot(*with);
    size_t n = src.type == CRYO_T_ARRAY ? cv_arr(src)->len : 1;
    const cryo_value *items = src.type == CRYO_T_ARRAY ? cv_arr(src)->items : &src;
    cryo_error_kind k = cvm_check_array(vm, (size_t)ARR0->len - l + n);
    cryo_array *a = k ? NULL : arr_mut(vm, argv[0]), *out = NULL;
    if (!k && !a) k = CRYO_ERR_MEMORY;
    if (!k) k = new_array(vm, (size_t)a->len - l + n, &out);
    for (size_t i = 0; !k && i < s; i++)
        k = push_copy(vm, out, a->items[i]);
    for (size_t i = 0; !k && i < n; i++)
        k = push_copy(vm, out, items[i]);
    for (size_t i = s + l; !k && i < a->len; i++)
        k = push_copy(vm, out, a->items[i]);
    cv_release(&vm->heap, src);
    if (k) return drop_array(vm, out, k);
    cv_set(&vm->heap, argv[0], cv_from_obj(&out->h));
    return check_grown(vm, *argv[0], CRYO_OK);
}

/* --- searching
 * ------------------------------------------------------------------------------------ */

CRYO_LIB_FN(clib_arr_contains) {
    (void)ud, (void)argc;
    const cryo_array *a = ARR0;
    bool found = false;
    cryo_error_kind k = cvm_charge(vm, a->len); /* work grows with the array */
    for (uint32_t i = 0; !k && i < a->len && !found; i++)
        k = cv_equals_vm(vm, a->items[i], *argv[1], &found);
    *ret = cryo_bool(found);
    return k;
}

/* Calls fn on items from `start` until it returns true; *at gets the index or -1, and *val
 * (when not NULL) the item found. With `want_value`, a non-() result counts as found and is
 * what *val gets (find_map). */
static cryo_error_kind scan(cryo_vm *vm, const char *name, cryo_value arr, cryo_value fn,
                            size_t start, bool want_value, int64_t *at, cryo_value *val) {
    cryo_value snap = snapshot(arr);
    const cryo_array *a = cv_arr(snap);
    cryo_error_kind k = CRYO_OK;
    *at = -1;
    for (size_t i = start; i < a->len && *at < 0; i++) {
        cryo_value item = a->items[i], r = cryo_unit_value();
        cv_retain(item);
        k = clib_call_item(vm, fn, &item, (int64_t)i, &r);
        cv_release(&vm->heap, item);
        bool hit = false;
        if (!k && want_value)
            hit = r.type != CRYO_T_UNIT;
        else if (!k)
            k = clib_truthy(vm, name, r, &hit);
        if (hit) {
            *at = (int64_t)i;
            if (val && want_value)
                cv_set(&vm->heap, val, r), r = cryo_unit_value();
            else if (val)
                cv_retain(a->items[i]), cv_set(&vm->heap, val, a->items[i]);
        }
        cv_release(&vm->heap, r);
        if (k) break;
    }
    cv_release(&vm->heap, snap);
    return k;
}

/* True when v names a script fn that takes an item (index_of("is_two") in the corpus). */
static bool names_filter(cryo_vm *vm, cryo_value v) {
    if (v.type != CRYO_T_STRING || !vm->unit) return false;
    const cryo_string *s = cv_str(v);
    return cl_unit_find_fn(vm->unit, s->data, s->len, 1) >= 0 ||
           cl_unit_find_fn(vm->unit, s->data, s->len, 2) >= 0;
}

static bool start_arg(int argc, cryo_value **argv, int i, size_t len, size_t *start) {
    size_t unused;
    *start = 0;
    if (argc <= i) return true;
    if (argv[i]->type != CRYO_T_INT) return false;
    clib_offset_len(len, argv[i]->as.i, 0, start, &unused);
    return true;
}

CRYO_LIB_FN(clib_arr_index_of) {
    (void)ud;
    size_t start;
    if (!start_arg(argc, argv, 2, ARR0->len, &start)) return NOFN("index_of");
    int64_t at = -1;
    if (argv[1]->type == CRYO_T_FN || argv[1]->type == CRYO_T_SYNCFN ||
        names_filter(vm, *argv[1])) {
        cryo_value fn = cryo_unit_value();
        cryo_error_kind k = clib_fn_arg(vm, "index_of", *argv[1], &fn);
        if (!k) k = scan(vm, "index_of", *argv[0], fn, start, false, &at, NULL);
        cv_release(&vm->heap, fn);
        if (k) return k;
    } else {
        const cryo_array *a = ARR0;
        bool eq = false;
        cryo_error_kind k = cvm_charge(vm, a->len - start); /* work grows with the array */
        for (size_t i = start; !k && i < a->len && !eq; i++)
            if (!(k = cv_equals_vm(vm, a->items[i], *argv[1], &eq)) && eq) at = (int64_t)i;
        if (k) return k;
    }
    *ret = cryo_int(at);
    return CRYO_OK;
}

static cryo_error_kind find_common(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret,
                                   const char *name, bool map) {
    size_t start;
    if (argv[0]->type != CRYO_T_ARRAY || !start_arg(argc, argv, 2, ARR0->len, &start))
        return NOFN(name);
    cryo_value fn, found = cryo_unit_value();
    cryo_error_kind k = clib_fn_arg(vm, name, *argv[1], &fn);
    if (k) return k;
    int64_t at;
    k = scan(vm, name, *argv[0], fn, start, map, &at, &found);
    cv_release(&vm->heap, fn);
    if (k) return cv_release(&vm->heap, found), k;
    cv_set(&vm->heap, ret, found);
    return CRYO_OK;
}

static CRYO_LIB_FN(arr_find) {
    (void)ud;
    return find_common(vm, argc, argv, ret, "find", false);
}

static CRYO_LIB_FN(arr_find_map) {
    (void)ud;
    return find_common(vm, argc, argv, ret, "find_map", true);
}

/* --- callbacks over every item
 * ---------------------------------------------------------------------- */

/* The per-item results of fn over a snapshot of the array: *out gets one value per item
 * (bools checked when `cond`). */
static cryo_error_kind map_items(cryo_vm *vm, const char *name, cryo_value arr, cryo_value fnv,
                                 bool cond, cryo_array **out) {
    cryo_value fn;
    cryo_error_kind k = clib_fn_arg(vm, name, fnv, &fn);
    if (k) return k;
    cryo_value snap = snapshot(arr);
    const cryo_array *a = cv_arr(snap);
    k = new_array(vm, a->len, out);
    if (!k) k = cvm_check_array(vm, a->len);
    for (uint32_t i = 0; !k && i < a->len; i++) {
        cryo_value item = a->items[i], r = cryo_unit_value();
        cv_retain(item);
        k = clib_call_item(vm, fn, &item, i, &r);
        cv_release(&vm->heap, item);
        bool b;
        if (!k && cond) k = clib_truthy(vm, name, r, &b);
        if (k)
            cv_release(&vm->heap, r);
        else if (!cv_array_push(&vm->heap, *out, r)) /* r is taken, even on failure */
            k = cvm_raise_oom(vm);
    }
    cv_release(&vm->heap, snap);
    cv_release(&vm->heap, fn);
    if (k && *out) drop_array(vm, *out, k), *out = NULL;
    return k;
}

static CRYO_LIB_FN(arr_map) {
    (void)ud;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("map");
    cryo_array *out = NULL;
    cryo_error_kind k = map_items(vm, "map", *argv[0], *argv[1], false, &out);
    if (!k) k = check_grown(vm, cv_from_obj(&out->h), k);
    return k ? drop_array(vm, out, k) : ret_array(vm, out, ret);
}

/* Splits the items by fn's verdict: kept into *keep, the others into *drop (either may be
 * NULL to discard). */
static cryo_error_kind partition(cryo_vm *vm, const char *name, cryo_value arr, cryo_value fn,
                                 cryo_array **keep, cryo_array **drop) {
    cryo_array *flags = NULL, *sides[2] = {NULL, NULL};
    cryo_value snap = snapshot(arr);
    cryo_error_kind k = map_items(vm, name, snap, fn, true, &flags);
    if (!k) k = new_array(vm, 4, &sides[0]);
    if (!k) k = new_array(vm, 4, &sides[1]);
    const cryo_array *a = cv_arr(snap);
    for (uint32_t i = 0; !k && i < a->len; i++)
        k = push_copy(vm, sides[flags->items[i].as.b ? 1 : 0], a->items[i]);
    if (!k && keep) *keep = sides[1], sides[1] = NULL;
    if (!k && drop) *drop = sides[0], sides[0] = NULL;
    drop_array(vm, sides[0], k);
    drop_array(vm, sides[1], k);
    drop_array(vm, flags, k);
    cv_release(&vm->heap, snap);
    return k;
}

CRYO_LIB_FN(clib_arr_filter) {
    (void)ud, (void)argc;
    cryo_array *keep = NULL;
    cryo_error_kind k = partition(vm, "filter", *argv[0], *argv[1], &keep, NULL);
    if (!k) k = check_grown(vm, cv_from_obj(&keep->h), k);
    return k ? drop_array(vm, keep, k) : ret_array(vm, keep, ret);
}

/* drain(fn): removes the items fn accepts and returns them; retain(fn): keeps them and
 * returns the others. */
static cryo_error_kind drain_retain_fn(cryo_vm *vm, cryo_value **argv, cryo_value *ret,
                                       bool drain) {
    cryo_array *keep = NULL, *drop = NULL;
    cryo_error_kind k = partition(vm, drain ? "drain" : "retain", *argv[0], *argv[1], &keep, &drop);
    if (k) return k;
    cv_set(&vm->heap, argv[0], cv_from_obj(drain ? &drop->h : &keep->h));
    return ret_array(vm, drain ? keep : drop, ret);
}

static bool is_fn_arg(cryo_value v) {
    return v.type == CRYO_T_FN || v.type == CRYO_T_SYNCFN || v.type == CRYO_T_STRING;
}

CRYO_LIB_FN(clib_arr_drain) {
    (void)ud;
    if (argc == 2 && is_fn_arg(*argv[1])) return drain_retain_fn(vm, argv, ret, true);
    return drain_span(vm, argc, argv, ret);
}

CRYO_LIB_FN(clib_arr_retain) {
    (void)ud;
    if (argc == 2 && is_fn_arg(*argv[1])) return drain_retain_fn(vm, argv, ret, false);
    return retain_span(vm, argc, argv, ret);
}

static cryo_error_kind some_all(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret,
                                bool all) {
    const char *name = all ? "all" : "some";
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN(name);
    cryo_value fn;
    cryo_error_kind k = clib_fn_arg(vm, name, *argv[1], &fn);
    if (k) return k;
    cryo_value snap = snapshot(*argv[0]);
    const cryo_array *a = cv_arr(snap);
    bool result = all;
    for (uint32_t i = 0; !k && i < a->len && result == all; i++) {
        cryo_value item = a->items[i], r = cryo_unit_value();
        cv_retain(item);
        k = clib_call_item(vm, fn, &item, i, &r);
        cv_release(&vm->heap, item);
        bool b;
        if (!k) k = clib_truthy(vm, name, r, &b);
        if (!k && b != all) result = !all;
        cv_release(&vm->heap, r);
    }
    cv_release(&vm->heap, snap);
    cv_release(&vm->heap, fn);
    if (!k) *ret = cryo_bool(result);
    return k;
}

static CRYO_LIB_FN(arr_some) {
    (void)ud;
    return some_all(vm, argc, argv, ret, false);
}

static CRYO_LIB_FN(arr_all) {
    (void)ud;
    return some_all(vm, argc, argv, ret, true);
}

/* Rhai's for_each binds `this` to the item and passes the index when fn takes a parameter. */
static cryo_error_kind call_for_each(cryo_vm *vm, cryo_value fn, cryo_value *item, int64_t i,
                                     cryo_value *ret) {
    static const int prefer[] = {1, 0};
    cryo_value idx = cryo_int(i);
    bool with_index = clib_fn_arity(vm, fn, prefer, 2) == 1;
    return cvm_call_method(vm, fn, item, with_index ? 1 : 0, &idx, ret);
}

/* for_each(fn): calls fn on each item with `this` = the item, which fn may change. */
static CRYO_LIB_FN(arr_for_each) {
    (void)ud, (void)ret;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("for_each");
    cryo_value fn = cryo_unit_value();
    cryo_error_kind k = clib_fn_arg(vm, "for_each", *argv[1], &fn);
    /* The items present at the start: a callback that grows the array must not loop. */
    uint32_t n = ARR0->len;
    for (uint32_t i = 0; !k && i < n && i < ARR0->len; i++) {
        cryo_value item = ARR0->items[i], r = cryo_unit_value();
        cv_retain(item);
        k = call_for_each(vm, fn, &item, i, &r);
        cv_release(&vm->heap, r);
        /* Write back only when the callee changed the item (or its identity), and only if the
         * receiver still has that position after the call. */
        cryo_array *a = NULL;
        if (!k && argv[0]->type == CRYO_T_ARRAY && i < ARR0->len &&
            memcmp(&item, &ARR0->items[i], sizeof item) != 0)
            a = arr_mut(vm, argv[0]), k = a ? CRYO_OK : CRYO_ERR_MEMORY;
        if (a)
            cv_set(&vm->heap, &a->items[i], item);
        else
            cv_release(&vm->heap, item);
        if (argv[0]->type != CRYO_T_ARRAY) break;
    }
    cv_release(&vm->heap, fn);
    return k;
}

/* reduce(fn [, initial]) / reduce_rev: fn(acc, item [, index]), or fn(acc) with this = item. */
static cryo_error_kind reduce(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret, bool rev) {
    const char *name = rev ? "reduce_rev" : "reduce";
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN(name);
    cryo_value fn, acc = argc == 3 ? *argv[2] : cryo_unit_value();
    cryo_error_kind k = clib_fn_arg(vm, name, *argv[1], &fn);
    if (k) return k;
    cv_retain(acc);
    cryo_value snap = snapshot(*argv[0]);
    const cryo_array *a = cv_arr(snap);
    static const int prefer[] = {2, 3, 1};
    bool item_as_this = clib_fn_arity(vm, fn, prefer, 3) == 1;
    for (uint32_t n = 0; !k && n < a->len; n++) {
        uint32_t i = rev ? a->len - 1 - n : n;
        cryo_value args[2] = {acc, a->items[i]}, r = cryo_unit_value();
        if (item_as_this) {
            cryo_value item = a->items[i];
            cv_retain(item);
            k = cvm_call_method(vm, fn, &item, 1, &acc, &r);
            cv_release(&vm->heap, item);
        } else {
            k = clib_call_extra(vm, fn, 2, args, cryo_int(i), &r);
        }
        cv_set(&vm->heap, &acc, r);
    }
    cv_release(&vm->heap, snap);
    cv_release(&vm->heap, fn);
    if (k) {
        cv_release(&vm->heap, acc);
        return k;
    }
    cv_set(&vm->heap, ret, acc);
    return CRYO_OK;
}

static CRYO_LIB_FN(arr_reduce) {
    (void)ud;
    return reduce(vm, argc, argv, ret, false);
}

static CRYO_LIB_FN(arr_reduce_rev) {
    (void)ud;
    return reduce(vm, argc, argv, ret, true);
}

/* zip(other, fn): fn(a, b [, index]) over the pairs, as long as the shorter array. */
static CRYO_LIB_FN(arr_zip) {
    (void)ud;
    if (argv[0]->type != CRYO_T_ARRAY || argv[1]->type != CRYO_T_ARRAY) return NOFN("zip");
    cryo_value fn = cryo_unit_value();
    cryo_error_kind k = clib_fn_arg(vm, "zip", *argv[2], &fn);
    if (k) return k;
    cryo_value sa = snapshot(*argv[0]), sb = snapshot(*argv[1]);
    const cryo_array *a = cv_arr(sa), *b = cv_arr(sb);
    uint32_t n = a->len < b->len ? a->len : b->len;
    cryo_array *out;
    k = new_array(vm, n, &out);
    for (uint32_t i = 0; !k && i < n; i++) {
        cryo_value args[2] = {a->items[i], b->items[i]}, r = cryo_unit_value();
        k = clib_call_extra(vm, fn, 2, args, cryo_int(i), &r);
        if (k)
            cv_release(&vm->heap, r);
        else if (!cv_array_push(&vm->heap, out, r)) /* r is taken, even on failure */
            k = cvm_raise_oom(vm);
    }
    cv_release(&vm->heap, sa);
    cv_release(&vm->heap, sb);
    cv_release(&vm->heap, fn);
    if (!k) k = check_grown(vm, cv_from_obj(&out->h), k);
    return k ? drop_array(vm, out, k) : ret_array(vm, out, ret);
}

/* --- sorting and dedup
 * ------------------------------------------------------------------------------ */

typedef struct sorter {
    cryo_vm *vm;
    cryo_value fn; /* unit: natural order */
    bool desc;
    cryo_error_kind err;
} sorter;

/* Natural order: numbers, strings, chars, bools compare by value; other mixes by type. */
static int natural_cmp(cryo_value a, cryo_value b) {
    int c;
    if (a.type == CRYO_T_BOOL && b.type == CRYO_T_BOOL) return (int)a.as.b - (int)b.as.b;
    if (cv_compare(a, b, &c)) return c;
    return (int)a.type - (int)b.type;
}

/* Host values (and mixes with them) order by their type's '<' (cryo_host_ops.binary). The
 * merge only asks whether a goes before b, so "not less" is 0 and keeps equal items in
 * order. A type without '<' fails the sort rather than leaving the array as it was. */
static int host_cmp(sorter *s, cryo_value a, cryo_value b) {
    bool lt = false, done = false;
    s->err = cvm_host_less(s->vm, a, b, &lt, &done);
    if (!s->err && !done)
        s->err = cryo_vm_raise(s->vm, CRYO_ERR_TYPE,
                               "sort: cannot order %s and %s: no '<' between them (give sort "
                               "a comparer: a.sort(|x, y| ...))",
                               cv_type_name(a), cv_type_name(b));
    return !s->err && lt ? -1 : 0;
}

static int sort_cmp(sorter *s, cryo_value a, cryo_value b) {
    if (s->err) return 0;
    if (s->fn.type == CRYO_T_UNIT && (a.type == CRYO_T_HANDLE || b.type == CRYO_T_HANDLE))
        return s->desc ? host_cmp(s, b, a) : host_cmp(s, a, b);
    if (s->fn.type == CRYO_T_UNIT) return s->desc ? natural_cmp(b, a) : natural_cmp(a, b);
    cryo_value args[2] = {a, b}, r = cryo_unit_value();
    s->err = cryo_vm_call_value(s->vm, s->fn, 2, args, &r);
    if (s->err) return 0;
    if (r.type == CRYO_T_INT) return (r.as.i > 0) - (r.as.i < 0);
    s->err = cryo_vm_raise(s->vm, CRYO_ERR_TYPE, "sort: the comparer must return an i64, got %s",
                           cv_type_name(r));
    cv_release(&s->vm->heap, r);
    return 0;
}

/* Stable merge sort that tolerates a failing comparer (it stops comparing, order is kept). */
static void merge_sort(sorter *s, cryo_value *v, cryo_value *tmp, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(s, v, tmp, h);
    merge_sort(s, v + h, tmp, n - h);
    if (s->err) return;
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        tmp[o++] = sort_cmp(s, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[o++] = v[i++];
    while (j < n)
        tmp[o++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static cryo_error_kind sort_impl(cryo_vm *vm, cryo_value *slot, cryo_value fn, bool desc) {
    cryo_value snap = snapshot(*slot);
    const cryo_array *a = cv_arr(snap);
    size_t n = a->len, bytes = n * sizeof(cryo_value);
    if (n < 2) return cv_release(&vm->heap, snap), CRYO_OK;
    size_t log2n = 1;
    while (((size_t)1 << log2n) < n && log2n < 63)
        log2n++;
    cryo_array *out;
    cryo_error_kind k = charge(vm, n * log2n); /* the comparisons of a merge sort */
    if (k) return cv_release(&vm->heap, snap), k;
    k = copy_span(vm, a, 0, n, &out);
    cryo_value *tmp = k ? NULL : cv_alloc(&vm->heap, bytes);
    if (!k && !tmp) k = drop_array(vm, out, cvm_raise_oom(vm));
    cv_release(&vm->heap, snap);
    if (k) return k;
    sorter s = {vm, fn, desc, CRYO_OK};
    merge_sort(&s, out->items, tmp, n);
    cv_free(&vm->heap, tmp, bytes);
    if (s.err) return drop_array(vm, out, s.err);
    cv_set(&vm->heap, slot, cv_from_obj(&out->h));
    return CRYO_OK;
}

static CRYO_LIB_FN(arr_sort) {
    (void)ud, (void)ret;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("sort");
    if (argc == 1) return sort_impl(vm, argv[0], cryo_unit_value(), false);
    cryo_value fn;
    cryo_error_kind k = clib_fn_arg(vm, "sort", *argv[1], &fn);
    if (k) return k;
    k = sort_impl(vm, argv[0], fn, false);
    cv_release(&vm->heap, fn);
    return k;
}

static CRYO_LIB_FN(arr_sort_desc) {
    (void)ud, (void)ret;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("sort_desc");
    return sort_impl(vm, argv[0], cryo_unit_value(), true);
}

/* dedup(): drops consecutive equal items; dedup(fn): fn(previous kept, item) says equal. */
static CRYO_LIB_FN(arr_dedup) {
    (void)ud, (void)ret;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("dedup");
    cryo_value fn = cryo_unit_value();
    cryo_error_kind k = argc == 2 ? clib_fn_arg(vm, "dedup", *argv[1], &fn) : CRYO_OK;
    if (k) return k;
    cryo_value snap = snapshot(*argv[0]);
    const cryo_array *a = cv_arr(snap);
    cryo_array *out;
    k = new_array(vm, a->len, &out);
    if (!k) k = cvm_charge(vm, a->len); /* work grows with the array */
    for (uint32_t i = 0; !k && i < a->len; i++) {
        bool same = false;
        if (out->len && fn.type == CRYO_T_UNIT) {
            k = cv_equals_vm(vm, out->items[out->len - 1], a->items[i], &same);
        } else if (out->len) {
            cryo_value args[2] = {out->items[out->len - 1], a->items[i]}, r = cryo_unit_value();
            k = cryo_vm_call_value(vm, fn, 2, args, &r);
            if (!k) k = clib_truthy(vm, "dedup", r, &same);
            cv_release(&vm->heap, r);
        }
        if (!k && !same) k = push_copy(vm, out, a->items[i]);
    }
    cv_release(&vm->heap, snap);
    cv_release(&vm->heap, fn);
    if (k) return drop_array(vm, out, k);
    cv_set(&vm->heap, argv[0], cv_from_obj(&out->h));
    return CRYO_OK;
}

/* --- sorting into a new array, map on maps ------------------------------------------------- */

/* sort_by(fn): sort(fn) under Rhai's newer name; sorts in place. */
static CRYO_LIB_FN(arr_sort_by) {
    (void)ud, (void)ret;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("sort_by");
    cryo_value fn;
    cryo_error_kind k = clib_fn_arg(vm, "sort_by", *argv[1], &fn);
    if (k) return k;
    k = sort_impl(vm, argv[0], fn, false);
    cv_release(&vm->heap, fn);
    return k;
}

/* The sorted copy behind order / order_by / order_desc: the receiver is left as it is. */
static cryo_error_kind ordered(cryo_vm *vm, cryo_value arr, cryo_value fn, bool desc,
                               cryo_value *ret) {
    cryo_value copy = snapshot(arr);
    cryo_error_kind k = sort_impl(vm, &copy, fn, desc); /* charges its comparisons */
    if (k) {
        cv_release(&vm->heap, copy);
        return k;
    }
    cv_set(&vm->heap, ret, copy);
    return CRYO_OK;
}

static CRYO_LIB_FN(arr_order) {
    (void)ud;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("order");
    return ordered(vm, *argv[0], cryo_unit_value(), false, ret);
}

static CRYO_LIB_FN(arr_order_desc) {
    (void)ud;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("order_desc");
    return ordered(vm, *argv[0], cryo_unit_value(), true, ret);
}

static CRYO_LIB_FN(arr_order_by) {
    (void)ud;
    if (argv[0]->type != CRYO_T_ARRAY) return NOFN("order_by");
    cryo_value fn;
    cryo_error_kind k = clib_fn_arg(vm, "order_by", *argv[1], &fn);
    if (k) return k;
    k = ordered(vm, *argv[0], fn, false, ret);
    cv_release(&vm->heap, fn);
    return k;
}

/* "map" is registered once (lib.h): arrays here, maps in lib_map.c. */
static CRYO_LIB_FN(arr_or_map_map) {
    if (argv[0]->type == CRYO_T_MAP) return clib_map_map(vm, ud, argc, argv, ret);
    return arr_map(vm, ud, argc, argv, ret);
}

const cryo_libreg clib_array[] = {
    {"chop", 2, arr_chop, NULL},
    {"shift", 1, arr_shift, NULL},
    {"extract", 2, arr_extract, NULL},
    {"extract", 3, arr_extract, NULL},
    {"splice", 3, arr_splice, NULL},
    {"splice", 4, arr_splice, NULL},
    {"find", 2, arr_find, NULL},
    {"find", 3, arr_find, NULL},
    {"find_map", 2, arr_find_map, NULL},
    {"find_map", 3, arr_find_map, NULL},
    {"map", 2, arr_or_map_map, NULL},
    {"some", 2, arr_some, NULL},
    {"all", 2, arr_all, NULL},
    {"for_each", 2, arr_for_each, NULL},
    {"zip", 3, arr_zip, NULL},
    {"reduce", 2, arr_reduce, NULL},
    {"reduce", 3, arr_reduce, NULL},
    {"reduce_rev", 2, arr_reduce_rev, NULL},
    {"reduce_rev", 3, arr_reduce_rev, NULL},
    {"sort", 1, arr_sort, NULL},
    {"sort", 2, arr_sort, NULL},
    {"sort_desc", 1, arr_sort_desc, NULL},
    {"dedup", 1, arr_dedup, NULL},
    {"dedup", 2, arr_dedup, NULL},
    {"sort_by", 2, arr_sort_by, NULL},
    {"order", 1, arr_order, NULL},
    {"order_desc", 1, arr_order_desc, NULL},
    {"order_by", 2, arr_order_by, NULL},
    {NULL, 0, NULL, NULL},
};
