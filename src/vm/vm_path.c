/*
 * vm_path.c — SETPATH: a write through an index/property chain (`o.arr[i] = v`, `a[i][j] += 1`,
 * `this.x = v`), done in place.
 *
 * Why: the general route reads each level into a register and writes it back, so the register
 * is a second reference to the inner container and copy-on-write copies it on every write (an
 * O(n) copy per `o.arr[0] = v`; a copy of the receiver map per `this.x = v`). Here the VM walks
 * down with pointers instead: the root slot (a register, a cell's value, `this`'s slot in the
 * caller, a capture's value) and, below it, the element slots of arrays and maps made unique on
 * the way. A container is copied only when something else really shares it (rc > 1, or frozen /
 * unit-constant data, which is not counted), which is exactly what value semantics needs.
 *
 * Invariants:
 * - the right side and every index key are evaluated into registers before SETPATH runs, so the
 *   walk runs no script code and nothing can change the containers under its pointers; a step
 *   that is not a plain array/map element (missing key, string, int bits, a host getter) takes
 *   the general route on a temporary from there down, exactly as GETINDEX/SETINDEX do;
 * - making a container unique does not change its contents, so an error anywhere in the walk or
 *   in the final write (out of bounds, wrong type, limits) leaves every value as it was: no
 *   slot is ever emptied or holds a half-written value;
 * - the value is retained only by the final write, as SETINDEX/SETFIELD do: a value that is
 *   itself on the path (`o.a.b = o.a`, `m.m.m = m`) is held by one extra reference for the
 *   walk, so the walk copies that level and no cycle can form.
 */
#include "vm.h"

#include "lang/lang.h"

typedef struct path_ctx {
    cryo_vm *vm;
    const cryo_value *base;
    const cryo_value *k;
    cryo_value value; /* R[A], borrowed */
    int op;           /* 0: store; else the binary opcode of `op=` */
} path_ctx;

static cryo_value step_key(const path_ctx *pc, cryo_instr w) {
    unsigned key = CRYO_PATH_STEP_KEY(w);
    return CRYO_PATH_STEP_IS_INDEX(w) ? pc->base[key] : pc->k[key];
}

/* The slot of element `key` inside the array or map in *slot, made unique first; NULL when
 * *slot is not such a container or the key is absent / out of bounds (the general route then
 * raises the same error GETINDEX/GETFIELD would), or when copying failed (*err set). */
static cryo_value *element_slot(cryo_vm *vm, cryo_value *slot, cryo_value key,
                                cryo_error_kind *err) {
    *err = CRYO_OK;
    if (slot->type == CRYO_T_MAP && key.type == CRYO_T_STRING) {
        const cryo_string *ks = cv_str(key);
        cryo_map_entry *e = cv_map_find_str(cv_map(*slot), ks);
        if (!e) return NULL;
        if (!cv_is_unique(*slot)) {
            if (!cv_make_unique(&vm->heap, slot)) {
                *err = cvm_raise_oom(vm);
                return NULL;
            }
            e = cv_map_find_str(cv_map(*slot), ks); /* the copy's entry */
        }
        return &e->value;
    }
    if (slot->type == CRYO_T_ARRAY && key.type == CRYO_T_INT) {
        int64_t len = cv_arr(*slot)->len, i = key.as.i < 0 ? key.as.i + len : key.as.i;
        if (i < 0 || i >= len) return NULL;
        if (!cv_is_unique(*slot) && !cv_make_unique(&vm->heap, slot)) {
            *err = cvm_raise_oom(vm);
            return NULL;
        }
        return &cv_arr(*slot)->items[i];
    }
    return NULL;
}

static cryo_error_kind get_step(cryo_vm *vm, cryo_value *slot, cryo_instr w, cryo_value key,
                                cryo_value *out) {
    if (CRYO_PATH_STEP_IS_INDEX(w)) return cvm_op_getindex(vm, *slot, key, out);
    return cvm_op_getfield(vm, slot, cv_str(key), out);
}

/* Takes v's reference, also on failure. */
static cryo_error_kind set_step(cryo_vm *vm, cryo_value *slot, cryo_instr w, cryo_value key,
                                cryo_value v) {
    if (CRYO_PATH_STEP_IS_INDEX(w)) return cvm_op_setindex(vm, slot, key, v);
    return cvm_op_setfield(vm, slot, cv_str(key), v);
}

/* The last step: store the value at `key` of *slot, or combine it with what is there. */
static cryo_error_kind leaf(path_ctx *pc, cryo_value *slot, cryo_instr w, cryo_value key) {
    cryo_vm *vm = pc->vm;
    if (pc->op == 0) {
        cv_retain(pc->value);
        return set_step(vm, slot, w, key, pc->value);
    }
    cryo_error_kind k;
    cryo_value *cur = element_slot(vm, slot, key, &k);
    if (cur) return cvm_op_assign(vm, pc->op, cur, pc->value); /* in place, unchanged on error */
    if (k != CRYO_OK) return k;
    cryo_value t;
    if ((k = get_step(vm, slot, w, key, &t)) != CRYO_OK) return k;
    if ((k = cvm_op_assign(vm, pc->op, &t, pc->value)) != CRYO_OK) {
        cv_release(&vm->heap, t);
        return k;
    }
    return set_step(vm, slot, w, key, t);
}

static cryo_error_kind walk(path_ctx *pc, cryo_value *slot, const cryo_instr *w, unsigned n) {
    cryo_vm *vm = pc->vm;
    for (;;) {
        while (slot->type == CRYO_T_CELL)
            slot = &cv_cell(*slot)->v;
        cryo_value key = step_key(pc, w[0]);
        if (n == 1) return leaf(pc, slot, w[0], key);
        cryo_error_kind k;
        cryo_value *child = element_slot(vm, slot, key, &k);
        if (k != CRYO_OK) return k;
        if (!child) break;
        slot = child;
        w++;
        n--;
    }
    /* the general route from here down, on a temporary written back afterwards */
    cryo_value key = step_key(pc, w[0]), t;
    cryo_error_kind k;
    if ((k = get_step(vm, slot, w[0], key, &t)) != CRYO_OK) return k;
    if ((k = walk(pc, &t, w + 1, n - 1)) != CRYO_OK) {
        cv_release(&vm->heap, t);
        return k;
    }
    return set_step(vm, slot, w[0], key, t);
}

/* The slot SETPATH's root word names; NULL with an error raised for a bad cell root. *none is
 * the stand-in for an unbound `this`. */
static inline __attribute__((always_inline)) cryo_value *
path_root(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr rw, cryo_value *none) {
    unsigned ri = CRYO_PATH_ROOT_INDEX(rw);
    switch (CRYO_PATH_ROOT_KIND(rw)) {
    case CRYO_PATH_REG: return &base[ri];
    case CRYO_PATH_CELL: /* a loaded image's bytecode is verified for bounds, not types */
        if (base[ri].type != CRYO_T_CELL) {
            cryo_vm_raise(vm, CRYO_ERR_TYPE, "invalid bytecode: SETPATH on a non-cell");
            return NULL;
        }
        return &cv_cell(base[ri])->v;
    case CRYO_PATH_THIS: return f->this_ref ? f->this_ref : none;
    default: return &f->closure->caps[ri]->v;
    }
}

/* Stores `value` (borrowed) at the path, or combines it with what is there (op != 0). */
static inline __attribute__((always_inline)) cryo_error_kind
store_path(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr i, const cryo_instr *words,
           cryo_value value, int op) {
    cryo_value none = cryo_unit_value(), *root = path_root(vm, f, base, words[0], &none);
    if (!root) return CRYO_ERR_TYPE;
    path_ctx pc = {vm, base, f->proto->k, value, op};
    /* The value may be the root's own register (`m.m.m = m`): held by one more reference
     * during the walk, every container it shares with the path counts as shared and is
     * copied, so the write cannot make a container hold itself (a cycle nothing frees). */
    cv_retain(pc.value);
    cryo_error_kind k = walk(&pc, root, words + 1, CRYO_B(i));
    cv_release(&vm->heap, pc.value);
    if (root == &none) { /* as THIS / SETTHIS without a receiver */
        cv_release(&vm->heap, none);
        if (k == CRYO_OK) k = cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "'this' is not bound");
        return k;
    }
    /* nested sizes count against the limits over the whole root, as the write-backs did */
    if (k == CRYO_OK && vm->data_limits && (pc.op != 0 || pc.value.type >= CRYO_T_STRING))
        k = cvm_check_data(vm, *root);
    return k;
}

/*
 * A method call on a path (`this.cons.push(c)`, `o.arr[i].m()`): PIN before the call, UNPIN
 * after it (opcodes.h, "Paths in detail").
 *
 * Why: reading the receiver into a register makes that register a second reference, so the
 * method's first write copies the receiver (and the write-back copies each container above it:
 * O(n) per `this.cons.push(c)` on an arena). PIN walks down in place as a store does and keeps
 * the container that holds the receiver alive with one reference in R[A] (its key in R[A+1]);
 * the call's `this` / first argument is then that container's element slot (cvm_path_recv).
 * While pinned the container counts as shared, so nothing writes into it in place and the slot
 * cannot move; the receiver itself is not pinned and is written in place when unique. Should
 * the call replace or copy a container on the path (a closure writing the root variable),
 * UNPIN finds another container there and stores the receiver back through the path. When the
 * walk cannot reach an element slot (a missing key, a string, a getter), PIN reads the receiver
 * as GETINDEX/GETFIELD would into a cell in R[A] and UNPIN stores the cell's value back through
 * the path: the general route's copy and write-back. If the call raises, UNPIN does not run: the
 * pin is an ordinary register value, released when the register is.
 */
static __attribute__((noinline)) cryo_error_kind
pin_path(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr i, const cryo_instr *words) {
    cryo_value none = cryo_unit_value(), *slot = path_root(vm, f, base, words[0], &none);
    if (!slot) return CRYO_ERR_TYPE;
    if (slot == &none) return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "'this' is not bound");
    path_ctx pc = {vm, base, f->proto->k, cryo_unit_value(), 0};
    cryo_value *out = &base[CRYO_A(i)];
    const cryo_instr *w = words + 1;
    unsigned n = CRYO_B(i);
    cryo_error_kind k;
    for (;;) {
        while (slot->type == CRYO_T_CELL)
            slot = &cv_cell(*slot)->v;
        cryo_value key = step_key(&pc, w[0]);
        cryo_value *child = element_slot(vm, slot, key, &k);
        if (k != CRYO_OK) return k;
        if (!child) break;
        if (n == 1) {
            cv_retain(*slot);
            cv_set(&vm->heap, &out[0], *slot);
            cv_retain(key);
            cv_set(&vm->heap, &out[1], key);
            return CRYO_OK;
        }
        slot = child;
        w++;
        n--;
    }
    /* the general route: a copy of the receiver, in a cell, stored back by UNPIN */
    cryo_value t = *slot;
    cv_retain(t);
    for (; n > 0; w++, n--) {
        cryo_value u;
        k = get_step(vm, &t, w[0], step_key(&pc, w[0]), &u);
        cv_release(&vm->heap, t);
        if (k != CRYO_OK) return k;
        t = u;
    }
    cryo_cell *cell = cv_cell_new(&vm->heap, t);
    if (!cell) return cvm_raise_oom(vm);
    cv_set(&vm->heap, &out[0], cv_from_obj(&cell->h));
    cv_set(&vm->heap, &out[1], cryo_unit_value());
    return CRYO_OK;
}

cryo_value *cvm_path_recv(cryo_vm *vm, cryo_value *pin) {
    if (pin->type == CRYO_T_CELL) return &cv_cell(*pin)->v;
    if (pin->type == CRYO_T_MAP && pin[1].type == CRYO_T_STRING) {
        cryo_map_entry *e = cv_map_find_str(cv_map(*pin), cv_str(pin[1]));
        if (e) return &e->value;
    } else if (pin->type == CRYO_T_ARRAY && pin[1].type == CRYO_T_INT) {
        int64_t len = cv_arr(*pin)->len, i = pin[1].as.i < 0 ? pin[1].as.i + len : pin[1].as.i;
        if (i >= 0 && i < len) return &cv_arr(*pin)->items[i];
    }
    cryo_vm_raise(vm, CRYO_ERR_TYPE, "invalid bytecode: a path receiver that PIN did not set");
    return NULL;
}

/* Whether the path still leads to the pinned container (read only: nothing is made unique). */
static bool still_at_path(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr i,
                          const cryo_instr *words, cryo_value pinned) {
    cryo_value none = cryo_unit_value(), *slot = path_root(vm, f, base, words[0], &none);
    if (!slot || slot == &none) return false;
    path_ctx pc = {vm, base, f->proto->k, cryo_unit_value(), 0};
    for (unsigned s = 1; s < CRYO_B(i); s++) {
        while (slot->type == CRYO_T_CELL)
            slot = &cv_cell(*slot)->v;
        cryo_value key = step_key(&pc, words[s]);
        if (slot->type == CRYO_T_MAP && key.type == CRYO_T_STRING) {
            cryo_map_entry *e = cv_map_find_str(cv_map(*slot), cv_str(key));
            if (!e) return false;
            slot = &e->value;
        } else if (slot->type == CRYO_T_ARRAY && key.type == CRYO_T_INT) {
            int64_t len = cv_arr(*slot)->len, x = key.as.i < 0 ? key.as.i + len : key.as.i;
            if (x < 0 || x >= len) return false;
            slot = &cv_arr(*slot)->items[x];
        } else {
            return false;
        }
    }
    while (slot->type == CRYO_T_CELL)
        slot = &cv_cell(*slot)->v;
    return slot->type == pinned.type && slot->as.obj == pinned.as.obj;
}

static __attribute__((noinline)) cryo_error_kind
unpin_path(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr i, const cryo_instr *words) {
    cryo_value *pin = &base[CRYO_A(i)];
    cryo_error_kind k = CRYO_OK;
    if (pin->type == CRYO_T_CELL) {
        cryo_value v = cv_cell(*pin)->v;
        cv_retain(v);
        cv_set(&vm->heap, pin, cryo_unit_value()); /* the cell is no second reference */
        k = store_path(vm, f, base, i, words, v, 0);
        cv_release(&vm->heap, v);
        return k;
    }
    if (!still_at_path(vm, f, base, i, words, *pin)) {
        /* the call replaced or copied a container on the path: store the receiver back, as the
         * general route's write-back would */
        cryo_value *recv = cvm_path_recv(vm, pin);
        if (!recv) return CRYO_ERR_TYPE;
        cryo_value v = *recv;
        cv_retain(v);
        cv_set(&vm->heap, pin, cryo_unit_value());
        cv_set(&vm->heap, pin + 1, cryo_unit_value());
        k = store_path(vm, f, base, i, words, v, 0);
        cv_release(&vm->heap, v);
        return k;
    }
    cv_set(&vm->heap, pin, cryo_unit_value());
    cv_set(&vm->heap, pin + 1, cryo_unit_value());
    if (vm->data_limits) { /* the method may have grown the receiver, as a write-back counted */
        cryo_value none = cryo_unit_value(), *root = path_root(vm, f, base, words[0], &none);
        if (!root) return CRYO_ERR_TYPE;
        if (root != &none) k = cvm_check_data(vm, *root);
    }
    return k;
}

cryo_error_kind cvm_op_setpath(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr i,
                               const cryo_instr *words) {
    /* stores first: PIN/UNPIN's extra cases cost the common `this.x = v` nothing */
    if (__builtin_expect(CRYO_C(i) < CRYO_PATH_UNPIN, 1))
        return store_path(vm, f, base, i, words, base[CRYO_A(i)], (int)CRYO_C(i));
    if (CRYO_C(i) == CRYO_PATH_PIN) return pin_path(vm, f, base, i, words);
    return unpin_path(vm, f, base, i, words);
}
