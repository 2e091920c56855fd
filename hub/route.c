/*
 * route - parsing and evaluating routing rules; see route.h.
 */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FALLBACK_RULE "coordinator-fallback"

const json_t *route_pointer_get(const json_t *root, const char *pointer)
{
    const json_t *cur = root;
    const char *p = pointer;
    if (*p == '\0')
        return root;
    while (cur && *p == '/') {
        p++;
        char seg[256];
        size_t n = 0;
        while (*p && *p != '/' && n < sizeof seg - 1) {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                seg[n++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                seg[n++] = *p++;
            }
        }
        seg[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur)) {
            /* RFC 6901: digits only, no leading zero (but "0" itself). */
            int digits = n > 0 && n < 10 && (seg[0] != '0' || n == 1);
            for (size_t k = 0; digits && k < n; k++)
                digits = seg[k] >= '0' && seg[k] <= '9';
            cur = digits ? json_array_get(cur, strtoul(seg, NULL, 10)) : NULL;
        } else {
            cur = NULL;
        }
    }
    return *p == '\0' ? cur : NULL;
}

static int valid_pointer(const char *s)
{
    return s[0] == '/';
}

/* A member name as one JSON pointer segment (~ and / escaped). */
static void escape_segment(const char *name, char *out, size_t len)
{
    size_t o = 0;
    for (const char *c = name; *c && o + 3 < len; c++) {
        if (*c == '~' || *c == '/') {
            out[o++] = '~';
            out[o++] = *c == '~' ? '0' : '1';
        } else {
            out[o++] = *c;
        }
    }
    out[o] = '\0';
}

static void load_condition(struct route_condition *c, const char *ptr, const json_t *v,
                           struct config_problems *p, const char *where)
{
    char seg[256];
    escape_segment(ptr, seg, sizeof seg);
    c->pointer = strdup(ptr);
    if (!valid_pointer(ptr)) {
        config_problem(p,
                       "%s/when: \"%s\" is not a JSON pointer into the signal data (start "
                       "with /, e.g. \"/urgentie\")",
                       where, ptr);
        return;
    }
    if (!json_is_object(v)) {
        c->op = json_is_array(v) ? ROUTE_IN : ROUTE_EQUALS;
        c->value = json_incref((json_t *)v);
        return;
    }
    static const struct {
        const char *name;
        enum route_op op;
    } ops[] = {{"equals", ROUTE_EQUALS},
               {"in", ROUTE_IN},
               {"present", ROUTE_PRESENT},
               {"contains", ROUTE_CONTAINS},
               {"contains_any", ROUTE_CONTAINS_ANY}};
    const char *k = NULL;
    json_t *arg = NULL;
    if (json_object_size(v) == 1) {
        void *it = json_object_iter((json_t *)v);
        k = json_object_iter_key(it);
        arg = json_object_iter_value(it);
    }
    for (size_t i = 0; k && i < sizeof ops / sizeof *ops; i++) {
        if (strcmp(k, ops[i].name) != 0)
            continue;
        c->op = ops[i].op;
        if (c->op == ROUTE_PRESENT) {
            if (!json_is_boolean(arg))
                config_problem(p, "%s/when/%s: \"present\" takes true or false", where, seg);
            c->present = json_is_true(arg);
        } else if ((c->op == ROUTE_IN || c->op == ROUTE_CONTAINS_ANY) && !json_is_array(arg)) {
            config_problem(p, "%s/when/%s: \"%s\" takes an array", where, seg, k);
        } else {
            c->value = json_incref(arg);
        }
        return;
    }
    config_problem(p,
                   "%s/when/%s: a condition is a value, an array of values, or an object with one "
                   "of equals, in, present, contains, contains_any",
                   where, seg);
}

static void load_target(const struct config *cfg, struct route_target *t, const json_t *v,
                        struct config_problems *p, const char *where, size_t i)
{
    const json_t *partner = json_object_get(v, "partner");
    const json_t *role = json_object_get(v, "role");
    const json_t *muni = json_object_get(v, "municipality_of");
    if (!json_is_object(v) || json_object_size(v) != 1) {
        config_problem(p,
                       "%s/to/%zu: must be {\"partner\": id}, {\"role\": role} or "
                       "{\"municipality_of\": \"/pointer\"}",
                       where, i);
    } else if (partner) {
        t->kind = ROUTE_TO_PARTNER;
        t->partner =
            json_is_string(partner) ? config_partner(cfg, json_string_value(partner)) : NULL;
        if (!t->partner)
            config_problem(p, "%s/to/%zu/partner: not a partner id in /partners", where, i);
    } else if (role) {
        t->kind = ROUTE_TO_ROLE;
        if (!json_is_string(role) || authz_role_parse(json_string_value(role), &t->role) != 0)
            config_problem(p, "%s/to/%zu/role: unknown role", where, i);
    } else if (muni) {
        t->kind = ROUTE_TO_MUNICIPALITY_OF;
        if (!json_is_string(muni) || !valid_pointer(json_string_value(muni)))
            config_problem(p,
                           "%s/to/%zu/municipality_of: must be a JSON pointer into the signal "
                           "data, e.g. \"/woongemeente\"",
                           where, i);
        else
            t->pointer = strdup(json_string_value(muni));
    } else {
        config_problem(p, "%s/to/%zu: unknown target (partner, role or municipality_of)", where, i);
    }
}

/* `from`: a non-empty array of role names, the sender's role must be one. */
static void load_from(struct route *rt, const json_t *from, struct config_problems *p,
                      const char *where)
{
    if (!from)
        return;
    if (!json_is_array(from) || json_array_size(from) == 0) {
        config_problem(p, "%s/from: must be a non-empty array of roles", where);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v)
    {
        enum role role;
        if (!json_is_string(v) || authz_role_parse(json_string_value(v), &role) != 0)
            config_problem(p,
                           "%s/from/%zu: not a role (police, municipality, comensha, care, "
                           "coordinator)",
                           where, i);
        else
            rt->from_roles |= 1u << role;
    }
}

void route_load(struct config *cfg, const json_t *routes, struct config_problems *p)
{
    if (!json_is_array(routes)) {
        config_problem(p, "/routes: must be an array of rules");
        return;
    }
    size_t n = json_array_size(routes);
    cfg->routes = calloc(n + 1, sizeof *cfg->routes);
    if (!cfg->routes)
        return;
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(routes, i);
        struct route *rt = &cfg->routes[cfg->nroutes++];
        char where[32];
        snprintf(where, sizeof where, "/routes/%zu", i);
        if (!json_is_object(r)) {
            config_problem(p, "%s: must be an object", where);
            continue;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)r, k, v)
        {
            if (strcmp(k, "name") != 0 && strcmp(k, "when") != 0 && strcmp(k, "to") != 0 &&
                strcmp(k, "policy") != 0 && strcmp(k, "final") != 0 && strcmp(k, "from") != 0)
                config_problem(p,
                               "%s/%s: unknown key (allowed: name, when, from, to, policy, final)",
                               where, k);
        }
        const json_t *name = json_object_get(r, "name");
        if (!json_is_string(name) || json_string_length(name) == 0) {
            config_problem(p, "%s/name: required, a non-empty string", where);
        } else {
            rt->name = strdup(json_string_value(name));
            for (size_t j = 0; j + 1 < cfg->nroutes; j++)
                if (cfg->routes[j].name && strcmp(cfg->routes[j].name, rt->name) == 0)
                    config_problem(p, "%s/name: \"%s\" is used by /routes/%zu too", where, rt->name,
                                   j);
        }
        const json_t *when = json_object_get(r, "when");
        if (when && !json_is_object(when)) {
            config_problem(p, "%s/when: must be an object of conditions", where);
        } else if (when) {
            rt->conditions = calloc(json_object_size(when) + 1, sizeof *rt->conditions);
            json_object_foreach((json_t *)when, k, v)
            {
                if (rt->conditions)
                    load_condition(&rt->conditions[rt->nconditions++], k, v, p, where);
            }
        }
        const json_t *to = json_object_get(r, "to");
        if (!json_is_array(to) || json_array_size(to) == 0) {
            config_problem(p, "%s/to: required, a non-empty array of targets", where);
        } else {
            rt->targets = calloc(json_array_size(to), sizeof *rt->targets);
            for (size_t j = 0; rt->targets && j < json_array_size(to); j++)
                load_target(cfg, &rt->targets[rt->ntargets++], json_array_get(to, j), p, where, j);
        }
        const json_t *policy = json_object_get(r, "policy");
        if (policy) {
            rt->policy =
                json_is_string(policy) ? config_policy(cfg, json_string_value(policy)) : NULL;
            if (!rt->policy)
                config_problem(p, "%s/policy: not a policy in /policies", where);
        }
        load_from(rt, json_object_get(r, "from"), p, where);
        const json_t *final = json_object_get(r, "final");
        if (final && !json_is_boolean(final))
            config_problem(p, "%s/final: must be true or false", where);
        rt->final = json_is_true(final);
    }
}

void route_free(struct route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct route *r = &routes[i];
        free(r->name);
        for (size_t j = 0; j < r->nconditions; j++) {
            free(r->conditions[j].pointer);
            json_decref(r->conditions[j].value);
        }
        free(r->conditions);
        for (size_t j = 0; j < r->ntargets; j++)
            free(r->targets[j].pointer);
        free(r->targets);
    }
    free(routes);
}

static int in_array(const json_t *arr, const json_t *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_equal(e, (json_t *)v))
            return 1;
    }
    return 0;
}

static int condition_holds(const struct route_condition *c, const json_t *data)
{
    const json_t *v = route_pointer_get(data, c->pointer);
    switch (c->op) {
    case ROUTE_PRESENT:
        return (v != NULL) == c->present;
    case ROUTE_EQUALS:
        return v && json_equal((json_t *)v, c->value);
    case ROUTE_IN:
        return v && in_array(c->value, v);
    case ROUTE_CONTAINS:
        return json_is_array(v) && in_array(v, c->value);
    case ROUTE_CONTAINS_ANY: {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return 0;
        json_array_foreach(c->value, i, e)
        {
            if (in_array(v, e))
                return 1;
        }
        return 0;
    }
    }
    return 0;
}

static size_t add_hit(struct route_hit *hits, size_t n, size_t cap, const struct partner *pt,
                      const struct policy *pol, const char *rule)
{
    for (size_t i = 0; i < n; i++)
        if (hits[i].partner == pt)
            return n; /* the first rule that named it decides */
    if (n == cap)
        return n;
    hits[n].partner = pt;
    hits[n].policy = pol;
    hits[n].rule = rule;
    return n + 1;
}

size_t route_evaluate(const struct config *cfg, const json_t *data, struct route_hit *hits,
                      size_t cap)
{
    return route_evaluate_from(cfg, data, ROLE_COUNT, hits, cap);
}

size_t route_evaluate_from(const struct config *cfg, const json_t *data, enum role sender,
                           struct route_hit *hits, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct route *r = &cfg->routes[i];
        int holds = !r->from_roles || (sender < ROLE_COUNT && (r->from_roles & (1u << sender)));
        for (size_t j = 0; j < r->nconditions && holds; j++)
            holds = condition_holds(&r->conditions[j], data);
        if (!holds)
            continue;
        const struct policy *pol = r->policy ? r->policy : cfg->default_policy;
        for (size_t j = 0; j < r->ntargets; j++) {
            const struct route_target *t = &r->targets[j];
            if (t->kind == ROUTE_TO_PARTNER) {
                n = add_hit(hits, n, cap, t->partner, pol, r->name);
            } else if (t->kind == ROUTE_TO_ROLE) {
                for (size_t k = 0; k < cfg->npartners; k++)
                    if (cfg->partners[k].role == t->role)
                        n = add_hit(hits, n, cap, &cfg->partners[k], pol, r->name);
            } else {
                const json_t *code = route_pointer_get(data, t->pointer);
                const struct partner *pt =
                    json_is_string(code) ? config_municipality(cfg, json_string_value(code)) : NULL;
                if (pt)
                    n = add_hit(hits, n, cap, pt, pol, r->name);
            }
        }
        if (r->final)
            break;
    }
    if (n == 0) {
        for (size_t k = 0; k < cfg->npartners; k++)
            if (cfg->partners[k].role == ROLE_COORDINATOR)
                n = add_hit(hits, n, cap, &cfg->partners[k], cfg->default_policy, FALLBACK_RULE);
    }
    return n;
}
