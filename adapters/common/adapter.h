/*
 * adapter - the interface between the shared adapter core (adapters/common)
 * and the two kinds of plug-ins every partner adapter is built from:
 *
 *   a MAPPING   partner format <-> canonical CloudEvents (one per partner kind,
 *               adapters/<kind>/mapping.c), pure functions, no I/O;
 *   a TRANSPORT how bytes reach and leave the partner's system (filedrop,
 *               http-listen, http-push; adapters/common/<name>.c).
 *
 * The core (adapter_main) owns everything else: the config, the CURVE DEALER
 * to the hub (heartbeats, reconnect, in-flight window, replies matched by id),
 * the SQLite outbox (an event is committed before the partner is told
 * "received"; it leaves only when the hub acked it), the failed list, the
 * dedup of deliveries by id and the receipts to the hub.
 *
 * Flow partner -> hub:
 *   transport gets bytes -> adapter_take_input() -> mapping->parse() ->
 *   core completes the envelope, validates (schemas), commits to the outbox ->
 *   returns 0: only now may the transport tell the partner "received"
 *   (filedrop: move to done/; http-listen: answer 202).
 *
 * Flow hub -> partner:
 *   hub delivery -> core dedups by id (already taken: receipt at once) ->
 *   mapping->render() -> transport->deliver() -> ADAPTER_TAKEN (now or later
 *   through adapter_delivery_done) -> core records the id and sends the
 *   receipt to the hub. Until then nothing is confirmed: the hub offers the
 *   delivery again (same id) and the core ignores copies of an id in progress.
 *
 * Threads: the core runs one loop (zmq_poll) in the main thread; transports
 * hook their fds and timers into it (prepare/process). A transport may also run
 * its own thread (libmicrohttpd's internal polling thread): the functions
 * marked "thread-safe" below may be called from any thread; all others only
 * from the loop thread (i.e. from inside a transport or mapping callback).
 *
 * Nothing here logs personal data: callbacks log ids, counts, pointers only.
 */
#ifndef ADAPTER_H
#define ADAPTER_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <zmq.h>

struct adapter; /* the running core; opaque */

/* ---- partner input and output ----------------------------------------- */

/* Bytes the partner handed in. Borrowed for the duration of one call. */
struct adapter_input {
    const char *data; /* not NUL-terminated necessarily; `len` bytes */
    size_t len;
    const char *content_type; /* e.g. "application/json", "text/csv"; may be NULL */
    const char *name;         /* file name (filedrop) or request path; may be NULL */
};

/* Bytes for the partner, made by mapping->render. `data` is malloc'ed and owned
 * by the struct: adapter_output_clear() frees it. */
struct adapter_output {
    char *data;
    size_t len;
    char content_type[96]; /* e.g. "application/json" */
    char name[160];        /* file name for filedrop ("<id>.json"), or "" */
    const json_t *event;   /* the canonical event it was made from (borrowed,
                              valid during deliver()); for transports that also
                              need ids or the referral, e.g. to serve GETs */
};

/* Frees out->data and zeroes the struct. */
void adapter_output_clear(struct adapter_output *out);

/* Fills `out` with `doc` as compact JSON text of `content_type`, no file
 * name, made from `event`. Takes `doc` (NULL: out of memory). Returns 0, or
 * -1 with a "memory" error added to `errors`. */
int adapter_output_json(struct adapter_output *out, json_t *doc, const char *content_type,
                        const json_t *event, json_t *errors);

/* ---- mapping ----------------------------------------------------------- */

/*
 * Errors everywhere in this interface are JSON arrays of objects
 *   {"path": "<JSON pointer>", "keyword": "<short word>", "message": "<text>"}
 * as the hub uses (docs/protocol.md §4); lib/event.h event_error() appends one.
 * For parse errors the pointer goes into the PARTNER's input as the mapping
 * documents it (e.g. "/3/urgentie" = CSV data row 3, column urgentie).
 */
struct adapter_mapping {
    const char *name; /* "police": used in logs, usage and the program name */

    /*
     * Checks the config's "mapping" object (may be NULL when absent). Appends
     * one error per problem with `pointer` (e.g. "/mapping") put before the
     * key's own pointer. Returns 0 when fine, -1 otherwise. May be NULL: then
     * a present "mapping" section must be empty.
     */
    int (*check_config)(const json_t *section, const char *pointer, json_t *errors);

    /*
     * Partner input -> canonical items. Appends to `items` one object per
     * event to send, each
     *   {"type": "<event type>", "data": {...},
     *    "subject": "<case ref>"?, "time": "<RFC 3339>"?, "id": "<uuid>"?,
     *    "origin": "<JSON pointer of the record in the input>"?}
     * The core adds specversion, source, datacontenttype, and id/time when
     * absent (id: derived from the input's digest and the item's index, so a
     * re-read input gets the same ids). All or nothing: on any error return -1
     * with `errors` filled, and nothing of the input is taken. Returns 0 and at
     * least one item otherwise ("no records" is an error).
     */
    int (*parse)(struct adapter *ad, const struct adapter_input *in, json_t *items, json_t *errors);

    /*
     * Canonical event from the hub (a CloudEvent, e.g. doorverwijzing-
     * aangeboden or escalatie-gestart) -> partner bytes in `out`.
     * Returns 0 (out filled), 1 when this kind of event has nothing for the
     * partner (the core confirms it to the hub without handing anything over),
     * or -1 with `errors` filled (the core lists it as failed, no receipt).
     */
    int (*render)(struct adapter *ad, const json_t *event, struct adapter_output *out,
                  json_t *errors);
};

/* ---- transport --------------------------------------------------------- */

enum adapter_result {
    ADAPTER_TAKEN = 0,   /* the partner side has it: confirm it to the hub */
    ADAPTER_PENDING = 1, /* started; the transport calls adapter_delivery_done later */
    ADAPTER_RETRY = 2,   /* not now (endpoint down, 5xx, 429): core retries later */
    ADAPTER_FAILED = 3   /* will not work as is (410, 4xx): listed as failed, not confirmed */
};

struct adapter_transport_ops {
    const char *name; /* "filedrop", "http-listen", "http-push": the key in "transports" */

    /*
     * Checks this transport's object in the config ("/transports/<name>").
     * Relative paths resolve against base_dir (the config file's folder).
     * Appends errors with `pointer` prefixed; returns 0 or -1.
     */
    int (*check_config)(const json_t *section, const char *pointer, const char *base_dir,
                        json_t *errors);

    /*
     * Starts the transport with its (checked) section. Fills *state with the
     * transport's own data. Returns 0, or -1 with err filled (the adapter then
     * does not start).
     */
    int (*start)(struct adapter *ad, const json_t *section, const char *base_dir, void **state,
                 char *err, size_t errlen);

    /* Stops it, frees *state and sets it to NULL. May be NULL. */
    void (*stop)(void **state);

    /*
     * Before each zmq_poll: adds up to `max` poll items (fd + events; socket
     * NULL) to `items` and returns how many; lowers *timeout_ms (-1 = none)
     * to the transport's next timer. May be NULL (nothing to poll).
     */
    int (*prepare)(void *state, zmq_pollitem_t *items, int max, long *timeout_ms);

    /*
     * After each zmq_poll (also on timeout): `items` are the n items this
     * transport added, with revents set. Does the work: scans a folder, runs
     * curl_multi_perform, and calls adapter_take_input / adapter_delivery_done.
     * May be NULL.
     */
    void (*process)(void *state, const zmq_pollitem_t *items, int n);

    /*
     * Hands one rendered delivery to the partner. `delivery_id` is the hub's
     * event id (stable across redeliveries). Returns ADAPTER_TAKEN when done
     * synchronously and durably, ADAPTER_PENDING when it will call
     * adapter_delivery_done(ad, delivery_id, ...) later from process(), or
     * ADAPTER_RETRY / ADAPTER_FAILED. *retry_after_ms may be set (for
     * RETRY: when to try again, e.g. from Retry-After; 0 = core's backoff).
     * `why` (may be filled, up to whylen) says what went wrong, for the log and
     * the failed list: no personal data. It must not call
     * adapter_delivery_done itself (it returns the result instead). NULL for a
     * transport that only takes input (exactly one configured transport must
     * deliver).
     */
    enum adapter_result (*deliver)(void *state, const char *delivery_id,
                                   const struct adapter_output *out, long *retry_after_ms,
                                   char *why, size_t whylen);
};

/* ---- core services for transports and mappings ------------------------ */

/*
 * Thread-safe. Takes one partner input: parse (mapping), complete envelopes,
 * validate against the schemas (when configured), commit every event to the
 * outbox in one transaction (fsync), and wake the loop to send them.
 * Returns 0 when durably taken (tell the partner "received"); *n_events (may be
 * NULL) gets the number of events (also for an input taken before: same
 * content = same digest, nothing new is stored, returns 0 with *n_events 0).
 * Returns -1 with `errors` filled when the input is refused (tell the partner
 * why; nothing was stored); each error may have an extra "item" member, the
 * record's pointer in the input. Returns -2 on a local failure (disk, db):
 * nothing stored, tell the partner to try again later (503 / leave the file).
 */
int adapter_take_input(struct adapter *ad, const struct adapter_input *in, json_t *errors,
                       int *n_events);

/* Loop thread only. Finishes a delivery a transport answered PENDING for. */
void adapter_delivery_done(struct adapter *ad, const char *delivery_id, enum adapter_result result,
                           long retry_after_ms, const char *why);

/* The config's "source" (CloudEvents source of the events this adapter sends). */
const char *adapter_source(const struct adapter *ad);

/* The config's "mapping" object (borrowed; NULL when absent). */
const json_t *adapter_mapping_config(const struct adapter *ad);

/*
 * Thread-safe. A small durable key -> JSON document store in the adapter's
 * database, for transports that must serve what they delivered later (e.g.
 * http-listen answering a GET for a referral's details). put borrows `doc`;
 * get returns a new reference the caller owns, or NULL when absent.
 * Returns 0 / -1.
 */
int adapter_doc_put(struct adapter *ad, const char *key, const json_t *doc);
json_t *adapter_doc_get(struct adapter *ad, const char *key);

/* ---- config checking helpers (for check_config callbacks) ------------- */

enum adapter_cfg_type {
    ADAPTER_CFG_STRING,
    ADAPTER_CFG_INT,
    ADAPTER_CFG_BOOL,
    ADAPTER_CFG_OBJECT,
    ADAPTER_CFG_ARRAY
};

/* One known key: name, type, whether required, and for ADAPTER_CFG_INT the
 * bounds (inclusive). A table ends with a {NULL} entry. */
struct adapter_cfg_key {
    const char *name;
    enum adapter_cfg_type type;
    int required;
    long long min, max;
};

/*
 * Checks that `obj` is an object with only the listed keys, each of its type
 * (and bounds), and every required key present. Appends one error per problem
 * ("<pointer>/<key>: unknown key" ...). Returns 0 when clean, -1 otherwise.
 */
int adapter_cfg_check(const json_t *obj, const char *pointer, const struct adapter_cfg_key *keys,
                      json_t *errors);

/* Appends {"path": pointer, "message": ...} to errors (config problems). */
void adapter_cfg_error(json_t *errors, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the program ------------------------------------------------------ */

/*
 * The whole adapter program: parses the command line
 *   adapter-<kind> --config FILE            run
 *   adapter-<kind> --check-config FILE      check the config, exit 0 or 1
 *   adapter-<kind> --config FILE failed [--json]   list the failed events
 * loads the config, starts the transports named in it (chosen from
 * `transports`, a NULL-terminated list of what this adapter supports) and
 * runs until SIGTERM/SIGINT. Returns the process exit code. An
 * adapters/<kind>/main.c is:
 *
 *   int main(int argc, char **argv)
 *   {
 *       static const struct adapter_transport_ops *const t[] = {&filedrop_ops, NULL};
 *       return adapter_main(argc, argv, &police_mapping, t);
 *   }
 */
int adapter_main(int argc, char **argv, const struct adapter_mapping *mapping,
                 const struct adapter_transport_ops *const *transports);

#endif
