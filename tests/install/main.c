/* A tiny program that embeds an installed cryo: compiles and runs a script, checks 42. */
#include <cryo.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    const char *src = "fn answer(x) { x * 2 } answer(21)";
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(src, strlen(src), NULL, &err);
    if (!unit) {
        fprintf(stderr, "compile failed: %s\n", err ? err->message : "?");
        cryo_error_free(err);
        return 1;
    }
    cryo_vm *vm = cryo_vm_new(unit, cryo_context_std());
    cryo_unit_release(unit);
    cryo_value result = cryo_unit_value();
    cryo_error_kind kind = vm ? cryo_vm_run(vm, NULL, 0, &result) : CRYO_ERR_MEMORY;
    int ok = kind == CRYO_OK && result.type == CRYO_T_INT && result.as.i == 42;
    if (!ok) fprintf(stderr, "run failed: kind %d (%s)\n", (int)kind, cryo_error_kind_name(kind));
    cryo_value_release(result);
    cryo_vm_free(vm);
    printf("consumer: %s (cryo %s)\n", ok ? "ok" : "FAILED", CRYO_VERSION_STRING);
    return ok ? 0 : 1;
}
