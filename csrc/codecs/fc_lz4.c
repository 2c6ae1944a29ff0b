/* fc_lz4.c — LZ4 block decoder (the public block format), safe on hostile bytes.
 *
 * Every length is checked against both the input end and the output end before it is used.
 * Far from both ends, copies are wide and unconditional: they may read up to SLACK - 1 bytes
 * past a literal run (still inside the input) and write up to SLACK - 1 bytes past a copy's
 * end (still inside the output, and overwritten later, since the output fills in order).
 * Near the ends an exact path copies only what the sequence says. */
#include <string.h>

#include "codecs/fc_copy_shuffle.h"
#include "fastchunk.h"

#define SLACK 32 /* input and output room a fast copy needs beyond its logical end */

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static inline void copy8(uint8_t *d, const uint8_t *s) { memcpy(d, s, 8); }
static inline void copy16(uint8_t *d, const uint8_t *s) { memcpy(d, s, 16); }

/* Read a length extension: bytes of 255 continue it. Returns 0 on input overrun. */
static inline int read_length(const uint8_t **ipp, const uint8_t *iend, size_t *len)
{
    const uint8_t *ip = *ipp;
    unsigned b;
    do {
        if (UNLIKELY(ip >= iend))
            return 0;
        b = *ip++;
        *len += b;
    } while (b == 255);
    *ipp = ip;
    return 1;
}

/* Copy len bytes 32 at a time; d and s must be at least 32 apart (or in different buffers).
 * Writes and reads up to 31 bytes past the end. */
static inline void copy_wide(uint8_t *d, const uint8_t *s, size_t len)
{
    uint8_t *end = d + len;
    do {
        copy16(d, s);
        copy16(d + 16, s + 16);
        d += 32;
        s += 32;
    } while (d < end);
}

/* A match whose offset is below 16 reads bytes it is itself writing, so a wide move from
 * op - off would read stale bytes (or stall on the store before it). Instead spread the
 * period into a 16-byte pattern once and store it over and over, advancing by the largest
 * multiple of the period that fits in 16 bytes. off is a constant at every call site, so the
 * pattern is built in registers. Writes up to 31 bytes past the end. */
static inline void fill_period(uint8_t *op, size_t len, size_t off)
{
    const uint8_t *m = op - off;
    uint8_t pat[16];
    for (size_t i = 0; i < 16; i++)
        pat[i] = m[i % off];
    const size_t step = 16 / off * off;
    uint8_t *end = op + len;
    do {
        copy16(op, pat);
        copy16(op + step, pat);
        op += 2 * step;
    } while (op < end);
}

/* Offsets whose period divides 8: one 8-byte broadcast (a multiply replicates the period in
 * any byte order). Most short-offset bytes in bitshuffled data are runs of period 1 or 2. */
static inline void fill_pow2(uint8_t *op, size_t len, uint64_t pattern)
{
    uint8_t pat[16];
    memcpy(pat, &pattern, 8);
    memcpy(pat + 8, &pattern, 8);
    uint8_t *end = op + len;
    do {
        copy16(op, pat);
        copy16(op + 16, pat);
        op += 32;
    } while (op < end);
}

static void fill_short(uint8_t *op, size_t len, size_t off)
{
    const uint8_t *m = op - off;
    uint8_t b1;
    uint16_t b2;
    uint32_t b4;
    uint64_t b8;
    switch (off) {
    case 1: memcpy(&b1, m, 1); fill_pow2(op, len, b1 * 0x0101010101010101ULL); return;
    case 2: memcpy(&b2, m, 2); fill_pow2(op, len, b2 * 0x0001000100010001ULL); return;
    case 4: memcpy(&b4, m, 4); fill_pow2(op, len, b4 * 0x0000000100000001ULL); return;
    case 8: memcpy(&b8, m, 8); fill_pow2(op, len, b8); return;
    case 3: fill_period(op, len, 3); return;
    case 5: fill_period(op, len, 5); return;
    case 6: fill_period(op, len, 6); return;
    case 7: fill_period(op, len, 7); return;
    case 9: fill_period(op, len, 9); return;
    case 10: fill_period(op, len, 10); return;
    case 11: fill_period(op, len, 11); return;
    case 12: fill_period(op, len, 12); return;
    case 13: fill_period(op, len, 13); return;
    case 14: fill_period(op, len, 14); return;
    default: fill_period(op, len, 15); return;
    }
}

/* The rest of a match longer than 16 bytes whose first 16 are already copied. */
static void copy_match_long(uint8_t *op, size_t off, size_t len)
{
    const uint8_t *m = op - off;
    if (off >= 32) {
        copy_wide(op + 16, m + 16, len - 16);
    } else if (off >= 16) {
        for (size_t i = 16; i < len; i += 16)
            copy16(op + i, m + i);
    } else {
        fill_short(op, len, off); /* rewrites the first 16 bytes with the same values */
    }
}

/* Copy a match of len bytes from op - off, 0 < off <= bytes already written, with SLACK
 * bytes of output room past op + len. The offset is what the branch predictor cannot learn
 * in bitshuffled data, so the common case (at most 16 bytes, offset >= 8) takes one branch
 * on it; offset 2 (runs in 16-bit bit planes) is the next most common. */
static inline __attribute__((always_inline)) void copy_match_fast(uint8_t *op, size_t off,
                                                                  size_t len, const int simd)
{
#if FC_SHUFFLE_COPY
    if (simd) {
        /* no branch on the offset for the first 16 bytes (fc_copy_shuffle.h) */
        fc_copy16_shuffled(op, off);
        if (UNLIKELY(len > 16))
            copy_match_long(op, off, len);
        return;
    }
#endif
    const uint8_t *m = op - off;
    if (LIKELY(off >= 8)) {
        /* Right for any offset >= 8: the second move reads what the first one wrote. */
        copy8(op, m);
        copy8(op + 8, m + 8);
        if (UNLIKELY(len > 16))
            copy_match_long(op, off, len);
        return;
    }
    if (off == 2) {
        uint16_t b2;
        memcpy(&b2, m, 2);
        fill_pow2(op, len, b2 * 0x0001000100010001ULL);
        return;
    }
    fill_short(op, len, off);
}

/* Copy a match that ends less than SLACK bytes before the output end: everything up to SLACK
 * bytes before the end goes the fast way (bitshuffled blocks often end in one long run), the
 * rest byte by byte, which is exact and handles any overlap. */
static inline __attribute__((always_inline)) void copy_match_tail(uint8_t *op, size_t off,
                                                                  size_t len, size_t room,
                                                                  const int simd)
{
    size_t head = room > SLACK ? room - SLACK : 0;
    if (head > len)
        head = len;
    if (head)
        copy_match_fast(op, off, head, simd);
    const uint8_t *m = op - off;
    for (size_t i = head; i < len; i++)
        op[i] = m[i];
}

/* One literal-free match of at most 16 bytes from the 3 bytes at ip (token, offset), if it is
 * one the pixel loop takes: offset 8 or more (two 8-byte moves), or 2 (a run of one 16-bit
 * value, spread with a multiply). Returns 0, touching nothing, for any other sequence. */
static inline __attribute__((always_inline)) int pixel_seq(const uint8_t *ip, uint8_t **opp,
                                                          const uint8_t *dst)
{
    uint8_t *op = *opp;
    unsigned t = ip[0];
    size_t off = (size_t)ip[1] | ((size_t)ip[2] << 8);
    if (t > 12 || off > (size_t)(op - dst))
        return 0;
    if (LIKELY(off >= 8)) {
        const uint8_t *m = op - off;
        copy8(op, m);
        copy8(op + 8, m + 8);
    } else if (off == 2) {
        uint16_t b2;
        memcpy(&b2, op - 2, 2);
        uint64_t w = b2 * 0x0001000100010001ULL;
        memcpy(op, &w, 8);
        memcpy(op + 8, &w, 8);
    } else {
        return 0;
    }
    *opp = op + t + 4;
    return 1;
}

/* The decoder; pixel_loop (a constant at both call sites) adds the loop for literal-free short
 * matches, which pays on unshuffled pixels and costs ~15 % on bitshuffled bit planes, where
 * almost no sequence qualifies. */
static inline __attribute__((always_inline)) int lz4_decode(const uint8_t *src, size_t srclen,
                                                            uint8_t *dst, size_t dstlen,
                                                            size_t *err_at, const int pixel_loop,
                                                            const int simd)
{
    const uint8_t *ip = src, *const iend = src + srclen;
    uint8_t *op = dst, *const oend = dst + dstlen;
    if (srclen == 0)
        goto bad;
    /* The pixel loop runs while two sequences' 6 bytes and the next token are in the input and
     * 48 bytes of output room remain (it writes at most 32). */
    const uint8_t *const ifast = srclen > 6 ? iend - 6 : src;
    uint8_t *const ofast = dstlen > 48 ? oend - 48 : dst;
    for (;;) {
        /* Literal-free matches of at most 16 bytes from offset 8 or more take three bytes each
         * and are most of LZ4 over unshuffled detector frames (two to four pixels repeated from
         * a row or a few pixels earlier: 426k sequences of ~10 bytes in a 4M u32 frame). In a
         * loop of their own, ip advances by a constant instead of by a length loaded from the
         * token, so a sequence does not wait for the load of the one before, and the copy is
         * two unconditional 8-byte moves, right for any offset >= 8 (the second reads what the
         * first wrote). 1.6x the general path on such frames; two sequences per turn took
         * another 14 % off (fewer loop tests per sequence; four per turn gained nothing more),
         * and taking offset 2 too (9 % of the sequences in u32 frames: runs of zero high
         * halves) another 7 %, since each exit to the general path costs mispredictions.
         * Anything else drops to the general path, which decodes that sequence the same way. */
        while (pixel_loop && LIKELY(ip < ifast && op < ofast)) {
            if (!pixel_seq(ip, &op, dst))
                break;
            ip += 3;
            if (!pixel_seq(ip, &op, dst))
                break;
            ip += 3;
        }
        unsigned token = *ip++;
        size_t lit = token >> 4;
        if (UNLIKELY(lit == 15) && !read_length(&ip, iend, &lit))
            goto bad;
        if (LIKELY(lit + SLACK <= (size_t)(iend - ip) && lit + SLACK <= (size_t)(oend - op))) {
            /* Room on both sides: at least SLACK input bytes remain after the literals, so
             * this is not the last sequence and the offset is there to read. */
            copy16(op, ip);
            if (UNLIKELY(lit > 16))
                copy_wide(op + 16, ip + 16, lit - 16);
            ip += lit;
            op += lit;
        } else {
            if (lit > (size_t)(iend - ip) || lit > (size_t)(oend - op))
                goto bad;
            if (lit)
                memcpy(op, ip, lit); /* lit 0 may come with a NULL op when dstlen is 0 */
            ip += lit;
            op += lit;
            if (ip == iend)
                break; /* the last sequence has literals only */
            if ((size_t)(iend - ip) < 2)
                goto bad;
        }
        size_t off = (size_t)ip[0] | ((size_t)ip[1] << 8);
        ip += 2;
        size_t mlen = token & 15;
        if (UNLIKELY(mlen == 15) && !read_length(&ip, iend, &mlen))
            goto bad;
        mlen += 4;
        if (UNLIKELY(off == 0 || off > (size_t)(op - dst)))
            goto bad;
        size_t room = (size_t)(oend - op);
        if (LIKELY(mlen + SLACK <= room))
            copy_match_fast(op, off, mlen, simd);
        else if (mlen <= room)
            copy_match_tail(op, off, mlen, room, simd);
        else
            goto bad;
        op += mlen;
        if (UNLIKELY(ip >= iend))
            goto bad; /* a block must end with literals */
    }
    if (op != oend)
        goto bad;
    return FC_OK;
bad:
    if (err_at)
        *err_at = (size_t)(ip - src);
    return FC_E_CORRUPT;
}

/* Each decoder twice: portable, and with the shuffle copy (SSSE3), picked at run time. */
#if FC_SHUFFLE_COPY
__attribute__((target("ssse3"))) static int lz4_plain_ssse3(const uint8_t *src, size_t srclen,
                                                            uint8_t *dst, size_t dstlen,
                                                            size_t *err_at)
{
    return lz4_decode(src, srclen, dst, dstlen, err_at, 0, 1);
}
__attribute__((target("ssse3"))) static int lz4_pixels_ssse3(const uint8_t *src, size_t srclen,
                                                             uint8_t *dst, size_t dstlen,
                                                             size_t *err_at)
{
    return lz4_decode(src, srclen, dst, dstlen, err_at, 1, 1);
}
#define HAVE_SSSE3() __builtin_cpu_supports("ssse3")
#else
#define lz4_plain_ssse3 fc_lz4_block_decode
#define lz4_pixels_ssse3 fc_lz4_block_decode_pixels
#define HAVE_SSSE3() 0
#endif

int fc_lz4_block_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                        size_t *err_at)
{
    if (HAVE_SSSE3())
        return lz4_plain_ssse3(src, srclen, dst, dstlen, err_at);
    return lz4_decode(src, srclen, dst, dstlen, err_at, 0, 0);
}

int fc_lz4_block_decode_pixels(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                               size_t *err_at)
{
    if (HAVE_SSSE3())
        return lz4_pixels_ssse3(src, srclen, dst, dstlen, err_at);
    return lz4_decode(src, srclen, dst, dstlen, err_at, 1, 0);
}
