// Tile plans and blend gather maps, the same as runtime/tiling.py and runtime/blend/window.py (shared test vectors:
// tests/runtime/test_native.py compares the outputs of both runtimes pixel by pixel).
#pragma once
#include <vector>

namespace qe {

struct Axis {
    int length = 0, tile = 0;
    std::vector<int> starts;
};

// Even partition: n tiles of one size, starts spread evenly from 0 to length - tile (runtime/tiling.py).
Axis plan_axis(int length, int tile, int overlap, int multiple_of, bool fixed);

// Per output position in [first, stop): first covering tile, offset, weight; second tile (-1 when none).
struct AxisMap {
    std::vector<int> t0, o0, t1, o1;
    std::vector<float> w0, w1;
};
AxisMap axis_map(const std::vector<int> &starts, int size, int length, int scale, int first, int stop);

}  // namespace qe
