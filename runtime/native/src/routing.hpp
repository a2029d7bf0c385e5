// Routing between the compact and the heavy model (qualedge/routing.py): the statistics signals, the budgeted
// (fraction) and threshold rules, and the random control drawn exactly as numpy.random.default_rng(seed).permutation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qe {

// tiles: n tiles, each C x H x W float planar (RGB or luma), contiguous.
std::vector<float> tile_statistic(const std::string &signal, const float *tiles, int n, int c, int h, int w);
int heavy_count(int n_tiles, double fraction);
std::vector<uint8_t> route_fraction(const std::vector<float> &scores, double fraction);
std::vector<uint8_t> route_random(int n, double fraction, uint32_t seed);
std::vector<int64_t> numpy_permutation(int64_t n, uint64_t seed);

}  // namespace qe
