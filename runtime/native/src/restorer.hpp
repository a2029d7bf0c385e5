// The native SR pipeline (runtime/restorer.py without Python): pad, even tile plan, routing pass (quality head,
// statistics or gain head; fraction, threshold or the random control), batched inference per model with NaN/Inf
// detection and fp32 fall-back, the fused blend over a two-row ring, crop, alpha.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.hpp"
#include "engine.hpp"

namespace qe {

struct Options {
    int tile = 0, overlap = -1, batch = 4, threads = 0, policy = QE_POLICY_ADAPTIVE;
    float threshold = -1.f, heavy_fraction = -1.f;
    uint32_t seed = QE_SEED_DEFAULT;
    int precision = QE_PRECISION_BUNDLE;
};

class Restorer {
  public:
    Restorer(const std::string &bundle, const Options &opts);
    int scale() const { return scale_; }
    void restore(const qe_image &in, const qe_image &out, qe_stats *stats = nullptr) const;

  private:
    const Engine &fp32_engine(size_t i) const;
    Bundle bundle_;
    Options opts_;
    std::vector<ModelInfo> models_;  // compact[, heavy] as run
    std::vector<std::unique_ptr<Engine>> engines_;
    mutable std::vector<std::unique_ptr<Engine>> fp32_;  // fall-back engines, compiled on first use
    mutable std::mutex fp32_lock_;
    std::unique_ptr<Engine> qhead_, router_;
    std::string precision_, route_mode_, signal_;
    double heavy_fraction_ = 0, threshold_ = 0.5;
    uint32_t seed_ = 0;
    int scale_ = 1, in_channels_ = 3, multiple_ = 1, minimum_ = 1, fixed_ = 0, tile_ = 0, overlap_ = 16, threads_ = 0;
};

}  // namespace qe
