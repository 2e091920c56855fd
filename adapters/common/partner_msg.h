/*
 * partner_msg - the small JSON messages partner systems POST over
 * http-listen, turned into canonical items (adapter.h, mapping->parse):
 *
 *   a response to a referral (municipality, care provider):
 *     {"doorverwijzing": "<referral id>", "<verb member>": "<verb>",
 *      "reden"?, "uitkomst"?, "toelichting"?, "tijdstip"?, "id"?}
 *   a signal (municipality):
 *     {"signaal": {<the signal's fields>}, "kenmerk"?, "tijdstip"?, "id"?}
 *
 * Each mapping names its verb member and words (docs/adapters.md). Every
 * error's path is a JSON pointer into the partner's own message. Values are
 * never quoted in messages (they may be personal data); member names are.
 * Pure functions: no I/O, no logging.
 */
#ifndef PARTNER_MSG_H
#define PARTNER_MSG_H

#include <stddef.h>
#include <jansson.h>

#define PARTNER_MSG_TYPE_PREFIX "nl.mensenhandel.doorverwijzingen.doorverwijzing-"
#define PARTNER_MSG_SIGNAL_TYPE "nl.mensenhandel.signalen.signaal-geregistreerd"

/* The partner's words for ontvangen, geaccepteerd, afgewezen, afgerond. */
struct partner_verbs {
    const char *member; /* e.g. "reactie" */
    const char *words[4];
};

/*
 * Parses `len` bytes as one JSON object (bounded depth, UTF-8). Returns a new
 * reference, or NULL after appending an error with keyword "json" or "type".
 */
json_t *partner_msg_load(const char *data, size_t len, json_t *errors);

/* A response message -> one item appended to `items`. Returns 0, or -1 with
 * errors appended (nothing added to items). */
int partner_msg_response(const json_t *msg, const struct partner_verbs *verbs, json_t *items,
                         json_t *errors);

/* A signal message -> one item ("origin": "/signaal"; the signal's own
 * fields are checked against the hub's schema by the core). Returns 0 / -1. */
int partner_msg_signal(const json_t *msg, json_t *items, json_t *errors);

/*
 * The input http-push makes of a partner's 2xx when "receipt_event" is on
 * (content type HTTP_PUSH_RECEIPT_TYPE, name "http-push"; see http_push.h):
 *   {"ontvangstbevestiging": {"levering", "doorverwijzing", "status"}}
 * -> one doorverwijzing-ontvangen item. Returns 1 when `in` is not such an
 * input (the caller reads it as its own format), 0 when an item was added,
 * -1 with errors.
 */
struct adapter_input;
int partner_msg_push_receipt(const struct adapter_input *in, json_t *items, json_t *errors);

#endif
