/*
 * authz - known types and the default role × type matrix; see authz.h.
 */
#include "authz.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {
    [ROLE_POLICE] = "police", [ROLE_MUNICIPALITY] = "municipality", [ROLE_COMENSHA] = "comensha",
    [ROLE_CARE] = "care",     [ROLE_COORDINATOR] = "coordinator",
};

static const char *const type_names[TYPE_COUNT] = {
    [TYPE_SIGNAAL_GEREGISTREERD] = "nl.mensenhandel.signalen.signaal-geregistreerd",
    [TYPE_DOORVERWIJZING_ONTVANGEN] = "nl.mensenhandel.doorverwijzingen.doorverwijzing-ontvangen",
    [TYPE_DOORVERWIJZING_GEACCEPTEERD] =
        "nl.mensenhandel.doorverwijzingen.doorverwijzing-geaccepteerd",
    [TYPE_DOORVERWIJZING_AFGEWEZEN] = "nl.mensenhandel.doorverwijzingen.doorverwijzing-afgewezen",
    [TYPE_DOORVERWIJZING_AFGEROND] = "nl.mensenhandel.doorverwijzingen.doorverwijzing-afgerond",
};

#define RESPONSES                                                                                  \
    ((1u << TYPE_DOORVERWIJZING_ONTVANGEN) | (1u << TYPE_DOORVERWIJZING_GEACCEPTEERD) |            \
     (1u << TYPE_DOORVERWIJZING_AFGEWEZEN) | (1u << TYPE_DOORVERWIJZING_AFGEROND))

/* Every chain partner may report a signal: the point of the chain is that a
 * signal seen anywhere reaches the centre. Every role can be routed a
 * referral, so every role may answer one; that a partner answers only its
 * own referrals is checked per event. docs/protocol.md keeps this table. */
static const unsigned default_matrix[ROLE_COUNT] = {
    [ROLE_POLICE] = (1u << TYPE_SIGNAAL_GEREGISTREERD) | RESPONSES,
    [ROLE_MUNICIPALITY] = (1u << TYPE_SIGNAAL_GEREGISTREERD) | RESPONSES,
    [ROLE_COMENSHA] = (1u << TYPE_SIGNAAL_GEREGISTREERD) | RESPONSES,
    [ROLE_CARE] = (1u << TYPE_SIGNAAL_GEREGISTREERD) | RESPONSES,
    [ROLE_COORDINATOR] = (1u << TYPE_SIGNAAL_GEREGISTREERD) | RESPONSES,
};

const char *authz_role_name(enum role role)
{
    return role < ROLE_COUNT ? role_names[role] : "?";
}

int authz_role_parse(const char *name, enum role *out)
{
    for (int i = 0; i < ROLE_COUNT; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (enum role)i;
            return 0;
        }
    }
    return -1;
}

const char *authz_type_name(enum event_type type)
{
    return type < TYPE_COUNT ? type_names[type] : "?";
}

int authz_type_parse(const char *name, enum event_type *out)
{
    for (int i = 0; i < TYPE_COUNT; i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *out = (enum event_type)i;
            return 0;
        }
    }
    return -1;
}

unsigned authz_default(enum role role)
{
    return role < ROLE_COUNT ? default_matrix[role] : 0;
}
