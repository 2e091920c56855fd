/*
 * adapter-comensha - registration records to CoMensha (http-push); its 2xx
 * answer becomes doorverwijzing-ontvangen. docs/adapters.md.
 */
#include "adapter.h"
#include "http_push.h"
#include "mapping.h"

int main(int argc, char **argv)
{
    static const struct adapter_transport_ops *const t[] = {&http_push_ops, NULL};
    return adapter_main(argc, argv, &comensha_mapping, t);
}
