/* Fuzz test of qualedge's C ABI: random sizes, strides, formats, struct sizes and NULLs at every entry point. Every
 * call must return (no crash, no sanitizer report) with a qe_status in range, and a message for each failure. Buffers
 * are never smaller than what their sizes and strides claim (that is the caller's side of the contract).
 * usage: capi_fuzz BUNDLE ITERATIONS SEED */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qualedge.h"

static uint64_t state;
static uint32_t rnd(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(state >> 33);
}
static int pick(int n) { return (int)(rnd() % (uint32_t)n); }

#define CHECK_STATUS(s, what)                                                                                      \
    do {                                                                                                             \
        if ((int)(s) < 0 || (int)(s) > QE_ERR_UNSUPPORTED) {                                                         \
            fprintf(stderr, "FAIL: %s returned %d\n", what, (int)(s));                                               \
            return 1;                                                                                                \
        }                                                                                                            \
        if ((s) != QE_OK && strlen(qe_last_error()) == 0) {                                                          \
            fprintf(stderr, "FAIL: %s failed (%d) without a message\n", what, (int)(s));                           \
            return 1;                                                                                                \
        }                                                                                                            \
    } while (0)

static int32_t weird(void) {
    static const int32_t v[] = {-2147483647 - 1, -1, 0, 1, 2, 3, 7, 16, 33, 100000, 2147483647};
    return v[pick(11)];
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) return 2;
    const char *bundle = argv[1];
    const char *rbundle = argc == 5 ? argv[4] : NULL; /* a restoration bundle: also fuzz the chain entry points */
    long iters = atol(argv[2]);
    state = (uint64_t)atoll(argv[3]) * 2654435761ULL + 1;
    qe_options o;
    qe_options_init(&o);
    o.tile = 32;
    qe_restorer *r = NULL;
    qe_status s = qe_create(bundle, &o, QE_ABI_VERSION, &r);
    if (s != QE_OK) {
        fprintf(stderr, "FAIL: create %s\n", qe_last_error());
        return 1;
    }
    qe_restorer *chain = NULL;
    if (rbundle && qe_create_chain(rbundle, NULL, bundle, &o, QE_ABI_VERSION, &chain) != QE_OK) {
        fprintf(stderr, "FAIL: create chain %s\n", qe_last_error());
        return 1;
    }
    unsigned char *pool = malloc(1 << 20);
    unsigned char *outpool = malloc(1 << 22);
    memset(pool, 0x5a, 1 << 20);
    long ok = 0, failed = 0;
    for (long i = 0; i < iters; i++) {
        int which = pick(rbundle ? 8 : 6);
        if (which == 0) {  /* qe_create with random options and paths */
            qe_options b;
            qe_options_init(&b);
            b.struct_size = pick(3) ? b.struct_size : (uint32_t)pick(64);
            b.tile = weird(), b.overlap = weird(), b.batch = weird(), b.threads = pick(2) ? 0 : weird();
            b.policy = pick(2) ? pick(4) : weird(), b.precision = pick(2) ? pick(3) : weird();
            b.threshold = pick(2) ? -1.f : (float)weird() / 3.f, b.heavy_fraction = pick(2) ? -1.f : (float)weird() / 5.f;
            qe_restorer *t = NULL;
            const char *paths[] = {bundle, NULL, "", "/nonexistent", "/"};
            s = qe_create(paths[pick(5)], pick(4) ? &b : NULL, pick(8) ? QE_ABI_VERSION : (uint32_t)rnd(), pick(8) ? &t : NULL);
            CHECK_STATUS(s, "qe_create");
            if (s == QE_OK) qe_destroy(t);
        } else if (which == 1) {
            int32_t ow, oh;
            s = qe_output_size(pick(6) ? r : NULL, weird(), weird(), pick(6) ? &ow : NULL, pick(6) ? &oh : NULL);
            CHECK_STATUS(s, "qe_output_size");
        } else if (which == 2) {
            int32_t sc;
            s = qe_scale(pick(6) ? r : NULL, pick(6) ? &sc : NULL);
            CHECK_STATUS(s, "qe_scale");
        } else if (which == 6) { /* qe_create_chain with random paths, options and NULLs */
            qe_options b;
            qe_options_init(&b);
            b.struct_size = pick(3) ? b.struct_size : (uint32_t)pick(64);
            b.seed = (uint32_t)rnd(), b.restore_mode = pick(2) ? pick(2) : weird(), b.precision = pick(2) ? 0 : weird();
            b.policy = pick(3) ? 0 : weird(), b.tile = pick(3) ? 0 : weird();
            const char *paths[] = {rbundle, bundle, NULL, "", "/nonexistent"};
            qe_restorer *t = NULL;
            s = qe_create_chain(paths[pick(5)], pick(3) ? &b : NULL, paths[pick(5)], pick(3) ? &o : NULL, pick(8) ? QE_ABI_VERSION : (uint32_t)rnd(),
                                pick(8) ? &t : NULL);
            CHECK_STATUS(s, "qe_create_chain");
            if (s == QE_OK) qe_destroy(t);
        } else if (which == 7) { /* qe_restore_chain_ex on the chain or on a restorer that is none */
            int w = 1 + pick(12), h = 1 + pick(12);
            qe_image a = {sizeof(qe_image), w, h, 1, (int64_t)w * 3, pool};
            qe_image b = {sizeof(qe_image), w * 4, h * 4, 1, (int64_t)w * 12, outpool};
            if (pick(3) == 0) b.width = weird();
            if (pick(5) == 0) a.data = NULL;
            qe_stats s1, s2;
            memset(&s1, 0, sizeof s1), memset(&s2, 0, sizeof s2);
            s1.struct_size = pick(5) ? sizeof s1 : (uint32_t)pick(100), s2.struct_size = sizeof s2;
            s = qe_restore_chain_ex(pick(4) ? chain : (pick(2) ? r : NULL), pick(10) ? &a : NULL, pick(10) ? &b : NULL, pick(2) ? &s1 : NULL,
                                    pick(2) ? &s2 : NULL);
            CHECK_STATUS(s, "qe_restore_chain_ex");
        } else {  /* qe_restore(_ex) with random images: mostly invalid, sometimes a small valid one */
            int w = 1 + pick(12), h = 1 + pick(12), fmt = 1 + pick(4);
            int ch = (fmt == 2 || fmt == 4) ? 4 : 3, bpp = ch * ((fmt >= 3) ? 2 : 1);
            qe_image a = {sizeof(qe_image), w, h, fmt, (int64_t)w * bpp + pick(3) * 2, pool};
            qe_image b = {sizeof(qe_image), w * 4, h * 4, fmt, (int64_t)w * 4 * bpp + pick(3) * 2, outpool};
            switch (pick(9)) {
                case 0: a.width = weird(); break;
                case 1: { const int64_t bad[] = {-1, 0, 1, a.stride_bytes - 1}; a.stride_bytes = bad[pick(4)]; } break; /* too short: refused */
                case 2: b.format = weird(); break;
                case 3: a.data = NULL; break;
                case 4: b.height = weird(); break;
                case 5: a.struct_size = (uint32_t)pick(40); break;
                default: break; /* valid */
            }
            qe_stats st;
            memset(&st, 0, sizeof st);
            st.struct_size = pick(5) ? sizeof st : (uint32_t)pick(100);
            int8_t dec[64];
            float q[64];
            st.decisions = pick(2) ? dec : NULL, st.quality = pick(2) ? q : NULL, st.capacity = pick(2) ? 64 : (pick(2) ? 0 : -1); /* the buffers do hold what capacity says */
            s = pick(2) ? qe_restore(pick(10) ? r : NULL, pick(10) ? &a : NULL, pick(10) ? &b : NULL)
                        : qe_restore_ex(pick(10) ? r : NULL, &a, &b, pick(2) ? &st : NULL);
            CHECK_STATUS(s, "qe_restore");
        }
        if (s == QE_OK) ok++;
        else failed++;
    }
    qe_destroy(r);
    qe_destroy(chain);
    qe_destroy(NULL);
    free(pool);
    free(outpool);
    printf("fuzz ok: %ld calls, %ld succeeded, %ld refused with a status\n", iters, ok, failed);
    return 0;
}
