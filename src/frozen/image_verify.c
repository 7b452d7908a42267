/*
 * image_verify.c — the bytecode verifier of image loading (image.c calls cfz_verify_unit on
 * every unit it reads, before anything can run it): operands, constants, jump targets and
 * prototype references checked against a table of operand kinds per opcode written from
 * src/lang/opcodes.h. What it checks and what it does not: docs/serialization.md. Split from
 * image.c, unchanged, to keep files small.
 */
#include "lang/lang.h"
#include "image.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the bytecode verifier ------------------------------------------------------------------
 * What each opcode's fields are, from opcodes.h. Every register operand must lie in the frame
 * (R < nregs), every constant operand in the table (string constants where the VM reads a
 * string), every jump target on an instruction of the same proto (not an EXTRA word), every
 * EXTRA word present and naming a valid proto / host slot / field constant. Values' types are
 * the VM's business at run time, as for compiled code (GETCELL and the iteration state check
 * theirs, so that hostile bytecode cannot make the VM misread a register). */
enum { F_NONE = 0, F_REG, F_IMM, F_KANY, F_KSTR, F_UPV, F_PROTO, F_JUMP };
enum { X_NONE = 0, X_PROTO, X_HOST, X_FIELD };
enum { FMT_ABC = 0, FMT_ABX, FMT_ASBX, FMT_SJ };
typedef struct opspec {
    uint8_t fmt, a, b, c, extra;
    uint8_t known; /* 0: an opcode this table does not describe yet is refused, not trusted */
} opspec;

#define ABC(a, b, c)                                                                               \
    { FMT_ABC, a, b, c, X_NONE, 1 }
static const opspec op_specs[CRYO_NUM_OPCODES] = {
    [OP_MOVE] = ABC(F_REG, F_REG, F_NONE),
    [OP_LOADK] = {FMT_ABX, F_REG, F_KANY, 0, X_NONE, 1},
    [OP_LOADI] = {FMT_ASBX, F_REG, F_IMM, 0, X_NONE, 1},
    [OP_LOADBOOL] = ABC(F_REG, F_IMM, F_NONE),
    [OP_LOADUNIT] = ABC(F_REG, F_IMM, F_NONE), /* R[A..A+B] */
    [OP_NEWCELL] = ABC(F_REG, F_NONE, F_NONE),
    [OP_GETCELL] = ABC(F_REG, F_REG, F_NONE),
    [OP_SETCELL] = ABC(F_REG, F_REG, F_NONE),
    [OP_GETUPV] = ABC(F_REG, F_UPV, F_NONE),
    [OP_SETUPV] = ABC(F_REG, F_UPV, F_NONE),
    [OP_CLOSURE] = {FMT_ABX, F_REG, F_PROTO, 0, X_NONE, 1},
    [OP_THIS] = ABC(F_REG, F_NONE, F_NONE),
    [OP_SETTHIS] = ABC(F_REG, F_NONE, F_NONE),
    [OP_ADD] = ABC(F_REG, F_REG, F_REG),
    [OP_SUB] = ABC(F_REG, F_REG, F_REG),
    [OP_MUL] = ABC(F_REG, F_REG, F_REG),
    [OP_DIV] = ABC(F_REG, F_REG, F_REG),
    [OP_MOD] = ABC(F_REG, F_REG, F_REG),
    [OP_POW] = ABC(F_REG, F_REG, F_REG),
    [OP_SHL] = ABC(F_REG, F_REG, F_REG),
    [OP_SHR] = ABC(F_REG, F_REG, F_REG),
    [OP_BAND] = ABC(F_REG, F_REG, F_REG),
    [OP_BOR] = ABC(F_REG, F_REG, F_REG),
    [OP_BXOR] = ABC(F_REG, F_REG, F_REG),
    [OP_ADDI] = ABC(F_REG, F_REG, F_IMM),
    [OP_SUBI] = ABC(F_REG, F_REG, F_IMM),
    [OP_EQ] = ABC(F_REG, F_REG, F_REG),
    [OP_NE] = ABC(F_REG, F_REG, F_REG),
    [OP_LT] = ABC(F_REG, F_REG, F_REG),
    [OP_LE] = ABC(F_REG, F_REG, F_REG),
    [OP_GT] = ABC(F_REG, F_REG, F_REG),
    [OP_GE] = ABC(F_REG, F_REG, F_REG),
    [OP_IN] = ABC(F_REG, F_REG, F_REG),
    [OP_NEG] = ABC(F_REG, F_REG, F_NONE),
    [OP_NOT] = ABC(F_REG, F_REG, F_NONE),
    [OP_RANGE] = ABC(F_REG, F_REG, F_REG),
    [OP_RANGEI] = ABC(F_REG, F_REG, F_REG),
    [OP_JMP] = {FMT_SJ, F_JUMP, 0, 0, X_NONE, 1},
    [OP_JMPT] = {FMT_ASBX, F_REG, F_JUMP, 0, X_NONE, 1},
    [OP_JMPF] = {FMT_ASBX, F_REG, F_JUMP, 0, X_NONE, 1},
    [OP_JMPU] = {FMT_ASBX, F_REG, F_JUMP, 0, X_NONE, 1},
    [OP_JMPNU] = {FMT_ASBX, F_REG, F_JUMP, 0, X_NONE, 1},
    [OP_ISTYPE] = ABC(F_REG, F_REG, F_REG),    /* the VM checks that R[C] is a string */
    [OP_SETPATH] = ABC(F_REG, F_NONE, F_NONE), /* B, C and the raw words: v_setpath */
    [OP_NEWARRAY] = ABC(F_REG, F_IMM, F_NONE),
    [OP_APPEND] = ABC(F_REG, F_REG, F_NONE),
    [OP_NEWMAP] = ABC(F_REG, F_IMM, F_NONE),
    [OP_GETINDEX] = ABC(F_REG, F_REG, F_REG),
    [OP_GETINDEXI] = ABC(F_REG, F_REG, F_IMM),
    [OP_SETINDEX] = ABC(F_REG, F_REG, F_REG),
    [OP_GETFIELD] = ABC(F_REG, F_REG, F_KSTR),
    [OP_SETFIELD] = ABC(F_REG, F_KSTR, F_REG),
    [OP_GETFIELDX] = {FMT_ABC, F_REG, F_REG, F_NONE, X_FIELD, 1},
    [OP_SETFIELDX] = {FMT_ABC, F_REG, F_REG, F_NONE, X_FIELD, 1},
    [OP_CONCAT] = ABC(F_REG, F_IMM, F_IMM),                  /* R[B..B+C-1] */
    [OP_ITERPREP] = {FMT_ASBX, F_REG, F_JUMP, 0, X_NONE, 1}, /* R[A..A+3] */
    [OP_ITERNEXT] = {FMT_ASBX, F_REG, F_JUMP, 0, X_NONE, 1}, /* R[A..A+3] */
    [OP_CALL] = {FMT_ABC, F_REG, F_IMM, F_NONE, X_PROTO, 1}, /* R[A..A+B-1] */
    [OP_CALLH] = {FMT_ABC, F_REG, F_IMM, F_NONE, X_HOST, 1}, /* R[A..A+B-1] */
    [OP_CALLV] = ABC(F_REG, F_IMM, F_NONE),                  /* R[A..A+B] */
    [OP_RET] = ABC(F_REG, F_NONE, F_NONE),
    [OP_RET0] = ABC(F_NONE, F_NONE, F_NONE),
    [OP_TRY] = {FMT_ASBX, F_REG, F_JUMP, 0, X_NONE, 1},
    [OP_ENDTRY] = ABC(F_NONE, F_NONE, F_NONE),
    [OP_THROW] = ABC(F_REG, F_IMM, F_NONE),
    [OP_ERRVAR] = {FMT_ABX, F_NONE, F_KSTR, 0, X_NONE, 1},
    [OP_EXTRA] = ABC(F_NONE, F_NONE, F_NONE), /* never an instruction: rejected below */
};
#undef ABC

typedef struct vctx {
    const cryo_unit *u;
    const cryo_proto *p;
    uint32_t pi, pc;
    char *why;
    size_t whylen;
} vctx;

static bool v_fail(vctx *v, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned op = CRYO_OP(v->p->code[v->pc]);
    snprintf(v->why, v->whylen, "invalid bytecode in proto %u (%s) at pc %u (%s): %s", v->pi,
             v->p->name, v->pc, op < CRYO_NUM_OPCODES ? cl_opcode_names[op] : "?", msg);
    return false;
}

static bool v_reg(vctx *v, unsigned r, const char *field) {
    return r < v->p->nregs ||
           v_fail(v, "register %s=%u outside the frame of %u", field, r, (unsigned)v->p->nregs);
}

/* Registers first..first+n-1 (n may be 0). */
static bool v_span(vctx *v, unsigned first, unsigned n, const char *what) {
    return first + n <= v->p->nregs || v_fail(v, "%s R[%u..%u] outside the frame of %u", what,
                                              first, first + n - 1, (unsigned)v->p->nregs);
}

static bool v_kstr(vctx *v, unsigned k) {
    if (k >= v->p->nk) return v_fail(v, "constant %u outside the table of %u", k, v->p->nk);
    if (v->p->k[k].type != CRYO_T_STRING) return v_fail(v, "constant %u is not a string", k);
    return true;
}

static bool v_field(vctx *v, int kind, unsigned x, const char *name) {
    switch (kind) {
    case F_REG: return v_reg(v, x, name);
    case F_KANY: return x < v->p->nk || v_fail(v, "constant %u outside the table", x);
    case F_KSTR: return v_kstr(v, x);
    case F_UPV:
        if (!v->p->is_closure) return v_fail(v, "capture access outside a closure");
        return x < v->p->ncaps || v_fail(v, "capture %u of %u", x, (unsigned)v->p->ncaps);
    case F_PROTO: {
        if (x >= v->u->nprotos || x == 0) return v_fail(v, "proto %u does not exist", x);
        const cryo_proto *q = v->u->protos[x];
        if (!q->is_closure) return v_fail(v, "proto %u is not a closure", x);
        for (uint16_t c = 0; c < q->ncaps; c++) {
            const cryo_capdesc *cd = &q->caps[c];
            if (cd->from_parent_local ? cd->index >= v->p->nregs
                                      : (!v->p->is_closure || cd->index >= v->p->ncaps))
                return v_fail(v, "capture %u of proto %u names %s %u that this frame lacks", c, x,
                              cd->from_parent_local ? "register" : "capture", cd->index);
        }
        return true;
    }
    default: return true;
    }
}

static bool v_target(vctx *v, const uint8_t *start, int off) {
    int64_t t = (int64_t)v->pc + 1 + off;
    if (t < 0 || t >= (int64_t)v->p->ncode || !start[t])
        return v_fail(v, "jump target %lld is not an instruction", (long long)t);
    return true;
}

/* SETPATH's operands (opcodes.h, "Paths in detail"): B >= 1 steps, C a store or a binary
 * operator, the root and each step naming a register, capture or string constant that exists,
 * with no stray bits (the VM decodes only the documented ones). */
static bool v_setpath(vctx *v, cryo_instr i, const cryo_instr *w) {
    unsigned b = CRYO_B(i), c = CRYO_C(i);
    if (b == 0) return v_fail(v, "SETPATH without a step");
    if (c == CRYO_PATH_PIN || c == CRYO_PATH_UNPIN) {
        if (!v_span(v, CRYO_A(i), 2, "the pin")) return false;
    } else if (c != 0 && (c < OP_ADD || c > OP_BXOR)) {
        return v_fail(v, "SETPATH operator %u is not a binary operator", c);
    }
    unsigned ri = CRYO_PATH_ROOT_INDEX(w[0]);
    if (w[0] >> 10) return v_fail(v, "reserved bits of SETPATH's root word are set");
    switch (CRYO_PATH_ROOT_KIND(w[0])) {
    case CRYO_PATH_REG:
    case CRYO_PATH_CELL:
        if (!v_reg(v, ri, "root")) return false;
        break;
    case CRYO_PATH_THIS:
        if (ri != 0) return v_fail(v, "SETPATH's `this` root has index %u", ri);
        break;
    default:
        if (!v_field(v, F_UPV, ri, "root")) return false;
        break;
    }
    for (unsigned s = 1; s <= b; s++) {
        if (w[s] >> 17) return v_fail(v, "reserved bits of SETPATH step %u are set", s);
        unsigned key = CRYO_PATH_STEP_KEY(w[s]);
        if (!(CRYO_PATH_STEP_IS_INDEX(w[s]) ? v_reg(v, key, "step") : v_kstr(v, key))) return false;
    }
    return true;
}

static bool verify_proto(const cryo_unit *u, uint32_t pi, char *why, size_t whylen) {
    const cryo_proto *p = u->protos[pi];
    vctx v = {u, p, pi, 0, why, whylen};
    if (p->ncode == 0) {
        snprintf(why, whylen, "invalid bytecode in proto %u: no code", pi);
        return false;
    }
    uint8_t *start = calloc(p->ncode, 1); /* 1 = an instruction begins here */
    if (!start) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    bool ok = true;
    uint32_t last = 0;
    for (uint32_t pc = 0; ok && pc < p->ncode; pc++) {
        unsigned op = CRYO_OP(p->code[pc]);
        v.pc = pc;
        if (op >= CRYO_NUM_OPCODES || op == OP_EXTRA || !op_specs[op].known) {
            ok = v_fail(&v, "opcode %u is not an instruction", op);
            break;
        }
        start[pc] = 1;
        last = pc;
        if (op_specs[op].extra != X_NONE) {
            if (pc + 1 >= p->ncode) {
                ok = v_fail(&v, "the EXTRA word is missing");
                break;
            }
            pc++; /* the raw operand word */
        } else if (op == OP_SETPATH) {
            uint32_t nw = 1 + CRYO_B(p->code[pc]);
            if (nw > p->ncode - pc - 1) {
                ok = v_fail(&v, "SETPATH's %u raw words are missing", nw);
                break;
            }
            pc += nw;
        }
    }
    for (uint32_t pc = 0; ok && pc < p->ncode; pc++) {
        if (!start[pc]) continue;
        cryo_instr i = p->code[pc];
        unsigned op = CRYO_OP(i);
        const opspec *s = &op_specs[op];
        v.pc = pc;
        unsigned a = CRYO_A(i), b = CRYO_B(i), c = CRYO_C(i);
        switch (s->fmt) {
        case FMT_ABC:
            ok =
                v_field(&v, s->a, a, "A") && v_field(&v, s->b, b, "B") && v_field(&v, s->c, c, "C");
            break;
        case FMT_ABX: ok = v_field(&v, s->a, a, "A") && v_field(&v, s->b, CRYO_BX(i), "Bx"); break;
        case FMT_ASBX:
            ok = v_field(&v, s->a, a, "A") && (s->b != F_JUMP || v_target(&v, start, CRYO_SBX(i)));
            /* Only JMP and ITERNEXT count operations when they jump back: any other backward
             * jump would make a loop that the operations limit cannot stop. */
            if (ok && s->b == F_JUMP && op != OP_ITERNEXT && CRYO_SBX(i) < 0)
                ok = v_fail(&v, "only JMP and ITERNEXT may jump backward");
            break;
        case FMT_SJ: ok = v_target(&v, start, CRYO_SJ(i)); break;
        default: break;
        }
        if (!ok) break;
        switch (op) { /* register ranges */
        case OP_LOADUNIT: ok = v_span(&v, a, b + 1, "LOADUNIT clears"); break;
        case OP_CONCAT: ok = v_span(&v, b, c, "CONCAT reads"); break;
        case OP_ITERPREP:
        case OP_ITERNEXT: ok = v_span(&v, a, 4, "iteration uses"); break;
        case OP_CALLV: ok = v_span(&v, a, b + 1, "CALLV uses"); break;
        case OP_CALL:
        case OP_CALLH: ok = v_span(&v, a, b, "the arguments"); break;
        case OP_THROW: ok = b <= 1 || v_fail(&v, "B=%u is neither 0 nor 1", b); break;
        case OP_SETPATH: ok = v_setpath(&v, i, p->code + pc + 1); break;
        default: break;
        }
        if (!ok || s->extra == X_NONE) continue;
        cryo_instr x = p->code[pc + 1];
        unsigned ix = CRYO_X_INDEX(x), mode = CRYO_X_MODE(x), recv = CRYO_X_RECV(x);
        if (x >> 27 || mode > CRYO_RECV_PATH) {
            ok = v_fail(&v, "reserved bits of the EXTRA word are set");
            break;
        }
        if (mode == CRYO_RECV_PATH && s->extra != X_FIELD && !v_span(&v, recv, 2, "receiver")) {
            ok = false;
            break;
        }
        if ((mode == CRYO_RECV_REG || mode == CRYO_RECV_CELL) && s->extra != X_FIELD &&
            !v_reg(&v, recv, "receiver")) {
            ok = false;
            break;
        }
        if (s->extra == X_PROTO) {
            if (ix >= u->nprotos) {
                ok = v_fail(&v, "calls proto %u of %u", ix, u->nprotos);
            } else {
                const cryo_proto *q = u->protos[ix];
                if (q->is_closure)
                    ok = v_fail(&v, "calls closure proto %u directly", ix);
                else if (q->nparams != b)
                    ok = v_fail(&v, "passes %u arguments to proto %u of %u parameters", b, ix,
                                (unsigned)q->nparams);
            }
        } else if (s->extra == X_HOST) {
            if (ix >= u->nhosts) ok = v_fail(&v, "host slot %u of %u", ix, u->nhosts);
        } else if (s->extra == X_FIELD) {
            ok = v_kstr(&v, ix);
        }
    }
    if (ok) { /* control never runs past the end */
        unsigned op = CRYO_OP(p->code[last]);
        v.pc = last;
        if (last != p->ncode - 1 ||
            !(op == OP_RET || op == OP_RET0 || op == OP_JMP || op == OP_THROW || op == OP_ERRVAR))
            ok = v_fail(&v, "the code can run past its end");
    }
    free(start);
    return ok;
}

/* The unit-level rules, then each proto's bytecode. */
bool cfz_verify_unit(const cryo_unit *u, char *why, size_t whylen) {
    if (u->nprotos == 0) {
        snprintf(why, whylen, "invalid unit: no protos");
        return false;
    }
    const cryo_proto *m = u->protos[0];
    if (m->is_closure || m->ncaps || m->nparams || u->nglobals > m->nregs) {
        snprintf(why, whylen, "invalid unit: proto 0 is not a top level");
        return false;
    }
    for (uint32_t pi = 0; pi < u->nprotos; pi++) {
        const cryo_proto *p = u->protos[pi];
        if (p->nregs > CRYO_MAX_REGS || p->nparams > p->nregs || (!p->is_closure && p->ncaps)) {
            snprintf(why, whylen, "invalid proto %u: frame %u, parameters %u, captures %u", pi,
                     p->nregs, p->nparams, p->ncaps);
            return false;
        }
        for (uint16_t c = 0; c < p->ncaps; c++)
            if (p->caps[c].from_parent_local > 1 || p->caps[c].assigned > 1) {
                snprintf(why, whylen, "invalid proto %u: capture descriptor %u", pi, c);
                return false;
            }
    }
    for (uint32_t i = 0; i < u->nfns; i++) {
        const cryo_fndef *f = &u->fns[i];
        if (f->proto >= u->nprotos || f->proto == 0 || u->protos[f->proto]->is_closure ||
            u->protos[f->proto]->nparams != f->arity) {
            snprintf(why, whylen, "invalid fn %u ('%s'): proto %u", i, f->name, f->proto);
            return false;
        }
    }
    for (uint32_t pi = 0; pi < u->nprotos; pi++)
        if (!verify_proto(u, pi, why, whylen)) return false;
    return true;
}
