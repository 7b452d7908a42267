/* test-value.c — values: memory accounting, reference counts, copy on write, strings, maps,
 * equality and ordering, text forms, deep freeing. */
#include "value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

static cryo_value str(cryo_heap *h, const char *s) {
    cryo_string *o = cv_string_new(h, s, strlen(s));
    assert_non_null(o);
    return cv_from_obj(&o->h);
}

static void assert_repr(cryo_value v, bool debug, const char *want) {
    char *s = cv_to_cstring(v, debug);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

/* --- memory ------------------------------------------------------------------------------------
 */

static void test_heap_accounting(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_value s = str(&h, "hello");
    assert_true(h.bytes > 0);
    cryo_array *a = cv_array_new(&h, 0);
    assert_true(cv_array_push(&h, a, s));
    cryo_value av = cv_from_obj(&a->h);
    size_t before = h.bytes;
    assert_true(cv_array_push(&h, a, cryo_int(1)));
    assert_true(h.bytes >= before);
    cv_release(&h, av);
    assert_int_equal(h.bytes, 0);
}

static void test_heap_limit(void **state) {
    (void)state;
    cryo_heap h = {.limit = 256};
    void *p = cv_alloc(&h, 200);
    assert_non_null(p);
    assert_null(cv_alloc(&h, 100));
    assert_true(h.exceeded);
    h.exceeded = false;
    assert_null(cv_string_new(&h,
                              "0123456789012345678901234567890123456789012345678901234567890123"
                              "0123456789012345678901234567890123456789",
                              104));
    assert_true(h.exceeded);
    assert_int_equal(h.bytes, 200);
    /* growth past the limit fails and leaves the block usable */
    assert_null(cv_realloc(&h, p, 200, 400));
    cv_free(&h, p, 200);
    assert_int_equal(h.bytes, 0);
}

/* --- counts and copy on write ------------------------------------------------------------------
 */

static void test_retain_release(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_value s = str(&h, "x");
    assert_int_equal(cv_obj(s)->rc, 1);
    cv_retain(s);
    assert_int_equal(cv_obj(s)->rc, 2);
    cv_release(&h, s);
    assert_int_equal(cv_obj(s)->rc, 1);
    cryo_value_retain(cryo_int(3)); /* scalars ignored */
    cv_release(&h, s);
    assert_int_equal(h.bytes, 0);
}

static void test_cow_copies_only_when_shared(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_array *a = cv_array_new(&h, 2);
    cryo_value elem = str(&h, "e");
    assert_true(cv_array_push(&h, a, elem));
    cryo_value v = cv_from_obj(&a->h);

    cryo_value slot = v;
    assert_true(cv_make_unique(&h, &slot)); /* rc 1: no copy */
    assert_ptr_equal(slot.as.obj, v.as.obj);

    cv_retain(v); /* `let b = a` */
    cryo_value b = v;
    assert_true(cv_make_unique(&h, &b));
    assert_ptr_not_equal(b.as.obj, v.as.obj);
    assert_int_equal(cv_obj(v)->rc, 1);
    assert_int_equal(cv_obj(elem)->rc, 2); /* shallow copy retains elements */
    assert_int_equal(cv_arr(b)->len, 1);
    cv_release(&h, b);
    assert_int_equal(cv_obj(elem)->rc, 1);
    cv_release(&h, v);
    assert_int_equal(h.bytes, 0);
}

static void test_shared_strings(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_string *k = cv_string_new_shared("konst", 5);
    cryo_value v = cv_from_shared(&k->h);
    cv_retain(v);
    cv_release(&h, v); /* not counted: nothing happens */
    assert_int_equal(k->h.rc, 1);
    cryo_value slot = v;
    assert_true(cv_make_unique(&h, &slot));
    assert_ptr_not_equal(slot.as.obj, v.as.obj);
    assert_true(slot.flags & CRYO_VF_COUNTED);
    assert_string_equal(cv_str(slot)->data, "konst");
    cv_release(&h, slot);

    /* A short constant is interned: a map's key is the constant itself, with a reference of
     * the map's own, so the map outlives the unit's constant. A long shared key is copied. */
    assert_true(cv_is_interned(k));
    cryo_map *m = cv_map_new(&h, 0);
    assert_true(cv_map_set(&h, m, k, cryo_int(1)));
    assert_ptr_equal(m->entries[0].key, k);
    const char *longk = "a key longer than forty bytes, never interned";
    cryo_string *lk = cv_string_new_shared(longk, strlen(longk));
    assert_false(cv_is_interned(lk));
    assert_true(cv_map_set(&h, m, lk, cryo_int(2)));
    assert_ptr_not_equal(m->entries[0].key, lk);
    assert_ptr_not_equal(m->entries[1].key, lk);
    cv_string_free_shared(lk);
    cv_string_free_shared(k); /* the unit goes first */
    assert_string_equal(cv_map_find(m, "konst", 5)->key->data, "konst");
    cv_release(&h, cv_from_obj(&m->h));
    assert_int_equal(h.bytes, 0);
}

static void test_deep_nesting_freed_iteratively(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_value cur = cryo_int(0);
    for (int i = 0; i < 100000; i++) {
        cryo_array *a = cv_array_new(&h, 1);
        assert_non_null(a);
        assert_true(cv_array_push(&h, a, cur));
        if (i % 2) {
            cryo_map *m = cv_map_new(&h, 1);
            cryo_string *k = cv_string_new(&h, "k", 1);
            assert_true(cv_map_set(&h, m, k, cv_from_obj(&a->h)));
            cv_release(&h, cv_from_obj(&k->h));
            cur = cv_from_obj(&m->h);
        } else {
            cur = cv_from_obj(&a->h);
        }
    }
    cryo_cell *c = cv_cell_new(&h, cur);
    cv_release(&h, cv_from_obj(&c->h));
    assert_int_equal(h.bytes, 0);
}

static cryo_value deep_chain(cryo_heap *h, int depth, int64_t leaf) {
    cryo_value cur = cryo_int(leaf);
    for (int i = 0; i < depth; i++) {
        cryo_array *a = cv_array_new(h, 2);
        cv_array_push(h, a, cryo_int(i));
        cv_array_push(h, a, cur);
        cur = cv_from_obj(&a->h);
    }
    return cur;
}

static void test_deep_equality(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_value a = deep_chain(&h, 100000, 1), b = deep_chain(&h, 100000, 1);
    cryo_value c = deep_chain(&h, 100000, 2);
    assert_true(cv_equals(a, b));
    assert_false(cv_equals(a, c));
    cv_release(&h, a);
    cv_release(&h, b);
    cv_release(&h, c);
    assert_int_equal(h.bytes, 0);
}

static void test_fn_free(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_fn *f = cv_fn_new(&h, CRYO_FN_NAMED, 2);
    f->name = cv_string_new(&h, "foo", 3);
    f->caps[0] = cv_cell_new(&h, str(&h, "captured"));
    f->caps[1] = f->caps[0];
    f->caps[0]->h.rc++;
    f->curry = cv_alloc(&h, 2 * sizeof(cryo_value));
    f->ncurry = 2;
    f->curry[0] = str(&h, "c");
    f->curry[1] = cryo_int(2);
    cryo_value v = cv_from_obj(&f->h);
    assert_string_equal(cv_type_name(v), "Fn");
    assert_repr(v, false, "Fn(foo)");
    cv_release(&h, v);
    assert_int_equal(h.bytes, 0);
}

/* --- strings -----------------------------------------------------------------------------------
 */

static void test_string_utf8_indexing(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_value v = str(&h, "h\xc3\xa9llo \xe2\x9d\xa4!\xf0\x9f\x98\x80"); /* héllo ❤!😀 */
    const cryo_string *s = cv_str(v);
    assert_int_equal(s->nchars, 9);
    assert_int_equal(s->len, 15);
    assert_int_equal(cv_string_char_at(s, 0), 'h');
    assert_int_equal(cv_string_char_at(s, 1), 0xE9);
    assert_int_equal(cv_string_char_at(s, 6), 0x2764);
    assert_int_equal(cv_string_char_at(s, 8), 0x1F600);
    assert_int_equal(cv_string_offset(s, 2), 3);
    assert_int_equal(cv_string_offset(s, 7), 10);
    assert_int_equal(cv_string_offset(s, 9), 15);
    int64_t from, to;
    cv_string_range(s, 1, -1, false, &from, &to); /* s[1..-1] */
    assert_int_equal(from, 1);
    assert_int_equal(to, 8);
    cv_release(&h, v);

    cryo_value a = str(&h, "hello");
    assert_int_equal(cv_string_offset(cv_str(a), 3), 3);
    cv_string_range(cv_str(a), 1, -4, true, &from, &to);
    assert_int_equal(to - from, 0);
    cv_string_range(cv_str(a), 1, -1, true, &from, &to);
    assert_int_equal(from, 1);
    assert_int_equal(to, 5);
    cv_string_range(cv_str(a), 0, 18, false, &from, &to);
    assert_int_equal(to, 5);
    cv_string_range(cv_str(a), 0, INT64_MAX, true, &from, &to);
    assert_int_equal(to, 5);
    cv_release(&h, a);
    assert_int_equal(h.bytes, 0);
}

static void test_string_append_fast(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_string *s = cv_string_new_cap(&h, 0);
    for (int i = 0; i < 100000; i++)
        assert_true(cv_string_append(&h, &s, "ab", 2));
    assert_true(cv_string_append_char(&h, &s, 0x2764));
    assert_int_equal(s->len, 200003);
    assert_int_equal(s->nchars, 200001);
    assert_int_equal(s->data[s->len], '\0');
    assert_true(s->cap < 2 * 200004 + 64);
    uint32_t hsh = cv_string_hash(s);
    assert_int_not_equal(hsh, 0);
    assert_int_equal(cv_string_hash(s), hsh);
    cv_release(&h, cv_from_obj(&s->h));
    assert_int_equal(h.bytes, 0);
}

static void test_public_string(void **state) {
    (void)state;
    cryo_value v = cryo_value_string("a\xff"
                                     "b",
                                     3);
    size_t len;
    const char *p = cryo_value_str(v, &len);
    assert_non_null(p);
    assert_int_equal(len, 5);
    assert_memory_equal(p,
                        "a\xef\xbf\xbd"
                        "b",
                        5);
    assert_null(cryo_value_str(cryo_int(1), &len));
    cryo_value_release(v);
}

/* --- maps --------------------------------------------------------------------------------------
 */

static void test_map_sorted(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_map *m = cv_map_new(&h, 0);
    const char *keys[] = {"pear", "apple", "zoo", "b", "apple2", ""};
    for (int i = 0; i < 6; i++) {
        cryo_string *k = cv_string_new(&h, keys[i], strlen(keys[i]));
        assert_true(cv_map_set(&h, m, k, cryo_int(i)));
        cv_release(&h, cv_from_obj(&k->h));
    }
    const char *want[] = {"", "apple", "apple2", "b", "pear", "zoo"};
    assert_int_equal(m->len, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(m->entries[i].key->data, want[i]);
    cryo_map_entry *e = cv_map_find(m, "zoo", 3);
    assert_non_null(e);
    assert_int_equal(e->value.as.i, 2);
    assert_null(cv_map_find(m, "zo", 2));

    cryo_string *k = cv_string_new(&h, "b", 1);
    assert_true(cv_map_set(&h, m, k, str(&h, "replaced")));
    cv_release(&h, cv_from_obj(&k->h));
    assert_int_equal(m->len, 6);

    cryo_value out;
    assert_true(cv_map_remove(&h, m, "b", 1, &out));
    assert_string_equal(cv_str(out)->data, "replaced");
    cv_release(&h, out);
    assert_false(cv_map_remove(&h, m, "b", 1, NULL));
    assert_true(cv_map_remove(&h, m, "pear", 4, NULL));
    assert_int_equal(m->len, 4);

    cryo_value mv = cv_from_obj(&m->h);
    assert_int_equal(cryo_map_len(mv), 4);
    const char *kp;
    size_t kl;
    cryo_value val;
    assert_true(cryo_map_at(mv, 1, &kp, &kl, &val));
    assert_string_equal(kp, "apple");
    assert_int_equal(val.as.i, 1);
    assert_false(cryo_map_at(mv, 4, &kp, &kl, &val));
    assert_true(cryo_map_find(mv, "zoo", &val));
    assert_false(cryo_map_find(mv, "nope", &val));
    assert_int_equal(cryo_map_len(cryo_int(1)), -1);
    cv_release(&h, mv);
    assert_int_equal(h.bytes, 0);
}

/* cv_map_find scans maps of up to 8 keys and searches larger ones (comparing the first byte
 * before memcmp): both find every key, no absent one (prefixes, shared first bytes, the empty
 * key), and keys keep memcmp's unsigned byte order ("\xc3\xa9" after "z"). */
static void test_map_find_small_and_large(void **state) {
    (void)state;
    const char *keys[] = {"x",  "x_vel", "y",    "y_vel", "",    "radius", "\xc3\xa9", "z",
                          "xa", "xb",    "zz",   "a",     "ab",  "abc",    "b",        "x_v",
                          "yv", "\x7f",  "\xc3", "q",     "qq1", "qq2"};
    const char *absent[] = {"x_", "x_velo", "w", "\xc3\xa8", "aa", "abd", "qq", "qq3", "{"};
    for (int n = 1; n <= 22; n++) {
        cryo_heap h = {0};
        cryo_map *m = cv_map_new(&h, 0);
        for (int i = 0; i < n; i++) {
            cryo_string *k = cv_string_new(&h, keys[i], strlen(keys[i]));
            assert_true(cv_map_set(&h, m, k, cryo_int(i)));
            cv_release(&h, cv_from_obj(&k->h));
        }
        assert_int_equal(m->len, n);
        for (int i = 1; i < n; i++) {
            const cryo_string *a = m->entries[i - 1].key, *b = m->entries[i].key;
            size_t l = a->len < b->len ? a->len : b->len;
            int c = memcmp(a->data, b->data, l);
            assert_true(c < 0 || (c == 0 && a->len < b->len));
        }
        for (int i = 0; i < n; i++) {
            cryo_map_entry *e = cv_map_find(m, keys[i], strlen(keys[i]));
            assert_non_null(e);
            assert_int_equal(e->value.as.i, i);
        }
        for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
            assert_null(cv_map_find(m, absent[i], strlen(absent[i])));
        for (int i = n; i < 22; i++)
            assert_null(cv_map_find(m, keys[i], strlen(keys[i])));
        cv_release(&h, cv_from_obj(&m->h));
        assert_int_equal(h.bytes, 0);
    }
}

/* --- interned keys ---------------------------------------------------------------------------
 */

static void test_intern_same_pointer(void **state) {
    (void)state;
    size_t base = cv_intern_count();
    cryo_string *a = cv_intern("width-test", 10);
    cryo_string *b = cv_intern("width-test", 10);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_true(cv_is_interned(a));
    assert_true(a->h.flags & CRYO_OBJ_SHARED);
    assert_int_equal(cv_intern_count(), base + 1);
    /* The hash is the one a counted string with the same bytes gets; equality unchanged. */
    cryo_heap h = {0};
    cryo_value c = str(&h, "width-test");
    assert_int_equal(cv_string_hash(a), cv_string_hash(cv_str(c)));
    assert_true(cv_equals(cv_from_shared(&a->h), c));
    assert_int_equal(a->nchars, 10);
    assert_string_equal(a->data, "width-test");
    cryo_string *u = cv_intern("h\xc3\xa9", 3); /* "he": characters counted */
    assert_int_equal(u->nchars, 2);
    assert_null(cv_intern("0123456789012345678901234567890123456789x", 41)); /* too long */
    /* A unit constant of the same text is the interned string; freeing it frees nothing. */
    cryo_string *k = cv_string_new_shared("width-test", 10);
    assert_ptr_equal(k, a);
    cv_string_free_shared(k);
    assert_ptr_equal(cv_intern("width-test", 10), a);
    /* A value to it is not counted, and a write copies it (copy on write). */
    cryo_value v = cv_from_shared(&a->h), slot = v;
    cv_retain(v);
    cv_release(&h, v);
    assert_true(cv_make_unique(&h, &slot));
    assert_ptr_not_equal(slot.as.obj, &a->h);
    assert_true(cv_string_append(&h, (cryo_string **)&slot.as.obj, "!", 1));
    assert_string_equal(a->data, "width-test");
    cv_release(&h, slot);
    cv_release(&h, c);
    assert_int_equal(h.bytes, 0);
}

/* Many keys: the shards grow, and every key stays findable. */
static void test_intern_many(void **state) {
    (void)state;
    size_t base = cv_intern_count();
    enum { N = 3000 };
    static cryo_string *ks[N];
    char buf[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(buf, sizeof buf, "many-key%d", i);
        ks[i] = cv_intern(buf, (size_t)n);
        assert_non_null(ks[i]);
    }
    assert_int_equal(cv_intern_count(), base + N);
    for (int i = 0; i < N; i++) {
        int n = snprintf(buf, sizeof buf, "many-key%d", i);
        assert_ptr_equal(cv_intern(buf, (size_t)n), ks[i]);
        assert_int_equal(ks[i]->len, (uint32_t)n);
    }
    assert_int_equal(cv_intern_count(), base + N);
}

static void test_map_keys_interned(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_map *m1 = cv_map_new(&h, 0), *m2 = cv_map_new(&h, 0);
    char buf[32];
    for (int i = 0; i < 20; i++) {
        int n = snprintf(buf, sizeof buf, "mk%d", i);
        cryo_string *k1 = cv_string_new(&h, buf, (size_t)n); /* computed: counted strings */
        cryo_string *k2 = cv_string_new(&h, buf, (size_t)n);
        assert_true(cv_map_set(&h, m1, k1, cryo_int(i)));
        assert_true(cv_map_set(&h, m2, k2, cryo_int(i)));
        assert_ptr_not_equal(m1->entries[m1->len - 1].key, k1); /* not the temporary */
        cv_release(&h, cv_from_obj(&k1->h));
        cv_release(&h, cv_from_obj(&k2->h));
    }
    size_t bytes = h.bytes; /* the maps' own: entries, no keys */
    assert_true(bytes < 2 * (sizeof(cryo_map) + 32 * sizeof(cryo_map_entry)) + 1);
    for (uint32_t i = 0; i < 20; i++) {
        assert_ptr_equal(m1->entries[i].key, m2->entries[i].key); /* one string per text */
        assert_true(cv_is_interned(m1->entries[i].key));
    }
    /* Lookup by the interned key, by a counted string and by bytes agree; set by pointer. */
    cryo_string *name = cv_intern("mk7", 3);
    cryo_value c = str(&h, "mk7");
    cryo_map_entry *e = cv_map_find_str(m1, name);
    assert_non_null(e);
    assert_ptr_equal(e->key, name);
    assert_ptr_equal(cv_map_find_ptr(m1, name), NULL); /* 20 keys: beyond the scan */
    assert_ptr_equal(cv_map_find_str(m1, cv_str(c)), e);
    assert_ptr_equal(cv_map_find(m1, "mk7", 3), e);
    assert_int_equal(e->value.as.i, 7);
    assert_true(cv_map_set(&h, m1, name, cryo_int(70)));
    assert_int_equal(cv_map_find(m1, "mk7", 3)->value.as.i, 70);
    assert_int_equal(m1->len, 20);
    cryo_value zz = str(&h, "zz");
    assert_null(cv_map_find_str(m1, cv_str(zz)));
    cv_release(&h, zz);
    assert_true(cv_map_set(&h, m1, name, cryo_int(7)));
    assert_true(cv_equals(cv_from_obj(&m1->h), cv_from_obj(&m2->h)));
    /* Small maps: found by pointer, set in place by pointer. */
    cryo_map *s1 = cv_map_new(&h, 0);
    assert_true(cv_map_set(&h, s1, cv_str(c), cryo_int(1)));
    assert_ptr_equal(cv_map_find_ptr(s1, name), &s1->entries[0]);
    assert_true(cv_map_set(&h, s1, name, cryo_int(2)));
    assert_int_equal(s1->len, 1);
    assert_int_equal(s1->entries[0].value.as.i, 2);
    cv_release(&h, cv_from_obj(&s1->h));
    /* Copy on write shares the keys; removal keeps the interned key for the copy. */
    cryo_value v1 = cv_from_obj(&m1->h), alias = v1;
    cv_retain(alias);
    assert_true(cv_make_unique(&h, &alias));
    assert_ptr_equal(cv_map(alias)->entries[3].key, m1->entries[3].key);
    assert_true(cv_map_remove(&h, m1, "mk7", 3, NULL));
    assert_null(cv_map_find_str(m1, name));
    assert_non_null(cv_map_find_str(cv_map(alias), name));
    assert_string_equal(name->data, "mk7");
    cv_release(&h, alias);
    cv_release(&h, v1);
    cv_release(&h, cv_from_obj(&m2->h));
    cv_release(&h, c);
    assert_int_equal(h.bytes, 0);
}

static void test_public_array(void **state) {
    (void)state;
    cryo_array *a = cv_array_new(NULL, 0);
    for (int i = 0; i < 10; i++)
        assert_true(cv_array_push(NULL, a, cryo_int(i * i)));
    cryo_value v = cv_from_obj(&a->h);
    assert_int_equal(cryo_array_len(v), 10);
    assert_int_equal(cryo_array_get(v, 3).as.i, 9);
    assert_int_equal(cryo_array_get(v, 10).type, CRYO_T_UNIT);
    assert_int_equal(cryo_array_len(cryo_unit_value()), -1);
    char *s = cryo_value_to_cstring(v, false);
    assert_string_equal(s, "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]");
    free(s);
    cryo_value_release(v);
}

/* --- equality and ordering ---------------------------------------------------------------------
 */

static void test_equality(void **state) {
    (void)state;
    cryo_heap h = {0};
    cryo_value s1 = str(&h, "x"), s2 = str(&h, "x"), s3 = str(&h, "42");
    assert_true(cv_equals(cryo_int(1), cryo_float(1.0)));
    assert_true(cv_equals(cryo_float(42.0), cryo_int(42)));
    assert_false(cv_equals(cryo_int(1), cryo_float(1.5)));
    assert_true(cv_equals(cryo_float(0.1 + 0.2), cryo_float(0.3))); /* epsilon */
    assert_true(cv_equals(cryo_float(0.0), cryo_float(1e-16)));
    assert_false(cv_equals(cryo_float(0.0), cryo_float(1e-15)));
    assert_false(cv_equals(cryo_float(NAN), cryo_float(NAN)));
    assert_true(cv_equals(s1, s2));
    assert_true(cv_equals(s1, cryo_char('x'))); /* Rhai: "x" == 'x' */
    assert_false(cv_equals(s3, cryo_int(42)));
    assert_false(cv_equals(cryo_bool(true), cryo_int(1)));
    assert_true(cv_equals(cryo_unit_value(), cryo_unit_value()));
    assert_false(cv_equals(cryo_unit_value(), cryo_bool(false)));
    assert_true(cv_equals(cryo_char(0x2764), cryo_char(0x2764)));

    cryo_array *a = cv_array_new(&h, 0), *b = cv_array_new(&h, 0);
    cv_retain(s1);
    cv_array_push(&h, a, s1);
    cv_array_push(&h, a, cryo_int(2));
    cv_retain(s2);
    cv_array_push(&h, b, s2);
    cv_array_push(&h, b, cryo_float(2.0));
    cryo_value av = cv_from_obj(&a->h), bv = cv_from_obj(&b->h);
    assert_true(cv_equals(av, bv));
    cv_array_push(&h, b, cryo_unit_value());
    assert_false(cv_equals(av, bv));

    cryo_map *m1 = cv_map_new(&h, 0), *m2 = cv_map_new(&h, 0);
    cryo_string *k = cv_string_new(&h, "k", 1);
    cv_retain(av);
    cv_map_set(&h, m1, k, av);
    cv_retain(av);
    cv_map_set(&h, m2, k, av);
    cv_release(&h, cv_from_obj(&k->h));
    cryo_value m1v = cv_from_obj(&m1->h), m2v = cv_from_obj(&m2->h);
    assert_true(cv_equals(m1v, m2v));
    k = cv_string_new(&h, "z", 1);
    cv_map_set(&h, m2, k, cryo_int(0));
    cv_release(&h, cv_from_obj(&k->h));
    assert_false(cv_equals(m1v, m2v));

    cryo_range *r1 = cv_range_new(&h, 1, 3, false), *r2 = cv_range_new(&h, 1, 3, true);
    cryo_value r1v = cv_from_obj(&r1->h), r2v = cv_from_obj(&r2->h);
    assert_false(cv_equals(r1v, r2v));
    assert_true(cv_equals(r1v, r1v));

    cryo_value vals[] = {s1, s2, s3, av, bv, m1v, m2v, r1v, r2v};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        cv_release(&h, vals[i]);
    assert_int_equal(h.bytes, 0);
}

static void test_compare(void **state) {
    (void)state;
    cryo_heap h = {0};
    int c;
    assert_true(cv_compare(cryo_int(1), cryo_int(2), &c));
    assert_int_equal(c, -1);
    assert_true(cv_compare(cryo_int(2), cryo_float(1.5), &c));
    assert_int_equal(c, 1);
    assert_true(cv_compare(cryo_float(42.0), cryo_int(42), &c));
    assert_int_equal(c, 0);
    cryo_value hello = str(&h, "hello"), foo = str(&h, "foo"), empty = str(&h, "");
    assert_true(cv_compare(hello, foo, &c));
    assert_int_equal(c, 1);
    assert_true(cv_compare(hello, cryo_char('c'), &c)); /* "hello" > 'c' */
    assert_int_equal(c, 1);
    assert_true(cv_compare(empty, cryo_char('c'), &c));
    assert_int_equal(c, -1);
    assert_true(cv_compare(cryo_char('x'), hello, &c));
    assert_int_equal(c, 1);
    assert_true(cv_compare(cryo_char('a'), cryo_char('b'), &c));
    assert_int_equal(c, -1);
    assert_true(cv_compare(cryo_bool(false), cryo_bool(true), &c));
    assert_int_equal(c, -1);
    assert_false(cv_compare(cryo_int(1), hello, &c));
    assert_false(cv_compare(cryo_float(NAN), cryo_int(1), &c));
    cryo_array *a = cv_array_new(&h, 0);
    cryo_value av = cv_from_obj(&a->h);
    assert_false(cv_compare(av, av, &c));
    assert_int_equal(cv_float_cmp(1e-20, 1.000000000000001e-20), -1);
    assert_int_equal(cv_float_cmp(1e-20, 1.0000000000000001e-20), 0);
    assert_int_equal(cv_float_cmp(0, 1e-16), 0);
    assert_int_equal(cv_float_cmp(0, 1e-15), -1);
    cv_release(&h, av);
    cv_release(&h, hello);
    cv_release(&h, foo);
    cv_release(&h, empty);
    assert_int_equal(h.bytes, 0);
}

/* --- text forms --------------------------------------------------------------------------------
 */

static void test_float_repr(void **state) {
    (void)state;
    char buf[64];
    struct {
        double f;
        const char *s;
    } cases[] = {
        {1.0, "1.0"},
        {0.5, "0.5"},
        {-2.5, "-2.5"},
        {123.4556, "123.4556"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e-10, "0.0000000001"},
        {1e-14, "1e-14"},
        {1.5e20, "1.5e20"},
        {1e13, "10000000000000.0"},
        {0.0, "0.0"},
        {-0.0, "0.0"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
        {NAN, "NaN"},
        {100.0, "100.0"},
        {9.9999, "9.9999"},
        {1234567.125, "1234567.125"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cv_float_repr(cases[i].f, buf);
        assert_string_equal(buf, cases[i].s);
    }
    struct {
        double f;
        const char *s;
    } dbg[] = {
        {1.0, "1.0"},       {0.5, "0.5"},        {1e-5, "1e-5"},
        {0.0001, "0.0001"}, {1e16, "1e16"},      {1e15, "1000000000000000.0"},
        {-0.0, "-0.0"},     {1e-10, "1e-10"},    {2.5e-7, "2.5e-7"},
        {NAN, "NaN"},       {-INFINITY, "-inf"},
    };
    for (size_t i = 0; i < sizeof dbg / sizeof dbg[0]; i++) {
        cv_float_repr_debug(dbg[i].f, buf);
        assert_string_equal(buf, dbg[i].s);
    }
}

static void test_text_forms(void **state) {
    (void)state;
    cryo_heap h = {0};
    assert_repr(cryo_unit_value(), false, "");
    assert_repr(cryo_unit_value(), true, "()");
    assert_repr(cryo_bool(true), false, "true");
    assert_repr(cryo_int(-42), false, "-42");
    assert_repr(cryo_int(INT64_MIN), false, "-9223372036854775808");
    assert_repr(cryo_float(1.0), false, "1.0");
    assert_repr(cryo_float(1e-5), false, "0.00001");
    assert_repr(cryo_float(1e-5), true, "1e-5");
    assert_repr(cryo_char(0x2764), false, "\xe2\x9d\xa4");
    assert_repr(cryo_char('\''), true, "'\\''");
    assert_repr(cryo_char('"'), true, "'\"'");
    cryo_value s = str(&h, "a\"b\\\n\t\x01\xc3\xa9'");
    assert_repr(s, false, "a\"b\\\n\t\x01\xc3\xa9'");
    assert_repr(s, true, "\"a\\\"b\\\\\\n\\t\\u{1}\xc3\xa9'\"");

    cryo_array *a = cv_array_new(&h, 0);
    cv_array_push(&h, a, cryo_int(1));
    cv_array_push(&h, a, str(&h, "a"));
    cv_array_push(&h, a, cryo_char('c'));
    cv_array_push(&h, a, cryo_unit_value());
    cv_array_push(&h, a, cryo_float(2.0));
    cv_array_push(&h, a, cv_from_obj(&cv_array_new(&h, 0)->h));
    cv_array_push(&h, a, cryo_float(1e-5));
    cryo_value av = cv_from_obj(&a->h);
    assert_repr(av, false, "[1, \"a\", 'c', (), 2.0, [], 1e-5]");
    assert_repr(av, true, "[1, \"a\", 'c', (), 2.0, [], 1e-5]");

    cryo_map *m = cv_map_new(&h, 0);
    cryo_string *kb = cv_string_new(&h, "b", 1), *ka = cv_string_new(&h, "a", 1);
    cv_map_set(&h, m, kb, av);
    cv_map_set(&h, m, ka, cryo_int(1));
    cv_release(&h, cv_from_obj(&ka->h));
    cv_release(&h, cv_from_obj(&kb->h));
    cryo_value mv = cv_from_obj(&m->h);
    assert_repr(mv, false, "#{\"a\": 1, \"b\": [1, \"a\", 'c', (), 2.0, [], 1e-5]}");
    cryo_value empty = cv_from_obj(&cv_map_new(&h, 0)->h);
    assert_repr(empty, false, "#{}");
    cv_release(&h, empty);

    cryo_range *r = cv_range_new(&h, 1, 3, false), *ri = cv_range_new(&h, -1, 3, true);
    assert_repr(cv_from_obj(&r->h), false, "1..3");
    assert_repr(cv_from_obj(&ri->h), true, "-1..=3");
    assert_string_equal(cv_type_name(cv_from_obj(&r->h)), "range");
    assert_string_equal(cv_type_name(cv_from_obj(&ri->h)), "range=");
    cv_release(&h, cv_from_obj(&r->h));
    cv_release(&h, cv_from_obj(&ri->h));

    cryo_string *buf = cv_string_new(&h, "x=", 2);
    assert_true(cv_append_repr(&h, &buf, cryo_float(0.25), false));
    assert_string_equal(buf->data, "x=0.25");
    cv_release(&h, cv_from_obj(&buf->h));
    cv_release(&h, mv);
    cv_release(&h, s);
    assert_int_equal(h.bytes, 0);
}

static void test_type_names(void **state) {
    (void)state;
    assert_string_equal(cryo_type_name(CRYO_T_UNIT), "()");
    assert_string_equal(cryo_type_name(CRYO_T_INT), "i64");
    assert_string_equal(cryo_type_name(CRYO_T_FLOAT), "f64");
    assert_string_equal(cryo_type_name(CRYO_T_STRING), "string");
    assert_string_equal(cryo_type_name(CRYO_T_MAP), "map");
    assert_string_equal(cryo_type_name(CRYO_T_FN), "Fn");
    assert_string_equal(cv_type_name(cryo_char('a')), "char");
    assert_string_equal(cv_type_name(cryo_bool(true)), "bool");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_accounting),
        cmocka_unit_test(test_heap_limit),
        cmocka_unit_test(test_retain_release),
        cmocka_unit_test(test_cow_copies_only_when_shared),
        cmocka_unit_test(test_shared_strings),
        cmocka_unit_test(test_deep_nesting_freed_iteratively),
        cmocka_unit_test(test_deep_equality),
        cmocka_unit_test(test_fn_free),
        cmocka_unit_test(test_string_utf8_indexing),
        cmocka_unit_test(test_string_append_fast),
        cmocka_unit_test(test_public_string),
        cmocka_unit_test(test_map_sorted),
        cmocka_unit_test(test_map_find_small_and_large),
        cmocka_unit_test(test_intern_same_pointer),
        cmocka_unit_test(test_intern_many),
        cmocka_unit_test(test_map_keys_interned),
        cmocka_unit_test(test_public_array),
        cmocka_unit_test(test_equality),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_text_forms),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
