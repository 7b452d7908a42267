/*
 * debug_exec.c — the dispatch loop of vm.c compiled a second time, with the line hook
 * (debug.c) before every instruction. cvm_exec hands a run over to this copy at entry when
 * the VM has a hook, so the plain loop stays exactly what it was: no test per instruction,
 * the same dispatch code (docs/debugging.md, "What it costs").
 */
#define CRYO_VM_HOOKED    1
#define CRYO_VM_EXEC_NAME cvm_exec_hooked
#include "vm.c"
