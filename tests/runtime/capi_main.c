/* Test program for qualedge's C ABI: misuse must return status codes, a restore must succeed, and eight threads
 * restoring concurrently through one handle must all produce the single-threaded result.
 * usage: capi_main BUNDLE INPUT.raw WIDTH HEIGHT CHANNELS OUTPUT.raw */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi_test.h"
#include "qualedge.h"

typedef struct {
    qe_restorer *r;
    const unsigned char *in;
    int w, h, c;
    unsigned char *out;
    size_t out_size;
    qe_status status;
} job;

static void *worker(void *arg) {
    job *j = (job *)arg;
    int32_t s;
    qe_scale(j->r, &s);
    qe_image a = make_image((void *)j->in, j->w, j->h, j->c);
    qe_image b = make_image(j->out, j->w * s, j->h * s, j->c);
    j->status = qe_restore(j->r, &a, &b);
    return NULL;
}

int main(int argc, char **argv) {
    CHECK(argc == 7, "usage: %s BUNDLE IN.raw W H C OUT.raw", argv[0]);
    const char *bundle = argv[1];
    int w = atoi(argv[3]), h = atoi(argv[4]), c = atoi(argv[5]);
    size_t in_size = (size_t)w * h * c;
    unsigned char *in = malloc(in_size);
    FILE *f = fopen(argv[2], "rb");
    CHECK(f && fread(in, 1, in_size, f) == in_size, "cannot read %s", argv[2]);
    fclose(f);

    CHECK(qe_abi_version() == QE_ABI_VERSION, "ABI version query");
    qe_restorer *r = (qe_restorer *)0x1;
    /* misuse: every case returns a status code and sets a message */
    CHECK(qe_create(bundle, NULL, QE_ABI_VERSION + 1, &r) == QE_ERR_ABI_MISMATCH && r == NULL, "wrong ABI version");
    CHECK(strlen(qe_last_error()) > 0, "error message after a wrong ABI version");
    CHECK(qe_create(NULL, NULL, QE_ABI_VERSION, &r) == QE_ERR_INVALID_ARGUMENT, "NULL bundle path");
    CHECK(qe_create(bundle, NULL, QE_ABI_VERSION, NULL) == QE_ERR_INVALID_ARGUMENT, "NULL out");
    qe_options bad;
    qe_options_init(&bad);
    bad.struct_size = 3;
    CHECK(qe_create(bundle, &bad, QE_ABI_VERSION, &r) == QE_ERR_INVALID_ARGUMENT, "bad struct_size");
    CHECK(qe_create("/nonexistent/bundle", NULL, QE_ABI_VERSION, &r) == QE_ERR_BUNDLE, "missing bundle: %s", qe_last_error());
    CHECK(strstr(qe_last_error(), "not found") != NULL, "message names the problem: %s", qe_last_error());
    CHECK(qe_restore(NULL, NULL, NULL) == QE_ERR_INVALID_ARGUMENT, "NULL restorer");
    qe_destroy(NULL);

    qe_options opts;
    CHECK(qe_options_init(&opts) == QE_OK, "options init");
    opts.tile = 64;
    CHECK(qe_create(bundle, &opts, QE_ABI_VERSION, &r) == QE_OK, "create: %s", qe_last_error());
    int32_t s = 0, ow = 0, oh = 0;
    CHECK(qe_scale(r, &s) == QE_OK && s > 0, "scale");
    CHECK(qe_output_size(r, w, h, &ow, &oh) == QE_OK && ow == w * s && oh == h * s, "output size");
    size_t out_size = (size_t)ow * oh * c;
    unsigned char *out = malloc(out_size);
    qe_image a = make_image(in, w, h, c), b = make_image(out, ow, oh, c);

    qe_image wrong = a;
    wrong.stride_bytes = w * c - 1;
    CHECK(qe_restore(r, &wrong, &b) == QE_ERR_INVALID_ARGUMENT, "short input stride");
    wrong = a;
    wrong.data = NULL;
    CHECK(qe_restore(r, &wrong, &b) == QE_ERR_INVALID_ARGUMENT, "NULL input data");
    qe_image small = b;
    small.width = ow - 1;
    small.stride_bytes = (int64_t)(ow - 1) * c;
    CHECK(qe_restore(r, &a, &small) == QE_ERR_BUFFER_TOO_SMALL, "output buffer too small");
    qe_image fmt = b;
    fmt.format = 42;
    CHECK(qe_restore(r, &a, &fmt) == QE_ERR_INVALID_ARGUMENT, "unknown pixel format");

    CHECK(qe_restore(r, &a, &b) == QE_OK, "restore: %s", qe_last_error());
    f = fopen(argv[6], "wb");
    CHECK(f && fwrite(out, 1, out_size, f) == out_size, "cannot write %s", argv[6]);
    fclose(f);

    enum { N = 8 };
    pthread_t th[N];
    job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){r, in, w, h, c, malloc(out_size), out_size, QE_ERR_RUNTIME};
        CHECK(pthread_create(&th[i], NULL, worker, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].status == QE_OK, "thread %d status %d", i, jobs[i].status);
        CHECK(memcmp(jobs[i].out, out, out_size) == 0, "thread %d result differs", i);
        free(jobs[i].out);
    }
    qe_destroy(r);
    free(out);
    free(in);
    printf("capi ok: %dx%d -> %dx%d, %d threads identical\n", w, h, ow, oh, N);
    return 0;
}
