/*
 * tls.h — how the library declares its thread-local state (internal).
 */
#ifndef CRYO_TLS_H
#define CRYO_TLS_H

/* Thread-local state of the library (callback VMs, VM pools, channel spin budgets). The
 * initial-exec model makes an access one %fs-relative load even in the shared libraries (the
 * default model there calls __tls_get_addr on every access: several calls per FFI callback).
 * The cost: a program that dlopen()s libcryo takes the few dozen bytes from glibc's static TLS
 * surplus, which is reserved for exactly this. */
#if defined(__GNUC__)
#define CRYO_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#define CRYO_TLS _Thread_local
#endif

#endif
