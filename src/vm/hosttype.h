/*
 * hosttype.h — host types: the hooks of a handle type (cryo_host_ops, cryo.h) called from the
 * slow paths of properties, indexing, operators, printing and iteration (internal).
 *
 * Each function returns CRYO_OK or an error kind with *done set when a hook handled the
 * operation, and leaves *done false (returning CRYO_OK) when there is no hook or it declined:
 * the caller then does what it did before host types (its usual error included).
 */
#ifndef CRYO_HOSTTYPE_H
#define CRYO_HOSTTYPE_H

#include "vm.h"

cryo_error_kind cvm_host_get(cryo_vm *vm, cryo_value obj, const char *name, cryo_value *out,
                             bool *done);
/* `v` is borrowed. */
cryo_error_kind cvm_host_set(cryo_vm *vm, cryo_value obj, const char *name, cryo_value v,
                             bool *done);
cryo_error_kind cvm_host_index_get(cryo_vm *vm, cryo_value obj, cryo_value idx, cryo_value *out,
                                   bool *done);
cryo_error_kind cvm_host_index_set(cryo_vm *vm, cryo_value obj, cryo_value idx, cryo_value v,
                                   bool *done);
/* `op` is an opcode (OP_ADD ... OP_GE, OP_NEG, OP_NOT). */
cryo_error_kind cvm_host_binary(cryo_vm *vm, int op, cryo_value a, cryo_value b, cryo_value *out,
                                bool *done);
cryo_error_kind cvm_host_unary(cryo_vm *vm, int op, cryo_value a, cryo_value *out, bool *done);
/* ITERPREP on a handle with len and index_get: replaces *v with an array of its items. */
cryo_error_kind cvm_host_iterable(cryo_vm *vm, cryo_value *v, bool *done);

#endif
