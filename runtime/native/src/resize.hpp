// MATLAB-compatible bicubic upscaling (qualedge/data/resize.py, scale >= 1: Keys a = -0.5, symmetric borders), used
// for the alpha channel, which the models do not see.
#pragma once
#include <vector>

namespace qe {
std::vector<float> imresize_up(const std::vector<float> &img, int h, int w, int scale);
}
