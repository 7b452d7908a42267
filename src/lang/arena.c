/*
 * arena.c — bump allocation for syntax trees: a tree is built once, read once by the
 * compiler, and dropped at once, so per-node frees would be pure overhead.
 */
#include "ast.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 16384

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
} chunk;

struct cryo_arena {
    chunk *head;
};

cryo_arena *cl_arena_new(void) {
    return calloc(1, sizeof(cryo_arena));
}

static chunk *chunk_new(size_t size) {
    chunk *c = calloc(1, sizeof(chunk) + size);
    if (c) c->size = size;
    return c;
}

/* `size` bytes aligned to `align` (a power of two). Chunks are zeroed (calloc), so is every
 * allocation. */
static void *arena_take(cryo_arena *a, size_t size, size_t align) {
    if (!a) return NULL;
    if (size == 0) size = 1;
    chunk *c = a->head;
    if (c) {
        size_t at = (c->used + align - 1) & ~(align - 1);
        if (at <= c->size && c->size - at >= size) {
            c->used = at + size;
            return c->data + at;
        }
    }
    /* An oversized request gets its own chunk behind the current one, so the space left in
     * the current chunk stays usable. */
    if (size > ARENA_CHUNK / 4 && c) {
        chunk *big = chunk_new(size);
        if (!big) return NULL;
        big->used = size;
        big->next = c->next;
        c->next = big;
        return big->data;
    }
    c = chunk_new(size > ARENA_CHUNK ? size : ARENA_CHUNK);
    if (!c) return NULL;
    c->next = a->head;
    a->head = c;
    c->used = size;
    return c->data;
}

void *cl_arena_alloc(cryo_arena *a, size_t size) {
    return arena_take(a, size, alignof(max_align_t));
}

void *cl_arena_alloc_str(cryo_arena *a, size_t size) {
    return arena_take(a, size, 1);
}

void cl_arena_free(cryo_arena *a) {
    if (!a) return;
    chunk *c = a->head;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}
