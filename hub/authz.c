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
};

/* Every chain partner may report a signal: the point of the chain is that a
 * signal seen anywhere reaches the centre. docs/protocol.md keeps this table. */
static const unsigned default_matrix[ROLE_COUNT] = {
    [ROLE_POLICE] = 1u << TYPE_SIGNAAL_GEREGISTREERD,
    [ROLE_MUNICIPALITY] = 1u << TYPE_SIGNAAL_GEREGISTREERD,
    [ROLE_COMENSHA] = 1u << TYPE_SIGNAAL_GEREGISTREERD,
    [ROLE_CARE] = 1u << TYPE_SIGNAAL_GEREGISTREERD,
    [ROLE_COORDINATOR] = 1u << TYPE_SIGNAAL_GEREGISTREERD,
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
