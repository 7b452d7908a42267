/*
 * engine_per_call.c — the "one engine per call" pattern of Rhai, done cheaply: compile the
 * script once, build the package of host functions once, then create and drop a VM for each of
 * 10,000 requests. Nothing is parsed or registered per VM: the unit and the context are
 * shared, and a VM is one small allocation. The second loop does the same with the per-thread
 * pool, which hands back an already-allocated, reset VM.
 *
 * Build against an installed cryo:  cc engine_per_call.c $(pkg-config --cflags --libs cryo)
 */
#include <cryo.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

/* A host function: the price of `qty` items of the product `id` (a pretend catalogue). */
static cryo_error_kind price_of(cryo_vm *vm, void *userdata, int argc, cryo_value **argv,
                                cryo_value *ret) {
    (void)argc;
    const double *catalogue = userdata;
    if (argv[0]->type != CRYO_T_INT || argv[0]->as.i < 0 || argv[0]->as.i >= 4)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "unknown product");
    *ret = cryo_float(catalogue[argv[0]->as.i]);
    return CRYO_OK;
}

static const char script[] = "fn total(id, qty) {\n"
                             "  let p = price(id) * qty;\n"
                             "  if qty >= 10 { p * 0.9 } else { p }\n"
                             "}\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void) {
    static const double catalogue[4] = {1.5, 2.0, 10.0, 0.25};

    /* Once: the unit, the package, the context. All three are immutable and shareable. */
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(script, strlen(script), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile error: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return 1;
    }
    cryo_package *shop = cryo_package_new("shop");
    cryo_package_add(shop, "price", 1, price_of, (void *)catalogue);
    cryo_package_include(shop, cryo_package_std()); /* O(1): a reference, not a copy */
    cryo_package_seal(shop);
    cryo_context_config cfg = {
        .packages = &shop, .npackages = 1, .limits = {[CRYO_LIMIT_OPERATIONS] = 10000}};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(shop); /* the context holds it */

    /* Per request: a fresh VM, one call, dropped. */
    double sum = 0;
    int failures = 0;
    double t0 = now_s();
    for (int i = 0; i < 10000; i++) {
        cryo_vm *vm = cryo_vm_new(unit, ctx);
        cryo_value args[2] = {cryo_int(i % 4), cryo_int(i % 20)}, r;
        if (cryo_vm_call(vm, "total", 2, args, &r) == CRYO_OK && r.type == CRYO_T_FLOAT)
            sum += r.as.f;
        else
            failures++;
        cryo_vm_free(vm);
    }
    double t1 = now_s();

    /* The same with the per-thread pool. */
    double sum2 = 0;
    for (int i = 0; i < 10000; i++) {
        cryo_vm *vm = cryo_vm_pool_acquire(unit, ctx);
        cryo_value args[2] = {cryo_int(i % 4), cryo_int(i % 20)}, r;
        if (cryo_vm_call(vm, "total", 2, args, &r) == CRYO_OK && r.type == CRYO_T_FLOAT)
            sum2 += r.as.f;
        else
            failures++;
        cryo_vm_pool_release(vm);
    }
    double t2 = now_s();

    /* An error in one request does not affect the next. */
    cryo_vm *vm = cryo_vm_new(unit, ctx);
    cryo_value bad[2] = {cryo_int(99), cryo_int(1)}, r;
    cryo_error_kind k = cryo_vm_call(vm, "total", 2, bad, &r);
    printf("bad request: %s: %s\n", cryo_error_kind_name(k),
           cryo_vm_error(vm) ? cryo_vm_error(vm)->message : "");
    cryo_vm_free(vm);

    printf("10000 VMs created and dropped: total %.2f, %.0f ns per request\n", sum,
           (t1 - t0) * 1e9 / 10000);
    printf("10000 pooled requests:         total %.2f, %.0f ns per request\n", sum2,
           (t2 - t1) * 1e9 / 10000);

    cryo_vm_pool_clear();
    cryo_context_release(ctx);
    cryo_unit_release(unit);
    return failures == 0 && sum == sum2 && sum > 0 && k == CRYO_ERR_ARGUMENT ? 0 : 1;
}
