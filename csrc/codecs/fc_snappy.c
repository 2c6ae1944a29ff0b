/* fc_snappy.c — raw Snappy (not its framing format), one of the codecs inside a Blosc buffer;
 * safe on hostile bytes.
 *
 * A varint (7 bits per byte, low first) gives the decoded length, then elements follow, each
 * starting with a tag byte whose low 2 bits say what it is:
 *   0  literal: length - 1 in the upper 6 bits, or 60..63 there: 1..4 bytes (little-endian)
 *      holding length - 1 follow;
 *   1  copy of 4..11 bytes ((tag >> 2 & 7) + 4), offset: tag bits 5-7 above one more byte;
 *   2  copy of 1..64 bytes ((tag >> 2) + 1), 16-bit little-endian offset;
 *   3  the same with a 32-bit offset.
 * A copy may overlap its own output (offset < length repeats a period). */
#include "codecs/fc_codecs.h"
#include "codecs/fc_lz77.h"

static inline size_t load_le(const uint8_t *p, unsigned n)
{
    size_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (size_t)p[i] << (8 * i);
    return v;
}

int fc_snappy_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                     size_t *err_at)
{
    const uint8_t *ip = src, *const iend = src + srclen;
    uint8_t *op = dst, *const oend = dst + dstlen;
    const uint8_t *at = src;
    uint64_t n = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (ip >= iend || shift > 28)
            goto bad;
        n |= (uint64_t)(*ip & 127) << shift;
        if (!(*ip++ & 128))
            break;
    }
    if (n != dstlen)
        goto bad;
    while (ip < iend) {
        at = ip;
        unsigned tag = *ip++;
        size_t len, off;
        if ((tag & 3) == 0) {
            len = tag >> 2;
            if (len >= 60) {
                unsigned k = (unsigned)len - 59;
                if ((size_t)(iend - ip) < k)
                    goto bad;
                len = load_le(ip, k);
                ip += k;
            }
            len += 1;
            if (len > (size_t)(iend - ip) || len > (size_t)(oend - op))
                goto bad;
            memcpy(op, ip, len);
            ip += len;
            op += len;
            continue;
        }
        if ((tag & 3) == 1) {
            if (ip >= iend)
                goto bad;
            len = (tag >> 2 & 7) + 4;
            off = (size_t)(tag >> 5) << 8 | *ip++;
        } else {
            unsigned k = (tag & 3) == 2 ? 2 : 4;
            if ((size_t)(iend - ip) < k)
                goto bad;
            len = (tag >> 2) + 1;
            off = load_le(ip, k);
            ip += k;
        }
        size_t room = (size_t)(oend - op);
        if (off == 0 || off > (size_t)(op - dst) || len > room)
            goto bad;
        fc_copy_back_within(op, off, len, room);
        op += len;
    }
    if (op != oend)
        goto bad;
    return FC_OK;
bad:
    if (err_at)
        *err_at = (size_t)(at - src);
    return FC_E_CORRUPT;
}
