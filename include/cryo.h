/*
 * cryo.h — the public API of cryo, an embeddable scripting language (the core of Rhai's
 * syntax) whose closures can be frozen into thread-safe functions.
 *
 * The model
 * ---------
 * A host compiles script source into a *unit* (bytecode, constants, line tables), immutable
 * and shared by any number of threads. A *context* says what scripts may see: *packages* of
 * host functions (the standard library is one), capabilities (FFI, threads, eval) and default
 * limits; it too is immutable and shared. A *VM* runs a unit in a context: registers, call
 * frames and a VM-local heap, created for one small allocation (or taken from the calling
 * thread's pool), used by one thread at a time. Hosts and scripts exchange *values*
 * (cryo_value), 16-byte tagged values whose heap parts belong to one thread. Values cross
 * threads *frozen*: a ConstValue (cryo_const) is an immutable value tree, a SyncFunction
 * (cryo_sync) a closure whose captures are frozen, callable from any thread at once; a VM
 * reading frozen data *pins* it until the VM is reset or freed. *Workers* and *worker pools*
 * are threads that own their VMs and answer queries through futures; the *bridge* lets scripts
 * call host functions served by a host thread.
 *
 * The sections below follow these objects: errors, values, units, packages, contexts, VMs,
 * frozen values, concurrency, utilities. docs/README.md lists a user guide per capability.
 *
 * Threads, in one place
 * ---------------------
 *   - Units, contexts, sealed packages, ConstValues and SyncFunctions are immutable: any
 *     thread may use, retain and release them at once (atomic counts). The last release must
 *     not race with a use.
 *   - A VM, and every cryo_value it made or holds, belongs to one thread at a time: functions
 *     taking a VM run on that thread. The one exception is cryo_vm_interrupt.
 *   - A package is built by one thread, then sealed and handed to others through something that
 *     synchronizes (a context, a thread start, a lock).
 *   - Each thread has its own pool of VMs (cryo_vm_pool_acquire, cryo_sync_call): no lock.
 *   - Workers, pools, futures and the bridge are thread-safe unless a function says otherwise.
 * A function's comment says where it adds to these rules.
 *
 * Ownership, in one rule
 * ----------------------
 * A function that returns a pointer or a value "owned by the caller" expects the caller to
 * drop it with the matching free/release function. A parameter documented as "borrowed" is
 * only read during the call. Every value written into an out-parameter `cryo_value *` is owned
 * by the caller and must be released with cryo_value_release(). Objects are reference counted
 * (retain/release) or owned by one holder (new/free); release and free accept NULL.
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

/* ==========================================================================================
 * Errors
 *
 * An error is a value: a kind, a message, a line and a column. Where it goes is said at each
 * function: into a `cryo_error **err` the caller then owns, or kept by the VM (cryo_vm_error)
 * until its next run or call.
 * ======================================================================================== */

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
    /* The calls that led to a runtime error, or NULL: read it with cryo_error_frame_count and
     * cryo_error_frame (owned, freed with the error). */
    struct cryo_trace *trace;
} cryo_error;

/* The name of an error kind ("parse error", "type error", ...); "unknown error" for a value
 * outside the enum. Static storage; any thread. */
CRYO_API const char *cryo_error_kind_name(cryo_error_kind kind);

/* Frees an error and every error chained after it. NULL is allowed. Any thread (the error is
 * the caller's). */
CRYO_API void cryo_error_free(cryo_error *err);

/* Writes `err` the way the CLI shows it: "name:line:col: kind: message" (without "kind: " when
 * the message already names the kind), then the source line and a caret under the column when
 * `source` (the script text, borrowed) is given and the error is not inside a text run by
 * eval() (source name "eval"), then its stack trace when it has two frames or more:
 * "stack trace (innermost call first):" and one "  at fn (name:line:col)" or
 * "  at fn [host]" line per frame (see cryo_error_frame below). Returns a
 * NUL-terminated string owned by the caller (free with free()), or NULL if out of memory. Every
 * error of the chain is written. Any thread (it reads its arguments only). */
CRYO_API char *cryo_error_format(const cryo_error *err, const char *source, size_t source_len);

/* --- stack traces ---------------------------------------------------------------------------
 * A runtime error (cryo_vm_error, a SyncFunction's, a callback's, a worker's or a spawned
 * thread's) carries the chain of calls that led to it, captured when it was raised. Frame 0 is
 * the innermost call (where the error was raised), the last frame the outermost (the script's
 * top level, or where C entered the script). Compile and parse errors have no frames. */

typedef enum cryo_frame_kind {
    CRYO_FRAME_SCRIPT,   /* a script function, a closure or the script's top level */
    CRYO_FRAME_HOST,     /* a host function the embedder registered (a package, FFI) */
    CRYO_FRAME_BUILTIN,  /* a function of the standard library (print, map, sort, join, ...) */
    CRYO_FRAME_CALLBACK, /* C code called the script: a C callback, a SyncFunction call */
    CRYO_FRAME_THREAD,   /* the error crossed threads here: frames above ran on another thread
                          * (spawn/join, a worker) */
    CRYO_FRAME_ELIDED,   /* stands for `line` frames left out of a very deep trace */
} cryo_frame_kind;

/* One frame. `function` is the name as written in the source ("fib", a host function's or
 * method's name); "<main>" for the top level, "<closure>" for a closure. `source_name` (the
 * unit's chunk name, may be NULL), `line` and `column` (1-based, the position of the call or
 * of the error in that frame) are set for script frames only; other kinds have 0 and NULL.
 * Strings are owned by the error. */
typedef struct cryo_trace_frame {
    cryo_frame_kind kind;
    const char *function;
    const char *source_name;
    int line;
    int column;
} cryo_trace_frame;

/* The number of frames of `err` (its first error only; 0 for NULL or an error without trace).
 * At most CRYO_TRACE_MAX frames are kept: a deeper stack keeps its innermost and outermost
 * calls around one CRYO_FRAME_ELIDED frame. Any thread (reads the error only). */
#define CRYO_TRACE_MAX 64
CRYO_API int cryo_error_frame_count(const cryo_error *err);
/* Frame `i` of `err` (0 = innermost), borrowed from the error (valid until it is freed);
 * NULL when `i` is out of range. Any thread. */
CRYO_API const cryo_trace_frame *cryo_error_frame(const cryo_error *err, int i);
/* The short name of a frame kind ("script", "host", "builtin", "callback", "thread",
 * "elided"). Static storage; any thread. */
CRYO_API const char *cryo_frame_kind_name(cryo_frame_kind kind);

/* ==========================================================================================
 * Values
 *
 * A cryo_value is what hosts and scripts exchange: scalars inline, strings, arrays, maps,
 * functions and ranges on a reference-counted heap. A value belongs to the thread of the VM that
 * made it (or to the calling thread, for values made without a VM): freeze it to send it
 * elsewhere (Frozen values, below). Host handles carry a host pointer as a script value.
 * ======================================================================================== */

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

/* Scalar values: built inline, no allocation, nothing to release; any thread. */
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
 * U+FFFD). The result is owned by the caller and belongs to the calling thread (no VM needed). */
CRYO_API cryo_value cryo_value_string(const char *s, size_t len);

/* Adds a reference to a heap value / drops one. Scalars are ignored. Not thread-safe: a value
 * belongs to one thread at a time. */
CRYO_API void cryo_value_retain(cryo_value v);
CRYO_API void cryo_value_release(cryo_value v);

/* The type name a script's type_of() gives: "()", "bool", "i64", "f64", "char", "string",
 * "array", "map", "Fn", "range", "SyncFn"; "unknown" for a value outside the enum. Static
 * storage; any thread. */
CRYO_API const char *cryo_type_name(cryo_type t);

/* For a string value: its bytes (NUL-terminated, valid while the value is held) and length in
 * bytes. NULL for any other type. These readers run on the thread that owns the value (a
 * ConstValue's c.v: any thread) and never fail other than by these results. */
CRYO_API const char *cryo_value_str(cryo_value v, size_t *len);

/* For an array value: its length and borrowed elements (valid until the array is changed or
 * released). -1 / unit for other types or an index out of bounds. Thread rule as cryo_value_str. */
CRYO_API int64_t cryo_array_len(cryo_value v);
CRYO_API cryo_value cryo_array_get(cryo_value v, int64_t index);

/* For a map value: its number of entries and the entry at position `index` in key order
 * (keys and values borrowed as above). cryo_map_find looks a key up; returns false when
 * absent. Thread rule as cryo_value_str. */
CRYO_API int64_t cryo_map_len(cryo_value v);
CRYO_API bool cryo_map_at(cryo_value v, int64_t index, const char **key, size_t *key_len,
                          cryo_value *value);
CRYO_API bool cryo_map_find(cryo_value v, const char *key, cryo_value *value);

/* The value as a script's to_string() shows it (`debug` = false) or as debug() shows it
 * (`debug` = true: strings quoted). Returns a NUL-terminated string owned by the caller
 * (free()), or NULL if out of memory. On the thread that owns the value. */
CRYO_API char *cryo_value_to_cstring(cryo_value v, bool debug);

/* --- Host handles ---------------------------------------------------------------------------
 * An opaque host pointer with a type tag, as a script value: type_of() gives the type's name,
 * `==` compares (type, pointer), printing gives `<name>`. A handle type whose retain/release
 * are non-NULL and thread-safe is *sendable*: its handles may be frozen into ConstValues and
 * cross threads. */
typedef struct cryo_host_ops cryo_host_ops;
/* The growing byte buffer a host type's `dump` hook writes into (cryo_host_ops.dump). */
typedef struct cryo_bytes cryo_bytes;
typedef struct cryo_handle_type {
    const char *name;           /* type_of() of the handle */
    void (*destroy)(void *ptr); /* when the last reference goes (non-sendable types); may be NULL */
    void (*retain)(void *ptr);  /* sendable types: thread-safe retain/release */
    void (*release)(void *ptr); /* sendable types: called instead of destroy */
    const cryo_host_ops *ops;   /* a host type's hooks (below), or NULL; borrowed (static) */
} cryo_handle_type;

/* --- host types: hooks that make a handle type behave like a script type -------------------
 * (docs/host-types.md). Every hook is optional (NULL: the script gets the usual error, e.g.
 * "cannot set property"). Hooks run on the thread running the script; the hooks of a sendable
 * type must be thread-safe (its handles are shared by threads). A hook receives the handle's
 * pointer; values passed in are borrowed; a value it stores in *out is owned by the VM (a new
 * reference). It returns CRYO_OK, the kind of an error raised with cryo_vm_raise, or
 * CRYO_HOST_DECLINE: not for this name, index or operand, the VM goes on as without the hook
 * (host getter functions of that name, then its usual error). Handles are references: `let b
 * = a` shares the host object, and a setter changes it for every holder. */
#define CRYO_HOST_DECLINE ((cryo_error_kind)255)
typedef enum cryo_operator {
    CRYO_OPER_ADD, /* + */
    CRYO_OPER_SUB, /* - */
    CRYO_OPER_MUL, /* * */
    CRYO_OPER_DIV, /* / */
    CRYO_OPER_MOD, /* % */
    CRYO_OPER_POW, /* ** */
    CRYO_OPER_SHL, /* << */
    CRYO_OPER_SHR, /* >> */
    CRYO_OPER_AND, /* & */
    CRYO_OPER_OR,  /* | */
    CRYO_OPER_XOR, /* ^ */
    CRYO_OPER_EQ,  /* == (and != as its negation) */
    CRYO_OPER_LT,  /* < (and >, <=, >= from it and ==: a > b is b < a) */
    CRYO_OPER_NEG, /* unary - */
    CRYO_OPER_NOT, /* unary ! */
} cryo_operator;
struct cryo_host_ops {
    /* o.name and o.name = value (also `o.name += v`, and paths through o: o.pos.x = 1) */
    cryo_error_kind (*get)(cryo_vm *vm, void *ptr, const char *name, cryo_value *out);
    cryo_error_kind (*set)(cryo_vm *vm, void *ptr, const char *name, cryo_value value);
    /* o[index] and o[index] = value, any index type (ints, strings, ...) */
    cryo_error_kind (*index_get)(cryo_vm *vm, void *ptr, cryo_value index, cryo_value *out);
    cryo_error_kind (*index_set)(cryo_vm *vm, void *ptr, cryo_value index, cryo_value value);
    /* a OP b where a or b (or both) is a handle of this type (the left one's type is asked
     * first, then the right one's). Without it (or declined), == is identity as for any
     * handle, other operators a type error. */
    cryo_error_kind (*binary)(cryo_vm *vm, cryo_operator op, cryo_value a, cryo_value b,
                              cryo_value *out);
    cryo_error_kind (*unary)(cryo_vm *vm, cryo_operator op, void *ptr, cryo_value *out);
    /* print, to_string, `${o}` (debug false) and debug(), to_debug (debug true): writes at most
     * `cap` bytes (NUL included) to buf and returns the text's length, as snprintf does; no VM
     * (it may run while a value is printed anywhere). NULL: "<name>". */
    size_t (*to_string)(void *ptr, bool debug, char *buf, size_t cap);
    /* for x in o: the items index_get(o, 0) .. index_get(o, len - 1), read when the loop
     * starts. Needs index_get. */
    int64_t (*len)(void *ptr);
    /* Images (docs/host-types.md, "Images"): with both hooks, the handles of a *sendable* type
     * serialize inside ConstValue and SyncFunction images as the type's name plus the bytes
     * `dump` writes; the loading side looks the name up in its context (cryo_package_add_type)
     * and calls that type's `load`. Without them (or not sendable) dumping refuses with
     * CRYO_ERR_TYPE naming the type. No VM: both run on whichever thread dumps or loads an
     * image, several at once, so they must be thread-safe.
     * dump: appends the object's state to `out` with cryo_bytes_append (any number of calls;
     * the loader gets exactly these bytes) and returns true; or returns false to refuse, after
     * writing a reason into why (at most whylen bytes, NUL included; may be left empty): the
     * dump then fails with CRYO_ERR_TYPE naming the type and the reason. */
    bool (*dump)(void *ptr, cryo_bytes *out, char *why, size_t whylen);
    /* load: a new object from the `len` bytes (borrowed, valid during the call) that a dump
     * wrote. UNTRUSTED input: the bytes come from an image and may be short, long or crafted;
     * check every length and value before use. Returns the object's pointer with one reference
     * that the loaded handle owns (dropped with the type's release), or NULL after writing a
     * reason into why (whylen bytes, NUL included): the load then fails with CRYO_ERR_ARGUMENT
     * naming the type and the reason. */
    void *(*load)(const void *data, size_t len, char *why, size_t whylen);
};
/* A new handle value owning `ptr` (owned by the caller: cryo_value_release). When the last
 * reference to the value goes, release(ptr) runs if the type has one, else destroy(ptr) if it
 * has one. `type` is borrowed and must outlive every such value (make it static). A unit value
 * when `type` is NULL or memory runs out. Like every value: one thread at a time. */
CRYO_API cryo_value cryo_value_handle(const cryo_handle_type *type, void *ptr);
/* The pointer of a handle of exactly that type (compared by address), or NULL for any other
 * value. Borrowed: valid while the handle value is held. On the thread that owns the value. */
CRYO_API void *cryo_value_as_handle(cryo_value v, const cryo_handle_type *type);
/* Appends n bytes (copied) to the buffer a dump hook was given. Returns false when out of
 * memory or when one handle's bytes would pass 1 GiB (the dump then fails; the hook should
 * return false). Only inside the dump hook, with its `out`. */
CRYO_API bool cryo_bytes_append(cryo_bytes *out, const void *data, size_t n);

/* ==========================================================================================
 * Units
 *
 * A unit is a compiled script. Compile once and share it: any number of VMs on any number of
 * threads may run one unit. The first time a unit runs in a context, it binds its host-function
 * calls to the context's packages (once per context, cached in the unit, thread-safe); calls then
 * index that table. A unit can be written as bytes (an image) and loaded back.
 * ======================================================================================== */

typedef struct cryo_compile_options {
    const char *source_name;     /* shown in errors; may be NULL */
    const char *const *globals;  /* names of variables the host provides at run time */
    int nglobals;                /* (cryo_vm_run's `globals` gives their values, in order) */
    const bool *global_is_const; /* may be NULL; true = the script may not assign it */
    bool expression_only;        /* accept a single expression, as Rhai's eval_expression */
    int max_functions;           /* most `fn` definitions the script may have (Rhai's
                                    max_functions); 0 = unlimited. One more is a parse error
                                    "too many functions" at the first `fn` past the limit. */
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

/* Writes a human-readable listing of the unit's bytecode to `out` (a FILE *; NULL = stdout).
 * For tools. A NULL unit writes nothing; write errors are not reported. Any thread. */
CRYO_API void cryo_unit_dump(const cryo_unit *unit, void *out);

/* Images. An image starts with "CRYO", a 16-bit format version (CRYO_IMAGE_VERSION), its kind
 * and a 64-bit FNV-1a hash of the rest (a checksum against accidents, NOT cryptographic: an
 * image from an untrusted source must come through a channel that authenticates it). Integers
 * are little-endian and fixed-width; there are no pointers. Loading treats the bytes as
 * hostile: a truncated, corrupted or crafted image gives CRYO_ERR_ARGUMENT with a message
 * naming what is wrong and the byte offset, never a crash or an allocation out of proportion
 * to the image, and a unit's bytecode is verified before anything can run it. A verified unit
 * can still loop forever or allocate: run it under the VM's limits as any script. Host handles
 * serialize only when their type is sendable and has dump/load hooks (cryo_host_ops); C
 * pointers and FFI values never do: dumping them fails with CRYO_ERR_TYPE naming the type. All
 * image functions (these and the ConstValue images below) are thread-safe: they read their
 * arguments only (and call host types' dump/load hooks on the calling thread). Images are
 * written in version 2; version 1 images (no host handles, no local-variable names) still
 * load. The byte layout, what the loader verifies and what it does not: docs/serialization.md. */
#define CRYO_IMAGE_VERSION 2
enum { CRYO_IMAGE_UNIT = 1, CRYO_IMAGE_CONST = 2 };

/* The kind of image at data (CRYO_IMAGE_UNIT or CRYO_IMAGE_CONST) by its header, or 0 when the
 * bytes do not start with a cryo image header. Does not validate the rest. Any thread. */
CRYO_API int cryo_image_kind(const void *data, size_t len);

/* Writes the unit's image into buf (cap bytes). *size (if not NULL) gets the image's size in
 * every outcome; when cap is too small (or buf is NULL) nothing is written and the result is
 * CRYO_ERR_DATA_TOO_LARGE: call with (NULL, 0) to learn the size. Errors (also stored in *err
 * when err is not NULL, owned by the caller): CRYO_ERR_API (NULL unit), CRYO_ERR_MEMORY. Any
 * thread. */
CRYO_API cryo_error_kind cryo_unit_to_image(const cryo_unit *unit, void *buf, size_t cap,
                                            size_t *size, cryo_error **err);
/* The same into a malloc'd buffer that the caller frees with free(); NULL on error (*err as
 * above). Any thread. */
CRYO_API void *cryo_unit_to_image_alloc(const cryo_unit *unit, size_t *size, cryo_error **err);
/* Loads and verifies a unit image. Returns a unit owned by the caller (cryo_unit_release), or
 * NULL with *err (owned by the caller) set: CRYO_ERR_ARGUMENT for anything wrong with the
 * bytes (message: what and at which byte), CRYO_ERR_MEMORY. Any thread. */
CRYO_API cryo_unit *cryo_unit_from_image(const void *data, size_t len, cryo_error **err);
/* The unit's content hash: FNV-1a 64 of its image section; equal units (same bytecode,
 * constants, names, lines) have equal hashes. 0 for NULL or out of memory. Any thread. */
CRYO_API uint64_t cryo_unit_hash(const cryo_unit *unit);

/* ==========================================================================================
 * Packages
 *
 * A package is a named set of host functions. One thread builds it (new, add, include), then
 * seals it; a sealed package is immutable, atomically reference counted and may be shared by any
 * number of contexts and threads. Lookups search a package's own functions (the first
 * registration of a (name, arity) wins), then its includes in order; an exact arity wins over a
 * variadic (-1) registration anywhere in a context. See docs/embedding.md.
 * ======================================================================================== */

/* A host function. `argv[0..argc-1]` point to the arguments: borrowed, except that a method's
 * receiver (argv[0] of `x.f(..)`) may be changed in place so that `x.push(1)`-style functions
 * change the caller's variable. The function stores its result, owned, in *ret (which holds ()
 * on entry) and returns CRYO_OK, or returns the kind of an error raised with cryo_vm_raise().
 * It runs on the VM's thread; `userdata` is the pointer given at registration. */
typedef cryo_error_kind (*cryo_host_fn)(cryo_vm *vm, void *userdata, int argc, cryo_value **argv,
                                        cryo_value *ret);

typedef struct cryo_package cryo_package;
/* A new, empty, unsealed package named `name` (copied; may be NULL). Owned by the caller (one
 * reference: cryo_package_release). NULL when out of memory. Any thread; the package is then
 * built on that thread until sealed. */
CRYO_API cryo_package *cryo_package_new(const char *name);
/* Adds a function: `name` (copied; no spaces, parentheses or commas), `arity` 0..255 or -1 for
 * any number of arguments, `fn`, and `userdata` handed to every call (borrowed: it must
 * outlive the package). Errors: CRYO_ERR_API when the package is sealed or an argument is
 * invalid, CRYO_ERR_MEMORY when out of memory. Not thread-safe (the building thread only). */
CRYO_API cryo_error_kind cryo_package_add(cryo_package *pkg, const char *name, int arity,
                                          cryo_host_fn fn, void *userdata);
/* Makes `pkg` include `other`: `other` is sealed (if it was not) and retained; O(1), no copy
 * of its functions. Errors: CRYO_ERR_API when `pkg` is sealed, an argument is NULL or
 * pkg == other; CRYO_ERR_MEMORY. Not thread-safe (the building thread only). */
CRYO_API cryo_error_kind cryo_package_include(cryo_package *pkg, cryo_package *other);
/* Registers a host type under its name (type->name, which must be set; no spaces, parentheses
 * or commas), so that images holding handles of a type of that name load into handles of this
 * type (cryo_const_from_image looks names up in its context's packages, in order, then their
 * includes; the first registration of a name wins). `type` is borrowed: it must outlive the
 * package (make it static). Errors: CRYO_ERR_API when the package is sealed, an argument is
 * invalid or this package already has a type of that name; CRYO_ERR_MEMORY. Not thread-safe
 * (the building thread only). */
CRYO_API cryo_error_kind cryo_package_add_type(cryo_package *pkg, const cryo_handle_type *type);
/* Seals the package: builds its lookup table; no function can be added afterwards. Sealing
 * twice is a no-op. Publish a sealed package to other threads through a synchronizing hand-off
 * (a context, a thread start, a lock). NULL is ignored. On the building thread. */
CRYO_API void cryo_package_seal(cryo_package *pkg);
/* Adds / drops a reference (atomic: any thread). The last release frees the package and drops
 * its includes. NULL and the std package are ignored. */
CRYO_API cryo_package *cryo_package_retain(cryo_package *pkg);
CRYO_API void cryo_package_release(cryo_package *pkg);
/* The standard package (strings, arrays, maps, math, conversion, print/debug): sealed, built
 * once, borrowed (never freed; retain/release are no-ops), thread-safe. */
CRYO_API cryo_package *cryo_package_std(void);

/* ==========================================================================================
 * Contexts
 *
 * A context is what a VM sees: packages (searched in order), capabilities and default limits.
 * Immutable once created, atomically reference counted, shared by any number of VMs and threads.
 * Creating one costs O(npackages): packages are referenced, not copied. The standard and raw
 * contexts are static and never freed.
 * ======================================================================================== */

/* The context holding the standard library (strings, arrays, maps, math, conversion). Built
 * once, shared, never freed: the returned pointer is borrowed and valid for the life of the
 * process. Thread-safe. */
CRYO_API cryo_context *cryo_context_std(void);

/* A context with no host functions at all (Rhai's Engine::new_raw). Same lifetime and thread
 * rules. */
CRYO_API cryo_context *cryo_context_raw(void);

#define CRYO_CAP_FFI 0x1u /* scripts may use the ffi:: module (see cryo_ffi.h) */
/* Scripts may start threads with spawn(). cryo_context_std() grants it (spawn is part of the
 * language); a context made by cryo_context_new has it only when its config names it, so a
 * host that builds a context for untrusted scripts withholds threads unless it opts in.
 * Without it spawn raises a catchable CRYO_ERR_NOT_FOUND. See docs/reliability.md. */
#define CRYO_CAP_THREADS 0x2u
/* Scripts may call eval(text): compile and run a string at run time, in the same VM (same
 * context, limits, print hooks). Off by default: a host running untrusted scripts keeps it off
 * so that no script compiles code it was not given. Each distinct text eval'd stays compiled,
 * and pinned by the VM, until the VM is reset or freed. Without it, eval(..) raises
 * CRYO_ERR_NOT_FOUND naming CRYO_CAP_EVAL. See docs/language.md. */
#define CRYO_CAP_EVAL 0x4u

/* Limits. 0 means unlimited. Exceeding one ends the run with the limit's error kind; scripts
 * cannot catch it (except CRYO_LIMIT_THREADS: spawn refuses with a catchable error).
 * Threads a run spawns inherit the run's limits, and the run and all its threads draw on one
 * operations and memory budget (docs/reliability.md, "Threads"). */
typedef enum cryo_limit {
    CRYO_LIMIT_OPERATIONS,  /* instructions executed per run (counted at loops and calls) */
    CRYO_LIMIT_CALL_DEPTH,  /* nested function calls (default 64) */
    CRYO_LIMIT_STRING_SIZE, /* bytes in one string */
    CRYO_LIMIT_ARRAY_SIZE,  /* elements in one array */
    CRYO_LIMIT_MAP_SIZE,    /* entries in one map */
    CRYO_LIMIT_MEMORY,      /* bytes of the VM heap */
    CRYO_LIMIT_THREADS,     /* spawned threads running at once, counted over a run and every
                               thread it spawns (default 8; over it, spawn raises a catchable
                               CRYO_ERR_RUNTIME) */
    CRYO_LIMIT__COUNT
} cryo_limit;

typedef struct cryo_context_config {
    cryo_package *const *packages; /* searched in order; each sealed and retained by the context */
    int npackages;
    unsigned capabilities; /* CRYO_CAP_* */
    /* Defaults for the VMs of this context; 0 = unlimited, except CRYO_LIMIT_CALL_DEPTH and
     * CRYO_LIMIT_THREADS where 0 = the default (64, 8) and UINT64_MAX = unlimited. */
    uint64_t limits[CRYO_LIMIT__COUNT];
} cryo_context_config;
/* A new context (owned by the caller: cryo_context_release). `config` is borrowed (NULL = no
 * packages, no capabilities, default limits); unsealed packages are sealed. NULL when out of
 * memory or when the config is invalid (npackages < 0, a NULL package). Thread-safe. */
CRYO_API cryo_context *cryo_context_new(const cryo_context_config *config);
/* Adds / drops a reference (atomic: any thread). The last release drops the packages; VMs hold
 * their own references. The std and raw contexts are static: both are no-ops on them. */
CRYO_API cryo_context *cryo_context_retain(cryo_context *ctx);
CRYO_API void cryo_context_release(cryo_context *ctx);
/* The capabilities (CRYO_CAP_*) of a context; 0 for NULL. Any thread. */
CRYO_API unsigned cryo_context_capabilities(const cryo_context *ctx);

/* --- Modules (docs/modules.md) -----------------------------------------------------------------
 *
 * `import "path" as name;` finds a module through the resolvers of the VM's context, in this
 * order: static modules (exact name), the host's resolver callback, then files. A module unit
 * is compiled once per context and cached by its resolved path (files: the real path; the host
 * resolver: the path as imported) in a cache shared by every VM and thread of the context
 * (one mutex, taken on the import path only). Its top level runs once per VM, at the VM's first
 * import of it; later imports in that VM reuse the module value until the VM is reset. The
 * std and raw contexts have no resolvers: an import there fails with CRYO_ERR_NOT_FOUND.
 *
 * Errors are script errors of the importing run: a missing module is CRYO_ERR_NOT_FOUND naming
 * the path and the importing script, at the import's line and column; a cycle is
 * CRYO_ERR_RUNTIME naming the chain ("a.rhai -> b.rhai -> a.rhai"); a module's compile error
 * keeps its kind and points into the module (source name = the module's path). */

/* A package exposed as module `name`: `name::f(args)` calls the package's f. */
typedef struct cryo_static_module {
    const char *name;      /* copied */
    cryo_package *package; /* sealed and retained by the context */
} cryo_static_module;

/* What a host resolver answers: either source text (compiled by cryo, with `name` as its source
 * name) or a compiled unit (the resolver hands over one reference). */
typedef struct cryo_module_source {
    const char *source; /* text to compile; read before `release` is called */
    size_t len;
    cryo_unit *unit;  /* or a unit: cryo takes this reference */
    const char *name; /* the module's source name in errors (copied; NULL = the path) */
    /* Called (when not NULL) once cryo is done with `source`: the resolver may free it. */
    void (*release)(void *userdata, struct cryo_module_source *ms);
} cryo_module_source;

/* A host resolver: fills *out and returns true for `path` (as written in the import),
 * imported by the script named `importer` (its source name; may be NULL); false = not mine
 * (the file resolver, if on, is tried next). Called with the context's module lock held, on
 * the importing VM's thread, once per path until invalidated (its answer is cached): it must
 * not import or compile through the same context. */
typedef bool (*cryo_module_resolver)(void *userdata, const char *path, const char *importer,
                                     cryo_module_source *out);

typedef struct cryo_module_config {
    const cryo_static_module *statics; /* copied; each package sealed and retained */
    int nstatics;
    cryo_module_resolver resolver; /* or NULL */
    void *resolver_userdata;
    /* The file resolver: a relative path is looked up in the importing script's folder (from
     * its source name), then in each search path in order; an absolute path as is. ".rhai" is
     * appended unless the path ends with it. */
    bool files;
    const char *const *search_paths; /* copied */
    int nsearch_paths;
} cryo_module_config;

/* Gives a context made by cryo_context_new its resolvers (`config` is copied). Call it once,
 * during setup, before any VM of the context runs and before the context is shared with other
 * threads; the resolvers are then immutable. Errors: CRYO_ERR_API for a NULL or static context
 * (std, raw), a context whose resolvers are already set, or an invalid config (a negative
 * count, a NULL name, package or search path); CRYO_ERR_MEMORY. */
CRYO_API cryo_error_kind cryo_context_set_modules(cryo_context *ctx,
                                                  const cryo_module_config *config);

/* Drops the context's cached unit for the module whose key is `name` (a file's real path, a
 * host resolver's path), or every cached unit when `name` is NULL: the next import compiles it
 * again (hot reload). VMs that already ran a module keep their module value until they are
 * reset. Returns the number of units dropped. Thread-safe (takes the module lock). */
CRYO_API size_t cryo_context_invalidate_modules(cryo_context *ctx, const char *name);

/* ==========================================================================================
 * VMs
 *
 * A VM runs a unit in a context. It is used by one thread at a time (only cryo_vm_interrupt may
 * come from another thread), keeps the error of its last failed run or call (cryo_vm_error) and
 * stays usable after an error. Make one with cryo_vm_new, or take a reset one from the calling
 * thread's pool (cryo_vm_pool_acquire): both cost almost nothing.
 * ======================================================================================== */

/* Creates a VM that runs `unit` with the host functions of `ctx` (NULL = the standard
 * context), with the context's default limits. The VM takes its own references to the unit and
 * the context; nothing is parsed or registered: creation is one small allocation. Returns NULL
 * when `unit` is NULL or memory runs out. The VM is owned by the caller (cryo_vm_free) and may be
 * used by one thread at a time. Any thread. */
CRYO_API cryo_vm *cryo_vm_new(cryo_unit *unit, cryo_context *ctx);

/* A VM with no packages at all (the raw context; Rhai's Engine::new_raw): only script
 * functions and operators. Same rules as cryo_vm_new. */
CRYO_API cryo_vm *cryo_vm_new_raw(cryo_unit *unit);

/* Frees a VM, every value it still holds and its reference to the unit; threads its scripts
 * spawned that still run are stopped and joined first. NULL is allowed. On the VM's thread,
 * not from inside one of its own runs. */
CRYO_API void cryo_vm_free(cryo_vm *vm);

/* Runs the unit's top level. `globals` (borrowed; may be NULL when nglobals is 0) gives the
 * values of the variables named by cryo_compile_options.globals, in the same order. On success
 * returns CRYO_OK and stores the value of the script's last expression in *result (owned by
 * the caller; may be NULL to discard it). On failure returns the error's kind; the error is
 * then available from cryo_vm_error() until the next run. The VM stays usable after an error.
 * Before it returns, every thread the run spawned (spawn) and did not join is stopped and
 * joined. CRYO_ERR_API for a NULL VM, a negative nglobals or more globals than the unit was
 * compiled with. On the VM's thread. */
CRYO_API cryo_error_kind cryo_vm_run(cryo_vm *vm, const cryo_value *globals, int nglobals,
                                     cryo_value *result);

/* The error of the last failed run or call, owned by the VM (valid until the next run or call
 * on the VM, or cryo_vm_free). NULL after a success and for a NULL VM. On the VM's thread. */
CRYO_API const cryo_error *cryo_vm_error(const cryo_vm *vm);

/* Calls the script function `name` with `argc` arguments (borrowed). Same result and error
 * rules as cryo_vm_run. The unit's top level need not have run. Errors: CRYO_ERR_NOT_FOUND when
 * the unit has no function `name` of `argc` parameters, CRYO_ERR_API for a NULL name or argv,
 * the script's own errors. On the VM's thread. */
CRYO_API cryo_error_kind cryo_vm_call(cryo_vm *vm, const char *name, int argc,
                                      const cryo_value *argv, cryo_value *result);

/* Asks a running VM to stop at its next check (loops and calls); the run ends with
 * CRYO_ERR_INTERRUPTED. Thread-safe: the one function that may be called on a VM from another
 * thread. The flag is cleared when the next run starts. A run waiting in join() stops within
 * 10 ms; threads the run spawned are stopped and joined when it ends. */
CRYO_API void cryo_vm_interrupt(cryo_vm *vm);

/* Swaps the unit / the context (NULL = std) of a VM that is not running: retains the new,
 * releases the old; setting the context also resets the limits to its defaults. Values the VM
 * handed out stay valid. Errors: CRYO_ERR_API (NULL unit, or the VM is running). On the VM's
 * thread. */
CRYO_API cryo_error_kind cryo_vm_set_unit(cryo_vm *vm, cryo_unit *unit);
CRYO_API cryo_error_kind cryo_vm_set_context(cryo_vm *vm, cryo_context *ctx);

/* --- Limits, capabilities, hooks and userdata --------------------------------------------- */

/* Sets / reads one limit of a VM (cryo_limit, under Contexts; 0 = unlimited). A VM starts with
 * its context's defaults; cryo_vm_set_context and a pool reset restore them. A NULL VM or an
 * unknown `which` is ignored (cryo_vm_get_limit gives 0). On the VM's thread. */
CRYO_API void cryo_vm_set_limit(cryo_vm *vm, cryo_limit which, uint64_t value);
CRYO_API uint64_t cryo_vm_get_limit(const cryo_vm *vm, cryo_limit which);

/* The capabilities (CRYO_CAP_*) of the VM's context; 0 for NULL. On the VM's thread. */
CRYO_API unsigned cryo_vm_capabilities(const cryo_vm *vm);

/* Where print() and debug() go. `text` is borrowed for the call. The default writes a line to
 * stdout (print) or stderr (debug). Pass NULL to restore the default. `fn` is called on the
 * VM's thread; `userdata` is borrowed. A NULL VM is ignored. Set them on the VM's thread. */
typedef void (*cryo_print_fn)(void *userdata, const char *text, size_t len);
CRYO_API void cryo_vm_set_print(cryo_vm *vm, cryo_print_fn fn, void *userdata);
CRYO_API void cryo_vm_set_debug(cryo_vm *vm, cryo_print_fn fn, void *userdata);

/* Progress callback: called on the VM's thread about every `every` operations (0 = 1) with the
 * operations counted so far in the run (counted as for CRYO_LIMIT_OPERATIONS: at loop back
 * edges and calls). Returning false stops the run with CRYO_ERR_INTERRUPTED (not catchable by
 * scripts). fn NULL removes it. It costs nothing between calls: the VM's operation check
 * compares against the nearer of the operation limit and the next progress point. */
typedef bool (*cryo_progress_fn)(void *userdata, uint64_t operations);
CRYO_API void cryo_vm_set_progress(cryo_vm *vm, cryo_progress_fn fn, void *userdata,
                                   uint64_t every);

/* --- the line hook (debuggers, tracing, coverage; docs/debugging.md) ------------------------
 * A hook called on the VM's thread each time a run reaches a new line of a script function:
 * the line changed, a loop jumped back, a function was entered, or a call returned to a
 * different line. `frame` describes where (valid during the call only). Return false to stop
 * the run with CRYO_ERR_INTERRUPTED (not catchable by scripts), true to go on. Inside the hook
 * use only the cryo_debug_* functions on `frame`, and cryo_value_release on values they gave. */
typedef struct cryo_debug_frame {
    const char *function;    /* as in a stack trace: "fib", "<main>", "<closure>" (borrowed) */
    const char *source_name; /* the unit's chunk name, may be NULL (borrowed) */
    int line;                /* 1-based */
    int column;              /* of the first instruction on the line */
    int depth;               /* script frames on the VM's stack, 1 = the run's outermost */
    cryo_vm *vm;
    const void *internal; /* the VM's frame: for cryo_debug_local */
} cryo_debug_frame;
typedef bool (*cryo_line_hook)(void *userdata, const cryo_debug_frame *frame);
/* Sets (fn non-NULL) or removes (NULL) the line hook; `userdata` is borrowed. The hook is
 * looked at when the VM is entered (a run, a call, a host function calling back): set it before
 * the run; removing it from inside the hook takes effect at once. A VM without a hook pays
 * nothing for this: the dispatch loop switches to a hooked dispatch table only when a hook is
 * set. Cleared by a pool reset. On the VM's thread. A NULL VM is ignored. */
CRYO_API void cryo_vm_set_line_hook(cryo_vm *vm, cryo_line_hook fn, void *userdata);
/* Reads the local variable `name` visible at the frame's current position (the innermost one
 * of that name; a parameter, a `let`, a loop or catch variable, a host-provided global at the
 * top level). On success stores an owned copy in *out (release with cryo_value_release) and
 * returns true; false when no such variable is in scope (or the unit came from a version 1
 * image, which kept no names). Only inside the hook, with its `frame`. */
CRYO_API bool cryo_debug_local(const cryo_debug_frame *frame, const char *name, cryo_value *out);
/* The names of the local variables in scope at the frame's position, outermost first; writes up
 * to `cap` borrowed names (valid while the unit lives) into names[] and returns how many are in
 * scope (which may be more than cap). A name shadowed by an inner one is listed once, for the
 * inner. Only inside the hook. */
CRYO_API int cryo_debug_locals(const cryo_debug_frame *frame, const char **names, int cap);

/* A pointer the host attaches to a VM (host functions read it with cryo_vm_userdata(vm)).
 * Borrowed; NULL by default and after a pool reset. On the VM's thread. */
CRYO_API void *cryo_vm_userdata(const cryo_vm *vm);
CRYO_API void cryo_vm_set_userdata(cryo_vm *vm, void *userdata);

/* --- Inside host functions ---------------------------------------------------------------- */

/* Raises a script error from a host function: records kind and message (printf-style) with
 * the position of the running instruction, and returns `kind`, so that a host function can
 * `return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "bad %s", what);`. The message is formatted
 * into the VM's error (the VM owns it: cryo_vm_error). On the VM's thread. */
CRYO_API cryo_error_kind cryo_vm_raise(cryo_vm *vm, cryo_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Calls a function value (closure, Fn("name"), SyncFunction) from a host function or from C
 * with `argc` borrowed arguments; the owned result goes to *ret. Re-entrant. Errors as
 * cryo_vm_run: the kind is returned and the error is in cryo_vm_error(vm); a host function
 * returns that kind to pass the error on. On the VM's thread. */
CRYO_API cryo_error_kind cryo_vm_call_value(cryo_vm *vm, cryo_value fn, int argc,
                                            const cryo_value *argv, cryo_value *ret);

/* --- Pooled VMs --------------------------------------------------------------------------- */

/* Returns a VM for (unit, ctx) (ctx NULL = std) from the calling thread's pool, reset: no
 * error, no hooks, no progress callback, userdata NULL, limits = the context's defaults. An
 * idle VM already set up for (unit, ctx) is preferred (no reference count is touched);
 * otherwise an idle VM has its unit and context swapped, or a new VM is created. The VM is
 * owned by the caller until cryo_vm_pool_release (or cryo_vm_free). NULL when `unit` is NULL or
 * out of memory. No lock: each thread has its own pool. */
CRYO_API cryo_vm *cryo_vm_pool_acquire(cryo_unit *unit, cryo_context *ctx);
/* Gives a VM back to the calling thread's pool (call it on the thread that uses the VM; any
 * VM may be released, pooled or not). The VM is reset at once; the pool keeps at most 16 idle
 * VMs per thread and frees the others. Idle VMs keep their unit and context alive until they
 * are reused or freed. A thread's pool is freed when the thread exits. NULL is allowed; a
 * VM that is running (released from inside its own host function) is left alone. */
CRYO_API void cryo_vm_pool_release(cryo_vm *vm);
/* Frees the calling thread's idle pooled VMs now, and the VM its last cryo_sync_call kept
 * (with their unit and context references; the main thread's pool is never freed otherwise:
 * key destructors do not run at exit()). A VM in use by a call running on this thread is left
 * alone. */
CRYO_API void cryo_vm_pool_clear(void);

/* ==========================================================================================
 * Frozen values: ConstValues, SyncFunctions and pins
 *
 * Values cross threads frozen. A ConstValue is an immutable value tree; a SyncFunction is a
 * function whose captures are frozen, with references to its unit and context. Both are
 * atomically reference counted: any thread may read, call, retain and release them at once.
 * A VM that holds a VM value pointing into frozen data (cryo_vm_thaw, cryo_sync_call_in, a
 * SyncFunction value a script made) pins that data: one reference, released when the VM is
 * reset or freed, so the host may release its own reference at once. See docs/sync.md.
 * ======================================================================================== */

/* --- ConstValues -------------------------------------------------------------------------- */

/* A ConstValue: an immutable value tree (unit, bool, int, float, char, string, array, map,
 * range, SyncFunction, sendable handle). Thread-safe: any thread may read it and
 * retain/release it (atomic counts). A scalar const needs no allocation. Passed by value like
 * cryo_value; a heap const is released with cryo_const_release (scalars: no-op). Constructors
 * return an owned const, or a unit const when memory runs out (or, for strings, when `s` is
 * NULL with len > 0). See docs/sync.md. */
typedef struct cryo_const {
    cryo_value v; /* v.flags never has CRYO_VF_COUNTED; heap objects are shared (atomic rc) */
} cryo_const;

/* Scalar and string constructors; any thread. */
CRYO_API cryo_const cryo_const_unit(void);
CRYO_API cryo_const cryo_const_bool(bool b);
CRYO_API cryo_const cryo_const_int(int64_t i);
CRYO_API cryo_const cryo_const_float(double f);
CRYO_API cryo_const cryo_const_char(uint32_t c);
CRYO_API cryo_const cryo_const_string(const char *s, size_t len); /* copied */
/* Arrays and maps from items/values whose references are taken (moved in, even on failure).
 * Map keys are copied; entries are sorted by key, and of duplicate keys the last wins. Any
 * thread. */
CRYO_API cryo_const cryo_const_array(cryo_const *items, size_t n);
CRYO_API cryo_const cryo_const_map(const char *const *keys, cryo_const *values, size_t n);
CRYO_API cryo_const cryo_const_retain(cryo_const c); /* returns c; atomic, any thread */
CRYO_API void cryo_const_release(cryo_const c);      /* the last release frees the tree */
/* The type of a const; any thread. */
CRYO_API cryo_type cryo_const_type(cryo_const c);
/* Deep equality with the script's `==` rules; SyncFunctions are equal when they are the same
 * object. Any thread. */
CRYO_API bool cryo_const_equal(cryo_const a, cryo_const b);
/* Debug text (as cryo_value_to_cstring); owned by the caller (free()), NULL if out of memory.
 * Any thread. */
CRYO_API char *cryo_const_to_cstring(cryo_const c, bool debug);
/* Readers: the cryo_value accessors (cryo_value_str, cryo_array_len/get, cryo_map_*) work on
 * c.v; elements read from a const are consts (borrowed). */

/* Freezing and thawing. cryo_vm_freeze deep-copies a VM value (borrowed) into a const owned
 * by the caller (functions are frozen as by into_sync; already-frozen parts are shared, not
 * copied). Errors (in cryo_vm_error(vm)): CRYO_ERR_TYPE for a non-sendable handle, a C pointer
 * or nesting deeper than 1000 (a closure capturing itself); CRYO_ERR_MEMORY. A part reachable
 * twice is copied once (the const has the value's shape). The copy is charged to the VM's
 * memory limit until the VM is reset or freed, and one operation per object copied to its
 * operations limit (CRYO_ERR_TOO_MANY_OPERATIONS, CRYO_ERR_INTERRUPTED). cryo_vm_thaw makes
 * a VM value (owned by the caller; releasing it is a no-op) that reads the const in place and
 * copies only when a script writes to it; the VM pins the const (one atomic reference, released
 * when the VM is reset or freed), so the caller may release the const right away. Both run on
 * the VM's thread. */
CRYO_API cryo_error_kind cryo_vm_freeze(cryo_vm *vm, cryo_value v, cryo_const *out);
CRYO_API cryo_error_kind cryo_vm_thaw(cryo_vm *vm, cryo_const c, cryo_value *out);

/* --- SyncFunctions ------------------------------------------------------------------------ */

/* A SyncFunction: a function whose captures are frozen, plus references to its unit and
 * context. Immutable and thread-safe: any number of threads may call one at once. */
typedef struct cryo_sync cryo_sync;
/* Freezes a function value of `vm` (into_sync): *out gets a SyncFunction owned by the caller
 * (for a SyncFn value: the same one, retained). On failure (a captured variable the closure
 * assigns, a capture that cannot be frozen, not a function) returns CRYO_ERR_TYPE and leaves the
 * error, naming the variable and its line, in cryo_vm_error(vm); the limit errors of
 * cryo_vm_freeze apply to the captures. Runs on the VM's thread. */
CRYO_API cryo_error_kind cryo_vm_into_sync(cryo_vm *vm, cryo_value fn, cryo_sync **out);
/* Adds / drops a reference (atomic: any thread). The last release frees the frozen captures
 * and drops the unit and context references. NULL is allowed. */
CRYO_API cryo_sync *cryo_sync_retain(cryo_sync *f);
CRYO_API void cryo_sync_release(cryo_sync *f);
/* The number of parameters; any thread. */
CRYO_API int cryo_sync_arity(const cryo_sync *f); /* -1 when variadic/unknown */
/* Calls from any thread, on the calling thread's pooled VM: arguments borrowed, result owned
 * by the caller. The call obeys f's default bounds (cryo_sync_set_bounds) and stops on
 * cryo_sync_interrupt(f); threads it spawns are stopped and joined before it returns. On error
 * returns the kind and, if `err` is not NULL, stores an owned copy of the error there (CRYO_ERR_API
 * for bad arguments; CRYO_ERR_NOT_FOUND for a wrong argument count). The caller must hold `f`
 * during the call. No lock, no atomic operation, no malloc for scalar arguments and results. */
CRYO_API cryo_error_kind cryo_sync_call(cryo_sync *f, int argc, const cryo_const *argv,
                                        cryo_const *result, cryo_error **err);
/* Bounds of SyncFunction calls (cryo_sync_call_bounded, cryo_sync_set_bounds, and callbacks:
 * cryo_ffi_callback_set_bounds). In each field 0 = no bound at this level (the next level's
 * applies: a call's own bounds, then its callback's, then its SyncFunction's); UINT64_MAX = no
 * bound at all, overriding the levels below. A call past its operations budget ends with
 * CRYO_ERR_TOO_MANY_OPERATIONS, past its deadline with CRYO_ERR_INTERRUPTED ("timed out"). They
 * are checked every few thousand operations (about every 50 us of script time), and while a
 * call waits in join(); not inside one long built-in operation. */
typedef struct cryo_call_bounds {
    uint64_t operations; /* operations per call, counted as CRYO_LIMIT_OPERATIONS */
    uint64_t timeout_ms; /* wall-clock milliseconds per call, from its start */
} cryo_call_bounds;
/* Sets the default bounds of every call of f started afterwards: cryo_sync_call, callbacks,
 * spawn, cryo_sync_call_in on an idle VM, worker SYNC queries (not a call of f from inside a
 * running script, which the outer run's bounds cover). NULL clears them. Thread-safe: any
 * thread, while calls run (a call reads the defaults once, when it starts). */
CRYO_API void cryo_sync_set_bounds(cryo_sync *f, const cryo_call_bounds *bounds);
/* Writes f's default bounds to *out (zeros for a NULL f; a NULL out is ignored). Any thread. */
CRYO_API void cryo_sync_get_bounds(const cryo_sync *f, cryo_call_bounds *out);
/* cryo_sync_call with bounds for this call (`bounds` borrowed; NULL = as cryo_sync_call).
 * Ownership, errors and thread rules as cryo_sync_call. */
CRYO_API cryo_error_kind cryo_sync_call_bounded(cryo_sync *f, const cryo_call_bounds *bounds,
                                                int argc, const cryo_const *argv,
                                                cryo_const *result, cryo_error **err);
/* Interrupts every call of f running now, on any thread (the calls listed for
 * cryo_sync_set_bounds): each ends with CRYO_ERR_INTERRUPTED within a few thousand operations
 * (10 ms when waiting in join()); calls started afterwards are not affected. Thread-safe, no
 * lock, no allocation; the caller must hold f. NULL is ignored. */
CRYO_API void cryo_sync_interrupt(cryo_sync *f);

/* Calls in a VM the caller already holds (any unit/context; re-entrant from a host function),
 * with VM values (borrowed); *result is owned by the caller. The VM pins `f` (once) because the
 * result may point into its frozen data. Errors as cryo_vm_run (cryo_vm_error(vm)). On the VM's
 * thread. */
CRYO_API cryo_error_kind cryo_sync_call_in(cryo_sync *f, cryo_vm *vm, int argc,
                                           const cryo_value *argv, cryo_value *result);
/* A SyncFunction as a VM value, and back (borrowed, or NULL for other values). The value
 * BORROWS f (it is uncounted, like every value into frozen data): keep f alive while a VM may
 * hold it, or give it to a VM with cryo_vm_thaw(vm, cryo_const_sync(f), &v), which pins it.
 * cryo_const_sync returns a const holding a new reference. NULL f gives a unit value / const.
 * Any thread (the value then belongs to the thread that uses it). */
CRYO_API cryo_value cryo_value_sync(cryo_sync *f);
CRYO_API cryo_sync *cryo_value_as_sync(cryo_value v);
CRYO_API cryo_const cryo_const_sync(cryo_sync *f);

/* --- ConstValues as images (format: Units, above) ----------------------------------------- */

/* cryo_const_to_image flag: write the unit's content hash (cryo_unit_hash) instead of the
 * unit itself; the loader then asks cryo_image_load_options.resolve for it. */
#define CRYO_IMAGE_UNIT_BY_HASH 0x1u

/* Writes a ConstValue's image: its values as a graph in which an object reachable twice is
 * written once (and loads shared), and, when it holds SyncFunctions, the one unit they run
 * (embedded, or by hash with CRYO_IMAGE_UNIT_BY_HASH). A SyncFunction's context is not
 * written: the loader supplies one. Buffer rules and errors as cryo_unit_to_image, plus
 * CRYO_ERR_TYPE for a value that cannot serialize (a host handle whose type has no dump/load
 * hooks or whose dump refused, C pointer, SyncFunctions of two different units) and nesting
 * deeper than 2000. Any thread (host types' dump hooks run on it). */
CRYO_API cryo_error_kind cryo_const_to_image(cryo_const c, unsigned flags, void *buf, size_t cap,
                                             size_t *size, cryo_error **err);
CRYO_API void *cryo_const_to_image_alloc(cryo_const c, unsigned flags, size_t *size,
                                         cryo_error **err); /* free() the result */

typedef struct cryo_image_load_options {
    /* The context loaded SyncFunctions are called in (retained by each); NULL = the standard
     * context. Host functions bind by name and arity as for a compiled unit; host handles in
     * the image load through the types its packages register (cryo_package_add_type). */
    cryo_context *context;
    /* For images that refer to their unit by hash: returns a NEW reference to the unit with
     * that hash (the loader releases it), or NULL. The loader checks the hash. May be NULL. */
    cryo_unit *(*resolve)(void *userdata, uint64_t hash);
    void *userdata;
} cryo_image_load_options;

/* Loads a ConstValue image into *out (owned by the caller: cryo_const_release; a SyncFunction
 * is had with cryo_value_as_sync(out->v)). opts may be NULL. On error *out is unit and the
 * kind is returned (and stored in *err as for cryo_unit_from_image): CRYO_ERR_ARGUMENT also
 * for a host handle whose type the context does not register, whose registered type has no
 * load hook or is not sendable, or whose load hook failed (the message names the type). Any
 * thread (host types' load hooks run on it). */
CRYO_API cryo_error_kind cryo_const_from_image(const void *data, size_t len,
                                               const cryo_image_load_options *opts, cryo_const *out,
                                               cryo_error **err);

/* ==========================================================================================
 * Concurrency: futures, queries, workers, pools and the bridge
 *
 * A worker is a thread that owns its VMs and serves queries from a bounded queue, in order; a
 * pool spreads queries over N workers; each query is answered through a future. The bridge goes
 * the other way: scripts call host functions whose work runs on a host thread. (Channels, the
 * queues under all of these, are internal.) Which thread may touch what: docs/concurrency.md.
 * ======================================================================================== */

/* --- Futures ------------------------------------------------------------------------------
 * A future is the answer to one query sent to a worker (or a pool). It is resolved exactly
 * once, by the worker thread (DONE, FAILED, CANCELLED) or at submission (REJECTED). Any thread
 * may wait on, poll or cancel a future; the host owns one reference (cryo_future_release). */
typedef struct cryo_future cryo_future;

typedef enum cryo_future_state {
    CRYO_FUTURE_PENDING = 0, /* queued, not started */
    CRYO_FUTURE_RUNNING,     /* a worker is running it */
    CRYO_FUTURE_DONE,        /* resolved with a value: cryo_future_value */
    CRYO_FUTURE_FAILED,      /* resolved with an error: cryo_future_error (a script error, a
                                limit, a timeout: kind CRYO_ERR_INTERRUPTED) */
    CRYO_FUTURE_CANCELLED,   /* cancelled (cryo_future_cancel, or a cancelling shutdown) */
    CRYO_FUTURE_REJECTED,    /* never queued: queue full (fail policy) or worker shut down */
} cryo_future_state;

/* True for the four final states. */
static inline bool cryo_future_state_final(cryo_future_state s) {
    return s >= CRYO_FUTURE_DONE;
}

/* Blocks until the future is resolved; returns its final state. Never spins. Any thread. */
CRYO_API cryo_future_state cryo_future_wait(cryo_future *f);
/* Blocks at most `timeout_ms` milliseconds; returns the state then (PENDING or RUNNING when
 * the time ran out). A wait that times out does not cancel the query: call cryo_future_cancel
 * to stop it, or give the query a timeout (cryo_query.timeout_ms), which the worker enforces. */
CRYO_API cryo_future_state cryo_future_wait_for(cryo_future *f, uint64_t timeout_ms);
/* The current state, without blocking. Any thread. */
CRYO_API cryo_future_state cryo_future_poll(cryo_future *f);
/* Asks for cancellation. A pending query is resolved CANCELLED at once and never runs; a
 * running one has its script interrupted (cryo_vm_interrupt on the worker's VM, plus a check
 * at the VM's next operation count) and resolves CANCELLED when the worker notices. Returns
 * true when the future will end CANCELLED, false when it was already resolved. Thread-safe;
 * calling it twice is harmless. */
CRYO_API bool cryo_future_cancel(cryo_future *f);
/* The value of a DONE future: borrowed, valid while the caller holds the future (retain it with
 * cryo_const_retain to keep it longer). A unit const for any other state. Any thread. */
CRYO_API cryo_const cryo_future_value(const cryo_future *f);
/* The error of a FAILED, CANCELLED or REJECTED future (borrowed, like the value); NULL when
 * DONE or not resolved. A script error keeps its kind, message, line and column. Any thread. */
CRYO_API const cryo_error *cryo_future_error(const cryo_future *f);
/* Adds / drops the caller's reference. Dropping the last host reference of an unresolved
 * future does not cancel it: the work runs and its answer is discarded. NULL is allowed.
 * Atomic: any thread. */
CRYO_API cryo_future *cryo_future_retain(cryo_future *f);
CRYO_API void cryo_future_release(cryo_future *f);

/* --- Queries ------------------------------------------------------------------------------
 * What a worker is asked to do. Everything the query points to is copied or retained at
 * submission: the caller may free its own copies as soon as the submit function returns. */
typedef enum cryo_query_kind {
    CRYO_QUERY_LOAD,    /* make `unit` (or `source`) the worker's loaded unit and run its top
                           level; the answer is the top level's value */
    CRYO_QUERY_EVAL,    /* compile and run `source` (or run `unit`) in a VM of its own */
    CRYO_QUERY_CALL,    /* call the script function `name` of the loaded unit with argv */
    CRYO_QUERY_SYNC,    /* call the SyncFunction `fn` with argv */
    CRYO_QUERY_MESSAGE, /* custom workers: hand `message` to the host's handler */
} cryo_query_kind;

typedef struct cryo_query {
    cryo_query_kind kind;
    cryo_unit *unit;         /* LOAD, EVAL: retained; NULL = compile `source` instead */
    const char *source;      /* LOAD, EVAL: copied */
    size_t source_len;       /* 0 = strlen(source) */
    const char *source_name; /* LOAD, EVAL: for errors; may be NULL */
    const char *name;        /* CALL: copied */
    cryo_sync *fn;           /* SYNC: retained */
    const cryo_const *argv;  /* CALL, SYNC: each retained */
    int argc;
    cryo_const message;  /* MESSAGE: retained */
    uint64_t timeout_ms; /* 0 = the worker's default; when it runs out (counted from the
                            start of the run), the script is interrupted and the future
                            FAILS with CRYO_ERR_INTERRUPTED "timed out" */
} cryo_query;

/* --- Workers ------------------------------------------------------------------------------
 * A worker is a thread that owns its VMs (from the worker thread's VM pool) and serves queries
 * from a bounded channel one at a time, in order. A script error, a limit or an interrupted
 * script ends only that query: the worker goes on with the next one. */
typedef struct cryo_worker cryo_worker;
/* The query a custom handler is serving (borrowed by the handler for the call). */
typedef struct cryo_job cryo_job;

/* A custom worker's handler: runs on the worker thread with the `state` made by `init`. It
 * answers `message` (borrowed) with an owned const in *result and CRYO_OK, or with an error
 * kind and, optionally, an owned error in *err (a message is made up when left NULL). */
typedef cryo_error_kind (*cryo_worker_handler)(void *state, cryo_job *job, cryo_const message,
                                               cryo_const *result, cryo_error **err);

typedef struct cryo_worker_config {
    cryo_context *context; /* NULL = cryo_context_std(); retained by the worker */
    size_t queue_capacity; /* queries waiting at most; 0 = 1024 */
    bool fail_when_full;   /* submitting to a full queue: false = block, true = REJECTED */
    uint64_t timeout_ms;   /* default per-query timeout; 0 = none */
    uint64_t limits[CRYO_LIMIT__COUNT]; /* VM limits per query; 0 = the context's default */
    cryo_print_fn print; /* print() of the worker's scripts (NULL = stdout); called on the
                            worker thread */
    void *print_userdata;
    /* Custom workers (cryo_worker_new_custom) only. init(userdata) runs first on the worker
     * thread and returns the handler's state; fini(state) runs last, on the same thread. */
    cryo_worker_handler handler;
    void *(*init)(void *userdata);
    void (*fini)(void *state);
    void *userdata;
} cryo_worker_config;

/* Starts a worker thread. `config` is read during the call (NULL = defaults). Returns a worker
 * owned by the caller (cryo_worker_free), or NULL when the thread or memory is not available.
 * Any thread. */
CRYO_API cryo_worker *cryo_worker_new(const cryo_worker_config *config);
/* Starts a custom worker: queries of kind MESSAGE go to config->handler (required); other
 * kinds are served as by cryo_worker_new. Same ownership and thread rules as cryo_worker_new. */
CRYO_API cryo_worker *cryo_worker_new_custom(const cryo_worker_config *config);
/* Queues a query. Returns a future owned by the caller (never NULL except when out of
 * memory). When the queue is full, blocks until there is room (or, with fail_when_full, returns
 * a REJECTED future); after shutdown, returns a REJECTED future. Thread-safe: any number of
 * threads may submit at once. */
CRYO_API cryo_future *cryo_worker_submit(cryo_worker *w, const cryo_query *q);
/* Shorthands for cryo_worker_submit (an EVAL of `source`, a SYNC of `fn`, a MESSAGE), with
 * its rules: the future is owned by the caller, arguments are copied or retained; any thread. */
CRYO_API cryo_future *cryo_worker_eval(cryo_worker *w, const char *source);
CRYO_API cryo_future *cryo_worker_call_sync(cryo_worker *w, cryo_sync *fn, int argc,
                                            const cryo_const *argv);
CRYO_API cryo_future *cryo_worker_send(cryo_worker *w, cryo_const message);

typedef enum cryo_shutdown_mode {
    CRYO_SHUTDOWN_FINISH, /* run every query already queued, then stop */
    CRYO_SHUTDOWN_CANCEL, /* cancel the queued queries and interrupt the running one */
} cryo_shutdown_mode;
/* Stops accepting queries (later submissions are REJECTED), finishes or cancels what is queued
 * as `mode` says, and joins the thread. With FINISH and `grace_ms` > 0, switches to CANCEL when
 * the work is not done after `grace_ms` milliseconds (0 = wait as long as it takes). On return
 * every future the worker ever returned is resolved. Idempotent. Must not be called from the
 * worker's own thread (a handler). */
CRYO_API void cryo_worker_shutdown(cryo_worker *w, cryo_shutdown_mode mode, uint64_t grace_ms);
/* Shuts down (FINISH, no grace limit) if needed and frees the worker. Futures stay valid.
 * NULL is allowed. Not from the worker's own thread; no other thread may use the worker. */
CRYO_API void cryo_worker_free(cryo_worker *w);

/* For custom handlers, on the worker thread: whether the job was cancelled or timed out (poll
 * it in long work), and the VM to interrupt on cancellation. cryo_job_watch_vm also installs a
 * progress callback on `vm` (replacing any other) that stops the VM's run when the job is
 * cancelled or times out; pass NULL (or another VM) to detach it, which removes that callback.
 * Detach before freeing the VM; the worker detaches a VM still watched when the handler
 * returns. */
CRYO_API bool cryo_job_cancelled(const cryo_job *job);
CRYO_API void cryo_job_watch_vm(cryo_job *job, cryo_vm *vm);

/* Counters (snapshots; each read atomically, not as a whole). Any thread. */
typedef struct cryo_worker_stats {
    uint64_t queued;    /* waiting in the queue (and submissions blocked on a full queue) */
    uint64_t running;   /* being served now */
    uint64_t done;      /* resolved DONE */
    uint64_t failed;    /* resolved FAILED */
    uint64_t cancelled; /* resolved CANCELLED */
    uint64_t rejected;  /* REJECTED at submission */
} cryo_worker_stats;
CRYO_API void cryo_worker_get_stats(cryo_worker *w, cryo_worker_stats *out);

/* --- Worker pools -------------------------------------------------------------------------
 * N workers, each with its own bounded queue. A pool is thread-safe: any thread may submit. */
typedef struct cryo_worker_pool cryo_worker_pool;

typedef enum cryo_pool_policy {
    CRYO_POOL_ROUND_ROBIN,  /* the next worker in turn */
    CRYO_POOL_LEAST_LOADED, /* the worker with the fewest queued + running queries */
} cryo_pool_policy;

typedef struct cryo_pool_config {
    int nworkers; /* 0 = the number of online CPUs */
    cryo_pool_policy policy;
    cryo_worker_config worker; /* for every worker (custom handler too, when set) */
} cryo_pool_config;

/* Starts the pool's threads. `config` is read during the call. Owned by the caller
 * (cryo_worker_pool_free); NULL when a thread or memory is not available. Any thread. */
CRYO_API cryo_worker_pool *cryo_worker_pool_new(const cryo_pool_config *config);
/* The number of workers; any thread. */
CRYO_API int cryo_worker_pool_size(const cryo_worker_pool *p);
/* Queues a query on one worker chosen by the policy (back-pressure, ownership and errors as
 * cryo_worker_submit). Any thread. */
CRYO_API cryo_future *cryo_worker_pool_submit(cryo_worker_pool *p, const cryo_query *q);
/* Queues the same query on every worker (typically a LOAD): writes one future per worker to
 * futures[0..size-1] (owned by the caller). Returns how many were queued (not REJECTED). Any
 * thread. */
CRYO_API int cryo_worker_pool_broadcast(cryo_worker_pool *p, const cryo_query *q,
                                        cryo_future **futures);
/* Sums the workers' counters (snapshots). Any thread. */
CRYO_API void cryo_worker_pool_get_stats(cryo_worker_pool *p, cryo_worker_stats *out);
/* Shuts every worker down as cryo_worker_shutdown does (all stop accepting first, then all are
 * joined), so that every future the pool returned is resolved on return. Idempotent. Any
 * thread but the pool's own workers. */
CRYO_API void cryo_worker_pool_shutdown(cryo_worker_pool *p, cryo_shutdown_mode mode,
                                        uint64_t grace_ms);
/* Shuts down (FINISH, no grace limit) if needed and frees the pool. Futures stay valid. NULL
 * is allowed. Not from one of the pool's workers; no other thread may use the pool. */
CRYO_API void cryo_worker_pool_free(cryo_worker_pool *p);

/* Exposes a pool to scripts: adds `submit(f, args...)` (freezes f into a SyncFunction and the
 * arguments into consts, queues a SYNC query, returns a handle of type "Future") and
 * `join(h)` / `h.join()` (blocks the script's thread until the query is resolved; returns the
 * value thawed, or raises the query's error as a catchable script error) to `pkg` (not
 * sealed). Put `pkg` BEFORE the standard package in the context, so that its join() is found
 * first (it hands spawn() handles on to the standard join). The pool must outlive every VM
 * whose context includes `pkg`. A script running on the pool itself must not join work queued
 * behind it on the same worker (it would wait for itself): use LEAST_LOADED or another pool.
 * Errors: CRYO_ERR_API (NULL, sealed package), CRYO_ERR_MEMORY. On the package's building
 * thread. */
CRYO_API cryo_error_kind cryo_worker_pool_expose(cryo_worker_pool *p, cryo_package *pkg);

/* --- The async bridge ---------------------------------------------------------------------
 * Host "async" functions whose work runs on a host thread (an event loop, an I/O thread). A
 * script calls one like any function: the VM's thread freezes the arguments, sends a call over
 * the bridge's command channel and blocks until the host answers it (or the timeout runs out,
 * which raises a catchable script error CRYO_ERR_RUNTIME). Any number of VMs on any number of
 * threads may wait at once; each gets its own answer. */
typedef struct cryo_bridge cryo_bridge;
/* One pending call, owned by the host between cryo_bridge_next and its answer. */
typedef struct cryo_bridge_call cryo_bridge_call;

/* A bridge whose command channel holds `capacity` calls (0 = 1024). Owned by the caller
 * (cryo_bridge_free); NULL when out of memory. Any thread. */
CRYO_API cryo_bridge *cryo_bridge_new(size_t capacity);
/* Adds the async function `name` (`arity` arguments, -1 = any) to `pkg` (not sealed). A call
 * waits at most `timeout_ms` for its answer (0 = forever). `userdata` is handed back by
 * cryo_bridge_call_userdata. The bridge must outlive every VM whose context includes `pkg`.
 * Errors: CRYO_ERR_API (NULL, sealed package, bad name or arity), CRYO_ERR_MEMORY. On the
 * package's building thread. */
CRYO_API cryo_error_kind cryo_bridge_register(cryo_bridge *b, cryo_package *pkg, const char *name,
                                              int arity, uint64_t timeout_ms, void *userdata);
/* For the host thread: the next call, waiting at most `timeout_ms` (-1 = forever, 0 = poll).
 * NULL on timeout, or when the bridge is closed and drained. The call is owned by the caller
 * until answered. Thread-safe (several host threads may serve one bridge). */
CRYO_API cryo_bridge_call *cryo_bridge_next(cryo_bridge *b, int64_t timeout_ms);
/* What the script asked for: the function's name, the arguments (borrowed consts, valid until
 * the answer) and the registration's userdata. On the thread holding the call. */
CRYO_API const char *cryo_bridge_call_name(const cryo_bridge_call *c);
CRYO_API int cryo_bridge_call_argc(const cryo_bridge_call *c);
CRYO_API cryo_const cryo_bridge_call_arg(const cryo_bridge_call *c, int i);
CRYO_API void *cryo_bridge_call_userdata(const cryo_bridge_call *c);
/* Whether the script stopped waiting (timed out or interrupted): the answer will be dropped.
 * Any thread holding the call. */
CRYO_API bool cryo_bridge_call_abandoned(const cryo_bridge_call *c);
/* Answers a call, from any thread, exactly once; the call is freed (do not touch it again).
 * cryo_bridge_reply moves `value` (owned) to the script; cryo_bridge_fail makes the script's
 * call raise CRYO_ERR_RUNTIME with `message` (copied). Answering an abandoned call is allowed:
 * the answer is dropped. */
CRYO_API void cryo_bridge_reply(cryo_bridge_call *c, cryo_const value);
CRYO_API void cryo_bridge_fail(cryo_bridge_call *c, const char *message);
/* Closes the command channel: later calls raise a script error ("the bridge is closed");
 * calls already queued stay queued: cryo_bridge_next still hands them out (they must be
 * answered), then returns NULL. Thread-safe; idempotent. A script waiting for an answer
 * also stops on its timeout or on cryo_vm_interrupt (checked every 10 ms while it waits;
 * the interrupt ends the run with CRYO_ERR_INTERRUPTED). */
CRYO_API void cryo_bridge_close(cryo_bridge *b);
/* Closes the bridge, fails every call still queued and frees it. No VM may be inside one of its
 * functions any more, and no host thread inside cryo_bridge_next. */
CRYO_API void cryo_bridge_free(cryo_bridge *b);

/* ==========================================================================================
 * Utilities: JSON
 *
 * Scripts have parse_json(text) and to_json(value); these are the host's side. Mapping: object
 * <-> map, array <-> array, string <-> string, a number without fraction or exponent <-> i64
 * (beyond i64: an error, never a silent float), other numbers <-> f64, true/false <-> bool, null
 * <-> (); a char is written as a one-character string. Of duplicate keys the last wins. Strings
 * may hold NUL characters. Nesting is bounded at 200 arrays/objects (scripts: the VM's
 * call-depth limit when lower). See docs/language.md.
 * ======================================================================================== */

/* Parses `len` bytes of UTF-8 JSON text (borrowed; any JSON value, not only objects) into *out
 * (owned by the caller: cryo_value_release; () on failure). No VM needed: the value is on the
 * untracked heap like cryo_value_string's, and belongs to the calling thread. Errors: returns
 * the kind and, if `err` is not NULL, stores an owned error (cryo_error_free) there with the
 * JSON text's line and column: CRYO_ERR_PARSE for invalid JSON (message from jansson, e.g.
 * "'[' or '{' expected near 'x'"), an integer beyond i64 or invalid UTF-8;
 * CRYO_ERR_STACK_OVERFLOW for nesting beyond the bound; CRYO_ERR_MEMORY; CRYO_ERR_API when
 * `out` is NULL or `text` is NULL with len > 0. Thread-safe (no shared state). */
CRYO_API cryo_error_kind cryo_value_from_json(const char *text, size_t len, cryo_value *out,
                                              cryo_error **err);

/* Writes `v` (borrowed) as compact JSON (no spaces; map keys in key order; floats in their
 * shortest form that reads back, "1.0", "1e-7"). Returns a NUL-terminated string owned by the
 * caller (free()), its length in *len when `len` is not NULL. On failure returns NULL and, if
 * `err` is not NULL, stores an owned error: CRYO_ERR_TYPE naming a value JSON cannot hold
 * (Fn, SyncFn, range, handle, pointer), CRYO_ERR_ARGUMENT for NaN or an infinite float,
 * CRYO_ERR_STACK_OVERFLOW for nesting beyond the bound, CRYO_ERR_MEMORY. Runs on the thread
 * that owns `v` (a const's c.v may be written from any thread). */
CRYO_API char *cryo_value_to_json(cryo_value v, size_t *len, cryo_error **err);

#ifdef __cplusplus
}
#endif
#endif /* CRYO_H */
