/* fc_inflate.c — deflate filter 1: our own inflate (fc_inflate_core.c) with its tables in the
 * worker's scratch, allocated on first use. zlib is only the tests' oracle now. */
#include <stdlib.h>

#include "codecs/fc_codecs.h"
#include "codecs/fc_inflate_core.h"
#include "common/fc_fail.h"

static int run(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, int exact,
               size_t *produced, fc_scratch_t *s, fc_error_t *err)
{
    if (!s->zstream && !(s->zstream = malloc(fc_inflate_state_size())))
        return fc_fail(err, FC_E_NOMEM, 0, "deflate: decoder tables");
    size_t at = 0;
    const char *what = NULL;
    int rc = fc_inflate_zlib(s->zstream, src, srclen, dst, dstlen, exact, produced, &at, &what);
    if (rc == FC_INFLATE_OK)
        return FC_OK;
    return fc_fail(err, rc == FC_INFLATE_ECHECKSUM ? FC_E_CHECKSUM : FC_E_CORRUPT, at,
                   what ? what : "deflate: corrupt stream");
}

int fc_inflate_decode_upto(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err)
{
    return run(src, srclen, dst, dstlen, 0, produced, s, err);
}

int fc_inflate_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      fc_scratch_t *s, fc_error_t *err)
{
    size_t produced;
    return run(src, srclen, dst, dstlen, 1, &produced, s, err);
}

int fc_inflate_available(void) { return 1; }

void fc_inflate_free(fc_scratch_t *s)
{
    free(s->zstream);
    s->zstream = NULL;
}
