/* fc_lzf.c — LZF, HDF5 filter 32000 (h5py's built-in compressor), safe on hostile bytes.
 *
 * The chunk is one raw LZF stream with no header; it must decode to exactly the chunk's bytes
 * (h5py stores a chunk that LZF cannot shrink unfiltered, with its filter_mask bit set). A
 * stream is a series of items, each starting with a control byte c:
 *   c < 32      c + 1 literal bytes follow;
 *   c >= 32     a back reference: length L = c >> 5 (7: add the next byte), then one more byte
 *               b; copy L + 2 bytes from d = ((c & 31) << 8 | b) + 1 bytes back (the copy may
 *               overlap its own output, repeating a period of d bytes).
 * Every length is checked against both ends before it is used. Far from the ends, a literal
 * run is two 16-byte moves and a match 8-byte moves (periods 1, 2 and 4 as one repeated word);
 * both may write past their end, and what they overshoot is overwritten later, since the output
 * fills in order. Near the end, copies are exact. */
#include <string.h>

#include "codecs/fc_codecs.h"
#include "codecs/fc_lz77.h"
#include "common/fc_fail.h"

int fc_lzf_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t cap,
                       size_t *produced, fc_error_t *err)
{
    const uint8_t *ip = src, *const iend = src + srclen;
    uint8_t *op = dst, *const oend = dst + cap;
    if (srclen == 0)
        return fc_fail(err, FC_E_CORRUPT, 0, "lzf: empty stream");
    while (ip < iend) {
        size_t at = (size_t)(ip - src);
        unsigned c = *ip++;
        if (c < 32) {
            size_t n = (size_t)c + 1;
            if (n > (size_t)(iend - ip))
                return fc_fail(err, FC_E_CORRUPT, at, "lzf: literal run past the end of the chunk");
            if (n > (size_t)(oend - op))
                return fc_fail(err, FC_E_CORRUPT, at, "lzf: stream decodes to more bytes than the chunk");
            fc_copy_short_run(op, ip, n, (size_t)(iend - ip), (size_t)(oend - op));
            ip += n;
            op += n;
            continue;
        }
        size_t n = c >> 5;
        if (n == 7) {
            if (ip >= iend)
                return fc_fail(err, FC_E_CORRUPT, at, "lzf: back reference cut off");
            n += *ip++;
        }
        if (ip >= iend)
            return fc_fail(err, FC_E_CORRUPT, at, "lzf: back reference cut off");
        size_t d = ((size_t)(c & 31) << 8 | *ip++) + 1;
        n += 2;
        if (d > (size_t)(op - dst))
            return fc_fail(err, FC_E_CORRUPT, at, "lzf: back reference before the start of the chunk");
        size_t room = (size_t)(oend - op);
        if (n > room)
            return fc_fail(err, FC_E_CORRUPT, at, "lzf: stream decodes to more bytes than the chunk");
        fc_copy_back_within(op, d, n, room);
        op += n;
    }
    *produced = (size_t)(op - dst);
    return FC_OK;
}

int fc_lzf_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, fc_error_t *err)
{
    size_t produced;
    int rc = fc_lzf_decode_upto(src, srclen, dst, dstlen, &produced, err);
    if (rc == FC_OK && produced != dstlen)
        return fc_fail(err, FC_E_CORRUPT, srclen, "lzf: stream decodes to fewer bytes than the chunk");
    return rc;
}
