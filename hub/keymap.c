/*
 * keymap - open-addressing multimap hash -> seq; see keymap.h.
 *
 * Slots hold (hash, seq); seq 0 marks an empty slot and -1 a removed one
 * (a tombstone, so probe chains stay intact). Growth rehashes and drops the
 * tombstones. The hashes are keyed (SipHash, see store.c), so a partner
 * cannot aim many keys at one chain.
 */
#include "keymap.h"

#include <stdlib.h>

#define TOMBSTONE (-1)

struct keymap {
    uint64_t *hashes;
    int64_t *seqs;
    size_t cap;  /* a power of two */
    size_t used; /* live entries + tombstones */
    size_t live;
};

struct keymap *keymap_new(void)
{
    return calloc(1, sizeof(struct keymap));
}

void keymap_free(struct keymap **self_p)
{
    struct keymap *m = *self_p;
    if (!m)
        return;
    free(m->hashes);
    free(m->seqs);
    free(m);
    *self_p = NULL;
}

static size_t slot_of(uint64_t hash, size_t cap)
{
    return (size_t)(hash ^ (hash >> 29)) & (cap - 1);
}

static int grow(struct keymap *m)
{
    size_t cap = m->cap ? m->cap : 1024;
    while (m->live * 2 >= cap)
        cap *= 2;
    uint64_t *hashes = calloc(cap, sizeof *hashes);
    int64_t *seqs = calloc(cap, sizeof *seqs);
    if (!hashes || !seqs) {
        free(hashes);
        free(seqs);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->seqs[i] <= 0)
            continue;
        size_t j = slot_of(m->hashes[i], cap);
        while (seqs[j] != 0)
            j = (j + 1) & (cap - 1);
        hashes[j] = m->hashes[i];
        seqs[j] = m->seqs[i];
    }
    free(m->hashes);
    free(m->seqs);
    m->hashes = hashes;
    m->seqs = seqs;
    m->cap = cap;
    m->used = m->live;
    return 0;
}

int keymap_add(struct keymap *m, uint64_t hash, int64_t seq)
{
    if ((m->used + 1) * 2 > m->cap && grow(m) != 0)
        return -1;
    size_t i = slot_of(hash, m->cap);
    while (m->seqs[i] != 0)
        i = (i + 1) & (m->cap - 1);
    m->hashes[i] = hash;
    m->seqs[i] = seq;
    m->used++;
    m->live++;
    return 0;
}

void keymap_remove(struct keymap *m, uint64_t hash, int64_t seq)
{
    if (m->cap == 0)
        return;
    for (size_t i = slot_of(hash, m->cap); m->seqs[i] != 0; i = (i + 1) & (m->cap - 1)) {
        if (m->seqs[i] == seq && m->hashes[i] == hash) {
            m->seqs[i] = TOMBSTONE;
            m->live--;
            return;
        }
    }
}

int64_t keymap_next(const struct keymap *m, uint64_t hash, size_t *cursor)
{
    if (m->cap == 0)
        return 0;
    /* *cursor counts the slots already probed from the chain's start. */
    size_t start = slot_of(hash, m->cap);
    for (size_t k = *cursor; k < m->cap; k++) {
        size_t i = (start + k) & (m->cap - 1);
        if (m->seqs[i] == 0)
            break;
        if (m->seqs[i] > 0 && m->hashes[i] == hash) {
            *cursor = k + 1;
            return m->seqs[i];
        }
    }
    *cursor = m->cap;
    return 0;
}

size_t keymap_count(const struct keymap *m)
{
    return m->live;
}
