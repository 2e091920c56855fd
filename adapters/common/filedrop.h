/*
 * filedrop - the folder exchange transport, for a partner that can only move
 * files. Under the configured folder:
 *
 *   in/      the partner puts files here. Only files RENAMED IN are read:
 *            write the file elsewhere on the same file system (or in in/ under
 *            a name starting with "." or ending in ".tmp" / ".part"), then
 *            rename it to its final name. Names starting with "." and ending
 *            in ".tmp", ".part" or "~" are never read. As a safety net a file
 *            is read only once its size and modification time have not changed
 *            for settle_ms.
 *   done/    a file the adapter has taken: every event in it is in the
 *            adapter's outbox (on disk) when it appears here.
 *   failed/  a file the adapter refused, with NAME.error.json beside it
 *            ({"file", "failed_at", "errors": [{"path", "keyword", "message",
 *            "item"?}]}); nothing of it was sent.
 *   out/     deliveries from the hub, one file each, written as out/.NAME.tmp,
 *            fsynced and renamed to out/NAME: a file in out/ is complete.
 *
 * See docs/adapters.md "filedrop".
 */
#ifndef FILEDROP_H
#define FILEDROP_H

#include "adapter.h"

extern const struct adapter_transport_ops filedrop_ops;

/* 1 when `name` is a name the transport never reads (hidden, temporary). */
int filedrop_ignored_name(const char *name);

#endif
