/*
 * module.c — modules (docs/modules.md): the resolvers a context is given, the context's cache
 * of compiled module units, and the intrinsics the parser desugars `import`, `export`,
 * `name::f()`, `name::K` and `global::K` into (parse.c, "Modules").
 *
 * Two levels, as Rhai's caching resolvers: a module *unit* is compiled once per context (the
 * cache below, keyed by the resolved path, shared by every VM and thread of the context, under
 * one mutex taken on the import path only); a module's *top level* runs once per VM, at its
 * first import (later imports in that VM get the same module value until the VM is reset), and
 * its exports (`export` variables, non-private fns, imported sub-modules) form the module
 * value: a map the script only reaches through `::`. Calls through `::` never lock.
 *
 * A fn's encapsulated environment (docs/architecture.md, "Modules"): the top level of each unit
 * records the constants and import aliases its fns read (`$setenv`) in this VM's environment
 * of that unit; a fn reads them from its own unit's (`$env`, `$envcall`).
 */
#include "vm.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct modentry {
    char *key; /* resolved path (files: realpath), static or host name */
    cryo_unit *unit;
} modentry;

typedef struct modstatic {
    char *name;
    cryo_package *pkg;
} modstatic;

struct cvm_modules {
    pthread_mutex_t lock; /* the cache; the rest is immutable after the context is made */
    modstatic *statics;
    int nstatics;
    cryo_module_resolver resolver;
    void *resolver_ud;
    bool files;
    char **paths;
    int npaths;
    modentry *cache;
    int ncache, capcache;
};

/* One VM's modules: every module whose top level ran (or runs: `loading`) in this VM. */
typedef struct vmmod {
    cryo_unit *unit; /* borrowed from the context's cache, retained */
    cryo_value val;  /* the module value (a map), () while loading */
    bool loading;
} vmmod;

/* One unit's encapsulated environment in this VM: the top-level constants and import
 * aliases its fns read (`$env`), recorded by its top level as it runs (`$setenv`). */
typedef struct vmenv {
    cryo_unit *unit; /* retained: a pointer compare must never meet a reused address */
    cryo_value map;  /* name -> value */
} vmenv;

/* A `::` call site's target, found once: keyed by the module value and the call's "f/N"
 * constant (both retained, so an address is never reused while cached; a module value is
 * never changed once built), so a call does not look its function up by name again. */
typedef struct callcache {
    cryo_value map, key;    /* () when the slot is empty */
    cryo_value fn;          /* borrowed from `map` */
    const cryo_libreg *reg; /* a static module's host function instead */
    /* `$envcall` slots: keyed by the alias constant ("u::", which names its unit too) and the
     * key, valid while the environments are unchanged (envgen). () for `$modcall` slots. */
    cryo_value via;
    uint32_t gen;
} callcache;

enum { CALLCACHE = 16 };

struct cvm_modvm {
    callcache calls[CALLCACHE];
    vmmod *mods;
    int n, cap;
    vmenv *envs;
    int nenvs, capenvs;
    int lastenv;         /* index of the last environment found: a run mostly stays in one unit */
    uint32_t envgen;     /* bumped by every `$setenv`: `$envcall` slots found before are stale */
    cryo_value *exports; /* the module value being built by the running top level, or NULL */
    cryo_value globals;  /* the main script's constants for `global::` (a map or ()) */
};

/* --- the context's registry ----------------------------------------------------------------- */

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

void cvm_modules_free(struct cvm_modules *m) {
    if (!m) return;
    for (int i = 0; i < m->nstatics; i++) {
        free(m->statics[i].name);
        cryo_package_release(m->statics[i].pkg);
    }
    free(m->statics);
    for (int i = 0; i < m->npaths; i++)
        free(m->paths[i]);
    free(m->paths);
    for (int i = 0; i < m->ncache; i++) {
        free(m->cache[i].key);
        cryo_unit_release(m->cache[i].unit);
    }
    free(m->cache);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

struct cvm_modules *cvm_modules_new(const cryo_module_config *cfg, bool *bad) {
    *bad = false;
    if (!cfg) return NULL;
    if (cfg->nstatics < 0 || (cfg->nstatics > 0 && !cfg->statics) || cfg->nsearch_paths < 0 ||
        (cfg->nsearch_paths > 0 && !cfg->search_paths)) {
        *bad = true;
        return NULL;
    }
    struct cvm_modules *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->resolver = cfg->resolver;
    m->resolver_ud = cfg->resolver_userdata;
    m->files = cfg->files;
    if (cfg->nstatics > 0) m->statics = calloc((size_t)cfg->nstatics, sizeof *m->statics);
    if (cfg->nsearch_paths > 0) m->paths = calloc((size_t)cfg->nsearch_paths, sizeof *m->paths);
    if ((cfg->nstatics > 0 && !m->statics) || (cfg->nsearch_paths > 0 && !m->paths)) goto fail;
    for (int i = 0; i < cfg->nstatics; i++) {
        const cryo_static_module *s = &cfg->statics[i];
        if (!s->name || !s->package) {
            *bad = true;
            goto fail;
        }
        m->statics[i].name = dupstr(s->name);
        if (!m->statics[i].name) goto fail;
        cryo_package_seal(s->package);
        m->statics[i].pkg = cryo_package_retain(s->package);
        m->nstatics++;
    }
    for (int i = 0; i < cfg->nsearch_paths; i++) {
        if (!cfg->search_paths[i]) {
            *bad = true;
            goto fail;
        }
        m->paths[i] = dupstr(cfg->search_paths[i]);
        if (!m->paths[i]) goto fail;
        m->npaths++;
    }
    return m;
fail:
    cvm_modules_free(m);
    return NULL;
}

CRYO_API size_t cryo_context_invalidate_modules(cryo_context *ctx, const char *name) {
    if (!ctx || !ctx->modules) return 0;
    struct cvm_modules *m = ctx->modules;
    size_t dropped = 0;
    pthread_mutex_lock(&m->lock);
    int j = 0;
    for (int i = 0; i < m->ncache; i++) {
        modentry e = m->cache[i];
        if (!name || strcmp(e.key, name) == 0) {
            free(e.key);
            cryo_unit_release(e.unit); /* VMs that imported it keep their own reference */
            dropped++;
        } else {
            m->cache[j++] = e;
        }
    }
    m->ncache = j;
    pthread_mutex_unlock(&m->lock);
    return dropped;
}

/* --- resolving a path to a unit (under the registry's lock) --------------------------------- */

/* What one resolution found: a static module's index, or a unit (owned reference). */
typedef struct resolved {
    int static_index; /* -1 unless a static module */
    cryo_unit *unit;
} resolved;

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* dir + "/" + path (+ ".rhai" when the path has no extension of its own). */
static char *join_path(const char *dir, size_t dirlen, const char *path) {
    const char *ext = has_suffix(path, ".rhai") ? "" : ".rhai";
    size_t n = dirlen + 1 + strlen(path) + strlen(ext) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    if (dirlen)
        snprintf(s, n, "%.*s/%s%s", (int)dirlen, dir, path, ext);
    else
        snprintf(s, n, "%s%s", path, ext);
    return s;
}

static modentry *cache_find(struct cvm_modules *m, const char *key) {
    for (int i = 0; i < m->ncache; i++)
        if (strcmp(m->cache[i].key, key) == 0) return &m->cache[i];
    return NULL;
}

/* Adds key -> unit (the cache takes one reference of its own). false when out of memory. */
static bool cache_add(struct cvm_modules *m, const char *key, cryo_unit *u) {
    if (m->ncache == m->capcache) {
        int cap = m->capcache ? 2 * m->capcache : 8;
        modentry *n = realloc(m->cache, (size_t)cap * sizeof *n);
        if (!n) return false;
        m->cache = n;
        m->capcache = cap;
    }
    char *k = dupstr(key);
    if (!k) return false;
    m->cache[m->ncache++] = (modentry){k, cryo_unit_retain(u)};
    return true;
}

/* Compiles a module's source, its errors pointing into the module (source name = `name`). */
static cryo_error_kind compile_module(cryo_vm *vm, const char *src, size_t len, const char *name,
                                      cryo_unit **out) {
    cryo_compile_options opts = {.source_name = name};
    cryo_error *errs = NULL;
    *out = cryo_compile(src, len, &opts, &errs);
    if (*out) return CRYO_OK;
    cryo_error_kind k =
        cryo_vm_raise(vm, errs ? errs->kind : CRYO_ERR_COMPILE, "in module '%s': %s", name,
                      errs && errs->message ? errs->message : "compile error");
    if (vm->err && errs) { /* the error's position is the module's, not the import's */
        vm->err->line = errs->line;
        vm->err->column = errs->column;
        free(vm->err->source_name);
        vm->err->source_name = dupstr(name);
    }
    cryo_error_free(errs);
    return k;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The file resolver: the importer's folder first (for a relative path), then the search
 * paths. *found false (nothing raised) when no file exists. */
static cryo_error_kind resolve_file(cryo_vm *vm, struct cvm_modules *m, const char *path,
                                    const char *importer, bool *found, cryo_unit **out) {
    *found = false;
    int ncand = path[0] == '/' ? 1 : 1 + m->npaths;
    for (int c = 0; c < ncand; c++) {
        char *cand;
        if (path[0] == '/') {
            cand = join_path("", 0, path);
        } else if (c == 0) {
            const char *slash = importer ? strrchr(importer, '/') : NULL;
            cand = join_path(importer, slash ? (size_t)(slash - importer) : 0, path);
        } else {
            cand = join_path(m->paths[c - 1], strlen(m->paths[c - 1]), path);
        }
        if (!cand) return cvm_raise_oom(vm);
        char real[PATH_MAX];
        if (access(cand, R_OK) != 0 || !realpath(cand, real)) {
            free(cand);
            continue;
        }
        *found = true;
        modentry *e = cache_find(m, real);
        if (e) {
            *out = cryo_unit_retain(e->unit);
            free(cand);
            return CRYO_OK;
        }
        size_t len = 0;
        char *src = read_file(cand, &len);
        if (!src) {
            cryo_error_kind k =
                cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "module '%s': cannot read %s", path, cand);
            free(cand);
            return k;
        }
        cryo_error_kind k = compile_module(vm, src, len, cand, out);
        free(src);
        free(cand);
        if (k != CRYO_OK) return k;
        if (!cache_add(m, real, *out)) {
            cryo_unit_release(*out);
            return cvm_raise_oom(vm);
        }
        return CRYO_OK;
    }
    return CRYO_OK;
}

/* The host's resolver. *found false when it declined. */
static cryo_error_kind resolve_host(cryo_vm *vm, struct cvm_modules *m, const char *path,
                                    const char *importer, bool *found, cryo_unit **out) {
    modentry *e = cache_find(m, path); /* a name the host gave before, or this path */
    if (e) {
        *found = true;
        *out = cryo_unit_retain(e->unit);
        return CRYO_OK;
    }
    cryo_module_source ms = {0};
    *found = m->resolver(m->resolver_ud, path, importer, &ms);
    if (!*found) return CRYO_OK;
    const char *name = ms.name ? ms.name : path;
    if (ms.unit) {
        *out = ms.unit; /* the host's reference */
    } else {
        if (!ms.source && ms.len) {
            return cryo_vm_raise(vm, CRYO_ERR_API, "module '%s': the resolver gave no source",
                                 path);
        }
        cryo_error_kind k = compile_module(vm, ms.source ? ms.source : "", ms.len, name, out);
        if (ms.release) ms.release(m->resolver_ud, &ms);
        if (k != CRYO_OK) return k;
    }
    if (!cache_add(m, path, *out)) {
        cryo_unit_release(*out);
        return cvm_raise_oom(vm);
    }
    return CRYO_OK;
}

/* Resolves `path` imported from `importer`: static modules, the host's resolver, files. */
static cryo_error_kind resolve(cryo_vm *vm, const char *path, const char *importer, resolved *out) {
    out->static_index = -1;
    out->unit = NULL;
    struct cvm_modules *m = vm->ctx->modules;
    if (!m)
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                             "module not found: '%s' (this context has no module resolver)", path);
    for (int i = 0; i < m->nstatics; i++)
        if (strcmp(m->statics[i].name, path) == 0) {
            out->static_index = i;
            return CRYO_OK;
        }
    pthread_mutex_lock(&m->lock);
    bool found = false;
    cryo_error_kind k = CRYO_OK;
    if (m->resolver) k = resolve_host(vm, m, path, importer, &found, &out->unit);
    if (k == CRYO_OK && !found && m->files)
        k = resolve_file(vm, m, path, importer, &found, &out->unit);
    pthread_mutex_unlock(&m->lock);
    if (k != CRYO_OK || found) return k;
    return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "module not found: '%s' (imported from %s)", path,
                         importer ? importer : "a script without a source name");
}

/* --- the VM's modules ------------------------------------------------------------------------ */

void cvm_module_vm_release(cryo_vm *vm) {
    struct cvm_modvm *s = vm->modstate;
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        cv_release(&vm->heap, s->mods[i].val);
        cryo_unit_release(s->mods[i].unit);
    }
    free(s->mods);
    for (int i = 0; i < CALLCACHE; i++) {
        cv_release(&vm->heap, s->calls[i].map);
        cv_release(&vm->heap, s->calls[i].key);
        cv_release(&vm->heap, s->calls[i].via);
    }
    for (int i = 0; i < s->nenvs; i++) {
        cv_release(&vm->heap, s->envs[i].map);
        cryo_unit_release(s->envs[i].unit);
    }
    free(s->envs);
    cv_release(&vm->heap, s->globals);
    free(s);
    vm->modstate = NULL;
}

static struct cvm_modvm *modstate(cryo_vm *vm) {
    if (!vm->modstate) vm->modstate = calloc(1, sizeof *vm->modstate);
    return vm->modstate;
}

bool cvm_map_put(cryo_vm *vm, cryo_value map, const char *key, size_t len, cryo_value v) {
    cryo_string *k = cv_string_new(&vm->heap, key, len);
    if (!k) {
        cv_release(&vm->heap, v);
        return false;
    }
    bool ok = cv_map_set(&vm->heap, cv_map(map), k, v);
    cv_release(&vm->heap, cv_from_obj(&k->h));
    return ok;
}

static cryo_value str_value(cryo_vm *vm, const char *text) {
    cryo_string *str = cv_string_new(&vm->heap, text, strlen(text));
    return str ? cv_from_obj(&str->h) : cryo_unit_value();
}

static cryo_value new_map(cryo_vm *vm) {
    cryo_map *m = cv_map_new(&vm->heap, 4);
    return m ? cv_from_obj(&m->h) : cryo_unit_value();
}

static const char *unit_name(const cryo_unit *u) {
    return u && u->source_name ? u->source_name : "<module>";
}

/* Whether two source names are one file (the main script is compiled by the host, not
 * through the module cache, so its unit differs from the module unit of the same file). */
static bool same_file(const char *a, const char *b) {
    if (!a || !b) return false;
    if (strcmp(a, b) == 0) return true;
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* "a -> b -> a": the modules loading from the first `u` on (from -1: the main script), then
 * `u` again. */
static cryo_error_kind raise_cycle(cryo_vm *vm, struct cvm_modvm *s, int from, cryo_unit *u) {
    size_t cap = 64 + strlen(unit_name(vm->unit));
    for (int i = from < 0 ? 0 : from; i < s->n; i++)
        cap += strlen(unit_name(s->mods[i].unit)) + 4;
    cap += strlen(unit_name(u));
    char *chain = malloc(cap);
    if (!chain) return cvm_raise_oom(vm);
    size_t n = 0;
    if (from < 0) {
        n += (size_t)snprintf(chain, cap, "%s -> ", unit_name(vm->unit));
        from = 0;
    }
    for (int i = from; i < s->n; i++)
        if (s->mods[i].loading)
            n += (size_t)snprintf(chain + n, cap - n, "%s -> ", unit_name(s->mods[i].unit));
    snprintf(chain + n, cap - n, "%s", unit_name(u));
    cryo_error_kind k = cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "module import cycle: %s", chain);
    free(chain);
    return k;
}

/* Runs module u's top level in this VM and builds its value (index i of s->mods). */
static cryo_error_kind run_module(cryo_vm *vm, struct cvm_modvm *s, int i, cryo_unit *u) {
    cryo_value exports = new_map(vm);
    if (exports.type != CRYO_T_MAP) return cvm_raise_oom(vm);
    if (!cvm_map_put(vm, exports, "$name", 5, str_value(vm, unit_name(u)))) {
        cv_release(&vm->heap, exports);
        return cvm_raise_oom(vm);
    }
    cryo_fn *top = cv_fn_new(&vm->heap, CRYO_FN_SCRIPT, 0);
    if (!top) {
        cv_release(&vm->heap, exports);
        return cvm_raise_oom(vm);
    }
    top->unit = cryo_unit_retain(u);
    top->proto = 0;
    cryo_value tv = cv_from_obj(&top->h);
    cryo_value *saved = s->exports;
    s->exports = &exports;
    cryo_value r = cryo_unit_value();
    cryo_error_kind k = cryo_vm_call_value(vm, tv, 0, NULL, &r);
    s = vm->modstate; /* nested imports may have grown the list, never freed it */
    s->exports = saved;
    cv_release(&vm->heap, tv);
    cv_release(&vm->heap, r);
    for (uint32_t f = 0; k == CRYO_OK && f < u->nfns; f++) {
        const cryo_fndef *d = &u->fns[f];
        if (d->is_private || strchr(d->name, '.')) continue; /* typed methods stay inside */
        cryo_fn *fn = cv_fn_new(&vm->heap, CRYO_FN_SCRIPT, 0);
        if (!fn) {
            k = cvm_raise_oom(vm);
            break;
        }
        fn->unit = cryo_unit_retain(u);
        fn->proto = d->proto;
        fn->name = u->protos[d->proto]->sname;
        char key[256];
        int kl = snprintf(key, sizeof key, "%s/%u", d->name, d->arity);
        if (kl < 0 || (size_t)kl >= sizeof key ||
            !cvm_map_put(vm, exports, key, (size_t)kl, cv_from_obj(&fn->h)))
            k = cvm_raise_oom(vm);
    }
    if (k != CRYO_OK) {
        cv_release(&vm->heap, exports);
        return k;
    }
    s->mods[i].val = exports;
    s->mods[i].loading = false;
    return CRYO_OK;
}

/* The module value of unit u in this VM, running its top level on first use. */
static cryo_error_kind module_value(cryo_vm *vm, cryo_unit *u, cryo_value *out) {
    struct cvm_modvm *s = modstate(vm);
    if (!s) return cvm_raise_oom(vm);
    for (int i = 0; i < s->n; i++) {
        if (s->mods[i].unit != u) continue;
        if (s->mods[i].loading) return raise_cycle(vm, s, i, u);
        *out = s->mods[i].val;
        cv_retain(*out);
        return CRYO_OK;
    }
    if (vm->unit != u && same_file(vm->unit->source_name, u->source_name))
        return raise_cycle(vm, s, -1, u); /* a module imports the main script */
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 4;
        vmmod *n = realloc(s->mods, (size_t)cap * sizeof *n);
        if (!n) return cvm_raise_oom(vm);
        s->mods = n;
        s->cap = cap;
    }
    int i = s->n++;
    s->mods[i] = (vmmod){cryo_unit_retain(u), cryo_unit_value(), true};
    cryo_error_kind k = run_module(vm, s, i, u);
    s = vm->modstate;
    if (k != CRYO_OK) { /* forget it: a later import tries again */
        cryo_unit_release(s->mods[i].unit);
        memmove(&s->mods[i], &s->mods[i + 1], (size_t)(s->n - i - 1) * sizeof *s->mods);
        s->n--;
        return k;
    }
    *out = s->mods[i].val;
    cv_retain(*out);
    return CRYO_OK;
}

/* --- the intrinsics ------------------------------------------------------------------------- */

static cryo_unit *caller_unit(cryo_vm *vm);

static const char *importer_name(cryo_vm *vm) {
    const cryo_unit *u = caller_unit(vm);
    return u ? u->source_name : NULL;
}

/* $import(path, alias or (), top): the module value; at a module's top level an aliased
 * import is also a sub-module of the module being built (Rhai re-exports them). */
static cryo_error_kind mod_import(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud;
    (void)argc;
    if (argv[0]->type != CRYO_T_STRING)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "import: the module path must be a string, not %s",
                             cv_type_name(*argv[0]));
    const char *path = cv_str(*argv[0])->data;
    resolved r;
    cryo_error_kind k = resolve(vm, path, importer_name(vm), &r);
    if (k != CRYO_OK) return k;
    cryo_value val;
    if (r.static_index >= 0) {
        val = new_map(vm);
        if (val.type != CRYO_T_MAP ||
            !cvm_map_put(vm, val, "$static", 7, cryo_int(r.static_index)) ||
            !cvm_map_put(vm, val, "$name", 5, str_value(vm, path))) {
            cv_release(&vm->heap, val);
            return cvm_raise_oom(vm);
        }
    } else {
        k = module_value(vm, r.unit, &val);
        cryo_unit_release(r.unit);
        if (k != CRYO_OK) return k;
    }
    struct cvm_modvm *s = vm->modstate;
    if (argv[2]->as.i && argv[1]->type == CRYO_T_STRING && s && s->exports) {
        const cryo_string *alias = cv_str(*argv[1]);
        char key[260];
        int kl = snprintf(key, sizeof key, "%.*s::", (int)alias->len, alias->data);
        cv_retain(val);
        if (kl < 0 || (size_t)kl >= sizeof key ||
            !cvm_map_put(vm, *s->exports, key, (size_t)kl, val)) {
            cv_release(&vm->heap, val);
            return cvm_raise_oom(vm);
        }
    }
    *ret = val;
    return CRYO_OK;
}

/* $export(name, value): into the module being built; nothing in a main script. */
static cryo_error_kind mod_export(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud;
    (void)argc;
    *ret = cryo_unit_value();
    struct cvm_modvm *s = vm->modstate;
    if (!s || !s->exports) return CRYO_OK;
    const cryo_string *name = cv_str(*argv[0]);
    cv_retain(*argv[1]);
    if (!cvm_map_put(vm, *s->exports, name->data, name->len, *argv[1])) return cvm_raise_oom(vm);
    return CRYO_OK;
}

static const char *module_name(cryo_value m) {
    const cryo_map_entry *e = cv_map_find(cv_map(m), "$name", 5);
    return e && e->value.type == CRYO_T_STRING ? cv_str(e->value)->data : "?";
}

/* $modget(module, key): an exported variable ("K") or sub-module ("b::"). */
static cryo_error_kind mod_get(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)ud;
    (void)argc;
    if (argv[0]->type != CRYO_T_MAP)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "'::' needs a module, not %s",
                             cv_type_name(*argv[0]));
    const cryo_string *key = cv_str(*argv[1]);
    const cryo_map_entry *e = cv_map_find(cv_map(*argv[0]), key->data, key->len);
    if (!e) {
        bool sub = key->len > 2 && key->data[key->len - 1] == ':';
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND, "%s '%.*s' not found in module '%s'",
                             sub ? "sub-module" : "variable", (int)(sub ? key->len - 2 : key->len),
                             key->data, module_name(*argv[0]));
    }
    *ret = e->value;
    cv_retain(*ret);
    return CRYO_OK;
}

/* Fills cache slot c with the target of `key` in module value `mv`; false when the module
 * has no such function (nothing cached). */
static bool call_target(cryo_vm *vm, callcache *c, cryo_value mv, cryo_value key, int nargs) {
    const cryo_string *k = cv_str(key);
    const cryo_map *m = cv_map(mv);
    const cryo_map_entry *st = cv_map_find(m, "$static", 7);
    const cryo_libreg *reg = NULL;
    const cryo_map_entry *e = NULL;
    if (st && vm->ctx->modules && st->value.as.i < vm->ctx->modules->nstatics) {
        const cryo_package *pkg = vm->ctx->modules->statics[st->value.as.i].pkg;
        const char *slash = strrchr(k->data, '/');
        size_t namelen = slash ? (size_t)(slash - k->data) : k->len;
        reg = cvm_package_find(pkg, k->data, namelen, nargs);
        if (!reg) reg = cvm_package_find(pkg, k->data, namelen, -1);
        if (!reg) return false;
    } else if (!st) {
        e = cv_map_find(m, k->data, k->len);
        if (!e) return false;
    } else {
        return false;
    }
    cv_release(&vm->heap, c->map);
    cv_release(&vm->heap, c->key);
    cv_release(&vm->heap, c->via);
    cv_retain(mv);
    cv_retain(key);
    *c = (callcache){mv, key, e ? e->value : cryo_unit_value(), reg, cryo_unit_value(), 0};
    return true;
}

static cryo_error_kind raise_no_fn(cryo_vm *vm, cryo_value mv, cryo_value key, int nargs) {
    const cryo_string *k = cv_str(key);
    const char *slash = strrchr(k->data, '/');
    int namelen = (int)(slash ? (size_t)(slash - k->data) : k->len);
    return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                         "function '%.*s' with %d argument(s) not found in module '%s'", namelen,
                         k->data, nargs, module_name(mv));
}

/* Calls a cached target with argv[0..nargs). */
static cryo_error_kind call_slot(cryo_vm *vm, const callcache *c, int nargs, cryo_value **argv,
                                 cryo_value *ret) {
    if (c->reg) return c->reg->fn(vm, c->reg->userdata, nargs, argv, ret);
    /* Copied: nested calls may reuse the slot. Still alive then: the module value holds it,
     * and a register ($modcall) or the caller's environment ($envcall, which only its unit's
     * top level changes, not running meanwhile) holds the module value. */
    cryo_value fn = c->fn;
    cryo_value args[nargs > 0 ? nargs : 1];
    args[0] = cryo_unit_value();
    for (int i = 0; i < nargs; i++)
        args[i] = *argv[i];
    /* a Fn, or a SyncFunction once the module value was frozen */
    return cryo_vm_call_value(vm, fn, nargs, args, ret);
}

static callcache *call_slot_for(struct cvm_modvm *s, const void *a, const void *b) {
    return &s->calls[(((uintptr_t)b >> 4) ^ ((uintptr_t)a >> 6)) & (CALLCACHE - 1)];
}

/* $modcall(module, "f/N", args...): a module's fn, or a static module's host function. */
static cryo_error_kind mod_call(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                cryo_value *ret) {
    (void)ud;
    if (argv[0]->type != CRYO_T_MAP)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "'::' needs a module, not %s",
                             cv_type_name(*argv[0]));
    struct cvm_modvm *s = modstate(vm);
    if (!s) return cvm_raise_oom(vm);
    int nargs = argc - 2;
    const cryo_obj *mo = argv[0]->as.obj, *ko = argv[1]->as.obj;
    callcache *c = call_slot_for(s, mo, ko);
    if (!(c->via.type == CRYO_T_UNIT && c->map.type == CRYO_T_MAP && c->map.as.obj == mo &&
          c->key.as.obj == ko) &&
        !call_target(vm, c, *argv[0], *argv[1], nargs))
        return raise_no_fn(vm, *argv[0], *argv[1], nargs);
    return call_slot(vm, c, nargs, argv + 2, ret);
}

/* --- the encapsulated environment of a unit's fns ------------------------------------------ */

/* The unit whose code called the intrinsic. */
static cryo_unit *caller_unit(cryo_vm *vm) {
    if (vm->nframes > 0) return vm->frames[vm->nframes - 1].proto->unit;
    return vm->unit;
}

static vmenv *env_find(struct cvm_modvm *s, const cryo_unit *u) {
    if (!s) return NULL;
    if (s->lastenv < s->nenvs && s->envs[s->lastenv].unit == u) return &s->envs[s->lastenv];
    for (int i = 0; i < s->nenvs; i++)
        if (s->envs[i].unit == u) {
            s->lastenv = i;
            return &s->envs[i];
        }
    return NULL;
}

static const cryo_map_entry *env_get(struct cvm_modvm *s, const cryo_unit *u,
                                     const cryo_string *name) {
    vmenv *e = env_find(s, u);
    return e ? cv_map_find(cv_map(e->map), name->data, name->len) : NULL;
}

/* $setenv(name, value): the top level of the calling unit declared a constant (or an import
 * alias, "u::") that its fns read. */
static cryo_error_kind mod_setenv(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud;
    (void)argc;
    *ret = cryo_unit_value();
    struct cvm_modvm *s = modstate(vm);
    if (!s) return cvm_raise_oom(vm);
    cryo_unit *u = caller_unit(vm);
    vmenv *e = env_find(s, u);
    if (!e) {
        if (s->nenvs == s->capenvs) {
            int cap = s->capenvs ? 2 * s->capenvs : 4;
            vmenv *n = realloc(s->envs, (size_t)cap * sizeof *n);
            if (!n) return cvm_raise_oom(vm);
            s->envs = n;
            s->capenvs = cap;
        }
        cryo_value m = new_map(vm);
        if (m.type != CRYO_T_MAP) return cvm_raise_oom(vm);
        e = &s->envs[s->nenvs++];
        *e = (vmenv){cryo_unit_retain(u), m};
    }
    const cryo_string *name = cv_str(*argv[0]);
    cv_retain(*argv[1]);
    s->envgen++;
    if (!cvm_map_put(vm, e->map, name->data, name->len, *argv[1])) return cvm_raise_oom(vm);
    return CRYO_OK;
}

/* Whether u is a module of this context (so its top level may run in any VM). */
static bool is_module_unit(cryo_vm *vm, const cryo_unit *u) {
    struct cvm_modules *m = vm->ctx ? vm->ctx->modules : NULL;
    if (!m) return false;
    bool found = false;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->ncache && !found; i++)
        found = m->cache[i].unit == u;
    pthread_mutex_unlock(&m->lock);
    return found;
}

static bool module_ran(const struct cvm_modvm *s, const cryo_unit *u) {
    for (int i = 0; s && i < s->n; i++)
        if (s->mods[i].unit == u) return true;
    return false;
}

/* A top-level constant or import alias of the calling fn's unit (borrowed). A module's fn
 * that runs in a VM where its module never ran (a SyncFunction on another thread) runs the
 * module's top level first, as an import there would. */
static cryo_error_kind env_value(cryo_vm *vm, const cryo_string *name, cryo_value *out) {
    cryo_unit *u = caller_unit(vm);
    const cryo_map_entry *e = env_get(vm->modstate, u, name);
    if (!e && !module_ran(vm->modstate, u) && is_module_unit(vm, u)) {
        cryo_value mv;
        cryo_error_kind k = module_value(vm, u, &mv);
        if (k != CRYO_OK) return k;
        cv_release(&vm->heap, mv);
        e = env_get(vm->modstate, u, name);
    }
    if (e) {
        *out = e->value;
        return CRYO_OK;
    }
    bool alias = name->len > 2 && name->data[name->len - 1] == ':';
    return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                         "%s '%.*s' of %s is not set in this VM: its top level has not declared "
                         "it here (a fn called from C or frozen into a SyncFunction runs without "
                         "its script's top level; pass the value as an argument, or put it in a "
                         "module)",
                         alias ? "module" : "constant", (int)(alias ? name->len - 2 : name->len),
                         name->data, u && u->source_name ? u->source_name : "this script");
}

/* $env(name): a top-level constant or import alias, read by a fn (compile.c, VK_ENV). */
static cryo_error_kind mod_env(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                               cryo_value *ret) {
    (void)ud;
    (void)argc;
    cryo_error_kind k = env_value(vm, cv_str(*argv[0]), ret);
    if (k == CRYO_OK) cv_retain(*ret);
    return k;
}

/* $envcall("u::", "f/N", args...): `u::f(..)` in a fn, u a top-level import of its script. */
static cryo_error_kind mod_envcall(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                   cryo_value *ret) {
    (void)ud;
    struct cvm_modvm *s = modstate(vm);
    if (!s) return cvm_raise_oom(vm);
    int nargs = argc - 2;
    const cryo_obj *ao = argv[0]->as.obj, *ko = argv[1]->as.obj;
    callcache *c = call_slot_for(s, ao, ko);
    if (c->via.type == CRYO_T_STRING && c->via.as.obj == ao && c->key.as.obj == ko &&
        c->gen == s->envgen)
        return call_slot(vm, c, nargs, argv + 2, ret);
    cryo_value mv;
    cryo_error_kind k = env_value(vm, cv_str(*argv[0]), &mv);
    if (k != CRYO_OK) return k;
    s = vm->modstate; /* env_value may have run a module's top level */
    if (mv.type != CRYO_T_MAP)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "'::' needs a module, not %s", cv_type_name(mv));
    c = call_slot_for(s, ao, ko);
    if (!call_target(vm, c, mv, *argv[1], nargs)) return raise_no_fn(vm, mv, *argv[1], nargs);
    cv_retain(*argv[0]);
    c->via = *argv[0];
    c->gen = s->envgen;
    return call_slot(vm, c, nargs, argv + 2, ret);
}

/* $global(name): a top-level constant of the calling unit (a module's own), else of the main
 * script. */
static cryo_error_kind mod_global(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                  cryo_value *ret) {
    (void)ud;
    (void)argc;
    const cryo_string *name = cv_str(*argv[0]);
    struct cvm_modvm *s = vm->modstate;
    const cryo_map_entry *e = env_get(s, caller_unit(vm), name);
    if (!e && s && s->globals.type == CRYO_T_MAP)
        e = cv_map_find(cv_map(s->globals), name->data, name->len);
    if (!e)
        return cryo_vm_raise(vm, CRYO_ERR_NOT_FOUND,
                             "global constant '%.*s' not found (global:: reads the main "
                             "script's top-level constants)",
                             (int)name->len, name->data);
    *ret = e->value;
    cv_retain(*ret);
    return CRYO_OK;
}

/* $setglobal(name, value): a top-level constant of the main script (not of a module). */
static cryo_error_kind mod_setglobal(cryo_vm *vm, void *ud, int argc, cryo_value **argv,
                                     cryo_value *ret) {
    (void)ud;
    (void)argc;
    *ret = cryo_unit_value();
    struct cvm_modvm *s = modstate(vm);
    if (!s) return cvm_raise_oom(vm);
    if (s->exports) return CRYO_OK;
    if (s->globals.type != CRYO_T_MAP) {
        s->globals = new_map(vm);
        if (s->globals.type != CRYO_T_MAP) return cvm_raise_oom(vm);
    }
    const cryo_string *name = cv_str(*argv[0]);
    cv_retain(*argv[1]);
    if (!cvm_map_put(vm, s->globals, name->data, name->len, *argv[1])) return cvm_raise_oom(vm);
    return CRYO_OK;
}

/* Each entry's userdata is the host-slot name the parser emits; its name is what stack traces
 * show ("at import [host]"). */
static const cryo_libreg intrinsics[] = {
    {"import", 3, mod_import, "$import"},      {"export", 2, mod_export, "$export"},
    {"module::get", 2, mod_get, "$modget"},    {"module::call", -1, mod_call, "$modcall"},
    {"global::get", 1, mod_global, "$global"}, {"global::set", 2, mod_setglobal, "$setglobal"},
    {"env::get", 1, mod_env, "$env"},          {"module::call", -1, mod_envcall, "$envcall"},
    {"env::set", 2, mod_setenv, "$setenv"},    {NULL, 0, NULL, NULL},
};

const cryo_libreg *cvm_module_intrinsic(const char *name, int arity) {
    for (const cryo_libreg *r = intrinsics; r->name; r++)
        if (strcmp(r->userdata, name) == 0 && (r->arity == arity || r->arity == -1)) return r;
    return NULL;
}
