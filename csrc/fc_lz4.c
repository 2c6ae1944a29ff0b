/* fc_lz4.c — LZ4 block decoder (the public block format), safe on hostile bytes.
 *
 * Every length is checked against both the input end and the output end before it is used;
 * wide copies are only used when there is room for the overshoot on both sides. */
#include <string.h>

#include "fastchunk.h"
#include "fc_internal.h"

#define WILD 16 /* bytes a fast copy may write past its logical end */

static inline void copy16(uint8_t *d, const uint8_t *s) { memcpy(d, s, 16); }
static inline void copy8(uint8_t *d, const uint8_t *s) { memcpy(d, s, 8); }

/* Read a length extension: bytes of 255 continue it. Returns 0 on input overrun. */
static inline int read_length(const uint8_t **ipp, const uint8_t *iend, size_t *len)
{
    const uint8_t *ip = *ipp;
    unsigned b;
    do {
        if (ip >= iend)
            return 0;
        b = *ip++;
        *len += b;
    } while (b == 255);
    *ipp = ip;
    return 1;
}

/* Copy a match of len bytes from op - off (already written) to op. */
static inline void copy_match(uint8_t *op, size_t off, size_t len, const uint8_t *oend)
{
    const uint8_t *m = op - off;
    uint8_t *end = op + len;
    if ((size_t)(oend - end) >= WILD) {
        if (off >= 16) {
            do { copy16(op, m); op += 16; m += 16; } while (op < end);
            return;
        }
        if (off >= 8) {
            do { copy8(op, m); op += 8; m += 8; } while (op < end);
            return;
        }
        /* Short period: write one period's worth byte by byte until the distance can be
         * widened to a multiple of off that is >= 8, then copy 8 at a time (the data is
         * periodic in off, so any multiple of it reads the same bytes). */
        size_t wide = off * ((8 + off - 1) / off);
        size_t head = wide < len ? wide : len;
        for (size_t i = 0; i < head; i++)
            op[i] = m[i];
        op += head;
        m = op - wide;
        while (op < end) { copy8(op, m); op += 8; m += 8; }
        return;
    }
    while (op < end)
        *op++ = *m++;
}

int fc_lz4_block_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                        size_t *err_at)
{
    const uint8_t *ip = src, *const iend = src + srclen;
    uint8_t *op = dst, *const oend = dst + dstlen;
    if (srclen == 0)
        goto bad;
    for (;;) {
        unsigned token = *ip++;
        size_t lit = token >> 4;
        /* Fast path for the common short sequence (lit < 15, match < 19) far from both ends:
         * fixed-size copies, no length loops. Offsets under 8 take the careful path. */
        if (lit < 15 && (token & 15) < 15 && (size_t)(iend - ip) >= 32 && (size_t)(oend - op) >= 32) {
            copy16(op, ip);
            size_t off = (size_t)ip[lit] | ((size_t)ip[lit + 1] << 8);
            size_t mlen = (token & 15) + 4;
            if (off >= 8 && off <= (size_t)(op - dst) + lit && mlen <= (size_t)(oend - op) - lit &&
                (size_t)(iend - ip) > lit + 2) {
                ip += lit + 2;
                op += lit;
                const uint8_t *m = op - off;
                copy8(op, m);
                copy8(op + 8, m + 8);
                memcpy(op + 16, m + 16, 2);
                op += mlen;
                continue;
            }
        }
        if (lit == 15 && !read_length(&ip, iend, &lit))
            goto bad;
        if (lit > (size_t)(iend - ip) || lit > (size_t)(oend - op))
            goto bad;
        if (lit <= 16 && (size_t)(iend - ip) >= 16 && (size_t)(oend - op) >= 16)
            copy16(op, ip);
        else if (lit)
            memcpy(op, ip, lit); /* lit 0 may come with a NULL op when dstlen is 0 */
        ip += lit;
        op += lit;
        if (ip == iend)
            break; /* the last sequence has literals only */
        if ((size_t)(iend - ip) < 2)
            goto bad;
        size_t off = (size_t)ip[0] | ((size_t)ip[1] << 8);
        ip += 2;
        size_t mlen = token & 15;
        if (mlen == 15 && !read_length(&ip, iend, &mlen))
            goto bad;
        mlen += 4;
        if (off == 0 || off > (size_t)(op - dst) || mlen > (size_t)(oend - op))
            goto bad;
        copy_match(op, off, mlen, oend);
        op += mlen;
        if (ip >= iend)
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
