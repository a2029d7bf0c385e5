#include "pipeline.hpp"

#include <chrono>
#include <vector>

#include "common.hpp"
#include "diffusion.hpp"
#include "restorer.hpp"
#include "tile_engine.hpp"

namespace qe {

std::unique_ptr<Pipeline> open_pipeline(const std::string &path, const Options &opts) {
    Bundle b = load_bundle(path, QE_ABI_VERSION);
    if (b.kind == "restoration") return std::make_unique<DiffusionRestorer>(std::move(b), opts);
    return std::make_unique<SRRestorer>(std::move(b), opts);
}

namespace {

// Restoration then SR: the first stage writes an in-memory image of the input's format (quantised to its bit depth,
// alpha kept, as qualedge.runtime.chain does between stages), the second reads it.
class Chain : public ChainPipeline {
  public:
    Chain(std::unique_ptr<Pipeline> first, std::unique_ptr<Pipeline> second) : first_(std::move(first)), second_(std::move(second)) {}
    int scale() const override { return first_->scale() * second_->scale(); }
    void restore(const qe_image &in, const qe_image &out, qe_stats *stats) const override { restore_stages(in, out, nullptr, stats); }
    void restore_stages(const qe_image &in, const qe_image &out, qe_stats *first_stats, qe_stats *second_stats) const override {
        using clk = std::chrono::steady_clock;
        const auto t0 = clk::now();
        check_image(in, "input");
        const int s1 = first_->scale(), ch = channels_of(in.format), bytes = bytes_of(in.format);
        qe_image mid{sizeof(qe_image), in.width * s1, in.height * s1, in.format, (int64_t)in.width * s1 * ch * bytes, nullptr};
        std::vector<uint8_t> buf((size_t)mid.stride_bytes * mid.height);
        mid.data = buf.data();
        first_->restore(in, mid, first_stats);
        second_->restore(mid, out, second_stats);
        if (second_stats) second_stats->seconds_total = std::chrono::duration<double>(clk::now() - t0).count();  // the whole chain
    }

  private:
    std::unique_ptr<Pipeline> first_, second_;
};

}  // namespace

std::unique_ptr<Pipeline> open_chain(const std::string &restore_path, const Options &restore_opts, const std::string &sr_path, const Options &sr_opts) {
    auto first = open_pipeline(restore_path, restore_opts);
    if (first->scale() != 1 || dynamic_cast<DiffusionRestorer *>(first.get()) == nullptr)
        throw Error(QE_ERR_INVALID_ARGUMENT, "qe_create_chain: " + restore_path + " is not a restoration bundle (the chain's first stage restores at the input's size)");
    auto second = open_pipeline(sr_path, sr_opts);
    if (dynamic_cast<SRRestorer *>(second.get()) == nullptr)
        throw Error(QE_ERR_INVALID_ARGUMENT, "qe_create_chain: " + sr_path + " is not a super-resolution bundle");
    return std::make_unique<Chain>(std::move(first), std::move(second));
}

}  // namespace qe
