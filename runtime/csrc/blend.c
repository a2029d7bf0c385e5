/* qualedge fused tile blend: gather up to 4 overlapping tile samples per output pixel, weight (separable window x
 * per-tile quality), normalise, clamp to [0, 1], quantise with round-half-up, and pack RGB or BGR, in one pass.
 * Parallel over output rows with OpenMP when compiled with -fopenmp. See runtime/blend/reference.py for the
 * semantics (the tests compare both on random data and odd sizes). */
#include <stdint.h>

#define QE_BLEND_BODY(OUT_T, MAXV)                                                                                   \
    const long plane = (long)TH * TW;                                                                                \
    const long tile_elems = (long)C * plane;                                                                         \
    _Pragma("omp parallel for schedule(static)")                                                                    \
    for (int y = 0; y < nrows; y++) {                                                                                \
        const int rt[2] = {rt0[y], rt1[y]};                                                                          \
        const int ro[2] = {ro0[y], ro1[y]};                                                                          \
        const float rw[2] = {rw0[y], rw1[y]};                                                                        \
        OUT_T *orow = out + (long)y * out_row_stride;                                                                \
        for (int x = 0; x < W; x++) {                                                                                \
            const int ct[2] = {ct0[x], ct1[x]};                                                                      \
            const int co[2] = {co0[x], co1[x]};                                                                      \
            const float cw[2] = {cw0[x], cw1[x]};                                                                    \
            float acc[4] = {0.f, 0.f, 0.f, 0.f};                                                                     \
            float wsum = 0.f;                                                                                        \
            for (int a = 0; a < 2; a++) {                                                                            \
                if (rt[a] < 0) continue;                                                                             \
                for (int b = 0; b < 2; b++) {                                                                        \
                    if (ct[b] < 0) continue;                                                                         \
                    const long t = (long)rt[a] * NC + ct[b];                                                         \
                    float w = rw[a] * cw[b];                                                                         \
                    if (q) w *= q[t];                                                                                \
                    const float *s = tiles + t * tile_elems + (long)ro[a] * TW + co[b];                              \
                    for (int c = 0; c < C; c++) acc[c] += w * s[c * plane];                                          \
                    wsum += w;                                                                                       \
                }                                                                                                    \
            }                                                                                                        \
            const float inv = 1.f / wsum;                                                                            \
            OUT_T *px = orow + (long)x * C;                                                                          \
            for (int c = 0; c < C; c++) {                                                                            \
                float v = acc[c] * inv;                                                                              \
                v = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);                                                             \
                const int dst = (bgr && c < 3 && C >= 3) ? 2 - c : c;                                                \
                px[dst] = (OUT_T)(v * (MAXV) + 0.5f);                                                                \
            }                                                                                                        \
        }                                                                                                            \
    }

void qe_blend_u8(const float *tiles, int R, int NC, int C, int TH, int TW,
                 const int *rt0, const int *ro0, const float *rw0, const int *rt1, const int *ro1, const float *rw1, int nrows,
                 const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1, const float *cw1, int W,
                 const float *q, uint8_t *out, long out_row_stride, int bgr) {
    (void)R;
    QE_BLEND_BODY(uint8_t, 255.f)
}

void qe_blend_u16(const float *tiles, int R, int NC, int C, int TH, int TW,
                  const int *rt0, const int *ro0, const float *rw0, const int *rt1, const int *ro1, const float *rw1, int nrows,
                  const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1, const float *cw1, int W,
                  const float *q, uint16_t *out, long out_row_stride, int bgr) {
    (void)R;
    QE_BLEND_BODY(uint16_t, 65535.f)
}
