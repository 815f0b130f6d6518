// Exists only so Swift can import CRoaring. Debian's libroaring-dev has no pkg-config file, so the
// header is found on the default include path (/usr/include/roaring/roaring.h).
#include <roaring/roaring.h>
