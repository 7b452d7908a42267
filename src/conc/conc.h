/*
 * conc.h — the concurrency layer's interface (src/conc/): threads that run scripts.
 *
 * Offers: the bounded MPMC channel (channel.h) and the worker, future, pool and bridge
 * internals (worker.h); their public API is in include/cryo.h.
 *
 * May use: every layer below (value, lang, vm, frozen, lib) through their interface headers.
 */
#ifndef CRYO_CONC_H
#define CRYO_CONC_H

#include "channel.h"
#include "worker.h"

#endif
