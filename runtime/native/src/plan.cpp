#include "plan.hpp"

#include <cmath>
#include <string>

#include "common.hpp"

namespace qe {

Axis plan_axis(int length, int tile, int overlap, int multiple_of, bool fixed) {
    if (tile <= 0 || overlap < 0) throw Error(QE_ERR_INVALID_ARGUMENT, "tile must be positive and overlap non-negative");
    if (overlap * 4 > tile)
        throw Error(QE_ERR_INVALID_ARGUMENT, "overlap " + std::to_string(overlap) + " is more than a quarter of the tile " + std::to_string(tile));
    auto up = [&](long v) { return (int)((v + multiple_of - 1) / multiple_of * multiple_of); };
    Axis a;
    a.length = length;
    if (length <= tile) {
        a.tile = fixed ? tile : up(length);
        a.starts = {0};
        return a;
    }
    long n = (length - overlap + (tile - overlap) - 1) / (tile - overlap);
    int t = fixed ? tile : up((length + (n - 1) * (long)overlap + n - 1) / n);
    a.tile = t;
    if (n == 1) {
        a.starts = {0};
        return a;
    }
    double step = (double)(length - t) / (double)(n - 1);
    for (long i = 0; i < n; i++) a.starts.push_back((int)std::nearbyint((double)i * step));  // Python's round: ties to even
    return a;
}

namespace {

std::vector<float> ramp(int n) {
    std::vector<float> r(n > 0 ? n : 0);
    for (int i = 0; i < n; i++) {
        double t = ((double)i + 0.5) / n;
        r[i] = (float)(0.5 - 0.5 * std::cos(M_PI * t));
    }
    return r;
}

std::vector<float> tile_weights(const std::vector<int> &starts, int size, size_t index) {
    std::vector<float> w(size, 1.f);
    int s = starts[index];
    if (index > 0) {
        int ov = starts[index - 1] + size - s;
        if (ov > 0) {
            auto r = ramp(ov);
            for (int k = 0; k < ov; k++) w[k] = std::min(w[k], r[k]);
        }
    }
    if (index + 1 < starts.size()) {
        int ov = s + size - starts[index + 1];
        if (ov > 0) {
            auto r = ramp(ov);
            for (int k = 0; k < ov; k++) w[size - ov + k] = std::min(w[size - ov + k], r[ov - 1 - k]);
        }
    }
    return w;
}

}  // namespace

AxisMap axis_map(const std::vector<int> &starts, int size, int length, int scale, int first, int stop) {
    int sz = size * scale;
    std::vector<int> st;
    for (int s : starts) st.push_back(s * scale);
    int n = stop - first;
    AxisMap m;
    m.t0.assign(n, -1);
    m.t1.assign(n, -1);
    m.o0.assign(n, 0);
    m.o1.assign(n, 0);
    m.w0.assign(n, 0.f);
    m.w1.assign(n, 0.f);
    for (size_t i = 0; i < st.size(); i++) {
        int lo = std::max(st[i], first), hi = std::min(st[i] + sz, stop);
        if (lo >= hi) continue;
        auto w = tile_weights(st, sz, i);
        for (int p = lo; p < hi; p++) {
            int k = p - first, off = p - st[i];
            if (m.t0[k] < 0) {
                m.t0[k] = (int)i, m.o0[k] = off, m.w0[k] = w[off];
            } else {
                if (m.t1[k] >= 0) throw Error(QE_ERR_RUNTIME, "a pixel is covered by more than two tiles; the overlap is too large for the tile");
                m.t1[k] = (int)i, m.o1[k] = off, m.w1[k] = w[off];
            }
        }
    }
    for (int k = 0; k < n; k++)
        if (m.t0[k] < 0) throw Error(QE_ERR_RUNTIME, "the tile plan leaves output pixels uncovered");
    (void)length;
    return m;
}

}  // namespace qe
