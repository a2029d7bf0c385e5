#include "routing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common.hpp"
#include "rng.hpp"

namespace qe {

namespace {

std::vector<float> luma(const float *t, int c, int h, int w) {
    std::vector<float> y((size_t)h * w);
    size_t plane = (size_t)h * w;
    for (size_t i = 0; i < plane; i++) y[i] = c == 1 ? t[i] : 0.299f * t[i] + 0.587f * t[plane + i] + 0.114f * t[2 * plane + i];
    return y;
}

std::vector<float> grad2(const std::vector<float> &y, int h, int w) {
    std::vector<float> g((size_t)h * w, 0.f);
    for (int r = 0; r < h; r++)
        for (int x = 0; x < w; x++) {
            float gx = (x > 0 && x < w - 1) ? (y[(size_t)r * w + x + 1] - y[(size_t)r * w + x - 1]) * 0.5f : 0.f;
            float gy = (r > 0 && r < h - 1) ? (y[(size_t)(r + 1) * w + x] - y[(size_t)(r - 1) * w + x]) * 0.5f : 0.f;
            g[(size_t)r * w + x] = gx * gx + gy * gy;
        }
    return g;
}

}  // namespace

std::vector<float> tile_statistic(const std::string &signal, const float *tiles, int n, int c, int h, int w) {
    std::vector<float> out(n);
    size_t tile = (size_t)c * h * w;
    for (int i = 0; i < n; i++) {
        auto y = luma(tiles + i * tile, c, h, w);
        double acc = 0;
        if (signal == "gradient") {
            for (float v : grad2(y, h, w)) acc += v;
            out[i] = (float)(acc / ((double)h * w));
        } else if (signal == "edges") {
            for (float v : grad2(y, h, w)) acc += v > 0.1f * 0.1f;
            out[i] = (float)(acc / ((double)h * w));
        } else if (signal == "variance") {
            int b = std::min({8, h, w}), hb = std::max(1, h / 8), wb = std::max(1, w / 8);
            for (int by = 0; by < hb; by++)
                for (int bx = 0; bx < wb; bx++) {
                    double s = 0, s2 = 0;
                    for (int r = 0; r < b; r++)
                        for (int x = 0; x < b; x++) {
                            double v = y[(size_t)(by * b + r) * w + bx * b + x];
                            s += v, s2 += v * v;
                        }
                    double m = s / (b * b);
                    acc += s2 / (b * b) - m * m;
                }
            out[i] = (float)(acc / ((double)hb * wb));
        } else {
            throw Error(QE_ERR_INVALID_ARGUMENT, "unknown routing signal '" + signal + "'");
        }
    }
    return out;
}

int heavy_count(int n_tiles, double fraction) { return (int)std::ceil(fraction * n_tiles - 1e-9); }

std::vector<uint8_t> route_fraction(const std::vector<float> &scores, double fraction) {
    int n = (int)scores.size(), k = heavy_count(n, fraction);
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    auto key = [&](int i) { return std::isnan(scores[i]) ? -INFINITY : scores[i]; };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
    std::vector<uint8_t> mask(n, 0);
    for (int i = 0; i < k && i < n; i++) mask[order[i]] = 1;
    return mask;
}

std::vector<int64_t> numpy_permutation(int64_t n, uint64_t seed) {
    std::vector<int64_t> a(n);
    std::iota(a.begin(), a.end(), 0);
    PCG64 g({(uint32_t)seed, (uint32_t)(seed >> 32)}, true);
    for (int64_t i = n - 1; i > 0; i--) std::swap(a[i], a[g.interval((uint64_t)i)]);
    return a;
}

std::vector<uint8_t> route_random(int n, double fraction, uint32_t seed) {
    std::vector<uint8_t> mask(n, 0);
    auto p = numpy_permutation(n, seed);
    int k = heavy_count(n, fraction);
    for (int i = 0; i < k && i < n; i++) mask[p[i]] = 1;
    return mask;
}

}  // namespace qe
