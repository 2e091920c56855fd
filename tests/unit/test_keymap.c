/*
 * test_keymap - the in-memory idempotency index: shared hashes, removal,
 * growth past many entries.
 */
#include <stdio.h>

#include "check.h"
#include "keymap.h"

static void seqs_under_one_hash_are_all_found(void)
{
    struct keymap *m = keymap_new();
    CHECK_INT(keymap_add(m, 42, 1), 0);
    CHECK_INT(keymap_add(m, 42, 7), 0);
    CHECK_INT(keymap_add(m, 43, 8), 0);
    size_t cur = 0;
    int64_t a = keymap_next(m, 42, &cur), b = keymap_next(m, 42, &cur);
    CHECK((a == 1 && b == 7) || (a == 7 && b == 1));
    CHECK_INT(keymap_next(m, 42, &cur), 0);
    cur = 0;
    CHECK_INT(keymap_next(m, 99, &cur), 0);
    CHECK_INT(keymap_count(m), 3);
    keymap_free(&m);
    CHECK(m == NULL);
}

static void removed_entries_are_gone_and_chains_stay_intact(void)
{
    struct keymap *m = keymap_new();
    /* Same slot for all: the chain runs through the removed one. */
    keymap_add(m, 5, 1);
    keymap_add(m, 5, 2);
    keymap_add(m, 5, 3);
    keymap_remove(m, 5, 2);
    keymap_remove(m, 5, 99); /* not there: no effect */
    size_t cur = 0;
    int64_t seen = 0;
    int64_t s;
    while ((s = keymap_next(m, 5, &cur)) != 0)
        seen += s;
    CHECK_INT(seen, 4);
    CHECK_INT(keymap_count(m), 2);
    keymap_free(&m);
}

static void growth_keeps_every_entry(void)
{
    struct keymap *m = keymap_new();
    for (int64_t i = 1; i <= 100000; i++)
        CHECK_INT(keymap_add(m, (uint64_t)i * 0x9E3779B97F4A7C15ull, i), 0);
    for (int64_t i = 1; i <= 100000; i += 997) {
        size_t cur = 0;
        CHECK_INT(keymap_next(m, (uint64_t)i * 0x9E3779B97F4A7C15ull, &cur), i);
    }
    for (int64_t i = 1; i <= 50000; i++)
        keymap_remove(m, (uint64_t)i * 0x9E3779B97F4A7C15ull, i);
    CHECK_INT(keymap_count(m), 50000);
    /* Adding after many removals reuses room (tombstones dropped on growth). */
    for (int64_t i = 100001; i <= 150000; i++)
        CHECK_INT(keymap_add(m, (uint64_t)i, i), 0);
    size_t cur = 0;
    CHECK_INT(keymap_next(m, 150000, &cur), 150000);
    cur = 0;
    CHECK_INT(keymap_next(m, 7 * 0x9E3779B97F4A7C15ull, &cur), 0);
    keymap_free(&m);
}

int main(void)
{
    RUN(seqs_under_one_hash_are_all_found);
    RUN(removed_entries_are_gone_and_chains_stay_intact);
    RUN(growth_keeps_every_entry);
    return CHECK_DONE();
}
