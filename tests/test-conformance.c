/*
 * test-conformance — runs the Rhai conformance corpus (../shared/conformance/rhai/, both .jsonl
 * files) through the public API and compares each result with the expected one.
 *
 * Each case runs in a forked child with a time limit, so a crash or a hang in one case shows
 * up as that case's failure instead of hiding every other result. Set
 * CRYO_CONFORMANCE_NOFORK=1 to run the cases in-process (for gdb or valgrind).
 *
 * Exit status: 0 when every file's pass count reaches its floor in
 * tests/conformance-floor.txt and no case crashed or hung; 1 otherwise; 77 (skip) when the
 * corpus is missing. A wrong answer only counts against the floor: a crash is always a bug.
 */
#define _GNU_SOURCE /* asprintf, strsignal */
#include "cryo.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_DIR  "../shared/conformance/rhai"
#define FLOOR_FILE   "tests/conformance-floor.txt"
#define CASE_TIMEOUT 10 /* seconds */
#define MAX_GLOBALS  32
#define MSG_SIZE     2048

typedef enum outcome { PASS, FAIL, SKIP, CRASH } outcome;

typedef struct verdict {
    outcome outcome;
    char msg[MSG_SIZE]; /* for FAIL and SKIP: why */
} verdict;

static void say(verdict *v, outcome o, const char *fmt, ...) {
    v->outcome = o;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
}

/* --- describing values ---------------------------------------------------------------------- */

static char *show_value(cryo_value v) {
    char *text = cryo_value_to_cstring(v, true);
    char *out = NULL;
    if (asprintf(&out, "%s %s", cryo_type_name((cryo_type)v.type), text ? text : "?") < 0)
        out = NULL;
    free(text);
    return out;
}

static char *show_json(const json_t *j) {
    return json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* --- comparing ------------------------------------------------------------------------------ */

/* Decodes one UTF-8 scalar; returns its length in bytes, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
    if (len == 0) return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] & 0xE0) == 0xC0   ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || n > len) return 0;
    uint32_t c = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        c = (c << 6) | (s[i] & 0x3F);
    *cp = c;
    return n;
}

/* True when a JSON string is exactly one character, stored in *cp. */
static bool json_one_char(const json_t *j, uint32_t *cp) {
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    return s && utf8_decode((const unsigned char *)s, len, cp) == len && len > 0;
}

static bool float_equal(double got, double want, double tol) {
    if (isnan(want)) return isnan(got);
    if (tol > 0) return fabs(got - want) <= tol;
    return got == want;
}

static bool same_string(cryo_value v, const json_t *j) {
    size_t len = 0;
    const char *s = cryo_value_str(v, &len);
    return s && len == json_string_length(j) && memcmp(s, json_string_value(j), len) == 0;
}

/* Deep comparison of a value with a JSON value of unknown Rhai type (array elements, map
 * values): a JSON string may be a Rhai string or a char, a JSON number an int or a float. */
static bool same_any(cryo_value v, const json_t *j) {
    uint32_t cp;
    switch (json_typeof(j)) {
    case JSON_NULL: return v.type == CRYO_T_UNIT;
    case JSON_TRUE: return v.type == CRYO_T_BOOL && v.as.b;
    case JSON_FALSE: return v.type == CRYO_T_BOOL && !v.as.b;
    case JSON_INTEGER:
        if (v.type == CRYO_T_INT) return v.as.i == json_integer_value(j);
        return v.type == CRYO_T_FLOAT && v.as.f == (double)json_integer_value(j);
    case JSON_REAL: return v.type == CRYO_T_FLOAT && float_equal(v.as.f, json_real_value(j), 0);
    case JSON_STRING:
        if (v.type == CRYO_T_CHAR) return json_one_char(j, &cp) && cp == v.as.c;
        return same_string(v, j);
    case JSON_ARRAY: {
        if (v.type != CRYO_T_ARRAY || cryo_array_len(v) != (int64_t)json_array_size(j))
            return false;
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!same_any(cryo_array_get(v, (int64_t)i), json_array_get(j, i))) return false;
        return true;
    }
    case JSON_OBJECT: {
        if (v.type != CRYO_T_MAP || cryo_map_len(v) != (int64_t)json_object_size(j)) return false;
        const char *key;
        json_t *want;
        json_object_foreach((json_t *)j, key, want) {
            cryo_value got;
            if (!cryo_map_find(v, key, &got) || !same_any(got, want)) return false;
        }
        return true;
    }
    }
    return false;
}

static double approx_tolerance(const json_t *c) {
    const char *a = json_string_value(json_object_get(c, "approx"));
    if (!a) return 0;
    if (strcmp(a, "EPSILON") == 0) return 2.220446049250313e-16;
    return strtod(a, NULL);
}

/* Compares a successful result with the case's `expect` according to its `type`. */
static bool matches(const json_t *c, const char *type, cryo_value v) {
    const json_t *want = json_object_get(c, "expect");
    uint32_t cp;
    if (strcmp(type, "ok") == 0) return true;
    if (strcmp(type, "int") == 0)
        return v.type == CRYO_T_INT && json_is_integer(want) && v.as.i == json_integer_value(want);
    if (strcmp(type, "float") == 0)
        return v.type == CRYO_T_FLOAT && json_is_number(want) &&
               float_equal(v.as.f, json_number_value(want), approx_tolerance(c));
    if (strcmp(type, "bool") == 0)
        return v.type == CRYO_T_BOOL && json_is_boolean(want) && v.as.b == json_is_true(want);
    if (strcmp(type, "string") == 0) return v.type == CRYO_T_STRING && same_string(v, want);
    if (strcmp(type, "char") == 0)
        return v.type == CRYO_T_CHAR && json_one_char(want, &cp) && cp == v.as.c;
    if (strcmp(type, "array") == 0) return v.type == CRYO_T_ARRAY && same_any(v, want);
    if (strcmp(type, "map") == 0) return v.type == CRYO_T_MAP && same_any(v, want);
    if (strcmp(type, "unit") == 0) return v.type == CRYO_T_UNIT;
    return false;
}

/* Whether our error kind fits Rhai's `error_kind`. Kinds we have no mapping for accept any. */
static bool kind_fits(const char *rhai, cryo_error_kind k) {
    if (!rhai) return true;
    if (strncmp(rhai, "parse", 5) == 0) {
        if (k == CRYO_ERR_PARSE || k == CRYO_ERR_COMPILE) return true;
        /* Rhai checks literal sizes while parsing; our limits live in the VM, so the literal
         * is refused when the run builds it. */
        if (strcmp(rhai, "parse:LiteralTooLarge") == 0) return k == CRYO_ERR_DATA_TOO_LARGE;
        if (strcmp(rhai, "parse:ExprTooDeep") == 0) return k == CRYO_ERR_STACK_OVERFLOW;
        return false;
    }
    static const struct {
        const char *rhai;
        cryo_error_kind a, b;
    } map[] = {
        {"ErrorArithmetic", CRYO_ERR_ARITHMETIC, CRYO_ERR_ARITHMETIC},
        {"ErrorTooManyOperations", CRYO_ERR_TOO_MANY_OPERATIONS, CRYO_ERR_TOO_MANY_OPERATIONS},
        {"ErrorDataTooLarge", CRYO_ERR_DATA_TOO_LARGE, CRYO_ERR_DATA_TOO_LARGE},
        {"ErrorStackOverflow", CRYO_ERR_STACK_OVERFLOW, CRYO_ERR_STACK_OVERFLOW},
        {"ErrorRuntime", CRYO_ERR_RUNTIME, CRYO_ERR_RUNTIME},
        {"ErrorFunctionNotFound", CRYO_ERR_NOT_FOUND, CRYO_ERR_NOT_FOUND},
        {"ErrorAssignmentToConstant", CRYO_ERR_CONSTANT, CRYO_ERR_COMPILE},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(rhai, map[i].rhai) == 0) return k == map[i].a || k == map[i].b;
    return true;
}

/* --- running one case ----------------------------------------------------------------------- */

typedef struct globals {
    const char *names[MAX_GLOBALS];
    bool is_const[MAX_GLOBALS];
    cryo_value values[MAX_GLOBALS];
    int n;
} globals;

static bool json_to_value(const json_t *j, cryo_value *out) {
    switch (json_typeof(j)) {
    case JSON_INTEGER: *out = cryo_int(json_integer_value(j)); return true;
    case JSON_REAL: *out = cryo_float(json_real_value(j)); return true;
    case JSON_TRUE: *out = cryo_bool(true); return true;
    case JSON_FALSE: *out = cryo_bool(false); return true;
    case JSON_NULL: *out = cryo_unit_value(); return true;
    case JSON_STRING:
        *out = cryo_value_string(json_string_value(j), json_string_length(j));
        return out->type == CRYO_T_STRING;
    default: return false;
    }
}

static bool in_array(const json_t *arr, const char *s) {
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)arr, i, e) {
        if (json_is_string(e) && strcmp(json_string_value(e), s) == 0) return true;
    }
    return false;
}

static bool build_globals(const json_t *c, globals *g) {
    const json_t *scope = json_object_get(c, "scope");
    const json_t *consts = json_object_get(c, "scope_constants");
    const char *key;
    json_t *val;
    g->n = 0;
    json_object_foreach((json_t *)scope, key, val) {
        if (g->n == MAX_GLOBALS || !json_to_value(val, &g->values[g->n])) return false;
        g->names[g->n] = key;
        g->is_const[g->n] = consts && in_array(consts, key);
        g->n++;
    }
    return true;
}

static void free_globals(globals *g) {
    for (int i = 0; i < g->n; i++)
        cryo_value_release(g->values[i]);
}

static const struct {
    const char *name;
    cryo_limit limit;
} limit_names[] = {
    {"max_operations", CRYO_LIMIT_OPERATIONS},  {"max_string_size", CRYO_LIMIT_STRING_SIZE},
    {"max_array_size", CRYO_LIMIT_ARRAY_SIZE},  {"max_map_size", CRYO_LIMIT_MAP_SIZE},
    {"max_call_levels", CRYO_LIMIT_CALL_DEPTH},
};

/* Returns the name of a limit we do not support, or NULL when all are applied (or vm NULL
 * and all known). */
static const char *apply_limits(const json_t *c, cryo_vm *vm) {
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(c, "limits"), key, val) {
        size_t i = 0, n = sizeof limit_names / sizeof limit_names[0];
        while (i < n && strcmp(limit_names[i].name, key) != 0)
            i++;
        if (i == n) return key;
        if (vm) cryo_vm_set_limit(vm, limit_names[i].limit, (uint64_t)json_integer_value(val));
    }
    return NULL;
}

static void judge_error(const json_t *c, const char *type, const cryo_error *err,
                        cryo_error_kind kind, verdict *v) {
    const char *rhai_kind = json_string_value(json_object_get(c, "error_kind"));
    const char *msg = err && err->message ? err->message : "";
    if (strcmp(type, "error") != 0) {
        char *want = show_json(json_object_get(c, "expect"));
        say(v, FAIL, "expected %s %s, got %s: %s", type, want ? want : "?",
            cryo_error_kind_name(kind), msg);
        free(want);
    } else if (!kind_fits(rhai_kind, kind)) {
        say(v, FAIL, "expected error %s, got %s: %s", rhai_kind, cryo_error_kind_name(kind), msg);
    } else {
        v->outcome = PASS;
    }
}

static void judge_value(const json_t *c, const char *type, cryo_value result, verdict *v) {
    if (strcmp(type, "error") == 0) {
        const char *rhai_kind = json_string_value(json_object_get(c, "error_kind"));
        char *got = show_value(result);
        say(v, FAIL, "expected error%s%s, got %s", rhai_kind ? " " : "", rhai_kind ? rhai_kind : "",
            got ? got : "?");
        free(got);
    } else if (!matches(c, type, result)) {
        char *want = show_json(json_object_get(c, "expect"));
        char *got = show_value(result);
        say(v, FAIL, "expected %s %s, got %s", type, want ? want : "?", got ? got : "?");
        free(want);
        free(got);
    } else {
        v->outcome = PASS;
    }
}

static void run_case(const json_t *c, verdict *v) {
    const char *script = json_string_value(json_object_get(c, "script"));
    const char *type = json_string_value(json_object_get(c, "type"));
    const char *mode = json_string_value(json_object_get(c, "mode"));
    const char *engine = json_string_value(json_object_get(c, "engine"));
    const char *unsupported = apply_limits(c, NULL);
    if (!script || !type) return say(v, FAIL, "malformed case");
    if (unsupported) return say(v, SKIP, "limit %s not supported", unsupported);

    globals g;
    if (!build_globals(c, &g)) {
        free_globals(&g);
        return say(v, SKIP, "scope value not supported");
    }
    cryo_compile_options opts = {
        .source_name = json_string_value(json_object_get(c, "id")),
        .globals = g.names,
        .nglobals = g.n,
        .global_is_const = g.is_const,
        .expression_only = mode && strcmp(mode, "expression") == 0,
    };
    cryo_error *err = NULL;
    /* json_string_length, not strlen: a script may contain NUL bytes (functions.rs:25). */
    size_t script_len = json_string_length(json_object_get(c, "script"));
    cryo_unit *unit = cryo_compile(script, script_len, &opts, &err);
    if (!unit) {
        judge_error(c, type, err, err ? err->kind : CRYO_ERR_API, v);
        cryo_error_free(err);
        free_globals(&g);
        return;
    }
    bool raw = engine && strcmp(engine, "raw") == 0;
    cryo_vm *vm = cryo_vm_new(unit, raw ? cryo_context_raw() : cryo_context_std());
    cryo_unit_release(unit);
    if (!vm) {
        free_globals(&g);
        return say(v, FAIL, "cryo_vm_new failed");
    }
    apply_limits(c, vm);
    cryo_value result = cryo_unit_value();
    cryo_error_kind kind = cryo_vm_run(vm, g.values, g.n, &result);
    if (kind != CRYO_OK)
        judge_error(c, type, cryo_vm_error(vm), kind, v);
    else
        judge_value(c, type, result, v);
    cryo_value_release(result);
    cryo_vm_free(vm);
    free_globals(&g);
}

/* Runs a case in a child process so that a crash or a hang is reported as a failure. */
static void run_case_isolated(const json_t *c, verdict *v) {
    int fds[2];
    if (pipe(fds) != 0) return run_case(c, v);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return run_case(c, v);
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(CASE_TIMEOUT);
        verdict mine = {FAIL, ""};
        run_case(c, &mine);
        ssize_t w = write(fds[1], &mine, sizeof mine);
        _exit(w == (ssize_t)sizeof mine ? 0 : 3);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < sizeof *v) {
        ssize_t r = read(fds[0], (char *)v + got, sizeof *v - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGALRM)
            say(v, CRASH, "timed out after %d s", CASE_TIMEOUT);
        else
            say(v, CRASH, "crashed: %s", strsignal(sig));
    } else if (got != sizeof *v) {
        say(v, CRASH, "child exited with status %d without a verdict", WEXITSTATUS(status));
    }
}

/* --- per-file bookkeeping ------------------------------------------------------------------- */

typedef struct tally {
    char name[64];
    int pass, fail, skip;
} tally;

typedef struct tallies {
    tally *items;
    int n, cap;
} tallies;

static tally *tally_for(tallies *t, const char *id) {
    size_t len = strcspn(id, ":");
    if (len >= sizeof t->items[0].name) len = sizeof t->items[0].name - 1;
    for (int i = 0; i < t->n; i++)
        if (strlen(t->items[i].name) == len && memcmp(t->items[i].name, id, len) == 0)
            return &t->items[i];
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 32;
        tally *items = realloc(t->items, (size_t)cap * sizeof *items);
        if (!items) return NULL;
        t->items = items;
        t->cap = cap;
    }
    tally *n = &t->items[t->n++];
    memset(n, 0, sizeof *n);
    memcpy(n->name, id, len);
    return n;
}

static long read_floor(const char *file) {
    FILE *f = fopen(FLOOR_FILE, "r");
    if (!f) return 0;
    char line[256], name[200];
    long floor = 0, value;
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%199s %ld", name, &value) == 2 &&
            strcmp(name, file) == 0)
            floor = value;
    fclose(f);
    return floor;
}

typedef struct totals {
    int pass, fail, skip, crash;
    bool below_floor;
} totals;

static void run_file(const char *dir, const char *file, bool isolate, totals *all) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s: cannot open %s\n", file, path);
        all->below_floor |= read_floor(file) > 0;
        return;
    }
    tallies t = {0};
    int pass = 0, fail = 0, skip = 0, crash = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        /* JSON_ALLOW_NUL: some scripts contain \u0000. A line that still fails to load counts as
         * a failure rather than vanishing from the totals. */
        json_t *c = json_loads(line, JSON_ALLOW_NUL, &jerr);
        if (!c) {
            if (line[0] == '\n' || line[0] == '\0') continue;
            fail++;
            printf("FAIL %s line %d: not valid JSON: %s\n", file, jerr.line, jerr.text);
            continue;
        }
        const char *id = json_string_value(json_object_get(c, "id"));
        verdict v = {FAIL, ""};
        if (isolate)
            run_case_isolated(c, &v);
        else
            run_case(c, &v);
        tally *ty = tally_for(&t, id ? id : "?");
        if (v.outcome == PASS) {
            pass++;
            if (ty) ty->pass++;
        } else if (v.outcome == SKIP) {
            skip++;
            if (ty) ty->skip++;
            printf("SKIP %s: %s\n", id ? id : "?", v.msg);
        } else {
            fail++;
            crash += v.outcome == CRASH;
            if (ty) ty->fail++;
            printf("%s %s: %s\n", v.outcome == CRASH ? "CRASH" : "FAIL", id ? id : "?", v.msg);
        }
        json_decref(c);
    }
    free(line);
    fclose(f);

    long floor = read_floor(file);
    printf("\n%s: %d passed, %d failed, %d skipped (floor %ld)%s\n", file, pass, fail, skip, floor,
           pass < floor ? "  ** BELOW FLOOR **" : "");
    for (int i = 0; i < t.n; i++)
        printf("  %-24s %3d/%-3d%s\n", t.items[i].name, t.items[i].pass,
               t.items[i].pass + t.items[i].fail + t.items[i].skip,
               t.items[i].skip ? " (some skipped)" : "");
    printf("\n");
    free(t.items);
    all->pass += pass;
    all->fail += fail;
    all->skip += skip;
    all->crash += crash;
    all->below_floor |= pass < floor;
}

/* Under CI (CI=true, or CRYO_REQUIRE_CORPUS=1, which .ci/run sets) a missing corpus is a
 * failure, not a skip: a CI run must not pass without having run these cases. */
static bool corpus_required(void) {
    const char *req = getenv("CRYO_REQUIRE_CORPUS"), *ci = getenv("CI");
    return (req && *req && strcmp(req, "0") != 0) || (ci && strcmp(ci, "true") == 0);
}

int main(void) {
    const char *dir = getenv("CRYO_CONFORMANCE_DIR");
    if (!dir || !*dir) dir = DEFAULT_DIR;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/cases.jsonl", dir);
    if (access(probe, R_OK) != 0) {
        if (corpus_required()) {
            printf("conformance corpus not found at %s (set CRYO_CONFORMANCE_DIR): FAILING, "
                   "since CI or CRYO_REQUIRE_CORPUS requires it\n",
                   dir);
            return 1;
        }
        printf("conformance corpus not found at %s (set CRYO_CONFORMANCE_DIR): skipping\n", dir);
        return 77;
    }
    const char *nofork = getenv("CRYO_CONFORMANCE_NOFORK");
    bool isolate = !(nofork && *nofork && strcmp(nofork, "0") != 0);
    setvbuf(stdout, NULL, _IOLBF, 0);

    totals all = {0};
    run_file(dir, "cases.jsonl", isolate, &all);
    run_file(dir, "cases_extra.jsonl", isolate, &all);
    printf("conformance: %d passed, %d failed (%d crashed or hung), %d skipped%s\n", all.pass,
           all.fail, all.crash, all.skip, all.below_floor ? " (below floor)" : "");
    return all.below_floor || all.crash > 0 ? 1 : 0;
}
