/*
 * async_bridge.c — scripts calling a host "fetch" function whose work runs on a host event
 * thread with simulated latency. Four VMs on four threads call it at once; the event thread
 * keeps several requests in flight and answers each when its (simulated) I/O completes. Each
 * script blocks only its own VM until its own answer arrives; a timeout is a catchable error.
 *
 * Build against an installed cryo:  cc async_bridge.c $(pkg-config --cflags --libs cryo)
 */
#include <cryo.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The event loop: takes requests as they come, answers each 5 ms later (the "network"), and
 * never blocks on one request. */
typedef struct pending {
    cryo_bridge_call *call;
    uint64_t due;
} pending;

static void *event_loop(void *arg) {
    cryo_bridge *bridge = arg;
    pending inflight[64];
    int n = 0;
    bool open = true;
    while (open || n > 0) {
        /* Wait for a request at most until the next answer is due. */
        int64_t wait = n ? 1 : -1;
        cryo_bridge_call *c = open ? cryo_bridge_next(bridge, wait) : NULL;
        if (c && n < 64) {
            const char *url = cryo_value_str(cryo_bridge_call_arg(c, 0).v, NULL);
            bool slow = url && strncmp(url, "slow:", 5) == 0; /* a server that hangs */
            inflight[n++] = (pending){c, now_ms() + (slow ? 200 : 5)};
        } else if (c) {
            cryo_bridge_fail(c, "too many requests");
        } else if (wait < 0) {
            open = false; /* closed and drained */
        }
        uint64_t t = now_ms();
        for (int i = 0; i < n;) {
            if (inflight[i].due > t) {
                i++;
                continue;
            }
            cryo_bridge_call *done = inflight[i].call;
            const char *url = cryo_value_str(cryo_bridge_call_arg(done, 0).v, NULL);
            char body[160];
            int len = snprintf(body, sizeof body, "<html>%s</html>", url ? url : "?");
            cryo_bridge_reply(done, cryo_const_string(body, (size_t)len));
            inflight[i] = inflight[--n];
        }
    }
    return NULL;
}

static const char script[] =
    "let pages = [];\n"
    "for i in 0..10 { pages.push(fetch(`https://example.org/${site}/${i}`)); }\n"
    "let total = 0;\n"
    "for p in pages { total += p.len(); }\n"
    "total";

typedef struct vm_job {
    cryo_unit *unit;
    cryo_context *ctx;
    int id;
    int64_t result;
    bool ok;
} vm_job;

static void *vm_thread(void *arg) {
    vm_job *j = arg;
    cryo_vm *vm = cryo_vm_new(j->unit, j->ctx);
    char name[16];
    snprintf(name, sizeof name, "site%d", j->id);
    cryo_value site = cryo_value_string(name, strlen(name)), r;
    j->ok = cryo_vm_run(vm, &site, 1, &r) == CRYO_OK;
    if (j->ok)
        j->result = r.as.i;
    else
        fprintf(stderr, "vm %d: %s\n", j->id, cryo_vm_error(vm)->message);
    cryo_value_release(site);
    cryo_value_release(r);
    cryo_vm_free(vm);
    return NULL;
}

int main(void) {
    /* The bridge and its functions: fetch waits up to 1 s for its answer. */
    cryo_bridge *bridge = cryo_bridge_new(0);
    cryo_package *net = cryo_package_new("net");
    cryo_bridge_register(bridge, net, "fetch", 1, 1000, NULL);
    cryo_bridge_register(bridge, net, "fetch_quick", 1, 20, NULL); /* gives up after 20 ms */
    cryo_package_seal(net);
    cryo_package *pkgs[2] = {cryo_package_std(), net};
    cryo_context_config cc = {.packages = pkgs, .npackages = 2};
    cryo_context *ctx = cryo_context_new(&cc);
    cryo_package_release(net);

    pthread_t loop;
    pthread_create(&loop, NULL, event_loop, bridge);

    const char *globals[1] = {"site"};
    cryo_compile_options opts = {.source_name = "fetcher", .globals = globals, .nglobals = 1};
    cryo_unit *unit = cryo_compile(script, strlen(script), &opts, NULL);
    if (!unit) return 1;

    uint64_t t0 = now_ms();
    enum { T = 4 };
    pthread_t th[T];
    vm_job jobs[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (vm_job){unit, ctx, i, 0, false};
        pthread_create(&th[i], NULL, vm_thread, &jobs[i]);
    }
    int bad = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        /* "<html>https://example.org/siteN/i</html>" is 40 bytes for i < 10 */
        printf("vm %d: %lld bytes fetched\n", i, (long long)jobs[i].result);
        if (!jobs[i].ok || jobs[i].result != 10 * 40) bad++;
    }
    printf("40 fetches of 5 ms each from 4 VMs took %llu ms\n",
           (unsigned long long)(now_ms() - t0));
    cryo_unit_release(unit);

    /* A timeout is a script error the script can catch. */
    const char *t = "try { fetch_quick(\"slow:x\") } catch (e) { `caught: ${e}` }";
    cryo_unit *u2 = cryo_compile(t, strlen(t), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u2, ctx);
    cryo_unit_release(u2);
    cryo_value r;
    if (cryo_vm_run(vm, NULL, 0, &r) == CRYO_OK) {
        const char *s = cryo_value_str(r, NULL);
        printf("%s\n", s ? s : "?");
        if (!s || !strstr(s, "timed out")) bad++;
        cryo_value_release(r);
    } else {
        bad++;
    }
    cryo_vm_free(vm);

    cryo_bridge_close(bridge); /* the event loop drains, answers and exits */
    pthread_join(loop, NULL);
    cryo_bridge_free(bridge);
    cryo_context_release(ctx);
    return bad ? 1 : 0;
}
