/* Inline SVG charts for the report: line chart, grouped bars, heat map and
 * mean +- SD bands. No script, no external references; every label is
 * escaped. Each chart is one <svg id=… data-chart=…> so a test can find it. */
#include "coordinator/report_internal.h"

#include <math.h>
#include <stdio.h>

static const char *const PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
#define NPAL (int)(sizeof PALETTE / sizeof *PALETTE)

enum { W = 660, H = 300, ML = 62, MR = 200, MT = 34, MB = 48 };

static void open_svg(gf_rbuf *b, const char *id, const char *title, int w, int h)
{
    gf_rb_raw(b, "<svg class=\"chart\" id=\"");
    gf_rb_html(b, id);
    gf_rb_raw(b, "\" data-chart=\"");
    gf_rb_html(b, id);
    gf_rb_put(b, "\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>", w, h, w, h);
    gf_rb_html(b, title);
    gf_rb_put(b, "</title><rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>"
                 "<text x=\"%d\" y=\"20\" class=\"ct\">", w, h, 8);
    gf_rb_html(b, title);
    gf_rb_raw(b, "</text>");
}

static void no_data(gf_rbuf *b, int w, int h)
{
    gf_rb_put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"nd\">no data</text></svg>", w / 2, h / 2);
}

typedef struct { double lo, hi; } range;

static void widen(range *r, double v)
{
    if (!isfinite(v)) return;
    if (v < r->lo) r->lo = v;
    if (v > r->hi) r->hi = v;
}

/* A padded range; zero-based when all values are >= 0. */
static range finish(range r, int from_zero)
{
    if (r.lo > r.hi) return r;
    if (from_zero && r.lo >= 0) r.lo = 0;
    double pad = (r.hi - r.lo) * 0.05;
    if (pad == 0) pad = fabs(r.hi) > 0 ? fabs(r.hi) * 0.1 : 1;
    if (!(from_zero && r.lo == 0)) r.lo -= pad;
    r.hi += pad;
    return r;
}

static double sx(range r, double v, int x0, int x1) { return x0 + (v - r.lo) / (r.hi - r.lo) * (x1 - x0); }
static double sy(range r, double v, int y0, int y1) { return y1 - (v - r.lo) / (r.hi - r.lo) * (y1 - y0); }

static void axes(gf_rbuf *b, range xr, range yr, int x_int, const char *xlabel, const char *ylabel, int w, int h,
                 int mr)
{
    int x0 = ML, x1 = w - mr, y0 = MT, y1 = h - MB;
    gf_rb_put(b, "<g class=\"ax\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>",
              x0, y1, x1, y1, x0, y0, x0, y1);
    for (int i = 0; i <= 4; i++) {
        double v = yr.lo + (yr.hi - yr.lo) * i / 4;
        double y = sy(yr, v, y0, y1);
        gf_rb_put(b, "<line class=\"gr\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                     "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>", x0, y, x1, y, x0 - 4, y + 4, v);
    }
    if (xr.lo <= xr.hi) {
        /* integer axes (versions, rounds): a tick every step integers */
        double step = (xr.hi - xr.lo) / 5;
        if (x_int) step = ceil(step) < 1 ? 1 : ceil(step);
        for (double v = x_int ? ceil(xr.lo) : xr.lo; v <= xr.hi + 1e-9; v += step)
            gf_rb_put(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>", sx(xr, v, x0, x1), y1 + 16, v);
    }
    gf_rb_put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (x0 + x1) / 2, h - 10);
    gf_rb_html(b, xlabel);
    gf_rb_put(b, "</text><text transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">", (y0 + y1) / 2);
    gf_rb_html(b, ylabel);
    gf_rb_raw(b, "</text></g>");
}

static void legend(gf_rbuf *b, int i, const char *label, const char *colour, int dashed, int w, int mr)
{
    int x = w - mr + 12, y = MT + 6 + 18 * i;
    gf_rb_put(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"%s/>"
                 "<text x=\"%d\" y=\"%d\">", x, y, x + 18, y, colour, dashed ? " stroke-dasharray=\"5 3\"" : "",
              x + 24, y + 4);
    gf_rb_html(b, label);
    gf_rb_raw(b, "</text>");
}

void gf_svg_lines(gf_rbuf *b, const char *id, const char *title, const char *xlabel, const char *ylabel,
                  const gf_svg_series *s, int ns)
{
    range xr = {INFINITY, -INFINITY}, yr = {INFINITY, -INFINITY};
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].y[i])) widen(&xr, s[k].x[i]), widen(&yr, s[k].y[i]);
    open_svg(b, id, title, W, H);
    if (yr.lo > yr.hi) { no_data(b, W, H); return; }
    if (xr.lo == xr.hi) xr.lo -= 0.5, xr.hi += 0.5;
    yr = finish(yr, 1);
    int x_int = 1;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) x_int &= s[k].x[i] == round(s[k].x[i]);
    axes(b, xr, yr, x_int, xlabel, ylabel, W, H, MR);
    for (int k = 0; k < ns; k++) {
        const char *col = PALETTE[k % NPAL];
        gf_rb_put(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"", col,
                  s[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
        int pen = 0;
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].y[i])) { pen = 0; continue; }
            gf_rb_put(b, "%c%.1f %.1f ", pen ? 'L' : 'M', sx(xr, s[k].x[i], ML, W - MR), sy(yr, s[k].y[i], MT, H - MB));
            pen = 1;
        }
        gf_rb_raw(b, "\"/>");
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].y[i]))
                gf_rb_put(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", sx(xr, s[k].x[i], ML, W - MR),
                          sy(yr, s[k].y[i], MT, H - MB), col);
        legend(b, k, s[k].label, col, s[k].dashed, W, MR);
    }
    gf_rb_raw(b, "</svg>");
}

void gf_svg_bars(gf_rbuf *b, const char *id, const char *title, const char *ylabel, const char *const *groups,
                 int ng, const char *const *series, int ns, const double *v)
{
    range yr = {INFINITY, -INFINITY};
    for (int i = 0; i < ng * ns; i++) widen(&yr, v[i]);
    int w = ng * ns > 24 ? ML + MR + ng * (ns * 14 + 8) : W;
    open_svg(b, id, title, w, H);
    if (yr.lo > yr.hi || ns == 0) { no_data(b, w, H); return; }
    yr = finish(yr, 1);
    range none = {1, 0};
    axes(b, none, yr, 0, "", ylabel, w, H, MR);
    int x0 = ML, x1 = w - MR, y1 = H - MB;
    double gw = (double)(x1 - x0) / ng, bw = gw * 0.8 / ns;
    int rot = ng > 8;
    for (int g = 0; g < ng; g++) {
        double gx = x0 + gw * g + gw * 0.1;
        for (int k = 0; k < ns; k++) {
            double val = v[g * ns + k];
            if (!isfinite(val)) continue;
            double y = sy(yr, val, MT, y1), y0v = sy(yr, yr.lo < 0 && yr.hi > 0 ? 0 : yr.lo, MT, y1);
            double top = y < y0v ? y : y0v, hgt = fabs(y0v - y);
            gf_rb_put(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%.4g</title></rect>",
                      gx + bw * k, top, bw * 0.92, hgt, PALETTE[k % NPAL], val);
            if (ng * ns <= 24)
                gf_rb_put(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"bv\">%.3g</text>",
                          gx + bw * (k + 0.46), top - 3, val);
        }
        double cx = x0 + gw * (g + 0.5);
        if (rot) gf_rb_put(b, "<text transform=\"translate(%.1f %d) rotate(-45)\" text-anchor=\"end\">", cx, y1 + 12);
        else gf_rb_put(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", cx, y1 + 16);
        gf_rb_html(b, groups[g]);
        gf_rb_raw(b, "</text>");
    }
    for (int k = 0; k < ns; k++) legend(b, k, series[k], PALETTE[k % NPAL], 0, w, MR);
    gf_rb_raw(b, "</svg>");
}

/* Green (low) -> yellow -> red (high), light enough for black digits. */
static void heat_colour(double t, int rgb[3])
{
    double h = 120.0 * (1 - t) / 60.0, s = 0.6, l = 0.72;
    double c = (1 - fabs(2 * l - 1)) * s, x = c * (1 - fabs(fmod(h, 2) - 1)), m = l - c / 2;
    double r = h < 1 ? c : x, g = h < 1 ? x : c;
    rgb[0] = (int)lround((r + m) * 255), rgb[1] = (int)lround((g + m) * 255), rgb[2] = (int)lround(m * 255);
}

void gf_svg_heat(gf_rbuf *b, const char *id, const char *title, const char *const *rows, int nr,
                 const char *const *cols, int nc, const double *v)
{
    range r = {INFINITY, -INFINITY};
    for (int i = 0; i < nr * nc; i++) widen(&r, v[i]);
    int lw = 170, cw = nc > 0 && 560 / nc < 110 ? 560 / nc : 110, ch = 34, top = 130;
    int w = lw + cw * nc + 20, h = top + ch * nr + 20;
    if (w < 400) w = 400;
    open_svg(b, id, title, w, h);
    if (r.lo > r.hi) { no_data(b, w, h); return; }
    for (int c = 0; c < nc; c++) {
        gf_rb_put(b, "<text transform=\"translate(%d %d) rotate(-30)\">", lw + cw * c + cw / 2 - 8, top - 8);
        gf_rb_html(b, cols[c]);
        gf_rb_raw(b, "</text>");
    }
    for (int i = 0; i < nr; i++) {
        gf_rb_put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 8, top + ch * i + ch / 2 + 4);
        gf_rb_html(b, rows[i]);
        gf_rb_raw(b, "</text>");
        for (int c = 0; c < nc; c++) {
            double val = v[i * nc + c];
            int rgb[3] = {230, 230, 230};
            if (isfinite(val)) heat_colour(r.hi > r.lo ? (val - r.lo) / (r.hi - r.lo) : 0.5, rgb);
            gf_rb_put(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"/>"
                         "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"hv\">",
                      lw + cw * c, top + ch * i, cw, ch, rgb[0], rgb[1], rgb[2], lw + cw * c + cw / 2,
                      top + ch * i + ch / 2 + 4);
            gf_rb_num(b, val, 3);
            gf_rb_raw(b, "</text>");
        }
    }
    gf_rb_raw(b, "</svg>");
}

static void band_path(gf_rbuf *b, range xr, range yr, int T, const double *m, const double *sd, const char *col,
                      int dashed)
{
    gf_rb_put(b, "<path fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" d=\"", col);
    for (int i = 0; i < T; i++)
        gf_rb_put(b, "%c%.1f %.1f ", i ? 'L' : 'M', sx(xr, 100.0 * i / (T - 1), ML, W - MR),
                  sy(yr, m[i] + sd[i], MT, H - MB));
    for (int i = T - 1; i >= 0; i--)
        gf_rb_put(b, "L%.1f %.1f ", sx(xr, 100.0 * i / (T - 1), ML, W - MR), sy(yr, m[i] - sd[i], MT, H - MB));
    gf_rb_put(b, "Z\"/><path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"", col,
              dashed ? " stroke-dasharray=\"6 4\"" : "");
    for (int i = 0; i < T; i++)
        gf_rb_put(b, "%c%.1f %.1f ", i ? 'L' : 'M', sx(xr, 100.0 * i / (T - 1), ML, W - MR), sy(yr, m[i], MT, H - MB));
    gf_rb_raw(b, "\"/>");
}

void gf_svg_band(gf_rbuf *b, const char *id, const char *title, const char *ylabel, int T, const double *ref_m,
                 const double *ref_sd, const double *pred_m, const double *pred_sd)
{
    range yr = {INFINITY, -INFINITY}, xr = {0, 100};
    int ok = T >= 2;
    for (int i = 0; ok && i < T; i++) {
        ok = isfinite(ref_m[i]) && isfinite(ref_sd[i]) && isfinite(pred_m[i]) && isfinite(pred_sd[i]);
        widen(&yr, ref_m[i] + ref_sd[i]), widen(&yr, ref_m[i] - ref_sd[i]);
        widen(&yr, pred_m[i] + pred_sd[i]), widen(&yr, pred_m[i] - pred_sd[i]);
    }
    open_svg(b, id, title, W, H);
    if (!ok || yr.lo > yr.hi) { no_data(b, W, H); return; }
    yr = finish(yr, 0);
    axes(b, xr, yr, 1, "gait cycle (%)", ylabel, W, H, MR);
    band_path(b, xr, yr, T, ref_m, ref_sd, PALETTE[0], 0);
    band_path(b, xr, yr, T, pred_m, pred_sd, PALETTE[3], 1);
    legend(b, 0, "reference mean \xc2\xb1 SD", PALETTE[0], 0, W, MR);
    legend(b, 1, "predicted mean \xc2\xb1 SD", PALETTE[3], 1, W, MR);
    gf_rb_raw(b, "</svg>");
}
