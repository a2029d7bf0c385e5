#include "restorer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <chrono>
#include <fstream>

#include "plan.hpp"
#include "resize.hpp"
#include "routing.hpp"

extern "C" {
void qe_blend_u8(const float *tiles, int R, int NC, int C, int TH, int TW, const int *rt0, const int *ro0, const float *rw0, const int *rt1,
                 const int *ro1, const float *rw1, int nrows, const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1,
                 const float *cw1, int W, const float *q, uint8_t *out, long out_row_stride, int bgr);
void qe_blend_u16(const float *tiles, int R, int NC, int C, int TH, int TW, const int *rt0, const int *ro0, const float *rw0, const int *rt1,
                  const int *ro1, const float *rw1, int nrows, const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1,
                  const float *cw1, int W, const float *q, uint16_t *out, long out_row_stride, int bgr);
}

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

int channels_of(int fmt) { return fmt == QE_PIXEL_RGBA8 || fmt == QE_PIXEL_RGBA16 ? 4 : 3; }
int bytes_of(int fmt) { return fmt == QE_PIXEL_RGB16 || fmt == QE_PIXEL_RGBA16 ? 2 : 1; }

void check_image(const qe_image &im, const char *which) {
    std::string w(which);
    if (im.struct_size < sizeof(qe_image)) throw Error(QE_ERR_INVALID_ARGUMENT, w + ": struct_size is smaller than qe_image; set it to sizeof(qe_image)");
    if (im.format < QE_PIXEL_RGB8 || im.format > QE_PIXEL_RGBA16) throw Error(QE_ERR_INVALID_ARGUMENT, w + ": format " + std::to_string(im.format) + " is not a qe_pixel_format");
    if (im.width <= 0 || im.height <= 0) throw Error(QE_ERR_INVALID_ARGUMENT, w + ": width and height must be positive");
    if (!im.data) throw Error(QE_ERR_INVALID_ARGUMENT, w + ": data is NULL");
    long row = (long)im.width * channels_of(im.format) * bytes_of(im.format);
    if (im.stride_bytes < row) throw Error(QE_ERR_INVALID_ARGUMENT, w + ": stride_bytes " + std::to_string(im.stride_bytes) + " is less than a row (" + std::to_string(row) + " bytes)");
    if (im.stride_bytes % bytes_of(im.format)) throw Error(QE_ERR_INVALID_ARGUMENT, w + ": stride_bytes must be a multiple of the sample size");
}

}  // namespace

Restorer::Restorer(const std::string &path, const Options &o) : bundle_(load_bundle(path, QE_ABI_VERSION)), opts_(o) {
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
    overlap_ = o.overlap >= 0 ? o.overlap : pol.overlap;
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
    scale_ = compact.scale, in_channels_ = compact.in_channels;
    for (auto *m : planned) {
        multiple_ = std::max(multiple_, m->size.multiple_of);
        minimum_ = std::max(minimum_, m->size.minimum);
        if (!fixed_ && m->size.fixed_tile) fixed_ = m->size.fixed_tile;
    }
    tile_ = o.tile ? o.tile : (pol.tile ? pol.tile : auto_tile(*planned.back(), o.batch));
    if (fixed_) tile_ = fixed_;
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

const Engine &Restorer::fp32_engine(size_t i) const {
    std::lock_guard<std::mutex> g(fp32_lock_);
    if (!fp32_[i]) fp32_[i] = std::make_unique<Engine>(models_[i].onnx_fp32, models_[i].name, "fp32", threads_);
    return *fp32_[i];
}

void Restorer::restore(const qe_image &in, const qe_image &outimg, qe_stats *stats) const {
    using clk = std::chrono::steady_clock;
    auto secs = [](clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); };
    const auto t_start = clk::now();
    double t_routing = 0, t_infer = 0, t_blend = 0;
    int fallbacks = 0;
    check_image(in, "input");
    check_image(outimg, "output");
    if (in.format != outimg.format) throw Error(QE_ERR_INVALID_ARGUMENT, "output: format differs from the input's");
    const int s = scale_, h = in.height, w = in.width;
    if ((long)outimg.width != (long)w * s || (long)outimg.height != (long)h * s)
        throw Error(QE_ERR_BUFFER_TOO_SMALL, "output: must be " + std::to_string((long)w * s) + "x" + std::to_string((long)h * s) + " (qe_output_size), got " +
                                                 std::to_string(outimg.width) + "x" + std::to_string(outimg.height));
    const int ch = channels_of(in.format), bits = bytes_of(in.format) == 2 ? 16 : 8;
    const float inv = bits == 8 ? 1.0f / 255.0f : 1.0f / 65535.0f;
    // pad (reflect, numpy's rule; edge for one-pixel images)
    int ph = std::max(minimum_, (h + multiple_ - 1) / multiple_ * multiple_) - h;
    int pw = std::max(minimum_, (w + multiple_ - 1) / multiple_ * multiple_) - w;
    if (fixed_) ph = std::max(ph, fixed_ - h), pw = std::max(pw, fixed_ - w);
    const int H = h + ph, W = w + pw, C = 3;
    auto src_index = [](int i, int n, bool edge) {
        if (i < n) return i;
        if (edge || n == 1) return n - 1;
        int period = 2 * (n - 1), m = i % period;
        return m < n ? m : period - m;
    };
    bool edge = std::min(h, w) <= 1;
    std::vector<float> x((size_t)C * H * W);
    std::vector<float> alpha(ch == 4 ? (size_t)h * w : 0);
    const auto *base = static_cast<const uint8_t *>(in.data);
    for (int r = 0; r < H; r++) {
        int sr = src_index(r, h, edge);
        const uint8_t *row = base + (size_t)sr * in.stride_bytes;
        for (int c = 0; c < W; c++) {
            int sc = src_index(c, w, edge);
            for (int k = 0; k < C; k++) {
                float v = bits == 8 ? (float)row[(size_t)sc * ch + k] : (float)reinterpret_cast<const uint16_t *>(row)[(size_t)sc * ch + k];
                x[(size_t)k * H * W + (size_t)r * W + c] = v * inv;
            }
            if (ch == 4 && r < h && c < w)
                alpha[(size_t)r * w + c] = (bits == 8 ? (float)row[(size_t)c * 4 + 3] : (float)reinterpret_cast<const uint16_t *>(row)[(size_t)c * 4 + 3]) * inv;
        }
    }
    int ov = std::min(overlap_, tile_ / 4);
    Axis ra = plan_axis(H, tile_, ov, multiple_, fixed_ != 0), ca = plan_axis(W, tile_, ov, multiple_, fixed_ != 0);
    const int th = ra.tile, tw = ca.tile, nr = (int)ra.starts.size(), nc = (int)ca.starts.size();
    AxisMap cols = axis_map(ca.starts, tw, W, s, 0, W * s);
    auto row_crops = [&](int i) {
        std::vector<float> crops((size_t)nc * C * th * tw);
        for (int j = 0; j < nc; j++)
            for (int k = 0; k < C; k++)
                for (int r = 0; r < th; r++)
                    std::memcpy(&crops[(((size_t)j * C + k) * th + r) * tw], &x[(size_t)k * H * W + (size_t)(ra.starts[i] + r) * W + ca.starts[j]], sizeof(float) * tw);
        return crops;
    };
    // routing pass: every tile is scored before any is run
    std::vector<uint8_t> decisions((size_t)nr * nc, 0);  // index into models_ per tile, as the Python runtime
    std::vector<float> quality((size_t)nr * nc, NAN);
    bool routed = models_.size() > 1;
    const auto t_route = clk::now();
    if (routed) {
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
                        auto g = tile_means(*router_, crops, nc, C, th, tw);
                        std::copy(g.begin(), g.end(), scores.begin() + (size_t)i * nc);
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
    t_routing = secs(t_route);
    // inference row by row into a two-row ring, blending each finished band
    const int TH = th * s, TW = tw * s, Ws = W * s;
    const size_t tile_elems = (size_t)C * TH * TW;
    std::vector<float> ring(2 * (size_t)nc * tile_elems);
    std::vector<uint8_t> out8(bits == 8 ? (size_t)H * s * Ws * C : 0);
    std::vector<uint16_t> out16(bits == 16 ? (size_t)H * s * Ws * C : 0);
    int done = 0;
    for (int i = 0; i < nr; i++) {
        const auto t_inf = clk::now();
        auto crops = row_crops(i);
        float *slot = &ring[(size_t)(i % 2) * nc * tile_elems];
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
        t_infer += secs(t_inf);
        const auto t_bl = clk::now();
        int stop = i + 1 < nr ? ra.starts[i + 1] * s : H * s;
        if (stop <= done) continue;
        AxisMap rows = axis_map(ra.starts, th, H, s, done, stop);
        for (auto *t : {&rows.t0, &rows.t1})
            for (int &v : *t) {
                if (v >= 0 && (v < i - 1 || v > i)) throw Error(QE_ERR_RUNTIME, "internal error: a blend band refers to a tile row no longer in memory");
                v = v >= 0 ? v % 2 : -1;
            }
        long stride = (long)Ws * C;
        if (bits == 8)
            qe_blend_u8(ring.data(), 2, nc, C, TH, TW, rows.t0.data(), rows.o0.data(), rows.w0.data(), rows.t1.data(), rows.o1.data(), rows.w1.data(), stop - done,
                        cols.t0.data(), cols.o0.data(), cols.w0.data(), cols.t1.data(), cols.o1.data(), cols.w1.data(), Ws, nullptr, &out8[(size_t)done * stride], stride, 0);
        else
            qe_blend_u16(ring.data(), 2, nc, C, TH, TW, rows.t0.data(), rows.o0.data(), rows.w0.data(), rows.t1.data(), rows.o1.data(), rows.w1.data(), stop - done,
                         cols.t0.data(), cols.o0.data(), cols.w0.data(), cols.t1.data(), cols.o1.data(), cols.w1.data(), Ws, nullptr, &out16[(size_t)done * stride], stride, 0);
        done = stop;
        t_blend += secs(t_bl);
    }
    // crop, alpha (bicubic x s, as the Python runtime), write into the caller's strided buffer
    std::vector<float> a_up = ch == 4 ? imresize_up(alpha, h, w, s) : std::vector<float>();
    const float maxv = bits == 8 ? 255.f : 65535.f;
    auto *obase = static_cast<uint8_t *>(outimg.data);
    const int oh = h * s, ow = w * s;
    for (int r = 0; r < oh; r++) {
        uint8_t *orow = obase + (size_t)r * outimg.stride_bytes;
        for (int c = 0; c < ow; c++) {
            size_t srcpx = ((size_t)r * Ws + c) * C;
            for (int k = 0; k < 3; k++) {
                if (bits == 8) orow[(size_t)c * ch + k] = out8[srcpx + k];
                else reinterpret_cast<uint16_t *>(orow)[(size_t)c * ch + k] = out16[srcpx + k];
            }
            if (ch == 4) {
                float v = std::min(1.f, std::max(0.f, a_up[(size_t)r * ow + c])) * maxv + 0.5f;
                if (bits == 8) orow[(size_t)c * 4 + 3] = (uint8_t)v;
                else reinterpret_cast<uint16_t *>(orow)[(size_t)c * 4 + 3] = (uint16_t)v;
            }
        }
    }
    if (stats) {
        stats->tile_rows = nr, stats->tile_cols = nc, stats->tile_height = th, stats->tile_width = tw, stats->overlap = ov;
        stats->heavy_tiles = routed ? (int32_t)std::count(decisions.begin(), decisions.end(), (uint8_t)1) : (opts_.policy == QE_POLICY_HEAVY ? nr * nc : 0);
        stats->fp32_fallback_tiles = fallbacks;
        stats->seconds_total = secs(t_start), stats->seconds_routing = t_routing, stats->seconds_inference = t_infer, stats->seconds_blend = t_blend;
        if (stats->capacity >= nr * nc) {
            for (int k = 0; k < nr * nc; k++) {
                if (stats->decisions) stats->decisions[k] = (int8_t)decisions[k];
                if (stats->quality) stats->quality[k] = quality[k];
            }
        }
    }
}

}  // namespace qe
