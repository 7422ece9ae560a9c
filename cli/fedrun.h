/* One whole federation on this machine as real processes on 127.0.0.1: a
 * consortium PKI, the coordinator (ephemeral port), one node per hospital
 * store DATA/sites/<name>.db and one evaluator with the cohorts
 * DATA/cohorts/<name>.db. It waits for the coordinator to finish every round,
 * stops every process it started and writes OUT/summary.json next to
 * OUT/coordinator.db (logs: OUT/logs/, kits: OUT/kits/). Used by `gaitfed
 * demo` and `gaitfed audit loso`. */
#ifndef GF_CLI_FEDRUN_H
#define GF_CLI_FEDRUN_H
#include <sys/types.h>

#include <jansson.h>

#define GF_FEDRUN_MAX_SITES 11 /* hospitals in one run (+ evaluator + coordinator <= 16 processes) */
#define GF_FEDRUN_NAME_MAX 64

typedef struct {
    const char *out;            /* run directory; created (its parent too) */
    const char *data;           /* a `gaitfed synth` output; NULL: synthesize (seed 1) into OUT/data */
    const char *const *sites;   /* hospitals to include (names of DATA/sites/<name>.db); NULL: all */
    int n_sites;
    const char *const *cohorts; /* evaluator cohorts (DATA/cohorts/<name>.db); NULL: healthy-test and onfh */
    int n_cohorts;
    long rounds, local_epochs, batch;
    double lr;
    const char *strategy;       /* checked by the coordinator's config */
    double server_lr;           /* <= 0: the strategy's default */
    const char *normalization;  /* "own" | "global" | "model" (needs initial_model) */
    const char *initial_model;  /* a checkpoint version 0 starts from (the coordinator's "initial_model";
                                 * "model" is then left out: the checkpoint's); NULL: seeded initialization */
    int secure;                 /* secure aggregation (else plain) */
    const char *arch;           /* model architecture; used when model is NULL */
    const json_t *model;        /* the coordinator's "model" object (borrowed); NULL: {"arch": arch} */
    const char *consortium;     /* PKI consortium name ("gaitfed-demo") */
    const char *prefix;         /* message prefix: "gaitfed demo" */
    int progress;               /* 1: the setup lines and one line per round on stdout */
    int limit_s;                /* a run not finished by then is stopped and reported; <= 0: 600 */
} gf_fedrun_opts;

typedef struct {
    long long rounds_completed;
    double seconds;             /* wall time of the whole run */
    int n_hospitals;
    char db[4096];              /* OUT/coordinator.db */
} gf_fedrun_result;

/* Runs the federation. 0 on success; otherwise 1 after printing one line
 * "<prefix>: <what went wrong>" on stderr (every started process stopped). */
int gf_fedrun(const gf_fedrun_opts *o, gf_fedrun_result *r);

/* The hospital names of a synth output: DATA/sites/<name>.db, sorted. Returns
 * their count (at most cap), or -1 when DATA/sites cannot be read. */
int gf_fedrun_hospitals(const char *data, char names[][GF_FEDRUN_NAME_MAX], int cap);

/* The path of this binary, for starting more gaitfed processes: the target of
 * /proc/self/exe, read once (under valgrind that is the program valgrind runs,
 * while exec("/proc/self/exe") would start valgrind's own tool binary);
 * "/proc/self/exe" if it cannot be read. */
const char *gf_fedrun_self(void);

/* `gaitfed synth --out DATA --seed seed` (this binary), output to log.
 * 0 on success. */
int gf_fedrun_synth(const char *data, long seed, const char *log);

/* Starts `gaitfed <args…>` (this binary, gf_fedrun_self) with stdout and
 * stderr appended to log; returns its pid (-1 when fork fails). */
pid_t gf_fedrun_spawn(const char *log, char *const *args);

#endif
