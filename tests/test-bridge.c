/*
 * test-bridge.c — the async bridge: 4 VM threads waiting on one host thread, timeouts that
 * raise catchable script errors, failures, a closed bridge, interrupts while waiting, and a
 * bridge call inside a worker query that gets cancelled.
 * CRYO_TEST_SCALE (a divisor) shrinks the counts under valgrind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cryo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int scaled(int n) {
    const char *s = getenv("CRYO_TEST_SCALE");
    int d = s ? atoi(s) : 1;
    return d > 1 ? (n / d > 0 ? n / d : 1) : n;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The host event thread: answers fetch(url) with "<url>!", fails on "bad", ignores "never". */
static void *host_loop(void *arg) {
    cryo_bridge *b = arg;
    cryo_bridge_call *c;
    while ((c = cryo_bridge_next(b, -1)) != NULL) {
        const char *url = cryo_value_str(cryo_bridge_call_arg(c, 0).v, NULL);
        if (!url) {
            cryo_bridge_fail(c, "fetch wants a string");
        } else if (strcmp(url, "bad") == 0) {
            cryo_bridge_fail(c, "404 not found");
        } else if (strcmp(url, "never") == 0) {
            sleep_ms(200); /* answers after the script gave up (20 ms): dropped */
            cryo_bridge_reply(c, cryo_const_int(0));
        } else {
            char buf[128];
            int n = snprintf(buf, sizeof buf, "%s!", url);
            cryo_bridge_reply(c, cryo_const_string(buf, (size_t)n));
        }
    }
    return NULL;
}

typedef struct fixture {
    cryo_bridge *bridge;
    cryo_context *ctx;
    pthread_t host;
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    fx->bridge = cryo_bridge_new(0);
    cryo_package *pkg = cryo_package_new("net");
    assert_int_equal(cryo_bridge_register(fx->bridge, pkg, "fetch", 1, 2000, NULL), CRYO_OK);
    assert_int_equal(cryo_bridge_register(fx->bridge, pkg, "fetch_quick", 1, 20, NULL), CRYO_OK);
    cryo_package_seal(pkg);
    cryo_package *pkgs[2] = {cryo_package_std(), pkg};
    cryo_context_config cc = {.packages = pkgs, .npackages = 2};
    fx->ctx = cryo_context_new(&cc);
    cryo_package_release(pkg);
    pthread_create(&fx->host, NULL, host_loop, fx->bridge);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    cryo_bridge_close(fx->bridge);
    pthread_join(fx->host, NULL);
    cryo_bridge_free(fx->bridge);
    cryo_context_release(fx->ctx);
    free(fx);
    return 0;
}

static cryo_error_kind run(cryo_context *ctx, const char *src, char **out) {
    cryo_unit *u = cryo_compile(src, strlen(src), NULL, NULL);
    assert_non_null(u);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    cryo_unit_release(u);
    cryo_value r;
    cryo_error_kind k = cryo_vm_run(vm, NULL, 0, &r);
    *out = k == CRYO_OK ? cryo_value_to_cstring(r, false) : strdup(cryo_vm_error(vm)->message);
    cryo_value_release(r);
    cryo_vm_free(vm);
    return k;
}

typedef struct vm_thread {
    cryo_context *ctx;
    int id, calls;
    bool ok;
} vm_thread;

static void *vm_main(void *arg) {
    vm_thread *t = arg;
    char src[512];
    snprintf(src, sizeof src,
             "let n = 0;\n"
             "for i in 0..%d { let r = fetch(`vm%d/${i}`); if r == `vm%d/${i}!` { n += 1; } }\n"
             "n",
             t->calls, t->id, t->id);
    char *out;
    t->ok = run(t->ctx, src, &out) == CRYO_OK && atoi(out) == t->calls;
    if (!t->ok) fprintf(stderr, "vm %d: %s\n", t->id, out);
    free(out);
    return NULL;
}

static void test_four_vms_one_host(void **state) {
    fixture *fx = *state;
    enum { T = 4 };
    pthread_t th[T];
    vm_thread vt[T];
    for (int i = 0; i < T; i++) {
        vt[i] = (vm_thread){fx->ctx, i, scaled(2000), false};
        pthread_create(&th[i], NULL, vm_main, &vt[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_true(vt[i].ok);
    }
}

static void test_errors_and_timeouts(void **state) {
    fixture *fx = *state;
    char *out;
    assert_int_equal(run(fx->ctx, "try { fetch(\"bad\") } catch (e) { `caught: ${e}` }", &out),
                     CRYO_OK);
    assert_non_null(strstr(out, "404 not found"));
    free(out);
    assert_int_equal(run(fx->ctx, "fetch(\"bad\")", &out), CRYO_ERR_RUNTIME);
    free(out);
    assert_int_equal(run(fx->ctx, "fetch(1)", &out), CRYO_ERR_RUNTIME);
    assert_non_null(strstr(out, "wants a string"));
    free(out);
    /* The host answers "never" too late: a catchable timeout, then the next call works. */
    assert_int_equal(
        run(fx->ctx, "let r = try { fetch_quick(\"never\") } catch (e) { `t: ${e}` }; r", &out),
        CRYO_OK);
    assert_non_null(strstr(out, "timed out"));
    free(out);
    assert_int_equal(run(fx->ctx, "fetch_quick(\"a\")", &out), CRYO_ERR_RUNTIME); /* host busy */
    free(out);
    assert_int_equal(run(fx->ctx, "fetch(\"ok\")", &out), CRYO_OK); /* waits for the host */
    assert_string_equal(out, "ok!");
    free(out);
}

/* No host thread serves this bridge: a waiting VM is interrupted from another thread. */
typedef struct interrupt_arg {
    cryo_vm *vm;
    cryo_error_kind k;
} interrupt_arg;

static void *run_vm(void *p) {
    interrupt_arg *a = p;
    a->k = cryo_vm_run(a->vm, NULL, 0, NULL);
    return NULL;
}

static void test_interrupt_and_close(void **state) {
    (void)state;
    cryo_bridge *b = cryo_bridge_new(4);
    cryo_package *pkg = cryo_package_new("slow");
    cryo_bridge_register(b, pkg, "wait_forever", 0, 0, NULL);
    cryo_package_seal(pkg);
    cryo_package *pkgs[2] = {cryo_package_std(), pkg};
    cryo_context_config cc = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cc);
    cryo_package_release(pkg);

    cryo_unit *u = cryo_compile("wait_forever()", 14, NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, ctx);
    interrupt_arg a = {vm, CRYO_OK};
    pthread_t t;
    pthread_create(&t, NULL, run_vm, &a);
    cryo_bridge_call *c = cryo_bridge_next(b, -1); /* the call arrived: the VM waits */
    assert_non_null(c);
    assert_string_equal(cryo_bridge_call_name(c), "wait_forever");
    assert_int_equal(cryo_bridge_call_argc(c), 0);
    cryo_vm_interrupt(vm);
    pthread_join(t, NULL);
    assert_int_equal(a.k, CRYO_ERR_INTERRUPTED);
    assert_true(cryo_bridge_call_abandoned(c));
    cryo_bridge_reply(c, cryo_const_int(1)); /* dropped */

    cryo_bridge_close(b);
    char *out;
    assert_int_equal(run(ctx, "try { wait_forever() } catch (e) { `${e}` }", &out), CRYO_OK);
    assert_non_null(strstr(out, "closed"));
    free(out);
    assert_null(cryo_bridge_next(b, 0));
    cryo_vm_free(vm);
    cryo_unit_release(u);
    cryo_bridge_free(b);
    cryo_context_release(ctx);
}

/* A worker query blocked in a bridge call is cancelled: the wait ends, the worker goes on. */
static void test_worker_query_in_bridge_cancelled(void **state) {
    (void)state;
    cryo_bridge *b = cryo_bridge_new(4);
    cryo_package *pkg = cryo_package_new("slow");
    cryo_bridge_register(b, pkg, "wait_forever", 0, 0, NULL);
    cryo_package_seal(pkg);
    cryo_package *pkgs[2] = {cryo_package_std(), pkg};
    cryo_context_config cc = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cc);
    cryo_package_release(pkg);
    cryo_worker_config wc = {.context = ctx};
    cryo_worker *w = cryo_worker_new(&wc);
    cryo_future *f = cryo_worker_eval(w, "wait_forever()");
    cryo_bridge_call *c = cryo_bridge_next(b, -1);
    assert_non_null(c);
    assert_true(cryo_future_cancel(f));
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_CANCELLED);
    cryo_future_release(f);
    cryo_bridge_fail(c, "too late");
    f = cryo_worker_eval(w, "1 + 2");
    assert_int_equal(cryo_future_wait(f), CRYO_FUTURE_DONE);
    cryo_future_release(f);
    cryo_worker_free(w);
    cryo_bridge_free(b);
    cryo_context_release(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_four_vms_one_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_timeouts, setup, teardown),
        cmocka_unit_test(test_interrupt_and_close),
        cmocka_unit_test(test_worker_query_in_bridge_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
