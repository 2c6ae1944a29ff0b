/* fc_inflate_core.h — whole-buffer DEFLATE (RFC 1951) decoder for zlib streams (RFC 1950), the bytes
 * HDF5's deflate filter (id 1) stores per chunk.
 *
 * Thread safety: no mutable globals; each thread passes its own state (scratch for the Huffman
 * tables). The state needs no initialisation: every call overwrites what it uses.
 */
#ifndef FC_INFLATE_CORE_H
#define FC_INFLATE_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FC_INFLATE_OK 0
#define FC_INFLATE_ECORRUPT (-4) /* bad header/code/length/distance, truncated, size mismatch */
#define FC_INFLATE_ECHECKSUM (-9) /* Adler-32 of the output differs from the stream's trailer */

/* Scratch the decoder needs (tables); the caller allocates one per thread (any alignment >= 4). */
typedef struct fc_inflate_state fc_inflate_state_t;
size_t fc_inflate_state_size(void);

/* Decode a zlib stream (2-byte header, deflate blocks, Adler-32 trailer) from src[0:srclen].
 * exact != 0: it must produce exactly dstlen bytes; else up to dstlen (*produced says how many).
 * Bytes after the Adler-32 trailer are ignored (as HDF5 does: it stops at Z_STREAM_END).
 * Returns 0, or a negative code: -4 corrupt (bad header, code, length, distance, stream ends early,
 * output would exceed dstlen, output shorter than dstlen when exact), -9 Adler-32 mismatch.
 * On error *err_at = byte offset in src where the problem was seen, *err_what = static string.
 * produced, err_at and err_what may be NULL. dst[0:dstlen] may be written even on error. */
int fc_inflate_zlib(fc_inflate_state_t *st, const uint8_t *src, size_t srclen, uint8_t *dst,
                    size_t dstlen, int exact, size_t *produced, size_t *err_at,
                    const char **err_what);

/* Adler-32 (RFC 1950). fc_adler32 picks the fastest variant for this CPU;
 * fc_adler32_scalar is the plain reference. Start with adler = 1. */
uint32_t fc_adler32(uint32_t adler, const uint8_t *p, size_t n);
uint32_t fc_adler32_scalar(uint32_t adler, const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* FC_INFLATE_CORE_H */
