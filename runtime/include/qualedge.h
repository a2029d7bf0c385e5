/* qualedge C ABI: restore images with a qualedge bundle from C (or any language with a C FFI).
 *
 * Conventions
 * - Opaque handles: qe_create() makes a restorer from a bundle folder, qe_destroy() frees it.
 * - Every call returns a qe_status; QE_OK is 0. On failure qe_last_error() returns a message for the calling
 *   thread (valid until that thread's next qualedge call).
 * - Caller-owned, strided buffers: the library never allocates image memory for the caller. Rows may be padded
 *   (stride_bytes >= width * bytes per pixel). The output buffer must be exactly qe_output_size() pixels.
 * - Structs start with struct_size so that they can grow; pass sizeof(the struct).
 * - ABI versioning: pass QE_ABI_VERSION to qe_create(); a library built for another ABI refuses it.
 * - Pixels only: the C ABI takes and returns pixel buffers. Photo metadata (ICC profile, EXIF, XMP, resolution) is
 *   the caller's to carry from its input file to its output file; the buffers hold the values as stored (no colour
 *   conversion), as in `qualedge restore --colour as-is`.
 * - Threads: one restorer may be used from several threads at once (each call makes its own inference requests).
 * - Native: the library is C++17 over OpenVINO's C++ API (no Python at run time). It finds OpenVINO's libraries next
 *   to itself (qualedge build-capi copies them there) or where it was built; no environment variable is needed.
 *   Compiled graphs are cached (OpenVINO's model cache) under $QUALEDGE_CACHE/openvino, else
 *   $XDG_CACHE_HOME/qualedge/openvino, else $HOME/.cache/qualedge/openvino; with none set nothing is cached.
 *   It runs super-resolution bundles with RGB models, AdaQual-Diff restoration bundles, and chains of the two
 *   (qe_create_chain); luma models run on the Python runtime.
 * - Restoration bundles: qe_create() on a restoration bundle (qualedge export-restore) gives a restorer whose output
 *   has the input's size. Per tile: the quality head's map -> the restoration graph (its prompt module partitions the
 *   map into regions and picks each region's prompt complexity and pool) with the tile's initial noise drawn from
 *   qe_options.seed (QE_SEED_DEFAULT: the bundle's) exactly as qualedge.noise.tile_noise draws it, so the same seed
 *   gives the same output here and in the Python runtime. restore_mode picks the unrolled K-step graph or the
 *   per-step graph with the DDIM update between calls. policy, threshold and heavy_fraction must keep their defaults.
 * - Chains: qe_create_chain(restoration bundle, SR bundle) gives one restorer that restores then upscales in one call;
 *   the restored image stays in memory (a buffer of the input's format, quantised to its bit depth and keeping its
 *   alpha, as the Python chain does), each stage with its own tile plan (the restoration graph's fixed tile and the
 *   SR bundle's routing tile differ). qe_scale and qe_output_size report the chain's; qe_restore_ex reports the SR
 *   stage (seconds_total: the whole chain); qe_restore_chain_ex reports both stages.
 */
#ifndef QUALEDGE_H
#define QUALEDGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QE_ABI_VERSION 1u
#define QE_SEED_DEFAULT 0xFFFFFFFFu /* qe_options.seed: use the bundle's seed */

typedef enum qe_status {
    QE_OK = 0,
    QE_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, bad size, stride or format */
    QE_ERR_ABI_MISMATCH = 2,     /* the caller was built for another ABI version */
    QE_ERR_BUNDLE = 3,           /* bundle missing, corrupt, or from another ABI version */
    QE_ERR_BUFFER_TOO_SMALL = 4, /* the output buffer does not hold the output image */
    QE_ERR_INFERENCE = 5,        /* the model produced unusable output */
    QE_ERR_RUNTIME = 6,          /* any other failure (see qe_last_error) */
    QE_ERR_UNSUPPORTED = 7       /* a feature this build does not support */
} qe_status;

typedef enum qe_pixel_format {
    QE_PIXEL_RGB8 = 1,
    QE_PIXEL_RGBA8 = 2,
    QE_PIXEL_RGB16 = 3,
    QE_PIXEL_RGBA16 = 4
} qe_pixel_format;

/* ADAPTIVE routes tiles between the compact and the heavy model by the bundle's routing score; RANDOM spends the same
 * budget (heavy_fraction) on tiles drawn with `seed`: the control against which routing is measured. */
typedef enum qe_policy { QE_POLICY_ADAPTIVE = 0, QE_POLICY_COMPACT = 1, QE_POLICY_HEAVY = 2, QE_POLICY_RANDOM = 3 } qe_policy;

/* Inference precision: the bundle's policy, fp32, bf16 (CPUs with AVX512_BF16/AMX), or int8 (the bundle's int8 forms,
 * exported with --precision int8). SR: tiles whose output is not finite are rerun in fp32. Restoration: bf16 is
 * accepted per bundle by a parity probe at load (QE_ERR_UNSUPPORTED otherwise), int8 needs the bundle's gated forms. */
typedef enum qe_precision { QE_PRECISION_BUNDLE = 0, QE_PRECISION_FP32 = 1, QE_PRECISION_BF16 = 2, QE_PRECISION_INT8 = 3 } qe_precision;

/* Restoration bundles: the unrolled K-step graph (one call per batch of tiles) or the per-step graph run K times with
 * the DDIM update between calls (qe_options_init's default: 1.12x the unrolled graph's speed on a 2-core Zen 4 CPU). */
typedef enum qe_restore_mode { QE_RESTORE_UNROLLED = 0, QE_RESTORE_LOOP = 1 } qe_restore_mode;

typedef struct qe_options {
    uint32_t struct_size; /* sizeof(qe_options) */
    int32_t tile;         /* tile side in input pixels, 0 = automatic */
    int32_t overlap;      /* -1 = the bundle's default */
    int32_t batch;        /* tiles per inference call, >= 1 */
    int32_t threads;      /* inference threads, 0 = library default */
    int32_t policy;       /* qe_policy */
    float threshold;      /* quality threshold in [0, 1]: tiles below it go to the heavy model; < 0 = the bundle's routing */
    /* added after the first release (a caller built against the shorter struct passes its smaller struct_size and
     * gets the defaults below) */
    float heavy_fraction; /* share of tiles in [0, 1] sent to the heavy model; < 0 = the bundle's routing */
    uint32_t seed;        /* seed of QE_POLICY_RANDOM; qe_options_init sets the bundle's (QE_SEED_DEFAULT) */
    int32_t precision;    /* qe_precision (added with the native library; shorter structs get QE_PRECISION_BUNDLE) */
    int32_t restore_mode; /* qe_restore_mode for restoration bundles (added with them; shorter structs get LOOP) */
} qe_options;

typedef struct qe_image {
    uint32_t struct_size; /* sizeof(qe_image) */
    int32_t width;
    int32_t height;
    int32_t format;       /* qe_pixel_format */
    int64_t stride_bytes; /* bytes from one row to the next */
    void *data;           /* caller-owned pixels, row-major, RGB(A) channel order */
} qe_image;

/* What one restore did (qe_restore_ex). The caller may pass buffers for the per-tile model index (0 = the compact
 * model when tiles are routed, else the one model that runs) and tile qualities (NaN where not computed), row-major
 * over the tile grid; they are filled when their capacity (in elements) holds tile_rows * tile_cols. */
typedef struct qe_stats {
    uint32_t struct_size; /* sizeof(qe_stats) */
    int32_t tile_rows, tile_cols, tile_height, tile_width, overlap;
    int32_t heavy_tiles;          /* tiles run by the heavy model */
    int32_t fp32_fallback_tiles;  /* bf16 tiles rerun in fp32 because their output was not finite */
    double seconds_total, seconds_routing, seconds_inference, seconds_blend;
    int8_t *decisions;            /* optional caller buffer */
    float *quality;               /* optional caller buffer */
    int32_t capacity;             /* elements in each of the two buffers */
} qe_stats;

typedef struct qe_restorer qe_restorer; /* opaque */

uint32_t qe_abi_version(void);
const char *qe_version(void);
const char *qe_last_error(void);

qe_status qe_options_init(qe_options *options);
qe_status qe_create(const char *bundle_path, const qe_options *options, uint32_t abi_version, qe_restorer **out);
qe_status qe_scale(const qe_restorer *restorer, int32_t *scale);
qe_status qe_output_size(const qe_restorer *restorer, int32_t width, int32_t height, int32_t *out_width, int32_t *out_height);
qe_status qe_restore(qe_restorer *restorer, const qe_image *input, qe_image *output);
/* qe_restore that also reports what it did; stats may be NULL. */
qe_status qe_restore_ex(qe_restorer *restorer, const qe_image *input, qe_image *output, qe_stats *stats);
/* A chain: restoration (restore_bundle, restore_options; seed = its noise seed) then super-resolution (sr_bundle,
 * sr_options) in one restorer; NULL options take the defaults. */
qe_status qe_create_chain(const char *restore_bundle, const qe_options *restore_options, const char *sr_bundle, const qe_options *sr_options,
                          uint32_t abi_version, qe_restorer **out);
/* qe_restore_ex on a chain, reporting each stage (either stats may be NULL); QE_ERR_INVALID_ARGUMENT on other restorers. */
qe_status qe_restore_chain_ex(qe_restorer *chain, const qe_image *input, qe_image *output, qe_stats *restoration_stats, qe_stats *sr_stats);
void qe_destroy(qe_restorer *restorer);

#ifdef __cplusplus
}
#endif
#endif /* QUALEDGE_H */
