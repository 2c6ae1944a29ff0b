/* fc_lz4_filter.c — HDF5 LZ4 filter 32004 framing around LZ4 blocks.
 *
 *   u64 BE original bytes | u32 BE block bytes | { u32 BE C | C bytes } per block
 * Every block is the block size except the last (original - done). A block whose C equals
 * its decoded size was stored raw (the writer keeps incompressible blocks as they are). */
#include <string.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"
#include "common/fc_load.h"

int fc_lz4_filter_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         fc_error_t *err)
{
    if (srclen < 12)
        return fc_fail(err, FC_E_CORRUPT, 0, "lz4: chunk shorter than its 12-byte header");
    if (fc_load_be64(src) != (uint64_t)dstlen)
        return fc_fail(err, FC_E_CORRUPT, 0, "lz4: header size disagrees with the chunk size");
    size_t block = fc_load_be32(src + 8);
    if (block == 0 && dstlen > 0)
        return fc_fail(err, FC_E_CORRUPT, 8, "lz4: block size is zero");
    if (block > dstlen)
        block = dstlen; /* writers put their configured size here even for smaller chunks */
    size_t pos = 12, done = 0;
    while (done < dstlen) {
        size_t m = dstlen - done < block ? dstlen - done : block;
        if (srclen - pos < 4)
            return fc_fail(err, FC_E_CORRUPT, pos, "lz4: chunk ends before a block header");
        size_t c = fc_load_be32(src + pos);
        pos += 4;
        if (c > srclen - pos)
            return fc_fail(err, FC_E_CORRUPT, pos - 4, "lz4: compressed block runs past the end of the chunk");
        if (c == m) {
            memcpy(dst + done, src + pos, m);
        } else {
            size_t at = 0;
            if (fc_lz4_block_decode_pixels(src + pos, c, dst + done, m, &at) != FC_OK)
                return fc_fail(err, FC_E_CORRUPT, pos + at, "lz4: LZ4 block is corrupt");
        }
        pos += c;
        done += m;
    }
    if (pos != srclen)
        return fc_fail(err, FC_E_CORRUPT, pos, "lz4: bytes left after the last block");
    return FC_OK;
}
