#include "resize.hpp"

#include <cmath>

namespace qe {

namespace {

double cubic(double x) {
    double a = std::fabs(x), a2 = a * a, a3 = a2 * a;
    if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
    if (a <= 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
    return 0;
}

struct Contrib {
    std::vector<int> idx;  // out_len x taps
    std::vector<float> w;
    int taps = 0;
};

Contrib contributions(int in_len, int out_len, double scale) {
    const int p = 6;  // ceil(4) + 2 taps; zero columns change nothing in the sum
    Contrib c;
    c.taps = p;
    c.idx.resize((size_t)out_len * p);
    c.w.resize((size_t)out_len * p);
    for (int o = 0; o < out_len; o++) {
        double u = (o + 1) / scale + 0.5 * (1 - 1 / scale);
        double left = std::floor(u - 2.0);
        double ws[p], sum = 0;
        for (int k = 0; k < p; k++) sum += ws[k] = cubic(u - (left + k));
        for (int k = 0; k < p; k++) {
            long i = (long)(left + k) - 1;  // 1-based MATLAB index -> 0-based, then mirror
            long period = 2L * in_len;
            long m = ((i % period) + period) % period;
            c.idx[(size_t)o * p + k] = (int)(m < in_len ? m : period - 1 - m);
            c.w[(size_t)o * p + k] = (float)(ws[k] / sum);
        }
    }
    return c;
}

}  // namespace

std::vector<float> imresize_up(const std::vector<float> &img, int h, int w, int scale) {
    int oh = h * scale, ow = w * scale;
    // equal factors: MATLAB order is rows first (stable sort of equal scales keeps axis 0 first)
    Contrib cr = contributions(h, oh, scale), cc = contributions(w, ow, scale);
    std::vector<float> tmp((size_t)oh * w), out((size_t)oh * ow);
    for (int o = 0; o < oh; o++)
        for (int x = 0; x < w; x++) {
            float acc = 0.f;
            for (int k = 0; k < cr.taps; k++) acc += img[(size_t)cr.idx[(size_t)o * cr.taps + k] * w + x] * cr.w[(size_t)o * cr.taps + k];
            tmp[(size_t)o * w + x] = acc;
        }
    for (int r = 0; r < oh; r++)
        for (int o = 0; o < ow; o++) {
            float acc = 0.f;
            for (int k = 0; k < cc.taps; k++) acc += tmp[(size_t)r * w + cc.idx[(size_t)o * cc.taps + k]] * cc.w[(size_t)o * cc.taps + k];
            out[(size_t)r * ow + o] = acc;
        }
    return out;
}

}  // namespace qe
