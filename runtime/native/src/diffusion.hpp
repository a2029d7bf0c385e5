// AdaQual-Diff restoration on the tile engine (runtime/diffusion_restorer.py without Python): per tile row the
// quality head's dense maps, then the restoration graph with those maps and the tiles' seeded noise; the prompt
// module inside the graph does Algorithm 1 (regions, prompt complexity, pools). Unrolled K-step graph (one call per
// batch) or the per-step graph with the DDIM update here between calls. Output at the input's size.
#pragma once
#include <memory>
#include <string>

#include "common.hpp"
#include "engine.hpp"
#include "pipeline.hpp"
#include "tile_engine.hpp"

namespace qe {

class DiffusionRestorer : public Pipeline, private TileStrategy {
  public:
    DiffusionRestorer(Bundle bundle, const Options &opts);
    int scale() const override { return 1; }
    void restore(const qe_image &in, const qe_image &out, qe_stats *stats) const override;

  private:
    void route(const TileGrid &, const RowCrops &, std::vector<uint8_t> &, std::vector<float> &, double &) const override {}
    int infer_row(int i, const TileGrid &g, const std::vector<float> &crops, const std::vector<uint8_t> &decisions, std::vector<float> &quality, float *out,
                  double &seconds_quality) const override;
    std::vector<float> sample(const Engine &graph, const float *x, const float *q, const float *noise, size_t nb, int th, int tw, size_t qh, size_t qw) const;
    void check_bf16(const std::string &fp32_path) const;
    Bundle bundle_;
    Options opts_;
    Geometry geo_;
    std::unique_ptr<Engine> graph_, qhead_;
    bool unrolled_ = true;
    uint32_t seed_ = 0;
};

}  // namespace qe
