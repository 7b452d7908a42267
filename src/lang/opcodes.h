/*
 * opcodes.h — cryo's bytecode: every instruction and its operands.
 *
 * A register machine in the manner of Lua 5.4. An instruction is 32 bits:
 *
 *     bits  0..7   op
 *     bits  8..15  A
 *     bits 16..23  B
 *     bits 24..31  C
 *     bits 16..31  Bx  (unsigned 16 bits, B and C together)
 *                  sBx (Bx - CRYO_SBX_BIAS, signed)
 *     bits  8..31  sJ  (A, B and C together, minus CRYO_SJ_BIAS, signed; jumps only)
 *
 * R[x] is register x of the current frame (frame base + x); K[x] the current proto's constant
 * x. A frame has at most 250 registers. Jump offsets are relative to the instruction after the
 * jump (pc already advanced): target = pc + 1 + offset, with pc the jump's own index.
 *
 * Some instructions are followed by one EXTRA word (a raw 32-bit operand, never executed):
 *
 *     bits  0..15  index (proto index or host slot)
 *     bits 16..23  receiver register r
 *     bits 24..26  receiver mode: 0 none, 1 R[r] itself, 2 the cell held in R[r], 3 `this`,
 *                  4 the element a path PIN left in R[r], R[r+1] (see "Paths in detail")
 *     bits 27..31  reserved (0)
 *
 * Invariants the compiler keeps and the VM relies on:
 * - registers above a frame's live locals hold () or stale values the VM may overwrite with
 *   cv_set (every register always holds a valid value; a new frame's registers past its
 *   arguments are () when entered);
 * - a local that a closure captures lives in a cell from its declaration on: its register holds
 *   a CRYO_T_CELL value and is read/written with GETCELL/SETCELL;
 * - conditions (if, while, &&, ||, !) must be bool: JMPT/JMPF/NOT on another type is a type
 *   error, as in Rhai.
 */
#ifndef CRYO_OPCODES_H
#define CRYO_OPCODES_H

#include <stdint.h>

typedef uint32_t cryo_instr;

#define CRYO_MAX_REGS 250
#define CRYO_SBX_BIAS 32767
#define CRYO_SJ_BIAS  0x7FFFFF

#define CRYO_OP(i)  ((unsigned)((i)&0xFF))
#define CRYO_A(i)   ((unsigned)(((i) >> 8) & 0xFF))
#define CRYO_B(i)   ((unsigned)(((i) >> 16) & 0xFF))
#define CRYO_C(i)   ((unsigned)(((i) >> 24) & 0xFF))
#define CRYO_BX(i)  ((unsigned)((i) >> 16))
#define CRYO_SBX(i) ((int)CRYO_BX(i) - CRYO_SBX_BIAS)
#define CRYO_SJ(i)  ((int)((i) >> 8) - CRYO_SJ_BIAS)

#define CRYO_ABC(op, a, b, c)                                                                      \
    ((cryo_instr)(op) | ((cryo_instr)(a) << 8) | ((cryo_instr)(b) << 16) | ((cryo_instr)(c) << 24))
#define CRYO_ABX(op, a, bx)   ((cryo_instr)(op) | ((cryo_instr)(a) << 8) | ((cryo_instr)(bx) << 16))
#define CRYO_ASBX(op, a, sbx) CRYO_ABX(op, a, (unsigned)((sbx) + CRYO_SBX_BIAS))
#define CRYO_SJX(op, sj)      ((cryo_instr)(op) | ((cryo_instr)((sj) + CRYO_SJ_BIAS) << 8))

/* EXTRA word */
#define CRYO_X_INDEX(x) ((unsigned)((x)&0xFFFF))
#define CRYO_X_RECV(x)  ((unsigned)(((x) >> 16) & 0xFF))
#define CRYO_X_MODE(x)  ((unsigned)(((x) >> 24) & 0x7))
#define CRYO_EXTRA(index, recv, mode)                                                              \
    ((cryo_instr)(index) | ((cryo_instr)(recv) << 16) | ((cryo_instr)(mode) << 24))
enum {
    CRYO_RECV_NONE = 0,
    CRYO_RECV_REG = 1,
    CRYO_RECV_CELL = 2,
    CRYO_RECV_THIS = 3,
    CRYO_RECV_PATH = 4
};

/* SETPATH's raw words (see "Paths in detail" below) */
enum { CRYO_PATH_REG = 0, CRYO_PATH_CELL = 1, CRYO_PATH_THIS = 2, CRYO_PATH_UPV = 3 };
/* SETPATH's C for a method call on a path, instead of a store or an operator */
enum { CRYO_PATH_UNPIN = 254, CRYO_PATH_PIN = 255 };
#define CRYO_PATH_ROOT(index, kind)   ((cryo_instr)(index) | ((cryo_instr)(kind) << 8))
#define CRYO_PATH_ROOT_INDEX(w)       ((unsigned)((w)&0xFF))
#define CRYO_PATH_ROOT_KIND(w)        ((unsigned)(((w) >> 8) & 0x3))
#define CRYO_PATH_STEP(key, is_index) ((cryo_instr)(key) | ((cryo_instr)((is_index) != 0) << 16))
#define CRYO_PATH_STEP_KEY(w)         ((unsigned)((w)&0xFFFF))
#define CRYO_PATH_STEP_IS_INDEX(w)    ((unsigned)(((w) >> 16) & 1))

/* X-macro: name, format, description. Formats: ABC, ABx, AsBx, sJ. */
#define CRYO_OPCODES(X)                                                                            \
    /* --- loads and moves ----------------------------------------------------------------- */    \
    X(MOVE, ABC, "R[A] = R[B]")                                                                    \
    X(LOADK, ABx, "R[A] = K[Bx]")                                                                  \
    X(LOADI, AsBx, "R[A] = sBx (an int)")                                                          \
    X(LOADBOOL, ABC, "R[A] = (B != 0)")                                                            \
    X(LOADUNIT, ABC, "R[A], ..., R[A+B] = ()")                                                     \
    /* --- captured variables ------------------------------------------------------------ */      \
    X(NEWCELL, ABC, "R[A] = new cell holding the value of R[A]")                                   \
    X(GETCELL, ABC, "R[A] = value in the cell R[B]")                                               \
    X(SETCELL, ABC, "value in the cell R[A] = R[B]")                                               \
    X(GETUPV, ABC, "R[A] = value in the closure's capture B")                                      \
    X(SETUPV, ABC, "value in the closure's capture B = R[A]")                                      \
    X(CLOSURE, ABx, "R[A] = closure of proto Bx; its captures per proto->caps (see unit.h)")       \
    X(THIS, ABC, "R[A] = this (error when the function was not called as a method)")               \
    X(SETTHIS, ABC, "this = R[A] (error when there is no this)")                                   \
    /* --- arithmetic: R[A] = R[B] op R[C]; int fast path, checked ------------------------ */     \
    X(ADD, ABC, "R[A] = R[B] + R[C] (numbers; string/char concat; array concat)")                  \
    X(SUB, ABC, "R[A] = R[B] - R[C]")                                                              \
    X(MUL, ABC, "R[A] = R[B] * R[C]")                                                              \
    X(DIV, ABC, "R[A] = R[B] / R[C] (int division truncates; /0 is an arithmetic error)")          \
    X(MOD, ABC, "R[A] = R[B] % R[C]")                                                              \
    X(POW, ABC, "R[A] = R[B] ** R[C]")                                                             \
    X(SHL, ABC, "R[A] = R[B] << R[C]")                                                             \
    X(SHR, ABC, "R[A] = R[B] >> R[C]")                                                             \
    X(BAND, ABC, "R[A] = R[B] & R[C] (ints: bitwise; bools: logical, both evaluated)")             \
    X(BOR, ABC, "R[A] = R[B] | R[C]")                                                              \
    X(BXOR, ABC, "R[A] = R[B] ^ R[C]")                                                             \
    X(ADDI, ABC, "R[A] = R[B] + (C - 128) (int fast path; else as ADD with an int)")               \
    X(SUBI, ABC, "R[A] = R[B] - (C - 128) (int fast path; else as SUB with an int)")               \
    X(EQ, ABC, "R[A] = R[B] == R[C]")                                                              \
    X(NE, ABC, "R[A] = R[B] != R[C]")                                                              \
    X(LT, ABC, "R[A] = R[B] < R[C]")                                                               \
    X(LE, ABC, "R[A] = R[B] <= R[C]")                                                              \
    X(GT, ABC, "R[A] = R[B] > R[C]")                                                               \
    X(GE, ABC, "R[A] = R[B] >= R[C]")                                                              \
    X(IN, ABC, "R[A] = R[B] in R[C] (array element, substring/char, map key, range member)")       \
    X(NEG, ABC, "R[A] = -R[B]")                                                                    \
    X(NOT, ABC, "R[A] = !R[B] (bool only)")                                                        \
    X(RANGE, ABC, "R[A] = R[B]..R[C]")                                                             \
    X(RANGEI, ABC, "R[A] = R[B]..=R[C]")                                                           \
    /* --- jumps ------------------------------------------------------------------------- */      \
    X(JMP, sJ, "pc += sJ (a backward jump counts an operation and polls the interrupt flag)")      \
    X(JMPT, AsBx, "if R[A] then pc += sBx (R[A] must be bool)")                                    \
    X(JMPF, AsBx, "if not R[A] then pc += sBx (R[A] must be bool)")                                \
    X(JMPU, AsBx, "if R[A] is () then pc += sBx (`?.` `?[`: skip the rest of the chain)")          \
    X(JMPNU, AsBx, "if R[A] is not () then pc += sBx (`a ?? b`: skip b)")                          \
    X(ISTYPE, ABC, "R[A] = (type_of(R[B]) == the string R[C]) (typed methods `fn T.m()`)")         \
    /* --- containers ---------------------------------------------------------------------- */    \
    X(NEWARRAY, ABC, "R[A] = new empty array with room for B elements")                            \
    X(APPEND, ABC, "push R[B] onto the array R[A]")                                                \
    X(NEWMAP, ABC, "R[A] = new empty map with room for B entries")                                 \
    X(GETINDEX, ABC, "R[A] = R[B][R[C]] (negative ints count from the end)")                       \
    X(GETINDEXI, ABC, "R[A] = R[B][C] (a constant index 0..255; otherwise as GETINDEX)")           \
    X(SETINDEX, ABC, "R[A][R[B]] = R[C] (R[A] made unique first)")                                 \
    X(GETFIELD, ABC, "R[A] = R[B].K[C] (map: missing = (); other types: getter named K[C])")       \
    X(SETFIELD, ABC, "R[A].K[B] = R[C] (map; R[A] made unique first)")                             \
    X(GETFIELDX, ABC, "R[A] = R[B].K[X.index], as GETFIELD for keys past K[255]; EXTRA X follows") \
    X(SETFIELDX, ABC, "R[A].K[X.index] = R[B], as SETFIELD for keys past K[255]; EXTRA X follows") \
    X(SETPATH, ABC, "write through a path: see below; 1 + B raw words follow")                     \
    X(CONCAT, ABC, "R[A] = R[B] ++ ... ++ R[B+C-1], each as to_string (interpolation)")            \
    /* --- iteration ----------------------------------------------------------------------- */    \
    X(ITERPREP, AsBx, "check R[A] iterable; R[A+1] = iteration state; pc += sBx (to ITERNEXT)")    \
    X(ITERNEXT, AsBx, "if R[A] has more: R[A+2] = item, R[A+3] = index, pc += sBx")                \
    /* --- calls --------------------------------------------------------------------------- */    \
    X(CALL, ABC, "script fn X.index, args R[A..A+B-1], result R[A]; EXTRA X follows")              \
    X(CALLH, ABC, "host slot X.index, B args (see below), result R[A]; EXTRA X follows")           \
    X(CALLV, ABC, "call the function value R[A] with args R[A+1..A+B], result R[A]")               \
    X(RET, ABC, "return R[A]")                                                                     \
    X(RET0, ABC, "return ()")                                                                      \
    /* --- errors ---------------------------------------------------------------------------- */  \
    X(TRY, AsBx, "push a handler: on a catchable error, R[A] = error value, pc += sBx")            \
    X(ENDTRY, ABC, "pop the innermost handler")                                                    \
    X(THROW, ABC, "B == 0: raise R[A]; B == 1: re-raise the error last caught (`throw;`)")         \
    X(ERRVAR, ABx, "raise CRYO_ERR_NOT_FOUND: variable K[Bx] not found (unresolved name)")         \
    X(EXTRA, ABx, "operand word of the previous instruction; never executed")

typedef enum cryo_opcode {
#define CRYO_OP_ENUM(name, fmt, doc) OP_##name,
    CRYO_OPCODES(CRYO_OP_ENUM)
#undef CRYO_OP_ENUM
        CRYO_NUM_OPCODES
} cryo_opcode;

/*
 * Calls in detail
 *
 * CALL A B C + EXTRA X — a script `fn` known at compile time (bound by name and arity).
 *   X.index is the proto index in the frame's unit. The callee's frame starts at R[A]: its
 *   parameters are already in place. When X.mode != NONE the call is method-style (`x.f()`):
 *   the callee's `this` refers to R[X.recv] (mode REG), to the value in the cell R[X.recv] (mode
 *   CELL) or to the caller's own `this` (mode THIS), and SETTHIS in the callee writes there. The
 * result replaces R[A].
 *
 * CALLH A B C + EXTRA X — a host function slot (unit->hosts[X.index], bound per context).
 *   argc = B. Without a receiver: argv[i] = &R[A+i]. With a receiver (method call `x.f(a)`,
 *   which passes x by reference so that `x.push(1)` changes x): argv[0] = &R[X.recv] (or the
 *   cell's value for mode CELL, or the caller's `this` for mode THIS) and argv[1..B-1] =
 * &R[A+1..A+B-1]. The result goes to R[A]. When the slot has no host function and the call is
 * method-style on a map that holds a function under the method's name, that function is called with
 * this = the map.
 *
 * CALLV A B — R[A] is a function value (a closure, a script function pointer, Fn("name")).
 *   Curried arguments are inserted before R[A+1..A+B]. Script callees run with their frame
 *   starting at R[A+1]; the result replaces R[A].
 *
 * Paths in detail
 *
 * SETPATH A B C + 1 + B raw words — `root.k1[k2]...kB = R[A]` (C == 0) or `root...kB op= R[A]`
 *   (C = the opcode of the binary operator, OP_ADD .. OP_BXOR), written in place. Word 0 names
 *   the root: bits 0..7 an index, bits 8..9 its kind (CRYO_PATH_REG: R[index]; CRYO_PATH_CELL: the
 *   value in the cell R[index]; CRYO_PATH_THIS: `this`, index 0; CRYO_PATH_UPV: the value in the
 *   closure's capture index). Words 1..B are the steps, outermost first: bits 0..15 a key, bit 16
 *   its kind (0: the field K[key], a string constant; 1: the index R[key], evaluated before
 *   SETPATH like R[A]). B >= 1. The VM walks down with pointers: at each step before the last,
 *   when the slot holds an array (int index in bounds) or a map (the key present) it makes that
 *   container unique (copying it only when shared) and descends into the element's slot, so a
 *   unique container is written in place; any other step (a missing key, a string, a getter)
 *   takes the general route, as GETINDEX/GETFIELD into a temporary, the rest of the path on it,
 *   then SETINDEX/SETFIELD back. The last step is SETINDEX/SETFIELD on the container reached (or,
 *   for op=, the current value combined with R[A] as a compound assignment). An error leaves
 *   every value as it was (a container copied on the way down holds the same contents).
 *
 * SETPATH A B 255 (PIN) + 1 + B raw words, CALL/CALLH with receiver mode 4 (PATH) on R[A], then
 *   SETPATH A B 254 (UNPIN) with the same words — a method call whose receiver is a path
 *   (`this.cons.push(c)`, `o.arr[i].m()`), run on the element in place. PIN walks as a store
 *   does down to the container holding the receiver and leaves it in R[A] (one more reference,
 *   so that nothing else writes into it in place while the call runs) and the last key in
 *   R[A+1]; mode PATH's receiver is that container's element at that key. When the walk cannot
 *   reach an element slot, PIN puts a cell holding the receiver's value (as GETINDEX/GETFIELD
 *   read it) in R[A] and the receiver is the cell's value. UNPIN stores a cell's value back
 *   through the path, or drops the pin. The call's arguments are evaluated before PIN.
 *
 * Iteration in detail
 *
 * ITERPREP A sBx / ITERNEXT A sBx use four registers: R[A] the iterable (array, string, range;
 *   anything else is a type error), R[A+1] the VM's state, R[A+2] the current item, R[A+3] the
 *   0-based index (an int). The compiler places the loop body between them:
 *       ITERPREP A -> L2
 *   L1: body (reads R[A+2], R[A+3])
 *   L2: ITERNEXT A -> L1
 *   Every ITERNEXT that jumps back counts an operation and polls the interrupt flag.
 *
 * Errors in detail
 *
 * TRY A sBx pushes a handler {frame, R[A], target}. A catchable error (kinds up to
 * CRYO_ERR_RUNTIME) raised while it is pushed, in this frame or a callee's, unwinds to it:
 * callee frames are released, R[A] receives the thrown value (for `throw v`: v; for errors
 * raised by the VM or a host function: the error message as a string), and execution continues
 * at the target. ENDTRY pops the handler on the normal path. Handlers never cross a host
 * function boundary: an error inside a script called back by a host function returns to that
 * host function first.
 */

extern const char *const cl_opcode_names[CRYO_NUM_OPCODES];

#endif
