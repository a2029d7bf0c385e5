/* Cold start of the native C ABI, for `qualedge bench latency`: load the library (linked), open a bundle, restore one
 * synthetic WxH RGB8 image, and print the seconds of each step as JSON. usage: cold_start BUNDLE W H */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qualedge.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BUNDLE W H\n", argv[0]);
        return 2;
    }
    int w = atoi(argv[2]), h = atoi(argv[3]);
    unsigned char *in = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) in[i] = (unsigned char)((i * 7) ^ (i / 97));
    double t0 = now();
    qe_options o;
    qe_options_init(&o);
    qe_restorer *r = NULL;
    if (qe_create(argv[1], &o, QE_ABI_VERSION, &r) != QE_OK) {
        fprintf(stderr, "%s\n", qe_last_error());
        return 1;
    }
    double t1 = now();
    int32_t ow, oh;
    qe_output_size(r, w, h, &ow, &oh);
    unsigned char *out = malloc((size_t)ow * oh * 3);
    qe_image a = {sizeof(qe_image), w, h, QE_PIXEL_RGB8, (int64_t)w * 3, in};
    qe_image b = {sizeof(qe_image), ow, oh, QE_PIXEL_RGB8, (int64_t)ow * 3, out};
    if (qe_restore(r, &a, &b) != QE_OK) {
        fprintf(stderr, "%s\n", qe_last_error());
        return 1;
    }
    double t2 = now();
    qe_destroy(r);
    printf("{\"create_s\": %.4f, \"restore_s\": %.4f}\n", t1 - t0, t2 - t1);
    free(in);
    free(out);
    return 0;
}
