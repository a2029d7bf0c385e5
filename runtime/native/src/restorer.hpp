// Super-resolution on the tile engine (runtime/restorer.py without Python): the routing pass (quality head,
// statistics or gain head; fraction, threshold or the random control), batched inference per model with NaN/Inf
// detection and fp32 fall-back.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.hpp"
#include "engine.hpp"
#include "pipeline.hpp"
#include "tile_engine.hpp"

namespace qe {

class SRRestorer : public Pipeline, private TileStrategy {
  public:
    SRRestorer(Bundle bundle, const Options &opts);
    int scale() const override { return geo_.scale; }
    void restore(const qe_image &in, const qe_image &out, qe_stats *stats) const override;

  private:
    void route(const TileGrid &g, const RowCrops &row_crops, std::vector<uint8_t> &decisions, std::vector<float> &quality, double &seconds) const override;
    int infer_row(int i, const TileGrid &g, const std::vector<float> &crops, const std::vector<uint8_t> &decisions, std::vector<float> &quality, float *out,
                  double &seconds_quality) const override;
    const Engine &fp32_engine(size_t i) const;
    Bundle bundle_;
    Options opts_;
    Geometry geo_;
    std::vector<ModelInfo> models_;  // compact[, heavy] as run
    std::vector<std::unique_ptr<Engine>> engines_;
    mutable std::vector<std::unique_ptr<Engine>> fp32_;  // fall-back engines, compiled on first use
    mutable std::mutex fp32_lock_;
    std::unique_ptr<Engine> qhead_, router_;
    std::string precision_, route_mode_, signal_;
    double heavy_fraction_ = 0, threshold_ = 0.5;
    uint32_t seed_ = 0;
    int threads_ = 0;
};

}  // namespace qe
