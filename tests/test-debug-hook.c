/*
 * test-debug-hook.c — the line hook (cryo_vm_set_line_hook): which lines it reports and when
 * (calls, returns, loops), the function, source and depth it gives, reading locals by name
 * (parameters, lets, shadowing, captured variables, host globals), stopping a run from the
 * hook, removing it, a hooked run through a builtin calling back, a VM without a hook, and
 * the same locals on a unit loaded from an image.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cryo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cryo_unit *compile_g(const char *src, const char *const *globals, int nglobals) {
    cryo_compile_options o = {.source_name = "h.rhai", .globals = globals, .nglobals = nglobals};
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(src, strlen(src), &o, &err);
    if (!u) {
        char *t = cryo_error_format(err, src, strlen(src));
        fail_msg("compile failed: %s", t ? t : "?");
    }
    return u;
}

/* What the hook saw: "fn:line@depth" entries joined by spaces, and on chosen lines the values
 * of chosen locals ("name=value", "name?" when not in scope). */
typedef struct seen {
    char log[4096];
    int calls;
    int stop_at;           /* return false on this call number (1-based); 0 = never */
    int remove_at;         /* remove the hook on this call number; 0 = never */
    const char *watch[4];  /* locals to read on every event */
    char locals[2048];     /* "line:name=value ..." */
    const char *list_line; /* "fn:line" on which to list the locals in scope */
    char listed[256];
    cryo_vm *vm;
} seen;

static void append(char *buf, size_t cap, const char *fmt, ...) {
    size_t n = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static bool hook(void *ud, const cryo_debug_frame *f) {
    seen *s = ud;
    s->calls++;
    assert_non_null(f->source_name);
    assert_string_equal(f->source_name, "h.rhai");
    assert_ptr_equal(f->vm, s->vm);
    assert_true(f->column > 0);
    append(s->log, sizeof s->log, "%s%s:%d@%d", s->calls > 1 ? " " : "", f->function, f->line,
           f->depth);
    for (int i = 0; i < 4 && s->watch[i]; i++) {
        cryo_value v;
        if (cryo_debug_local(f, s->watch[i], &v)) {
            if (v.type == CRYO_T_INT)
                append(s->locals, sizeof s->locals, "%d:%s=%lld ", f->line, s->watch[i],
                       (long long)v.as.i);
            else
                append(s->locals, sizeof s->locals, "%d:%s=<%s> ", f->line, s->watch[i],
                       cryo_type_name(v.type));
            cryo_value_release(v);
        }
    }
    char here[64];
    snprintf(here, sizeof here, "%s:%d", f->function, f->line);
    if (s->list_line && strcmp(here, s->list_line) == 0) {
        const char *names[8];
        int n = cryo_debug_locals(f, names, 8);
        for (int i = 0; i < n && i < 8; i++)
            append(s->listed, sizeof s->listed, "%s%s", i ? "," : "", names[i]);
    }
    if (s->calls == s->remove_at) cryo_vm_set_line_hook(s->vm, NULL, NULL);
    return s->calls != s->stop_at;
}

/* Runs src with the hook; returns the run's kind. */
static cryo_error_kind run_hooked(const char *src, seen *s, cryo_vm **keep) {
    cryo_unit *u = compile_g(src, NULL, 0);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    s->vm = vm;
    cryo_vm_set_line_hook(vm, hook, s);
    cryo_value r = cryo_unit_value();
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    cryo_value_release(r);
    if (keep)
        *keep = vm;
    else
        cryo_vm_free(vm);
    return k;
}

static const char *PROGRAM = "fn add(a, b) {\n"     /* 1 */
                             "    let s = a + b;\n" /* 2 */
                             "    s\n"              /* 3 */
                             "}\n"                  /* 4 */
                             "let x = 1;\n"         /* 5 */
                             "let y = add(x, 2);\n" /* 6 */
                             "for i in 0..2 {\n"    /* 7 */
                             "    y += i;\n"        /* 8 */
                             "}\n"                  /* 9 */
                             "y * 2\n";             /* 10 */

/* Each line once as it is reached; a call enters the function one level deeper; the return
 * to the middle of line 6 does not report line 6 again; each turn of the loop reports its
 * body. */
static void lines_in_order(void **state) {
    (void)state;
    seen s = {0};
    assert_int_equal(run_hooked(PROGRAM, &s, NULL), CRYO_OK);
    assert_string_equal(s.log, "<main>:5@1 <main>:6@1 add:2@2 add:3@2 <main>:7@1 <main>:8@1 "
                               "<main>:7@1 <main>:8@1 <main>:7@1 <main>:10@1");
}

/* Locals by name: parameters and lets inside the function, the script's variables at the top
 * level, nothing of the caller inside the callee, a variable only after its `let`. */
static void locals_by_name(void **state) {
    (void)state;
    seen s = {.watch = {"a", "s", "x", "y"}, .list_line = "add:3"};
    assert_int_equal(run_hooked(PROGRAM, &s, NULL), CRYO_OK);
    assert_string_equal(s.locals, "6:x=1 "           /* y not yet declared */
                                  "2:a=1 "           /* s not yet */
                                  "3:a=1 3:s=3 "     /* in add: no x, no y */
                                  "7:x=1 7:y=3 "     /* back in main */
                                  "8:x=1 8:y=3 "     /* first turn */
                                  "7:x=1 7:y=3 "     /* y += 0 */
                                  "8:x=1 8:y=3 "     /* second turn */
                                  "7:x=1 7:y=4 "     /* y += 1 */
                                  "10:x=1 10:y=4 "); /* after the loop */
    assert_string_equal(s.listed, "a,b,s");
}

/* Shadowing: the innermost variable of a name; the outer one again after the block. A variable
 * a closure captures (a cell) reads as its value. */
static void shadowing_and_captures(void **state) {
    (void)state;
    seen s = {.watch = {"v", "c"}};
    assert_int_equal(run_hooked("let v = 1;\n"
                                "{\n"
                                "    let v = 2;\n"
                                "    let w = v;\n"
                                "}\n"
                                "let c = 5;\n"
                                "let f = || c + v;\n"
                                "f()\n",
                                &s, NULL),
                     CRYO_OK);
    assert_string_equal(s.locals, "3:v=1 4:v=2 6:v=1 7:v=1 7:c=5 8:v=1 8:c=5 ");
}

/* A host-provided global is a local of the top level. */
static void globals_are_locals(void **state) {
    (void)state;
    const char *g[] = {"limit"};
    cryo_unit *u = compile_g("let twice = limit * 2;\ntwice\n", g, 1);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    seen s = {.watch = {"limit", "twice"}, .vm = vm};
    cryo_vm_set_line_hook(vm, hook, &s);
    cryo_value gv = cryo_int(21), r;
    assert_int_equal(cryo_vm_run(vm, &gv, 1, &r), CRYO_OK);
    assert_int_equal(r.as.i, 42);
    assert_string_equal(s.locals, "1:limit=21 2:limit=21 2:twice=42 ");
    cryo_vm_free(vm);
}

/* The hook returning false ends the run with CRYO_ERR_INTERRUPTED at that line, before the
 * line ran; the error has its stack trace; the VM runs again afterwards. */
static void stop_from_hook(void **state) {
    (void)state;
    seen s = {.stop_at = 4}; /* add:3 */
    cryo_vm *vm;
    assert_int_equal(run_hooked(PROGRAM, &s, &vm), CRYO_ERR_INTERRUPTED);
    const cryo_error *e = cryo_vm_error(vm);
    assert_string_equal(e->message, "stopped by the line hook");
    assert_int_equal(e->line, 3);
    assert_int_equal(cryo_error_frame_count(e), 2);
    assert_string_equal(cryo_error_frame(e, 0)->function, "add");
    assert_string_equal(cryo_error_frame(e, 1)->function, "<main>");
    assert_int_equal(cryo_error_frame(e, 1)->line, 6);
    /* a try/catch cannot swallow it */
    cryo_vm_free(vm);
    seen t = {.stop_at = 2};
    assert_int_equal(run_hooked("let r = 0;\ntry { r = 1; } catch { r = 2; }\nr\n", &t, NULL),
                     CRYO_ERR_INTERRUPTED);
}

/* Removing the hook from inside it: no more calls, the run completes. */
static void remove_inside(void **state) {
    (void)state;
    seen s = {.remove_at = 2};
    assert_int_equal(run_hooked(PROGRAM, &s, NULL), CRYO_OK);
    assert_int_equal(s.calls, 2);
    assert_string_equal(s.log, "<main>:5@1 <main>:6@1");
}

/* A closure a builtin calls (map) runs hooked too, one frame deeper than its caller. */
static void through_a_builtin(void **state) {
    (void)state;
    seen s = {0};
    assert_int_equal(run_hooked("let a = [1, 2];\n"
                                "let b = a.map(|x|\n"
                                "    x * 10);\n"
                                "b.len()\n",
                                &s, NULL),
                     CRYO_OK);
    assert_string_equal(s.log, "<main>:1@1 <main>:2@1 <closure>:3@2 <closure>:3@2 <main>:4@1");
}

/* Without a hook, or after removing it, nothing is called; a pool reset clears it. */
static void unset_costs_nothing(void **state) {
    (void)state;
    cryo_unit *u = compile_g(PROGRAM, NULL, 0);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    seen s = {.vm = vm};
    cryo_vm_set_line_hook(vm, hook, &s);
    cryo_vm_set_line_hook(vm, NULL, &s);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    assert_int_equal(r.as.i, 8);
    assert_int_equal(s.calls, 0);
    cryo_vm_free(vm);
    cryo_vm_set_line_hook(NULL, hook, &s); /* ignored */

    cryo_vm *p = cryo_vm_pool_acquire(u, NULL);
    assert_non_null(p);
    cryo_vm_set_line_hook(p, hook, &s);
    cryo_vm_pool_release(p);
    p = cryo_vm_pool_acquire(u, NULL);
    assert_int_equal(cryo_vm_run(p, NULL, 0, &r), CRYO_OK);
    assert_int_equal(s.calls, 0);
    cryo_vm_pool_release(p);
    cryo_unit_release(u);
}

/* Runs a unit under the hook watching x (and listing the locals in scope on `list`). */
static void run_watched(cryo_unit *u, seen *s, const char *list) {
    cryo_vm *vm = cryo_vm_new(u, NULL);
    assert_non_null(vm);
    memset(s, 0, sizeof *s);
    s->watch[0] = "x";
    s->list_line = list;
    s->vm = vm;
    cryo_vm_set_line_hook(vm, hook, s);
    cryo_value r;
    assert_int_equal(cryo_vm_run(vm, NULL, 0, &r), CRYO_OK);
    cryo_value_release(r);
    cryo_vm_free(vm);
}

/* A unit loaded from an image (format version 2) keeps its local-variable names: the hook
 * sees the same lines, locals and lists as on the unit compiled from source. */
static void image_keeps_names(void **state) {
    (void)state;
    cryo_unit *u = compile_g(PROGRAM, NULL, 0);
    seen from_src, from_img;
    run_watched(u, &from_src, "<main>:7");
    size_t n = 0;
    void *img = cryo_unit_to_image_alloc(u, &n, NULL);
    cryo_unit_release(u);
    assert_non_null(img);
    u = cryo_unit_from_image(img, n, NULL);
    free(img);
    assert_non_null(u);
    run_watched(u, &from_img, "<main>:7");
    cryo_unit_release(u);
    assert_int_equal(from_img.calls, 10);
    assert_string_equal(from_img.log, from_src.log);
    assert_string_equal(from_img.locals, "6:x=1 7:x=1 8:x=1 7:x=1 8:x=1 7:x=1 10:x=1 ");
    assert_string_equal(from_img.locals, from_src.locals);
    assert_true(from_img.listed[0] != '\0');
    assert_string_equal(from_img.listed, from_src.listed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_in_order),         cmocka_unit_test(locals_by_name),
        cmocka_unit_test(shadowing_and_captures), cmocka_unit_test(globals_are_locals),
        cmocka_unit_test(stop_from_hook),         cmocka_unit_test(remove_inside),
        cmocka_unit_test(through_a_builtin),      cmocka_unit_test(unset_costs_nothing),
        cmocka_unit_test(image_keeps_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
