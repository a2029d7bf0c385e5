// Shared types of the native runtime: errors that carry a qe_status, and the bundle contract as the runtime reads it.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "qualedge.h"

namespace qe {

// Every failure inside the library is an Error with the status the C ABI returns and a message naming the input.
struct Error : std::runtime_error {
    qe_status status;
    Error(qe_status s, const std::string &msg) : std::runtime_error(msg), status(s) {}
};

struct SizeReq {
    int minimum = 1;
    int multiple_of = 1;
    int fixed_tile = 0;  // 0: any tile
};

struct ModelInfo {
    std::string name, role, arch_id;
    int scale = 1, in_channels = 3, out_channels = 3;
    SizeReq size;
    int tile_advice = 0;  // descriptor.tile_advice[0]: a tile that works well on a CPU
    std::string onnx_fp32;  // absolute path of the fp32 ONNX form
    std::string onnx_int8;  // absolute path of the int8 (QDQ) ONNX form, empty when the bundle has none
};

// The SR bundle policy (qualedge.bundle.SRPolicy), defaults as in Python.
struct SRPolicy {
    std::string quality_model, compact, heavy;  // empty: absent
    std::string router = "quality";
    std::optional<double> heavy_fraction;
    uint32_t seed = 0;
    double threshold = 0.5;
    int tile = 0;  // 0: automatic
    int overlap = 16;
    std::string precision = "fp32";
};

// The restoration bundle policy (qualedge.bundle.RestorationPolicy).
struct RestorationPolicy {
    std::string quality_model, restore, restore_step;  // the quality head, the unrolled graph, the per-step graph
    int steps = 0;
    std::vector<std::vector<double>> coefficients;  // per step: t, sqrt(ab_t), sqrt(1 - ab_t), sqrt(ab_prev), sqrt(1 - ab_prev)
    int tile = 0, overlap = 16;
    uint32_t seed = 0;
    double noise_scale = 1.0;  // 0: a regression model run from a zero residual
    std::string precision = "fp32", prompt_mode, objective = "diffusion";
};

struct Bundle {
    std::string folder;
    std::string kind = "sr";  // "sr" or "restoration"
    std::vector<ModelInfo> models;
    SRPolicy policy;
    RestorationPolicy restoration;
    const ModelInfo &model(const std::string &name) const;
};

// Read, validate and type <folder>/manifest.json (throws Error(QE_ERR_BUNDLE) naming the field).
Bundle load_bundle(const std::string &folder, uint32_t abi_version);

}  // namespace qe
