#ifndef CCRC32C_H
#define CCRC32C_H
// CRC32C (Castagnoli), the checksum of every WAL batch. It lives in C because the SSE4.2 `crc32`
// instruction is ~20x faster than a table in Swift, and the WAL checksums every byte it writes and reads.
#include <stddef.h>
#include <stdint.h>

/// Extends `crc` (0 for a fresh checksum) over `length` bytes at `data`. Uses SSE4.2 when the CPU has it.
uint32_t ccrc32c_extend(uint32_t crc, const void *data, size_t length);

/// The portable table-driven path, exposed so tests can check both paths agree.
uint32_t ccrc32c_extend_software(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware path is in use.
int ccrc32c_hardware_available(void);

#endif
