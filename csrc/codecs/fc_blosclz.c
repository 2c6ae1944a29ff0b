/* fc_blosclz.c — BloscLZ, Blosc's own codec (compressor 0 of a Blosc buffer), safe on hostile
 * bytes.
 *
 * LZF's format (fc_lzf.c) with two extensions, as BloscLZ 2.x writes it:
 *   - the first byte's top 3 bits are a format marker and are ignored (it is a literal run);
 *   - a back reference of length code 7 adds extension bytes while they read 255;
 *   - low bits 31 with distance byte 255 mark a far reference: two more bytes, big-endian,
 *     plus 8192 give the distance.
 * A stream ends with a literal run and must decode to exactly the block's bytes. */
#include "codecs/fc_codecs.h"
#include "codecs/fc_lz77.h"

#define MAX_NEAR 8191 /* distances up to here fit the 13-bit near form */

int fc_blosclz_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      size_t *err_at)
{
    const uint8_t *ip = src, *const iend = src + srclen;
    uint8_t *op = dst, *const oend = dst + dstlen;
    const uint8_t *at = src;
    if (srclen == 0)
        goto bad;
    unsigned c = *ip++ & 31;
    for (;;) {
        if (c < 32) {
            size_t n = (size_t)c + 1;
            if (n > (size_t)(iend - ip) || n > (size_t)(oend - op))
                goto bad;
            fc_copy_short_run(op, ip, n, (size_t)(iend - ip), (size_t)(oend - op));
            ip += n;
            op += n;
        } else {
            size_t n = c >> 5;
            if (n == 7) {
                unsigned b;
                do {
                    if (ip >= iend)
                        goto bad;
                    b = *ip++;
                    n += b;
                } while (b == 255);
            }
            if (ip >= iend)
                goto bad;
            unsigned code = *ip++;
            size_t d = ((size_t)(c & 31) << 8) + code + 1;
            if (code == 255 && (c & 31) == 31) {
                if ((size_t)(iend - ip) < 2)
                    goto bad;
                d = ((size_t)ip[0] << 8 | ip[1]) + MAX_NEAR + 1;
                ip += 2;
            }
            n += 2;
            size_t room = (size_t)(oend - op);
            if (d > (size_t)(op - dst) || n > room)
                goto bad;
            fc_copy_back_within(op, d, n, room);
            op += n;
            if (ip == iend)
                goto bad; /* a stream ends with literals */
        }
        if (ip == iend)
            break;
        at = ip;
        c = *ip++;
    }
    if (op != oend)
        goto bad;
    return FC_OK;
bad:
    if (err_at)
        *err_at = (size_t)(at - src);
    return FC_E_CORRUPT;
}
