/*
 * mpi_map.c — a script closure shipped to every rank of an MPI job (docs/serialization.md).
 *
 * Rank 0 compiles a script, calls its `make(scale, offset)` to build a closure capturing its
 * parameters, freezes it into a SyncFunction and writes its image (the unit embedded). The
 * bytes are broadcast; every rank loads the image (verified: it is input from elsewhere),
 * maps the function over its share of 0..N-1 and the partial sums are reduced on rank 0,
 * which checks the total against the closed form.
 *
 *   mpirun -np 2 ./example-mpi_map
 */
#include <cryo.h>
#include <mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 100000

static const char *SCRIPT = "fn make(scale, offset) { |x| x * scale + offset }";

/* Rank 0: the image of make(scale, offset) frozen; malloc'd, *len set. NULL on error. */
static void *build_image(int64_t scale, int64_t offset, size_t *len) {
    cryo_error *err = NULL;
    cryo_unit *u = cryo_compile(SCRIPT, strlen(SCRIPT), NULL, &err);
    if (!u) {
        fprintf(stderr, "compile: %s\n", err->message);
        cryo_error_free(err);
        return NULL;
    }
    cryo_vm *vm = cryo_vm_new(u, NULL);
    cryo_unit_release(u);
    cryo_value args[2] = {cryo_int(scale), cryo_int(offset)}, fn;
    cryo_sync *f = NULL;
    void *img = NULL;
    if (cryo_vm_call(vm, "make", 2, args, &fn) == CRYO_OK) {
        if (cryo_vm_into_sync(vm, fn, &f) == CRYO_OK) {
            cryo_const c = cryo_const_sync(f);
            img = cryo_const_to_image_alloc(c, 0, len, &err);
            cryo_const_release(c);
            cryo_sync_release(f);
        }
        cryo_value_release(fn);
    }
    if (!img) fprintf(stderr, "freeze: %s\n", err ? err->message : cryo_vm_error(vm)->message);
    cryo_error_free(err);
    cryo_vm_free(vm);
    return img;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int64_t scale = 3, offset = 1;

    unsigned long long len = 0;
    void *img = NULL;
    if (rank == 0) {
        size_t n = 0;
        img = build_image(scale, offset, &n);
        len = img ? n : 0;
    }
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (len == 0) {
        MPI_Finalize();
        return 1;
    }
    if (rank != 0) img = malloc(len);
    MPI_Bcast(img, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD);

    cryo_const c;
    cryo_error *err = NULL;
    long long part = 0;
    int ok = 1;
    if (cryo_const_from_image(img, (size_t)len, NULL, &c, &err) != CRYO_OK) {
        fprintf(stderr, "rank %d: load: %s\n", rank, err->message);
        cryo_error_free(err);
        ok = 0;
    } else {
        cryo_sync *f = cryo_value_as_sync(c.v);
        for (int64_t i = rank; ok && i < N; i += size) {
            cryo_const arg = cryo_const_int(i), r;
            if (cryo_sync_call(f, 1, &arg, &r, &err) != CRYO_OK) {
                fprintf(stderr, "rank %d: call: %s\n", rank, err->message);
                cryo_error_free(err);
                ok = 0;
            } else {
                part += r.v.as.i;
            }
        }
        cryo_const_release(c);
    }
    free(img);

    long long total = 0;
    int all_ok = 0;
    MPI_Reduce(&part, &total, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, 0, MPI_COMM_WORLD);
    int status = 0;
    if (rank == 0) {
        long long want = scale * (long long)N * (N - 1) / 2 + offset * (long long)N;
        printf("mpi_map: %d ranks, image %llu bytes, sum %lld (expected %lld): %s\n", size, len,
               total, want, all_ok && total == want ? "ok" : "WRONG");
        status = all_ok && total == want ? 0 : 1;
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return status;
}
