/*
 * ext.h — the extension layer's interface (src/ext/): what code outside the core (ffi/) builds
 * on.
 *
 * Offers today: the C pointer value kind (pointer.c; cv_pointer_* and cx_ptr_* are
 * declared in value/value.h, which the value layer's repr and indexing call). Everything
 * ffi/ uses of the core is reached through this header.
 *
 * May use: every layer below (value, lang, vm, frozen, lib, conc).
 */
#ifndef CRYO_EXT_H
#define CRYO_EXT_H

#include "frozen/frozen.h"
#include "vm/vm.h"

#endif
