/*
 * bench-image — what loading a unit image saves over compiling its source (issue 18): for
 * each script of bench/scripts/ and the Rhai examples of the conformance corpus (when
 * present), the time to compile the source, to dump the unit's image and to load (and
 * verify) the image, best of 5 batches, with the compile/load ratio and the sizes. Also a
 * SyncFunction with captures: its image loaded vs the freeze of the closure in a VM.
 * Usage: bench-image [repo-root]
 */
#include "cryo.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BEST_OF 5

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) s[n] = 0;
    *len = (size_t)n;
    return s;
}

static volatile long sink;

/* out = best microseconds per operation over BEST_OF batches of n runs of body. */
#define BEST_US(out, n, body)                                                                      \
    do {                                                                                           \
        out = 1e30;                                                                                \
        for (int r_ = 0; r_ < BEST_OF; r_++) {                                                     \
            double t0_ = now_s();                                                                  \
            for (long i_ = 0; i_ < (n); i_++) {                                                    \
                body;                                                                              \
            }                                                                                      \
            double t_ = (now_s() - t0_) * 1e6 / (double)(n);                                       \
            if (t_ < out) out = t_;                                                                \
        }                                                                                          \
    } while (0)

static void row(const char *name, const char *src, size_t len) {
    cryo_unit *u = cryo_compile(src, len, NULL, NULL);
    if (!u) return;
    size_t n = 0;
    void *img = cryo_unit_to_image_alloc(u, &n, NULL);
    long reps = len < 2000 ? 2000 : 200;
    double tc, td, tl;
    BEST_US(tc, reps, {
        cryo_unit *x = cryo_compile(src, len, NULL, NULL);
        sink += x != NULL;
        cryo_unit_release(x);
    });
    BEST_US(td, reps, {
        size_t m;
        void *p = cryo_unit_to_image_alloc(u, &m, NULL);
        sink += (long)m;
        free(p);
    });
    BEST_US(tl, reps, {
        cryo_unit *x = cryo_unit_from_image(img, n, NULL);
        sink += x != NULL;
        cryo_unit_release(x);
    });
    printf("%-28s %8zu %8zu %10.2f %10.2f %10.2f %7.1fx\n", name, len, n, tc, td, tl, tc / tl);
    free(img);
    cryo_unit_release(u);
}

static void dir_rows(const char *dir, const char *ext) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char *names[256];
    int k = 0;
    while ((e = readdir(d)) && k < 256) {
        size_t l = strlen(e->d_name), el = strlen(ext);
        if (l > el && strcmp(e->d_name + l - el, ext) == 0) names[k++] = strdup(e->d_name);
    }
    closedir(d);
    for (int i = 0; i < k; i++) /* sorted for a stable table */
        for (int j = i + 1; j < k; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    for (int i = 0; i < k; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len;
        char *src = slurp(path, &len);
        if (src) row(names[i], src, len);
        free(src);
        free(names[i]);
    }
}

static const char *SYNC = "let k = 7; let s = \"hello\"; let a = [1, 2, 3];\n"
                          "let m = #{y: 100, name: \"m\"}; let g = |z| z * 3;\n"
                          "let f = |x| x + k + s.len() + a.reduce(|acc, v| acc + v, 0) + m.y + "
                          "g.call(x);\n"
                          "f";

static void sync_row(void) {
    cryo_unit *u = cryo_compile(SYNC, strlen(SYNC), NULL, NULL);
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_value f;
    cryo_vm_run(vm, NULL, 0, &f);
    cryo_sync *s = NULL;
    cryo_vm_into_sync(vm, f, &s);
    cryo_const c = cryo_const_sync(s);
    size_t n = 0;
    void *img = cryo_const_to_image_alloc(c, 0, &n, NULL);
    size_t nh = 0;
    void *imgh = cryo_const_to_image_alloc(c, CRYO_IMAGE_UNIT_BY_HASH, &nh, NULL);
    double tf, tl;
    BEST_US(tf, 20000, {
        cryo_sync *x = NULL;
        cryo_vm_into_sync(vm, f, &x);
        sink += x != NULL;
        cryo_sync_release(x);
    });
    BEST_US(tl, 20000, {
        cryo_const x;
        cryo_const_from_image(img, n, NULL, &x, NULL);
        cryo_const_release(x);
    });
    printf("\nSyncFunction (5 captures, a nested closure): image %zu bytes (%zu with the unit by "
           "hash)\n",
           n, nh);
    printf("  into_sync in a VM %.2f us; load its image (unit embedded, verified) %.2f us\n", tf,
           tl);
    free(img);
    free(imgh);
    cryo_const_release(c);
    cryo_sync_release(s);
    cryo_value_release(f);
    cryo_vm_free(vm);
    cryo_unit_release(u);
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : ".";
    printf("bench-image: compile the source vs load the unit image (us, best of %d)\n", BEST_OF);
    printf("%-28s %8s %8s %10s %10s %10s %8s\n", "script", "src B", "image B", "compile", "dump",
           "load", "ratio");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bench/scripts", root);
    dir_rows(dir, ".rhai");
    snprintf(dir, sizeof dir, "%s/../shared/conformance/rhai/scripts", root);
    dir_rows(dir, ".rhai");
    sync_row();
    return 0;
}
