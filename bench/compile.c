/*
 * bench-compile — front-end speed (issue 19): generates one program of about 10,000 lines
 * (functions, loops, maps, strings; 11 lines per function) in Rhai and in Lua, checks that both
 * run to the same result, then times cryo_compile (lex + parse + compile to a unit) against
 * luaL_loadbuffer (Lua's parser + code generator) on it: best and median of 21 compiles each,
 * in one process, alternating so that machine load hits both alike.
 *
 * Usage: bench-compile [lines] [--write dir]   (--write saves compile.rhai / compile.lua there,
 * to profile the compiler alone with `cryo --check` or perf)
 */
#include "cryo.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 21

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct buf {
    char *s;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, int i, int prev) {
    char tmp[512];
    /* Every template uses %1$d for this function's number and %2$d for the previous one. */
    int n = snprintf(tmp, sizeof tmp, fmt, i, prev);
    if (n < 0 || (size_t)n >= sizeof tmp) abort();
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    memcpy(b->s + b->len, tmp, (size_t)n + 1);
    b->len += (size_t)n;
}

/* The same function in both languages, line for line. The recursive call is compiled but runs
 * only for a > 100, which the main part never passes. */
static const char *const rhai_fn[] = {
    "fn f%1$d(a, b) {\n",
    "    let m = #{ name: \"item%1$d\", count: a, tags: [1, 2, 3] };\n",
    "    let s = \"str\" + a;\n",
    "    for j in 0..b {\n",
    "        if j %% 3 == 0 { m.count += j; } else { s += \"x\"; }\n",
    "    }\n",
    "    let k = 0;\n",
    "    while k < a { k += 1; m.count += k; }\n",
    "    if a > 100 { return f%2$d(a - 1, b); }\n",
    "    return m.count + s.len() + m.tags.len();\n",
    "}\n",
};
static const char *const lua_fn[] = {
    "function f%1$d(a, b)\n",
    "    local m = { name = \"item%1$d\", count = a, tags = {1, 2, 3} }\n",
    "    local s = \"str\" .. a\n",
    "    for j = 0, b - 1 do\n",
    "        if j %% 3 == 0 then m.count = m.count + j else s = s .. \"x\" end\n",
    "    end\n",
    "    local k = 0\n",
    "    while k < a do k = k + 1; m.count = m.count + k end\n",
    "    if a > 100 then return f%2$d(a - 1, b) end\n",
    "    return m.count + #s + #m.tags\n",
    "end\n",
};
#define FN_LINES ((int)(sizeof rhai_fn / sizeof *rhai_fn))

static void generate(int lines, buf *rhai, buf *lua) {
    int nfn = (lines - 2) * 100 / (FN_LINES * 100 + 1); /* + 1 line per 100 fns */
    if (nfn < 1) nfn = 1;
    for (int i = 0; i < nfn; i++)
        for (int l = 0; l < FN_LINES; l++) {
            put(rhai, rhai_fn[l], i, i > 0 ? i - 1 : 0);
            put(lua, lua_fn[l], i, i > 0 ? i - 1 : 0);
        }
    /* The main part calls every 100th function, one line per call. */
    put(rhai, "let total = 0;\n", 0, 0);
    put(lua, "local total = 0\n", 0, 0);
    for (int i = 0; i < nfn; i += 100) {
        put(rhai, "total += f%1$d(%2$d, 5) * 100 + %2$d;\n", i, i / 100 % 10);
        put(lua, "total = total + f%1$d(%2$d, 5) * 100 + %2$d\n", i, i / 100 % 10);
    }
    put(rhai, "total\n", 0, 0);
    put(lua, "return total\n", 0, 0);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static double time_cryo(const buf *b) {
    double t0 = now_s();
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(b->s, b->len, NULL, &err);
    double t = now_s() - t0;
    if (!u) {
        fprintf(stderr, "cryo: %d:%d: %s\n", err ? err->line : 0, err ? err->column : 0,
                err ? err->message : "?");
        exit(1);
    }
    cryo_unit_release(u);
    return t;
}

static double time_lua(const buf *b) {
    lua_State *L = luaL_newstate();
    double t0 = now_s();
    int rc = luaL_loadbuffer(L, b->s, b->len, "compile");
    double t = now_s() - t0;
    if (rc != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_close(L);
    return t;
}

static long long run_cryo(const buf *b) {
    cryo_unit *u = cryo_compile(b->s, b->len, NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, cryo_context_std());
    cryo_unit_release(u);
    cryo_value r = cryo_unit_value();
    long long out = -1;
    if (cryo_vm_run(vm, NULL, 0, &r) == CRYO_OK) {
        char *text = cryo_value_to_cstring(r, false);
        out = text ? atoll(text) : -1;
        free(text);
    } else {
        const cryo_error *e = cryo_vm_error(vm);
        fprintf(stderr, "cryo run: %s\n", e ? e->message : "?");
    }
    cryo_value_release(r);
    cryo_vm_free(vm);
    return out;
}

static long long run_lua(const buf *b) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    long long out = -1;
    if (luaL_loadbuffer(L, b->s, b->len, "compile") == LUA_OK && lua_pcall(L, 0, 1, 0) == LUA_OK)
        out = (long long)lua_tointeger(L, -1);
    else
        fprintf(stderr, "lua run: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return out;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void write_file(const char *dir, const char *name, const buf *b) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->s, 1, b->len, f) != b->len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    int lines = 10000;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--write") && i + 1 < argc)
            dir = argv[++i];
        else
            lines = atoi(argv[i]);
    }
    buf rhai = {0}, lua = {0};
    generate(lines, &rhai, &lua);
    if (dir) {
        write_file(dir, "compile.rhai", &rhai);
        write_file(dir, "compile.lua", &lua);
    }
    long long rc = run_cryo(&rhai), rl = run_lua(&lua);
    if (rc != rl || rc < 0) {
        fprintf(stderr, "the programs disagree: cryo %lld, Lua %lld\n", rc, rl);
        return 1;
    }

    double tc[RUNS], tl[RUNS];
    for (int r = 0; r < RUNS; r++) {
        tc[r] = time_cryo(&rhai);
        tl[r] = time_lua(&lua);
    }
    qsort(tc, RUNS, sizeof *tc, cmp_double);
    qsort(tl, RUNS, sizeof *tl, cmp_double);
    printf("compile %d lines (Rhai %zu B, %d lines; Lua %zu B, %d lines), best / median of %d:\n",
           lines, rhai.len, count_lines(rhai.s), lua.len, count_lines(lua.s), RUNS);
    printf("  cryo_compile     %7.2f / %7.2f ms  (%.2f M lines/s)\n", tc[0] * 1e3,
           tc[RUNS / 2] * 1e3, count_lines(rhai.s) / tc[0] * 1e-6);
    printf("  luaL_loadbuffer  %7.2f / %7.2f ms  (%.2f M lines/s)\n", tl[0] * 1e3,
           tl[RUNS / 2] * 1e3, count_lines(lua.s) / tl[0] * 1e-6);
    printf("  cryo / Lua       %7.2f / %7.2f x\n", tc[0] / tl[0], tc[RUNS / 2] / tl[RUNS / 2]);
    free(rhai.s);
    free(lua.s);
    return 0;
}
