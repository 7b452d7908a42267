/*
 * register_c_functions.c — C functions registered into a package by their declaration, with
 * no hand-written wrapper: libm functions and the host's own, then called from a script.
 * The script needs no FFI capability: it only sees the functions the host chose to register.
 *
 * Build against an installed cryo:  cc register_c_functions.c $(pkg-config --cflags --libs
 * cryo_ffi) -lm
 */
#include <cryo.h>
#include <cryo_ffi.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The host's own functions, plain C. */
struct vec2 {
    double x, y;
};
static struct vec2 vec2_scale(struct vec2 v, double k) {
    return (struct vec2){v.x * k, v.y * k};
}
static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}
static unsigned long long factorial(unsigned n) {
    unsigned long long f = 1;
    while (n > 1)
        f *= n--;
    return f;
}

static const char script[] =
    "let h = hypot(3.0, 4.0);\n"
    "let v = vec2_scale(#{x: 1.5, y: -2.0}, 2.0);\n"
    "print(`hypot(3, 4) = ${h}, cos(0) = ${cos(0.0)}, pow = ${pow(2.0, 10)}`);\n"
    "print(`scaled: ${v.x}, ${v.y}`);\n"
    "print(`'s' in \"mississippi\": ${count_char(\"mississippi\", 's')}`);\n"
    "print(`20! = ${factorial(20)}`);\n"
    "h + v.x + count_char(\"aaa\", 'a')\n";

int main(void) {
    cryo_ffi_scope *scope = cryo_ffi_scope_new(); /* holds the signatures; outlives the package */
    cryo_error *err = NULL;
    cryo_ffi_cdef(scope, "struct vec2 { double x, y; };", &err);
    cryo_package *pkg = cryo_package_new("host");
    static const struct {
        const char *decl;
        void *fn;
    } fns[] = {
        {"double cos(double)", (void *)cos},
        {"double hypot(double x, double y)", (void *)hypot},
        {"double pow(double, double)", (void *)pow},
        {"struct vec2 vec2_scale(struct vec2 v, double k)", (void *)vec2_scale},
        {"int count_char(const char *s, char c)", (void *)count_char},
        {"unsigned long long factorial(unsigned n)", (void *)factorial},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        if (cryo_ffi_package_add(pkg, scope, NULL, fns[i].decl, fns[i].fn, &err) != CRYO_OK) {
            fprintf(stderr, "%s: %s\n", fns[i].decl, err ? err->message : "?");
            return 1;
        }
    }
    cryo_package_seal(pkg);
    cryo_package *pkgs[2] = {cryo_package_std(), pkg};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(pkg);

    cryo_unit *unit = cryo_compile(script, strlen(script), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile: %s\n", err->message);
        return 1;
    }
    cryo_vm *vm = cryo_vm_new(unit, ctx);
    cryo_unit_release(unit);
    cryo_value r;
    int status = 0;
    if (cryo_vm_run(vm, NULL, 0, &r) != CRYO_OK) {
        fprintf(stderr, "%s\n", cryo_vm_error(vm)->message);
        status = 1;
    } else {
        printf("result: %g (%s)\n", r.as.f, r.as.f == 5.0 + 3.0 + 3 ? "ok" : "WRONG");
        status = r.as.f != 11.0;
    }
    cryo_vm_free(vm);
    cryo_context_release(ctx);
    cryo_ffi_scope_free(scope);
    return status;
}
