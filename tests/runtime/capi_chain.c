/* Test program for restoration through qualedge's C ABI: a restoration bundle restores a degraded photo at its own
 * size (the same seed twice gives the same bytes), and a chain restores then upscales it in one call.
 * usage: capi_chain RESTORE_BUNDLE SR_BUNDLE IN.raw WIDTH HEIGHT CHANNELS SEED RESTORED.raw CHAIN.raw */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi_test.h"
#include "qualedge.h"

static void write_raw(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n, "cannot write %s", path);
    fclose(f);
}

int main(int argc, char **argv) {
    CHECK(argc == 10, "usage: %s RESTORE_BUNDLE SR_BUNDLE IN.raw W H C SEED RESTORED.raw CHAIN.raw", argv[0]);
    const char *rbundle = argv[1], *sbundle = argv[2];
    int w = atoi(argv[4]), h = atoi(argv[5]), c = atoi(argv[6]);
    uint32_t seed = (uint32_t)strtoul(argv[7], NULL, 10);
    size_t in_size = (size_t)w * h * c;
    unsigned char *in = malloc(in_size);
    FILE *f = fopen(argv[3], "rb");
    CHECK(f && fread(in, 1, in_size, f) == in_size, "cannot read %s", argv[3]);
    fclose(f);

    /* restoration: output at the input's size, seeded noise */
    qe_options ro;
    qe_options_init(&ro);
    ro.seed = seed;
    qe_restorer *r = NULL;
    CHECK(qe_create(rbundle, &ro, QE_ABI_VERSION, &r) == QE_OK, "create restoration: %s", qe_last_error());
    int32_t s = 0;
    CHECK(qe_scale(r, &s) == QE_OK && s == 1, "a restoration restorer has scale 1");
    unsigned char *rest = malloc(in_size), *again = malloc(in_size);
    qe_image a = make_image(in, w, h, c), b = make_image(rest, w, h, c), b2 = make_image(again, w, h, c);
    qe_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK(qe_restore_ex(r, &a, &b, &st) == QE_OK, "restore: %s", qe_last_error());
    CHECK(st.tile_rows > 0 && st.tile_cols > 0 && st.heavy_tiles == 0, "restoration stats");
    CHECK(qe_restore(r, &a, &b2) == QE_OK && memcmp(rest, again, in_size) == 0, "the same seed gives the same output");
    CHECK(qe_restore_chain_ex(r, &a, &b, NULL, NULL) == QE_ERR_INVALID_ARGUMENT, "qe_restore_chain_ex on a restorer that is no chain");
    qe_options bad = ro;
    bad.policy = QE_POLICY_HEAVY;
    qe_restorer *x = NULL;
    CHECK(qe_create(rbundle, &bad, QE_ABI_VERSION, &x) == QE_ERR_INVALID_ARGUMENT && x == NULL, "routing options on a restoration bundle");
    write_raw(argv[8], rest, in_size);
    qe_destroy(r);

    /* the chain: restoration then x4 in one call */
    qe_restorer *ch = NULL;
    CHECK(qe_create_chain(sbundle, &ro, rbundle, NULL, QE_ABI_VERSION, &ch) != QE_OK && ch == NULL, "a chain whose first stage is no restoration bundle");
    CHECK(qe_create_chain(NULL, &ro, sbundle, NULL, QE_ABI_VERSION, &ch) == QE_ERR_INVALID_ARGUMENT, "NULL restore bundle");
    CHECK(qe_create_chain(rbundle, &ro, sbundle, NULL, QE_ABI_VERSION + 1, &ch) == QE_ERR_ABI_MISMATCH, "chain ABI check");
    qe_options so;
    qe_options_init(&so);
    so.tile = 64;
    CHECK(qe_create_chain(rbundle, &ro, sbundle, &so, QE_ABI_VERSION, &ch) == QE_OK, "create chain: %s", qe_last_error());
    int32_t ow = 0, oh = 0;
    CHECK(qe_output_size(ch, w, h, &ow, &oh) == QE_OK && ow > w && oh > h, "chain output size");
    size_t out_size = (size_t)ow * oh * c;
    unsigned char *out = malloc(out_size);
    qe_image o = make_image(out, ow, oh, c);
    qe_stats s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    s1.struct_size = s2.struct_size = sizeof s1;
    CHECK(qe_restore_chain_ex(ch, &a, &o, &s1, &s2) == QE_OK, "chain restore: %s", qe_last_error());
    CHECK(s1.tile_rows > 0 && s2.tile_rows > 0 && s2.seconds_total >= s1.seconds_total, "chain stats per stage");
    write_raw(argv[9], out, out_size);
    qe_destroy(ch);
    free(in), free(rest), free(again), free(out);
    printf("capi chain ok: %dx%d restored, then %dx%d\n", w, h, ow, oh);
    return 0;
}
