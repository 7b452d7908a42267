/*
 * frozen.h — the frozen layer's interface (src/frozen/): values that outlive a VM and cross
 * threads.
 *
 * Offers (sync.h): ConstValues (freezing, atomic retain/release of frozen objects),
 * SyncFunctions (building one from a closure, its hot call path) and pins (a VM keeping the
 * frozen objects its values point into alive); images (image.c: units and ConstValues as bytes).
 *
 * May use: the VM layer (vm/vm.h) and what it includes (lang, value). The VM calls back into
 * this layer only through the few functions vm.h declares under "Provided by frozen/".
 */
#ifndef CRYO_FROZEN_H
#define CRYO_FROZEN_H

#include "sync.h"

#endif
