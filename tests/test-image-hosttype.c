/*
 * test-image-hosttype.c — host types in images (issue 14, format version 2): a Vec2 with
 * dump/load hooks round-trips inside the captured map and array of a SyncFunction, loaded in
 * another context that registers the type by name (and on 4 threads at once); the loading side
 * without the type, with a type of that name but no hooks, or whose load hook fails; hostile
 * bytes for the hook (wrong length, every truncation and bit flip); a type without hooks and a
 * dump hook that refuses; a version 1 image cannot hold a handle; cryo_package_add_type's rules.
 */
/* ctest-labels: threads */
#include "test.h"

#include <math.h>
#include <stdatomic.h>

/* --- Vec2: a sendable value type with image hooks ------------------------------------------- */

typedef struct vec2 {
    atomic_int rc;
    double x, y;
} vec2;

static atomic_int live;  /* vec2 objects alive */
static atomic_int loads; /* load hook calls that made an object */

static vec2 *vec2_make(double x, double y) {
    vec2 *v = malloc(sizeof *v);
    if (!v) return NULL;
    atomic_init(&v->rc, 1);
    v->x = x;
    v->y = y;
    atomic_fetch_add(&live, 1);
    return v;
}
static void vec2_retain(void *p) {
    atomic_fetch_add(&((vec2 *)p)->rc, 1);
}
static void vec2_release(void *p) {
    if (atomic_fetch_sub(&((vec2 *)p)->rc, 1) == 1) {
        free(p);
        atomic_fetch_sub(&live, 1);
    }
}

static cryo_error_kind vec2_get(cryo_vm *vm, void *ptr, const char *name, cryo_value *out) {
    (void)vm;
    vec2 *v = ptr;
    if (strcmp(name, "x") == 0)
        *out = cryo_float(v->x);
    else if (strcmp(name, "y") == 0)
        *out = cryo_float(v->y);
    else
        return CRYO_HOST_DECLINE;
    return CRYO_OK;
}

static const cryo_handle_type vec2_type;

static cryo_error_kind vec2_binary(cryo_vm *vm, cryo_operator op, cryo_value a, cryo_value b,
                                   cryo_value *out) {
    (void)vm;
    vec2 *va = cryo_value_as_handle(a, &vec2_type), *vb = cryo_value_as_handle(b, &vec2_type);
    if (!va || !vb || op != CRYO_OPER_ADD) return CRYO_HOST_DECLINE;
    *out = cryo_value_handle(&vec2_type, vec2_make(va->x + vb->x, va->y + vb->y));
    return CRYO_OK;
}

/* Two IEEE doubles, little-endian: 16 bytes. */
static void put_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}
static double get_f64(const unsigned char *p) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)p[i] << (8 * i);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static bool vec2_dump(void *ptr, cryo_bytes *out, char *why, size_t whylen) {
    vec2 *v = ptr;
    if (isnan(v->x) || isnan(v->y)) { /* the refusal path */
        snprintf(why, whylen, "NaN does not travel");
        return false;
    }
    unsigned char b[16];
    put_f64(b, v->x);
    put_f64(b + 8, v->y);
    return cryo_bytes_append(out, b, 8) && cryo_bytes_append(out, b + 8, 8);
}

/* The bytes are untrusted: exactly 16, both finite. */
static void *vec2_load(const void *data, size_t len, char *why, size_t whylen) {
    if (len != 16) {
        snprintf(why, whylen, "Vec2 takes 16 bytes, got %zu", len);
        return NULL;
    }
    double x = get_f64(data), y = get_f64((const unsigned char *)data + 8);
    if (!isfinite(x) || !isfinite(y)) {
        snprintf(why, whylen, "Vec2 coordinates must be finite");
        return NULL;
    }
    vec2 *v = vec2_make(x, y);
    if (!v)
        snprintf(why, whylen, "out of memory");
    else
        atomic_fetch_add(&loads, 1);
    return v;
}

static const cryo_host_ops vec2_ops = {
    .get = vec2_get,
    .binary = vec2_binary,
    .dump = vec2_dump,
    .load = vec2_load,
};
static const cryo_handle_type vec2_type = {
    .name = "Vec2", .retain = vec2_retain, .release = vec2_release, .ops = &vec2_ops};

/* A loading side's "Vec2" whose load always fails, and one with no image hooks. */
static void *failing_load(const void *data, size_t len, char *why, size_t whylen) {
    (void)data, (void)len;
    snprintf(why, whylen, "this side refuses vectors");
    return NULL;
}
static const cryo_host_ops failing_ops = {.dump = vec2_dump, .load = failing_load};
static const cryo_handle_type failing_type = {
    .name = "Vec2", .retain = vec2_retain, .release = vec2_release, .ops = &failing_ops};
static const cryo_handle_type hookless_type = {
    .name = "Vec2", .retain = vec2_retain, .release = vec2_release, .ops = &(cryo_host_ops){0}};

static cryo_error_kind fn_v(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud, (void)argc;
    if (argv[0]->type != CRYO_T_FLOAT || argv[1]->type != CRYO_T_FLOAT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "V(x, y) takes two floats");
    *ret = cryo_value_handle(&vec2_type, vec2_make(argv[0]->as.f, argv[1]->as.f));
    return CRYO_OK;
}

/* A context whose package registers `type` (and, for the dumping side, the V constructor).
 * With `nested`, the type is registered in a package that the context's package includes. */
static cryo_context *context_with(const cryo_handle_type *type, bool nested) {
    cryo_package *pkg = cryo_package_new("vectors");
    assert_int_equal(cryo_package_add(pkg, "V", 2, fn_v, NULL), CRYO_OK);
    if (type && nested) {
        cryo_package *inner = cryo_package_new("inner");
        assert_int_equal(cryo_package_add_type(inner, type), CRYO_OK);
        assert_int_equal(cryo_package_include(pkg, inner), CRYO_OK);
        cryo_package_release(inner);
    } else if (type) {
        assert_int_equal(cryo_package_add_type(pkg, type), CRYO_OK);
    }
    cryo_package *pkgs[] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);
    assert_non_null(ctx);
    return ctx;
}

/* --- helpers -----------------------------------------------------------------------------------
 */

/* The ConstValue src returns in ctx, frozen. */
static cryo_const freeze_in(cryo_context *ctx, const char *src) {
    cryo_unit *u = test_compile(src);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value v;
    if (cryo_vm_run(vm, NULL, 0, &v) != CRYO_OK) fail_msg("%s", cryo_vm_error(vm)->message);
    cryo_const c;
    cryo_error_kind k = cryo_vm_freeze(vm, v, &c);
    if (k) fail_msg("freeze: %s", cryo_vm_error(vm)->message);
    cryo_value_release(v);
    cryo_vm_free(vm);
    return c;
}

static unsigned char *dump(cryo_const c, size_t *n) {
    cryo_error *err = NULL;
    unsigned char *img = cryo_const_to_image_alloc(c, 0, n, &err);
    if (!img) fail_msg("dump: %s", err ? err->message : "?");
    return img;
}

static uint64_t fnv(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Rewrites the header's payload length and hash after a change to the payload. */
static void fix_header(unsigned char *img, size_t n) {
    uint32_t pl = (uint32_t)(n - 20);
    for (int i = 0; i < 4; i++)
        img[16 + i] = (unsigned char)(pl >> (8 * i));
    uint64_t h = fnv(img + 20, n - 20);
    for (int i = 0; i < 8; i++)
        img[8 + i] = (unsigned char)(h >> (8 * i));
}

/* Offset of the first Vec2 record's name in img ("Vec2" follows its u32 length). */
static size_t find_vec2(const unsigned char *img, size_t n) {
    for (size_t i = 24; i + 4 <= n; i++)
        if (memcmp(img + i, "Vec2", 4) == 0 && img[i - 4] == 4 && img[i - 5] == 6) return i;
    fail_msg("no Vec2 record in the image");
    return 0;
}

/* Loads img in ctx: the kind, the value in *out (when OK) and the message in msg. */
static cryo_error_kind load(const unsigned char *img, size_t n, cryo_context *ctx, cryo_const *out,
                            char *msg, size_t cap) {
    cryo_image_load_options o = {.context = ctx};
    cryo_error *err = NULL;
    cryo_const c;
    cryo_error_kind k = cryo_const_from_image(img, n, &o, &c, &err);
    snprintf(msg, cap, "%s", err ? err->message : "");
    if (k) {
        assert_non_null(err);
        assert_int_equal(c.v.type, CRYO_T_UNIT);
    }
    cryo_error_free(err);
    if (out)
        *out = c;
    else
        cryo_const_release(c);
    return k;
}

static const char *CLOSURE = "let m = #{pos: V(1.5, 2.0), list: [V(3.0, 4.0)], n: 10};\n"
                             "let twice = [m.pos, m.pos];\n"
                             "let f = |k| { let p = m.pos + m.list[0] + twice[1];"
                             " p.x * k + p.y + m.n };\n"
                             "f.into_sync()";

static double call_f(cryo_sync *f, int64_t k) {
    cryo_const a = cryo_const_int(k), r;
    cryo_error *err = NULL;
    if (cryo_sync_call(f, 1, &a, &r, &err) != CRYO_OK) fail_msg("call: %s", err->message);
    assert_int_equal(r.v.type, CRYO_T_FLOAT);
    double d = r.v.as.f;
    cryo_const_release(r);
    return d;
}

/* --- tests -------------------------------------------------------------------------------------
 */

/* A SyncFunction capturing a map and an array of Vec2s: dumped in one context, loaded in
 * another that registers Vec2 (in an included package), called there; the handle reachable
 * three times is written and loaded once; every object is released at the end. */
static void round_trip(void **state) {
    (void)state;
    int live0 = atomic_load(&live);
    cryo_context *a = context_with(&vec2_type, false), *b = context_with(&vec2_type, true);
    cryo_const c = freeze_in(a, CLOSURE);
    size_t n = 0;
    unsigned char *img = dump(c, &n);
    cryo_const_release(c);
    assert_int_equal(img[4], CRYO_IMAGE_VERSION); /* 2 */
    assert_int_equal(atomic_load(&live), live0);  /* the image holds bytes, not objects */
    int loads0 = atomic_load(&loads);
    cryo_const d;
    char msg[300];
    assert_int_equal(load(img, n, b, &d, msg, sizeof msg), CRYO_OK);
    assert_int_equal(atomic_load(&loads) - loads0, 2); /* pos (shared) and list[0] */
    cryo_sync *f = cryo_value_as_sync(d.v);
    assert_non_null(f);
    /* p = (1.5, 2) + (3, 4) + (1.5, 2) = (6, 8): 6k + 8 + 10 */
    assert_true(call_f(f, 2) == 30.0);
    assert_true(call_f(f, -1) == 12.0);
    cryo_const_release(d);
    /* a handle as the root of a value image, and as what a loaded array holds */
    c = freeze_in(a, "[V(0.25, -8.0), 7]");
    free(img);
    img = dump(c, &n);
    cryo_const_release(c);
    assert_int_equal(load(img, n, b, &d, msg, sizeof msg), CRYO_OK);
    cryo_value first = cryo_array_get(d.v, 0);
    vec2 *v = cryo_value_as_handle(first, &vec2_type);
    assert_non_null(v);
    assert_true(v->x == 0.25 && v->y == -8.0);
    char *text = cryo_const_to_cstring(d, true);
    assert_string_equal(text, "[<Vec2>, 7]");
    free(text);
    cryo_const_release(d);
    free(img);
    cryo_context_release(a);
    cryo_context_release(b);
    assert_int_equal(atomic_load(&live), live0);
}

typedef struct loader_job {
    const unsigned char *img;
    size_t n;
    cryo_context *ctx;
    int bad;
} loader_job;

static void *load_and_call(void *arg) {
    loader_job *j = arg;
    for (int i = 0; i < 50; i++) {
        cryo_image_load_options o = {.context = j->ctx};
        cryo_const d;
        if (cryo_const_from_image(j->img, j->n, &o, &d, NULL) != CRYO_OK) {
            j->bad++;
            continue;
        }
        cryo_const a = cryo_const_int(i), r;
        if (cryo_sync_call(cryo_value_as_sync(d.v), 1, &a, &r, NULL) != CRYO_OK ||
            r.v.type != CRYO_T_FLOAT || r.v.as.f != 6.0 * i + 18)
            j->bad++;
        cryo_const_release(r);
        cryo_const_release(d);
    }
    return NULL;
}

/* The load hook runs on whichever thread loads: 4 threads load one image at once. */
static void loads_on_threads(void **state) {
    (void)state;
    int live0 = atomic_load(&live);
    cryo_context *ctx = context_with(&vec2_type, false);
    cryo_const c = freeze_in(ctx, CLOSURE);
    size_t n = 0;
    unsigned char *img = dump(c, &n);
    cryo_const_release(c);
    pthread_t t[4];
    loader_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (loader_job){img, n, ctx, 0};
        assert_int_equal(pthread_create(&t[i], NULL, load_and_call, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
    free(img);
    cryo_context_release(ctx);
    assert_int_equal(atomic_load(&live), live0);
}

/* The loading side decides: a type it does not register, one of that name without hooks, and
 * one whose load hook fails are clear errors naming the type. */
static void loading_side(void **state) {
    (void)state;
    int live0 = atomic_load(&live);
    cryo_context *a = context_with(&vec2_type, false);
    cryo_const c = freeze_in(a, CLOSURE);
    size_t n = 0;
    unsigned char *img = dump(c, &n);
    cryo_const_release(c);
    char msg[300];
    assert_int_equal(load(img, n, NULL, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(msg, "host type 'Vec2' is not registered in the loading context"));
    cryo_context *none = context_with(NULL, false);
    assert_int_equal(load(img, n, none, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(msg, "'Vec2' is not registered"));
    cryo_context *hookless = context_with(&hookless_type, false);
    assert_int_equal(load(img, n, hookless, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(msg, "host type 'Vec2' of the loading context is not sendable or has "
                                "no load hook"));
    cryo_context *failing = context_with(&failing_type, false);
    assert_int_equal(load(img, n, failing, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(
        strstr(msg, "the load hook of host type 'Vec2' failed: this side refuses vectors"));
    assert_non_null(strstr(msg, "(at byte ")); /* where in the image */
    free(img);
    cryo_context_release(a);
    cryo_context_release(none);
    cryo_context_release(hookless);
    cryo_context_release(failing);
    assert_int_equal(atomic_load(&live), live0);
}

/* The hook's bytes are hostile: a wrong length reaches the hook and it refuses; a length past
 * the image stops the loader first; every truncation and every bit flip (header fixed up) is
 * an error or a value, never a crash or a leak. */
static void hostile_bytes(void **state) {
    (void)state;
    int live0 = atomic_load(&live);
    cryo_context *ctx = context_with(&vec2_type, false);
    cryo_const c = freeze_in(ctx, "[V(1.0, 2.0)]");
    size_t n = 0;
    unsigned char *img = dump(c, &n);
    cryo_const_release(c);
    size_t at = find_vec2(img, n); /* name, then u32 length 16, then 16 bytes */
    assert_int_equal(img[at + 4], 16);
    char msg[300];
    /* 15 bytes: the record shortened by one */
    unsigned char *s = malloc(n);
    memcpy(s, img, n);
    s[at + 4] = 15;
    memmove(s + at + 8 + 15, s + at + 8 + 16, n - (at + 8 + 16));
    fix_header(s, n - 1);
    assert_int_equal(load(s, n - 1, ctx, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(msg, "Vec2 takes 16 bytes, got 15"));
    /* a length far past the end of the image */
    memcpy(s, img, n);
    s[at + 7] = 0x40;
    fix_header(s, n);
    assert_int_equal(load(s, n, ctx, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(msg, "host handle bytes"));
    /* an infinite coordinate: the hook's own check */
    memcpy(s, img, n);
    put_f64(s + at + 8, INFINITY);
    fix_header(s, n);
    assert_int_equal(load(s, n, ctx, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(msg, "must be finite"));
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(load(img, cut, ctx, NULL, msg, sizeof msg), CRYO_OK);
    for (size_t i = 20; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(s, img, n);
            s[i] ^= (unsigned char)(1u << bit);
            fix_header(s, n);
            cryo_const d;
            if (load(s, n, ctx, &d, msg, sizeof msg) == CRYO_OK) {
                free(cryo_const_to_cstring(d, true));
                cryo_const_release(d);
            } else {
                assert_true(strlen(msg) > 8);
            }
        }
    free(s);
    free(img);
    cryo_context_release(ctx);
    assert_int_equal(atomic_load(&live), live0);
}

/* Dumping: a type without image hooks is refused by name, as is a dump hook that refuses;
 * a version 1 image cannot hold a host handle at all. */
static void refused(void **state) {
    (void)state;
    static const cryo_handle_type socket = {"Socket", NULL, vec2_retain, vec2_release, NULL};
    int live0 = atomic_load(&live);
    cryo_unit *u = test_compile("1");
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value h = cryo_value_handle(&socket, vec2_make(0, 0));
    cryo_const c;
    assert_int_equal(cryo_vm_freeze(vm, h, &c), CRYO_OK);
    cryo_value_release(h);
    cryo_vm_free(vm);
    size_t n = 0;
    cryo_error *err = NULL;
    assert_null(cryo_const_to_image_alloc(c, 0, &n, &err));
    assert_int_equal(err->kind, CRYO_ERR_TYPE);
    assert_non_null(strstr(err->message, "host handle of type 'Socket' cannot be serialized"));
    cryo_error_free(err);
    cryo_const_release(c);

    cryo_context *ctx = context_with(&vec2_type, false);
    c = freeze_in(ctx, "let nan = 0.0 / 0.0; #{v: V(nan, 1.0)}");
    assert_null(cryo_const_to_image_alloc(c, 0, &n, &err));
    assert_int_equal(err->kind, CRYO_ERR_TYPE);
    assert_non_null(
        strstr(err->message, "the dump hook of host type 'Vec2' failed: NaN does not travel"));
    cryo_error_free(err);
    cryo_const_release(c);

    c = freeze_in(ctx, "V(1.0, 2.0)");
    unsigned char *img = dump(c, &n);
    cryo_const_release(c);
    img[4] = 1; /* claim version 1 */
    fix_header(img, n);
    char msg[300];
    assert_int_equal(load(img, n, ctx, NULL, msg, sizeof msg), CRYO_ERR_ARGUMENT);
    assert_non_null(strstr(msg, "version 1 images have no host handles"));
    free(img);
    cryo_context_release(ctx);
    assert_int_equal(atomic_load(&live), live0);
}

/* cryo_package_add_type: a name once per package, only before sealing, a valid name. */
static void registration(void **state) {
    (void)state;
    static const cryo_handle_type unnamed = {NULL, NULL, vec2_retain, vec2_release, NULL};
    static const cryo_handle_type spaced = {"my vec", NULL, vec2_retain, vec2_release, NULL};
    cryo_package *p = cryo_package_new("p");
    assert_int_equal(cryo_package_add_type(p, &vec2_type), CRYO_OK);
    assert_int_equal(cryo_package_add_type(p, &failing_type), CRYO_ERR_API); /* same name */
    assert_int_equal(cryo_package_add_type(p, &unnamed), CRYO_ERR_API);
    assert_int_equal(cryo_package_add_type(p, &spaced), CRYO_ERR_API);
    assert_int_equal(cryo_package_add_type(p, NULL), CRYO_ERR_API);
    assert_int_equal(cryo_package_add_type(NULL, &vec2_type), CRYO_ERR_API);
    assert_int_equal(cryo_package_add_type(cryo_package_std(), &vec2_type), CRYO_ERR_API);
    cryo_package_seal(p);
    static const cryo_handle_type other = {"Other", NULL, vec2_retain, vec2_release, NULL};
    assert_int_equal(cryo_package_add_type(p, &other), CRYO_ERR_API); /* sealed */
    cryo_package_release(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),   cmocka_unit_test(loads_on_threads),
        cmocka_unit_test(loading_side), cmocka_unit_test(hostile_bytes),
        cmocka_unit_test(refused),      cmocka_unit_test(registration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
