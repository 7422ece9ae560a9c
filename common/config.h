/* Strict reading of JSON config files (Jansson): the file is capped, unknown
 * keys are refused (a typo must not silently become a default), every field
 * is type- and range-checked, and every error is one line naming the file and
 * the field ("F: field 'timeouts_s.train': expected a number in [1, 86400]").
 * Relative paths in a config are relative to the config file's directory. */
#ifndef GF_CONFIG_H
#define GF_CONFIG_H
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

#define GF_CFG_MAX_BYTES (1u << 20)

typedef struct {
    char *path;     /* the file, as given */
    char *dir;      /* its directory */
    json_t *root;   /* a JSON object */
} gf_cfg;

gf_err gf_cfg_load(const char *path, gf_cfg *out);
/* Same from memory (fuzzing, tests); name stands in for the path in messages. */
gf_err gf_cfg_parse(const char *name, const char *text, size_t len, gf_cfg *out);
void gf_cfg_free(gf_cfg *c);

/* Fields are named by a dotted path from the root ("timeouts_s.train");
 * obj is the object holding them (c->root or a nested object). prefix is the
 * dotted path of obj ("" at the root). */
gf_err gf_cfg_only(const gf_cfg *c, const json_t *obj, const char *prefix, const char *const *allowed);
/* Each getter: absent key -> the default (required != 0: an error). */
gf_err gf_cfg_str(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int required,
                  const char *def, const char **out);
/* One of the choices (NULL-terminated); *out gets its index. */
gf_err gf_cfg_enum(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, const char *const *choices,
                   int def, int *out);
/* A path resolved against the config's directory (malloc'd; NULL when absent and def is NULL). */
gf_err gf_cfg_path(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int required,
                   const char *def, char **out);
gf_err gf_cfg_int(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, long lo, long hi,
                  long def, int required, long *out);
gf_err gf_cfg_num(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, double lo, double hi,
                  double def, int required, double *out);
gf_err gf_cfg_bool(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int def, int *out);
/* A nested object (NULL when absent and not required). */
gf_err gf_cfg_obj(const gf_cfg *c, const json_t *obj, const char *prefix, const char *key, int required,
                  const json_t **out);

#endif
