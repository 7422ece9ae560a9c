/* libFuzzer target for config files: the strict JSON reader (common/config)
 * through the coordinator's config parser. Any input must give GF_OK or a
 * one-line error, never a crash or a leak. */
#include <stdint.h>
#include <string.h>

#include "coordinator/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_coord_config c;
    if (gf_coord_config_parse("fuzz.json", (const char *)data, size, &c) == GF_OK) {
        if (!c.name || !c.key || !c.cert || !c.ca || !c.db || c.port < 0 || c.port > 65535) __builtin_trap();
        gf_coord_config_free(&c);
    } else if (strchr(gf_errmsg(), '\n')) {
        __builtin_trap(); /* errors are one line */
    }
    return 0;
}
