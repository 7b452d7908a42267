/*
 * unit.c — the compiled unit: the public compile entry point, reference counting,
 * destruction, lookup of script fns, and the bytecode listing.
 */
#include "ast.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cl_opcode_names[CRYO_NUM_OPCODES] = {
#define CRYO_OP_NAME(name, fmt, doc) #name,
    CRYO_OPCODES(CRYO_OP_NAME)
#undef CRYO_OP_NAME
};

CRYO_API cryo_unit *cryo_compile(const char *source, size_t len, const cryo_compile_options *opts,
                                 cryo_error **err) {
    cryo_error *errs = NULL;
    if (err) *err = NULL;
    if (!source && len) {
        errs = cl_error_new(CRYO_ERR_API, NULL, 0, 0, "cryo_compile: NULL source");
        if (err)
            *err = errs;
        else
            cryo_error_free(errs);
        return NULL;
    }
    const char *name = opts ? opts->source_name : NULL;
    bool expr_only = opts ? opts->expression_only : false;
    cryo_ast *ast = cl_parse(source ? source : "", len, name, expr_only, &errs);
    cryo_unit *u = NULL;
    if (ast) {
        u = cl_compile_ast(ast, opts, &errs);
        cl_ast_free(ast);
    }
    if (u && errs) { /* warnings are not produced; any error means failure */
        cryo_unit_release(u);
        u = NULL;
    }
    if (!u && !errs) errs = cl_error_new(CRYO_ERR_COMPILE, name, 0, 0, "compilation failed");
    if (err)
        *err = errs;
    else
        cryo_error_free(errs);
    return u;
}

CRYO_API cryo_unit *cryo_unit_retain(cryo_unit *unit) {
    if (unit) atomic_fetch_add_explicit(&unit->refcount, 1, memory_order_relaxed);
    return unit;
}

CRYO_API void cryo_unit_release(cryo_unit *unit) {
    if (!unit) return;
    if (atomic_fetch_sub_explicit(&unit->refcount, 1, memory_order_acq_rel) == 1)
        cl_unit_destroy(unit);
}

static void proto_free(cryo_proto *p) {
    if (!p) return;
    for (uint32_t i = 0; i < p->nk; i++)
        if (p->k[i].type == CRYO_T_STRING) cv_string_free_shared(cv_str(p->k[i]));
    for (uint16_t i = 0; i < p->ncaps; i++)
        free(p->caps[i].name);
    free(p->caps);
    free(p->k);
    free(p->code);
    free(p->lines);
    for (uint32_t i = 0; i < p->nlocals; i++)
        free(p->locals[i].name);
    free(p->locals);
    free(p->name);
    if (p->sname) cv_string_free_shared(p->sname);
    free(p);
}

void cl_unit_destroy(cryo_unit *u) {
    if (!u) return;
    for (uint32_t i = 0; i < u->nprotos; i++)
        proto_free(u->protos[i]);
    free(u->protos);
    for (uint32_t i = 0; i < u->nfns; i++)
        free(u->fns[i].name);
    free(u->fns);
    for (uint32_t i = 0; i < u->nhosts; i++)
        free(u->hosts[i].name);
    free(u->hosts);
    free(u->source_name);
    free(atomic_load_explicit(&u->fn_index, memory_order_relaxed));
    cvm_unit_free_bindings(u);
    free(u);
}

/* Open addressing over u->fns: slot holds fn index + 1 (0: empty) and that fn's name length,
 * so a probe rejects other names without touching their bytes. At most half full. */
struct cl_fn_index {
    uint32_t mask;
    struct {
        uint32_t fn; /* index + 1 */
        uint32_t len;
    } slot[];
};

static struct cl_fn_index *fn_index_build(const cryo_unit *u) {
    uint32_t cap = 8;
    while (cap < 0x80000000u && cap / 2 < u->nfns)
        cap *= 2;
    struct cl_fn_index *ix = calloc(1, sizeof *ix + (size_t)cap * sizeof ix->slot[0]);
    if (!ix) return NULL;
    ix->mask = cap - 1;
    for (uint32_t i = 0; i < u->nfns; i++) { /* in order: the first definition probes first */
        size_t len = strlen(u->fns[i].name);
        uint32_t h = cl_name_hash(u->fns[i].name, len) & ix->mask;
        while (ix->slot[h].fn)
            h = (h + 1) & ix->mask;
        ix->slot[h].fn = i + 1;
        ix->slot[h].len = (uint32_t)len;
    }
    return ix;
}

/* The unit's index, built once. Two threads may build it at once: the loser frees its copy. */
static const struct cl_fn_index *fn_index_get(const cryo_unit *u) {
    cryo_unit *mu = (cryo_unit *)u; /* the index is a cache, not part of the unit's value */
    struct cl_fn_index *ix = atomic_load_explicit(&mu->fn_index, memory_order_acquire);
    if (ix) return ix;
    struct cl_fn_index *mine = fn_index_build(u);
    if (!mine) return NULL;
    if (atomic_compare_exchange_strong_explicit(&mu->fn_index, &ix, mine, memory_order_acq_rel,
                                                memory_order_acquire))
        return mine;
    free(mine);
    return ix;
}

static bool fn_matches(const cryo_fndef *f, const char *name, size_t len, uint32_t arity) {
    return f->arity == arity && memcmp(f->name, name, len) == 0 && f->name[len] == 0;
}

int cl_unit_find_fn(const cryo_unit *u, const char *name, size_t len, uint32_t arity) {
    if (!u || !name || u->nfns == 0) return -1;
    /* No fn name holds a NUL (they are C strings): a name with one matches none. */
    if (memchr(name, 0, len)) return -1;
    const struct cl_fn_index *ix = fn_index_get(u);
    if (!ix) { /* out of memory for the index: scan, length-safely */
        for (uint32_t i = 0; i < u->nfns; i++)
            if (strlen(u->fns[i].name) == len && fn_matches(&u->fns[i], name, len, arity))
                return (int)i;
        return -1;
    }
    for (uint32_t h = cl_name_hash(name, len) & ix->mask; ix->slot[h].fn; h = (h + 1) & ix->mask) {
        const cryo_fndef *f = &u->fns[ix->slot[h].fn - 1];
        if (ix->slot[h].len == len && fn_matches(f, name, len, arity))
            return (int)(ix->slot[h].fn - 1);
    }
    return -1;
}

/* --- listing ---------------------------------------------------------------------------------- */

static void dump_const(FILE *f, cryo_value v) {
    char *s = cv_to_cstring(v, true);
    if (s) {
        fputs(s, f);
        free(s);
        return;
    }
    switch (v.type) {
    case CRYO_T_INT: fprintf(f, "%lld", (long long)v.as.i); break;
    case CRYO_T_FLOAT: fprintf(f, "%g", v.as.f); break;
    case CRYO_T_CHAR: fprintf(f, "'U+%04X'", (unsigned)v.as.c); break;
    case CRYO_T_STRING: fprintf(f, "\"%s\"", cv_str(v)->data); break;
    default: fprintf(f, "?"); break;
    }
}

static const char *mode_name(unsigned m) {
    static const char *const names[] = {"none", "reg", "cell", "this", "path", "?", "?", "?"};
    return names[m & 7];
}

static void dump_instr(FILE *f, const cryo_proto *p, uint32_t pc) {
    cryo_instr i = p->code[pc];
    unsigned op = CRYO_OP(i);
    fprintf(f, "  %4u  [%d:%d]  ", pc, p->lines[pc].line, p->lines[pc].column);
    if (op >= CRYO_NUM_OPCODES) {
        fprintf(f, "??? 0x%08x\n", (unsigned)i);
        return;
    }
    fprintf(f, "%-9s", cl_opcode_names[op]);
    switch (op) {
    case OP_LOADK:
    case OP_ERRVAR:
        fprintf(f, " %u %u\t; ", CRYO_A(i), CRYO_BX(i));
        if (CRYO_BX(i) < p->nk) dump_const(f, p->k[CRYO_BX(i)]);
        break;
    case OP_CLOSURE: fprintf(f, " %u %u", CRYO_A(i), CRYO_BX(i)); break;
    case OP_LOADI: fprintf(f, " %u %d", CRYO_A(i), CRYO_SBX(i)); break;
    case OP_JMP: fprintf(f, " %d\t; to %d", CRYO_SJ(i), (int)pc + 1 + CRYO_SJ(i)); break;
    case OP_JMPT:
    case OP_JMPF:
    case OP_JMPU:
    case OP_JMPNU:
    case OP_ITERPREP:
    case OP_ITERNEXT:
    case OP_TRY:
        fprintf(f, " %u %d\t; to %d", CRYO_A(i), CRYO_SBX(i), (int)pc + 1 + CRYO_SBX(i));
        break;
    case OP_GETFIELD:
        fprintf(f, " %u %u %u\t; ", CRYO_A(i), CRYO_B(i), CRYO_C(i));
        if (CRYO_C(i) < p->nk) dump_const(f, p->k[CRYO_C(i)]);
        break;
    case OP_SETFIELD:
        fprintf(f, " %u %u %u\t; ", CRYO_A(i), CRYO_B(i), CRYO_C(i));
        if (CRYO_B(i) < p->nk) dump_const(f, p->k[CRYO_B(i)]);
        break;
    case OP_ADDI:
    case OP_SUBI: fprintf(f, " %u %u %d", CRYO_A(i), CRYO_B(i), (int)CRYO_C(i) - 128); break;
    default: fprintf(f, " %u %u %u", CRYO_A(i), CRYO_B(i), CRYO_C(i)); break;
    }
    fputc('\n', f);
}

static const char *path_root_name(unsigned kind) {
    static const char *const names[] = {"reg", "cell", "this", "upv"};
    return names[kind & 3];
}

/* A call's raw operand word, with the callee named. */
static void dump_extra(FILE *f, const cryo_unit *u, const cryo_proto *p, uint32_t pc) {
    unsigned op = CRYO_OP(p->code[pc - 1]);
    cryo_instr x = p->code[pc];
    unsigned idx = CRYO_X_INDEX(x);
    fprintf(f, "  %4u  [%d:%d]  %-9s index %u recv %u mode %s", pc, p->lines[pc].line,
            p->lines[pc].column, "EXTRA", idx, CRYO_X_RECV(x), mode_name(CRYO_X_MODE(x)));
    if (op == OP_CALL && idx < u->nprotos)
        fprintf(f, "\t; fn %s", u->protos[idx]->name);
    else if ((op == OP_GETFIELDX || op == OP_SETFIELDX) && idx < p->nk)
        fprintf(f, "\t; field %s", cv_str(p->k[idx])->data);
    else if (op == OP_CALLH && idx < u->nhosts)
        fprintf(f, "\t; host %s/%u", u->hosts[idx].name, u->hosts[idx].arity);
    fputc('\n', f);
}

CRYO_API void cryo_unit_dump(const cryo_unit *u, void *out) {
    FILE *f = out ? out : stdout;
    if (!u) return;
    for (uint32_t pi = 0; pi < u->nprotos; pi++) {
        const cryo_proto *p = u->protos[pi];
        fprintf(f, "proto %u: %s%s (params %u, regs %u, line %d%s)\n", pi, p->name,
                p->is_closure ? " [closure]" : "", p->nparams, p->nregs, p->line,
                p->uses_this ? ", uses this" : "");
        for (uint16_t c = 0; c < p->ncaps; c++) {
            const cryo_capdesc *cd = &p->caps[c];
            fprintf(f, "  cap %u: %s from %s %u%s (line %d:%d)\n", c, cd->name,
                    cd->from_parent_local ? "local" : "capture", cd->index,
                    cd->assigned ? " assigned" : "", cd->line, cd->column);
        }
        for (uint32_t k = 0; k < p->nk; k++) {
            fprintf(f, "  K[%u] = ", k);
            dump_const(f, p->k[k]);
            fputc('\n', f);
        }
        for (uint32_t pc = 0; pc < p->ncode; pc++) {
            dump_instr(f, p, pc);
            unsigned op = CRYO_OP(p->code[pc]);
            if (op == OP_SETPATH) { /* its root and steps: raw words, not opcodes */
                uint32_t end = pc + 1 + CRYO_B(p->code[pc]);
                if (pc + 1 < p->ncode) {
                    cryo_instr w = p->code[++pc];
                    fprintf(f, "  %4u  [%d:%d]  %-9s root %s %u\n", pc, p->lines[pc].line,
                            p->lines[pc].column, "PATH", path_root_name(CRYO_PATH_ROOT_KIND(w)),
                            CRYO_PATH_ROOT_INDEX(w));
                }
                while (pc < end && pc + 1 < p->ncode) {
                    cryo_instr w = p->code[++pc];
                    unsigned key = CRYO_PATH_STEP_KEY(w);
                    fprintf(f, "  %4u  [%d:%d]  %-9s ", pc, p->lines[pc].line, p->lines[pc].column,
                            "PATH");
                    if (CRYO_PATH_STEP_IS_INDEX(w))
                        fprintf(f, "index R[%u]\n", key);
                    else
                        fprintf(f, "field %s\n", key < p->nk ? cv_str(p->k[key])->data : "?");
                }
                continue;
            }
            if ((op == OP_CALL || op == OP_CALLH || op == OP_GETFIELDX || op == OP_SETFIELDX) &&
                pc + 1 < p->ncode) {
                pc++; /* the raw operand word: its low bits are not an opcode */
                dump_extra(f, u, p, pc);
            }
        }
    }
    for (uint32_t i = 0; i < u->nhosts; i++)
        fprintf(f, "host %u: %s/%u\n", i, u->hosts[i].name, u->hosts[i].arity);
}
