/*
 * debug.c — the line hook (cryo_vm_set_line_hook): when it fires, and read access to a frame's
 * local variables by name. The dispatch loop (vm.c) runs its instructions through
 * cvm_debug_step only while a hook is set; it reads nothing of this otherwise.
 */
#include "trace.h"
#include "vm.h"

#include <string.h>

void cryo_vm_set_line_hook(cryo_vm *vm, cryo_line_hook fn, void *userdata) {
    if (!vm) return;
    vm->line_hook = fn;
    vm->line_ud = fn ? userdata : NULL;
    vm->dbg_depth = 0; /* the next instruction is a new line */
    vm->dbg_proto = NULL;
    vm->dbg_ip = NULL;
    vm->dbg_line = 0;
}

/* A new line is reached when a function is entered (its first instruction, or a frame deeper
 * than the last one seen), when a call returns to an instruction on another line than the call
 * (a call in the middle of a line does not report the line twice), when the line changes, or
 * when a jump goes back (a loop on one line reports each turn). */
static bool new_line(const cryo_vm *vm, const cryo_proto *p, const cryo_instr *ip, int line) {
    int depth = vm->nframes;
    if (ip == p->code || depth > vm->dbg_depth) return true;
    if (depth < vm->dbg_depth) return p->lines[ip - p->code - 1].line != line;
    return p != vm->dbg_proto || line != vm->dbg_line || ip <= vm->dbg_ip;
}

cryo_error_kind cvm_debug_step(cryo_vm *vm, const cryo_frame *f, const cryo_instr *ip) {
    const cryo_proto *p = f->proto;
    if (!p->lines) return CRYO_OK;
    const cryo_lineinfo *li = &p->lines[ip - p->code];
    bool fire = new_line(vm, p, ip, li->line);
    vm->dbg_depth = vm->nframes;
    vm->dbg_proto = p;
    vm->dbg_ip = ip;
    vm->dbg_line = li->line;
    if (!fire || li->line <= 0) return CRYO_OK;
    cryo_debug_frame d = {cvm_trace_fn_name(p),
                          p->unit ? p->unit->source_name : NULL,
                          li->line,
                          li->column,
                          vm->nframes,
                          vm,
                          f};
    if (vm->line_hook(vm->line_ud, &d)) return CRYO_OK;
    return cryo_vm_raise(vm, CRYO_ERR_INTERRUPTED, "stopped by the line hook");
}

/* The frame's position: the instruction the hook was called before. */
static uint32_t frame_pc(const cryo_frame *f) {
    return (uint32_t)(f->pc - 1 - f->proto->code); /* f->pc was saved past the instruction */
}

/* The innermost entry named `name` in scope at pc, or NULL. */
static const cryo_localinfo *find_local(const cryo_proto *p, uint32_t pc, const char *name) {
    for (uint32_t i = p->nlocals; i-- > 0;) {
        const cryo_localinfo *l = &p->locals[i];
        if (l->start <= pc && pc < l->end && strcmp(l->name, name) == 0) return l;
    }
    return NULL;
}

bool cryo_debug_local(const cryo_debug_frame *frame, const char *name, cryo_value *out) {
    if (!frame || !frame->internal || !name || !out) return false;
    const cryo_frame *f = frame->internal;
    const cryo_localinfo *l = find_local(f->proto, frame_pc(f), name);
    if (!l || l->reg >= f->proto->nregs) return false;
    cryo_value v = f->base[l->reg];
    if (v.type == CRYO_T_CELL) v = cv_cell(v)->v; /* a variable a closure captures */
    cv_retain(v);
    *out = v;
    return true;
}

int cryo_debug_locals(const cryo_debug_frame *frame, const char **names, int cap) {
    if (!frame || !frame->internal) return 0;
    const cryo_frame *f = frame->internal;
    const cryo_proto *p = f->proto;
    uint32_t pc = frame_pc(f);
    int n = 0;
    for (uint32_t i = 0; i < p->nlocals; i++) {
        const cryo_localinfo *l = &p->locals[i];
        if (l->start > pc || pc >= l->end) continue;
        if (find_local(p, pc, l->name) != l) continue; /* shadowed by an inner one */
        if (names && n < cap) names[n] = l->name;
        n++;
    }
    return n;
}
