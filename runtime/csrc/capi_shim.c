/* The C side of qualedge's C ABI (runtime/include/qualedge.h). Every exported function validates its arguments
 * here, before any Python runs, so that misuse returns a status code instead of crashing; the work is done by the
 * qe__py_* functions, which cffi's embedding mode implements in Python (qualedge/runtime/capi_impl.py). */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "qualedge.h"

#define QE_API __attribute__((visibility("default")))

/* implemented in Python (cffi embedding_api) */
int qe__py_create(const char *bundle, int32_t tile, int32_t overlap, int32_t batch, int32_t threads, int32_t policy,
                  float threshold, float heavy_fraction, int64_t seed, int64_t *handle, int32_t *scale);
int qe__py_restore(int64_t handle, const void *in_data, int32_t width, int32_t height, int64_t in_stride, int32_t format,
                   void *out_data, int32_t out_width, int32_t out_height, int64_t out_stride);
int qe__py_destroy(int64_t handle);

static __thread char qe_error[2048];

void qe__set_error(const char *msg) { snprintf(qe_error, sizeof qe_error, "%s", msg ? msg : ""); }

struct qe_restorer {
    int64_t handle;
    int32_t scale;
};

static qe_status fail(qe_status status, const char *msg) {
    qe__set_error(msg);
    return status;
}

static int bytes_per_pixel(int32_t format) {
    switch (format) {
    case QE_PIXEL_RGB8: return 3;
    case QE_PIXEL_RGBA8: return 4;
    case QE_PIXEL_RGB16: return 6;
    case QE_PIXEL_RGBA16: return 8;
    default: return 0;
    }
}

QE_API uint32_t qe_abi_version(void) { return QE_ABI_VERSION; }
QE_API const char *qe_version(void) { return QE_VERSION_STR; }
QE_API const char *qe_last_error(void) { return qe_error; }

QE_API qe_status qe_options_init(qe_options *o) {
    if (!o) return fail(QE_ERR_INVALID_ARGUMENT, "qe_options_init: options is NULL");
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->tile = 0;
    o->overlap = -1;
    o->batch = 4;
    o->threads = 0;
    o->policy = QE_POLICY_ADAPTIVE;
    o->threshold = -1.0f;
    o->heavy_fraction = -1.0f;
    o->seed = QE_SEED_DEFAULT;
    qe__set_error("");
    return QE_OK;
}

QE_API qe_status qe_create(const char *bundle_path, const qe_options *options, uint32_t abi_version, qe_restorer **out) {
    if (!out) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: out is NULL");
    *out = NULL;
    if (abi_version != QE_ABI_VERSION) {
        snprintf(qe_error, sizeof qe_error, "qe_create: caller built for ABI %u, this library implements ABI %u",
                 abi_version, QE_ABI_VERSION);
        return QE_ERR_ABI_MISMATCH;
    }
    if (!bundle_path) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: bundle_path is NULL");
    qe_options o;
    qe_options_init(&o);
    if (options) {
        /* the first release's struct ended at `threshold`: accept it and keep the defaults of the newer fields */
        size_t v1 = offsetof(qe_options, threshold) + sizeof(float);
        if (options->struct_size != sizeof(qe_options) && options->struct_size != v1)
            return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: options->struct_size is not sizeof(qe_options) (use qe_options_init)");
        memcpy(&o, options, options->struct_size);
        o.struct_size = sizeof o;
    }
    if (o.batch < 1) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: options.batch must be >= 1");
    if (o.tile != 0 && o.tile < 16) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: options.tile must be 0 (automatic) or >= 16");
    if (o.policy < QE_POLICY_ADAPTIVE || o.policy > QE_POLICY_RANDOM) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: unknown policy");
    if (!(o.threshold <= 1.0f)) return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: threshold must be <= 1 (or < 0 for the default)");
    if (!(o.heavy_fraction <= 1.0f))
        return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: heavy_fraction must be in [0, 1] (or < 0 for the bundle's routing)");
    if (o.threshold >= 0.0f && o.heavy_fraction >= 0.0f)
        return fail(QE_ERR_INVALID_ARGUMENT, "qe_create: set either threshold or heavy_fraction, not both");
    qe_restorer *r = (qe_restorer *)calloc(1, sizeof *r);
    if (!r) return fail(QE_ERR_RUNTIME, "qe_create: out of memory");
    int rc = qe__py_create(bundle_path, o.tile, o.overlap, o.batch, o.threads, o.policy, o.threshold, o.heavy_fraction,
                           o.seed == QE_SEED_DEFAULT ? -1 : (int64_t)o.seed, &r->handle, &r->scale);
    if (rc != QE_OK) {
        free(r);
        return (qe_status)rc;
    }
    *out = r;
    qe__set_error("");
    return QE_OK;
}

QE_API qe_status qe_scale(const qe_restorer *r, int32_t *scale) {
    if (!r || !scale) return fail(QE_ERR_INVALID_ARGUMENT, "qe_scale: NULL argument");
    *scale = r->scale;
    return QE_OK;
}

QE_API qe_status qe_output_size(const qe_restorer *r, int32_t w, int32_t h, int32_t *ow, int32_t *oh) {
    if (!r || !ow || !oh) return fail(QE_ERR_INVALID_ARGUMENT, "qe_output_size: NULL argument");
    if (w <= 0 || h <= 0) return fail(QE_ERR_INVALID_ARGUMENT, "qe_output_size: width and height must be positive");
    if ((int64_t)w * r->scale > INT32_MAX || (int64_t)h * r->scale > INT32_MAX) return fail(QE_ERR_INVALID_ARGUMENT, "qe_output_size: output too large");
    *ow = w * r->scale;
    *oh = h * r->scale;
    return QE_OK;
}

static qe_status check_image(const qe_image *im, const char *what) {
    char msg[256];
    if (!im) { snprintf(msg, sizeof msg, "qe_restore: %s is NULL", what); return fail(QE_ERR_INVALID_ARGUMENT, msg); }
    if (im->struct_size != sizeof(qe_image)) { snprintf(msg, sizeof msg, "qe_restore: %s->struct_size is not sizeof(qe_image)", what); return fail(QE_ERR_INVALID_ARGUMENT, msg); }
    if (!im->data) { snprintf(msg, sizeof msg, "qe_restore: %s->data is NULL", what); return fail(QE_ERR_INVALID_ARGUMENT, msg); }
    int bpp = bytes_per_pixel(im->format);
    if (!bpp) { snprintf(msg, sizeof msg, "qe_restore: %s->format %d is not a qe_pixel_format", what, im->format); return fail(QE_ERR_INVALID_ARGUMENT, msg); }
    if (im->width <= 0 || im->height <= 0) { snprintf(msg, sizeof msg, "qe_restore: %s has size %dx%d", what, im->width, im->height); return fail(QE_ERR_INVALID_ARGUMENT, msg); }
    if (im->stride_bytes < (int64_t)im->width * bpp) {
        snprintf(msg, sizeof msg, "qe_restore: %s->stride_bytes %lld is less than width * %d bytes", what, (long long)im->stride_bytes, bpp);
        return fail(QE_ERR_INVALID_ARGUMENT, msg);
    }
    if (im->stride_bytes % ((im->format == QE_PIXEL_RGB16 || im->format == QE_PIXEL_RGBA16) ? 2 : 1)) {
        snprintf(msg, sizeof msg, "qe_restore: %s->stride_bytes must be a multiple of the sample size", what);
        return fail(QE_ERR_INVALID_ARGUMENT, msg);
    }
    return QE_OK;
}

QE_API qe_status qe_restore(qe_restorer *r, const qe_image *in, qe_image *out) {
    if (!r) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore: restorer is NULL");
    qe_status s = check_image(in, "input");
    if (s != QE_OK) return s;
    s = check_image(out, "output");
    if (s != QE_OK) return s;
    if (out->format != in->format) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore: the output format must equal the input format");
    int64_t ow = (int64_t)in->width * r->scale, oh = (int64_t)in->height * r->scale;
    if (out->width < ow || out->height < oh) {
        char msg[256];
        snprintf(msg, sizeof msg, "qe_restore: the output buffer is %dx%d but the result is %lldx%lld", out->width, out->height, (long long)ow, (long long)oh);
        return fail(QE_ERR_BUFFER_TOO_SMALL, msg);
    }
    if (out->width != ow || out->height != oh) return fail(QE_ERR_INVALID_ARGUMENT, "qe_restore: the output size must be exactly qe_output_size()");
    int rc = qe__py_restore(r->handle, in->data, in->width, in->height, in->stride_bytes, in->format, out->data, out->width, out->height, out->stride_bytes);
    if (rc == QE_OK) qe__set_error("");
    return (qe_status)rc;
}

QE_API void qe_destroy(qe_restorer *r) {
    if (!r) return;
    qe__py_destroy(r->handle);
    free(r);
}
