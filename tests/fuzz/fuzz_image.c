/*
 * fuzz_image.c — libFuzzer target: the image loader (src/image.c) on hostile bytes.
 *
 * The input is an image. Its header's length and hash are rewritten to match the bytes that
 * follow (a mutated payload would otherwise stop at the hash check), so the fuzzer reaches
 * the parser and the bytecode verifier. Whatever loads is run under limits: a unit image in a
 * VM, a ConstValue image printed and, when it is a SyncFunction, called with one argument.
 * Seeds in tests/fuzz/corpus/image/ are images of scripts and of frozen values.
 * ConstValue images load in a context that registers a host type "Vec2" (16 bytes: two
 * little-endian doubles, as in tests/test-image-hosttype.c), so mutations of a host-handle
 * record reach a load hook (seed const-vec2.cryob: a SyncFunction capturing a map with a Vec2).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cryo.h>

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void quiet(void *userdata, const char *text, size_t len) {
    (void)userdata, (void)text, (void)len;
}

static cryo_vm *limited_vm(cryo_unit *u) {
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    if (!vm) return NULL;
    cryo_vm_set_print(vm, quiet, NULL);
    cryo_vm_set_debug(vm, quiet, NULL);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 20000);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MEMORY, 8u << 20);
    cryo_vm_set_limit(vm, CRYO_LIMIT_STRING_SIZE, 16u << 10);
    cryo_vm_set_limit(vm, CRYO_LIMIT_ARRAY_SIZE, 1024);
    cryo_vm_set_limit(vm, CRYO_LIMIT_MAP_SIZE, 1024);
    cryo_vm_set_limit(vm, CRYO_LIMIT_CALL_DEPTH, 48);
    return vm;
}

/* Vec2: a load hook as a careful host writes it (the bytes are hostile). */
typedef struct vec2 {
    atomic_int rc;
    double xy[2];
} vec2;
static void vec2_retain(void *p) {
    atomic_fetch_add(&((vec2 *)p)->rc, 1);
}
static void vec2_release(void *p) {
    if (atomic_fetch_sub(&((vec2 *)p)->rc, 1) == 1) free(p);
}
static void *vec2_load(const void *data, size_t len, char *why, size_t whylen) {
    if (len != 16) {
        snprintf(why, whylen, "Vec2 takes 16 bytes, got %zu", len);
        return NULL;
    }
    vec2 *v = malloc(sizeof *v);
    if (!v) return NULL;
    atomic_init(&v->rc, 1);
    memcpy(v->xy, data, 16);
    return v;
}
static bool vec2_dump(void *ptr, cryo_bytes *out, char *why, size_t whylen) {
    (void)why, (void)whylen;
    return cryo_bytes_append(out, ((vec2 *)ptr)->xy, 16);
}
static size_t vec2_to_string(void *ptr, bool debug, char *buf, size_t cap) {
    const double *v = ((vec2 *)ptr)->xy;
    return (size_t)snprintf(buf, cap, debug ? "Vec2(%g, %g)" : "(%g, %g)", v[0], v[1]);
}
static const cryo_host_ops vec2_ops = {
    .to_string = vec2_to_string, .dump = vec2_dump, .load = vec2_load};
static const cryo_handle_type vec2_type = {
    .name = "Vec2", .retain = vec2_retain, .release = vec2_release, .ops = &vec2_ops};

/* Built once (libFuzzer runs inputs on one thread); kept for the process. */
static cryo_context *vec2_context(void) {
    static cryo_context *ctx;
    if (ctx) return ctx;
    cryo_package *pkg = cryo_package_new("vec2");
    if (!pkg || cryo_package_add_type(pkg, &vec2_type) != CRYO_OK) return NULL;
    cryo_package *pkgs[] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 20 || size > (1u << 20)) return 0;
    uint8_t *img = malloc(size);
    if (!img) return 0;
    memcpy(img, data, size);
    memcpy(img, "CRYO", 4);
    uint64_t h = fnv(img + 20, size - 20);
    uint32_t n = (uint32_t)(size - 20);
    for (int i = 0; i < 8; i++)
        img[8 + i] = (uint8_t)(h >> (8 * i));
    for (int i = 0; i < 4; i++)
        img[16 + i] = (uint8_t)(n >> (8 * i));
    cryo_error *err = NULL;
    if (img[6] == CRYO_IMAGE_UNIT) {
        cryo_unit *u = cryo_unit_from_image(img, size, &err);
        if (u) {
            cryo_vm *vm = limited_vm(u);
            cryo_value r;
            if (vm && cryo_vm_run(vm, NULL, 0, &r) == CRYO_OK) {
                free(cryo_value_to_cstring(r, true));
                cryo_value_release(r);
            }
            cryo_vm_free(vm);
            cryo_unit_release(u);
        } else if (!err || !err->message) {
            __builtin_trap(); /* a failed load always explains itself */
        }
    } else {
        cryo_const c;
        cryo_image_load_options o = {.context = vec2_context()};
        if (cryo_const_from_image(img, size, &o, &c, &err) == CRYO_OK) {
            free(cryo_const_to_cstring(c, true));
            cryo_sync *f = cryo_value_as_sync(c.v);
            cryo_unit *host = f ? cryo_compile("0", 1, NULL, NULL) : NULL;
            cryo_vm *vm = host ? limited_vm(host) : NULL;
            if (vm) {
                cryo_value a = cryo_int(3), r;
                if (cryo_sync_call_in(f, vm, 1, &a, &r) == CRYO_OK) cryo_value_release(r);
            }
            cryo_vm_free(vm);
            cryo_unit_release(host);
            cryo_const_release(c);
        } else if (!err || !err->message) {
            __builtin_trap();
        }
    }
    cryo_error_free(err);
    free(img);
    return 0;
}
