/*
 * admin - the requests ketenctl sends to the running hub over the admin
 * socket (docs/protocol.md, "The admin socket"): one JSON object per
 * request, one JSON object per reply. Knows nothing of ZeroMQ: the broker
 * receives and sends the frames.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "escalate.h"

#define ADMIN_REQUEST_MAX 8192

/*
 * Handles one request. Returns the reply as JSON text (caller frees):
 * {"ok": true, ...} or {"ok": false, "error": "..."}; NULL only when out of
 * memory. `esc` may be NULL (no policy escalates), `ret` too (no retention
 * configured).
 */
struct retention;
char *admin_handle(struct escalate *esc, struct retention *ret, const char *request, size_t len,
                   int64_t wall_ms, int64_t mono_ms);

#endif
