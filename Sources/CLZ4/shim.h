// Exists only so Swift can import liblz4's block API (LZ4_compress_default, LZ4_decompress_safe).
#include <lz4.h>
