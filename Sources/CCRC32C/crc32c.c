#include "ccrc32c.h"
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#define CCRC32C_X86 1
#endif

static uint32_t ccrc32c_table[8][256];
static int ccrc32c_table_ready = 0;

static void ccrc32c_build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        ccrc32c_table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = ccrc32c_table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = ccrc32c_table[0][crc & 0xff] ^ (crc >> 8);
            ccrc32c_table[k][n] = crc;
        }
    }
    __atomic_store_n(&ccrc32c_table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t ccrc32c_extend_software(uint32_t crc, const void *data, size_t length) {
    if (!__atomic_load_n(&ccrc32c_table_ready, __ATOMIC_ACQUIRE)) ccrc32c_build_table();
    const uint8_t *p = (const uint8_t *)data;
    crc = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        uint32_t lo = (uint32_t)word ^ crc;
        uint32_t hi = (uint32_t)(word >> 32);
        crc = ccrc32c_table[7][lo & 0xff] ^ ccrc32c_table[6][(lo >> 8) & 0xff] ^
              ccrc32c_table[5][(lo >> 16) & 0xff] ^ ccrc32c_table[4][lo >> 24] ^
              ccrc32c_table[3][hi & 0xff] ^ ccrc32c_table[2][(hi >> 8) & 0xff] ^
              ccrc32c_table[1][(hi >> 16) & 0xff] ^ ccrc32c_table[0][hi >> 24];
        p += 8;
        length -= 8;
    }
    while (length--) crc = ccrc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#ifdef CCRC32C_X86
__attribute__((target("sse4.2")))
static uint32_t ccrc32c_extend_hardware(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t c = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

static int ccrc32c_detect(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
}
#endif

int ccrc32c_hardware_available(void) {
#ifdef CCRC32C_X86
    static int state = -1;
    int s = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (s < 0) {
        s = ccrc32c_detect();
        __atomic_store_n(&state, s, __ATOMIC_RELAXED);
    }
    return s;
#else
    return 0;
#endif
}

uint32_t ccrc32c_extend(uint32_t crc, const void *data, size_t length) {
#ifdef CCRC32C_X86
    if (ccrc32c_hardware_available()) return ccrc32c_extend_hardware(crc, data, length);
#endif
    return ccrc32c_extend_software(crc, data, length);
}
