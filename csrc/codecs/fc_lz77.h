/* fc_lz77.h — the literal and match copies LZF, BloscLZ and Snappy share. */
#ifndef FC_LZ77_H
#define FC_LZ77_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A literal run of n <= 32 bytes (LZF, BloscLZ) that fits both buffers: two fixed 16-byte
 * moves while 32 bytes remain in both (what they overshoot is overwritten later, since the
 * output fills in order), else exactly n. */
static inline void fc_copy_short_run(uint8_t *op, const uint8_t *ip, size_t n, size_t in_left,
                                     size_t out_left)
{
    if (in_left >= 32 && out_left >= 32) {
        memcpy(op, ip, 16);
        memcpy(op + 16, ip + 16, 16);
    } else {
        memcpy(op, ip, n);
    }
}

/* LZ77 match copy (LZF, BloscLZ): n bytes from d bytes back (d >= 1), overlapping allowed.
 * Writes up to 7 bytes past op + n: the caller needs that much output room. In detector frames
 * most matches are 4-16 bytes from offset 1 (zero runs), 4 (a repeated 32-bit pixel) or 8 and
 * more, so those take no loop over bytes. */
static inline void fc_copy_back(uint8_t *op, size_t d, size_t n)
{
    const uint8_t *m = op - d;
    if (d >= 8) {
        /* each 8-byte move reads bytes written at least 8 bytes before it */
        for (size_t i = 0; i < n; i += 8)
            memcpy(op + i, m + i, 8);
        return;
    }
    /* a period that divides 8: spread it over a word with a multiply, store that repeatedly */
    uint64_t w;
    if (d == 1) {
        w = m[0] * 0x0101010101010101ULL;
    } else if (d == 4) {
        uint32_t v;
        memcpy(&v, m, 4);
        w = v * 0x0000000100000001ULL;
    } else if (d == 2) {
        uint16_t v;
        memcpy(&v, m, 2);
        w = v * 0x0001000100010001ULL;
    } else {
        for (size_t i = 0; i < n; i++) /* periods 3, 5, 6, 7: rare */
            op[i] = m[i];
        return;
    }
    for (size_t i = 0; i < n; i += 8)
        memcpy(op + i, &w, 8);
}

/* The same for a match that fits in the room left (n <= room): the fast way while 8 bytes of
 * slack remain past it, else byte by byte (exact, and right for any overlap). */
static inline void fc_copy_back_within(uint8_t *op, size_t d, size_t n, size_t room)
{
    if (n + 8 <= room) {
        fc_copy_back(op, d, n);
        return;
    }
    const uint8_t *m = op - d;
    for (size_t i = 0; i < n; i++)
        op[i] = m[i];
}

#endif
