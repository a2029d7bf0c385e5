#include "routing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common.hpp"

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

// ---- numpy.random.default_rng(seed): SeedSequence -> PCG64 -> Generator.permutation (bit-exact) ----
namespace {

constexpr uint32_t INIT_A = 0x43b0d7e5, MULT_A = 0x931e8875, INIT_B = 0x8b51f9dd, MULT_B = 0x58f38ded;
constexpr uint32_t MIX_L = 0xca01f9dd, MIX_R = 0x4973f715;

void seed_sequence(uint64_t seed, uint64_t out[4]) {
    std::vector<uint32_t> ent;
    if (seed == 0) ent.push_back(0);
    for (uint64_t s = seed; s > 0; s >>= 32) ent.push_back((uint32_t)s);
    uint32_t pool[4], hc = INIT_A;
    auto hashmix = [&](uint32_t v) {
        v ^= hc;
        hc *= MULT_A;
        v *= hc;
        return v ^ (v >> 16);
    };
    auto mix = [](uint32_t x, uint32_t y) {
        uint32_t r = MIX_L * x - MIX_R * y;
        return r ^ (r >> 16);
    };
    for (int i = 0; i < 4; i++) pool[i] = hashmix(i < (int)ent.size() ? ent[i] : 0);
    for (int s = 0; s < 4; s++)
        for (int d = 0; d < 4; d++)
            if (s != d) pool[d] = mix(pool[d], hashmix(pool[s]));
    for (size_t s = 4; s < ent.size(); s++)
        for (int d = 0; d < 4; d++) pool[d] = mix(pool[d], hashmix(ent[s]));
    uint32_t words[8];
    hc = INIT_B;
    for (int i = 0; i < 8; i++) {
        uint32_t v = pool[i % 4] ^ hc;
        hc *= MULT_B;
        v *= hc;
        words[i] = v ^ (v >> 16);
    }
    for (int i = 0; i < 4; i++) out[i] = (uint64_t)words[2 * i] | ((uint64_t)words[2 * i + 1] << 32);
}

struct PCG64 {
    unsigned __int128 state = 0, inc = 0;
    bool has32 = false;
    uint32_t buf = 0;
    static constexpr unsigned __int128 MULT = ((unsigned __int128)2549297995355413924ULL << 64) + 4865540595714422341ULL;
    explicit PCG64(uint64_t seed) {
        uint64_t st[4];
        seed_sequence(seed, st);
        unsigned __int128 s = ((unsigned __int128)st[0] << 64) | st[1], i = ((unsigned __int128)st[2] << 64) | st[3];
        inc = (i << 1) | 1;
        step();
        state += s;
        step();
    }
    void step() { state = state * MULT + inc; }
    uint64_t next64() {
        step();
        uint64_t x = (uint64_t)(state >> 64) ^ (uint64_t)state;
        unsigned r = (unsigned)(state >> 122);
        return (x >> r) | (x << ((64 - r) & 63));
    }
    uint32_t next32() {
        if (has32) {
            has32 = false;
            return buf;
        }
        uint64_t n = next64();
        has32 = true;
        buf = (uint32_t)(n >> 32);
        return (uint32_t)n;
    }
    uint64_t interval(uint64_t mx) {
        if (mx == 0) return 0;
        uint64_t mask = mx;
        for (int sh : {1, 2, 4, 8, 16, 32}) mask |= mask >> sh;
        uint64_t v;
        if (mx <= 0xffffffffULL) {
            while ((v = (next32() & mask)) > mx) {
            }
        } else {
            while ((v = (next64() & mask)) > mx) {
            }
        }
        return v;
    }
};

}  // namespace

std::vector<int64_t> numpy_permutation(int64_t n, uint64_t seed) {
    std::vector<int64_t> a(n);
    std::iota(a.begin(), a.end(), 0);
    PCG64 g(seed);
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
