/*
 * lib.h — helpers shared by the standard library files (lib_*.c), internal.
 *
 * A (name, arity) must be registered once across all the clib_* tables, so a name that
 * several types answer (len, contains, index_of, ...) is registered in lib_core.c with a
 * dispatcher that picks the per-type handler below by the type of argv[0]. Each per-type
 * handler has the host-function ABI and may assume argv[0]'s type.
 *
 * Layer (src/lib/): this header is the standard library's interface. It offers the per-type
 * handlers and argument helpers (clib_*); the tables themselves (clib_core, ..., clib_json) are
 * declared in vm/vm.h, because contexts (vm/) list them. It may use the value, lang, vm and
 * frozen layers through their interface headers; conc/ and ext/ build on it, never the reverse.
 */
#ifndef CRYO_LIB_H
#define CRYO_LIB_H

#include "vm/vm.h"

/* --- errors and argument checks (lib_core.c) ---------------------------------------------- */

/* Raises NOT_FOUND "function not found: name(t1, t2, ...)" from the argument types, as Rhai
 * does when no overload matches. */
cryo_error_kind clib_nofn(cryo_vm *vm, const char *name, int argc, cryo_value **argv);

/* Reads an integer argument; raises "fname: what must be an i64, got <type>" otherwise. */
cryo_error_kind clib_int_arg(cryo_vm *vm, const char *fname, const char *what, cryo_value v,
                             int64_t *out);

/* Reads a function argument (Fn value); a string names a function (Fn("name")): *out is then a
 * new owned value. Release *out with cv_release in every case. */
cryo_error_kind clib_fn_arg(cryo_vm *vm, const char *fname, cryo_value v, cryo_value *out);

/* Stores a new string value in *ret; raises on allocation failure or size limit. */
cryo_error_kind clib_ret_string(cryo_vm *vm, cryo_value *ret, const char *p, size_t len);

/* Replaces *slot with a new string of the given bytes (in-place string functions). */
cryo_error_kind clib_set_string(cryo_vm *vm, cryo_value *slot, const char *p, size_t len);

/* Makes *slot unique for writing; raises on allocation failure. */
cryo_error_kind clib_unique(cryo_vm *vm, cryo_value *slot);

/* --- calling script functions from library functions (lib_core.c) ------------------------- */

/* The number of parameters `fn` takes after its curried arguments, or -1 when unknown (a
 * Fn("name") naming no script fn). For Fn("name") the first existing arity among `prefer`
 * (nprefer entries) is returned. */
int clib_fn_arity(cryo_vm *vm, cryo_value fn, const int *prefer, int nprefer);

/* Calls `fn` for one element, as Rhai's array methods do: a fn taking one parameter gets the
 * item, two get (item, index), none get `this` = the item (which the callee may change, e.g.
 * for_each(|| this += 1)). */
cryo_error_kind clib_call_item(cryo_vm *vm, cryo_value fn, cryo_value *item, int64_t index,
                               cryo_value *ret);

/* Calls `fn` with `args`, plus `extra` as one more argument when fn takes one more (reduce's
 * index). */
cryo_error_kind clib_call_extra(cryo_vm *vm, cryo_value fn, int argc, const cryo_value *args,
                                cryo_value extra, cryo_value *ret);

/* Interprets a callback's result as a condition: bool required. */
cryo_error_kind clib_truthy(cryo_vm *vm, const char *fname, cryo_value v, bool *out);

/* Rhai's calc_offset_len: a start (negative from the end, clamped) and a length (clamped to
 * what remains) on a sequence of `length` items. */
void clib_offset_len(size_t length, int64_t start, int64_t len, size_t *ostart, size_t *olen);

/* A range argument as (start, len) over `length` items, clamped like clib_offset_len. */
void clib_range_span(size_t length, const cryo_range *r, size_t *ostart, size_t *olen);

/* --- per-type handlers behind the shared names (host-function ABI) ------------------------- */

#define CRYO_LIB_FN(name)                                                                          \
    cryo_error_kind name(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret)

/* strings (lib_string.c) */
CRYO_LIB_FN(clib_str_len);
CRYO_LIB_FN(clib_str_is_empty);
CRYO_LIB_FN(clib_str_contains);
CRYO_LIB_FN(clib_str_index_of);
CRYO_LIB_FN(clib_str_clear);
CRYO_LIB_FN(clib_str_truncate);
CRYO_LIB_FN(clib_str_pad);
CRYO_LIB_FN(clib_str_pop);
CRYO_LIB_FN(clib_str_append);
CRYO_LIB_FN(clib_str_remove);
CRYO_LIB_FN(clib_str_get);
CRYO_LIB_FN(clib_str_set);
CRYO_LIB_FN(clib_str_split);
CRYO_LIB_FN(clib_str_to_upper);
CRYO_LIB_FN(clib_str_to_lower);
CRYO_LIB_FN(clib_str_chars);
CRYO_LIB_FN(clib_str_reverse);
CRYO_LIB_FN(clib_char_to_upper);
CRYO_LIB_FN(clib_char_to_lower);

/* arrays (lib_array.c) */
CRYO_LIB_FN(clib_arr_len);
CRYO_LIB_FN(clib_arr_is_empty);
CRYO_LIB_FN(clib_arr_contains);
CRYO_LIB_FN(clib_arr_index_of);
CRYO_LIB_FN(clib_arr_clear);
CRYO_LIB_FN(clib_arr_truncate);
CRYO_LIB_FN(clib_arr_pad);
CRYO_LIB_FN(clib_arr_pop);
CRYO_LIB_FN(clib_arr_push);
CRYO_LIB_FN(clib_arr_append);
CRYO_LIB_FN(clib_arr_remove);
CRYO_LIB_FN(clib_arr_get);
CRYO_LIB_FN(clib_arr_set);
CRYO_LIB_FN(clib_arr_split);
CRYO_LIB_FN(clib_arr_insert);
CRYO_LIB_FN(clib_arr_reverse);
CRYO_LIB_FN(clib_arr_filter);
CRYO_LIB_FN(clib_arr_drain);
CRYO_LIB_FN(clib_arr_retain);

/* maps (lib_map.c) */
CRYO_LIB_FN(clib_map_len_fn);
CRYO_LIB_FN(clib_map_is_empty);
CRYO_LIB_FN(clib_map_contains);
CRYO_LIB_FN(clib_map_clear);
CRYO_LIB_FN(clib_map_remove_fn);
CRYO_LIB_FN(clib_map_get);
CRYO_LIB_FN(clib_map_set_fn);
CRYO_LIB_FN(clib_map_filter);
CRYO_LIB_FN(clib_map_drain);
CRYO_LIB_FN(clib_map_retain);
CRYO_LIB_FN(clib_map_map); /* map(fn) on maps, behind the array table's "map" */

/* ranges (lib_core.c) */
CRYO_LIB_FN(clib_range_len);
CRYO_LIB_FN(clib_range_is_empty);
CRYO_LIB_FN(clib_range_contains);

/* The JSON table, clib_json (lib_json.c), is declared in vm/vm.h with the other tables. */

#endif
