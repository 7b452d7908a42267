/*
 * cryo.h — the public API of cryo, an embeddable scripting language (the core of Rhai's
 * syntax) whose closures can be frozen into thread-safe functions.
 *
 * The objects
 * -----------
 *   cryo_unit     A compiled script: bytecode, constants, line tables. Immutable once
 *                 compiled and atomically reference counted: share one unit between any
 *                 number of VMs on any number of threads.
 *   cryo_context  The host functions a VM sees (today: the standard library). Immutable,
 *                 shared.
 *   cryo_vm       An execution state: registers, call frames and the VM-local heap. Created
 *                 from a unit and a context for almost nothing. One thread at a time.
 *   cryo_value    A 16-byte tagged value. Scalars (unit, bool, int, float, char) are stored
 *                 inline; strings, arrays, maps, functions and ranges point to a heap object
 *                 owned by reference counting. Values are VM-local: never hand one to another
 *                 thread.
 *   cryo_error    An error as a value: kind, message, line and column. A parse error may
 *                 carry several (one per recovered error) chained through `next`.
 *
 * Ownership, in one rule
 * ----------------------
 * A function that returns a pointer or a value "owned by the caller" expects the caller to
 * drop it with the matching free/release function. A parameter documented as "borrowed" is
 * only read during the call. Every value written into an out-parameter `cryo_value *` is owned
 * by the caller and must be released with cryo_value_release().
 *
 * Errors
 * ------
 * Functions that can fail return a cryo_error_kind (CRYO_OK == 0 on success) or NULL, and
 * leave a cryo_error describing what and where. The library never calls abort() or exit()
 * and never longjmps through the caller's frames.
 */
#ifndef CRYO_H
#define CRYO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRYO_VERSION_MAJOR  0
#define CRYO_VERSION_MINOR  1
#define CRYO_VERSION_PATCH  0
#define CRYO_VERSION_STRING "0.1.0"

#if defined(__GNUC__) && !defined(CRYO_STATIC_BUILD)
#define CRYO_API __attribute__((visibility("default")))
#else
#define CRYO_API
#endif

typedef struct cryo_unit cryo_unit;
typedef struct cryo_context cryo_context;
typedef struct cryo_vm cryo_vm;
typedef struct cryo_obj cryo_obj;

/* ------------------------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------------------------- */

/* The kind of an error. Kinds up to CRYO_ERR_RUNTIME are script errors that a script's
 * try/catch can catch; the limit kinds (CRYO_ERR_TOO_MANY_OPERATIONS and after) end the run
 * and only the host sees them. */
typedef enum cryo_error_kind {
    CRYO_OK = 0,
    CRYO_ERR_PARSE,               /* syntax error at compile time */
    CRYO_ERR_COMPILE,             /* well-formed but invalid: assignment to a constant, ... */
    CRYO_ERR_TYPE,                /* operator or function applied to a value of the wrong type */
    CRYO_ERR_ARITHMETIC,          /* integer overflow, division by zero, bad shift */
    CRYO_ERR_INDEX,               /* index or character position out of bounds */
    CRYO_ERR_NOT_FOUND,           /* unknown function, variable or property */
    CRYO_ERR_ARGUMENT,            /* a function received an argument it cannot use */
    CRYO_ERR_CONSTANT,            /* assignment to a constant at run time */
    CRYO_ERR_RUNTIME,             /* a value thrown by `throw` and not caught */
    CRYO_ERR_TOO_MANY_OPERATIONS, /* operation limit reached (not catchable by scripts) */
    CRYO_ERR_STACK_OVERFLOW,      /* call depth or nesting limit reached */
    CRYO_ERR_DATA_TOO_LARGE,      /* string, array or map size limit reached */
    CRYO_ERR_MEMORY,              /* memory limit reached or allocation failed */
    CRYO_ERR_INTERRUPTED,         /* cryo_vm_interrupt() was called */
    CRYO_ERR_API,                 /* the host called the API wrongly (NULL argument, ...) */
} cryo_error_kind;

/* An error. Owned by whoever the returning function names; freed with cryo_error_free(),
 * which frees the whole `next` chain. `message` is a NUL-terminated UTF-8 string owned by the
 * error. `line` and `column` are 1-based; 0 when unknown. `source_name` is the chunk name
 * given to the compiler (may be NULL). */
typedef struct cryo_error {
    cryo_error_kind kind;
    int line;
    int column;
    char *message;
    char *source_name;
    struct cryo_error *next; /* further errors (parse errors are all reported) */
} cryo_error;

/* The name of an error kind ("parse error", "type error", ...). Static storage. */
CRYO_API const char *cryo_error_kind_name(cryo_error_kind kind);

/* Frees an error and every error chained after it. NULL is allowed. */
CRYO_API void cryo_error_free(cryo_error *err);

/* Writes `err` the way the CLI shows it: "name:line:col: kind: message", then the source line
 * and a caret under the column when `source` (the script text, borrowed) is given. Returns a
 * NUL-terminated string owned by the caller (free with free()), or NULL if out of memory. */
CRYO_API char *cryo_error_format(const cryo_error *err, const char *source, size_t source_len);

/* ------------------------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------------------------- */

typedef enum cryo_type {
    CRYO_T_UNIT = 0,
    CRYO_T_BOOL,
    CRYO_T_INT,
    CRYO_T_FLOAT,
    CRYO_T_CHAR,
    /* heap types: as.obj points to a cryo_obj */
    CRYO_T_STRING,
    CRYO_T_ARRAY,
    CRYO_T_MAP,
    CRYO_T_FN,
    CRYO_T_RANGE,
    CRYO_T_SYNCFN,  /* a frozen, thread-safe function (cryo_sync) */
    CRYO_T_HANDLE,  /* an opaque host handle (cryo_handle_type) */
    CRYO_T_POINTER, /* a typed C pointer (FFI capability only) */
    CRYO_T_CELL,    /* internal: a captured variable's shared cell; never seen by hosts */
    CRYO_T__COUNT
} cryo_type;

/* Value flag: the value holds a counted reference to a VM-local heap object. Values without
 * it that point to a heap object point to shared, immutable data (a unit's constants) which
 * is never freed by the VM and is copied on the first write. */
#define CRYO_VF_COUNTED 0x1

/* A value: a tag and a union, 16 bytes. Read it through the accessors below or the fields;
 * build it with the constructors. Heap values must be released with cryo_value_release(). */
typedef struct cryo_value {
    uint8_t type;  /* a cryo_type */
    uint8_t flags; /* CRYO_VF_* */
    uint16_t aux;  /* type-specific spare bits */
    uint32_t aux2;
    union {
        bool b;
        int64_t i;
        double f;
        uint32_t c; /* a Unicode scalar value */
        cryo_obj *obj;
    } as;
} cryo_value;

static inline cryo_value cryo_unit_value(void) {
    cryo_value v = {CRYO_T_UNIT, 0, 0, 0, {.i = 0}};
    return v;
}
static inline cryo_value cryo_bool(bool b) {
    cryo_value v = {CRYO_T_BOOL, 0, 0, 0, {.i = 0}};
    v.as.b = b;
    return v;
}
static inline cryo_value cryo_int(int64_t i) {
    cryo_value v = {CRYO_T_INT, 0, 0, 0, {.i = i}};
    return v;
}
static inline cryo_value cryo_float(double f) {
    cryo_value v = {CRYO_T_FLOAT, 0, 0, 0, {.f = f}};
    return v;
}
static inline cryo_value cryo_char(uint32_t c) {
    cryo_value v = {CRYO_T_CHAR, 0, 0, 0, {.i = 0}};
    v.as.c = c;
    return v;
}

/* Makes a string value from `len` bytes of UTF-8 at `s` (copied). Returns a unit value if
 * memory runs out or the bytes are not valid UTF-8 (invalid sequences are replaced by
 * U+FFFD). The result is owned by the caller. */
CRYO_API cryo_value cryo_value_string(const char *s, size_t len);

/* Adds a reference to a heap value / drops one. Scalars are ignored. Not thread-safe: a value
 * belongs to one thread at a time. */
CRYO_API void cryo_value_retain(cryo_value v);
CRYO_API void cryo_value_release(cryo_value v);

/* The type name a script's type_of() gives: "()", "bool", "i64", "f64", "char", "string",
 * "array", "map", "Fn", "range". Static storage. */
CRYO_API const char *cryo_type_name(cryo_type t);

/* For a string value: its bytes (NUL-terminated, valid while the value is held) and length in
 * bytes. NULL for any other type. */
CRYO_API const char *cryo_value_str(cryo_value v, size_t *len);

/* For an array value: its length and borrowed elements (valid until the array is changed or
 * released). -1 / unit for other types or an index out of bounds. */
CRYO_API int64_t cryo_array_len(cryo_value v);
CRYO_API cryo_value cryo_array_get(cryo_value v, int64_t index);

/* For a map value: its number of entries and the entry at position `index` in key order
 * (keys and values borrowed as above). cryo_map_find looks a key up; returns false when
 * absent. */
CRYO_API int64_t cryo_map_len(cryo_value v);
CRYO_API bool cryo_map_at(cryo_value v, int64_t index, const char **key, size_t *key_len,
                          cryo_value *value);
CRYO_API bool cryo_map_find(cryo_value v, const char *key, cryo_value *value);

/* The value as a script's to_string() shows it (`debug` = false) or as debug() shows it
 * (`debug` = true: strings quoted). Returns a NUL-terminated string owned by the caller
 * (free()), or NULL if out of memory. */
CRYO_API char *cryo_value_to_cstring(cryo_value v, bool debug);

/* ------------------------------------------------------------------------------------------
 * Compiling
 * ---------------------------------------------------------------------------------------- */

typedef struct cryo_compile_options {
    const char *source_name;     /* shown in errors; may be NULL */
    const char *const *globals;  /* names of variables the host provides at run time */
    int nglobals;                /* (cryo_vm_run's `globals` gives their values, in order) */
    const bool *global_is_const; /* may be NULL; true = the script may not assign it */
    bool expression_only;        /* accept a single expression, as Rhai's eval_expression */
} cryo_compile_options;

/* Compiles `len` bytes of script source. On success returns a unit owned by the caller (one
 * reference; drop it with cryo_unit_release) and leaves *err NULL. On failure returns NULL and,
 * if `err` is not NULL, stores there an error chain owned by the caller: every error the parser
 * could recover from, in source order. `opts` may be NULL. Thread-safe: any number of threads
 * may compile at once. */
CRYO_API cryo_unit *cryo_compile(const char *source, size_t len, const cryo_compile_options *opts,
                                 cryo_error **err);

/* Adds / drops a reference to a unit. Thread-safe (atomic count); the last release frees it,
 * and must not race with the unit's use by any VM (each VM holds its own reference). */
CRYO_API cryo_unit *cryo_unit_retain(cryo_unit *unit);
CRYO_API void cryo_unit_release(cryo_unit *unit);

/* Writes a human-readable listing of the unit's bytecode to `out` (a FILE *). For tools. */
CRYO_API void cryo_unit_dump(const cryo_unit *unit, void *out);

/* ------------------------------------------------------------------------------------------
 * Contexts
 * ---------------------------------------------------------------------------------------- */

/* The context holding the standard library (strings, arrays, maps, math, conversion). Built
 * once, shared, never freed: the returned pointer is borrowed and valid for the life of the
 * process. Thread-safe. */
CRYO_API cryo_context *cryo_context_std(void);

/* A context with no host functions at all (Rhai's Engine::new_raw). Same lifetime rules. */
CRYO_API cryo_context *cryo_context_raw(void);

/* ------------------------------------------------------------------------------------------
 * VMs
 * ---------------------------------------------------------------------------------------- */

/* Creates a VM that runs `unit` with the host functions of `ctx` (NULL = the standard
 * context). The VM takes its own reference to the unit. Returns NULL only when out of memory.
 * The VM is owned by the caller (cryo_vm_free) and may be used by one thread at a time. */
CRYO_API cryo_vm *cryo_vm_new(cryo_unit *unit, cryo_context *ctx);

/* Frees a VM, every value it still holds and its reference to the unit. NULL is allowed. */
CRYO_API void cryo_vm_free(cryo_vm *vm);

/* Runs the unit's top level. `globals` (borrowed; may be NULL when nglobals is 0) gives the
 * values of the variables named by cryo_compile_options.globals, in the same order. On success
 * returns CRYO_OK and stores the value of the script's last expression in *result (owned by
 * the caller; may be NULL to discard it). On failure returns the error's kind; the error is
 * then available from cryo_vm_error() until the next run. The VM stays usable after an error. */
CRYO_API cryo_error_kind cryo_vm_run(cryo_vm *vm, const cryo_value *globals, int nglobals,
                                     cryo_value *result);

/* The error of the last failed run or call, owned by the VM (valid until the next run or call
 * on the VM, or cryo_vm_free). NULL after a success. */
CRYO_API const cryo_error *cryo_vm_error(const cryo_vm *vm);

/* Calls the script function `name` with `argc` arguments (borrowed). Same result and error
 * rules as cryo_vm_run. The unit's top level need not have run. */
CRYO_API cryo_error_kind cryo_vm_call(cryo_vm *vm, const char *name, int argc,
                                      const cryo_value *argv, cryo_value *result);

/* Where print() and debug() go. `text` is borrowed for the call. The default writes a line to
 * stdout (print) or stderr (debug). Pass NULL to restore the default. */
typedef void (*cryo_print_fn)(void *userdata, const char *text, size_t len);
CRYO_API void cryo_vm_set_print(cryo_vm *vm, cryo_print_fn fn, void *userdata);
CRYO_API void cryo_vm_set_debug(cryo_vm *vm, cryo_print_fn fn, void *userdata);

/* Limits. 0 means unlimited. Exceeding one ends the run with the limit's error kind; scripts
 * cannot catch it. */
typedef enum cryo_limit {
    CRYO_LIMIT_OPERATIONS,  /* instructions executed per run (counted at loops and calls) */
    CRYO_LIMIT_CALL_DEPTH,  /* nested function calls (default 64) */
    CRYO_LIMIT_STRING_SIZE, /* bytes in one string */
    CRYO_LIMIT_ARRAY_SIZE,  /* elements in one array */
    CRYO_LIMIT_MAP_SIZE,    /* entries in one map */
    CRYO_LIMIT_MEMORY,      /* bytes of the VM heap */
    CRYO_LIMIT__COUNT
} cryo_limit;
CRYO_API void cryo_vm_set_limit(cryo_vm *vm, cryo_limit which, uint64_t value);
CRYO_API uint64_t cryo_vm_get_limit(const cryo_vm *vm, cryo_limit which);

/* Asks a running VM to stop at its next check (loops and calls); the run ends with
 * CRYO_ERR_INTERRUPTED. Thread-safe: the one function that may be called on a VM from another
 * thread. The flag is cleared when the next run starts. */
CRYO_API void cryo_vm_interrupt(cryo_vm *vm);

/* ==========================================================================================
 * The embedding API: host functions, packages, contexts, pooled VMs, handles, limits.
 * (Issue "Shared units and packages".) Implemented in src/package.c, src/context.c,
 * src/pool.c, src/handle.c, src/vm_api.c.
 * ======================================================================================== */

/* A host function. `argv[0..argc-1]` point to the arguments: borrowed, except that a method's
 * receiver (argv[0] of `x.f(..)`) may be changed in place so that `x.push(1)`-style functions
 * change the caller's variable. The function stores its result, owned, in *ret (which holds ()
 * on entry) and returns CRYO_OK, or returns the kind of an error raised with cryo_vm_raise().
 * It runs on the VM's thread; `userdata` is the pointer given at registration. */
typedef cryo_error_kind (*cryo_host_fn)(cryo_vm *vm, void *userdata, int argc, cryo_value **argv,
                                        cryo_value *ret);

/* Raises a script error from a host function: records kind and message (printf-style) with
 * the position of the running instruction, and returns `kind`, so that a host function can
 * `return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "bad %s", what);`. */
CRYO_API cryo_error_kind cryo_vm_raise(cryo_vm *vm, cryo_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Calls a function value (closure, Fn("name"), SyncFunction) from a host function or from C
 * with `argc` borrowed arguments; the owned result goes to *ret. Re-entrant. */
CRYO_API cryo_error_kind cryo_vm_call_value(cryo_vm *vm, cryo_value fn, int argc,
                                            const cryo_value *argv, cryo_value *ret);

/* Packages: named sets of host functions. Built by one thread, then sealed; a sealed package is
 * immutable, atomically reference counted and may be shared by any number of contexts and
 * threads. */
typedef struct cryo_package cryo_package;
CRYO_API cryo_package *cryo_package_new(const char *name); /* owned; NULL if OOM */
/* Adds a function. `arity` -1 = variadic. Errors: CRYO_ERR_API when sealed or bad arguments. */
CRYO_API cryo_error_kind cryo_package_add(cryo_package *pkg, const char *name, int arity,
                                          cryo_host_fn fn, void *userdata);
/* Makes `pkg` include `other` (sealed; retained): O(1), no copy of its functions. */
CRYO_API cryo_error_kind cryo_package_include(cryo_package *pkg, cryo_package *other);
CRYO_API void cryo_package_seal(cryo_package *pkg);
CRYO_API cryo_package *cryo_package_retain(cryo_package *pkg);
CRYO_API void cryo_package_release(cryo_package *pkg);
/* The standard package (strings, arrays, maps, math, conversion): sealed, built once,
 * borrowed (never released), thread-safe. */
CRYO_API cryo_package *cryo_package_std(void);

/* Contexts: the packages a VM sees, capabilities and default limits. Immutable once created,
 * atomically reference counted, shared. */
#define CRYO_CAP_FFI 0x1u /* scripts may use the ffi:: module (see cryo_ffi.h) */
typedef struct cryo_context_config {
    cryo_package *const *packages; /* searched in order; each retained by the context */
    int npackages;
    unsigned capabilities;              /* CRYO_CAP_* */
    uint64_t limits[CRYO_LIMIT__COUNT]; /* defaults for VMs of this context; 0 = unlimited */
} cryo_context_config;
CRYO_API cryo_context *cryo_context_new(const cryo_context_config *config); /* owned */
CRYO_API cryo_context *cryo_context_retain(cryo_context *ctx);
CRYO_API void cryo_context_release(cryo_context *ctx); /* std/raw contexts: no-op */

/* Pooled VMs. cryo_vm_pool_acquire returns a reset VM for (unit, ctx) from the calling thread's
 * pool (creating one if the pool is empty); cryo_vm_pool_release gives it back (on the same
 * thread). No lock: each thread has its own pool. */
CRYO_API cryo_vm *cryo_vm_pool_acquire(cryo_unit *unit, cryo_context *ctx);
CRYO_API void cryo_vm_pool_release(cryo_vm *vm);
/* Swaps the unit or context of an idle VM (retaining the new, releasing the old). */
CRYO_API cryo_error_kind cryo_vm_set_unit(cryo_vm *vm, cryo_unit *unit);
CRYO_API cryo_error_kind cryo_vm_set_context(cryo_vm *vm, cryo_context *ctx);
CRYO_API cryo_vm *cryo_vm_new_raw(cryo_unit *unit); /* no packages at all */
CRYO_API void *cryo_vm_userdata(const cryo_vm *vm);
CRYO_API void cryo_vm_set_userdata(cryo_vm *vm, void *userdata);
/* Called every `every` operations; returning false stops the run with
 * CRYO_ERR_INTERRUPTED. */
typedef bool (*cryo_progress_fn)(void *userdata, uint64_t operations);
CRYO_API void cryo_vm_set_progress(cryo_vm *vm, cryo_progress_fn fn, void *userdata,
                                   uint64_t every);

/* Host handles: opaque host pointers with a type tag and a destructor. A handle type whose
 * retain/release are non-NULL and thread-safe is *sendable*: its handles may be frozen into
 * ConstValues and cross threads. */
typedef struct cryo_handle_type {
    const char *name;           /* type_of() of the handle */
    void (*destroy)(void *ptr); /* when the last script reference goes; may be NULL */
    void (*retain)(void *ptr);  /* sendable types: thread-safe retain/release */
    void (*release)(void *ptr);
} cryo_handle_type;
/* A new handle value (owned by the caller); `type` must outlive every such value. */
CRYO_API cryo_value cryo_value_handle(const cryo_handle_type *type, void *ptr);
/* The pointer of a handle of that exact type, or NULL. */
CRYO_API void *cryo_value_as_handle(cryo_value v, const cryo_handle_type *type);

/* ==========================================================================================
 * ConstValues and SyncFunctions (issue "Function values, into_sync and ConstValue").
 * Implemented in src/const.c and src/sync.c.
 * ======================================================================================== */

/* A ConstValue: an immutable value tree (unit, bool, int, float, char, string, array, map,
 * SyncFunction, sendable handle). Thread-safe: any thread may read it and retain/release it
 * (atomic counts). A scalar const needs no allocation. Passed by value like cryo_value; a
 * heap const is released with cryo_const_release. */
typedef struct cryo_const {
    cryo_value v; /* v.flags never has CRYO_VF_COUNTED; heap objects are shared (atomic rc) */
} cryo_const;

CRYO_API cryo_const cryo_const_unit(void);
CRYO_API cryo_const cryo_const_bool(bool b);
CRYO_API cryo_const cryo_const_int(int64_t i);
CRYO_API cryo_const cryo_const_float(double f);
CRYO_API cryo_const cryo_const_char(uint32_t c);
CRYO_API cryo_const cryo_const_string(const char *s, size_t len); /* copied */
/* Arrays and maps from items/values whose references are taken (moved in). */
CRYO_API cryo_const cryo_const_array(cryo_const *items, size_t n);
CRYO_API cryo_const cryo_const_map(const char *const *keys, cryo_const *values, size_t n);
CRYO_API cryo_const cryo_const_retain(cryo_const c);
CRYO_API void cryo_const_release(cryo_const c);
CRYO_API cryo_type cryo_const_type(cryo_const c);
CRYO_API bool cryo_const_equal(cryo_const a, cryo_const b);
/* Debug text (as cryo_value_to_cstring); owned by the caller (free()). */
CRYO_API char *cryo_const_to_cstring(cryo_const c, bool debug);
/* Readers: the cryo_value accessors (cryo_value_str, cryo_array_len/get, cryo_map_*) work on
 * c.v; elements read from a const are consts (borrowed). */

/* Freezing and thawing. cryo_vm_freeze deep-copies a VM value into a const (functions are
 * frozen as by into_sync; VM-local resources fail with CRYO_ERR_TYPE naming them). cryo_vm_thaw
 * makes a VM value that reads the const in place and copies only when a script writes to it;
 * the VM keeps the const alive while it may hold such values. */
CRYO_API cryo_error_kind cryo_vm_freeze(cryo_vm *vm, cryo_value v, cryo_const *out);
CRYO_API cryo_error_kind cryo_vm_thaw(cryo_vm *vm, cryo_const c, cryo_value *out);

/* A SyncFunction: a function whose captures are frozen, plus references to its unit and
 * context. Immutable and thread-safe: any number of threads may call one at once. */
typedef struct cryo_sync cryo_sync;
/* Freezes a function value of `vm` (into_sync). On failure (a captured variable the closure
 * assigns, a capture that cannot be frozen) returns the kind and leaves the error, naming the
 * variable and its line, in cryo_vm_error(vm). */
CRYO_API cryo_error_kind cryo_vm_into_sync(cryo_vm *vm, cryo_value fn, cryo_sync **out);
CRYO_API cryo_sync *cryo_sync_retain(cryo_sync *f);
CRYO_API void cryo_sync_release(cryo_sync *f);
CRYO_API int cryo_sync_arity(const cryo_sync *f); /* -1 when variadic/unknown */
/* Calls from any thread, on the calling thread's pooled VM: arguments borrowed, result owned
 * by the caller. On error returns the kind and, if `err` is not NULL, stores an owned copy of
 * the error there. */
CRYO_API cryo_error_kind cryo_sync_call(cryo_sync *f, int argc, const cryo_const *argv,
                                        cryo_const *result, cryo_error **err);
/* Calls in a VM the caller already holds (any unit/context), with VM values. */
CRYO_API cryo_error_kind cryo_sync_call_in(cryo_sync *f, cryo_vm *vm, int argc,
                                           const cryo_value *argv, cryo_value *result);
/* A SyncFunction as a value (the value holds a reference) and back (borrowed, or NULL). */
CRYO_API cryo_value cryo_value_sync(cryo_sync *f);
CRYO_API cryo_sync *cryo_value_as_sync(cryo_value v);
CRYO_API cryo_const cryo_const_sync(cryo_sync *f);

#ifdef __cplusplus
}
#endif
#endif /* CRYO_H */
