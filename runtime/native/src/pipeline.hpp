// A restore pipeline behind one C handle: super-resolution (restorer.hpp), AdaQual-Diff restoration (diffusion.hpp),
// or a chain of two (restoration then SR). All run on the tile engine (tile_engine.hpp).
#pragma once
#include <memory>
#include <string>

#include "qualedge.h"

namespace qe {

struct Options {
    int tile = 0, overlap = -1, batch = 4, threads = 0, policy = QE_POLICY_ADAPTIVE;
    float threshold = -1.f, heavy_fraction = -1.f;
    uint32_t seed = QE_SEED_DEFAULT;
    int precision = QE_PRECISION_BUNDLE;
    int restore_mode = QE_RESTORE_LOOP;
};

class Pipeline {
  public:
    virtual ~Pipeline() = default;
    virtual int scale() const = 0;
    // in and out are caller buffers of the same format; out is scale() times the input's size
    virtual void restore(const qe_image &in, const qe_image &out, qe_stats *stats) const = 0;
};

// Two pipelines in one call (open_chain); restore() fills stats with the last stage's, seconds_total the whole chain's.
class ChainPipeline : public Pipeline {
  public:
    virtual void restore_stages(const qe_image &in, const qe_image &out, qe_stats *first, qe_stats *second) const = 0;
};

// The pipeline for the bundle at ``path``: SR or restoration, by the manifest's policy kind.
std::unique_ptr<Pipeline> open_pipeline(const std::string &path, const Options &opts);
// Restoration (``restore_path``) then SR (``sr_path``) in one call; the intermediate image stays in memory.
std::unique_ptr<Pipeline> open_chain(const std::string &restore_path, const Options &restore_opts, const std::string &sr_path, const Options &sr_opts);

}  // namespace qe
