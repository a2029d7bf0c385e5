// The tile engine both native pipelines run on (runtime/tile_engine.py without Python): caller buffer -> float planes
// with reflect padding to the models' multiple -> even tile plan -> the strategy scores every tile (route) -> per
// tile row the strategy's inference (infer_row) into a two-row ring -> fused blend of the finished output rows ->
// crop, alpha (MATLAB bicubic x scale) -> caller buffer.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "qualedge.h"

namespace qe {

struct Geometry {
    int scale = 1, multiple = 1, minimum = 1, fixed = 0, tile = 0, overlap = 16;
};

struct TileGrid {
    int nr = 0, nc = 0, th = 0, tw = 0, channels = 3;
    size_t crop_elems() const { return (size_t)channels * th * tw; }
};

using RowCrops = std::function<std::vector<float>(int)>;  // tile row i -> nc x C x th x tw floats

class TileStrategy {
  public:
    virtual ~TileStrategy() = default;
    // score every tile before any runs: fill decisions (model index per tile) and quality (NaN where not computed)
    virtual void route(const TileGrid &g, const RowCrops &row_crops, std::vector<uint8_t> &decisions, std::vector<float> &quality, double &seconds) const = 0;
    // fill out (nc x C x th*s x tw*s) with tile row i's outputs; returns the tiles rerun in fp32
    virtual int infer_row(int i, const TileGrid &g, const std::vector<float> &crops, const std::vector<uint8_t> &decisions, std::vector<float> &quality,
                          float *out, double &seconds_quality) const = 0;
};

struct TileRun {
    TileGrid grid;
    int overlap = 0, fallbacks = 0;
    std::vector<uint8_t> decisions;
    std::vector<float> quality;
    double seconds_total = 0, seconds_routing = 0, seconds_inference = 0, seconds_blend = 0;
};

int channels_of(int fmt);
int bytes_of(int fmt);
void check_image(const qe_image &im, const char *which);
// in -> out (out: geometry.scale times the input's size, same format) through the strategy
TileRun run_tiles(const Geometry &geometry, const TileStrategy &strategy, const qe_image &in, const qe_image &out);
// the common part of qe_stats from a run
void fill_stats(const TileRun &run, int heavy_tiles, qe_stats *stats);

}  // namespace qe
