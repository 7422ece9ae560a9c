/* The coordinator: one event loop serving docs/PROTOCOL.md over mutual TLS,
 * the round state machine (open → train/advert → shares → masked →
 * consistency → unmask → aggregate → evaluate), aggregation on a worker
 * thread, and every transition committed to the database with its audit row.
 * Restarted with the same config it continues from the last stored model
 * version; an open round resumes as its next attempt with fresh keys. */
#ifndef GF_COORDINATOR_H
#define GF_COORDINATOR_H
#include "common/err.h"
#include "coordinator/config.h"

/* A paused coordinator (too many rejected attempts) looks for the operator's
 * `gaitfed coordinator resume` (an audit row) this often. */
#define GF_RESUME_CHECK_MS 1000

struct event_base;
typedef struct gf_coordinator gf_coordinator;

/* cfg is borrowed and must outlive the coordinator. Binds, opens the
 * database, creates model version 0 (seeded initialization) if none. */
gf_err gf_coordinator_new(const gf_coord_config *cfg, struct event_base *base, gf_coordinator **out);
void gf_coordinator_free(gf_coordinator *c);
int gf_coordinator_port(const gf_coordinator *c);
/* 1 once every configured round is done and the sites still polling have
 * been answered "done" (or GF_DONE_LINGER_MS passed): the loop may then stop. */
int gf_coordinator_finished(const gf_coordinator *c);
/* GF_OK, or the error that stopped the coordinator: a transition it could not
 * commit (e.g. the disk is full). The event loop has then been broken out of;
 * *msg (owned by c) is the one-line reason. The database holds the last
 * committed state and a restart resumes from it. */
gf_err gf_coordinator_failed(const gf_coordinator *c, const char **msg);
/* Re-reads the CRL file now (SIGHUP); it is also watched for changes every
 * second. A bad new CRL is refused with one line and the current one kept. */
void gf_coordinator_reload_crl(gf_coordinator *c);

#endif
