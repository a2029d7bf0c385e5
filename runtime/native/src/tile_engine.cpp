#include "tile_engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include "common.hpp"
#include "plan.hpp"
#include "resize.hpp"

extern "C" {
void qe_blend_u8(const float *tiles, int R, int NC, int C, int TH, int TW, const int *rt0, const int *ro0, const float *rw0, const int *rt1,
                 const int *ro1, const float *rw1, int nrows, const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1,
                 const float *cw1, int W, const float *q, uint8_t *out, long out_row_stride, int bgr);
void qe_blend_u16(const float *tiles, int R, int NC, int C, int TH, int TW, const int *rt0, const int *ro0, const float *rw0, const int *rt1,
                  const int *ro1, const float *rw1, int nrows, const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1,
                  const float *cw1, int W, const float *q, uint16_t *out, long out_row_stride, int bgr);
}

namespace qe {

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

TileRun run_tiles(const Geometry &geo, const TileStrategy &strategy, const qe_image &in, const qe_image &outimg) {
    using clk = std::chrono::steady_clock;
    auto secs = [](clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); };
    const auto t_start = clk::now();
    TileRun run;
    check_image(in, "input");
    check_image(outimg, "output");
    if (in.format != outimg.format) throw Error(QE_ERR_INVALID_ARGUMENT, "output: format differs from the input's");
    const int s = geo.scale, h = in.height, w = in.width;
    if ((long)outimg.width != (long)w * s || (long)outimg.height != (long)h * s)
        throw Error(QE_ERR_BUFFER_TOO_SMALL, "output: must be " + std::to_string((long)w * s) + "x" + std::to_string((long)h * s) + " (qe_output_size), got " +
                                                 std::to_string(outimg.width) + "x" + std::to_string(outimg.height));
    const int ch = channels_of(in.format), bits = bytes_of(in.format) == 2 ? 16 : 8;
    const float inv = bits == 8 ? 1.0f / 255.0f : 1.0f / 65535.0f;
    // pad (reflect, numpy's rule; edge for one-pixel images)
    int ph = std::max(geo.minimum, (h + geo.multiple - 1) / geo.multiple * geo.multiple) - h;
    int pw = std::max(geo.minimum, (w + geo.multiple - 1) / geo.multiple * geo.multiple) - w;
    if (geo.fixed) ph = std::max(ph, geo.fixed - h), pw = std::max(pw, geo.fixed - w);
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
    int ov = std::min(geo.overlap, geo.tile / 4);
    Axis ra = plan_axis(H, geo.tile, ov, geo.multiple, geo.fixed != 0), ca = plan_axis(W, geo.tile, ov, geo.multiple, geo.fixed != 0);
    TileGrid g;
    g.th = ra.tile, g.tw = ca.tile, g.nr = (int)ra.starts.size(), g.nc = (int)ca.starts.size(), g.channels = C;
    const int th = g.th, tw = g.tw, nr = g.nr, nc = g.nc;
    AxisMap cols = axis_map(ca.starts, tw, W, s, 0, W * s);
    RowCrops row_crops = [&](int i) {
        std::vector<float> crops((size_t)nc * C * th * tw);
        for (int j = 0; j < nc; j++)
            for (int k = 0; k < C; k++)
                for (int r = 0; r < th; r++)
                    std::memcpy(&crops[(((size_t)j * C + k) * th + r) * tw], &x[(size_t)k * H * W + (size_t)(ra.starts[i] + r) * W + ca.starts[j]], sizeof(float) * tw);
        return crops;
    };
    run.grid = g, run.overlap = ov;
    run.decisions.assign((size_t)nr * nc, 0);
    run.quality.assign((size_t)nr * nc, NAN);
    strategy.route(g, row_crops, run.decisions, run.quality, run.seconds_routing);  // every tile is scored before any is run
    const int TH = th * s, TW = tw * s, Ws = W * s;
    const size_t tile_elems = (size_t)C * TH * TW;
    std::vector<float> ring(2 * (size_t)nc * tile_elems);
    std::vector<uint8_t> out8(bits == 8 ? (size_t)H * s * Ws * C : 0);
    std::vector<uint16_t> out16(bits == 16 ? (size_t)H * s * Ws * C : 0);
    int done = 0;
    for (int i = 0; i < nr; i++) {
        const auto t_inf = clk::now();
        double t_q = 0;
        auto crops = row_crops(i);
        run.fallbacks += strategy.infer_row(i, g, crops, run.decisions, run.quality, &ring[(size_t)(i % 2) * nc * tile_elems], t_q);
        run.seconds_routing += t_q;
        run.seconds_inference += secs(t_inf) - t_q;
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
        run.seconds_blend += secs(t_bl);
    }
    // crop, alpha (bicubic x s, as the Python runtime), write into the caller's strided buffer
    std::vector<float> a_up = ch == 4 ? (s == 1 ? alpha : imresize_up(alpha, h, w, s)) : std::vector<float>();
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
    run.seconds_total = secs(t_start);
    return run;
}

void fill_stats(const TileRun &run, int heavy_tiles, qe_stats *stats) {
    if (!stats) return;
    const TileGrid &g = run.grid;
    stats->tile_rows = g.nr, stats->tile_cols = g.nc, stats->tile_height = g.th, stats->tile_width = g.tw, stats->overlap = run.overlap;
    stats->heavy_tiles = heavy_tiles;
    stats->fp32_fallback_tiles = run.fallbacks;
    stats->seconds_total = run.seconds_total, stats->seconds_routing = run.seconds_routing, stats->seconds_inference = run.seconds_inference,
    stats->seconds_blend = run.seconds_blend;
    if (stats->capacity >= g.nr * g.nc) {
        for (int k = 0; k < g.nr * g.nc; k++) {
            if (stats->decisions) stats->decisions[k] = (int8_t)run.decisions[k];
            if (stats->quality) stats->quality[k] = run.quality[k];
        }
    }
}

}  // namespace qe
