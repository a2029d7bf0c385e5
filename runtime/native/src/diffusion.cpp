#include "diffusion.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "rng.hpp"

namespace qe {

DiffusionRestorer::DiffusionRestorer(Bundle bundle, const Options &o) : bundle_(std::move(bundle)), opts_(o) {
    const RestorationPolicy &pol = bundle_.restoration;
    const std::string &path = bundle_.folder;
    if (o.batch < 1) throw Error(QE_ERR_INVALID_ARGUMENT, "batch must be >= 1");
    if (o.tile < 0 || o.threads < 0) throw Error(QE_ERR_INVALID_ARGUMENT, "tile and threads must be >= 0 (0: automatic)");
    if (o.tile && o.tile != pol.tile)
        throw Error(QE_ERR_INVALID_ARGUMENT, "this restoration bundle's graphs have a fixed tile of " + std::to_string(pol.tile) + "; re-export with --tile " +
                                                 std::to_string(o.tile) + " to use that size");
    if (o.restore_mode != QE_RESTORE_UNROLLED && o.restore_mode != QE_RESTORE_LOOP)
        throw Error(QE_ERR_INVALID_ARGUMENT, "restore_mode " + std::to_string(o.restore_mode) + " is not a qe_restore_mode");
    if (o.policy != QE_POLICY_ADAPTIVE || o.heavy_fraction >= 0 || o.threshold >= 0)
        throw Error(QE_ERR_INVALID_ARGUMENT, "restoration bundles have one model and no routing: leave policy, heavy_fraction and threshold at their defaults");
    std::string precision;
    if (o.precision == QE_PRECISION_BUNDLE || o.precision == QE_PRECISION_FP32) precision = "fp32";
    else if (o.precision == QE_PRECISION_BF16) precision = "bf16";
    else if (o.precision == QE_PRECISION_INT8) precision = "int8";
    else throw Error(QE_ERR_INVALID_ARGUMENT, "precision " + std::to_string(o.precision) + " is not a qe_precision");
    unrolled_ = o.restore_mode == QE_RESTORE_UNROLLED;
    seed_ = o.seed != QE_SEED_DEFAULT ? o.seed : pol.seed;
    geo_.scale = 1, geo_.multiple = 16, geo_.minimum = pol.tile, geo_.fixed = pol.tile, geo_.tile = pol.tile;
    geo_.overlap = o.overlap >= 0 ? o.overlap : pol.overlap;
    const ModelInfo &g = bundle_.model(unrolled_ ? pol.restore : pol.restore_step);
    if (g.onnx_fp32.empty()) throw Error(QE_ERR_BUNDLE, "model " + g.name + " of " + path + " has no fp32 ONNX form; re-export the bundle with 'qualedge export-restore'");
    if (precision == "int8" && g.onnx_int8.empty())
        throw Error(QE_ERR_BUNDLE, "model " + g.name + " of " + path + " has no int8 form; export the bundle with 'qualedge export-restore --precision fp32,int8 --calibration DIR'");
    graph_ = std::make_unique<Engine>(precision == "int8" ? g.onnx_int8 : g.onnx_fp32, g.name, precision, o.threads, unrolled_ ? 3 : 4);
    const ModelInfo &q = bundle_.model(pol.quality_model);
    if (q.onnx_fp32.empty()) throw Error(QE_ERR_BUNDLE, "quality model " + q.name + " of " + path + " has no fp32 ONNX form; re-export the bundle");
    qhead_ = std::make_unique<Engine>(q.onnx_fp32, q.name, "fp32", o.threads);
    if (precision == "bf16") check_bf16(g.onnx_fp32);
}

int DiffusionRestorer::infer_row(int i, const TileGrid &g, const std::vector<float> &crops, const std::vector<uint8_t> &, std::vector<float> &quality,
                                 float *slot, double &seconds_quality) const {
    using clk = std::chrono::steady_clock;
    const RestorationPolicy &pol = bundle_.restoration;
    const int nc = g.nc, C = g.channels, th = g.th, tw = g.tw, B = opts_.batch;
    const size_t per = g.crop_elems();
    // quality maps of the row's tiles (nc x 1 x qh x qw) and each tile's mean quality
    const auto t0 = clk::now();
    std::vector<float> qmaps;
    size_t qper = 0;
    std::vector<size_t> qshape;
    for (int b = 0; b < nc; b += B) {
        int nb = std::min(B, nc - b);
        auto y = qhead_->run(&crops[(size_t)b * per], nb, C, th, tw, qshape);
        qper = y.size() / nb;
        qmaps.insert(qmaps.end(), y.begin(), y.end());
    }
    for (int j = 0; j < nc; j++) {
        double acc = 0;
        for (size_t k = 0; k < qper; k++) acc += qmaps[(size_t)j * qper + k];
        quality[(size_t)i * nc + j] = (float)(acc / qper);
    }
    seconds_quality += std::chrono::duration<double>(clk::now() - t0).count();
    const size_t qh = qshape.size() == 4 ? qshape[2] : 1, qw = qshape.size() == 4 ? qshape[3] : qper;
    // seeded initial noise per tile (qualedge/noise.py), zero for a regression model
    std::vector<float> noise((size_t)nc * per, 0.f);
    if (pol.noise_scale != 0.0)
        for (int j = 0; j < nc; j++) {
            auto z = tile_noise(seed_, i, j, per);
            std::copy(z.begin(), z.end(), noise.begin() + (size_t)j * per);
        }
    for (int b = 0; b < nc; b += B) {
        const size_t nb = std::min(B, nc - b);
        auto y = sample(*graph_, &crops[(size_t)b * per], &qmaps[(size_t)b * qper], &noise[(size_t)b * per], nb, th, tw, qh, qw);
        if (!std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }))
            throw Error(QE_ERR_INFERENCE, "the restoration model produced NaN/Inf for tile row " + std::to_string(i) + "; the input or the weights are corrupt");
        std::memcpy(slot + (size_t)b * per, y.data(), sizeof(float) * y.size());
    }
    return 0;
}

std::vector<float> DiffusionRestorer::sample(const Engine &graph, const float *x, const float *q, const float *noise, size_t nb, int th, int tw, size_t qh,
                                             size_t qw) const {
    const RestorationPolicy &pol = bundle_.restoration;
    const size_t per = (size_t)3 * th * tw;
    const std::vector<size_t> xs{nb, 3, (size_t)th, (size_t)tw}, qs{nb, 1, qh, qw};
    std::vector<size_t> shp;
    std::vector<float> y;
    if (unrolled_) {
        y = graph.run({Input{x, xs}, Input{q, qs}, Input{noise, xs}}, shp);
    } else {
        std::vector<float> r(noise, noise + nb * per), r0, t(nb);
        for (const auto &c : pol.coefficients) {
            std::fill(t.begin(), t.end(), (float)c[0]);
            r0 = graph.run({Input{x, xs}, Input{r.data(), xs}, Input{t.data(), {nb}}, Input{q, qs}}, shp);
            if (r0.size() != nb * per) break;
            const float sa = (float)c[1], s1a = (float)c[2], sap = (float)c[3], s1ap = (float)c[4];
            for (size_t k = 0; k < r.size(); k++) r[k] = sap * r0[k] + s1ap * ((r[k] - sa * r0[k]) / s1a);  // qualedge.ddim.ddim_update
        }
        y.resize(r0.size());
        for (size_t k = 0; k < y.size() && k < nb * per; k++) y[k] = std::min(1.f, std::max(0.f, x[k] + r0[k]));
    }
    if (y.size() != nb * per)
        throw Error(QE_ERR_INFERENCE, "model " + graph.name() + " returned " + std::to_string(y.size()) + " values for " + std::to_string(nb) + " tiles of " + std::to_string(per));
    return y;
}

// bf16 is accepted per bundle by measurement: one synthetic tile (a smooth gradient with texture) through the fp32 and
// the bf16 graph must agree to BF16_MIN_PSNR; the restoration graph's attention and normalisation statistics can
// overflow in bf16, and the output clip would hide it as a flat image rather than NaN.
constexpr double BF16_MIN_PSNR = 35.0;

void DiffusionRestorer::check_bf16(const std::string &fp32_path) const {
    const int T = geo_.tile;
    const size_t per = (size_t)3 * T * T;
    std::vector<float> x(per);
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < T; r++)
            for (int c = 0; c < T; c++)
                x[((size_t)k * T + r) * T + c] = 0.2f + 0.6f * (float)(r + c) / (2 * T) + 0.1f * std::sin(0.7f * r + 1.3f * c + k);
    std::vector<size_t> qshape;
    auto q = qhead_->run(x.data(), 1, 3, T, T, qshape);
    auto noise = bundle_.restoration.noise_scale != 0.0 ? tile_noise(seed_, 0, 0, per) : std::vector<float>(per, 0.f);
    Engine fp32(fp32_path, graph_->name(), "fp32", opts_.threads, unrolled_ ? 3 : 4);
    size_t qh = qshape.size() == 4 ? qshape[2] : 1, qw = qshape.size() == 4 ? qshape[3] : q.size();
    auto a = sample(fp32, x.data(), q.data(), noise.data(), 1, T, T, qh, qw), b = sample(*graph_, x.data(), q.data(), noise.data(), 1, T, T, qh, qw);
    double mse = 0;
    for (size_t k = 0; k < a.size(); k++) mse += (double)(a[k] - b[k]) * (a[k] - b[k]);
    mse /= a.size();
    double psnr = mse > 0 ? 10 * std::log10(1.0 / mse) : 99.0;
    if (!(psnr >= BF16_MIN_PSNR))
        throw Error(QE_ERR_UNSUPPORTED, "bf16 changes this restoration bundle's output by " + std::to_string(psnr).substr(0, 5) + " dB PSNR against fp32 on a test tile (at least " +
                                            std::to_string((int)BF16_MIN_PSNR) + " dB needed): run it in fp32");
}

void DiffusionRestorer::restore(const qe_image &in, const qe_image &out, qe_stats *stats) const {
    TileRun run = run_tiles(geo_, *this, in, out);
    fill_stats(run, 0, stats);
}

}  // namespace qe
