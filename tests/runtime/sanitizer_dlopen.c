/* Linked into the sanitizer builds of the C test programs. oneTBB (inside OpenVINO) dlopens its optional libtbbbind
 * with RTLD_DEEPBIND, which AddressSanitizer refuses (google/sanitizers#611). An executable's own dlopen takes
 * precedence for the libraries it loads: this one drops that flag and calls the real, sanitizer-intercepted dlopen. */
#define _GNU_SOURCE
#include <dlfcn.h>

void *dlopen(const char *file, int mode) {
    static void *(*real)(const char *, int);
    if (!real) real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    return real(file, mode & ~RTLD_DEEPBIND);
}
