/* fc_zstd_entropy.h — the entropy layer of the zstd decoder (RFC 8878 §4.1): FSE tables,
 * Huffman tables and the backward bit reader both read their streams with.
 *
 * fc_zstd.c knows frames, blocks and sequences; this layer knows only bits and tables, so each
 * half can be checked on its own. Every function here is safe on hostile bytes: it returns
 * NULL on success or a short static text naming what was wrong. */
#ifndef FC_ZSTD_ENTROPY_H
#define FC_ZSTD_ENTROPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the zstd bit readers load little-endian words; port zs_load64 first"
#endif

#define ZS_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZS_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define ZS_HUF_MAX_BITS 11 /* the format's longest Huffman code */
#define ZS_FSE_MAX_LOG 9   /* the largest accuracy log any zstd FSE table may have */

static inline uint64_t zs_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* the bit readers assume a little-endian host, as x86 and ARM64 are */
    return v;
}

/* Index of the highest set bit of v (v != 0). */
static inline unsigned zs_highbit(uint32_t v) { return 31u - (unsigned)__builtin_clz(v); }

/* ---- Backward bit reader ----
 * A zstd bitstream is written forwards and read from its last byte towards its first; the
 * highest 1 bit of the last byte marks where the data starts. `bits` holds the 8 bytes at
 * `ptr` (for a stream under 8 bytes: all of it, zero-extended), and `used` counts the bits
 * already taken from its top. Reading past the stream's first bit makes used exceed 64 and
 * keeps it there: reads then return garbage (never out of bounds) and the caller must treat
 * the stream as corrupt. A stream was read exactly when zs_br_done() holds. */
typedef struct {
    uint64_t bits;
    unsigned used;
    const uint8_t *ptr;   /* where `bits` was loaded from (stream start for short streams) */
    const uint8_t *start; /* first byte of the stream */
} zs_br_t;

/* Start reading the len-byte stream at s from its end. NULL or what is wrong. */
static inline const char *zs_br_init(zs_br_t *b, const uint8_t *s, size_t len)
{
    if (len == 0)
        return "zstd: empty bitstream";
    unsigned last = s[len - 1];
    if (last == 0)
        return "zstd: bitstream has no end mark (last byte is 0)";
    b->start = s;
    if (len >= 8) {
        b->ptr = s + len - 8;
        b->bits = zs_load64(b->ptr);
        b->used = 0;
    } else {
        /* never reloaded: ptr == start, so zs_br_reload() moves nothing */
        b->ptr = s;
        b->bits = 0;
        for (size_t i = 0; i < len; i++)
            b->bits |= (uint64_t)s[i] << (8 * i);
        b->used = (unsigned)(8 - len) * 8;
    }
    b->used += 8 - zs_highbit(last); /* the padding zeros and the end mark itself */
    return NULL;
}

/* Take n bits (0 <= n <= 56 at once, and no more than 64 since the last reload). */
static inline uint64_t zs_br_read(zs_br_t *b, unsigned n)
{
    /* two shifts, so n == 0 gives 0 without a shift by 64 */
    uint64_t v = ((b->bits << (b->used & 63)) >> 1) >> (63 - n);
    b->used += n;
    return v;
}

/* The next n bits without taking them (1 <= n <= 11). */
static inline unsigned zs_br_peek(const zs_br_t *b, unsigned n)
{
    return (unsigned)((b->bits << (b->used & 63)) >> (64 - n));
}

/* Refill `bits` so that at least 57 unread bits are in it, as long as the stream has them. */
static inline void zs_br_reload(zs_br_t *b)
{
    size_t n = b->used >> 3, room = (size_t)(b->ptr - b->start);
    if (ZS_LIKELY(n - 1 < room)) { /* 1 <= n <= room: step back n whole bytes */
        b->ptr -= n;
        b->used &= 7;
        b->bits = zs_load64(b->ptr);
        return;
    }
    /* near the stream's start (or nothing to do) */
    if (b->used > 64)
        return; /* over-read: stays over-read */
    if (n > room)
        n = room;
    if (n) {
        b->ptr -= n;
        b->used -= (unsigned)n * 8;
        b->bits = zs_load64(b->ptr);
    }
}

static inline int zs_br_overread(const zs_br_t *b) { return b->used > 64; }

/* Every bit of the stream read, and not one more. */
static inline int zs_br_done(const zs_br_t *b) { return b->ptr == b->start && b->used == 64; }

/* ---- FSE ---- */

/* One state of an FSE decoding table: the symbol it decodes, and the next state, which is
 * next + the next nbits bits of the stream. */
typedef struct {
    uint16_t next;
    uint8_t nbits;
    uint8_t symbol;
} zs_fse_t;

/* Read an FSE table description (§4.1.1) from the len bytes at src: *log gets the accuracy
 * log (at most max_log), counts[0..*nsym-1] the normalized counts (-1: "less than 1"), with
 * *nsym <= max_sym + 1; *used the bytes the description took. */
const char *zs_fse_read_counts(const uint8_t *src, size_t len, unsigned max_log, unsigned max_sym,
                               int16_t *counts, unsigned *nsym, unsigned *log, size_t *used);

/* Build the decoding table of 1 << log states from normalized counts that sum to 1 << log. */
const char *zs_fse_build(zs_fse_t *table, const int16_t *counts, unsigned nsym, unsigned log);

/* ---- Huffman ---- */

/* A Huffman decoding table: entry i, for the next `bits` bits of the stream equal to i, holds
 * the symbol in its low byte and the length of its code in its high byte. */
typedef struct {
    uint16_t dt[1u << ZS_HUF_MAX_BITS];
    unsigned bits; /* Max_Number_of_Bits: 1..11 */
} zs_huf_t;

/* Read a Huffman tree description (§4.2.1) from the len bytes at src into h; *used gets its
 * size in bytes. */
const char *zs_huf_read_table(zs_huf_t *h, const uint8_t *src, size_t len, size_t *used);

/* Decode exactly n symbols from one Huffman stream (the len bytes at src) into out. */
const char *zs_huf_decode1(const zs_huf_t *h, const uint8_t *src, size_t len, uint8_t *out,
                           size_t n);

/* Decode the 4-stream form: src starts with the jump table; n symbols in all. */
const char *zs_huf_decode4(const zs_huf_t *h, const uint8_t *src, size_t len, uint8_t *out,
                           size_t n);

#endif
