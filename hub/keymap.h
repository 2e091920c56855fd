/*
 * keymap - an in-memory multimap from 64-bit key hash to event seq.
 *
 * The store answers "is (partner, source, id) already here?" from this map
 * instead of an on-disk index: event ids are random UUIDs, so a B-tree index
 * on them makes every commit write about one index page per event (measured:
 * the index alone cost a third of intake throughput). The map costs 16 bytes
 * per slot (at most half full), is rebuilt at start-up from the compact
 * event_keys table, and never decides alone: equal hashes are confirmed
 * against the stored columns. Entries added in a transaction that is rolled
 * back are removed again. Not thread-safe; does not log.
 */
#ifndef KEYMAP_H
#define KEYMAP_H

#include <stddef.h>
#include <stdint.h>

struct keymap;

/* New empty map. Caller frees with keymap_free. NULL when out of memory. */
struct keymap *keymap_new(void);

/* Frees the map and sets *self_p to NULL. */
void keymap_free(struct keymap **self_p);

/* Adds (hash, seq); seq > 0. Several seqs may share a hash. 0, or -1 (OOM). */
int keymap_add(struct keymap *m, uint64_t hash, int64_t seq);

/* Removes (hash, seq) if present. */
void keymap_remove(struct keymap *m, uint64_t hash, int64_t seq);

/*
 * Iterates the seqs stored under `hash`: start with *cursor = 0; each call
 * returns the next seq, or 0 when there are no more.
 */
int64_t keymap_next(const struct keymap *m, uint64_t hash, size_t *cursor);

/* Number of entries. */
size_t keymap_count(const struct keymap *m);

#endif
