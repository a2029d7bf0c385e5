// numpy.random.default_rng(entropy): SeedSequence -> PCG64, bit for bit, so that both runtimes draw the same numbers:
// the random routing control (Generator.permutation) and the restoration graphs' initial noise (qualedge/noise.py).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qe {

// SeedSequence(entropy).generate_state(4, uint64): entropy given as the uint32 words numpy makes of it.
void seed_sequence(const std::vector<uint32_t> &entropy, uint64_t out[4]);

struct PCG64 {
    unsigned __int128 state = 0, inc = 0;
    bool has32 = false;
    uint32_t buf = 0;
    // words: the entropy as uint32 words. An int seed s is {s} when s < 2^32 (s = 0 is {0}); trim: drop a zero high word.
    PCG64(std::vector<uint32_t> words, bool trim_high_zero);
    void step();
    uint64_t next64();
    uint32_t next32();
    uint64_t interval(uint64_t mx);          // Generator.integers' masked rejection, as permutation uses it
    double next_double() { return (double)(next64() >> 11) * (1.0 / 9007199254740992.0); }  // Generator.random()
};

// The initial noise of restoration tile (row, col) for ``seed`` (qualedge/noise.py tile_noise): n standard normal
// values (Box-Muller on Generator.random() doubles of default_rng([seed, row, col])), clipped to [-1, 1], float32.
std::vector<float> tile_noise(uint32_t seed, int row, int col, size_t n);

}  // namespace qe
