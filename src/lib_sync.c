/*
 * lib_sync.c — the script side of SyncFunctions: f.into_sync(), spawn(f, args...) and
 * h.join(). See docs/sync.md.
 */
#include "lib.h"
#include "sync.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* f.into_sync(): the SyncFunction is pinned in the VM (it lives until the VM is reset or
 * freed) and returned as an uncounted value. */
static CRYO_LIB_FN(sync_into_sync) {
    (void)ud;
    (void)argc;
    cryo_value f = *argv[0];
    if (f.type == CRYO_T_SYNCFN) {
        *ret = f;
        return CRYO_OK;
    }
    if (f.type != CRYO_T_FN)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "into_sync: expected a function, got %s",
                             cv_type_name(f));
    cryo_sync *s;
    cryo_error_kind k = cryo_sync_from_fn(vm, cv_fn(f), 0, &s);
    if (k != CRYO_OK) return k;
    if (!cryo_vm_pin_owned(vm, &s->h)) return cryo_vm_raise_oom(vm);
    *ret = cv_from_shared(&s->h);
    return CRYO_OK;
}

/* --- spawn / join -------------------------------------------------------------------------- */

/* One spawned call. Shared by the thread and the handle: `refs` counts them (atomic); the
 * last one frees it. */
typedef struct spawn_job {
    int refs;
    cryo_sync *f;
    int argc;
    cryo_const *argv;
    cryo_const result;
    cryo_error *err;
    cryo_error_kind kind;
    pthread_t thread;
    bool joined;
} spawn_job;

static void job_unref(spawn_job *j) {
    if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    cryo_sync_release(j->f);
    for (int i = 0; i < j->argc; i++)
        cryo_const_release(j->argv[i]);
    free(j->argv);
    cryo_const_release(j->result);
    cryo_error_free(j->err);
    free(j);
}

static void *job_run(void *p) {
    spawn_job *j = p;
    j->kind = cryo_sync_call(j->f, j->argc, j->argv, &j->result, &j->err);
    cryo_vm_pool_clear(); /* the thread ends: free its pooled VM */
    job_unref(j);
    return NULL;
}

/* The handle dropped: a thread never joined is detached (it finishes on its own). */
static void job_destroy(void *p) {
    spawn_job *j = p;
    if (!j->joined) pthread_detach(j->thread);
    job_unref(j);
}

static const cryo_handle_type thread_type = {"Thread", job_destroy, NULL, NULL};

static CRYO_LIB_FN(sync_spawn) {
    (void)ud;
    if (argc < 1) return cryo_lib_nofn(vm, "spawn", argc, argv);
    cryo_value f = *argv[0];
    if (f.type == CRYO_T_CELL) f = cv_cell(f)->v;
    if (f.type != CRYO_T_FN && f.type != CRYO_T_SYNCFN)
        return cryo_vm_raise(vm, CRYO_ERR_TYPE, "spawn: expected a function, got %s",
                             cv_type_name(f));
    spawn_job *j = calloc(1, sizeof *j);
    if (!j) return cryo_vm_raise_oom(vm);
    j->refs = 1;
    cryo_error_kind k = cryo_vm_into_sync(vm, f, &j->f);
    if (k == CRYO_OK && argc > 1) {
        j->argv = calloc((size_t)argc - 1, sizeof *j->argv);
        if (!j->argv) k = cryo_vm_raise_oom(vm);
        for (int i = 1; k == CRYO_OK && i < argc; i++) {
            char what[48];
            snprintf(what, sizeof what, "spawn's argument %d", i);
            k = cryo_freeze_named(vm, *argv[i], what, &j->argv[i - 1]);
            if (k == CRYO_OK) j->argc = i;
        }
    }
    if (k != CRYO_OK) {
        job_unref(j);
        return k;
    }
    cryo_value h = cryo_value_handle(&thread_type, j);
    if (h.type != CRYO_T_HANDLE) {
        job_unref(j);
        return cryo_vm_raise_oom(vm);
    }
    j->refs = 2; /* the handle and the thread */
    if (pthread_create(&j->thread, NULL, job_run, j) != 0) {
        j->refs = 1;
        j->joined = true; /* nothing to detach */
        j->kind = CRYO_ERR_RUNTIME;
        cryo_value_release(h);
        return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "spawn: cannot create a thread");
    }
    *ret = h;
    return CRYO_OK;
}

static CRYO_LIB_FN(sync_join) {
    (void)ud;
    spawn_job *j = cryo_value_as_handle(*argv[0], &thread_type);
    if (!j) return cryo_lib_nofn(vm, "join", argc, argv);
    if (j->joined)
        return cryo_vm_raise(vm, CRYO_ERR_RUNTIME, "join: the thread was already joined");
    pthread_join(j->thread, NULL);
    j->joined = true;
    if (j->kind != CRYO_OK)
        return cryo_vm_raise(vm, j->kind, "%s",
                             j->err && j->err->message ? j->err->message : "spawned call failed");
    cryo_value v;
    cryo_error_kind k = cryo_vm_thaw(vm, j->result, &v);
    if (k != CRYO_OK) return k;
    *ret = v;
    return CRYO_OK;
}

const cryo_libreg cryo_lib_sync[] = {
    {"into_sync", 1, sync_into_sync, NULL},
    {"spawn", -1, sync_spawn, NULL},
    {"join", 1, sync_join, NULL},
    {NULL, 0, NULL, NULL},
};
