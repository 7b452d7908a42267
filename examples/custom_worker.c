/*
 * custom_worker.c — a host-defined worker: the host supplies the query handler and the
 * per-thread state, and uses the same queue, futures, cancellation and shutdown as script
 * workers. Here the worker owns a VM running a "rules" script and answers messages (maps
 * describing orders) by calling the script's `price` function on that VM, keeping a running
 * total in its own state.
 *
 * Build against an installed cryo:  cc custom_worker.c $(pkg-config --cflags --libs cryo)
 */
#include <cryo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rules[] = "fn price(order) {\n"
                            "    let p = order.qty * order.unit;\n"
                            "    if order.qty >= 10 { p = p * 9 / 10; }\n"
                            "    p\n"
                            "}\n";

/* Lives on the worker thread only: created by init, freed by fini. */
typedef struct shop {
    cryo_vm *vm;
    int64_t total;
} shop;

static void *shop_init(void *userdata) {
    (void)userdata;
    shop *s = calloc(1, sizeof *s);
    cryo_unit *u = cryo_compile(rules, strlen(rules), NULL, NULL);
    if (!s || !u) return s;
    s->vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    return s;
}

static void shop_fini(void *state) {
    shop *s = state;
    if (!s) return;
    printf("worker done, total %lld\n", (long long)s->total);
    cryo_vm_free(s->vm);
    free(s);
}

/* One message: a map #{qty, unit}, or the string "total". */
static cryo_error_kind shop_handle(void *state, cryo_job *job, cryo_const msg, cryo_const *result,
                                   cryo_error **err) {
    (void)err;
    shop *s = state;
    if (!s || !s->vm) return CRYO_ERR_MEMORY;
    const char *text = cryo_value_str(msg.v, NULL);
    if (text && strcmp(text, "total") == 0) {
        *result = cryo_const_int(s->total);
        return CRYO_OK;
    }
    /* Let cancellation and timeouts interrupt the script while it runs. */
    cryo_job_watch_vm(job, s->vm);
    cryo_value order, price;
    cryo_error_kind k = cryo_vm_thaw(s->vm, msg, &order);
    if (k == CRYO_OK) {
        k = cryo_vm_call(s->vm, "price", 1, &order, &price);
        cryo_value_release(order);
    }
    if (k == CRYO_OK) {
        s->total += price.as.i;
        k = cryo_vm_freeze(s->vm, price, result);
        cryo_value_release(price);
    }
    cryo_job_watch_vm(job, NULL);
    return k; /* on error the worker reports the kind; *err may carry details */
}

static cryo_const order(int64_t qty, int64_t unit) {
    const char *keys[2] = {"qty", "unit"};
    cryo_const vals[2] = {cryo_const_int(qty), cryo_const_int(unit)};
    return cryo_const_map(keys, vals, 2);
}

int main(void) {
    cryo_worker_config cfg = {.handler = shop_handle, .init = shop_init, .fini = shop_fini};
    cryo_worker *w = cryo_worker_new_custom(&cfg);
    if (!w) return 1;

    int64_t qtys[4] = {1, 5, 10, 20}, expect_total = 0;
    cryo_future *fs[4];
    for (int i = 0; i < 4; i++) {
        cryo_const o = order(qtys[i], 100);
        fs[i] = cryo_worker_send(w, o);
        cryo_const_release(o); /* the query holds its own reference */
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        int64_t want = qtys[i] * 100 * (qtys[i] >= 10 ? 9 : 10) / 10;
        expect_total += want;
        if (cryo_future_wait(fs[i]) != CRYO_FUTURE_DONE || cryo_future_value(fs[i]).v.as.i != want)
            bad++;
        printf("order of %lld: %lld\n", (long long)qtys[i],
               (long long)cryo_future_value(fs[i]).v.as.i);
        cryo_future_release(fs[i]);
    }
    /* A malformed order fails that query only. */
    cryo_const broken = cryo_const_string("not an order", 12);
    cryo_future *f = cryo_worker_send(w, broken);
    cryo_const_release(broken);
    if (cryo_future_wait(f) != CRYO_FUTURE_FAILED) bad++;
    cryo_future_release(f);

    cryo_const q = cryo_const_string("total", 5);
    f = cryo_worker_send(w, q);
    cryo_const_release(q);
    if (cryo_future_wait(f) != CRYO_FUTURE_DONE || cryo_future_value(f).v.as.i != expect_total)
        bad++;
    printf("total: %lld\n", (long long)cryo_future_value(f).v.as.i);
    cryo_future_release(f);

    cryo_worker_free(w); /* joins; fini runs on the worker thread */
    return bad ? 1 : 0;
}
