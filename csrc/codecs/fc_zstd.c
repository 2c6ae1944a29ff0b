/* fc_zstd.c — Zstandard frames (RFC 8878), HDF5 filter 32015, safe on hostile bytes.
 *
 * A chunk is one or more zstd frames (skippable frames ignored) that must decode to exactly the
 * chunk's bytes; output goes straight into dst. This file reads frames and blocks, the literals
 * section, the sequences section (executed as it is decoded, no sequence buffer), and checks
 * the XXH64 content checksum; the FSE/Huffman layer lives in fc_zstd_entropy.c. Written from
 * the format specification.
 *
 * Safety: every size read from the stream is checked against what is left of the input, of the
 * block and of the output before it is used; a match may reach back only into its own frame's
 * output. Where at least 32 bytes of dst remain past a sequence, its literal and match copies
 * move 16 bytes at a time and may write up to 16 bytes past their end; that part of dst is
 * rewritten later, as it fills in order. Near the end copies are exact.
 *
 * Not supported: dictionaries (a frame naming one fails with FC_E_UNSUPPORTED). */
#include <stdlib.h>
#include <string.h>

#include "codecs/fc_codecs.h"
#include "codecs/fc_zstd_entropy.h"
#include "common/fc_fail.h"

#define BLOCK_MAX ((size_t)128 * 1024) /* the format's largest block */
#define WILD 32                         /* room past a sequence that allows wide copies */

#define MAGIC 0xFD2FB528u
#define SKIPPABLE_MASK 0xFFFFFFF0u
#define SKIPPABLE_MAGIC 0x184D2A50u

/* ---- Sequence codes (RFC 8878 §3.1.1.3.2.1) ---- */

enum { LL, OF, ML };

static const uint32_t ll_base[36] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,   9,   10,  11,  12,   13,   14,   15,   16,    18,
    20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
static const uint8_t ll_extra[36] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0,  0,  0,  0,  0,  1,  1,
                                     1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint32_t ml_base[53] = {
    3,  4,  5,  6,  7,  8,  9,  10, 11,  12,  13,  14,   15,   16,   17,   18,    19,    20,
    21, 22, 23, 24, 25, 26, 27, 28, 29,  30,  31,  32,   33,   34,   35,   37,    39,    41,
    43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539};
static const uint8_t ml_extra[53] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  0,  0,  0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,  1,  1,  1,
                                     2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Predefined_Mode distributions (§3.1.1.3.2.2). */
static const int16_t ll_default[36] = {4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2,
                                       2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1};
static const int16_t ml_default[53] = {1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1,  1,  1,  1,  1,  1, 1,
                                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1,  1,  1,  1,  1, 1,
                                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1};
static const int16_t of_default[29] = {1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1,
                                       1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1};

/* Per kind: largest code, largest accuracy log, predefined distribution and its log. */
static const unsigned kind_max_sym[3] = {35, 31, 52};
static const unsigned kind_max_log[3] = {9, 8, 9};
static const int16_t *const kind_default[3] = {ll_default, of_default, ml_default};
static const unsigned kind_default_n[3] = {36, 29, 53};
static const unsigned kind_default_log[3] = {6, 5, 6};

/* One state of a sequence decoding table, with its code already turned into a value:
 * value = base + the next `extra` bits; next state = next + the next nbits bits. */
typedef struct {
    uint32_t base;
    uint8_t extra;
    uint8_t nbits;
    uint16_t next;
} seq_dt_t;

typedef struct {
    seq_dt_t dt[1u << ZS_FSE_MAX_LOG];
    unsigned log;
    int ready; /* a table exists that Repeat_Mode may reuse */
} seq_table_t;

/* What a frame carries from block to block, and the scratch of one call. */
typedef struct {
    const uint8_t *src, *src_end; /* the whole input: error offsets, and the wide-read limit */
    fc_error_t *err;
    uint8_t *frame_start; /* a match may not reach before this */
    uint8_t *dst_end;
    size_t block_max;
    size_t rep[3]; /* repeat offsets */
    int huf_ready; /* a Huffman table exists for treeless literals */
    zs_huf_t huf;
    seq_table_t tab[3]; /* LL, OF, ML */
    const uint8_t *lit; /* this block's literals... */
    size_t nlit;
    const uint8_t *lit_limit; /* ...and how far past them a wide copy may read */
    uint8_t litbuf[BLOCK_MAX + WILD];
} zctx_t;

static int fail_at(zctx_t *z, int code, const uint8_t *at, const char *what)
{
    return fc_fail(z->err, code, (size_t)(at - z->src), what);
}

static inline uint32_t le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t le24(const uint8_t *p) { return le16(p) | (uint32_t)p[2] << 16; }
static inline uint32_t le32(const uint8_t *p) { return le24(p) | (uint32_t)p[3] << 24; }

/* ---- XXH64 (the content checksum; from the xxHash specification) ---- */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t xxh_round(uint64_t acc, uint64_t in) { return rotl64(acc + in * P2, 31) * P1; }
static inline uint64_t xxh_merge(uint64_t acc, uint64_t v) { return (acc ^ xxh_round(0, v)) * P1 + P4; }

/* XXH64 of len bytes with seed 0. */
static uint64_t xxh64(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0 - P1;
        do { /* four independent lanes of 8 bytes */
            v1 = xxh_round(v1, zs_load64(p));
            v2 = xxh_round(v2, zs_load64(p + 8));
            v3 = xxh_round(v3, zs_load64(p + 16));
            v4 = xxh_round(v4, zs_load64(p + 24));
            p += 32;
        } while ((size_t)(end - p) >= 32);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxh_merge(xxh_merge(xxh_merge(xxh_merge(h, v1), v2), v3), v4);
    } else {
        h = P5;
    }
    h += (uint64_t)len;
    for (; end - p >= 8; p += 8)
        h = rotl64(h ^ xxh_round(0, zs_load64(p)), 27) * P1 + P4;
    if (end - p >= 4) {
        h = rotl64(h ^ (uint64_t)le32(p) * P1, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++)
        h = rotl64(h ^ *p * P5, 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

/* ---- Sequence tables ---- */

/* Fill t from an FSE table of kind k, turning each code into its base and extra bits. */
static void seq_from_fse(seq_table_t *t, const zs_fse_t *fse, unsigned log, int k)
{
    for (uint32_t u = 0; u < (1u << log); u++) {
        unsigned s = fse[u].symbol;
        seq_dt_t *d = &t->dt[u];
        d->base = k == LL ? ll_base[s] : k == ML ? ml_base[s] : 1u << s;
        d->extra = k == LL ? ll_extra[s] : k == ML ? ml_extra[s] : (uint8_t)s;
        d->nbits = fse[u].nbits;
        d->next = fse[u].next;
    }
    t->log = log;
}

/* Set up the table of kind k for one block from its mode; *used gets the description's size. */
static int seq_table_setup(zctx_t *z, int k, unsigned mode, const uint8_t *p, size_t len,
                           size_t *used)
{
    seq_table_t *t = &z->tab[k];
    zs_fse_t fse[1u << ZS_FSE_MAX_LOG];
    const char *e;
    *used = 0;
    if (mode == 0) { /* Predefined_Mode */
        if ((e = zs_fse_build(fse, kind_default[k], kind_default_n[k], kind_default_log[k])))
            return fail_at(z, FC_E_CORRUPT, p, e);
        seq_from_fse(t, fse, kind_default_log[k], k);
    } else if (mode == 1) { /* RLE_Mode: one symbol, a table of one state reading no bits */
        if (len < 1)
            return fail_at(z, FC_E_CORRUPT, p, "zstd: sequences section truncated (RLE code)");
        if (p[0] > kind_max_sym[k])
            return fail_at(z, FC_E_CORRUPT, p, "zstd: RLE sequence code out of range");
        zs_fse_t one = {0, 0, p[0]};
        seq_from_fse(t, &one, 0, k);
        *used = 1;
    } else if (mode == 2) { /* FSE_Compressed_Mode */
        int16_t counts[53];
        unsigned nsym, log;
        if ((e = zs_fse_read_counts(p, len, kind_max_log[k], kind_max_sym[k], counts, &nsym,
                                    &log, used)) ||
            (e = zs_fse_build(fse, counts, nsym, log)))
            return fail_at(z, FC_E_CORRUPT, p, e);
        seq_from_fse(t, fse, log, k);
    } else if (!t->ready) { /* Repeat_Mode */
        return fail_at(z, FC_E_CORRUPT, p, "zstd: repeated sequence table without a previous one");
    }
    t->ready = 1;
    return FC_OK;
}

/* ---- Literals section (§3.1.1.3.1) ---- */

/* Decode the literals section at the start of the block [b, b + blen) into z->lit / z->nlit;
 * *used gets its size. */
static int read_literals(zctx_t *z, const uint8_t *b, size_t blen, size_t *used)
{
    unsigned type = b[0] & 3, sf = (b[0] >> 2) & 3;
    size_t hl, regen;
    if (type <= 1) { /* Raw or RLE: a 1-3 byte header with the size only */
        if (sf == 1) {
            hl = 2;
        } else if (sf == 3) {
            hl = 3;
        } else {
            hl = 1;
        }
        if (hl > blen)
            return fail_at(z, FC_E_CORRUPT, b, "zstd: literals section header truncated");
        regen = hl == 1 ? (size_t)(b[0] >> 3)
                : hl == 2 ? (size_t)(le16(b) >> 4)
                          : (size_t)(le24(b) >> 4);
        if (regen > z->block_max)
            return fail_at(z, FC_E_CORRUPT, b, "zstd: literals larger than the block maximum");
        if (type == 0) { /* Raw: used in place */
            if (regen > blen - hl)
                return fail_at(z, FC_E_CORRUPT, b, "zstd: literals section longer than the block");
            z->lit = b + hl;
            z->lit_limit = z->src_end;
            *used = hl + regen;
        } else {
            if (hl >= blen)
                return fail_at(z, FC_E_CORRUPT, b, "zstd: literals section longer than the block");
            memset(z->litbuf, b[hl], regen + WILD); /* wide copies read past the end */
            z->lit = z->litbuf;
            z->lit_limit = z->litbuf + sizeof z->litbuf;
            *used = hl + 1;
        }
        z->nlit = regen;
        return FC_OK;
    }
    /* Huffman (2) or treeless (3): sizes of 10, 10, 14 or 18 bits, 1 stream for sf == 0 */
    static const uint8_t hlen[4] = {3, 3, 4, 5}, fbits[4] = {10, 10, 14, 18};
    hl = hlen[sf];
    if (hl > blen)
        return fail_at(z, FC_E_CORRUPT, b, "zstd: literals section header truncated");
    uint64_t h = 0;
    for (size_t i = 0; i < hl; i++)
        h |= (uint64_t)b[i] << (8 * i);
    size_t mask = ((size_t)1 << fbits[sf]) - 1;
    regen = (size_t)(h >> 4) & mask;
    size_t csize = (size_t)(h >> (4 + fbits[sf])) & mask;
    if (regen > z->block_max)
        return fail_at(z, FC_E_CORRUPT, b, "zstd: literals larger than the block maximum");
    if (csize > blen - hl)
        return fail_at(z, FC_E_CORRUPT, b, "zstd: literals section longer than the block");
    if (sf != 0 && regen < 6)
        return fail_at(z, FC_E_CORRUPT, b, "zstd: too few literals for 4 Huffman streams");
    const uint8_t *p = b + hl;
    size_t plen = csize;
    const char *e;
    if (type == 2) {
        size_t tl;
        z->huf_ready = 0;
        if ((e = zs_huf_read_table(&z->huf, p, plen, &tl)))
            return fail_at(z, FC_E_CORRUPT, p, e);
        z->huf_ready = 1;
        p += tl;
        plen -= tl;
    } else if (!z->huf_ready) {
        return fail_at(z, FC_E_CORRUPT, b, "zstd: treeless literals without a previous Huffman table");
    }
    e = sf == 0 ? zs_huf_decode1(&z->huf, p, plen, z->litbuf, regen)
                : zs_huf_decode4(&z->huf, p, plen, z->litbuf, regen);
    if (e)
        return fail_at(z, FC_E_CORRUPT, p, e);
    memset(z->litbuf + regen, 0, WILD); /* wide copies read past the end */
    z->lit = z->litbuf;
    z->lit_limit = z->litbuf + sizeof z->litbuf;
    z->nlit = regen;
    *used = hl + csize;
    return FC_OK;
}

/* ---- Copies ---- */

static inline void copy16(uint8_t *d, const uint8_t *s) { memcpy(d, s, 16); }

/* Copy len bytes 16 at a time (d and s at least 16 apart, or in different buffers); reads and
 * writes up to 15 bytes past the end. */
static inline void copy_wide(uint8_t *d, const uint8_t *s, size_t len)
{
    uint8_t *const end = d + len;
    do {
        copy16(d, s);
        d += 16;
        s += 16;
    } while (d < end);
}

/* A match of len bytes from off bytes back, with WILD bytes of room past op + len. */
static inline void match_wide(uint8_t *op, size_t off, size_t len)
{
    if (off >= 16) {
        copy_wide(op, op - off, len);
        return;
    }
    /* A period under 16: lay out its first 16 bytes one by one, then copy 16-byte blocks from
     * the smallest multiple of the period that is at least 16 bytes back. */
    static const uint8_t dist[16] = {0, 16, 16, 18, 16, 20, 18, 21, 16, 18, 20, 22, 24, 26, 28, 30};
    const uint8_t *m = op - off;
    for (int i = 0; i < 16; i++)
        op[i] = m[i];
    const size_t d = dist[off];
    for (uint8_t *p = op + 16, *end = op + len; p < end; p += 16)
        copy16(p, p - d);
}

/* The same, exactly len bytes (near the end of dst). */
static void match_exact(uint8_t *op, size_t off, size_t len)
{
    const uint8_t *m = op - off;
    if (off >= len) {
        memcpy(op, m, len);
    } else {
        for (size_t i = 0; i < len; i++)
            op[i] = m[i];
    }
}

/* ---- Sequences section (§3.1.1.3.2) and execution (§3.1.1.4) ---- */

/* Decode the sequences section [p, p + len) and execute it into *opp, which may grow up to
 * oblk (the end of this block's allowed output). */
static int run_sequences(zctx_t *z, const uint8_t *p, size_t len, uint8_t **opp, uint8_t *oblk)
{
    const uint8_t *const sec = p, *const pend = p + len;
    uint8_t *op = *opp;
    const uint8_t *lit = z->lit, *const lend = z->lit + z->nlit;
    if (len < 1)
        return fail_at(z, FC_E_CORRUPT, p, "zstd: sequences section missing");
    size_t nseq = p[0];
    if (nseq < 128) {
        p += 1;
    } else if (nseq < 255) {
        if (len < 2)
            return fail_at(z, FC_E_CORRUPT, sec, "zstd: sequences section header truncated");
        nseq = ((nseq - 128) << 8) + p[1];
        p += 2;
    } else {
        if (len < 3)
            return fail_at(z, FC_E_CORRUPT, sec, "zstd: sequences section header truncated");
        nseq = le16(p + 1) + 0x7F00;
        p += 3;
    }
    if (nseq > 0) {
        if (p >= pend)
            return fail_at(z, FC_E_CORRUPT, sec, "zstd: sequences section header truncated");
        unsigned modes = *p++;
        if (modes & 3)
            return fail_at(z, FC_E_CORRUPT, p - 1, "zstd: reserved bits set in sequence modes");
        for (int k = LL; k <= ML; k++) { /* modes and descriptions come as LL, OF, ML */
            size_t used;
            int rc = seq_table_setup(z, k, (modes >> (6 - 2 * k)) & 3, p, (size_t)(pend - p), &used);
            if (rc)
                return rc;
            p += used;
        }
        zs_br_t br;
        const char *e = zs_br_init(&br, p, (size_t)(pend - p));
        if (e)
            return fail_at(z, FC_E_CORRUPT, p, e);
        const seq_dt_t *const lt = z->tab[LL].dt, *const ot = z->tab[OF].dt,
                              *const mt = z->tab[ML].dt;
        size_t sl = (size_t)zs_br_read(&br, z->tab[LL].log);
        size_t so = (size_t)zs_br_read(&br, z->tab[OF].log);
        size_t sm = (size_t)zs_br_read(&br, z->tab[ML].log);
        zs_br_reload(&br);
        size_t r0 = z->rep[0], r1 = z->rep[1], r2 = z->rep[2];
        /* locals, not z->: a store through op may alias any byte, so z-> would be reloaded */
        uint8_t *const fstart = z->frame_start, *const dend = z->dst_end;
        const uint8_t *const llimit = z->lit_limit;
        for (;;) {
            const seq_dt_t le = lt[sl], oe = ot[so], me = mt[sm];
            /* after a reload at least 57 bits are unread: offset (<= 31 extra bits) and match
             * length (<= 16) fit, and with literal length (<= 16) and three state updates
             * (<= 26) too unless their extra bits add up to 31 or more */
            size_t ofv = oe.base + (size_t)zs_br_read(&br, oe.extra);
            size_t ml = me.base + (size_t)zs_br_read(&br, me.extra);
            if (oe.extra + me.extra + le.extra >= 31)
                zs_br_reload(&br);
            size_t ll = le.base + (size_t)zs_br_read(&br, le.extra);
            /* the offset: k 0-2 repeat offset k, 3 the most recent one minus 1, 4 a new one;
             * without literals repeat codes shift by one. Written as selects, not branches:
             * the kind of offset follows the data and would mispredict. */
            unsigned k = ofv > 3 ? 4 : (unsigned)ofv - 1 + (ll == 0);
            size_t off = ofv - 3;
            if (k == 3)
                off = r0 - 1;
            if (k == 2)
                off = r2;
            if (k == 1)
                off = r1;
            if (k == 0)
                off = r0;
            if (k >= 2)
                r2 = r1;
            if (k >= 1)
                r1 = r0;
            r0 = off;
            if (--nseq) {
                sl = le.next + (size_t)zs_br_read(&br, le.nbits);
                sm = me.next + (size_t)zs_br_read(&br, me.nbits);
                so = oe.next + (size_t)zs_br_read(&br, oe.nbits);
                zs_br_reload(&br);
                if (ZS_UNLIKELY(zs_br_overread(&br)))
                    return fail_at(z, FC_E_CORRUPT, p, "zstd: sequences bitstream too short");
            }
            if (ZS_UNLIKELY(ll > (size_t)(lend - lit)))
                return fail_at(z, FC_E_CORRUPT, sec, "zstd: sequence uses more literals than the block has");
            if (ZS_UNLIKELY(ll + ml > (size_t)(oblk - op))) {
                if (ll + ml > (size_t)(dend - op))
                    return fail_at(z, FC_E_CORRUPT, sec, "zstd: data decodes to more bytes than the chunk");
                return fail_at(z, FC_E_CORRUPT, sec, "zstd: block decodes to more than the block maximum");
            }
            if (ZS_UNLIKELY(off == 0 || off > (size_t)(op + ll - fstart)))
                return fail_at(z, FC_E_CORRUPT, sec, "zstd: match offset reaches before the frame's output");
            if (ZS_LIKELY((size_t)(dend - op) >= ll + ml + WILD)) {
                size_t readable = (size_t)(llimit - lit);
                if (ZS_LIKELY(ll <= 16 && readable >= 16))
                    copy16(op, lit);
                else if (readable >= ll + 16)
                    copy_wide(op, lit, ll);
                else
                    memcpy(op, lit, ll);
                op += ll;
                lit += ll;
                match_wide(op, off, ml);
            } else {
                memcpy(op, lit, ll);
                op += ll;
                lit += ll;
                match_exact(op, off, ml);
            }
            op += ml;
            if (!nseq)
                break;
        }
        if (!zs_br_done(&br))
            return fail_at(z, FC_E_CORRUPT, p, "zstd: sequences bitstream not read exactly to its start");
        z->rep[0] = r0;
        z->rep[1] = r1;
        z->rep[2] = r2;
    } else if (p != pend) {
        return fail_at(z, FC_E_CORRUPT, p, "zstd: bytes after an empty sequences section");
    }
    /* the literals no sequence took end the block */
    size_t rest = (size_t)(lend - lit);
    if (rest > (size_t)(oblk - op)) {
        if (rest > (size_t)(z->dst_end - op))
            return fail_at(z, FC_E_CORRUPT, sec, "zstd: data decodes to more bytes than the chunk");
        return fail_at(z, FC_E_CORRUPT, sec, "zstd: block decodes to more than the block maximum");
    }
    memcpy(op, lit, rest);
    *opp = op + rest;
    return FC_OK;
}

/* ---- Blocks and frames (§3.1.1) ---- */

/* One Zstandard frame at *pp (past its magic number), its output at *opp. */
static int read_frame(zctx_t *z, const uint8_t **pp, uint8_t **opp)
{
    const uint8_t *p = *pp, *const end = z->src_end;
    uint8_t *op = *opp;
    if (p >= end)
        return fail_at(z, FC_E_CORRUPT, p, "zstd: frame header truncated");
    unsigned fhd = p[0];
    unsigned fcs_flag = fhd >> 6, single = (fhd >> 5) & 1, checksum = (fhd >> 2) & 1;
    static const uint8_t did_size[4] = {0, 1, 2, 4};
    size_t fcs_size = fcs_flag == 0 ? single : (size_t)1 << fcs_flag;
    size_t hsize = 1 + !single + did_size[fhd & 3] + fcs_size;
    if (fhd & 8)
        return fail_at(z, FC_E_CORRUPT, p, "zstd: reserved bit set in frame header");
    if (hsize > (size_t)(end - p))
        return fail_at(z, FC_E_CORRUPT, p, "zstd: frame header truncated");
    const uint8_t *q = p + 1;
    uint64_t window = 0;
    if (!single) {
        unsigned wlog = 10 + (q[0] >> 3);
        window = ((uint64_t)1 << wlog) + (((uint64_t)1 << wlog) >> 3) * (q[0] & 7);
        q++;
    }
    uint32_t did = 0;
    for (size_t i = 0; i < did_size[fhd & 3]; i++)
        did |= (uint32_t)q[i] << (8 * i);
    q += did_size[fhd & 3];
    if (did != 0)
        return fail_at(z, FC_E_UNSUPPORTED, p, "zstd: frame needs a dictionary");
    uint64_t fcs = 0;
    for (size_t i = 0; i < fcs_size; i++)
        fcs |= (uint64_t)q[i] << (8 * i);
    if (fcs_size == 2)
        fcs += 256;
    q += fcs_size;
    if (single)
        window = fcs;
    if (fcs_size && fcs > (uint64_t)(z->dst_end - op))
        return fail_at(z, FC_E_CORRUPT, p, "zstd: frame content size larger than the chunk");
    z->block_max = window < BLOCK_MAX ? (size_t)window : BLOCK_MAX;
    /* a frame starts afresh: no history, tables or repeat offsets from an earlier frame */
    z->frame_start = op;
    z->rep[0] = 1;
    z->rep[1] = 4;
    z->rep[2] = 8;
    z->huf_ready = 0;
    z->tab[LL].ready = z->tab[OF].ready = z->tab[ML].ready = 0;
    p = q;
    for (;;) {
        if ((size_t)(end - p) < 3)
            return fail_at(z, FC_E_CORRUPT, p, "zstd: block header truncated");
        uint32_t bh = le24(p);
        unsigned last = bh & 1, type = (bh >> 1) & 3;
        size_t bsize = bh >> 3;
        const uint8_t *bp = p + 3;
        if (type == 3)
            return fail_at(z, FC_E_CORRUPT, p, "zstd: reserved block type");
        if (bsize > z->block_max)
            return fail_at(z, FC_E_CORRUPT, p, "zstd: block larger than the block maximum");
        size_t in = type == 1 ? 1 : bsize;
        if (in > (size_t)(end - bp))
            return fail_at(z, FC_E_CORRUPT, p, "zstd: block runs past the end of the chunk");
        if (type == 0 || type == 1) {
            if (bsize > (size_t)(z->dst_end - op))
                return fail_at(z, FC_E_CORRUPT, p, "zstd: data decodes to more bytes than the chunk");
            if (type == 0)
                memcpy(op, bp, bsize);
            else
                memset(op, bp[0], bsize);
            op += bsize;
        } else {
            if (bsize < 1)
                return fail_at(z, FC_E_CORRUPT, p, "zstd: empty compressed block");
            size_t lused;
            int rc = read_literals(z, bp, bsize, &lused);
            if (rc)
                return rc;
            size_t room = (size_t)(z->dst_end - op);
            uint8_t *oblk = op + (room < z->block_max ? room : z->block_max);
            if ((rc = run_sequences(z, bp + lused, bsize - lused, &op, oblk)))
                return rc;
        }
        p = bp + in;
        if (last)
            break;
    }
    size_t produced = (size_t)(op - z->frame_start);
    if (fcs_size && produced != fcs)
        return fail_at(z, FC_E_CORRUPT, *pp, "zstd: frame content size does not match its data");
    if (checksum) {
        if ((size_t)(end - p) < 4)
            return fail_at(z, FC_E_CORRUPT, p, "zstd: content checksum truncated");
        if ((uint32_t)xxh64(z->frame_start, produced) != le32(p))
            return fail_at(z, FC_E_CHECKSUM, p, "zstd: content checksum mismatch");
        p += 4;
    }
    *pp = p;
    *opp = op;
    return FC_OK;
}

/* Decode with the state z (any contents: every field a frame reads is set first). With
 * produced NULL the frames must fill dst exactly; otherwise they may stop short of dstlen and
 * *produced says where. */
static int decode_frames(zctx_t *z, const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         size_t *produced, fc_error_t *err)
{
    if (srclen == 0)
        return fc_fail(err, FC_E_CORRUPT, 0, "zstd: empty stream");
    z->src = src;
    z->src_end = src + srclen;
    z->err = err;
    z->dst_end = dst + dstlen;
    const uint8_t *p = src;
    uint8_t *op = dst;
    int rc = FC_OK;
    while (p < z->src_end) {
        if (z->src_end - p < 4) {
            rc = fail_at(z, FC_E_CORRUPT, p, "zstd: truncated magic number");
            break;
        }
        uint32_t magic = le32(p);
        if ((magic & SKIPPABLE_MASK) == SKIPPABLE_MAGIC) {
            if (z->src_end - p < 8) {
                rc = fail_at(z, FC_E_CORRUPT, p, "zstd: skippable frame header truncated");
                break;
            }
            uint32_t n = le32(p + 4);
            if (n > (size_t)(z->src_end - p - 8)) {
                rc = fail_at(z, FC_E_CORRUPT, p, "zstd: skippable frame runs past the end of the chunk");
                break;
            }
            p += 8 + (size_t)n;
            continue;
        }
        if (magic != MAGIC) {
            rc = fail_at(z, FC_E_CORRUPT, p, "zstd: bad magic number");
            break;
        }
        p += 4;
        if ((rc = read_frame(z, &p, &op)))
            break;
    }
    if (rc == FC_OK && produced)
        *produced = (size_t)(op - dst);
    else if (rc == FC_OK && op != z->dst_end)
        rc = fail_at(z, FC_E_CORRUPT, p, "zstd: data decodes to fewer bytes than the chunk");
    return rc;
}

int fc_zstd_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, fc_error_t *err)
{
    zctx_t *z = malloc(sizeof *z);
    if (!z)
        return fc_fail(err, FC_E_NOMEM, 0, "zstd: no memory for the decoder state");
    int rc = decode_frames(z, src, srclen, dst, dstlen, NULL, err);
    free(z);
    return rc;
}

int fc_zstd_decode_scratch(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           size_t *produced, fc_scratch_t *s, fc_error_t *err)
{
    /* ~150 kB of state: kept per worker, since bitshuffle calls this once per 8 kB block */
    if (!s->zstd && !(s->zstd = malloc(sizeof(zctx_t))))
        return fc_fail(err, FC_E_NOMEM, 0, "zstd: no memory for the decoder state");
    return decode_frames(s->zstd, src, srclen, dst, dstlen, produced, err);
}
