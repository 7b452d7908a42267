/*
 * unit.h — the compiled form of a script: protos (one per function body) and the Unit that
 * owns them. Built by the compiler (compile.c), then immutable: any number of VMs on any number
 * of threads read it at once. Only `refcount` changes after compilation (atomically).
 *
 * Proto 0 is the script's top level. Named `fn`s and closures are further protos; CALL and
 * CLOSURE name them by index in unit->protos.
 */
#ifndef CRYO_UNIT_H
#define CRYO_UNIT_H

#include "cryo.h"
#include "opcodes.h"
#include "value/value.h"
#include <stdatomic.h>

/* How a closure gets capture i when CLOSURE creates it: from the creating frame's register
 * `index` (which holds a cell), or from the creating closure's own capture `index`. `name` and
 * `line` say which variable, for into_sync's errors; `assigned` is true when the closure (or a
 * closure inside it) assigns the variable. */
typedef struct cryo_capdesc {
    uint8_t from_parent_local; /* 1: parent register `index`; 0: parent capture `index` */
    uint8_t assigned;
    uint16_t index;
    int line;
    int column;
    char *name; /* owned by the unit */
} cryo_capdesc;

/* Source position of one instruction. */
typedef struct cryo_lineinfo {
    int32_t line;
    int32_t column;
} cryo_lineinfo;

/* A local variable's name, for debuggers (the line hook's cryo_debug_local): register `reg`
 * holds it (a cell when a closure captures it) while start <= pc < end. Not in images. */
typedef struct cryo_localinfo {
    char *name; /* owned */
    uint32_t start, end;
    uint8_t reg;
} cryo_localinfo;

typedef struct cryo_proto {
    char *name;         /* "main", the fn's name, or "anon$<n>"; owned */
    cryo_string *sname; /* the same name as a shared string (closures' fn->name); owned, may
                         * be NULL (then CLOSURE allocates one) */
    uint8_t nparams;    /* parameters, in R[0..nparams-1] on entry */
    uint8_t nregs;      /* registers the frame needs (>= nparams) */
    uint8_t is_closure;
    uint8_t uses_this; /* the body reads or writes `this` */
    uint16_t ncaps;
    uint32_t ncode;
    uint32_t nk;
    cryo_instr *code;       /* ncode instructions */
    cryo_lineinfo *lines;   /* ncode entries, parallel to code */
    cryo_value *k;          /* nk constants: ints, floats, chars, shared strings */
    cryo_capdesc *caps;     /* ncaps capture descriptors */
    struct cryo_unit *unit; /* back pointer, not a reference */
    int line;               /* where the function was defined */
    cryo_localinfo *locals; /* nlocals names, in declaration order (NULL from an image) */
    uint32_t nlocals;
} cryo_proto;

/* A script `fn` callable by name: Fn("name"), cryo_vm_call, and calls the compiler could not
 * bind statically. Overloads differ by arity. */
typedef struct cryo_fndef {
    char *name; /* owned */
    uint32_t arity;
    uint32_t proto;
    bool is_private; /* `private fn`: not exported when the unit is imported as a module */
} cryo_fndef;

/* A host function the unit calls: CALLH's X.index. Bound to a context's function by (name,
 * arity) when a VM is created (once per (unit, context), cached). */
typedef struct cryo_hostslot {
    char *name; /* owned */
    uint32_t arity;
} cryo_hostslot;

struct cryo_unit {
    atomic_uint refcount;
    uint32_t nprotos;
    uint32_t nfns;
    uint32_t nhosts;
    uint32_t nglobals; /* host-provided variables: registers 0..nglobals-1 of proto 0 */
    cryo_proto **protos;
    cryo_fndef *fns;
    cryo_hostslot *hosts;
    char *source_name; /* owned, may be NULL */
    /* Bindings of `hosts` to a context's functions, cached per context (see context.c):
     * a lock-free singly linked list, appended with compare-and-swap. */
    _Atomic(struct cryo_binding *) bindings;
    /* The hash index of `fns` for cl_unit_find_fn, built by the first lookup (a unit from an
     * image or the compiler alike) and published with compare-and-swap; NULL until then. */
    _Atomic(struct cl_fn_index *) fn_index;
};

/* FNV-1a over a name's bytes: the one hash of fn names, for the compiler's index (compile.c)
 * and the unit's (unit.c). Names are short; only their bytes count, so a NUL hashes too. */
static inline uint32_t cl_name_hash(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Finds a script fn by name (len bytes, which may hold a NUL: such a name matches no fn) and
 * arity; -1 if none. O(1) on average; safe from any thread. The first of equal definitions wins
 * (the lowest index), as a scan would. */
int cl_unit_find_fn(const cryo_unit *u, const char *name, size_t len, uint32_t arity);

/* Frees a unit (called by the last cryo_unit_release). */
void cl_unit_destroy(cryo_unit *u);

/* Frees the bindings cached in u (cl_unit_destroy). Implemented in vm/context.c, which owns
 * the binding's layout: the language layer does not see the VM's types. */
void cvm_unit_free_bindings(cryo_unit *u);

#endif
