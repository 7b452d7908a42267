/*
 * bench-lang — times cryo against Lua 5.4 and LuaJIT (interpreter only, -joff) on equivalent
 * scripts, then times cryo alone on Rhai's own benchmark and example scripts.
 *
 * cryo and Lua 5.4 are embedded: each measurement is compile + run in a fresh VM / state.
 * LuaJIT cannot share a process with liblua5.4 (same symbol names), so it runs as
 * `luajit -joff file.lua`, minus the time of an empty run (process start-up). Every number is
 * the best of 3. Tiny scripts are repeated until a batch lasts 100 ms and reported per run.
 *
 * Usage: bench-lang [source-dir] [rhai-corpus-dir]
 */
#define _GNU_SOURCE
#include "cryo.h"

#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#define BEST_OF     3
#define MIN_BATCH_S 0.1

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* snprintf into a path buffer; false when the result did not fit. */
static bool fmt_path(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

/* Replaces every `from` in `s` by `to`; returns a new string. */
static char *replace_all(const char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    if (!out) return NULL;
    for (const char *p = s, *q; *p; p = q + fl) {
        q = strstr(p, from);
        if (!q) {
            strcpy(o, p);
            return out;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
    }
    *o = '\0';
    return out;
}

/* --- one run of each engine; each returns seconds, or a negative number on failure --------- */

static void discard_print(void *ud, const char *text, size_t len) {
    (void)ud;
    (void)text;
    (void)len;
}

static char last_error[512];

static double cryo_once(const char *src, size_t len) {
    double t0 = now_s();
    cryo_error *err = NULL;
    cryo_unit *unit = cryo_compile(src, len, NULL, &err);
    if (!unit) {
        snprintf(last_error, sizeof last_error, "%s", err ? err->message : "compile error");
        cryo_error_free(err);
        return -1;
    }
    cryo_vm *vm = cryo_vm_new(unit, cryo_context_std());
    cryo_unit_release(unit);
    if (!vm) return -1;
    cryo_vm_set_print(vm, discard_print, NULL);
    cryo_vm_set_debug(vm, discard_print, NULL);
    cryo_value result = cryo_unit_value();
    cryo_error_kind kind = cryo_vm_run(vm, NULL, 0, &result);
    double t = now_s() - t0;
    if (kind != CRYO_OK) {
        const cryo_error *e = cryo_vm_error(vm);
        snprintf(last_error, sizeof last_error, "%s", e ? e->message : cryo_error_kind_name(kind));
        t = -1;
    }
    cryo_value_release(result);
    cryo_vm_free(vm);
    return t;
}

static double lua_once(const char *src, size_t len) {
    double t0 = now_s();
    lua_State *L = luaL_newstate();
    if (!L) return -1;
    luaL_openlibs(L);
    int rc = luaL_loadbuffer(L, src, len, "bench") || lua_pcall(L, 0, LUA_MULTRET, 0);
    double t = now_s() - t0;
    if (rc) {
        snprintf(last_error, sizeof last_error, "%s", lua_tostring(L, -1));
        t = -1;
    }
    lua_close(L);
    return t;
}

static double spawn_once(char *const argv[]) {
    double t0 = now_s();
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0) return -1;
    int status;
    waitpid(pid, &status, 0);
    double t = now_s() - t0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

/* The value a script returns, as text, to check that both languages computed the same. */
static char *cryo_result(const char *src, size_t len) {
    cryo_unit *unit = cryo_compile(src, len, NULL, NULL);
    cryo_vm *vm = unit ? cryo_vm_new(unit, cryo_context_std()) : NULL;
    cryo_unit_release(unit);
    char *text = NULL;
    cryo_value result = cryo_unit_value();
    if (vm && cryo_vm_run(vm, NULL, 0, &result) == CRYO_OK)
        text = cryo_value_to_cstring(result, false);
    cryo_value_release(result);
    cryo_vm_free(vm);
    return text;
}

static char *lua_result(const char *src, size_t len) {
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    luaL_openlibs(L);
    char *text = NULL;
    if (luaL_loadbuffer(L, src, len, "bench") == LUA_OK && lua_pcall(L, 0, 1, 0) == LUA_OK)
        text = strdup(luaL_tolstring(L, -1, NULL));
    lua_close(L);
    return text;
}

typedef double (*engine_fn)(const char *src, size_t len);

/* Best of BEST_OF, each a batch long enough to time a tiny script. Seconds per run. */
static double best_time(engine_fn run, const char *src, size_t len) {
    double first = run(src, len);
    if (first < 0) return -1;
    int reps = first >= MIN_BATCH_S ? 1 : (int)(MIN_BATCH_S / (first > 1e-6 ? first : 1e-6)) + 1;
    double best = reps == 1 ? first : 1e30;
    for (int i = 0; i < BEST_OF; i++) {
        double total = 0;
        for (int r = 0; r < reps; r++) {
            double t = run(src, len);
            if (t < 0) return -1;
            total += t;
        }
        if (total / reps < best) best = total / reps;
    }
    return best;
}

static double luajit_startup = -1;

static double luajit_time(const char *path) {
    char *argv[] = {"luajit", "-joff", (char *)path, NULL};
    double best = 1e30;
    for (int i = 0; i < BEST_OF; i++) {
        double t = spawn_once(argv);
        if (t < 0) return -1;
        if (t < best) best = t;
    }
    best -= luajit_startup > 0 ? luajit_startup : 0;
    return best > 0 ? best : 0;
}

/* --- output ---------------------------------------------------------------------------------- */

#define NOT_APPLICABLE (-2.0)

static void cell(double t) {
    if (t == NOT_APPLICABLE)
        printf(" %12s", "-");
    else if (t < 0)
        printf(" %12s", "n/a");
    else if (t < 1e-3)
        printf(" %10.1fus", t * 1e6);
    else
        printf(" %10.1fms", t * 1e3);
}

static void row(const char *name, double c, double l, double j) {
    printf("%-56s", name);
    cell(c);
    cell(l);
    cell(j);
    if (c > 0 && l > 0)
        printf(" %9.2fx\n", c / l);
    else
        printf(" %10s\n", "-");
}

static const char *const lang_benches[] = {"fib", "loop", "closures", "strings", "sort"};

static void bench_versus(const char *srcdir) {
    printf("%-56s %12s %12s %12s %10s\n", "benchmark", "cryo", "Lua 5.4", "LuaJIT -joff",
           "cryo/Lua");
    for (size_t i = 0; i < sizeof lang_benches / sizeof lang_benches[0]; i++) {
        char rpath[4096], lpath[4096];
        fmt_path(rpath, sizeof rpath, "%s/bench/scripts/%s.rhai", srcdir, lang_benches[i]);
        fmt_path(lpath, sizeof lpath, "%s/bench/scripts/%s.lua", srcdir, lang_benches[i]);
        size_t rl = 0, ll = 0;
        char *r = slurp(rpath, &rl), *l = slurp(lpath, &ll);
        if (!r || !l) {
            fprintf(stderr, "cannot read %s or %s\n", rpath, lpath);
            free(r);
            free(l);
            continue;
        }
        last_error[0] = '\0';
        double c = best_time(cryo_once, r, rl);
        if (c < 0) fprintf(stderr, "  cryo failed on %s: %s\n", lang_benches[i], last_error);
        double lt = best_time(lua_once, l, ll);
        row(lang_benches[i], c, lt, luajit_time(lpath));
        char *cr = cryo_result(r, rl), *lr = lua_result(l, ll);
        if (cr && lr && strcmp(cr, lr) != 0)
            printf("    ** results differ: cryo %s, Lua %s\n", cr, lr);
        free(cr);
        free(lr);
        free(r);
        free(l);
    }
}

/* Rhai's bench scripts that need host setup (see the corpus README) or only parse. */
static bool needs_host(const char *name) {
    static const char *const prefixes[] = {"parsing__", "eval_scope__", "eval_type__",
                                           "eval_module__bench_eval_module_2",
                                           "iterations__bench_iterations_blob"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return true;
    return false;
}

/* The example scripts time themselves with timestamp(): the driver times them instead. */
static char *prepare(const char *src) {
    char *a = replace_all(src, "timestamp()", "0");
    char *b = a ? replace_all(a, ".elapsed", "") : NULL;
    free(a);
    return b;
}

static void bench_one_rhai(const char *path, const char *label) {
    size_t len = 0;
    char *raw = slurp(path, &len);
    char *src = raw ? prepare(raw) : NULL;
    if (src) {
        last_error[0] = '\0';
        double t = best_time(cryo_once, src, strlen(src));
        row(label, t, NOT_APPLICABLE, NOT_APPLICABLE);
        if (t < 0) printf("    (%s)\n", last_error);
    }
    free(raw);
    free(src);
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void bench_rhai(const char *corpus) {
    printf("\nRhai's scripts, cryo alone (timestamp() calls replaced by 0):\n");
    static const char *const examples[] = {"speed_test", "primes", "fibonacci", "mat_mul"};
    char path[4096];
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        fmt_path(path, sizeof path, "%s/scripts/%s.rhai", corpus, examples[i]);
        bench_one_rhai(path, examples[i]);
    }
    char dir[4096];
    fmt_path(dir, sizeof dir, "%s/scripts/benches", corpus);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t nl = strlen(name);
        if (nl > 5 && strcmp(name + nl - 5, ".rhai") == 0 && !needs_host(name)) {
            fmt_path(path, sizeof path, "%s/%s", dir, name);
            char label[256];
            snprintf(label, sizeof label, "%.*s", (int)(nl - 5), name);
            bench_one_rhai(path, label);
        }
        free(names[i]);
    }
    if (n >= 0) free(names);
}

int main(int argc, char **argv) {
    const char *srcdir = argc > 1 ? argv[1] : ".";
    char corpus[4096];
    fmt_path(corpus, sizeof corpus, "%s/../shared/conformance/rhai", srcdir);
    if (argc > 2) fmt_path(corpus, sizeof corpus, "%s", argv[2]);

    char *empty[] = {"luajit", "-joff", "-e", "", NULL};
    luajit_startup = 1e30;
    for (int i = 0; i < 5; i++) {
        double t = spawn_once(empty);
        if (t < 0) {
            luajit_startup = -1;
            fprintf(stderr, "luajit not found: its column shows n/a\n");
            break;
        }
        if (t < luajit_startup) luajit_startup = t;
    }
    bench_versus(srcdir);
    bench_rhai(corpus);
    return 0;
}
