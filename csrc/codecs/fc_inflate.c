/* fc_inflate.c — deflate filter 1: a zlib stream inflated with a z_stream reused per thread. */
#include <stdlib.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"

#if FC_HAVE_ZLIB
#include <zlib.h>

int fc_inflate_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err)
{
    z_stream *z = s->zstream;
    if (!z) {
        z = calloc(1, sizeof *z);
        if (!z || inflateInit(z) != Z_OK) {
            free(z);
            return fc_fail(err, FC_E_NOMEM, 0, "deflate: cannot set up zlib");
        }
        s->zstream = z;
    } else if (inflateReset(z) != Z_OK) {
        return fc_fail(err, FC_E_NOMEM, 0, "deflate: cannot reset zlib");
    }
    /* zlib counts in uInt: feed and drain in pieces so chunks over 4 GiB work too. */
    const uInt piece = (uInt)1 << 30;
    size_t in_left = srclen, out_left = dstlen;
    z->next_in = (Bytef *)src;
    z->next_out = dst;
    z->avail_in = z->avail_out = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (z->avail_in == 0 && in_left) {
            z->avail_in = in_left < piece ? (uInt)in_left : piece;
            in_left -= z->avail_in;
        }
        if (z->avail_out == 0 && out_left) {
            z->avail_out = out_left < piece ? (uInt)out_left : piece;
            out_left -= z->avail_out;
        }
        rc = inflate(z, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && (z->avail_in || in_left) && (z->avail_out || out_left))
            rc = Z_OK; /* zlib may need another call to make progress */
        else if (rc == Z_BUF_ERROR)
            break;
    }
    size_t consumed = srclen - in_left - z->avail_in;
    if (rc != Z_STREAM_END)
        return fc_fail(err, FC_E_CORRUPT, consumed,
                       z->avail_out == 0 && out_left == 0 ? "deflate: data inflates past the chunk size"
                                                          : "deflate: zlib stream is corrupt or cut short");
    *produced = dstlen - out_left - z->avail_out;
    return FC_OK;
}

int fc_inflate_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      fc_scratch_t *s, fc_error_t *err)
{
    size_t produced;
    int rc = fc_inflate_decode_upto(src, srclen, dst, dstlen, &produced, s, err);
    if (rc == FC_OK && produced != dstlen)
        return fc_fail(err, FC_E_CORRUPT, srclen, "deflate: data inflates to less than the chunk size");
    return rc;
}

int fc_inflate_available(void) { return 1; }

void fc_inflate_free(fc_scratch_t *s)
{
    if (s->zstream) {
        inflateEnd(s->zstream);
        free(s->zstream);
        s->zstream = NULL;
    }
}

#else
int fc_inflate_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err)
{
    return fc_fail(err, FC_E_UNSUPPORTED, 0, "deflate: built without zlib");
}
int fc_inflate_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      fc_scratch_t *s, fc_error_t *err)
{
    return fc_fail(err, FC_E_UNSUPPORTED, 0, "deflate: built without zlib");
}
void fc_inflate_free(fc_scratch_t *s) { (void)s; }
int fc_inflate_available(void) { return 0; }
#endif
