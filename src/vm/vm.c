/*
 * vm.c — the dispatch loop. Fast paths (int and float arithmetic and comparisons, moves,
 * jumps, script calls and returns) are inline; everything else goes through ops.c,
 * vm_call.c and limits.c. The loop keeps pc, base and the constants in locals and reloads the frame
 * pointer after anything that may re-enter the VM (vm->frames can move when it grows).
 */
#include "vm.h"
#include "hosttype.h"

#include <limits.h>
#include <stdlib.h>

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#if defined(__GNUC__) && !defined(CRYO_NO_COMPUTED_GOTO)
#define CRYO_COMPUTED_GOTO 1
#endif

/* Stores a scalar into a register, releasing what it held. */
#define SET_SCALAR(slot, val)                                                                      \
    do {                                                                                           \
        cryo_value *d_ = (slot);                                                                   \
        if (UNLIKELY(d_->flags & CRYO_VF_COUNTED)) {                                               \
            cryo_value o_ = *d_;                                                                   \
            *d_ = (val);                                                                           \
            cv_release(heap, o_);                                                                  \
        } else {                                                                                   \
            *d_ = (val);                                                                           \
        }                                                                                          \
    } while (0)

/* Stores () into a register, releasing what it held: one whole-value store (cv_clear). */
#define CLEAR_REG(slot)                                                                            \
    do {                                                                                           \
        cryo_value *c_ = (slot);                                                                   \
        if (UNLIKELY(c_->flags & CRYO_VF_COUNTED)) {                                               \
            cryo_value o_ = *c_;                                                                   \
            cv_clear(c_);                                                                          \
            cv_release(heap, o_);                                                                  \
        } else {                                                                                   \
            cv_clear(c_);                                                                          \
        }                                                                                          \
    } while (0)

/* A comparison followed by a conditional jump on its result takes the jump right away: one
 * dispatch fewer for every `if` and loop condition. */
#define BRANCH_ON(cond)                                                                            \
    do {                                                                                           \
        cryo_instr j_ = *pc;                                                                       \
        if ((j_ & 0xFFFF) == ((CRYO_A(i) << 8) | OP_JMPF)) {                                       \
            pc += 1 + ((cond) ? 0 : CRYO_SBX(j_));                                                 \
        } else if ((j_ & 0xFFFF) == ((CRYO_A(i) << 8) | OP_JMPT)) {                                \
            pc += 1 + ((cond) ? CRYO_SBX(j_) : 0);                                                 \
        }                                                                                          \
    } while (0)

static cryo_error_kind type_error_bool(cryo_vm *vm, cryo_value v) {
    return cryo_vm_raise(vm, CRYO_ERR_TYPE, "expected a bool, found %s", cv_type_name(v));
}

/* Decodes one UTF-8 character (the string is valid UTF-8) at byte `off`. */
static uint32_t utf8_next(const unsigned char *s, int64_t *off) {
    const unsigned char *p = s + *off;
    uint32_t c = p[0];
    int n = 1;
    if (c >= 0xF0) {
        c = ((c & 0x07) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
        n = 4;
    } else if (c >= 0xE0) {
        c = ((c & 0x0F) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        n = 3;
    } else if (c >= 0xC0) {
        c = ((c & 0x1F) << 6) | (p[1] & 0x3Fu);
        n = 2;
    }
    *off += n;
    return c;
}

/* Hostile bytecode from an image (verified for bounds only) misusing a register's type. */
static cryo_error_kind bad_bytecode(cryo_vm *vm, const char *op) {
    return cryo_vm_raise(vm, CRYO_ERR_TYPE, "invalid bytecode: %s on a register of the wrong type",
                         op);
}

/* ITERPREP: checks the iterable and sets up the state in R[A+1]. */
static cryo_error_kind iter_prep(cryo_vm *vm, cryo_value *ra) {
    cryo_value st = cryo_int(0);
    switch (ra->type) {
    case CRYO_T_ARRAY:
    case CRYO_T_STRING: break;
    case CRYO_T_RANGE: st.as.i = cv_range(*ra)->start; break;
    case CRYO_T_HANDLE: { /* a host type with len and index_get: its items (hosttype.c) */
        bool done;
        cryo_error_kind k = cvm_host_iterable(vm, ra, &done);
        if (k != CRYO_OK) return k;
        if (done) break;
    } /* fall through */
    default: return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot iterate over %s", cv_type_name(*ra));
    }
    cv_set(&vm->heap, ra + 1, st);
    return CRYO_OK;
}

/* ITERNEXT: the next item into R[A+2] and its index into R[A+3]; false when done. The state
 * R[A+1] holds the next array index, the next byte offset of a string (aux2: character
 * index), or the next range value (aux: 1 once an inclusive range yielded its end). */
static bool iter_next(cryo_heap *heap, cryo_value *ra) {
    cryo_value *st = ra + 1;
    switch (ra->type) {
    case CRYO_T_ARRAY: {
        cryo_array *a = cv_arr(*ra);
        int64_t ix = st->as.i;
        if (ix < 0 || ix >= (int64_t)a->len) return false;
        cryo_value item = a->items[ix];
        cv_retain(item);
        cv_set(heap, ra + 2, item);
        SET_SCALAR(ra + 3, cryo_int(ix));
        st->as.i = ix + 1;
        return true;
    }
    case CRYO_T_STRING: {
        cryo_string *s = cv_str(*ra);
        int64_t off = st->as.i;
        if (off < 0 || off >= (int64_t)s->len) return false;
        uint32_t c = utf8_next((const unsigned char *)s->data, &off);
        SET_SCALAR(ra + 2, cryo_char(c));
        SET_SCALAR(ra + 3, cryo_int((int64_t)st->aux2));
        st->as.i = off;
        st->aux2++;
        return true;
    }
    case CRYO_T_RANGE: {
        cryo_range *r = cv_range(*ra);
        int64_t cur = st->as.i;
        if (r->h.extra) {
            if (st->aux || cur > r->end) return false;
            if (cur == r->end)
                st->aux = 1;
            else
                st->as.i = cur + 1;
        } else {
            if (cur >= r->end) return false;
            st->as.i = cur + 1;
        }
        SET_SCALAR(ra + 2, cryo_int(cur));
        SET_SCALAR(ra + 3, cryo_int((int64_t)((uint64_t)cur - (uint64_t)r->start)));
        return true;
    }
    default: return false;
    }
}

static cryo_error_kind op_closure(cryo_vm *vm, cryo_frame *f, cryo_value *base, cryo_instr i) {
    cryo_unit *u = f->proto->unit;
    unsigned pi = CRYO_BX(i);
    const cryo_proto *p = u->protos[pi];
    cryo_fn *fn = cv_fn_new(&vm->heap, CRYO_FN_SCRIPT, p->ncaps);
    if (!fn) return cvm_raise_oom(vm);
    fn->unit = cryo_unit_retain(u);
    fn->proto = pi;
    fn->ncaps = p->ncaps;
    cryo_value fv = cv_from_obj(&fn->h);
    for (unsigned c = 0; c < p->ncaps; c++) {
        const cryo_capdesc *cd = &p->caps[c];
        cryo_cell *cell = NULL;
        if (cd->from_parent_local) {
            if (base[cd->index].type == CRYO_T_CELL) cell = cv_cell(base[cd->index]);
        } else if (f->closure && cd->index < f->closure->ncaps) {
            cell = f->closure->caps[cd->index];
        }
        if (!cell) {
            cv_release(&vm->heap, fv);
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "bad capture '%s'", cd->name ? cd->name : "?");
        }
        if (!(cell->h.flags & CRYO_OBJ_SHARED)) cell->h.rc++; /* frozen cells: never counted */
        fn->caps[c] = cell;
    }
    /* the proto's shared name: creating a closure allocates nothing but the closure */
    fn->name = p->sname ? p->sname : cv_string_new(&vm->heap, p->name, strlen(p->name));
    if (!fn->name) {
        cv_release(&vm->heap, fv);
        return cvm_raise_oom(vm);
    }
    cv_set(&vm->heap, &base[CRYO_A(i)], fv);
    return CRYO_OK;
}

static cryo_error_kind op_concat(cryo_vm *vm, cryo_value *base, cryo_instr i) {
    cryo_string *s = cv_string_new_cap(&vm->heap, 32);
    if (!s) return cvm_raise_oom(vm);
    unsigned b = CRYO_B(i), n = CRYO_C(i);
    for (unsigned j = 0; j < n; j++) {
        cryo_error_kind k = cvm_op_concat(vm, &s, base[b + j]);
        if (k != CRYO_OK) {
            cv_release(&vm->heap, cv_from_obj(&s->h));
            return k;
        }
    }
    cv_set(&vm->heap, &base[CRYO_A(i)], cv_from_obj(&s->h));
    return CRYO_OK;
}

static cryo_error_kind op_range(cryo_vm *vm, cryo_value *base, cryo_instr i, bool inclusive) {
    cryo_value b = base[CRYO_B(i)], c = base[CRYO_C(i)];
    if (b.type != CRYO_T_INT || c.type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "range bounds must be i64, not %s and %s",
                             cv_type_name(b), cv_type_name(c));
    cryo_range *r = cv_range_new(&vm->heap, b.as.i, c.as.i, inclusive);
    if (!r) return cvm_raise_oom(vm);
    cv_set(&vm->heap, &base[CRYO_A(i)], cv_from_obj(&r->h));
    return CRYO_OK;
}

static cryo_error_kind op_container(cryo_vm *vm, cryo_value *base, cryo_instr i) {
    cryo_obj *o;
    if (CRYO_OP(i) == OP_NEWARRAY)
        o = (cryo_obj *)cv_array_new(&vm->heap, CRYO_B(i));
    else
        o = (cryo_obj *)cv_map_new(&vm->heap, CRYO_B(i));
    if (!o) return cvm_raise_oom(vm);
    cv_set(&vm->heap, &base[CRYO_A(i)], cv_from_obj(o));
    return CRYO_OK;
}

static cryo_error_kind op_append(cryo_vm *vm, cryo_value *base, cryo_instr i) {
    cryo_value *ra = &base[CRYO_A(i)];
    if (ra->type != CRYO_T_ARRAY)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "cannot append to %s", cv_type_name(*ra));
    if (!cv_is_unique(*ra) && !cv_make_unique(&vm->heap, ra)) return cvm_raise_oom(vm);
    cryo_array *a = cv_arr(*ra);
    cryo_error_kind k = cvm_check_array(vm, (size_t)a->len + 1);
    if (k != CRYO_OK) return k;
    cryo_value v = base[CRYO_B(i)];
    cv_retain(v);
    /* Pushing an array into itself pushes a copy: a reference would make a cycle. */
    if (v.type == CRYO_T_ARRAY && cv_arr(v) == a && !cv_make_unique(&vm->heap, &v)) {
        cv_release(&vm->heap, v);
        return cvm_raise_oom(vm);
    }
    if (!cv_array_push(&vm->heap, a, v)) return cvm_raise_oom(vm);
    /* Nested sizes count too; scalars were covered by the length check above. */
    return v.type >= CRYO_T_STRING ? cvm_check_data(vm, *ra) : CRYO_OK;
}

static cryo_error_kind op_try(cryo_vm *vm, const cryo_instr *pc, cryo_instr i) {
    if (vm->nhandlers == vm->caphandlers) {
        int cap = vm->caphandlers ? vm->caphandlers * 2 : 8;
        cryo_handler *h = realloc(vm->handlers, (size_t)cap * sizeof *h);
        if (!h) return cvm_raise_oom(vm);
        vm->handlers = h;
        vm->caphandlers = cap;
    }
    cryo_handler *h = &vm->handlers[vm->nhandlers++];
    h->frame = vm->nframes - 1;
    h->reg = (int)CRYO_A(i);
    h->target = pc + CRYO_SBX(i);
    h->run_level = vm->run_level;
    return CRYO_OK;
}

static cryo_error_kind op_throw(cryo_vm *vm, cryo_value *base, cryo_instr i) {
    cryo_error_kind kind = CRYO_ERR_RUNTIME;
    cryo_value v;
    if (CRYO_B(i) == 1) {
        if (vm->caught_kind != CRYO_OK) kind = vm->caught_kind;
        v = vm->thrown;
    } else {
        v = base[CRYO_A(i)];
    }
    /* The message is the value's text: printed within the limits (a value reachable by 2^40
     * paths must not print forever), the walk's own limit error replacing the throw. */
    cryo_string *s = cv_string_new_cap(&vm->heap, 32);
    if (!s) return cvm_raise_oom(vm);
    cryo_error_kind pk = cvm_append_repr(vm, &s, v, false);
    if (pk == CRYO_OK) cryo_vm_raise(vm, kind, "%s", s->data);
    cv_free_obj(&vm->heap, &s->h);
    if (pk != CRYO_OK) return pk;
    if (kind == CRYO_ERR_RUNTIME) {
        cv_retain(v);
        cv_set(&vm->heap, &vm->thrown, v);
        vm->thrown_pending = true;
    }
    return kind;
}

/* Unwinds to the innermost handler of this run level when the error is catchable; returns
 * false when the error must leave this run. */
static bool catch_error(cryo_vm *vm, cryo_error_kind kind) {
    if (kind > CRYO_ERR_RUNTIME || vm->nhandlers == 0) return false;
    cryo_handler h = vm->handlers[vm->nhandlers - 1];
    if (h.run_level != vm->run_level) return false;
    cvm_unwind(vm, h.frame + 1);
    vm->nhandlers--; /* unwind kept handlers of the handler's own frame */
    cryo_value caught;
    if (vm->thrown_pending) {
        caught = vm->thrown;
        cv_retain(caught);
    } else {
        const char *msg = vm->err && vm->err->message ? vm->err->message : "";
        cryo_string *s = cv_string_new(&vm->heap, msg, strlen(msg));
        caught = s ? cv_from_obj(&s->h) : cryo_unit_value();
        cv_retain(caught);
        cv_set(&vm->heap, &vm->thrown, caught);
    }
    vm->caught_kind = kind;
    vm->thrown_pending = false;
    cryo_error_free(vm->err);
    vm->err = NULL;
    cryo_frame *f = &vm->frames[h.frame];
    cv_set(&vm->heap, &f->base[h.reg], caught);
    f->pc = h.target;
    return true;
}

/* Reading or writing `this` in a function not called as a method is Rhai's ErrorUnboundThis,
 * not a silent (): `call(Fn("f"), 2)` must not run f on a made-up receiver. */
static cryo_error_kind unbound_this(cryo_vm *vm) {
    return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "'this' is not bound");
}

/* Slow path of SETTHIS. */
static cryo_error_kind op_setthis(cryo_vm *vm, cryo_frame *f, cryo_value v) {
    if (!f->this_ref) return unbound_this(vm);
    cv_retain(v);
    cv_set(&vm->heap, f->this_ref, v);
    return CRYO_OK;
}

/* debug_exec.c compiles this loop a second time as cvm_exec_hooked, with the line hook
 * (debug.c) before every instruction; the plain loop hands a run over to it at entry when a
 * hook is set, and so has no test per instruction. */
#ifndef CRYO_VM_EXEC_NAME
#define CRYO_VM_EXEC_NAME cvm_exec
#endif

cryo_error_kind CRYO_VM_EXEC_NAME(cryo_vm *vm, int stop) {
#ifndef CRYO_VM_HOOKED
    if (UNLIKELY(vm->line_hook != NULL)) return cvm_exec_hooked(vm, stop);
#endif
#ifdef CRYO_COMPUTED_GOTO
    static const void *const labels[CRYO_NUM_OPCODES] = {
#define CRYO_OP_LABEL(name, fmt, doc) &&L_##name,
        CRYO_OPCODES(CRYO_OP_LABEL)
#undef CRYO_OP_LABEL
    };
#ifdef CRYO_VM_HOOKED
#define NEXT()                                                                                     \
    do {                                                                                           \
        i = *pc++;                                                                                 \
        goto line_hook;                                                                            \
    } while (0)
#else
#define NEXT()                                                                                     \
    do {                                                                                           \
        i = *pc++;                                                                                 \
        goto *labels[CRYO_OP(i)];                                                                  \
    } while (0)
#endif
#define OPCASE(name) L_##name:
#else
#define NEXT()       goto dispatch
#define OPCASE(name) case OP_##name:
#endif

    cryo_heap *heap = &vm->heap;
    cryo_frame *f;
    const cryo_instr *pc;
    cryo_value *base;
    const cryo_value *k;
    cryo_value *seg_end;
    cryo_instr i;
    cryo_error_kind err;
    cryo_value result;

/* Size limits over the whole value tree, only when one is set. */
#define CHECK_DATA(v)                                                                              \
    do {                                                                                           \
        if (UNLIKELY(vm->data_limits)) PROTECT(cvm_check_data(vm, (v)));                           \
    } while (0)
#define LOAD_FRAME()                                                                               \
    do {                                                                                           \
        f = &vm->frames[vm->nframes - 1];                                                          \
        pc = f->pc;                                                                                \
        base = f->base;                                                                            \
        k = f->proto->k;                                                                           \
        seg_end = vm->seg->slots + vm->seg->size;                                                  \
    } while (0)
/* The line hook before instruction i (pc is past it): f->pc is saved for error positions and
 * cryo_debug_local. Only in the hooked copy of the loop. */
#define LINE_HOOK()                                                                                \
    do {                                                                                           \
        if (vm->line_hook) {                                                                       \
            f->pc = pc;                                                                            \
            err = cvm_debug_step(vm, f, pc - 1);                                                   \
            if (UNLIKELY(err != CRYO_OK)) goto on_error;                                           \
        }                                                                                          \
    } while (0)
#define RA (base + CRYO_A(i))
#define RB (base + CRYO_B(i))
#define RC (base + CRYO_C(i))
/* Runs an out-of-line operation that may raise or re-enter the VM. */
#define PROTECT(expr)                                                                              \
    do {                                                                                           \
        f->pc = pc;                                                                                \
        err = (expr);                                                                              \
        f = &vm->frames[vm->nframes - 1];                                                          \
        if (UNLIKELY(err != CRYO_OK)) goto on_error;                                               \
    } while (0)
/* Rhai counts an operation per AST node evaluated; we approximate that cheaply by counting
 * twice the length of a loop body at its back edge, one per call and per element of a
 * container literal (APPEND, SETFIELD), two per container created. */
#define COUNT_OPS(n)                                                                               \
    do {                                                                                           \
        if (UNLIKELY((vm->ops += (uint64_t)(n)) > vm->ops_max) ||                                  \
            UNLIKELY(atomic_load_explicit(&vm->interrupt, memory_order_relaxed)))                  \
            PROTECT(cvm_check_ops(vm));                                                            \
    } while (0)

    LOAD_FRAME();
#ifdef CRYO_COMPUTED_GOTO
    NEXT();
#else
dispatch:
    i = *pc++;
#ifdef CRYO_VM_HOOKED
    LINE_HOOK();
#endif
    switch ((cryo_opcode)CRYO_OP(i)) {
#endif

    OPCASE(MOVE) {
        cryo_value v = *RB;
        cv_retain(v);
        cv_set(heap, RA, v);
        NEXT();
    }
    OPCASE(LOADK) {
        cryo_value v = k[CRYO_BX(i)];
        cv_retain(v);
        cv_set(heap, RA, v);
        CHECK_DATA(v);
        NEXT();
    }
    OPCASE(LOADI) {
        SET_SCALAR(RA, cryo_int(CRYO_SBX(i)));
        NEXT();
    }
    OPCASE(LOADBOOL) {
        SET_SCALAR(RA, cryo_bool(CRYO_B(i) != 0));
        NEXT();
    }
    OPCASE(LOADUNIT) {
        for (cryo_value *r = RA, *e = RA + CRYO_B(i); r <= e; r++)
            CLEAR_REG(r);
        NEXT();
    }
    OPCASE(NEWCELL) {
        cryo_value *ra = RA;
        /* a cell never holds a cell: a cycle of cells would make every deref spin forever */
        if (UNLIKELY(ra->type == CRYO_T_CELL)) PROTECT(bad_bytecode(vm, "NEWCELL"));
        cryo_cell *c = cv_cell_new(heap, *ra); /* takes R[A]'s reference, even on failure */
        if (UNLIKELY(!c)) {
            *ra = cryo_unit_value();
            PROTECT(cvm_raise_oom(vm));
        }
        *ra = cv_from_obj(&c->h);
        NEXT();
    }
    OPCASE(GETCELL) {
        /* a loaded image's bytecode is verified for bounds, not for types (image.c) */
        if (UNLIKELY(RB->type != CRYO_T_CELL)) PROTECT(bad_bytecode(vm, "GETCELL"));
        cryo_value v = cv_cell(*RB)->v;
        cv_retain(v);
        cv_set(heap, RA, v);
        NEXT();
    }
    OPCASE(SETCELL) {
        if (UNLIKELY(RA->type != CRYO_T_CELL || RB->type == CRYO_T_CELL))
            PROTECT(bad_bytecode(vm, "SETCELL"));
        cryo_value v = *RB;
        cv_retain(v);
        cv_set(heap, &cv_cell(*RA)->v, v);
        NEXT();
    }
    OPCASE(GETUPV) {
        cryo_value v = f->closure->caps[CRYO_B(i)]->v;
        cv_retain(v);
        cv_set(heap, RA, v);
        NEXT();
    }
    OPCASE(SETUPV) {
        if (UNLIKELY(RA->type == CRYO_T_CELL)) PROTECT(bad_bytecode(vm, "SETUPV"));
        cryo_value v = *RA;
        cv_retain(v);
        cv_set(heap, &f->closure->caps[CRYO_B(i)]->v, v);
        NEXT();
    }
    OPCASE(CLOSURE) {
        PROTECT(op_closure(vm, f, base, i));
        NEXT();
    }
    OPCASE(THIS) {
        if (UNLIKELY(!f->this_ref)) PROTECT(unbound_this(vm));
        cryo_value v = *f->this_ref;
        cv_retain(v);
        cv_set(heap, RA, v);
        NEXT();
    }
    OPCASE(SETTHIS) {
        PROTECT(op_setthis(vm, f, *RA));
        NEXT();
    }

#define ARITH(name, builtin, fop)                                                                  \
    OPCASE(name) {                                                                                 \
        cryo_value *rb = RB, *rc = RC;                                                             \
        if (LIKELY(rb->type == CRYO_T_INT && rc->type == CRYO_T_INT)) {                            \
            int64_t r_;                                                                            \
            if (UNLIKELY(builtin(rb->as.i, rc->as.i, &r_))) goto slow_binary;                      \
            SET_SCALAR(RA, cryo_int(r_));                                                          \
            NEXT();                                                                                \
        }                                                                                          \
        if (rb->type == CRYO_T_FLOAT && rc->type == CRYO_T_FLOAT) {                                \
            SET_SCALAR(RA, cryo_float(rb->as.f fop rc->as.f));                                     \
            NEXT();                                                                                \
        }                                                                                          \
        goto slow_binary;                                                                          \
    }
    ARITH(ADD, __builtin_add_overflow, +)
    ARITH(SUB, __builtin_sub_overflow, -)
    ARITH(MUL, __builtin_mul_overflow, *)
#undef ARITH

    OPCASE(DIV) {
        cryo_value *rb = RB, *rc = RC;
        if (LIKELY(rb->type == CRYO_T_INT && rc->type == CRYO_T_INT) && rc->as.i != 0 &&
            !(rc->as.i == -1 && rb->as.i == INT64_MIN)) {
            SET_SCALAR(RA, cryo_int(rb->as.i / rc->as.i));
            NEXT();
        }
        goto slow_binary;
    }
    OPCASE(MOD) {
        cryo_value *rb = RB, *rc = RC;
        if (LIKELY(rb->type == CRYO_T_INT && rc->type == CRYO_T_INT) && rc->as.i != 0 &&
            !(rc->as.i == -1 && rb->as.i == INT64_MIN)) {
            SET_SCALAR(RA, cryo_int(rb->as.i % rc->as.i));
            NEXT();
        }
        goto slow_binary;
    }
#define BITOP(name, cop)                                                                           \
    OPCASE(name) {                                                                                 \
        cryo_value *rb = RB, *rc = RC;                                                             \
        if (LIKELY(rb->type == CRYO_T_INT && rc->type == CRYO_T_INT)) {                            \
            SET_SCALAR(RA, cryo_int(rb->as.i cop rc->as.i));                                       \
            NEXT();                                                                                \
        }                                                                                          \
        goto slow_binary;                                                                          \
    }
    BITOP(BAND, &)
    BITOP(BOR, |)
    BITOP(BXOR, ^)
#undef BITOP
    OPCASE(POW)
    OPCASE(SHL)
    OPCASE(SHR)
    OPCASE(IN) {
        goto slow_binary;
    }
    OPCASE(ADDI) {
        cryo_value *rb = RB;
        int64_t imm = (int64_t)CRYO_C(i) - 128, r;
        if (LIKELY(rb->type == CRYO_T_INT) && !__builtin_add_overflow(rb->as.i, imm, &r)) {
            SET_SCALAR(RA, cryo_int(r));
            NEXT();
        }
        cryo_value out;
        PROTECT(cvm_op_binary(vm, OP_ADD, *RB, cryo_int(imm), &out));
        cv_set(heap, RA, out);
        NEXT();
    }
    OPCASE(SUBI) {
        cryo_value *rb = RB;
        int64_t imm = (int64_t)CRYO_C(i) - 128, r;
        if (LIKELY(rb->type == CRYO_T_INT) && !__builtin_sub_overflow(rb->as.i, imm, &r)) {
            SET_SCALAR(RA, cryo_int(r));
            NEXT();
        }
        cryo_value out;
        PROTECT(cvm_op_binary(vm, OP_SUB, *RB, cryo_int(imm), &out));
        cv_set(heap, RA, out);
        NEXT();
    }
    /* Ints and floats in any mix (int/int is tested first): compared as doubles with Rhai's
     * epsilon rules, inline (cv_float_cmp_inline; 2 = unordered, a NaN), as cvm_op_binary's
     * relational() and cv_equals do out of line. */
#define NUM_PAIR(a, b)                                                                             \
    ((unsigned)((a)->type - CRYO_T_INT) <= 1u && (unsigned)((b)->type - CRYO_T_INT) <= 1u)
#define AS_F64(v) ((v)->type == CRYO_T_INT ? (double)(v)->as.i : (v)->as.f)
/* `x == ()` / `x != ()`: a type test, unless the other side is a handle (its type's operator
 * decides), a cell (compared by its contents) or a pointer (NULL equals ()). */
#define UNIT_OTHER_PLAIN(o)                                                                        \
    ((o)->type != CRYO_T_HANDLE && (o)->type != CRYO_T_CELL && (o)->type != CRYO_T_POINTER)
#define UNIT_PAIR(a, b)                                                                            \
    (((a)->type == CRYO_T_UNIT && UNIT_OTHER_PLAIN(b)) ||                                          \
     ((b)->type == CRYO_T_UNIT && UNIT_OTHER_PLAIN(a)))
    OPCASE(EQ) {
        cryo_value *rb = RB, *rc = RC;
        if (LIKELY(rb->type == CRYO_T_INT && rc->type == CRYO_T_INT)) {
            bool c_ = rb->as.i == rc->as.i;
            SET_SCALAR(RA, cryo_bool(c_));
            BRANCH_ON(c_);
            NEXT();
        }
        if (NUM_PAIR(rb, rc)) {
            bool c_ = cv_float_cmp_inline(AS_F64(rb), AS_F64(rc)) == 0;
            SET_SCALAR(RA, cryo_bool(c_));
            BRANCH_ON(c_);
            NEXT();
        }
        if (UNIT_PAIR(rb, rc)) {
            bool c_ = rb->type == rc->type;
            SET_SCALAR(RA, cryo_bool(c_));
            BRANCH_ON(c_);
            NEXT();
        }
        goto slow_binary;
    }
    OPCASE(NE) {
        cryo_value *rb = RB, *rc = RC;
        if (LIKELY(rb->type == CRYO_T_INT && rc->type == CRYO_T_INT)) {
            bool c_ = rb->as.i != rc->as.i;
            SET_SCALAR(RA, cryo_bool(c_));
            BRANCH_ON(c_);
            NEXT();
        }
        if (NUM_PAIR(rb, rc)) {
            bool c_ = cv_float_cmp_inline(AS_F64(rb), AS_F64(rc)) != 0;
            SET_SCALAR(RA, cryo_bool(c_));
            BRANCH_ON(c_);
            NEXT();
        }
        if (UNIT_PAIR(rb, rc)) {
            bool c_ = rb->type != rc->type;
            SET_SCALAR(RA, cryo_bool(c_));
            BRANCH_ON(c_);
            NEXT();
        }
        goto slow_binary;
    }
#define CMP(name, cop, fcond)                                                                      \
    OPCASE(name) {                                                                                 \
        cryo_value *rb = RB, *rc = RC;                                                             \
        if (LIKELY(rb->type == CRYO_T_INT && rc->type == CRYO_T_INT)) {                            \
            bool c_ = rb->as.i cop rc->as.i;                                                       \
            SET_SCALAR(RA, cryo_bool(c_));                                                         \
            BRANCH_ON(c_);                                                                         \
            NEXT();                                                                                \
        }                                                                                          \
        if (NUM_PAIR(rb, rc)) {                                                                    \
            int f_ = cv_float_cmp_inline(AS_F64(rb), AS_F64(rc));                                  \
            bool c_ = f_ != 2 && (fcond);                                                          \
            SET_SCALAR(RA, cryo_bool(c_));                                                         \
            BRANCH_ON(c_);                                                                         \
            NEXT();                                                                                \
        }                                                                                          \
        goto slow_binary;                                                                          \
    }
    CMP(LT, <, f_ < 0)
    CMP(LE, <=, f_ <= 0)
    CMP(GT, >, f_ > 0)
    CMP(GE, >=, f_ >= 0)
#undef CMP
#undef NUM_PAIR
#undef AS_F64
#undef UNIT_PAIR
#undef UNIT_OTHER_PLAIN

    OPCASE(NEG) {
        cryo_value *rb = RB;
        if (LIKELY(rb->type == CRYO_T_INT) && rb->as.i != INT64_MIN) {
            SET_SCALAR(RA, cryo_int(-rb->as.i));
            NEXT();
        }
        if (rb->type == CRYO_T_FLOAT) {
            SET_SCALAR(RA, cryo_float(-rb->as.f));
            NEXT();
        }
        goto slow_unary;
    }
    OPCASE(NOT) {
        cryo_value *rb = RB;
        if (LIKELY(rb->type == CRYO_T_BOOL)) {
            SET_SCALAR(RA, cryo_bool(!rb->as.b));
            NEXT();
        }
        goto slow_unary;
    }
    OPCASE(RANGE) {
        PROTECT(op_range(vm, base, i, false));
        NEXT();
    }
    OPCASE(RANGEI) {
        PROTECT(op_range(vm, base, i, true));
        NEXT();
    }

    OPCASE(JMP) {
        int sj = CRYO_SJ(i);
        pc += sj;
        if (sj < 0) COUNT_OPS(-2 * sj);
        NEXT();
    }
    OPCASE(JMPT) {
        cryo_value *ra = RA;
        if (LIKELY(ra->type == CRYO_T_BOOL)) {
            if (ra->as.b) pc += CRYO_SBX(i);
            NEXT();
        }
        PROTECT(type_error_bool(vm, *ra));
        NEXT();
    }
    OPCASE(JMPF) {
        cryo_value *ra = RA;
        if (LIKELY(ra->type == CRYO_T_BOOL)) {
            if (!ra->as.b) pc += CRYO_SBX(i);
            NEXT();
        }
        PROTECT(type_error_bool(vm, *ra));
        NEXT();
    }
    OPCASE(JMPU) {
        if (RA->type == CRYO_T_UNIT) pc += CRYO_SBX(i);
        NEXT();
    }
    OPCASE(JMPNU) {
        if (RA->type != CRYO_T_UNIT) pc += CRYO_SBX(i);
        NEXT();
    }
    OPCASE(ISTYPE) {
        /* R[C] is the compiler's string constant; a loaded image is checked here, not trusted. */
        const char *tn = cv_type_name(*RB);
        bool same = false;
        if (RC->type == CRYO_T_STRING) {
            const cryo_string *want = cv_str(*RC);
            same = strlen(tn) == want->len && memcmp(tn, want->data, want->len) == 0;
        }
        SET_SCALAR(RA, cryo_bool(same));
        NEXT();
    }

    OPCASE(NEWARRAY)
    OPCASE(NEWMAP) {
        COUNT_OPS(2);
        PROTECT(op_container(vm, base, i));
        NEXT();
    }
    OPCASE(APPEND) {
        COUNT_OPS(1);
        PROTECT(op_append(vm, base, i));
        NEXT();
    }
    /* The fast paths of R[B][index]: an array element in bounds, or an element of a raw
     * (unbounded, uncounted) i32 pointer such as a callback's `const int *` argument, whose
     * header compares as one 32-bit word. */
#define GETINDEX_FAST(rb, ix)                                                                      \
    do {                                                                                           \
        if (rb->type == CRYO_T_ARRAY && (uint64_t)(ix) < cv_arr(*rb)->len) {                       \
            cryo_value v = cv_arr(*rb)->items[(ix)];                                               \
            cv_retain(v);                                                                          \
            cv_set(heap, RA, v);                                                                   \
            NEXT();                                                                                \
        }                                                                                          \
        if (cv_head(*rb) == cv_head_of(CRYO_T_POINTER, 0, CRYO_PE_I32) && rb->as.i != 0) {         \
            SET_SCALAR(RA, cryo_int(((const int32_t *)(intptr_t)rb->as.i)[(ix)]));                 \
            NEXT();                                                                                \
        }                                                                                          \
    } while (0)
    OPCASE(GETINDEX) {
        cryo_value *rb = RB, *rc = RC;
        if (rc->type == CRYO_T_INT) GETINDEX_FAST(rb, rc->as.i);
        cryo_value out;
        PROTECT(cvm_op_getindex(vm, *rb, *rc, &out));
        cv_set(heap, RA, out);
        NEXT();
    }
    OPCASE(GETINDEXI) {
        cryo_value *rb = RB;
        GETINDEX_FAST(rb, CRYO_C(i));
        cryo_value out;
        PROTECT(cvm_op_getindex(vm, *rb, cryo_int(CRYO_C(i)), &out));
        cv_set(heap, RA, out);
        NEXT();
    }
#undef GETINDEX_FAST
    OPCASE(SETINDEX) {
        cryo_value *ra = RA, *rb = RB;
        cryo_value v = *RC;
        cv_retain(v);
        if (ra->type == CRYO_T_ARRAY && rb->type == CRYO_T_INT && cv_is_unique(*ra) &&
            (uint64_t)rb->as.i < cv_arr(*ra)->len) {
            cv_set(heap, &cv_arr(*ra)->items[rb->as.i], v);
            if (v.type >= CRYO_T_STRING) CHECK_DATA(*RA);
            NEXT();
        }
        PROTECT(cvm_op_setindex(vm, ra, *rb, v));
        if (v.type >= CRYO_T_STRING) CHECK_DATA(*RA);
        NEXT();
    }
    /* R[A] = R[B].name. A field of a small map: the name is interned, the map's key is that
     * very string. GETFIELD and GETFIELDX differ only in where the name's index is. */
#define GET_FIELD(kidx)                                                                            \
    do {                                                                                           \
        cryo_value out;                                                                            \
        const cryo_string *name = cv_str(k[kidx]);                                                 \
        const cryo_map_entry *e =                                                                  \
            RB->type == CRYO_T_MAP ? cv_map_find_ptr(cv_map(*RB), name) : NULL;                    \
        if (e) {                                                                                   \
            out = e->value;                                                                        \
            cv_retain(out);                                                                        \
        } else {                                                                                   \
            PROTECT(cvm_op_getfield(vm, RB, name, &out));                                          \
        }                                                                                          \
        cv_set(heap, RA, out);                                                                     \
    } while (0)
    OPCASE(GETFIELD) {
        GET_FIELD(CRYO_C(i));
        NEXT();
    }
    OPCASE(SETFIELD) {
        COUNT_OPS(1); /* before the retain: the limit's error must not strand v's count */
        cryo_value v = *RC;
        cv_retain(v);
        PROTECT(cvm_op_setfield(vm, RA, cv_str(k[CRYO_B(i)]), v));
        if (v.type >= CRYO_T_STRING) CHECK_DATA(*RA);
        NEXT();
    }
    OPCASE(GETFIELDX) {
        cryo_instr x = *pc++;
        GET_FIELD(CRYO_X_INDEX(x));
        NEXT();
    }
#undef GET_FIELD
    OPCASE(SETFIELDX) {
        cryo_value v = *RB;
        cryo_instr x = *pc++;
        COUNT_OPS(1);
        cv_retain(v);
        PROTECT(cvm_op_setfield(vm, RA, cv_str(k[CRYO_X_INDEX(x)]), v));
        if (v.type >= CRYO_T_STRING) CHECK_DATA(*RA);
        NEXT();
    }
    OPCASE(SETPATH) {
        const cryo_instr *words = pc;
        pc += 1 + CRYO_B(i);
        COUNT_OPS(1);
        PROTECT(cvm_op_setpath(vm, f, base, i, words));
        NEXT();
    }
    OPCASE(CONCAT) {
        PROTECT(op_concat(vm, base, i));
        CHECK_DATA(*RA);
        NEXT();
    }

    OPCASE(ITERPREP) {
        PROTECT(iter_prep(vm, RA));
        pc += CRYO_SBX(i);
        NEXT();
    }
    OPCASE(ITERNEXT) {
        cryo_value *ra = RA;
        if (UNLIKELY(ra[1].type != CRYO_T_INT)) PROTECT(bad_bytecode(vm, "ITERNEXT"));
        if (LIKELY(ra->type == CRYO_T_RANGE) && !cv_range(*ra)->h.extra) {
            /* the common `for i in a..b`, inline */
            const cryo_range *r = cv_range(*ra);
            int64_t cur = ra[1].as.i;
            if (cur < r->end) {
                ra[1].as.i = cur + 1;
                SET_SCALAR(ra + 2, cryo_int(cur));
                SET_SCALAR(ra + 3, cryo_int((int64_t)((uint64_t)cur - (uint64_t)r->start)));
                int sbx = CRYO_SBX(i);
                pc += sbx;
                COUNT_OPS(sbx < 0 ? -2 * sbx : 2);
            }
            NEXT();
        }
        if (iter_next(heap, ra)) {
            int sbx = CRYO_SBX(i);
            pc += sbx;
            COUNT_OPS(sbx < 0 ? -2 * sbx : 2);
        }
        NEXT();
    }

    OPCASE(CALL) {
        cryo_instr x = *pc++;
        const cryo_proto *p = f->proto->unit->protos[CRYO_X_INDEX(x)];
        cryo_value *nb = base + CRYO_A(i);
        unsigned nargs = CRYO_B(i);
        COUNT_OPS(1);
        if (UNLIKELY((uint64_t)vm->nframes > vm->depth_max)) {
            PROTECT(cryo_vm_raise(vm, CRYO_ERR_STACK_OVERFLOW,
                                  "stack overflow: too many nested calls (limit %llu)",
                                  (unsigned long long)vm->depth_max));
        }
        if (UNLIKELY(vm->nframes == vm->capframes)) {
            if (!cvm_grow_frames(vm)) PROTECT(cvm_raise_oom(vm));
            f = &vm->frames[vm->nframes - 1];
        }
        {
            /* Registers above the caller's frame are () already (returns clear theirs). */
            cryo_value *r = nb + nargs, *e = nb + p->nregs, *top = base + f->proto->nregs;
            if (e > top) e = top;
            for (; r < e; r++)
                CLEAR_REG(r);
        }
        if (UNLIKELY(nb + p->nregs > seg_end)) {
            nb = cvm_fit_frame(vm, nb, p->nregs, nargs);
            if (!nb) PROTECT(cvm_raise_oom(vm));
            seg_end = vm->seg->slots + vm->seg->size;
        }
        cryo_value *this_ref = NULL;
        switch (CRYO_X_MODE(x)) {
        case CRYO_RECV_REG: this_ref = base + CRYO_X_RECV(x); break;
        case CRYO_RECV_CELL:
            if (UNLIKELY(base[CRYO_X_RECV(x)].type != CRYO_T_CELL))
                PROTECT(bad_bytecode(vm, "CALL"));
            this_ref = &cv_cell(base[CRYO_X_RECV(x)])->v;
            break;
        case CRYO_RECV_THIS: this_ref = f->this_ref; break;
        case CRYO_RECV_PATH:
            PROTECT((this_ref = cvm_path_recv(vm, base + CRYO_X_RECV(x))) ? CRYO_OK
                                                                          : CRYO_ERR_TYPE);
            break;
        case CRYO_RECV_NONE: break;
        default: PROTECT(bad_bytecode(vm, "CALL")); /* modes 5..7 */
        }
        f->pc = pc;
        cryo_frame *nf = &vm->frames[vm->nframes++];
        nf->proto = p;
        nf->pc = p->code;
        nf->base = nb;
        nf->closure = NULL;
        nf->this_ref = this_ref;
        nf->binding = f->binding;
        nf->ret_slot = base + CRYO_A(i);
        nf->run_level = vm->run_level;
        f = nf;
        pc = p->code;
        base = nb;
        k = p->k;
        NEXT();
    }
    OPCASE(CALLH) {
        cryo_instr x = *pc++;
        PROTECT(cvm_op_callh(vm, base, i, x));
        NEXT();
    }
    OPCASE(CALLV) {
        bool pushed;
        COUNT_OPS(1);
        PROTECT(cvm_op_callv(vm, base, i, &pushed));
        if (pushed) LOAD_FRAME();
        NEXT();
    }
    OPCASE(RET) {
        cryo_value *ra = RA;
        /* a copy of 16 bytes: a struct assignment was split into its four fields (8 moves) */
        memcpy(&result, ra, sizeof result);
        cv_clear(ra);
        goto do_return;
    }
    OPCASE(RET0) {
        result = cryo_unit_value();
        goto do_return;
    }

    OPCASE(TRY) {
        PROTECT(op_try(vm, pc, i));
        NEXT();
    }
    OPCASE(ENDTRY) {
        if (vm->nhandlers > 0) vm->nhandlers--;
        NEXT();
    }
    OPCASE(THROW) {
        PROTECT(op_throw(vm, base, i));
        NEXT();
    }
    OPCASE(ERRVAR) {
        const cryo_string *name = cv_str(k[CRYO_BX(i)]);
        /* "u::" is the hidden variable of `import .. as u` (parse.c, "Modules") */
        if (name->len > 2 && name->data[name->len - 1] == ':')
            PROTECT(cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                                  "module not imported here: %s (an import is visible in its "
                                  "block; a fn also sees its script's top-level imports)",
                                  name->data));
        PROTECT(cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "variable not found: %s", name->data));
        NEXT();
    }
    OPCASE(EXTRA) {
        PROTECT(cryo_vm_raise(vm, CRYO_ERR_API, "invalid bytecode: EXTRA executed"));
        NEXT();
    }
#ifndef CRYO_COMPUTED_GOTO
default: PROTECT(cryo_vm_raise(vm, CRYO_ERR_API, "invalid opcode %u", CRYO_OP(i))); NEXT();
}
#endif

slow_binary : {
    cryo_value out;
    if (CRYO_OP(i) == OP_ADD && CRYO_A(i) == CRYO_B(i) && CRYO_C(i) != CRYO_A(i)) {
        /* `s += x` (or `s = s + x`): append in place when R[A] is a unique string or array */
        cryo_value *ra = RA, *rc = RC;
        if ((ra->type == CRYO_T_STRING && (rc->type == CRYO_T_STRING || rc->type == CRYO_T_CHAR) &&
             ra->as.obj != rc->as.obj) ||
            (ra->type == CRYO_T_ARRAY && rc->type != CRYO_T_STRING && rc->type != CRYO_T_CELL)) {
            PROTECT(cvm_op_assign(vm, OP_ADD, ra, *rc));
            NEXT();
        }
    }
    PROTECT(cvm_op_binary(vm, (int)CRYO_OP(i), *RB, *RC, &out));
    cv_set(heap, RA, out);
    CHECK_DATA(out);
    NEXT();
}
slow_unary : {
    cryo_value out;
    PROTECT(cvm_op_unary(vm, (int)CRYO_OP(i), *RB, &out));
    cv_set(heap, RA, out);
    NEXT();
}

#if defined(CRYO_VM_HOOKED) && defined(CRYO_COMPUTED_GOTO)
line_hook : LINE_HOOK();
goto *labels[CRYO_OP(i)];
#endif

do_return : {
    int fi = vm->nframes - 1;
    while (vm->nhandlers > 0 && vm->handlers[vm->nhandlers - 1].frame >= fi)
        vm->nhandlers--;
    /* Most frames have a few registers: those take one flag test and one store each, with no
     * loop test (the registers past the fourth, when there are more, clear in a loop first). */
    switch (f->proto->nregs) {
    default:
        for (cryo_value *r = base + 4, *e = base + f->proto->nregs; r < e; r++)
            CLEAR_REG(r);
        /* fall through */
    case 4: CLEAR_REG(base + 3); /* fall through */
    case 3: CLEAR_REG(base + 2); /* fall through */
    case 2: CLEAR_REG(base + 1); /* fall through */
    case 1: CLEAR_REG(base);     /* fall through */
    case 0: break;
    }
    cryo_value *slot = f->ret_slot;
    vm->nframes = fi;
    /* prev first: a first frame's base is always its segment's start, so testing that first
     * branched out of line on every return of a first frame (a callback's) */
    if (UNLIKELY(vm->seg->prev != NULL && base == vm->seg->slots)) { /* first segment: nothing */
        cvm_pop_segment(vm, base);
        seg_end = vm->seg->slots + vm->seg->size;
    }
    cv_set(heap, slot, result);
    if (fi == stop) return CRYO_OK;
    f = &vm->frames[fi - 1];
    pc = f->pc;
    base = f->base;
    k = f->proto->k;
    NEXT();
}

on_error : if (catch_error(vm, err)) {
    LOAD_FRAME();
    NEXT();
}
cvm_unwind(vm, stop);
return err;

#undef NEXT
#undef OPCASE
#undef LOAD_FRAME
#undef RA
#undef RB
#undef RC
#undef PROTECT
#undef LINE_HOOK
#undef COUNT_OPS
#undef CHECK_DATA
}
