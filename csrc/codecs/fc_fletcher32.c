/* fc_fletcher32.c — HDF5 fletcher32 filter 3: verify the 4-byte checksum after the data.
 *
 * Fletcher-32 over 16-bit big-endian words, stored little-endian. HDF5 before 1.6.3 stored
 * it with the bytes of each 16-bit half swapped, and an odd trailing byte was added without
 * the shift in some versions; HDF5 accepts the old forms, so do we. */
#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"

static uint32_t fletcher32(const uint8_t *p, size_t len, int odd_shift)
{
    uint32_t s1 = 0, s2 = 0;
    size_t words = len / 2;
    while (words) {
        size_t n = words > 360 ? 360 : words; /* 360 words cannot overflow 32 bits */
        words -= n;
        do {
            s1 += ((uint32_t)p[0] << 8) | p[1];
            s2 += s1;
            p += 2;
        } while (--n);
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    if (len & 1) {
        s1 += odd_shift ? (uint32_t)p[0] << 8 : p[0];
        s2 += s1;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
    return (s2 << 16) | s1;
}

static uint32_t swap_halves_bytes(uint32_t x)
{
    return ((x & 0x00ff00ffu) << 8) | ((x >> 8) & 0x00ff00ffu);
}

int fc_fletcher32_verify(const uint8_t *src, size_t srclen, fc_error_t *err)
{
    if (srclen < 4)
        return fc_fail(err, FC_E_CORRUPT, 0, "fletcher32: chunk shorter than its checksum");
    size_t len = srclen - 4;
    const uint8_t *c = src + len;
    uint32_t stored = (uint32_t)c[0] | ((uint32_t)c[1] << 8) | ((uint32_t)c[2] << 16) |
                      ((uint32_t)c[3] << 24);
    for (int odd_shift = 1; odd_shift >= 0; odd_shift--) {
        uint32_t f = fletcher32(src, len, odd_shift);
        if (stored == f || stored == swap_halves_bytes(f))
            return FC_OK;
        if (!(len & 1))
            break;
    }
    return fc_fail(err, FC_E_CHECKSUM, len, "fletcher32: checksum does not match the data");
}
