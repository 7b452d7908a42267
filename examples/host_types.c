/*
 * host_types.c — C types that scripts use like their own (docs/host-types.md):
 *
 *   - Vec2, a value type: made by a host function vec2(x, y), with properties x and y (read
 *     and write), operators (+ - * by a number, unary -, ==, <), indexing v[0] / v[1], to_string
 *     for print and interpolation, iteration (for c in v). It is sendable: its reference count
 *     is atomic, so a Vec2 can be frozen into a SyncFunction and used from other threads.
 *     Arrays of Vec2 sort by its `<` (length) without a comparer, and its dump/load hooks
 *     let a closure holding Vec2s travel as an image (bytes) and be loaded back.
 *   - Player, a C struct the host owns and exposes by pointer: scripts read and write its
 *     fields through properties; the struct stays the host's (no destructor).
 *
 * Build: cc host_types.c $(pkg-config --cflags --libs cryo) -o host_types
 */
#include <cryo.h>

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Vec2 ----------------------------------------------------------------------------------- */

typedef struct vec2 {
    atomic_int rc;
    double x, y;
} vec2;

static void vec2_retain(void *p) {
    atomic_fetch_add_explicit(&((vec2 *)p)->rc, 1, memory_order_relaxed);
}
static void vec2_release(void *p) {
    if (atomic_fetch_sub_explicit(&((vec2 *)p)->rc, 1, memory_order_acq_rel) == 1) free(p);
}

static const cryo_host_ops vec2_ops;
static const cryo_handle_type vec2_type = {
    .name = "Vec2", .retain = vec2_retain, .release = vec2_release, .ops = &vec2_ops};

static cryo_value vec2_new(double x, double y) {
    vec2 *v = malloc(sizeof *v);
    if (!v) return cryo_unit_value();
    atomic_init(&v->rc, 1);
    v->x = x;
    v->y = y;
    return cryo_value_handle(&vec2_type, v);
}

/* A number argument (int or float); false for anything else. */
static bool number(cryo_value v, double *out) {
    if (v.type == CRYO_T_INT)
        *out = (double)v.as.i;
    else if (v.type == CRYO_T_FLOAT)
        *out = v.as.f;
    else
        return false;
    return true;
}

static cryo_error_kind vec2_get(cryo_vm *vm, void *p, const char *name, cryo_value *out) {
    (void)vm;
    vec2 *v = p;
    if (strcmp(name, "x") == 0)
        *out = cryo_float(v->x);
    else if (strcmp(name, "y") == 0)
        *out = cryo_float(v->y);
    else if (strcmp(name, "length") == 0)
        *out = cryo_float(hypot(v->x, v->y));
    else
        return CRYO_HOST_DECLINE; /* "unknown property 'z' of Vec2" */
    return CRYO_OK;
}

static cryo_error_kind vec2_set(cryo_vm *vm, void *p, const char *name, cryo_value value) {
    vec2 *v = p;
    double d;
    if (strcmp(name, "x") != 0 && strcmp(name, "y") != 0) return CRYO_HOST_DECLINE;
    if (!number(value, &d))
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "Vec2.%s must be a number, not %s", name,
                             cryo_type_name(value.type));
    *(name[0] == 'x' ? &v->x : &v->y) = d;
    return CRYO_OK;
}

static cryo_error_kind vec2_index(cryo_vm *vm, void *p, cryo_value index, cryo_value *out) {
    vec2 *v = p;
    if (index.type != CRYO_T_INT)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "a Vec2 index must be an i64, not %s",
                             cryo_type_name(index.type));
    if (index.as.i != 0 && index.as.i != 1)
        return cryo_vm_raise(vm, CRYO_ERR_INDEX, "Vec2 index %lld out of bounds (0 or 1)",
                             (long long)index.as.i);
    *out = cryo_float(index.as.i == 0 ? v->x : v->y);
    return CRYO_OK;
}

static cryo_error_kind vec2_binary(cryo_vm *vm, cryo_operator op, cryo_value a, cryo_value b,
                                   cryo_value *out) {
    vec2 *va = cryo_value_as_handle(a, &vec2_type), *vb = cryo_value_as_handle(b, &vec2_type);
    double k;
    if (va && vb) {
        switch (op) {
        case CRYO_OPER_ADD: *out = vec2_new(va->x + vb->x, va->y + vb->y); break;
        case CRYO_OPER_SUB: *out = vec2_new(va->x - vb->x, va->y - vb->y); break;
        case CRYO_OPER_MUL: *out = cryo_float(va->x * vb->x + va->y * vb->y); return CRYO_OK;
        case CRYO_OPER_EQ: *out = cryo_bool(va->x == vb->x && va->y == vb->y); return CRYO_OK;
        case CRYO_OPER_LT: /* by length */
            *out = cryo_bool(hypot(va->x, va->y) < hypot(vb->x, vb->y));
            return CRYO_OK;
        default: return CRYO_HOST_DECLINE; /* "cannot apply '/' to Vec2 and Vec2" */
        }
    } else if (op == CRYO_OPER_MUL && (va ? number(b, &k) : number(a, &k))) {
        vec2 *v = va ? va : vb;
        *out = vec2_new(v->x * k, v->y * k);
    } else if (op == CRYO_OPER_DIV && va && number(b, &k)) {
        if (k == 0) return cryo_vm_raise(vm, CRYO_ERR_ARITHMETIC, "Vec2 divided by zero");
        *out = vec2_new(va->x / k, va->y / k);
    } else {
        return CRYO_HOST_DECLINE;
    }
    return out->type == CRYO_T_HANDLE ? CRYO_OK
                                      : cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
}

static cryo_error_kind vec2_unary(cryo_vm *vm, cryo_operator op, void *p, cryo_value *out) {
    vec2 *v = p;
    if (op != CRYO_OPER_NEG) return CRYO_HOST_DECLINE;
    *out = vec2_new(-v->x, -v->y);
    return out->type == CRYO_T_HANDLE ? CRYO_OK
                                      : cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
}

static size_t vec2_to_string(void *p, bool debug, char *buf, size_t cap) {
    vec2 *v = p;
    int n = snprintf(buf, cap, debug ? "Vec2 { x: %g, y: %g }" : "(%g, %g)", v->x, v->y);
    return n < 0 ? 0 : (size_t)n;
}

static int64_t vec2_len(void *p) {
    (void)p;
    return 2;
}

/* Images: 16 bytes, x then y as little-endian IEEE doubles (a fixed byte order, so that the
 * bytes mean the same on any machine that loads them). */
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

static bool vec2_dump(void *p, cryo_bytes *out, char *why, size_t whylen) {
    (void)why, (void)whylen;
    vec2 *v = p;
    unsigned char b[16];
    put_f64(b, v->x);
    put_f64(b + 8, v->y);
    return cryo_bytes_append(out, b, sizeof b);
}

/* The bytes come from an image, maybe from another party: check them before use. */
static void *vec2_load(const void *data, size_t len, char *why, size_t whylen) {
    if (len != 16) {
        snprintf(why, whylen, "a Vec2 is 16 bytes, not %zu", len);
        return NULL;
    }
    vec2 *v = malloc(sizeof *v);
    if (!v) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    atomic_init(&v->rc, 1); /* the loaded handle's reference */
    v->x = get_f64(data);
    v->y = get_f64((const unsigned char *)data + 8);
    return v;
}

static const cryo_host_ops vec2_ops = {
    .get = vec2_get,
    .set = vec2_set,
    .index_get = vec2_index,
    .binary = vec2_binary,
    .unary = vec2_unary,
    .to_string = vec2_to_string,
    .len = vec2_len,
    .dump = vec2_dump,
    .load = vec2_load,
};

/* vec2(x, y): the script's constructor. */
static cryo_error_kind fn_vec2(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)ud, (void)argc;
    double x, y;
    if (!number(*argv[0], &x) || !number(*argv[1], &y))
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "vec2(x, y) takes two numbers");
    *ret = vec2_new(x, y);
    return ret->type == CRYO_T_HANDLE ? CRYO_OK
                                      : cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
}

/* --- Player: a C struct exposed by pointer -------------------------------------------------- */

typedef struct player {
    char name[32];
    int hp;
    double speed;
} player;

static cryo_error_kind player_get(cryo_vm *vm, void *p, const char *f, cryo_value *out) {
    (void)vm;
    player *pl = p;
    if (strcmp(f, "name") == 0)
        *out = cryo_value_string(pl->name, strlen(pl->name));
    else if (strcmp(f, "hp") == 0)
        *out = cryo_int(pl->hp);
    else if (strcmp(f, "speed") == 0)
        *out = cryo_float(pl->speed);
    else
        return CRYO_HOST_DECLINE;
    return CRYO_OK;
}

static cryo_error_kind player_set(cryo_vm *vm, void *p, const char *f, cryo_value v) {
    player *pl = p;
    if (strcmp(f, "hp") == 0) {
        if (v.type != CRYO_T_INT) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "hp must be an i64");
        pl->hp = v.as.i < 0 ? 0 : v.as.i > 1000 ? 1000 : (int)v.as.i; /* the host's rules */
        return CRYO_OK;
    }
    if (strcmp(f, "speed") == 0) {
        if (!number(v, &pl->speed)) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "speed: a number");
        return CRYO_OK;
    }
    if (strcmp(f, "name") == 0) return cryo_vm_raise(vm, CRYO_ERR_CONSTANT, "name is read-only");
    return CRYO_HOST_DECLINE;
}

static const cryo_host_ops player_ops = {.get = player_get, .set = player_set};
/* No destroy: the struct belongs to the host, handles only point to it. */
static const cryo_handle_type player_type = {.name = "Player", .ops = &player_ops};

/* --- the program ---------------------------------------------------------------------------- */

static const char *SCRIPT =
    "let a = vec2(1, 2);\n"
    "let b = vec2(3.5, -1);\n"
    "let c = a + b * 2;\n"
    "print(`c = ${c}, -c = ${-c}, type ${type_of(c)}`);\n"
    "c.x = 10;\n"
    "c.y += 0.5;\n"
    "print(`c = ${c}, c[1] = ${c[1]}, a·b = ${a * b}`);\n"
    "let sum = 0.0;\n"
    "for k in c { sum += k; }\n"
    "print(`sum ${sum}, a == vec2(1, 2): ${a == vec2(1, 2)}, a < b: ${a < b}`);\n"
    "debug(a);\n"
    "let vs = [b, c, a]; vs.sort();\n" /* by length, the type's < */
    "print(`sorted by length: ${vs}`);\n"
    "hero.hp -= 30;\n"
    "hero.speed *= 1.5;\n"
    "print(`${hero.name}: hp ${hero.hp}, speed ${hero.speed}`);\n"
    "try { hero.name = \"X\"; } catch (e) { print(`refused: ${e}`); }\n"
    "c.length\n";

static int check(bool ok, const char *what) {
    if (!ok) fprintf(stderr, "host_types: %s\n", what);
    return ok ? 0 : 1;
}

/* A closure capturing Vec2s, frozen, written as an image and loaded back (as another process
 * with the same context would): the Vec2s travel through their dump/load hooks. */
static int image_round_trip(cryo_context *ctx) {
    const char *src = "let origin = vec2(1, 2); let dirs = [vec2(1, 0), vec2(0, 1)];\n"
                      "|k| origin + dirs[1] * k";
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    cryo_vm *vm = u ? cryo_vm_new(u, ctx) : NULL;
    cryo_unit_release(u);
    cryo_value fv;
    cryo_sync *f = NULL;
    if (!vm || cryo_vm_run(vm, NULL, 0, &fv) != CRYO_OK) return check(false, "image script");
    cryo_error_kind k = cryo_vm_into_sync(vm, fv, &f);
    cryo_value_release(fv);
    cryo_vm_free(vm);
    if (k != CRYO_OK) return check(false, "into_sync");
    cryo_const fc = cryo_const_sync(f);
    size_t n = 0;
    cryo_error *err = NULL;
    void *img = cryo_const_to_image_alloc(fc, 0, &n, &err);
    cryo_const_release(fc);
    cryo_sync_release(f);
    if (!img) {
        fprintf(stderr, "host_types: dump: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return 1;
    }
    cryo_image_load_options o = {.context = ctx}; /* where "Vec2" is registered */
    cryo_const loaded;
    k = cryo_const_from_image(img, n, &o, &loaded, &err);
    free(img);
    if (k != CRYO_OK) {
        fprintf(stderr, "host_types: load: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return 1;
    }
    cryo_const arg = cryo_const_int(3), r;
    k = cryo_sync_call(cryo_value_as_sync(loaded.v), 1, &arg, &r, NULL);
    vec2 *v = k == CRYO_OK ? cryo_value_as_handle(r.v, &vec2_type) : NULL;
    int bad = check(v && v->x == 1 && v->y == 5, "the loaded closure: (1, 2) + (0, 1) * 3");
    if (v) printf("loaded from a %zu-byte image: f(3) = (%g, %g)\n", n, v->x, v->y);
    if (k == CRYO_OK) cryo_const_release(r);
    cryo_const_release(loaded);
    return bad;
}

int main(void) {
    cryo_package *pkg = cryo_package_new("geometry");
    cryo_package_add(pkg, "vec2", 2, fn_vec2, NULL);
    cryo_package_add_type(pkg, &vec2_type); /* images name it "Vec2" */
    cryo_package *pkgs[] = {pkg, cryo_package_std()};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);

    player hero = {"Ada", 100, 2.0};
    const char *globals[] = {"hero"};
    cryo_compile_options opts = {.source_name = "host_types", .globals = globals, .nglobals = 1};
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(SCRIPT, strlen(SCRIPT), &opts, &err);
    if (!unit) {
        char *t = cryo_error_format(err, SCRIPT, strlen(SCRIPT));
        fprintf(stderr, "%s", t ? t : "compile error\n");
        free(t);
        cryo_error_free(err);
        return 1;
    }
    cryo_vm *vm = cryo_vm_new(unit, ctx);
    cryo_unit_release(unit);
    cryo_value g = cryo_value_handle(&player_type, &hero);
    cryo_value result;
    cryo_error_kind k = cryo_vm_run(vm, &g, 1, &result);
    cryo_value_release(g);
    int bad = 0;
    if (k != CRYO_OK) {
        char *t = cryo_error_format(cryo_vm_error(vm), SCRIPT, strlen(SCRIPT));
        fprintf(stderr, "%s", t ? t : "run error\n");
        free(t);
        bad = 1;
    } else {
        /* c = (1, 2) + (7, -2) = (8, 0), then x = 10, y = 0.5 */
        bad |= check(result.type == CRYO_T_FLOAT && fabs(result.as.f - hypot(10, 0.5)) < 1e-9,
                     "c.length");
        bad |= check(hero.hp == 70 && hero.speed == 3.0 && strcmp(hero.name, "Ada") == 0,
                     "the script's writes to the C struct");
        cryo_value_release(result);
    }
    cryo_vm_free(vm);
    bad |= image_round_trip(ctx);
    cryo_context_release(ctx);
    if (!bad) printf("host_types: ok\n");
    return bad;
}
