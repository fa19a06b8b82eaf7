// OpenBLAS's own cblas.h (Debian: libopenblas-dev, include path from pkg-config `openblas`).
#include <cblas.h>

