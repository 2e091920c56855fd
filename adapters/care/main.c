/*
 * adapter-care - a care provider's system <-> the hub: referrals pushed as
 * CloudEvents (http-push, structured mode), answers posted over http-listen.
 * docs/adapters.md.
 */
#include "adapter.h"
#include "http_listen.h"
#include "http_push.h"
#include "mapping.h"

int main(int argc, char **argv)
{
    static const struct adapter_transport_ops *const t[] = {&http_push_ops, &http_listen_ops, NULL};
    return adapter_main(argc, argv, &care_mapping, t);
}
