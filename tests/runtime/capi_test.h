/* Helpers shared by the C test programs of the C ABI. */
#ifndef QE_CAPI_TEST_H
#define QE_CAPI_TEST_H
#include <stdio.h>
#include <stdlib.h>

#include "qualedge.h"

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } } while (0)

/* A caller-owned 8-bit RGB(A) image of w x h pixels with rows packed. */
static inline qe_image make_image(void *data, int w, int h, int c) {
    qe_image im;
    im.struct_size = sizeof im;
    im.width = w;
    im.height = h;
    im.format = c == 4 ? QE_PIXEL_RGBA8 : QE_PIXEL_RGB8;
    im.stride_bytes = (int64_t)w * c;
    im.data = data;
    return im;
}
#endif
