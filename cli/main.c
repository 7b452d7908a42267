/*
 * cryo — the command-line tool: run a script file, evaluate an expression, dump bytecode, or
 * a line-by-line REPL. Uses only the public API (include/cryo.h).
 */
#include "cryo.h"
#include "cryo_ffi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_SCRIPT_ERROR = 1, EXIT_USAGE = 2 };

typedef struct options {
    const char *expr; /* -e */
    const char *file; /* script path, "-" = stdin */
    bool dump;        /* --dump: list the bytecode instead of running */
    bool ffi;         /* --ffi: run scripts in a context with the ffi module (CRYO_CAP_FFI) */
} options;

static void usage(FILE *out) {
    fputs("Usage: cryo [options] [file.rhai | -]\n"
          "\n"
          "Runs a cryo (Rhai-syntax) script. With no file and a terminal on stdin, starts a\n"
          "REPL; with no file and piped input, runs the script read from stdin.\n"
          "\n"
          "Options:\n"
          "  -e, --eval EXPR   evaluate EXPR and print its value (unless it is ())\n"
          "      --dump        print the compiled bytecode of the script instead of running it\n"
          "      --ffi         grant the script the ffi module\n"
          "  -h, --help        show this help\n"
          "  -v, --version     show the version\n",
          out);
}

/* Reads a whole stream; NUL-terminates the buffer for convenience. NULL on failure. */
static char *read_stream(FILE *f, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f)) break;
        if (feof(f)) {
            buf[n] = '\0';
            *len = n;
            return buf;
        }
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) break;
            buf = bigger;
            cap *= 2;
        }
    }
    free(buf);
    return NULL;
}

static char *read_file(const char *path, size_t *len) {
    if (strcmp(path, "-") == 0) return read_stream(stdin, len);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = read_stream(f, len);
    fclose(f);
    return text;
}

/* Prints every error of a chain with its source line and caret. */
static void report_errors(const cryo_error *err, const char *src, size_t len) {
    for (; err; err = err->next) {
        cryo_error one = *err;
        one.next = NULL; /* cryo_error_format may walk the chain: show each error once */
        char *text = cryo_error_format(&one, src, len);
        if (text) {
            size_t n = strlen(text);
            fputs(text, stderr);
            if (n == 0 || text[n - 1] != '\n') fputc('\n', stderr);
            free(text);
        } else {
            fprintf(stderr, "%s: %s\n", cryo_error_kind_name(err->kind), err->message);
        }
    }
}

static void print_value(cryo_value v) {
    if (v.type == CRYO_T_UNIT) return;
    char *text = cryo_value_to_cstring(v, false);
    if (!text) return;
    puts(text);
    free(text);
}

/* Compiles and runs one chunk. `show` prints a non-() result. Returns 0 or an exit code. */
/* The context scripts run in: the standard one, or with --ffi the one with the ffi module. */
static cryo_context *run_ctx;

static int run_source(const char *src, size_t len, const char *name, bool show, bool dump) {
    cryo_compile_options copts = {.source_name = name};
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(src, len, &copts, &err);
    if (!unit) {
        report_errors(err, src, len);
        cryo_error_free(err);
        return EXIT_SCRIPT_ERROR;
    }
    if (dump) {
        cryo_unit_dump(unit, stdout);
        cryo_unit_release(unit);
        return 0;
    }
    cryo_vm *vm = cryo_vm_new(unit, run_ctx ? run_ctx : cryo_context_std());
    cryo_unit_release(unit);
    if (!vm) {
        fputs("cryo: out of memory\n", stderr);
        return EXIT_SCRIPT_ERROR;
    }
    cryo_value result = cryo_unit_value();
    int status = 0;
    if (cryo_vm_run(vm, NULL, 0, &result) != CRYO_OK) {
        report_errors(cryo_vm_error(vm), src, len);
        status = EXIT_SCRIPT_ERROR;
    } else if (show) {
        print_value(result);
    }
    fflush(stdout);
    cryo_value_release(result);
    cryo_vm_free(vm);
    return status;
}

static int run_file(const char *path, bool dump) {
    size_t len = 0;
    char *src = read_file(path, &len);
    if (!src) {
        fprintf(stderr, "cryo: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_SCRIPT_ERROR;
    }
    int status = run_source(src, len, strcmp(path, "-") == 0 ? "<stdin>" : path, false, dump);
    free(src);
    return status;
}

/* Each line is its own script in a fresh VM: simple, and an error never poisons the session. */
static int repl(void) {
    printf("cryo %s — one line at a time; Ctrl-D to quit\n", CRYO_VERSION_STRING);
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        fputs("> ", stdout);
        fflush(stdout);
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0) continue;
        run_source(line, (size_t)n, "<repl>", true, false);
    }
    free(line);
    putchar('\n');
    return 0;
}

/* Returns -1 to continue, or an exit code. */
static int parse_args(int argc, char **argv, options *o) {
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
            if (o->file) {
                fprintf(stderr, "cryo: more than one script given\n");
                return EXIT_USAGE;
            }
            o->file = a;
        } else if (strcmp(a, "--") == 0) {
            only_files = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            printf("cryo %s\n", CRYO_VERSION_STRING);
            return 0;
        } else if (strcmp(a, "-e") == 0 || strcmp(a, "--eval") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cryo: %s needs an expression\n", a);
                return EXIT_USAGE;
            }
            o->expr = argv[++i];
        } else if (strcmp(a, "--dump") == 0) {
            o->dump = true;
        } else if (strcmp(a, "--ffi") == 0) {
            o->ffi = true;
        } else {
            fprintf(stderr, "cryo: unknown option %s (try --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (o->expr && o->file) {
        fprintf(stderr, "cryo: give either -e or a file, not both\n");
        return EXIT_USAGE;
    }
    return -1;
}

int main(int argc, char **argv) {
    options o = {0};
    int status = parse_args(argc, argv, &o);
    if (status >= 0) return status;
    if (o.ffi && !(run_ctx = cryo_ffi_context_new())) {
        fputs("cryo: cannot create the ffi context\n", stderr);
        return EXIT_SCRIPT_ERROR;
    }
    if (o.expr) return run_source(o.expr, strlen(o.expr), "<expr>", !o.dump, o.dump);
    if (o.file) return run_file(o.file, o.dump);
    if (isatty(STDIN_FILENO) && !o.dump) return repl();
    return run_file("-", o.dump);
}
