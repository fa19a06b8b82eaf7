// libpng (Debian: libpng-dev). Only the "simplified" png_image API is used: it reports errors through
// return values and png_image.message instead of setjmp/longjmp, which Swift cannot call.
#include <png.h>
