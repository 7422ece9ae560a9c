/* Closed set of error codes; a thread-local message says what and where.
 * Libraries return a gf_err and, on failure, set the message with gf_fail()
 * naming the file or field and the problem. Callers print gf_errmsg(). */
#ifndef GF_ERR_H
#define GF_ERR_H

typedef enum {
    GF_OK = 0,
    GF_EINVAL,      /* bad argument or option */
    GF_ENOMEM,      /* allocation failed */
    GF_EIO,         /* read/write/open failed */
    GF_EFORMAT,     /* malformed input: bad header, ragged rows, wrong dtype */
    GF_ERANGE,      /* value or size outside its cap */
    GF_ENOTFOUND,   /* missing file, key, column or row */
    GF_EUNSUPPORTED,/* valid but not supported (e.g. pickled npy) */
    GF_EDB,         /* SQLite error */
    GF_ECRYPTO,     /* OpenSSL error */
    GF_ENUMERIC,    /* NaN/Inf or solver failure */
    GF_ESTATE,      /* call in the wrong state/phase */
    GF_ENET,        /* network error */
    GF_ENOTIMPL,    /* not built yet */
    GF_ERR_COUNT_
} gf_err;

const char *gf_strerror(gf_err e);

/* Record an error message (printf format) and return code e. */
gf_err gf_fail(gf_err e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The last message recorded on this thread ("" if none). */
const char *gf_errmsg(void);
void gf_errclear(void);

#define GF_TRY(expr) do { gf_err gf_e_ = (expr); if (gf_e_ != GF_OK) return gf_e_; } while (0)

#endif
