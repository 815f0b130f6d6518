import CCRC32C

/// CRC32C (Castagnoli) of WAL headers and payloads; SSE4.2 when the CPU has it (see `CCRC32C`).
enum CRC32C {
    @inline(__always)
    static func checksum(_ bytes: UnsafeRawBufferPointer, extending crc: UInt32 = 0) -> UInt32 {
        ccrc32c_extend(crc, bytes.baseAddress, bytes.count)
    }
}
