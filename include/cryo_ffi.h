/*
 * cryo_ffi.h — the FFI layer of cryo (library `cryo_ffi`, which needs libffi; the core library
 * does not). Three things:
 *
 *   1. C declarations as strings. "double cos(double)", "int (*)(const void *, const void *)",
 *      "int printf(const char *fmt, ...)", and struct definitions given once to a scope
 *      ("struct point { double x, y; };"). A bad declaration is an error value naming the
 *      column and what was expected.
 *   2. Calling C from scripts. cryo_ffi_package_add() registers a C function in a package by
 *      its declaration and address, with no hand-written wrapper. Scripts of a context with the
 *      CRYO_CAP_FFI capability also get the `ffi::` module (cryo_ffi_package()).
 *   3. Callbacks. cryo_ffi_callback_new() turns a SyncFunction and a function-pointer type into
 *      a real C function pointer (a precompiled thunk for common signatures, else a libffi
 *      closure) callable from any thread, concurrently.
 *
 * Conversions (script value <-> C), in short (docs/ffi.md has the table):
 *   integer types     i64 (also char and bool arguments); range-checked on the way to C
 *   float, double     f64 (an i64 argument is converted)
 *   long double       f64 (widened from / rounded to a double: the extra precision is lost)
 *   T _Complex        #{re, im} (arguments also [re, im] or a number), T float/double/long double
 *   _Bool / bool      bool
 *   char * (args)     a string is passed as a NUL-terminated copy that lives for the call
 *   char * (returns)  a string (NULL gives ())
 *   T *               a typed pointer value (`ptr`), () is NULL
 *   struct S          a map with the field names (by value), both directions
 *   void              ()
 *
 * Threads: scopes are built by one thread and then read-only (struct definitions take a lock);
 * signatures are immutable; a callback may be called from any thread at once.
 *
 * Ownership and errors follow cryo.h: "owned by the caller" means the caller frees it with the
 * matching free function; errors are values (cryo_error, kind and message naming what and
 * where), never an abort or a longjmp through C frames.
 */
#ifndef CRYO_FFI_H
#define CRYO_FFI_H

#include "cryo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Scopes and declarations
 * ---------------------------------------------------------------------------------------- */

/* A scope holds struct definitions and owns the signatures and registrations made with it.
 * NULL wherever a scope is asked for means the process-wide default scope (never freed; the
 * one scripts' ffi:: functions use). */
typedef struct cryo_ffi_scope cryo_ffi_scope;

/* A new empty scope, owned by the caller (cryo_ffi_scope_free). NULL if out of memory. Any
 * thread. */
CRYO_API cryo_ffi_scope *cryo_ffi_scope_new(void);

/* Frees a scope with every signature parsed in it and every function registered through it:
 * packages holding such functions must not be used afterwards, nor callbacks made with its
 * types (its structs and typedefs): free those first. NULL is allowed; the default
 * scope is never freed. No other thread may use the scope during or after the call. */
CRYO_API void cryo_ffi_scope_free(cryo_ffi_scope *scope);

/* Defines types and constants in `scope`, written as C headers write them:
 *   struct point { double x, y; };          struct rect { struct point a, b; int tag[4]; };
 *   struct sqlite3;                          (declared, incomplete: usable through pointers)
 *   typedef struct sqlite3 sqlite3;          typedef long long int sqlite_int64;
 *   typedef void (*sqlite3_destructor_type)(void*);   typedef struct { int x; } pt_t;
 *   enum color { RED, GREEN = 4, BLUE };     (constants RED = 0, GREEN = 4, BLUE = 5)
 *   #define SQLITE_UTF8 1                    (an integer constant expression)
 *   #define SQLITE_API                       (empty: skipped in this scope's declarations)
 * Fields may be any complete type, fixed arrays included. Typedef names, `struct NAME` and
 * `enum NAME` then work in every declaration of the scope (cryo_ffi_parse, callbacks, ffi::
 * functions for the default scope). A struct named before its definition (`struct sqlite3 *`
 * in any declaration) is incomplete: a pointer to it is fine, by value (parameter, result,
 * field, array element) is an error naming it; a later `struct NAME { ... };` completes it.
 * An enum type is `int` when its values fit (else unsigned int, uint64_t or int64_t).
 * Thread-safe (the scope's lock is held for each parse). On error returns CRYO_ERR_PARSE and,
 * if `err` is not NULL, stores an owned error (line and 1-based column, message = what was
 * expected and found); definitions before the error are kept. Errors: redefining a struct or
 * enum, a typedef redefined as another type (the same type again is allowed, as in C11), a
 * constant redefined with another value, an unknown type name, function prototypes (declare
 * those with cryo_ffi_parse) and preprocessor lines other than #define. */
CRYO_API cryo_error_kind cryo_ffi_cdef(cryo_ffi_scope *scope, const char *decls, cryo_error **err);

/* The value of the integer constant `name` of `scope` (an enumerator or a #define given to
 * cryo_ffi_cdef) in *value. CRYO_ERR_NOT_FOUND when the scope has no such constant,
 * CRYO_ERR_API for NULL arguments. Thread-safe. Scripts: ffi::const("NAME") (default scope). */
CRYO_API cryo_error_kind cryo_ffi_const(cryo_ffi_scope *scope, const char *name, int64_t *value);

/* A parsed function declaration or function-pointer type, with its libffi call interface
 * prepared. Owned by its scope (freed with it). */
typedef struct cryo_ffi_sig cryo_ffi_sig;

/* Parses "ret name(params)" or "ret (*)(params)" (a plain function type "ret (params)" is also
 * accepted), or the name of a function pointer typedef of the scope ("sqlite3_callback").
 * Parameter names, const/volatile/restrict, comments, `extern` and a trailing ';' are allowed
 * as headers write them. Returns the signature (owned by the scope) or NULL with an owned error in
 * *err (CRYO_ERR_PARSE: bad syntax, unknown type; CRYO_ERR_MEMORY). Thread-safe. */
CRYO_API cryo_ffi_sig *cryo_ffi_parse(cryo_ffi_scope *scope, const char *decl, cryo_error **err);

/* The declared name ("" for an abstract type), the number of fixed parameters, whether it is
 * variadic, and the text form of the type ("double (double)"; static until the scope dies).
 * Borrowed strings, owned by the scope. Any thread. */
CRYO_API const char *cryo_ffi_sig_name(const cryo_ffi_sig *sig);
CRYO_API int cryo_ffi_sig_nparams(const cryo_ffi_sig *sig);
CRYO_API bool cryo_ffi_sig_variadic(const cryo_ffi_sig *sig);

/* ------------------------------------------------------------------------------------------
 * Calling C
 * ---------------------------------------------------------------------------------------- */

/* Calls the C function `fn` of signature `sig` with script values (borrowed), converting them
 * as described above; the owned result goes to *ret. Runs on the calling thread, in `vm` (its
 * heap receives strings and maps). Errors are raised in `vm` (cryo_vm_error): CRYO_ERR_ARGUMENT
 * for a wrong argument count, CRYO_ERR_TYPE for a value that does not convert (naming the
 * parameter), CRYO_ERR_ARITHMETIC for an integer out of the parameter's range. Variadic extra
 * arguments go as long long (ints), double (floats), int (bool, char), char * (strings) and
 * void * (pointers), as C's default promotions would, and a map as the struct by value of
 * sig's scope whose field names are exactly its keys (CRYO_ERR_TYPE when no struct or two
 * match). No allocation for scalar arguments. On x86-64, arguments libffi would pass wrongly
 * are handed to it in a form it passes right (docs/ffi.md, "Known libffi bugs"). */
CRYO_API cryo_error_kind cryo_ffi_call(cryo_vm *vm, const cryo_ffi_sig *sig, void *fn, int argc,
                                       const cryo_value *argv, cryo_value *ret);

/* Registers the C function at `fn` in `pkg` under its declared name (or `name` when not NULL)
 * by its declaration, e.g. cryo_ffi_package_add(pkg, NULL, NULL, "double cos(double)",
 * (void *)cos, &err). Scripts then call it like any host function, with the conversions above.
 * The signature lives in `scope` (NULL = default scope): the scope must outlive the package.
 * Errors: CRYO_ERR_PARSE (declaration; *err owned), CRYO_ERR_API (sealed package, NULL).
 * On the package's building thread. */
CRYO_API cryo_error_kind cryo_ffi_package_add(cryo_package *pkg, cryo_ffi_scope *scope,
                                              const char *name, const char *decl, void *fn,
                                              cryo_error **err);

/* ------------------------------------------------------------------------------------------
 * Callbacks: SyncFunctions as C function pointers
 * ---------------------------------------------------------------------------------------- */

typedef struct cryo_ffi_callback cryo_ffi_callback;

/* Called, on the calling thread, when a call of the callback fails (script error, or a result
 * of the wrong type: kind CRYO_ERR_TYPE). `err` is borrowed for the call. The callback then
 * returns its default value. */
typedef void (*cryo_ffi_error_fn)(void *userdata, const cryo_ffi_callback *cb,
                                  const cryo_error *err);

/* Makes a C function pointer of type `fnptr_type` ("int (*)(const void *, const void *)")
 * that calls `f` (retained by the callback). Each call converts the C arguments into values
 * (integers, floats, bools, typed pointers, structs as maps), runs `f` on the calling thread's
 * pooled VM, and converts the result back. No allocation per call when the arguments and the
 * result are scalars or pointers. A script error never unwinds through C: the callback returns
 * its default (zero unless cryo_ffi_callback_set_default said otherwise), counts the failure,
 * keeps its error (cryo_ffi_callback_failures) and calls the error handler; without a handler
 * the failure goes to the process-wide log of unhandled failures (cryo_ffi_take_unhandled).
 * Returns NULL with an owned error in *err on a bad type (CRYO_ERR_PARSE), when the type passes
 * another number of arguments than `f` takes (CRYO_ERR_ARGUMENT: "callback type 'int (*)(int)'
 * passes 1 argument; the function (the closure defined at line 3) takes 2", at the function's
 * line), or when out of memory (NULL, *err NULL). The pointer is a direct thunk when the
 * signature is in the thunk table and one of its slots is free, else a libffi closure
 * (cryo_ffi_callback_path). */
CRYO_API cryo_ffi_callback *cryo_ffi_callback_new(cryo_sync *f, cryo_ffi_scope *scope,
                                                  const char *fnptr_type, cryo_error **err);

/* The C function pointer (cast it to the declared type), owned by the callback: valid until
 * cryo_ffi_callback_free. Any thread. */
CRYO_API void *cryo_ffi_callback_ptr(const cryo_ffi_callback *cb);

/* Flags of cryo_ffi_callback_new_ex. CRYO_FFI_CALLBACK_LIBFFI: make a libffi closure even when
 * the signature has direct thunks (to compare the two paths, or to keep the thunk slots free). */
#define CRYO_FFI_CALLBACK_LIBFFI 1u

/* cryo_ffi_callback_new with flags (0 gives exactly cryo_ffi_callback_new). Same ownership,
 * threads and errors; other flag bits are reserved: NULL with CRYO_ERR_API in *err. */
CRYO_API cryo_ffi_callback *cryo_ffi_callback_new_ex(cryo_sync *f, cryo_ffi_scope *scope,
                                                     const char *fnptr_type, unsigned flags,
                                                     cryo_error **err);

/* How a callback's code pointer reaches the script (docs/ffi.md, "Two paths"):
 *   CRYO_FFI_PATH_THUNK   a precompiled C function of the callback's exact type (its signature
 *                         is in the thunk table and a slot of it was free when it was made);
 *   CRYO_FFI_PATH_LIBFFI  a libffi closure (any other signature, all slots taken, or forced
 *                         with CRYO_FFI_CALLBACK_LIBFFI);
 *   CRYO_FFI_PATH_NONE    cb is NULL.
 * Both paths run the same handler: conversions, hot path, error policy and bounds are the
 * same. Fixed for the callback's life. Any thread, no lock. */
typedef enum cryo_ffi_path {
    CRYO_FFI_PATH_NONE = 0,
    CRYO_FFI_PATH_THUNK = 1,
    CRYO_FFI_PATH_LIBFFI = 2,
} cryo_ffi_path;
CRYO_API cryo_ffi_path cryo_ffi_callback_path(const cryo_ffi_callback *cb);

/* Sets the value returned when a call fails: `size` bytes at `value` (copied; at most the
 * return type's size; a struct return type takes a whole struct). CRYO_ERR_API for a NULL
 * callback, NULL value with size > 0, or more bytes than the return type has. Not thread-safe
 * with calls in flight: set it before handing the pointer out. */
CRYO_API cryo_error_kind cryo_ffi_callback_set_default(cryo_ffi_callback *cb, const void *value,
                                                       size_t size);

/* Sets the error handler: failures reported to it count as handled (not logged process-wide).
 * NULL removes it. Same thread rule as set_default. */
CRYO_API void cryo_ffi_callback_set_error_handler(cryo_ffi_callback *cb, cryo_ffi_error_fn fn,
                                                  void *userdata);

/* The number of calls that failed so far (atomic; any thread). */
CRYO_API uint64_t cryo_ffi_callback_errors(const cryo_ffi_callback *cb);

/* The failures of the callback so far: returns their count and, when `first` / `last` are not
 * NULL, owned copies of the first and the last failure's error (kind, message, line, column of
 * the script; cryo_error_free), NULL when none (with one failure both are that one). Any thread,
 * while calls run (a lock taken only here and on failures). Reading does not reset anything and
 * does not mark the failures handled. */
CRYO_API uint64_t cryo_ffi_callback_failures(cryo_ffi_callback *cb, cryo_error **first,
                                             cryo_error **last);

/* Takes the process-wide log of callback failures that nothing handled: failed calls of
 * callbacks without an error handler, not read by a script with ffi::failures(cb), since the
 * last take (also of callbacks freed since). Returns how many calls failed and, when `errors`
 * is not NULL, an owned chain (cryo_error_free; `next` links them) with, per callback, its
 * first failure ("callback 'int (*)(const int *, const int *)' (the closure defined at line 2):
 * 17 failed calls that nothing handled; the first: ..." at the script's line and column) and
 * its last one; *errors NULL when there were none. Empties the log. The CLI calls it after
 * each run and exits with status 1 when it is not 0. Thread-safe. The log keeps at most 64
 * callbacks; failures of more are counted in a last entry. */
CRYO_API uint64_t cryo_ffi_take_unhandled(cryo_error **errors);

/* Bounds of every call of the callback started afterwards (an operations budget, a deadline;
 * cryo_call_bounds in cryo.h: a field 0 falls back to the SyncFunction's default from
 * cryo_sync_set_bounds, UINT64_MAX means none). A call past a bound fails like any script
 * error: the default result, the error handler with CRYO_ERR_TOO_MANY_OPERATIONS or
 * CRYO_ERR_INTERRUPTED ("timed out"). NULL clears them. Thread-safe: any thread, while calls
 * run (each call reads them when it starts). */
CRYO_API void cryo_ffi_callback_set_bounds(cryo_ffi_callback *cb, const cryo_call_bounds *bounds);

/* Interrupts every call of the callback running now, on any thread: each returns its default
 * result and reports CRYO_ERR_INTERRUPTED to the error handler within a few thousand script
 * operations; later calls are not affected. cryo_sync_interrupt on its SyncFunction also stops
 * them. Thread-safe, no lock, no allocation; the caller must not race it with
 * cryo_ffi_callback_free. NULL is ignored. */
CRYO_API void cryo_ffi_callback_interrupt(cryo_ffi_callback *cb);

/* Frees the closure (or gives its thunk slot back, for reuse by the next callback of that
 * signature) and releases `f`. The pointer becomes invalid at once: the host must make
 * sure no C code calls it any more (and that no call is in flight). NULL is allowed. Any
 * thread, once. */
CRYO_API void cryo_ffi_callback_free(cryo_ffi_callback *cb);

/* ------------------------------------------------------------------------------------------
 * The ffi:: script module
 * ---------------------------------------------------------------------------------------- */

/* The package of the `ffi::` module: ffi::open(path) / ffi::open() (the running process),
 * ffi::func(lib, decl), ffi::call(f, args...), ffi::callback(f, fnptr_type), ffi::new(type, n),
 * ffi::cdef(decls), ffi::const(name), ffi::cast(p, type), ffi::addr(p), ffi::string(p),
 * ffi::null(), ffi::failures(cb) (#{count, first, last} of a callback made by ffi::callback;
 * the errors as maps #{kind, message, line, column} or (); reading them takes note of them:
 * they are no longer unhandled). ffi::cdef and ffi::const use the default scope.
 * Sealed, built once, borrowed (never released), thread-safe. Put it only in contexts created
 * with CRYO_CAP_FFI: a script of any other context does not find these names, and pointer
 * values (the only way to touch memory) come only from these functions. ffi::callback and
 * ffi::new values own their closure / buffer and free it when the last reference goes. */
CRYO_API cryo_package *cryo_ffi_package(void);

/* A context with the standard package, the ffi package and CRYO_CAP_FFI (the CLI's --ffi).
 * Owned by the caller (cryo_context_release). NULL if out of memory. Any thread. */
CRYO_API cryo_context *cryo_ffi_context_new(void);

/* The version of libffi this library was built against ("3.4.4"; "unknown" when pkg-config
 * gave none): static string, any thread. The libffi loaded at run time may differ (it keeps
 * its soname across 3.4.x); cryo's workarounds for libffi bugs (docs/ffi.md, "Known libffi bugs")
 * do not depend on either. */
CRYO_API const char *cryo_ffi_libffi_version(void);

#ifdef __cplusplus
}
#endif
#endif /* CRYO_FFI_H */
