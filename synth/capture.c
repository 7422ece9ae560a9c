/* Capture-system error models: what a site's motion-capture pipeline does to
 * the true joint angles before they become model inputs. Labels never pass
 * through here (they come from the true kinematics).
 *
 * A cycle is sampled on linspace(0, 1, GF_T) from one right heel strike to the
 * next (both ends included, as gf_resample does), so it is periodic with
 * period GF_T - 1 samples: filtering wraps around instead of inventing edges. */
#include "synth/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERIOD (GF_T - 1)
#define KNEE_R 6 /* gf_in_cols: knee_angle_r */
#define KNEE_L 8 /* gf_in_cols: knee_angle_l */

const char *gf_capture_name(gf_capture_system s)
{
    switch (s) {
    case GF_CAPTURE_OPTICAL: return "optical";
    case GF_CAPTURE_INERTIAL: return "inertial";
    case GF_CAPTURE_MARKERLESS: return "markerless";
    }
    return "unknown";
}

gf_capture_profile gf_capture_default(gf_capture_system s)
{
    gf_capture_profile p = {.system = s};
    switch (s) {
    case GF_CAPTURE_OPTICAL: /* marker noise; inter-session placement offsets ~1 deg */
        p.noise_deg = 0.5, p.offset_sd_deg = 1.0;
        break;
    case GF_CAPTURE_INERTIAL: /* fusion noise; sensor-to-segment misalignment; gyro drift */
        p.noise_deg = 2.0, p.offset_sd_deg = 3.0, p.drift_deg = 1.5;
        break;
    case GF_CAPTURE_MARKERLESS: /* video keypoints: noisy, smoothed, one 30 fps frame late, knee bias */
        p.noise_deg = 3.0, p.offset_sd_deg = 2.0, p.lag_s = 1.0 / 30.0, p.smooth_s = 0.1;
        p.knee_bias_deg = 4.0;
        break;
    }
    return p;
}

static int wrap(int i) { return ((i % PERIOD) + PERIOD) % PERIOD; }

/* Zero-phase circular box filter of (fractional) width w samples: the
 * markerless pipeline's temporal smoothing. The box keeps the cycle mean. */
static void box_smooth(const double *in, double *out, double w)
{
    if (w <= 1.0) { memcpy(out, in, PERIOD * sizeof *out); return; }
    double h = (w - 1.0) / 2.0; /* taps at |j| <= h, the last one partially */
    int full = (int)floor(h);
    double edge = h - full;
    for (int i = 0; i < PERIOD; i++) {
        double s = 0;
        for (int j = -full; j <= full; j++) s += in[wrap(i + j)];
        if (edge > 0) s += edge * (in[wrap(i - full - 1)] + in[wrap(i + full + 1)]);
        out[i] = s / w;
    }
}

/* Circular delay by a fractional number of samples (linear interpolation). */
static void delay(const double *in, double *out, double lag)
{
    for (int i = 0; i < PERIOD; i++) {
        double pos = i - lag;
        double k = floor(pos), f = pos - k;
        out[i] = (1.0 - f) * in[wrap((int)k)] + f * in[wrap((int)k + 1)];
    }
}

/* The deterministic part of the pipeline for one channel: smoothing then lag,
 * written to out[0..GF_T-1] (the last sample is the next heel strike). */
static void filter_channel(const gf_capture_profile *p, double samples_per_s, const float *x_true, int c,
                           double *out)
{
    double a[PERIOD], b[PERIOD];
    for (int i = 0; i < PERIOD; i++) a[i] = x_true[(size_t)i * GF_DIN + c];
    /* Capped below one period: a window or lag of a whole cycle is meaningless. */
    double w = fmin(p->smooth_s * samples_per_s, PERIOD - 1.0);
    double lag = fmin(p->lag_s * samples_per_s, PERIOD - 1.0);
    box_smooth(a, b, w);
    if (lag > 0) delay(b, a, lag);
    else memcpy(a, b, sizeof a);
    for (int i = 0; i < PERIOD; i++) out[i] = a[i];
    out[GF_T - 1] = a[0];
}

void gf_capture_apply(const gf_capture_profile *p, double cycle_s, gf_rng *session_rng, gf_rng *noise_rng,
                      const float *x_true, float *x_meas)
{
    /* Session offsets (sensor-to-segment alignment, marker placement) come
     * from session_rng so every cycle of one session shares them. The normals
     * are drawn even when an SD is zero, so profiles that differ only in an
     * amplitude consume the streams identically. */
    double offset[GF_DIN], drift[GF_DIN];
    for (int c = 0; c < GF_DIN; c++) offset[c] = p->offset_sd_deg * gf_rng_normal(session_rng);
    for (int c = 0; c < GF_DIN; c++) drift[c] = p->drift_deg * gf_rng_normal(noise_rng);
    double samples_per_s = cycle_s > 0 && isfinite(cycle_s) ? PERIOD / cycle_s : 0.0;
    double sig[GF_T];
    for (int c = 0; c < GF_DIN; c++) {
        filter_channel(p, samples_per_s, x_true, c, sig);
        double bias = (c == KNEE_R || c == KNEE_L) ? p->knee_bias_deg : 0.0;
        for (int i = 0; i < GF_T; i++) {
            /* Drift: a linear ramp over the cycle (inertial integration),
             * centred so it does not shift the session offset. */
            double ramp = drift[c] * ((double)i / (GF_T - 1) - 0.5);
            x_meas[(size_t)i * GF_DIN + c] = (float)(sig[i] + bias + offset[c] + ramp);
        }
    }
    for (int i = 0; i < GF_T; i++)
        for (int c = 0; c < GF_DIN; c++)
            x_meas[(size_t)i * GF_DIN + c] += (float)(p->noise_deg * gf_rng_normal(noise_rng));
}

char *gf_capture_json(const gf_capture_profile *p)
{
    const char *fmt = "{\"system\":\"%s\",\"noise_deg\":%.10g,\"offset_sd_deg\":%.10g,\"drift_deg\":%.10g,"
                      "\"lag_s\":%.10g,\"smooth_s\":%.10g,\"knee_bias_deg\":%.10g}";
    int n = snprintf(NULL, 0, fmt, gf_capture_name(p->system), p->noise_deg, p->offset_sd_deg, p->drift_deg,
                     p->lag_s, p->smooth_s, p->knee_bias_deg);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    snprintf(s, (size_t)n + 1, fmt, gf_capture_name(p->system), p->noise_deg, p->offset_sd_deg, p->drift_deg,
             p->lag_s, p->smooth_s, p->knee_bias_deg);
    return s;
}
