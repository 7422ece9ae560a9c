/* libFuzzer target for the node's config file (node/config.h) through the
 * strict JSON reader (common/config): whatever it accepts must satisfy what
 * the node relies on (a valid name and role, an https:// URL, the kit's
 * paths, a store for a hospital, 1..32 uniquely named cohorts for an
 * evaluator, numbers within their documented ranges); a refusal is one
 * line; never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_node_config c;
    if (gf_node_config_parse("fuzz.json", (const char *)data, size, &c) != GF_OK) {
        CHECK(!strchr(gf_errmsg(), '\n'));
        return 0;
    }
    CHECK(gf_name_valid(c.name) && (c.role == GF_ROLE_HOSPITAL || c.role == GF_ROLE_EVALUATOR));
    CHECK(c.coordinator_url && !strncmp(c.coordinator_url, "https://", 8) && c.coordinator_url[8]);
    CHECK(c.key && c.cert && c.ca && c.state_dir);
    CHECK(c.threads >= 1 && c.threads <= 256 && c.poll_ms >= 10 && c.poll_ms <= 600000);
    CHECK(c.backoff_max_ms >= 10 && c.backoff_max_ms <= 3600000);
    CHECK(c.http_timeout_s >= 1 && c.http_timeout_s <= 86400);
    CHECK(c.norm_global == 0 || c.norm_global == 1);
    if (c.role == GF_ROLE_HOSPITAL) CHECK(c.site_db && c.n_cohorts == 0);
    else CHECK(c.n_cohorts >= 1 && c.n_cohorts <= GF_NODE_MAX_COHORTS);
    for (size_t i = 0; i < c.n_cohorts; i++) {
        CHECK(gf_name_valid(c.cohorts[i].name) && c.cohorts[i].db);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(c.cohorts[i].name, c.cohorts[j].name));
    }
    gf_node_config_free(&c);
    return 0;
}
