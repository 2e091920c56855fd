/*
 * authz - the event types the hub knows and who may send which.
 *
 * Roles are the kinds of chain partner. The authorisation matrix (role ×
 * inbound type) has a documented default here and may be replaced per role in
 * the config (`authorisation`). Decisions always use the role of the partner
 * behind the authenticated CURVE key, never anything in the payload.
 */
#ifndef AUTHZ_H
#define AUTHZ_H

enum role {
    ROLE_POLICE,
    ROLE_MUNICIPALITY,
    ROLE_COMENSHA,
    ROLE_CARE,
    ROLE_COORDINATOR,
    ROLE_COUNT
};

/* Inbound event types (partner -> hub) the hub accepts at all. */
enum event_type {
    TYPE_SIGNAAL_GEREGISTREERD,
    TYPE_DOORVERWIJZING_ONTVANGEN,
    TYPE_DOORVERWIJZING_GEACCEPTEERD,
    TYPE_DOORVERWIJZING_AFGEWEZEN,
    TYPE_DOORVERWIJZING_AFGEROND,
    TYPE_COUNT
};

/* The type of the referrals the hub offers to partners (hub -> partner). */
#define TYPE_NAME_DOORVERWIJZING_AANGEBODEN                                                        \
    "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"

/* Name of a role ("police", ...). */
const char *authz_role_name(enum role role);

/* Parses a role name. Returns 0, or -1 if unknown. */
int authz_role_parse(const char *name, enum role *out);

/* Full type name ("nl.mensenhandel.signalen.signaal-geregistreerd"). */
const char *authz_type_name(enum event_type type);

/* Parses a full type name. Returns 0, or -1 if the hub does not know it. */
int authz_type_parse(const char *name, enum event_type *out);

/* The default bit set of types (1u << type) a role may send. */
unsigned authz_default(enum role role);

#endif
