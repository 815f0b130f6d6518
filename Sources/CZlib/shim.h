// zlib for the ingest routes' `Content-Encoding: gzip` bodies (Debian's zlib1g-dev, found by pkg-config).
// Only includes the real header; `inflateInit2` is a macro, so a wrapper gives Swift a function to call.
#include <zlib.h>

static inline int czlib_inflate_init_gzip(z_stream *stream) {
    // 16 + MAX_WBITS: gzip framing only (RFC 1952), with its CRC-32 and length checked.
    return inflateInit2(stream, 16 + MAX_WBITS);
}

static inline int czlib_deflate_init_gzip(z_stream *stream, int level) {
    // Used by tests and bench to make gzip bodies the way SDK clients do.
    return deflateInit2(stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
}
