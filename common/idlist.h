/* Lists of ids typed by a person ("H06,H08 H18", or a file of them): ids
 * separated by commas or white space, '#' starts a comment to the end of the
 * line. Used for `gaitfed train --test-subjects`. */
#ifndef GF_IDLIST_H
#define GF_IDLIST_H
#include <stddef.h>

#include "common/err.h"

#define GF_IDLIST_MAX 100000 /* ids in one list */

/* Parses buf[0..len) (need not be NUL-terminated). Every id is shorter than
 * max_id bytes and holds no control byte (NUL included); an empty list is an
 * error. what names the source in messages. *ids malloc'd (free with
 * gf_idlist_free(*ids, *n)); on error *ids is NULL and *n 0. */
gf_err gf_idlist_parse(const char *what, const char *buf, size_t len, size_t max_id, char ***ids, int *n);
void gf_idlist_free(char **ids, int n);

#endif
