/*
 * ops.c — the operators on values: the slow paths behind the VM's int fast paths (every type
 * combination Rhai allows), indexing, property access and string building.
 */
#define _GNU_SOURCE /* memmem */
#include "vm.h"

#include "lang/lang.h"
#include "hosttype.h"
#include "trace.h"
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *op_name(int op) {
    switch (op) {
    case OP_ADD:
    case OP_ADDI: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_MOD: return "%";
    case OP_POW: return "**";
    case OP_SHL: return "<<";
    case OP_SHR: return ">>";
    case OP_BAND: return "&";
    case OP_BOR: return "|";
    case OP_BXOR: return "^";
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    case OP_IN: return "in";
    case OP_NEG: return "-";
    case OP_NOT: return "!";
    default: return "?";
    }
}

static cryo_error_kind type_error2(cryo_vm *vm, int op, cryo_value a, cryo_value b) {
    return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot apply '%s' to %s and %s", op_name(op),
                         cv_type_name(a), cv_type_name(b));
}

/* Either operand is a handle (a host type may define the operator). */
#define UNLIKELY_HOST(a, b)                                                                        \
    __builtin_expect((a).type == CRYO_T_HANDLE || (b).type == CRYO_T_HANDLE, 0)

static cryo_value deref(cryo_value v) {
    while (v.type == CRYO_T_CELL)
        v = cv_cell(v)->v;
    return v;
}

static cryo_error_kind check_string(cryo_vm *vm, cryo_string *s) {
    cryo_error_kind k = cvm_check_string(vm, s->len);
    if (k != CRYO_OK) cv_free_obj(&vm->heap, &s->h);
    return k;
}

/* --- integers --------------------------------------------------------------------------------- */

static cryo_error_kind arith_error(cryo_vm *vm, const char *what, int op, int64_t x, int64_t y) {
    return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "%s: %" PRId64 " %s %" PRId64, what, x,
                         op_name(op), y);
}

static cryo_error_kind int_pow(cryo_vm *vm, int64_t x, int64_t y, int64_t *r) {
    if (y < 0) return arith_error(vm, "integer raised to a negative power", OP_POW, x, y);
    int64_t result = 1, base = x;
    uint64_t e = (uint64_t)y;
    bool base_ovf = false;
    while (e) {
        if (e & 1) {
            if (base_ovf || __builtin_mul_overflow(result, base, &result)) {
                return arith_error(vm, "power overflow", OP_POW, x, y);
            }
        }
        e >>= 1;
        if (e && !base_ovf) base_ovf = __builtin_mul_overflow(base, base, &base);
    }
    *r = result;
    return CRYO_OK;
}

/* Shifts by a negative amount go the other way, as in Rhai (`10 << -1` is 5). */
static cryo_error_kind int_shift(cryo_vm *vm, int op, int64_t x, int64_t y, int64_t *r) {
    bool left = op == OP_SHL;
    uint64_t n = y < 0 ? (y == INT64_MIN ? UINT64_MAX : (uint64_t)-y) : (uint64_t)y;
    if (y < 0) left = !left;
    if (n >= 64) {
        return arith_error(
            vm, left ? "left-shift by too many bits" : "right-shift by too many bits", op, x, y);
    }
    *r = left ? (int64_t)((uint64_t)x << n) : x >> n;
    return CRYO_OK;
}

static cryo_error_kind int_binary(cryo_vm *vm, int op, int64_t x, int64_t y, cryo_value *out) {
    int64_t r = 0;
    cryo_error_kind k = CRYO_OK;
    switch (op) {
    case OP_ADD:
    case OP_ADDI:
        if (__builtin_add_overflow(x, y, &r)) return arith_error(vm, "addition overflow", op, x, y);
        break;
    case OP_SUB:
        if (__builtin_sub_overflow(x, y, &r)) {
            return arith_error(vm, "subtraction overflow", op, x, y);
        }
        break;
    case OP_MUL:
        if (__builtin_mul_overflow(x, y, &r)) {
            return arith_error(vm, "multiplication overflow", op, x, y);
        }
        break;
    case OP_DIV:
        if (y == 0) return arith_error(vm, "division by zero", op, x, y);
        if (x == INT64_MIN && y == -1) return arith_error(vm, "division overflow", op, x, y);
        r = x / y;
        break;
    case OP_MOD:
        if (y == 0) return arith_error(vm, "modulo by zero", op, x, y);
        /* i64::MIN % -1 is 0 mathematically, but Rhai's checked_rem overflows there */
        if (x == INT64_MIN && y == -1) return arith_error(vm, "modulo overflow", op, x, y);
        r = y == -1 ? 0 : x % y;
        break;
    case OP_POW: k = int_pow(vm, x, y, &r); break;
    case OP_SHL:
    case OP_SHR: k = int_shift(vm, op, x, y, &r); break;
    case OP_BAND: r = x & y; break;
    case OP_BOR: r = x | y; break;
    case OP_BXOR: r = x ^ y; break;
    default: return type_error2(vm, op, cryo_int(x), cryo_int(y));
    }
    if (k == CRYO_OK) *out = cryo_int(r);
    return k;
}

static bool float_binary(int op, double x, double y, cryo_value *out) {
    double r;
    switch (op) {
    case OP_ADD:
    case OP_ADDI: r = x + y; break;
    case OP_SUB: r = x - y; break;
    case OP_MUL: r = x * y; break;
    case OP_DIV: r = x / y; break;
    case OP_MOD: r = fmod(x, y); break;
    case OP_POW: r = pow(x, y); break;
    default: return false;
    }
    *out = cryo_float(r);
    return true;
}

/* --- comparisons ------------------------------------------------------------------------------ */

static bool is_num(cryo_value v) {
    return v.type == CRYO_T_INT || v.type == CRYO_T_FLOAT;
}
static bool is_text(cryo_value v) {
    return v.type == CRYO_T_STRING || v.type == CRYO_T_CHAR;
}
static double as_f64(cryo_value v) {
    return v.type == CRYO_T_INT ? (double)v.as.i : v.as.f;
}

static bool cmp_holds(int op, int c) {
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* <, <=, >, >=. As in Rhai, values of different types are simply not ordered (false); values
 * of one type that has no order (arrays, maps, ...) are a type error. */
static cryo_error_kind relational(cryo_vm *vm, int op, cryo_value a, cryo_value b,
                                  cryo_value *out) {
    if (is_num(a) && is_num(b) && (a.type == CRYO_T_FLOAT || b.type == CRYO_T_FLOAT)) {
        int c = cv_float_cmp(as_f64(a), as_f64(b));
        *out = cryo_bool(c != 2 && cmp_holds(op, c));
        return CRYO_OK;
    }
    int c;
    if (cv_compare(a, b, &c)) {
        *out = cryo_bool(cmp_holds(op, c));
        return CRYO_OK;
    }
    bool same = a.type == b.type || (is_num(a) && is_num(b)) || (is_text(a) && is_text(b));
    if (same) return type_error2(vm, op, a, b);
    *out = cryo_bool(false);
    return CRYO_OK;
}

/* --- `in` ------------------------------------------------------------------------------------- */

static cryo_error_kind op_in(cryo_vm *vm, cryo_value a, cryo_value b, cryo_value *out) {
    bool r = false;
    char buf[4];
    switch (b.type) {
    case CRYO_T_ARRAY: {
        const cryo_array *arr = cv_arr(b);
        cryo_error_kind k = cvm_charge(vm, arr->len);
        for (uint32_t i = 0; k == CRYO_OK && i < arr->len && !r; i++)
            k = cv_equals_vm(vm, arr->items[i], a, &r);
        if (k != CRYO_OK) return k;
        break;
    }
    case CRYO_T_STRING: {
        const cryo_string *s = cv_str(b);
        if (a.type == CRYO_T_STRING) {
            r = memmem(s->data, s->len, cv_str(a)->data, cv_str(a)->len) != NULL;
        } else if (a.type == CRYO_T_CHAR) {
            size_t n = cv_char_utf8(a.as.c, buf);
            r = memmem(s->data, s->len, buf, n) != NULL;
        } else {
            return type_error2(vm, OP_IN, a, b);
        }
        break;
    }
    case CRYO_T_MAP:
        if (a.type == CRYO_T_STRING) {
            r = cv_map_find(cv_map(b), cv_str(a)->data, cv_str(a)->len) != NULL;
        } else if (a.type == CRYO_T_CHAR) {
            size_t n = cv_char_utf8(a.as.c, buf);
            r = cv_map_find(cv_map(b), buf, n) != NULL;
        } else {
            return type_error2(vm, OP_IN, a, b);
        }
        break;
    case CRYO_T_RANGE: {
        if (a.type != CRYO_T_INT) return type_error2(vm, OP_IN, a, b);
        const cryo_range *rg = cv_range(b);
        r = a.as.i >= rg->start && (rg->h.extra ? a.as.i <= rg->end : a.as.i < rg->end);
        break;
    }
    default: return type_error2(vm, OP_IN, a, b);
    }
    *out = cryo_bool(r);
    return CRYO_OK;
}

/* --- strings, arrays, maps ---------------------------------------------------------------------
 */

/* to_string(a) ++ to_string(b): string + anything, anything + string, char + char. */
static cryo_error_kind text_concat(cryo_vm *vm, cryo_value a, cryo_value b, cryo_value *out) {
    size_t hint = (a.type == CRYO_T_STRING ? cv_str(a)->len : 8) +
                  (b.type == CRYO_T_STRING ? cv_str(b)->len : 8);
    cryo_error_kind k =
        cvm_check_string(vm, a.type == CRYO_T_STRING && b.type == CRYO_T_STRING ? hint : 0);
    if (k != CRYO_OK) return k;
    cryo_string *s = cv_string_new_cap(&vm->heap, hint);
    if (!s) return cvm_raise_oom(vm);
    if ((k = cvm_append_repr(vm, &s, a, false)) != CRYO_OK ||
        (k = cvm_append_repr(vm, &s, b, false)) != CRYO_OK) {
        cv_free_obj(&vm->heap, &s->h);
        return k;
    }
    if ((k = check_string(vm, s)) != CRYO_OK) return k;
    *out = cv_from_obj(&s->h);
    return CRYO_OK;
}

/* string - string / string - char: every occurrence removed. */
static cryo_error_kind text_remove(cryo_vm *vm, cryo_value a, cryo_value b, cryo_value *out) {
    const cryo_string *s = cv_str(a);
    char buf[4];
    const char *pat;
    size_t n;
    if (b.type == CRYO_T_CHAR) {
        n = cv_char_utf8(b.as.c, buf);
        pat = buf;
    } else {
        pat = cv_str(b)->data;
        n = cv_str(b)->len;
    }
    cryo_string *r = cv_string_new_cap(&vm->heap, s->len);
    if (!r) return cvm_raise_oom(vm);
    const char *p = s->data, *end = s->data + s->len;
    while (p < end) {
        const char *hit = n ? memmem(p, (size_t)(end - p), pat, n) : NULL;
        const char *stop = hit ? hit : end;
        if (!cv_string_append(&vm->heap, &r, p, (size_t)(stop - p))) {
            cv_free_obj(&vm->heap, &r->h);
            return cvm_raise_oom(vm);
        }
        p = hit ? hit + n : end;
    }
    *out = cv_from_obj(&r->h);
    return CRYO_OK;
}

/* --- nested data sizes -------------------------------------------------------------------------
 */

cryo_error_kind cvm_op_check_size(cryo_vm *vm, cryo_value v) {
    return cvm_check_data(vm, v); /* the one nested-size check (vm.h) */
}

static bool holds_data(cryo_value v) {
    v = deref(v);
    return v.type == CRYO_T_ARRAY || v.type == CRYO_T_MAP || v.type == CRYO_T_STRING;
}

/* Appends b to the unique array a: all of b's items when b is an array, else b itself. */
static cryo_error_kind array_append(cryo_vm *vm, cryo_array *a, cryo_value b) {
    size_t add = b.type == CRYO_T_ARRAY ? cv_arr(b)->len : 1;
    cryo_error_kind k = cvm_check_array(vm, (size_t)a->len + add);
    if (k != CRYO_OK) return k;
    /* Geometric growth, as cv_array_push: `a += x` in a loop must not copy the array each
     * time. Near the memory limit, the exact size is tried before giving up. */
    size_t need = (size_t)a->len + add, cap = (size_t)a->cap * 2;
    if (need > a->cap && cap > need) {
        bool exceeded = vm->heap.exceeded;
        if (!cv_array_reserve(&vm->heap, a, cap)) vm->heap.exceeded = exceeded;
    }
    if (!cv_array_reserve(&vm->heap, a, need)) return cvm_raise_oom(vm);
    if (b.type == CRYO_T_ARRAY) {
        const cryo_array *src = cv_arr(b);
        uint32_t n = src->len; /* src may be a itself */
        for (uint32_t i = 0; i < n; i++) {
            cv_retain(src->items[i]);
            a->items[a->len++] = src->items[i];
        }
    } else {
        cv_retain(b);
        a->items[a->len++] = b;
    }
    return holds_data(b) ? cvm_op_check_size(vm, cv_from_obj(&a->h)) : CRYO_OK;
}

static cryo_error_kind map_mixin(cryo_vm *vm, cryo_map *m, const cryo_map *src) {
    for (uint32_t i = 0; i < src->len; i++) {
        const cryo_map_entry *e = &src->entries[i];
        if (!cv_map_find_str(m, e->key)) {
            cryo_error_kind k = cvm_check_map(vm, (size_t)m->len + 1);
            if (k != CRYO_OK) return k;
        }
        cv_retain(e->value);
        if (!cv_map_set(&vm->heap, m, e->key, e->value)) return cvm_raise_oom(vm);
    }
    return cvm_op_check_size(vm, cv_from_obj(&m->h));
}

/* a + b on a copy of the container a (arrays: concat/append; maps: mixin). */
static cryo_error_kind container_add(cryo_vm *vm, cryo_value a, cryo_value b, cryo_value *out) {
    cryo_value r = a;
    cv_retain(r);
    if (!cv_make_unique(&vm->heap, &r)) {
        cv_release(&vm->heap, r);
        return cvm_raise_oom(vm);
    }
    cryo_error_kind k = a.type == CRYO_T_ARRAY ? array_append(vm, cv_arr(r), b)
                                               : map_mixin(vm, cv_map(r), cv_map(b));
    if (k != CRYO_OK) {
        cv_release(&vm->heap, r);
        return k;
    }
    *out = r;
    return CRYO_OK;
}

/* --- binary operators ---------------------------------------------------------------------------
 */

cryo_error_kind cvm_op_binary(cryo_vm *vm, int op, cryo_value a, cryo_value b, cryo_value *out) {
    a = deref(a);
    b = deref(b);
    if (UNLIKELY_HOST(a, b)) { /* a host type's operator (hosttype.c) */
        bool done;
        cryo_error_kind k = cvm_host_binary(vm, op, a, b, out, &done);
        if (done) return k;
    }
    switch (op) {
    case OP_EQ:
    case OP_NE: {
        bool eq;
        cryo_error_kind k = cv_equals_vm(vm, a, b, &eq); /* charged: nested data may be huge */
        *out = cryo_bool(op == OP_EQ ? eq : !eq);
        return k;
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: return relational(vm, op, a, b, out);
    case OP_IN: return op_in(vm, a, b, out);
    default: break;
    }
    if (a.type == CRYO_T_INT && b.type == CRYO_T_INT)
        return int_binary(vm, op, a.as.i, b.as.i, out);
    if (is_num(a) && is_num(b)) {
        if (float_binary(op, as_f64(a), as_f64(b), out)) return CRYO_OK;
        return type_error2(vm, op, a, b);
    }
    if (a.type == CRYO_T_BOOL && b.type == CRYO_T_BOOL) {
        switch (op) {
        case OP_BAND: *out = cryo_bool(a.as.b && b.as.b); return CRYO_OK;
        case OP_BOR: *out = cryo_bool(a.as.b || b.as.b); return CRYO_OK;
        case OP_BXOR: *out = cryo_bool(a.as.b != b.as.b); return CRYO_OK;
        default: return type_error2(vm, op, a, b);
        }
    }
    if (op == OP_ADD || op == OP_ADDI) {
        if (a.type == CRYO_T_ARRAY && b.type != CRYO_T_STRING) return container_add(vm, a, b, out);
        if (a.type == CRYO_T_MAP && b.type == CRYO_T_MAP) return container_add(vm, a, b, out);
        if (a.type == CRYO_T_STRING || b.type == CRYO_T_STRING ||
            (a.type == CRYO_T_CHAR && b.type == CRYO_T_CHAR)) {
            return text_concat(vm, a, b, out);
        }
    }
    if (op == OP_SUB && a.type == CRYO_T_STRING && is_text(b)) return text_remove(vm, a, b, out);
    return type_error2(vm, op, a, b);
}

cryo_error_kind cvm_op_assign(cryo_vm *vm, int op, cryo_value *target, cryo_value b) {
    while (target->type == CRYO_T_CELL)
        target = &cv_cell(*target)->v;
    cryo_value a = *target;
    b = deref(b);
    bool add = op == OP_ADD || op == OP_ADDI;
    if (add && target->type == CRYO_T_STRING && b.type != CRYO_T_ARRAY && b.type != CRYO_T_MAP) {
        if (!cv_make_unique(&vm->heap, target)) return cvm_raise_oom(vm);
        cryo_string *s = cv_str(*target);
        if (b.type == CRYO_T_STRING) {
            cryo_error_kind k = cvm_check_string(vm, (size_t)s->len + cv_str(b)->len);
            if (k != CRYO_OK) return k;
        }
        cryo_error_kind k = cvm_append_repr(vm, &s, b, false); /* bounded by the limits */
        target->as.obj = &s->h;
        return k;
    }
    if (add &&
        (target->type == CRYO_T_ARRAY || (target->type == CRYO_T_MAP && b.type == CRYO_T_MAP))) {
        if (!cv_make_unique(&vm->heap, target)) return cvm_raise_oom(vm);
        if (target->type == CRYO_T_ARRAY) return array_append(vm, cv_arr(*target), b);
        return map_mixin(vm, cv_map(*target), cv_map(b));
    }
    cryo_value r;
    cryo_error_kind k = cvm_op_binary(vm, op, a, b, &r);
    if (k == CRYO_OK) cv_set(&vm->heap, target, r);
    return k;
}

cryo_error_kind cvm_op_unary(cryo_vm *vm, int op, cryo_value a, cryo_value *out) {
    a = deref(a);
    if (a.type == CRYO_T_HANDLE) {
        bool done;
        cryo_error_kind k = cvm_host_unary(vm, op, a, out, &done);
        if (done) return k;
    }
    if (op == OP_NEG) {
        if (a.type == CRYO_T_INT) {
            if (a.as.i == INT64_MIN) {
                return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "negation overflow: -(%" PRId64 ")",
                                     a.as.i);
            }
            *out = cryo_int(-a.as.i);
            return CRYO_OK;
        }
        if (a.type == CRYO_T_FLOAT) {
            *out = cryo_float(-a.as.f);
            return CRYO_OK;
        }
    } else if (op == OP_NOT && a.type == CRYO_T_BOOL) {
        *out = cryo_bool(!a.as.b);
        return CRYO_OK;
    }
    return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot apply '%s' to %s", op_name(op),
                         cv_type_name(a));
}

/* --- indexing -----------------------------------------------------------------------------------
 */

/* Resolves a possibly negative index against len; false when out of bounds. */
static bool resolve_index(int64_t i, int64_t len, int64_t *out) {
    if (i < 0) i += len;
    if (i < 0 || i >= len) return false;
    *out = i;
    return true;
}

static cryo_error_kind index_type_error(cryo_vm *vm, cryo_value obj, cryo_value idx) {
    return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot index %s with %s", cv_type_name(obj),
                         cv_type_name(idx));
}

static cryo_error_kind bounds_error(cryo_vm *vm, const char *what, int64_t i, int64_t len) {
    return cryo_vm_raise(vm, CRYO_ERR_INDEX,
                         "%s index %" PRId64 " out of bounds (length %" PRId64 ")", what, i, len);
}

static cryo_error_kind bit_index(cryo_vm *vm, int64_t i, int *bit) {
    if (i < 0) i += 64;
    if (i < 0 || i >= 64) {
        return cryo_vm_raise(vm, CRYO_ERR_INDEX, "bit index %" PRId64 " out of bounds (64 bits)",
                             i < 0 ? i - 64 : i);
    }
    *bit = (int)i;
    return CRYO_OK;
}

/* Bits [start, end) of a range index on an int; start must be a valid bit. */
static cryo_error_kind bit_range(cryo_vm *vm, const cryo_range *r, int *from, int *count) {
    if (r->start < 0 || r->start >= 64) {
        return cryo_vm_raise(vm, CRYO_ERR_INDEX, "bit index %" PRId64 " out of bounds (64 bits)",
                             r->start);
    }
    int64_t end = r->end;
    if (r->h.extra && end < INT64_MAX) end++;
    if (end > 64) end = 64;
    *from = (int)r->start;
    *count = end > r->start ? (int)(end - r->start) : 0;
    return CRYO_OK;
}

static uint64_t low_mask(int n) {
    return n >= 64 ? UINT64_MAX : (((uint64_t)1 << n) - 1);
}

static cryo_error_kind substring(cryo_vm *vm, const cryo_string *s, const cryo_range *r,
                                 cryo_value *out) {
    int64_t from, to;
    cv_string_range(s, r->start, r->end, r->h.extra != 0, &from, &to);
    size_t a = cv_string_offset(s, from), b = cv_string_offset(s, to);
    cryo_string *n = cv_string_new(&vm->heap, s->data + a, b - a);
    if (!n) return cvm_raise_oom(vm);
    *out = cv_from_obj(&n->h);
    return CRYO_OK;
}

cryo_error_kind cvm_op_getindex(cryo_vm *vm, cryo_value obj, cryo_value idx, cryo_value *out) {
    obj = deref(obj);
    idx = deref(idx);
    if (obj.type == CRYO_T_HANDLE) {
        bool done;
        cryo_error_kind k = cvm_host_index_get(vm, obj, idx, out, &done);
        if (done) return k;
    }
    int64_t i;
    switch (obj.type) {
    case CRYO_T_ARRAY: {
        const cryo_array *a = cv_arr(obj);
        if (idx.type != CRYO_T_INT) return index_type_error(vm, obj, idx);
        if (!resolve_index(idx.as.i, a->len, &i))
            return bounds_error(vm, "array", idx.as.i, a->len);
        *out = a->items[i];
        cv_retain(*out);
        return CRYO_OK;
    }
    case CRYO_T_STRING: {
        const cryo_string *s = cv_str(obj);
        if (idx.type == CRYO_T_RANGE) return substring(vm, s, cv_range(idx), out);
        if (idx.type != CRYO_T_INT) return index_type_error(vm, obj, idx);
        if (!resolve_index(idx.as.i, s->nchars, &i)) {
            return bounds_error(vm, "string", idx.as.i, s->nchars);
        }
        *out = cryo_char(cv_string_char_at(s, i));
        return CRYO_OK;
    }
    case CRYO_T_MAP: {
        if (idx.type != CRYO_T_STRING) return index_type_error(vm, obj, idx);
        const cryo_map_entry *e = cv_map_find_str(cv_map(obj), cv_str(idx));
        *out = e ? e->value : cryo_unit_value();
        cv_retain(*out);
        return CRYO_OK;
    }
    case CRYO_T_INT: {
        int bit = 0, count = 0;
        cryo_error_kind k;
        if (idx.type == CRYO_T_RANGE) {
            if ((k = bit_range(vm, cv_range(idx), &bit, &count)) != CRYO_OK) return k;
            *out = cryo_int((int64_t)(((uint64_t)obj.as.i >> bit) & low_mask(count)));
            return CRYO_OK;
        }
        if (idx.type != CRYO_T_INT) return index_type_error(vm, obj, idx);
        if ((k = bit_index(vm, idx.as.i, &bit)) != CRYO_OK) return k;
        *out = cryo_bool(((uint64_t)obj.as.i >> bit) & 1);
        return CRYO_OK;
    }
    case CRYO_T_POINTER: {
        const cv_pointer_hooks *ph = cv_pointer_hooks_get(); /* ffi/pointer.c */
        if (ph) return ph->get(vm, obj, idx, out);
        return index_type_error(vm, obj, idx);
    }
    default: return index_type_error(vm, obj, idx);
    }
}

/* Replaces characters [from, to) of the unique string *sp with the bytes p[0..n). */
static cryo_error_kind string_splice(cryo_vm *vm, cryo_value *slot, int64_t from, int64_t to,
                                     const char *p, size_t n) {
    const cryo_string *s = cv_str(*slot);
    size_t a = cv_string_offset(s, from), b = cv_string_offset(s, to);
    size_t len = s->len - (b - a) + n;
    cryo_error_kind k = cvm_check_string(vm, len);
    if (k != CRYO_OK) return k;
    cryo_string *r = cv_string_new_cap(&vm->heap, len);
    if (!r || !cv_string_append(&vm->heap, &r, s->data, a) ||
        !cv_string_append(&vm->heap, &r, p, n) ||
        !cv_string_append(&vm->heap, &r, s->data + b, s->len - b)) {
        if (r) cv_free_obj(&vm->heap, &r->h);
        return cvm_raise_oom(vm);
    }
    cv_set(&vm->heap, slot, cv_from_obj(&r->h));
    return CRYO_OK;
}

static cryo_error_kind set_string_index(cryo_vm *vm, cryo_value *obj, cryo_value idx,
                                        cryo_value v) {
    const cryo_string *s = cv_str(*obj);
    char buf[4];
    if (idx.type == CRYO_T_RANGE) {
        if (v.type != CRYO_T_STRING && v.type != CRYO_T_CHAR) {
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot assign %s to a string range",
                                 cv_type_name(v));
        }
        const cryo_range *r = cv_range(idx);
        int64_t from, to;
        cv_string_range(s, r->start, r->end, r->h.extra != 0, &from, &to);
        if (v.type == CRYO_T_CHAR) {
            return string_splice(vm, obj, from, to, buf, cv_char_utf8(v.as.c, buf));
        }
        return string_splice(vm, obj, from, to, cv_str(v)->data, cv_str(v)->len);
    }
    if (idx.type != CRYO_T_INT) return index_type_error(vm, *obj, idx);
    int64_t i;
    if (!resolve_index(idx.as.i, s->nchars, &i))
        return bounds_error(vm, "string", idx.as.i, s->nchars);
    if (v.type != CRYO_T_CHAR) {
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot assign %s to a character of a string",
                             cv_type_name(v));
    }
    return string_splice(vm, obj, i, i + 1, buf, cv_char_utf8(v.as.c, buf));
}

static cryo_error_kind set_int_index(cryo_vm *vm, cryo_value *obj, cryo_value idx, cryo_value v) {
    int bit = 0, count = 0;
    cryo_error_kind k;
    uint64_t x = (uint64_t)obj->as.i;
    if (idx.type == CRYO_T_RANGE) {
        if ((k = bit_range(vm, cv_range(idx), &bit, &count)) != CRYO_OK) return k;
        if (v.type != CRYO_T_INT) {
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot assign %s to bits of an integer",
                                 cv_type_name(v));
        }
        uint64_t mask = low_mask(count) << bit;
        if (count == 0) mask = 0;
        x = (x & ~mask) | (((uint64_t)v.as.i << bit) & mask);
    } else {
        if (idx.type != CRYO_T_INT) return index_type_error(vm, *obj, idx);
        if ((k = bit_index(vm, idx.as.i, &bit)) != CRYO_OK) return k;
        if (v.type != CRYO_T_BOOL) {
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot assign %s to a bit of an integer",
                                 cv_type_name(v));
        }
        x = v.as.b ? x | ((uint64_t)1 << bit) : x & ~((uint64_t)1 << bit);
    }
    *obj = cryo_int((int64_t)x);
    return CRYO_OK;
}

static cryo_error_kind map_insert(cryo_vm *vm, cryo_value *obj, cryo_string *key, cryo_value v) {
    if (!cv_make_unique(&vm->heap, obj)) {
        cv_release(&vm->heap, v);
        return cvm_raise_oom(vm);
    }
    cryo_map *m = cv_map(*obj);
    if (!cv_map_find_str(m, key)) {
        cryo_error_kind k = cvm_check_map(vm, (size_t)m->len + 1);
        if (k != CRYO_OK) {
            cv_release(&vm->heap, v);
            return k;
        }
    }
    bool nested = holds_data(v);
    if (!cv_map_set(&vm->heap, m, key, v)) return cvm_raise_oom(vm);
    return nested ? cvm_op_check_size(vm, *obj) : CRYO_OK;
}

cryo_error_kind cvm_op_setindex(cryo_vm *vm, cryo_value *obj, cryo_value idx, cryo_value v) {
    idx = deref(idx);
    if (obj->type == CRYO_T_CELL) obj = &cv_cell(*obj)->v;
    if (obj->type == CRYO_T_HANDLE) {
        bool done;
        cryo_error_kind k = cvm_host_index_set(vm, *obj, idx, v, &done);
        if (done) {
            cv_release(&vm->heap, v); /* the hook borrowed it */
            return k;
        }
    }
    if (obj->type == CRYO_T_POINTER) {
        const cv_pointer_hooks *ph = cv_pointer_hooks_get(); /* ffi/pointer.c */
        if (ph) return ph->set(vm, *obj, idx, v);
        cv_release(&vm->heap, v);
        return index_type_error(vm, *obj, idx);
    }
    cryo_error_kind k;
    switch (obj->type) {
    case CRYO_T_ARRAY: {
        int64_t i;
        if (idx.type != CRYO_T_INT) {
            k = index_type_error(vm, *obj, idx);
            break;
        }
        if (!resolve_index(idx.as.i, cv_arr(*obj)->len, &i)) {
            k = bounds_error(vm, "array", idx.as.i, cv_arr(*obj)->len);
            break;
        }
        if (!cv_make_unique(&vm->heap, obj)) {
            k = cvm_raise_oom(vm);
            break;
        }
        bool nested = holds_data(v);
        cv_set(&vm->heap, &cv_arr(*obj)->items[i], v);
        return nested ? cvm_op_check_size(vm, *obj) : CRYO_OK;
    }
    case CRYO_T_MAP:
        if (idx.type != CRYO_T_STRING) {
            k = index_type_error(vm, *obj, idx);
            break;
        }
        return map_insert(vm, obj, cv_str(idx), v);
    case CRYO_T_STRING: k = set_string_index(vm, obj, idx, deref(v)); break;
    case CRYO_T_INT: k = set_int_index(vm, obj, idx, deref(v)); break;
    default: k = index_type_error(vm, *obj, idx); break;
    }
    cv_release(&vm->heap, v);
    return k;
}

/* --- properties ----------------------------------------------------------------------------------
 */

cryo_error_kind cvm_op_getfield(cryo_vm *vm, cryo_value *obj, const cryo_string *name,
                                cryo_value *out) {
    cryo_value o = deref(*obj);
    if (o.type == CRYO_T_MAP) {
        const cryo_map_entry *e = cv_map_find_str(cv_map(o), name);
        *out = e ? e->value : cryo_unit_value();
        cv_retain(*out);
        return CRYO_OK;
    }
    if (o.type == CRYO_T_HANDLE) {
        bool done;
        cryo_error_kind k = cvm_host_get(vm, o, name->data, out, &done);
        if (done) return k;
    }
    const cryo_libreg *reg = vm->ctx ? cvm_context_find(vm->ctx, name->data, name->len, 1) : NULL;
    if (!reg) {
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "unknown property '%s' of %s", name->data,
                             cv_type_name(o));
    }
    cryo_value *target = obj->type == CRYO_T_CELL ? &cv_cell(*obj)->v : obj;
    *out = cryo_unit_value();
    cryo_error_kind k = reg->fn(vm, reg->userdata, 1, &target, out);
    if (k != CRYO_OK) cvm_trace_add_host(vm->err, reg->name, reg, vm->nframes - 1);
    return k;
}

cryo_error_kind cvm_op_setfield(cryo_vm *vm, cryo_value *obj, const cryo_string *name,
                                cryo_value v) {
    if (obj->type == CRYO_T_CELL) obj = &cv_cell(*obj)->v;
    if (obj->type == CRYO_T_MAP) return map_insert(vm, obj, (cryo_string *)name, v);
    if (obj->type == CRYO_T_HANDLE) {
        bool done;
        cryo_error_kind k = cvm_host_set(vm, *obj, name->data, v, &done);
        if (done) {
            cv_release(&vm->heap, v); /* the hook borrowed it */
            return k;
        }
    }
    cryo_error_kind k = cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "cannot set property '%s' of %s",
                                      name->data, cv_type_name(*obj));
    cv_release(&vm->heap, v);
    return k;
}

cryo_error_kind cvm_op_concat(cryo_vm *vm, cryo_string **s, cryo_value v) {
    v = deref(v);
    if (v.type == CRYO_T_STRING) {
        cryo_error_kind k = cvm_check_string(vm, (size_t)(*s)->len + cv_str(v)->len);
        if (k != CRYO_OK) return k;
    }
    return cvm_append_repr(vm, s, v, false); /* bounded by the limits */
}

cryo_error_kind cvm_append_repr(cryo_vm *vm, cryo_string **s, cryo_value v, bool debug) {
    size_t max = (size_t)vm->limits[CRYO_LIMIT_STRING_SIZE];
    cryo_error_kind err;
    bool ok = cv_append_repr_bounded(&vm->heap, vm, max, s, v, debug, &err);
    if (ok && err == CRYO_OK) return cvm_check_string(vm, (*s)->len);
    if (err == CRYO_ERR_DATA_TOO_LARGE) return cvm_check_string(vm, (*s)->len);
    return err != CRYO_OK ? err : cvm_raise_oom(vm);
}
