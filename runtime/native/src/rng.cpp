#include "rng.hpp"

#include <algorithm>
#include <cmath>

namespace qe {

namespace {
constexpr uint32_t INIT_A = 0x43b0d7e5, MULT_A = 0x931e8875, INIT_B = 0x8b51f9dd, MULT_B = 0x58f38ded;
constexpr uint32_t MIX_L = 0xca01f9dd, MIX_R = 0x4973f715;
}  // namespace

void seed_sequence(const std::vector<uint32_t> &ent, uint64_t out[4]) {
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

PCG64::PCG64(std::vector<uint32_t> words, bool trim_high_zero) {
    if (trim_high_zero && words.size() > 1 && words.back() == 0) words.pop_back();
    uint64_t st[4];
    seed_sequence(words, st);
    unsigned __int128 s = ((unsigned __int128)st[0] << 64) | st[1], i = ((unsigned __int128)st[2] << 64) | st[3];
    inc = (i << 1) | 1;
    step();
    state += s;
    step();
}

void PCG64::step() {
    static constexpr unsigned __int128 MULT = ((unsigned __int128)2549297995355413924ULL << 64) + 4865540595714422341ULL;
    state = state * MULT + inc;
}

uint64_t PCG64::next64() {
    step();
    uint64_t x = (uint64_t)(state >> 64) ^ (uint64_t)state;
    unsigned r = (unsigned)(state >> 122);
    return (x >> r) | (x << ((64 - r) & 63));
}

uint32_t PCG64::next32() {
    if (has32) {
        has32 = false;
        return buf;
    }
    uint64_t n = next64();
    has32 = true;
    buf = (uint32_t)(n >> 32);
    return (uint32_t)n;
}

uint64_t PCG64::interval(uint64_t mx) {
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

std::vector<float> tile_noise(uint32_t seed, int row, int col, size_t n) {
    PCG64 g({seed, (uint32_t)row, (uint32_t)col}, false);
    std::vector<float> out(n);
    const double two_pi = 6.283185307179586;
    for (size_t k = 0; k < n; k += 2) {
        double u1 = 1.0 - g.next_double(), u2 = g.next_double();
        double r = std::sqrt(-2.0 * std::log(u1)), a = two_pi * u2;
        out[k] = std::clamp((float)(r * std::cos(a)), -1.f, 1.f);
        if (k + 1 < n) out[k + 1] = std::clamp((float)(r * std::sin(a)), -1.f, 1.f);
    }
    return out;
}

}  // namespace qe
