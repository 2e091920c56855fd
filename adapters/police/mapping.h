/*
 * police mapping - the police's export files <-> canonical events.
 *
 * In (files the police put in in/):
 *   *.json  one signal document, a response document, or an array of them;
 *   *.csv   signals, one per row, columns in docs/adapters.md "Police".
 * Out (files in out/): a referral offered to the police as one "case table"
 * record (doorverwijzing-<referral id>.json). Formats: docs/adapters.md.
 *
 * Pure functions: no I/O, no state, safe from any thread. Does not log.
 */
#ifndef POLICE_MAPPING_H
#define POLICE_MAPPING_H

#include "adapter.h"

extern const struct adapter_mapping police_mapping;

#endif
