/* Progress lines go to stderr only when it is a terminal: quiet in pipes. */
#ifndef GF_LOG_H
#define GF_LOG_H

int gf_progress_enabled(void);
/* Overwrites the current terminal line; no-op when stderr is not a tty. */
void gf_progress(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void gf_progress_done(void);

#endif
