#include "restorer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <chrono>
#include <fstream>

#include "routing.hpp"

namespace qe {

namespace {

constexpr int DEFAULT_BUDGET_MB = 1024;  // as runtime/restorer.py

long available_mb() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    long kb;
    std::string unit;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb / 1024;
    return 4096;
}

int auto_tile(const ModelInfo &m, int batch) {
    int advice = m.tile_advice;
    if (m.size.fixed_tile) return m.size.fixed_tile;
    long budget = std::min<long>(DEFAULT_BUDGET_MB, available_mb() / 4);
    double per_px = 2.0 * 4 * 64 * std::max(1, m.scale) * std::max(1, m.scale);
    int side = (int)std::sqrt(budget * 1048576.0 / (per_px * std::max(1, batch)));
    side = std::max(64, std::min(1024, side / 8 * 8));
    return std::min(side, std::max(64, advice * 2));
}

// Mean of each tile's output map (quality head cells, gain head cells): n values.
std::vector<float> tile_means(const Engine &e, const std::vector<float> &crops, int n, int c, int h, int w) {
    std::vector<size_t> shape;
    auto y = e.run(crops.data(), n, c, h, w, shape);
    size_t per = y.size() / n;
    std::vector<float> out(n);
    for (int j = 0; j < n; j++) {
        double acc = 0;
        for (size_t k = 0; k < per; k++) acc += y[j * per + k];
        out[j] = (float)(acc / per);
    }
    return out;
}

bool is_signal(const std::string &s) { return s == "quality" || s == "gradient" || s == "variance" || s == "edges"; }

}  // namespace

SRRestorer::SRRestorer(Bundle bundle, const Options &o) : bundle_(std::move(bundle)), opts_(o) {
    const std::string &path = bundle_.folder;
    const SRPolicy &pol = bundle_.policy;
    if (o.policy < QE_POLICY_ADAPTIVE || o.policy > QE_POLICY_RANDOM) throw Error(QE_ERR_INVALID_ARGUMENT, "policy " + std::to_string(o.policy) + " is not a qe_policy");
    if (o.batch < 1) throw Error(QE_ERR_INVALID_ARGUMENT, "batch must be >= 1");
    if (o.tile < 0 || o.threads < 0) throw Error(QE_ERR_INVALID_ARGUMENT, "tile and threads must be >= 0 (0: automatic)");
    if (o.precision == QE_PRECISION_BUNDLE) {
        precision_ = pol.precision == "bf16" || pol.precision == "int8" ? pol.precision : "fp32";  // fp16 runs in fp32 on the CPU
    } else if (o.precision >= QE_PRECISION_FP32 && o.precision <= QE_PRECISION_INT8) {
        precision_ = o.precision == QE_PRECISION_BF16 ? "bf16" : (o.precision == QE_PRECISION_INT8 ? "int8" : "fp32");
    } else {
        throw Error(QE_ERR_INVALID_ARGUMENT, "precision " + std::to_string(o.precision) + " is not a qe_precision");
    }
    geo_.overlap = o.overlap >= 0 ? o.overlap : pol.overlap;
    threads_ = o.threads;
    std::vector<const ModelInfo *> srs;
    for (const auto &m : bundle_.models)
        if (m.role == "sr") srs.push_back(&m);
    if (srs.empty()) throw Error(QE_ERR_BUNDLE, "bundle " + path + " has no super-resolution model");
    const ModelInfo &compact = pol.compact.empty() ? *srs[0] : bundle_.model(pol.compact);
    const ModelInfo *heavy = pol.heavy.empty() ? nullptr : &bundle_.model(pol.heavy);
    if ((o.policy == QE_POLICY_HEAVY || o.policy == QE_POLICY_RANDOM) && !heavy)
        throw Error(QE_ERR_INVALID_ARGUMENT, "this policy needs a heavy model; bundle " + path + " has only " + compact.name);
    // routing (runtime/restorer.py _setup_routing)
    seed_ = o.seed != QE_SEED_DEFAULT ? o.seed : pol.seed;
    bool hf = o.heavy_fraction >= 0, th = o.threshold >= 0;
    if (hf && th) throw Error(QE_ERR_INVALID_ARGUMENT, "give either heavy_fraction (a budget) or threshold (a quality level), not both");
    if (o.policy == QE_POLICY_RANDOM && th) throw Error(QE_ERR_INVALID_ARGUMENT, "the random policy spends a budget: give heavy_fraction, not threshold");
    if (hf) {
        if (!(o.heavy_fraction <= 1.f)) throw Error(QE_ERR_INVALID_ARGUMENT, "heavy_fraction must be in [0, 1], got " + std::to_string(o.heavy_fraction));
        route_mode_ = "fraction", heavy_fraction_ = o.heavy_fraction;
    } else if (th) {
        if (o.threshold > 1.f) throw Error(QE_ERR_INVALID_ARGUMENT, "threshold must be a quality in [0, 1], got " + std::to_string(o.threshold));
        route_mode_ = "threshold", threshold_ = o.threshold;
    } else if (pol.heavy_fraction || o.policy == QE_POLICY_RANDOM) {
        if (!pol.heavy_fraction) throw Error(QE_ERR_INVALID_ARGUMENT, "policy 'random' needs heavy_fraction; bundle " + path + " sets no default fraction");
        route_mode_ = "fraction", heavy_fraction_ = *pol.heavy_fraction;
    } else {
        route_mode_ = "threshold", threshold_ = pol.threshold;
    }
    std::string router_model;
    if (is_signal(pol.router)) {
        signal_ = pol.router;
    } else {
        const ModelInfo &r = bundle_.model(pol.router);
        if (r.role != "router") throw Error(QE_ERR_BUNDLE, "policy router '" + pol.router + "' is a " + r.role + " model, not a router");
        signal_ = "gain", router_model = pol.router;
    }
    std::vector<const ModelInfo *> planned{&compact};
    if (heavy) planned.push_back(heavy);
    for (auto *m : planned) {
        if (m->scale != compact.scale || m->in_channels != compact.in_channels)
            throw Error(QE_ERR_BUNDLE, "models " + compact.name + " and " + m->name + " differ in scale or channels; they cannot share a tile plan");
        if (m->in_channels != 3)
            throw Error(QE_ERR_UNSUPPORTED, "model " + m->name + " takes " + std::to_string(m->in_channels) + " channel(s); the native runtime runs RGB models (use --engine python for luma models)");
        if (m->onnx_fp32.empty()) throw Error(QE_ERR_BUNDLE, "model " + m->name + " has no fp32 ONNX form; re-export the bundle");
        if (precision_ == "int8" && m->onnx_int8.empty())
            throw Error(QE_ERR_BUNDLE, "model " + m->name + " has no int8 form; export the bundle with --precision int8 --calibration DIR");
    }
    if (o.policy == QE_POLICY_COMPACT || !heavy) models_ = {compact};
    else if (o.policy == QE_POLICY_HEAVY) models_ = {*heavy};
    else models_ = {compact, *heavy};
    geo_.scale = compact.scale;
    for (auto *m : planned) {
        geo_.multiple = std::max(geo_.multiple, m->size.multiple_of);
        geo_.minimum = std::max(geo_.minimum, m->size.minimum);
        if (!geo_.fixed && m->size.fixed_tile) geo_.fixed = m->size.fixed_tile;
    }
    geo_.tile = o.tile ? o.tile : (pol.tile ? pol.tile : auto_tile(*planned.back(), o.batch));
    if (geo_.fixed) geo_.tile = geo_.fixed;
    for (const auto &m : models_)
        engines_.push_back(std::make_unique<Engine>(precision_ == "int8" ? m.onnx_int8 : m.onnx_fp32, m.name, precision_, threads_));
    fp32_.resize(models_.size());
    bool routed = models_.size() > 1;
    bool adaptive = o.policy == QE_POLICY_ADAPTIVE;
    bool needs_q = routed && (route_mode_ == "threshold" || (adaptive && signal_ == "quality"));
    if (needs_q) {
        if (pol.quality_model.empty()) throw Error(QE_ERR_BUNDLE, "quality routing needs a quality model in the bundle (export with the quality head)");
        const ModelInfo &q = bundle_.model(pol.quality_model);
        qhead_ = std::make_unique<Engine>(q.onnx_fp32, q.name, "fp32", threads_);
    }
    if (routed && adaptive && route_mode_ == "fraction" && signal_ == "gain") {
        const ModelInfo &r = bundle_.model(router_model);
        router_ = std::make_unique<Engine>(r.onnx_fp32, r.name, "fp32", threads_);
    }
}

const Engine &SRRestorer::fp32_engine(size_t i) const {
    std::lock_guard<std::mutex> g(fp32_lock_);
    if (!fp32_[i]) fp32_[i] = std::make_unique<Engine>(models_[i].onnx_fp32, models_[i].name, "fp32", threads_);
    return *fp32_[i];
}

void SRRestorer::route(const TileGrid &g, const RowCrops &row_crops, std::vector<uint8_t> &decisions, std::vector<float> &quality, double &seconds) const {
    using clk = std::chrono::steady_clock;
    const auto t0 = clk::now();
    const int nr = g.nr, nc = g.nc, C = g.channels, th = g.th, tw = g.tw;
    if (models_.size() > 1) {
        std::vector<float> scores((size_t)nr * nc, NAN);
        bool fraction_scores = opts_.policy == QE_POLICY_ADAPTIVE && route_mode_ == "fraction";
        if (qhead_ || fraction_scores) {
            for (int i = 0; i < nr; i++) {
                auto crops = row_crops(i);
                if (qhead_) {
                    auto q = tile_means(*qhead_, crops, nc, C, th, tw);
                    std::copy(q.begin(), q.end(), quality.begin() + (size_t)i * nc);
                }
                if (fraction_scores) {
                    if (signal_ == "quality") {
                        for (int j = 0; j < nc; j++) scores[(size_t)i * nc + j] = 1.f - quality[(size_t)i * nc + j];
                    } else if (signal_ == "gain") {
                        auto gm = tile_means(*router_, crops, nc, C, th, tw);
                        std::copy(gm.begin(), gm.end(), scores.begin() + (size_t)i * nc);
                    } else {
                        auto st = tile_statistic(signal_, crops.data(), nc, C, th, tw);
                        std::copy(st.begin(), st.end(), scores.begin() + (size_t)i * nc);
                    }
                }
            }
        }
        if (opts_.policy == QE_POLICY_RANDOM) decisions = route_random(nr * nc, heavy_fraction_, seed_);
        else if (fraction_scores) decisions = route_fraction(scores, heavy_fraction_);
        else
            for (size_t k = 0; k < decisions.size(); k++) decisions[k] = quality[k] < threshold_;
    }
    seconds += std::chrono::duration<double>(clk::now() - t0).count();
}

int SRRestorer::infer_row(int i, const TileGrid &g, const std::vector<float> &crops, const std::vector<uint8_t> &decisions, std::vector<float> &,
                          float *slot, double &) const {
    const int nc = g.nc, C = g.channels, th = g.th, tw = g.tw, s = geo_.scale;
    const size_t tile_elems = (size_t)C * th * s * tw * s;
    int fallbacks = 0;
    for (size_t mi = 0; mi < engines_.size(); mi++) {
        std::vector<int> idx;
        for (int j = 0; j < nc; j++)
            if (decisions[(size_t)i * nc + j] == mi) idx.push_back(j);
        for (size_t b0 = 0; b0 < idx.size(); b0 += opts_.batch) {
            size_t nb = std::min(idx.size() - b0, (size_t)opts_.batch);
            std::vector<float> batch(nb * (size_t)C * th * tw);
            for (size_t k = 0; k < nb; k++) std::memcpy(&batch[k * C * th * tw], &crops[(size_t)idx[b0 + k] * C * th * tw], sizeof(float) * C * th * tw);
            std::vector<size_t> shp;
            auto y = engines_[mi]->run(batch.data(), (int)nb, C, th, tw, shp);
            if (y.size() != nb * tile_elems)
                throw Error(QE_ERR_INFERENCE, "model " + models_[mi].name + " returned " + std::to_string(y.size()) + " values for " + std::to_string(nb) + " tiles of " + std::to_string(tile_elems));
            for (size_t k = 0; k < nb; k++) {
                float *dst = &y[k * tile_elems];
                bool finite = std::all_of(dst, dst + tile_elems, [](float v) { return std::isfinite(v); });
                if (!finite) {
                    if (engines_[mi]->precision() == "fp32")
                        throw Error(QE_ERR_INFERENCE, "model " + models_[mi].name + " produced NaN/Inf for tile row " + std::to_string(i) + " in fp32; the input or the weights are corrupt");
                    std::vector<size_t> s2;
                    auto y32 = fp32_engine(mi).run(&batch[k * C * th * tw], 1, C, th, tw, s2);
                    if (!std::all_of(y32.begin(), y32.end(), [](float v) { return std::isfinite(v); }))
                        throw Error(QE_ERR_INFERENCE, "model " + models_[mi].name + ": NaN/Inf even in fp32 for tile row " + std::to_string(i));
                    std::copy(y32.begin(), y32.end(), dst);
                    fallbacks++;
                }
                std::memcpy(slot + (size_t)idx[b0 + k] * tile_elems, dst, sizeof(float) * tile_elems);
            }
        }
    }
    return fallbacks;
}

void SRRestorer::restore(const qe_image &in, const qe_image &out, qe_stats *stats) const {
    TileRun run = run_tiles(geo_, *this, in, out);
    int n = run.grid.nr * run.grid.nc;
    int heavy = models_.size() > 1 ? (int)std::count(run.decisions.begin(), run.decisions.end(), (uint8_t)1) : (opts_.policy == QE_POLICY_HEAVY ? n : 0);
    fill_stats(run, heavy, stats);
}

}  // namespace qe
