/*
 * test_ffi.h — what the FFI callback tests share (test-ffi-callback.c, test-ffi-thunk.c): a
 * script closure made into a C callback, failing the test at the caller's line, and an error
 * handler that records the last error a callback reported. Builds on test.h.
 */
#ifndef CRYO_TEST_FFI_H
#define CRYO_TEST_FFI_H

#include "test.h"

#include "cryo_ffi.h"

/* The callback of type `type` (declared in `scope`, NULL = the default scope) that calls the
 * closure `src` evaluates to, frozen. Owned by the caller (cryo_ffi_callback_free); it holds
 * its own reference to the SyncFunction. */
static inline cryo_ffi_callback *test_cb_of_at(const char *file, int line, cryo_ffi_scope *scope,
                                               const char *src, const char *type, unsigned flags) {
    cryo_sync *s = test_sync_at(file, line, NULL, src);
    cryo_error *err = NULL;
    cryo_ffi_callback *cb = cryo_ffi_callback_new_ex(s, scope, type, flags, &err);
    cryo_sync_release(s);
    if (!cb) {
        print_error("callback %s: %s\n", type, err && err->message ? err->message : "?");
        cryo_error_free(err);
        _fail(file, line);
    }
    return cb;
}
#define test_cb_of(scope, src, type, flags)                                                        \
    test_cb_of_at(__FILE__, __LINE__, (scope), (src), (type), (flags))

/* What test_errlog_handler saw: how many errors, and the last one's kind and message. */
typedef struct test_errlog {
    int calls;
    cryo_error_kind kind;
    char msg[256];
} test_errlog;

/* A cryo_ffi_callback_set_error_handler handler; ud is a test_errlog. */
static inline void test_errlog_handler(void *ud, const cryo_ffi_callback *cb,
                                       const cryo_error *err) {
    (void)cb;
    test_errlog *l = ud;
    l->calls++;
    l->kind = err->kind;
    snprintf(l->msg, sizeof l->msg, "%s", err->message ? err->message : "");
}

#endif
