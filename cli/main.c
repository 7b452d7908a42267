/*
 * cryo — the command-line tool: run a script file, evaluate an expression, dump bytecode, or
 * a REPL (line editing and history with libedit when built with it). Uses only the public API
 * (include/cryo.h).
 */
#include "cryo.h"
#include "cryo_ffi.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef CRYO_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

enum { EXIT_SCRIPT_ERROR = 1, EXIT_USAGE = 2 };

typedef struct options {
    const char *expr; /* -e */
    const char *file; /* script path, "-" = stdin */
    bool dump;        /* --dump: list the bytecode instead of running */
    bool ffi;         /* --ffi: run scripts in a context with the ffi module (CRYO_CAP_FFI) */
    bool eval;        /* --allow-eval: grant eval(text) (CRYO_CAP_EVAL) */
    bool repl;        /* --repl: the REPL even when stdin is not a terminal */
    bool trace;       /* --trace: each line reached, on stderr (the line hook) */
    bool compile;     /* --compile: write the script's unit image (to -o) instead of running */
    const char *out;  /* -o: the image file of --compile */
    bool limit_set[CRYO_LIMIT__COUNT];
    uint64_t limits[CRYO_LIMIT__COUNT]; /* --max-* */
    uint64_t timeout_ms;                /* --timeout, 0 = none */
    int max_functions;                  /* --max-functions, 0 = no limit */
} options;

/* The limit options, in the order --help lists them. */
static const struct {
    const char *flag;
    cryo_limit which;
} LIMIT_FLAGS[] = {
    {"--max-ops", CRYO_LIMIT_OPERATIONS},     {"--max-depth", CRYO_LIMIT_CALL_DEPTH},
    {"--max-string", CRYO_LIMIT_STRING_SIZE}, {"--max-array", CRYO_LIMIT_ARRAY_SIZE},
    {"--max-map", CRYO_LIMIT_MAP_SIZE},       {"--max-memory", CRYO_LIMIT_MEMORY},
};

/* What every run uses: the parsed options (limits, timeout). */
static const options *run_opts;

static void usage(FILE *out) {
    fputs(
        "Usage: cryo [options] [file.rhai | -]\n"
        "\n"
        "Runs a cryo (Rhai-syntax) script. With no file and a terminal on stdin, starts a\n"
        "REPL; with no file and piped input, runs the script read from stdin.\n"
        "\n"
        "Options:\n"
        "  -e, --eval EXPR   evaluate EXPR and print its value (unless it is ())\n"
        "      --dump        print the compiled bytecode of the script instead of running it\n"
        "      --compile     compile the script to a unit image (-o FILE) instead of running it;\n"
        "                    a file that starts with the image magic runs as an image\n"
        "  -o FILE           where --compile writes the image\n"
        "      --ffi         grant the script the ffi module\n"
        "      --allow-eval  grant the script eval(text) (off by default)\n"
        "  -i, --repl        start the REPL even when stdin is not a terminal\n"
        "      --trace       print each line of the script as it runs, on stderr:\n"
        "                    name:line: function | source text, indented by call depth\n"
        "\n"
        "Limits (0 = no limit; exceeding one stops the script with an error, status 1):\n"
        "      --max-ops N       operations per run (counted at loops and calls)\n"
        "      --max-depth N     nested function calls (default 64)\n"
        "      --max-string N    bytes in one string\n"
        "      --max-array N     elements in arrays (nested ones count too)\n"
        "      --max-map N       entries in maps (nested ones count too)\n"
        "      --max-memory N    bytes of script memory\n"
        "      --max-functions N `fn` definitions in the script (a compile error past it)\n"
        "      --timeout MS      stop the script after MS milliseconds\n"
        "\n"
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

/* The name of the script being run: an error elsewhere (a module's file) shows that file's
 * line, not the script's. */
static const char *run_name;

/* Prints every error of a chain with its source line and caret. */
static void report_errors(const cryo_error *err, const char *src, size_t len) {
    for (; err; err = err->next) {
        cryo_error one = *err;
        one.next = NULL; /* cryo_error_format may walk the chain: show each error once */
        char *other = NULL;
        size_t olen = 0;
        if (err->source_name && run_name && strcmp(err->source_name, run_name) != 0 &&
            strcmp(err->source_name, "eval") != 0)
            other = read_file(err->source_name, &olen); /* NULL: no line shown */
        bool elsewhere = err->source_name && run_name && strcmp(err->source_name, run_name) != 0;
        char *text = cryo_error_format(&one, elsewhere ? other : src, elsewhere ? olen : len);
        free(other);
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

/* --- limits and the timeout ------------------------------------------------------------------ */

static void apply_limits(cryo_vm *vm) {
    for (int i = 0; i < CRYO_LIMIT__COUNT; i++)
        if (run_opts->limit_set[i]) cryo_vm_set_limit(vm, (cryo_limit)i, run_opts->limits[i]);
}

/* --trace: the line hook (docs/debugging.md) writes each line the run reaches to stderr,
 * "name:line: function | text", indented two spaces per call level. `src` is the script's text
 * (NULL for an image: no text to show). */
typedef struct tracer {
    const char *src;
    size_t len;
    const char *name; /* src's source name: lines of other files (modules) show no text */
} tracer;

static bool trace_line(void *ud, const cryo_debug_frame *f) {
    const tracer *t = ud;
    const char *text = "", *end = text;
    /* the line's text, without its indentation (a script is small next to its trace) */
    if (t->src && f->source_name && strcmp(f->source_name, "eval") != 0 &&
        (!t->name || strcmp(f->source_name, t->name) == 0)) {
        const char *p = t->src, *stop = t->src + t->len;
        for (int l = 1; l < f->line && p < stop; p++)
            if (*p == '\n') l++;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        text = end = p;
        while (end < stop && *end != '\n' && *end != '\r')
            end++;
    }
    fprintf(stderr, "%s:%d: %*s%s | %.*s\n", f->source_name ? f->source_name : "<script>", f->line,
            2 * (f->depth - 1), "", f->function, (int)(end - text), text);
    return true;
}

/* --timeout: a thread that interrupts the VM once the time is up. */
typedef struct watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cryo_vm *vm;
    uint64_t ms;
    bool done, fired;
} watchdog;

static struct timespec after_ms(uint64_t ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
    return t;
}

static void *watch(void *arg) {
    watchdog *w = arg;
    struct timespec at = after_ms(w->ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &at) != ETIMEDOUT) continue;
        w->fired = true;
        cryo_vm_interrupt(w->vm);
        /* A run clears the flag when it starts: repeat until the run is over, so an interrupt
         * that came before the run began is not lost. */
        at = after_ms(10);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static bool watchdog_start(watchdog *w, cryo_vm *vm, uint64_t ms) {
    *w = (watchdog){.vm = vm, .ms = ms};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool ok = pthread_mutex_init(&w->mu, NULL) == 0 && pthread_cond_init(&w->cv, &ca) == 0 &&
              pthread_create(&w->thread, NULL, watch, w) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) fputs("cryo: cannot start the --timeout thread; running without it\n", stderr);
    return ok;
}

/* Stops the watchdog; returns whether it fired. */
static bool watchdog_stop(watchdog *w) {
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return w->fired;
}

/* The interrupt's error, reworded: the user asked for a timeout, not an interrupt. */
static void report_timeout(const cryo_error *err, const char *src, size_t len) {
    char msg[96];
    snprintf(msg, sizeof msg, "timeout: stopped after %llu ms (--timeout)",
             (unsigned long long)run_opts->timeout_ms);
    cryo_error one = *err;
    one.message = msg;
    one.next = NULL;
    report_errors(&one, src, len);
}

/* Compiles and runs one chunk. `show` prints a non-() result. Returns 0 or an exit code. */
/* The context scripts run in: the standard library, the file module resolver, and with --ffi /
 * --allow-eval the ffi module and the granted capabilities. */
static cryo_context *run_ctx;

static cryo_context *granted_context(const options *o) {
    cryo_package *pkgs[2] = {cryo_package_std(), NULL};
    cryo_context_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.packages = pkgs;
    cfg.npackages = 1;
    cfg.capabilities = CRYO_CAP_THREADS; /* as the standard context */
    if (o->ffi) {
        if (!(pkgs[1] = cryo_ffi_package())) return NULL;
        cfg.npackages = 2;
        cfg.capabilities |= CRYO_CAP_FFI;
    }
    if (o->eval) cfg.capabilities |= CRYO_CAP_EVAL;
    cryo_context *ctx = cryo_context_new(&cfg);
    /* Imports are files, relative to the importing script (docs/modules.md). */
    cryo_module_config mods = {.files = true};
    if (ctx && cryo_context_set_modules(ctx, &mods) != CRYO_OK) {
        cryo_context_release(ctx);
        return NULL;
    }
    return ctx;
}

static int run_source(const char *src, size_t len, const char *name, bool show, bool dump) {
    run_name = name;
    cryo_compile_options copts = {.source_name = name, .max_functions = run_opts->max_functions};
    cryo_error *err = NULL;
    /* A unit image runs whatever the file's name (docs/serialization.md); its errors have no
     * source text to show. */
    bool image = cryo_image_kind(src, len) == CRYO_IMAGE_UNIT;
    cryo_unit *unit =
        image ? cryo_unit_from_image(src, len, &err) : cryo_compile(src, len, &copts, &err);
    if (image) len = 0;
    if (!unit) {
        report_errors(err, image ? NULL : src, len);
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
    apply_limits(vm);
    tracer tr = {image ? NULL : src, len, name};
    if (run_opts->trace) cryo_vm_set_line_hook(vm, trace_line, &tr);
    cryo_value result = cryo_unit_value();
    int status = 0;
    watchdog w;
    bool watched = run_opts->timeout_ms && watchdog_start(&w, vm, run_opts->timeout_ms);
    cryo_error_kind kind = cryo_vm_run(vm, NULL, 0, &result);
    bool timed_out = watched && watchdog_stop(&w);
    if (kind == CRYO_ERR_INTERRUPTED && timed_out) {
        report_timeout(cryo_vm_error(vm), src, len);
        status = EXIT_SCRIPT_ERROR;
    } else if (kind != CRYO_OK) {
        report_errors(cryo_vm_error(vm), src, len);
        status = EXIT_SCRIPT_ERROR;
    } else if (show) {
        print_value(result);
    }
    fflush(stdout);
    cryo_value_release(result);
    cryo_vm_free(vm); /* (drops the run's ffi::callback values) */
    /* Callbacks that failed with nothing handling it: the run did not do what it said. */
    cryo_error *failures = NULL;
    if (cryo_ffi_take_unhandled(&failures) > 0) {
        report_errors(failures, src, len);
        if (status == 0) status = EXIT_SCRIPT_ERROR;
    }
    cryo_error_free(failures);
    return status;
}

/* --compile: the script's unit image into `out`. */
static int compile_file(const char *path, const char *out) {
    size_t len = 0;
    char *src = read_file(path, &len);
    if (!src) {
        fprintf(stderr, "cryo: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_SCRIPT_ERROR;
    }
    cryo_compile_options copts = {.source_name = path};
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(src, len, &copts, &err);
    size_t n = 0;
    void *img = unit ? cryo_unit_to_image_alloc(unit, &n, &err) : NULL;
    if (!img) report_errors(err, src, len);
    cryo_error_free(err);
    cryo_unit_release(unit);
    free(src);
    if (!img) return EXIT_SCRIPT_ERROR;
    FILE *f = fopen(out, "wb");
    bool ok = f && fwrite(img, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = false;
    free(img);
    if (!ok) {
        fprintf(stderr, "cryo: cannot write %s: %s\n", out, strerror(errno));
        return EXIT_SCRIPT_ERROR;
    }
    return 0;
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

/* --- the REPL ----------------------------------------------------------------------------------
 */

/* True when `src` fails to compile only because it stops early (an open bracket, a trailing
 * operator, an open block comment or backtick string): the REPL then reads another line. */
static bool incomplete(const char *src, size_t len) {
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(src, len, NULL, &err);
    bool more = false;
    for (const cryo_error *e = err; e && !more; e = e->next)
        more = e->kind == CRYO_ERR_PARSE && (strstr(e->message, "end of input") ||
                                             strstr(e->message, "unterminated block comment") ||
                                             strstr(e->message, "unterminated backtick string"));
    cryo_error_free(err);
    cryo_unit_release(unit);
    return more;
}

#ifdef CRYO_HAVE_LIBEDIT
/* The history file: $CRYO_HISTORY, else ~/.cryo_history; CRYO_HISTORY="" keeps none. */
static const char *history_path(char *buf, size_t cap) {
    const char *env = getenv("CRYO_HISTORY");
    if (env) return *env ? env : NULL;
    const char *home = getenv("HOME");
    if (!home || !*home) return NULL;
    snprintf(buf, cap, "%s/.cryo_history", home);
    return buf;
}
#endif

/* One line without its newline (malloc'd), or NULL at end of input. Line editing and history
 * when stdin is a terminal and the CLI was built with libedit. */
static char *read_line(bool tty, const char *prompt) {
#ifdef CRYO_HAVE_LIBEDIT
    if (tty) {
        char *line = readline(prompt);
        if (line && *line) add_history(line);
        return line;
    }
#endif
    if (tty) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Appends line + '\n' to the entry buffer; false when out of memory. */
static bool append_line(char **buf, size_t *len, const char *line) {
    size_t n = strlen(line);
    char *p = realloc(*buf, *len + n + 2);
    if (!p) return false;
    memcpy(p + *len, line, n);
    *len += n;
    p[(*len)++] = '\n';
    p[*len] = '\0';
    *buf = p;
    return true;
}

/* Each entry is its own script in a fresh VM: simple, and an error never poisons the session.
 * An entry spans lines while it is incomplete; an empty line ends it anyway (and shows the
 * error). Prompts and the banner only on a terminal. Returns 1 if the last entry failed. */
static int repl(void) {
    bool tty = isatty(STDIN_FILENO);
#ifdef CRYO_HAVE_LIBEDIT
    char hbuf[4096];
    const char *hist = tty ? history_path(hbuf, sizeof hbuf) : NULL;
    if (tty) using_history();
    if (hist) read_history(hist);
    const char *editing = "line editing and history";
#else
    const char *editing = "no line editing: built without libedit";
#endif
    if (tty)
        printf("cryo %s — Ctrl-D to quit; an entry may span lines (%s)\n", CRYO_VERSION_STRING,
               editing);
    char *entry = NULL;
    size_t len = 0;
    int status = 0;
    for (;;) {
        char *line = read_line(tty, len ? "... " : "> ");
        if (!line) break;
        bool blank = line[strspn(line, " \t")] == '\0';
        bool ok = blank || append_line(&entry, &len, line);
        free(line);
        if (!ok) {
            fputs("cryo: out of memory\n", stderr);
            status = EXIT_SCRIPT_ERROR;
            break;
        }
        if (!len || (!blank && incomplete(entry, len))) continue;
        status = run_source(entry, len, "<repl>", true, false);
        len = 0;
    }
    if (len) status = run_source(entry, len, "<repl>", true, false); /* cut short by EOF */
    free(entry);
#ifdef CRYO_HAVE_LIBEDIT
    if (hist) write_history(hist);
#endif
    if (tty) putchar('\n');
    return status;
}

/* Reads a limit's value: decimal digits only. */
static bool parse_count(const char *flag, const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    if (!end || *end || errno) {
        fprintf(stderr, "cryo: %s needs a non-negative integer, got '%s'\n", flag,
                text ? text : "");
        return false;
    }
    *out = v;
    return true;
}

/* --max-* and --timeout, as `--flag N` or `--flag=N`. Returns 1 if `a` is one (i advanced past
 * its value), 0 if not, -1 on a bad value. */
/* Matches argv[*i] against `flag` given as "FLAG N" or "FLAG=N": 1 and the count in *v, 0 when
 * it is another option, -1 (reported) when the value is missing or bad. */
static int match_count(const char *flag, int argc, char **argv, int *i, uint64_t *v) {
    const char *a = argv[*i];
    size_t n = strlen(flag);
    if (strncmp(a, flag, n) != 0 || (a[n] != '\0' && a[n] != '=')) return 0;
    const char *val = a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    return parse_count(flag, val, v) ? 1 : -1;
}

/* The options that take a count: the --max-* limits, --max-functions and --timeout. */
static int parse_limit(int argc, char **argv, int *i, options *o) {
    uint64_t v;
    int r;
    for (size_t k = 0; k < sizeof LIMIT_FLAGS / sizeof *LIMIT_FLAGS; k++) {
        if ((r = match_count(LIMIT_FLAGS[k].flag, argc, argv, i, &v)) > 0) {
            o->limits[LIMIT_FLAGS[k].which] = v;
            o->limit_set[LIMIT_FLAGS[k].which] = true;
        }
        if (r) return r;
    }
    if ((r = match_count("--timeout", argc, argv, i, &v)) > 0) o->timeout_ms = v;
    if (r) return r;
    if ((r = match_count("--max-functions", argc, argv, i, &v)) > 0) {
        if (v > INT_MAX) {
            fprintf(stderr, "cryo: --max-functions is at most %d\n", INT_MAX);
            return -1;
        }
        o->max_functions = (int)v;
    }
    return r;
}

/* Returns -1 to continue, or an exit code. */
static int parse_args(int argc, char **argv, options *o) {
    bool only_files = false;
    int lim;
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
        } else if (strcmp(a, "--compile") == 0) {
            o->compile = true;
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cryo: -o needs a file name\n");
                return EXIT_USAGE;
            }
            o->out = argv[++i];
        } else if (strcmp(a, "--dump") == 0) {
            o->dump = true;
        } else if (strcmp(a, "--ffi") == 0) {
            o->ffi = true;
        } else if (strcmp(a, "--allow-eval") == 0) {
            o->eval = true;
        } else if (strcmp(a, "--trace") == 0) {
            o->trace = true;
        } else if (strcmp(a, "-i") == 0 || strcmp(a, "--repl") == 0) {
            o->repl = true;
        } else if ((lim = parse_limit(argc, argv, &i, o)) != 0) {
            if (lim < 0) return EXIT_USAGE;
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
    if (!(run_ctx = granted_context(&o))) {
        fputs("cryo: cannot create the script context\n", stderr);
        return EXIT_SCRIPT_ERROR;
    }
    run_opts = &o;
    if (o.repl && (o.expr || o.file || o.dump)) {
        fputs("cryo: --repl takes no script, -e or --dump\n", stderr);
        return EXIT_USAGE;
    }
    if (o.compile || o.out) {
        if (!o.compile || !o.out || !o.file || o.expr || o.repl) {
            fputs("cryo: use --compile SCRIPT -o IMAGE\n", stderr);
            return EXIT_USAGE;
        }
        return compile_file(o.file, o.out);
    }
    if (o.repl) return repl();
    if (o.expr) return run_source(o.expr, strlen(o.expr), "<expr>", !o.dump, o.dump);
    if (o.file) return run_file(o.file, o.dump);
    if (isatty(STDIN_FILENO) && !o.dump) return repl();
    return run_file("-", o.dump);
}
