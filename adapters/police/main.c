/*
 * adapter-police - the police's adapter: files in a folder <-> the hub.
 * See docs/adapters.md "Police".
 */
#include "adapter.h"
#include "filedrop.h"
#include "mapping.h"

int main(int argc, char **argv)
{
    static const struct adapter_transport_ops *const transports[] = {&filedrop_ops, NULL};
    return adapter_main(argc, argv, &police_mapping, transports);
}
