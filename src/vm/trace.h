/*
 * trace.h — stack traces of runtime errors (internal; the public walk is in cryo.h).
 *
 * A trace is captured when an error is raised (cryo_vm_raise and every raise through it), never
 * on a path that succeeds: the dispatch loop and calls do not pay for it. Script frames come from
 * vm->frames at that moment; host functions have no VM frame, so the places that call them add
 * theirs when an error comes back out of one (cvm_trace_add_host). Errors copied to another
 * thread or owner copy their trace (cvm_trace_copy) and may gain a marker frame (a callback, a
 * thread boundary).
 */
#ifndef CRYO_TRACE_H
#define CRYO_TRACE_H

#include "cryo.h"

struct cryo_vm;
struct cryo_libreg;
struct cryo_proto;

/* One frame and the VM frame index it belongs to (-1: none, e.g. after a copy). A host frame
 * records the index of the script frame that called it. */
typedef struct cryo_trace_item {
    cryo_trace_frame f;
    int depth;
} cryo_trace_item;

/* One malloc'd block: the items, then their strings. */
struct cryo_trace {
    int n;
    cryo_trace_item e[];
};

/* Replaces e->trace with the VM's current frames (innermost first). Out of memory leaves no
 * trace; never raises. */
void cvm_trace_capture(struct cryo_vm *vm, cryo_error *e);

/* A host function `name`, called from the VM's frame `depth`, returned an error: inserts its
 * frame under the frames the error already has above `depth` (those of script code it called
 * back), unless one is there already. `reg` (may be NULL) tells builtin from host. */
void cvm_trace_add_host(cryo_error *e, const char *name, const struct cryo_libreg *reg, int depth);

/* Adds an outermost frame of `kind` named `name` (a callback's entry from C). Exported for
 * libcryo_ffi (ffi/callback.c), like sync.h's hot-call functions; not part of cryo.h. */
CRYO_API void cvm_trace_add_outer(cryo_error *e, cryo_frame_kind kind, const char *name);

/* e->trace becomes: `inner`'s frames, a marker frame (kind, name), then e's own frames. Used
 * when an error crosses threads (join re-raises a spawned thread's error). */
void cvm_trace_prepend(cryo_error *e, const struct cryo_trace *inner, cryo_frame_kind kind,
                       const char *name);

/* An owned copy (NULL for NULL or out of memory) and its release. (The copy is exported for
 * libcryo_ffi too.) */
CRYO_API struct cryo_trace *cvm_trace_copy(const struct cryo_trace *t);
void cvm_trace_free(struct cryo_trace *t);

/* A function's name as traces and the line hook show it: "<main>" for a unit's top level,
 * "<closure>" for a closure, else its name as written. */
const char *cvm_trace_fn_name(const struct cryo_proto *p);

/* True when `reg` is a registration of the standard package (package.c). */
bool cvm_libreg_is_std(const struct cryo_libreg *reg);

#endif
