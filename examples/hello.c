/*
 * hello.c — embedding cryo in a C program: compile a script once, run it in a VM, read the
 * result, call a script function from C, and capture print() output.
 *
 * Build against an installed cryo:  cc hello.c $(pkg-config --cflags --libs cryo)
 */
#include <cryo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char script[] = "fn greet(name) { `Hello, ${name}!` }\n"
                             "print(greet(\"world\"));\n"
                             "let squares = [];\n"
                             "for i in 1..=5 { squares.push(i * i); }\n"
                             "squares\n";

/* print() calls land here instead of stdout; the host decides where script output goes. */
static void on_print(void *userdata, const char *text, size_t len) {
    int *count = userdata;
    ++*count;
    printf("[script] %.*s\n", (int)len, text);
}

/* Shows an error the way the cryo CLI does: position, message, source line and caret. */
static void show_error(const cryo_error *err) {
    if (!err) return;
    char *text = cryo_error_format(err, script, strlen(script));
    fprintf(stderr, "%s\n", text ? text : "error");
    free(text);
}

int main(void) {
    cryo_compile_options opts = {.source_name = "hello"};
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(script, strlen(script), &opts, &err);
    if (!unit) {
        show_error(err);
        cryo_error_free(err);
        return 1;
    }

    /* The VM keeps its own reference to the unit: ours can go now. */
    cryo_vm *vm = cryo_vm_new(unit, cryo_context_std());
    cryo_unit_release(unit);
    if (!vm) return 1;
    int prints = 0;
    cryo_vm_set_print(vm, on_print, &prints);
    cryo_vm_set_limit(vm, CRYO_LIMIT_OPERATIONS, 1000000); /* untrusted scripts: bound them */

    int status = 1;
    cryo_value result = cryo_unit_value();
    if (cryo_vm_run(vm, NULL, 0, &result) != CRYO_OK) {
        show_error(cryo_vm_error(vm));
        goto done;
    }
    printf("the script returned an %s of %lld items:", cryo_type_name(result.type),
           (long long)cryo_array_len(result));
    for (int64_t i = 0; i < cryo_array_len(result); i++)
        printf(" %lld", (long long)cryo_array_get(result, i).as.i);
    printf("\n");

    /* Script functions can be called from C with C-built arguments. */
    cryo_value arg = cryo_value_string("C", 1);
    cryo_value greeting = cryo_unit_value();
    if (cryo_vm_call(vm, "greet", 1, &arg, &greeting) != CRYO_OK) {
        show_error(cryo_vm_error(vm));
        cryo_value_release(arg);
        goto done;
    }
    const char *text = cryo_value_str(greeting, NULL);
    printf("greet(\"C\") = %s\n", text ? text : "?");
    status = prints == 1 && text && strcmp(text, "Hello, C!") == 0 && cryo_array_len(result) == 5 &&
                     cryo_array_get(result, 4).as.i == 25
                 ? 0
                 : 1;
    cryo_value_release(arg);
    cryo_value_release(greeting);
done:
    cryo_value_release(result);
    cryo_vm_free(vm);
    return status;
}
