// The C ABI (include/qualedge.h) over the native restorer: argument checks, status codes, a per-thread last-error
// string, and no exception ever crossing the boundary.
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "qualedge.h"
#include "common.hpp"
#include "pipeline.hpp"

#define QE_API extern "C" __attribute__((visibility("default")))

struct qe_restorer {
    std::unique_ptr<qe::Pipeline> impl;
};

namespace {

thread_local std::string last_error;

qe_status fail(qe_status s, const std::string &msg) {
    last_error = msg;
    return s;
}

template <class F>
qe_status guarded(F &&f) {
    try {
        last_error.clear();
        return f();
    } catch (const qe::Error &e) {
        return fail(e.status, e.what());
    } catch (const std::bad_alloc &) {
        return fail(QE_ERR_RUNTIME, "out of memory");
    } catch (const std::exception &e) {
        return fail(QE_ERR_RUNTIME, e.what());
    } catch (...) {
        return fail(QE_ERR_RUNTIME, "unknown error");
    }
}

}  // namespace

QE_API uint32_t qe_abi_version(void) { return QE_ABI_VERSION; }
QE_API const char *qe_version(void) { return QE_VERSION_STR; }
QE_API const char *qe_last_error(void) { return last_error.c_str(); }

QE_API qe_status qe_options_init(qe_options *o) {
    if (!o) return fail(QE_ERR_INVALID_ARGUMENT, "qe_options_init: options is NULL");
    std::memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(qe_options);
    o->tile = 0;
    o->overlap = -1;
    o->batch = 4;
    o->threads = 0;
    o->policy = QE_POLICY_ADAPTIVE;
    o->threshold = -1.f;
    o->heavy_fraction = -1.f;
    o->seed = QE_SEED_DEFAULT;
    o->precision = QE_PRECISION_BUNDLE;
    o->restore_mode = QE_RESTORE_LOOP;  // the faster here by measurement (benchmarks/results/latency_cpu.md)
    return QE_OK;
}

namespace {

// The caller's options over the defaults: a shorter (older) struct leaves the fields it lacks at their defaults.
qe_status read_options(const char *fn, const qe_options *options, qe::Options &o) {
    qe_options d;
    qe_options_init(&d);
    const size_t v1 = offsetof(qe_options, heavy_fraction);  // the first release's struct ended at threshold
    if (options) {
        if (options->struct_size < v1 || options->struct_size > sizeof(qe_options))
            return fail(QE_ERR_INVALID_ARGUMENT, std::string(fn) + ": options->struct_size " + std::to_string(options->struct_size) + " is not a qe_options size; call qe_options_init");
        std::memcpy(&d, options, options->struct_size);
    }
    o.tile = d.tile, o.overlap = d.overlap, o.batch = d.batch, o.threads = d.threads;
    o.policy = d.policy, o.threshold = d.threshold, o.heavy_fraction = d.heavy_fraction;
    o.seed = d.seed, o.precision = d.precision, o.restore_mode = d.restore_mode;
    return QE_OK;
}

qe_status check_abi(const char *fn, uint32_t abi_version) {
    if (abi_version != QE_ABI_VERSION)
        return fail(QE_ERR_ABI_MISMATCH, std::string(fn) + ": the caller was built for ABI " + std::to_string(abi_version) + ", this library is ABI " +
                                             std::to_string(QE_ABI_VERSION) + "; rebuild the caller against this qualedge.h");
    return QE_OK;
}

}  // namespace

QE_API qe_status qe_create(const char *bundle_path, const qe_options *options, uint32_t abi_version, qe_restorer **out) {
    return guarded([&] {
        if (!out) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: out is NULL");
        *out = nullptr;
        if (qe_status st = check_abi("qe_create", abi_version)) return st;
        if (!bundle_path) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: bundle_path is NULL");
        qe::Options o;
        if (qe_status st = read_options("qe_create", options, o)) return st;
        *out = new qe_restorer{qe::open_pipeline(bundle_path, o)};
        return QE_OK;
    });
}

QE_API qe_status qe_create_chain(const char *restore_bundle, const qe_options *restore_options, const char *sr_bundle, const qe_options *sr_options,
                                 uint32_t abi_version, qe_restorer **out) {
    return guarded([&] {
        if (!out) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create_chain: out is NULL");
        *out = nullptr;
        if (qe_status st = check_abi("qe_create_chain", abi_version)) return st;
        if (!restore_bundle || !sr_bundle) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create_chain: restore_bundle and sr_bundle must not be NULL");
        qe::Options ro, so;
        if (qe_status st = read_options("qe_create_chain (restore_options)", restore_options, ro)) return st;
        if (qe_status st = read_options("qe_create_chain (sr_options)", sr_options, so)) return st;
        *out = new qe_restorer{qe::open_chain(restore_bundle, ro, sr_bundle, so)};
        return QE_OK;
    });
}

QE_API qe_status qe_scale(const qe_restorer *r, int32_t *scale) {
    if (!r || !scale) return fail(QE_ERR_INVALID_ARGUMENT, "qe_scale: restorer and scale must not be NULL");
    *scale = r->impl->scale();
    return QE_OK;
}

QE_API qe_status qe_output_size(const qe_restorer *r, int32_t width, int32_t height, int32_t *ow, int32_t *oh) {
    if (!r || !ow || !oh) return fail(QE_ERR_INVALID_ARGUMENT, "qe_output_size: restorer, out_width and out_height must not be NULL");
    if (width <= 0 || height <= 0) return fail(QE_ERR_INVALID_ARGUMENT, "qe_output_size: width and height must be positive");
    long s = r->impl->scale();
    if ((long)width * s > INT32_MAX || (long)height * s > INT32_MAX) return fail(QE_ERR_INVALID_ARGUMENT, "qe_output_size: the output would exceed 2^31 pixels per side");
    *ow = (int32_t)(width * s);
    *oh = (int32_t)(height * s);
    return QE_OK;
}

QE_API qe_status qe_restore_ex(qe_restorer *r, const qe_image *in, qe_image *out, qe_stats *stats) {
    return guarded([&] {
        if (!r || !in || !out) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore: restorer, input and output must not be NULL");
        if (stats && stats->struct_size != sizeof(qe_stats)) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore_ex: stats->struct_size must be sizeof(qe_stats)");
        if (stats && stats->capacity < 0) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore_ex: stats->capacity must be >= 0");
        r->impl->restore(*in, *out, stats);
        return QE_OK;
    });
}

QE_API qe_status qe_restore_chain_ex(qe_restorer *r, const qe_image *in, qe_image *out, qe_stats *first, qe_stats *second) {
    return guarded([&] {
        if (!r || !in || !out) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore_chain_ex: chain, input and output must not be NULL");
        auto *chain = dynamic_cast<const qe::ChainPipeline *>(r->impl.get());
        if (!chain) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore_chain_ex: this restorer is not a chain (qe_create_chain makes one)");
        for (qe_stats *st : {first, second}) {
            if (st && st->struct_size != sizeof(qe_stats)) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore_chain_ex: stats->struct_size must be sizeof(qe_stats)");
            if (st && st->capacity < 0) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore_chain_ex: stats->capacity must be >= 0");
        }
        chain->restore_stages(*in, *out, first, second);
        return QE_OK;
    });
}

QE_API qe_status qe_restore(qe_restorer *r, const qe_image *in, qe_image *out) { return qe_restore_ex(r, in, out, nullptr); }

QE_API void qe_destroy(qe_restorer *r) { delete r; }
