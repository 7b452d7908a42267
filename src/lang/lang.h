/*
 * lang.h — the language layer's interface (src/lang/): source to bytecode.
 *
 * Offers: the syntax tree's error values (cl_error_new and friends, ast.h), compiled units
 * and their lookup (unit.h), the instruction set (opcodes.h). The lexer (lex.h) and the
 * compiler's internals (compile.h) stay inside the folder: other layers compile through the
 * public cryo_compile.
 *
 * May use: include/cryo.h and the value layer (value/value.h): a unit's constants are values.
 * Never the VM or anything above it (scripts/check-layers.sh).
 */
#ifndef CRYO_LANG_H
#define CRYO_LANG_H

#include "ast.h"
#include "opcodes.h"
#include "unit.h"

#endif
