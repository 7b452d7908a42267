/*
 * host_functions.c — a package of C functions called from a script: plain calls, a variadic
 * function, methods (`x.f()`), a property getter (`x.name` on a non-map calls `name(x)`), a
 * function that raises a script error, one that calls a script closure back, and an opaque
 * host handle with a destructor.
 *
 * Build against an installed cryo:  cc host_functions.c $(pkg-config --cflags --libs cryo)
 */
#include <cryo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- a host type exposed as a handle --------------------------------------------------------- */

typedef struct account {
    char owner[32];
    int64_t balance;
} account;

static void account_destroy(void *p) {
    printf("(account of %s closed)\n", ((account *)p)->owner);
    free(p);
}

static const cryo_handle_type account_type = {"Account", account_destroy, NULL, NULL, NULL};

/* account(owner) -> Account */
static cryo_error_kind fn_account(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud, (void)argc;
    size_t len;
    const char *name = cryo_value_str(*argv[0], &len);
    if (!name) return cryo_vm_raise(vm, CRYO_ERR_TYPE, "account(): the owner must be a string");
    account *a = calloc(1, sizeof *a);
    if (!a) return cryo_vm_raise(vm, CRYO_ERR_MEMORY, "out of memory");
    snprintf(a->owner, sizeof a->owner, "%.*s", (int)len, name);
    *ret = cryo_value_handle(&account_type, a);
    return CRYO_OK;
}

static account *as_account(cryo_vm *vm, cryo_value v, cryo_error_kind *k) {
    account *a = cryo_value_as_handle(v, &account_type);
    *k = a ? CRYO_OK : cryo_vm_raise(vm, CRYO_ERR_TYPE, "an Account was expected");
    return a;
}

/* acc.deposit(n) — a method: argv[0] is the receiver. */
static cryo_error_kind fn_deposit(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud, (void)argc;
    cryo_error_kind k;
    account *a = as_account(vm, *argv[0], &k);
    if (!a) return k;
    if (argv[1]->type != CRYO_T_INT || argv[1]->as.i <= 0)
        return cryo_vm_raise(vm, CRYO_ERR_ARGUMENT, "deposit: a positive amount is expected");
    a->balance += argv[1]->as.i;
    *ret = cryo_int(a->balance);
    return CRYO_OK;
}

/* acc.balance — a property getter: a 1-argument function named like the property. */
static cryo_error_kind fn_balance(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud, (void)argc;
    cryo_error_kind k;
    account *a = as_account(vm, *argv[0], &k);
    if (!a) return k;
    *ret = cryo_int(a->balance);
    return CRYO_OK;
}

/* sum(...) — variadic (arity -1). */
static cryo_error_kind fn_sum(cryo_vm *vm, void *ud, int argc, cryo_value **argv, cryo_value *ret) {
    (void)ud;
    int64_t s = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i]->type != CRYO_T_INT)
            return cryo_vm_raise(vm, CRYO_ERR_TYPE, "sum: argument %d is %s, not an int", i + 1,
                                 cryo_type_name(argv[i]->type));
        s += argv[i]->as.i;
    }
    *ret = cryo_int(s);
    return CRYO_OK;
}

/* twice(f, x) = f(f(x)) — calls a script function value back. */
static cryo_error_kind fn_twice(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                cryo_value *ret) {
    (void)ud, (void)argc;
    cryo_value once;
    cryo_error_kind k = cryo_vm_call_value(vm, *argv[0], 1, argv[1], &once);
    if (k != CRYO_OK) return k;
    k = cryo_vm_call_value(vm, *argv[0], 1, &once, ret);
    cryo_value_release(once);
    return k;
}

/* greeting(name) -> string, using the userdata given at registration. */
static cryo_error_kind fn_greeting(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                   cryo_value *ret) {
    (void)vm, (void)argc;
    char *name = cryo_value_to_cstring(*argv[0], false);
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s, %s!", (const char *)ud, name ? name : "?");
    free(name);
    *ret = cryo_value_string(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    return CRYO_OK;
}

static const char script[] = "let acc = account(\"ada\");\n"
                             "acc.deposit(100);\n"
                             "acc.deposit(sum(1, 2, 3));\n"
                             "print(`${acc} of type ${type_of(acc)} holds ${acc.balance}`);\n"
                             "let k = 3;\n"
                             "print(`twice(+k, 10) = ${twice(|x| x + k, 10)}`);\n"
                             "print(greeting(\"world\"));\n"
                             "let caught = try { acc.deposit(-5); \"no error\" } catch (e) { e };\n"
                             "print(`caught: ${caught}`);\n"
                             "acc.balance\n";

int main(void) {
    cryo_package *bank = cryo_package_new("bank");
    cryo_package_add(bank, "account", 1, fn_account, NULL);
    cryo_package_add(bank, "deposit", 2, fn_deposit, NULL);
    cryo_package_add(bank, "balance", 1, fn_balance, NULL);
    cryo_package_add(bank, "sum", -1, fn_sum, NULL);
    cryo_package_add(bank, "twice", 2, fn_twice, NULL);
    cryo_package_add(bank, "greeting", 1, fn_greeting, "Hello");
    cryo_package_seal(bank);

    /* The script sees the bank package first, then the standard library. */
    cryo_package *pkgs[] = {bank, cryo_package_std()};
    cryo_context_config cfg = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cfg);
    cryo_package_release(bank);

    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(script, strlen(script), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile error: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return 1;
    }
    cryo_vm *vm = cryo_vm_new(unit, ctx);
    cryo_value result;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &result);
    int status = 1;
    if (k != CRYO_OK) {
        fprintf(stderr, "error: %s\n", cryo_vm_error(vm)->message);
    } else {
        printf("final balance: %lld\n", (long long)result.as.i);
        status = result.as.i == 106 ? 0 : 1;
    }
    cryo_vm_free(vm);
    cryo_unit_release(unit);
    cryo_context_release(ctx);
    return status;
}
