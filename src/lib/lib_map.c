/*
 * lib_map.c — object map functions. Keys are strings; entries stay in key order (value.h), so
 * keys() and values() come out sorted as in Rhai. Callbacks get (key, value).
 */
#include "lib.h"

#define NOFN(name) clib_nofn(vm, name, argc, argv)
#define MAP0       cv_map(*argv[0])

static cryo_map *map_mut(cryo_vm *vm, cryo_value *slot) {
    return clib_unique(vm, slot) ? NULL : cv_map(*slot);
}

/* Sets key = v (v retained here), checking the size limit when the key is new. */
static cryo_error_kind map_put(cryo_vm *vm, cryo_map *m, cryo_string *key, cryo_value v) {
    if (!cv_map_find_str(m, key)) {
        cryo_error_kind k = cvm_check_map(vm, (size_t)m->len + 1);
        if (k) return k;
    }
    cv_retain(v);
    /* cv_map_set takes the reference even when it fails (value.h). */
    if (!cv_map_set(&vm->heap, m, key, v)) return cvm_raise_oom(vm);
    return CRYO_OK;
}

static cryo_error_kind new_map(cryo_vm *vm, size_t cap, cryo_map **out) {
    *out = cv_map_new(&vm->heap, cap);
    return *out ? CRYO_OK : cvm_raise_oom(vm);
}

static cryo_error_kind drop_map(cryo_vm *vm, cryo_map *m, cryo_error_kind k) {
    if (m) cv_release(&vm->heap, cv_from_obj(&m->h));
    return k;
}

CRYO_LIB_FN(clib_map_len_fn) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_int(MAP0->len);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_map_is_empty) {
    (void)vm, (void)ud, (void)argc;
    *ret = cryo_bool(MAP0->len == 0);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_map_contains) {
    (void)ud;
    if (argv[1]->type != CRYO_T_STRING) return NOFN("contains");
    const cryo_string *k = cv_str(*argv[1]);
    *ret = cryo_bool(cv_map_find(MAP0, k->data, k->len) != NULL);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_map_get) {
    (void)ud;
    if (argv[1]->type != CRYO_T_STRING) return NOFN("get");
    const cryo_string *k = cv_str(*argv[1]);
    cryo_map_entry *e = cv_map_find(MAP0, k->data, k->len);
    if (e) {
        cv_retain(e->value);
        cv_set(&vm->heap, ret, e->value);
    }
    return CRYO_OK;
}

CRYO_LIB_FN(clib_map_set_fn) {
    (void)ud, (void)ret;
    if (argv[1]->type != CRYO_T_STRING) return NOFN("set");
    cryo_map *m = map_mut(vm, argv[0]);
    if (!m) return CRYO_ERR_MEMORY;
    cryo_error_kind k = map_put(vm, m, cv_str(*argv[1]), *argv[2]);
    /* Nested totals count toward the size limits (cvm_check_data). */
    if (!k && vm->data_limits && argv[2]->type >= CRYO_T_STRING) k = cvm_check_data(vm, *argv[0]);
    return k;
}

CRYO_LIB_FN(clib_map_remove_fn) {
    (void)ud;
    if (argv[1]->type != CRYO_T_STRING) return NOFN("remove");
    const cryo_string *k = cv_str(*argv[1]);
    if (!cv_map_find(MAP0, k->data, k->len)) return CRYO_OK;
    cryo_map *m = map_mut(vm, argv[0]);
    if (!m) return CRYO_ERR_MEMORY;
    cryo_value old = cryo_unit_value();
    cv_map_remove(&vm->heap, m, k->data, k->len, &old);
    cv_set(&vm->heap, ret, old);
    return CRYO_OK;
}

CRYO_LIB_FN(clib_map_clear) {
    (void)ud, (void)argc, (void)ret;
    if (MAP0->len == 0) return CRYO_OK;
    cryo_map *m;
    cryo_error_kind k = new_map(vm, 0, &m);
    if (!k) cv_set(&vm->heap, argv[0], cv_from_obj(&m->h));
    return k;
}

static cryo_error_kind list(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret, bool keys) {
    if (argv[0]->type != CRYO_T_MAP) return NOFN(keys ? "keys" : "values");
    const cryo_map *m = MAP0;
    cryo_error_kind k = cvm_check_array(vm, m->len);
    if (!k) k = cvm_charge(vm, m->len); /* work grows with the map */
    if (k) return k;
    cryo_array *a = cv_array_new(&vm->heap, m->len);
    if (!a) return cvm_raise_oom(vm);
    for (uint32_t i = 0; i < m->len; i++) {
        cryo_value v = keys ? cv_from_obj(&m->entries[i].key->h) : m->entries[i].value;
        if (keys && (m->entries[i].key->h.flags & CRYO_OBJ_SHARED)) v.flags = 0;
        cv_retain(v);
        if (!cv_array_push(&vm->heap, a, v)) { /* v is taken, even on failure */
            cv_release(&vm->heap, cv_from_obj(&a->h));
            return cvm_raise_oom(vm);
        }
    }
    cv_set(&vm->heap, ret, cv_from_obj(&a->h));
    return CRYO_OK;
}

static CRYO_LIB_FN(map_keys) {
    (void)ud;
    return list(vm, argc, argv, ret, true);
}

static CRYO_LIB_FN(map_values) {
    (void)ud;
    return list(vm, argc, argv, ret, false);
}

/* mixin(other): copies every entry of other (overwriting); fill_with(other): only the keys
 * this map lacks. */
static cryo_error_kind merge(cryo_vm *vm, int argc, cryo_value **argv, bool overwrite) {
    const char *name = overwrite ? "mixin" : "fill_with";
    if (argv[0]->type != CRYO_T_MAP || argv[1]->type != CRYO_T_MAP) return NOFN(name);
    cryo_value other = *argv[1];
    cv_retain(other);
    const cryo_map *b = cv_map(other);
    cryo_map *m = b->len ? map_mut(vm, argv[0]) : NULL;
    cryo_error_kind k = b->len && !m ? CRYO_ERR_MEMORY : CRYO_OK;
    for (uint32_t i = 0; !k && i < b->len; i++) {
        cryo_string *key = b->entries[i].key;
        if (overwrite || !cv_map_find_str(m, key)) k = map_put(vm, m, key, b->entries[i].value);
    }
    cv_release(&vm->heap, other);
    if (!k && m && vm->data_limits) k = cvm_check_data(vm, *argv[0]); /* nested totals */
    return k;
}

static CRYO_LIB_FN(map_mixin) {
    (void)ud, (void)ret;
    return merge(vm, argc, argv, true);
}

static CRYO_LIB_FN(map_fill_with) {
    (void)ud, (void)ret;
    return merge(vm, argc, argv, false);
}

static cryo_error_kind map_call_kv(cryo_vm *vm, cryo_value fn, cryo_value key, cryo_value *item,
                                   cryo_value *ret);

/* Splits the entries by fn(key, value): accepted into *yes, others into *no (NULL: discard). */
static cryo_error_kind partition(cryo_vm *vm, const char *name, cryo_value map, cryo_value fnv,
                                 cryo_map **yes, cryo_map **no) {
    cryo_value fn;
    cryo_error_kind k = clib_fn_arg(vm, name, fnv, &fn);
    if (k) return k;
    cryo_value snap = map;
    cv_retain(snap);
    const cryo_map *m = cv_map(snap);
    cryo_map *sides[2] = {NULL, NULL};
    k = new_map(vm, 4, &sides[0]);
    if (!k) k = new_map(vm, 4, &sides[1]);
    for (uint32_t i = 0; !k && i < m->len; i++) {
        cryo_string *key = m->entries[i].key;
        cryo_value args[2] = {cv_from_obj(&key->h), m->entries[i].value}, r = cryo_unit_value();
        if (key->h.flags & CRYO_OBJ_SHARED) args[0].flags = 0;
        bool hit = false;
        cryo_value item = args[1];
        cv_retain(item);
        k = map_call_kv(vm, fn, args[0], &item, &r);
        cv_release(&vm->heap, item);
        if (!k) k = clib_truthy(vm, name, r, &hit);
        cv_release(&vm->heap, r);
        if (!k) k = map_put(vm, sides[hit ? 1 : 0], key, m->entries[i].value);
    }
    cv_release(&vm->heap, snap);
    cv_release(&vm->heap, fn);
    if (!k && yes) *yes = sides[1], sides[1] = NULL;
    if (!k && no) *no = sides[0], sides[0] = NULL;
    drop_map(vm, sides[0], k);
    drop_map(vm, sides[1], k);
    return k;
}

CRYO_LIB_FN(clib_map_filter) {
    (void)ud, (void)argc;
    cryo_map *yes;
    cryo_error_kind k = partition(vm, "filter", *argv[0], *argv[1], &yes, NULL);
    if (!k) cv_set(&vm->heap, ret, cv_from_obj(&yes->h));
    return k;
}

/* drain(fn): removes the accepted entries and returns them; retain(fn): keeps them and returns
 * the others. */
static cryo_error_kind drain_retain(cryo_vm *vm, int argc, cryo_value **argv, cryo_value *ret,
                                    bool drain) {
    const char *name = drain ? "drain" : "retain";
    if (argc != 2) return NOFN(name);
    cryo_map *yes = NULL, *no = NULL;
    cryo_error_kind k = partition(vm, name, *argv[0], *argv[1], &yes, &no);
    if (k) return k;
    cv_set(&vm->heap, argv[0], cv_from_obj(drain ? &no->h : &yes->h));
    cv_set(&vm->heap, ret, cv_from_obj(drain ? &yes->h : &no->h));
    return CRYO_OK;
}

CRYO_LIB_FN(clib_map_drain) {
    (void)ud;
    return drain_retain(vm, argc, argv, ret, true);
}

CRYO_LIB_FN(clib_map_retain) {
    (void)ud;
    return drain_retain(vm, argc, argv, ret, false);
}

/* --- callbacks with Rhai's optional value parameter ------------------------------------------ */

/* Calls fn for one entry as Rhai's map methods do: fn(key, value), or fn(key) with `this` bound
 * to the value (`m.filter(|k| this >= 3)`); a Fn("name") of unknown arity gets both. */
static cryo_error_kind map_call_kv(cryo_vm *vm, cryo_value fn, cryo_value key, cryo_value *item,
                                   cryo_value *ret) {
    static const int prefer[] = {2, 1};
    if (clib_fn_arity(vm, fn, prefer, 2) == 1) return cvm_call_method(vm, fn, item, 1, &key, ret);
    cryo_value args[2] = {key, *item};
    return cryo_vm_call_value(vm, fn, 2, args, ret);
}

/* map(fn): a new map with the same keys and fn(key, value) (or fn(key), this = value) as
 * values. */
CRYO_LIB_FN(clib_map_map) {
    (void)ud, (void)argc;
    cryo_value fn;
    cryo_error_kind k = clib_fn_arg(vm, "map", *argv[1], &fn);
    if (k) return k;
    cryo_value snap = *argv[0];
    cv_retain(snap);
    const cryo_map *m = cv_map(snap);
    cryo_map *out = NULL;
    k = new_map(vm, m->len, &out);
    if (!k) k = cvm_charge(vm, m->len); /* the copying, beyond the callback's own */
    for (uint32_t i = 0; !k && i < m->len; i++) {
        cryo_string *key = m->entries[i].key;
        cryo_value kv = cv_from_obj(&key->h), item = m->entries[i].value, r = cryo_unit_value();
        if (key->h.flags & CRYO_OBJ_SHARED) kv.flags = 0;
        cv_retain(item);
        k = map_call_kv(vm, fn, kv, &item, &r);
        cv_release(&vm->heap, item);
        if (!k) k = map_put(vm, out, key, r);
        cv_release(&vm->heap, r);
    }
    cv_release(&vm->heap, snap);
    cv_release(&vm->heap, fn);
    if (k) return drop_map(vm, out, k);
    cv_set(&vm->heap, ret, cv_from_obj(&out->h));
    return CRYO_OK;
}

const cryo_libreg clib_map[] = {
    {"keys", 1, map_keys, NULL},   {"values", 1, map_values, NULL},
    {"mixin", 2, map_mixin, NULL}, {"fill_with", 2, map_fill_with, NULL},
    {NULL, 0, NULL, NULL},
};
