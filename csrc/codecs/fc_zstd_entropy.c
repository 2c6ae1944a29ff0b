/* fc_zstd_entropy.c — FSE and Huffman decoding for the zstd decoder (RFC 8878 §4), safe on
 * hostile bytes.
 *
 * FSE: a table description (normalized counts) becomes a table of 1 << log states; the
 * sequences section and the Huffman weights are decoded with such tables. Huffman: weights
 * become a single-lookup table of 2^Max_Number_of_Bits entries, and literal streams are decoded
 * through it, four streams interleaved so their lookups overlap in the CPU. Every table size,
 * symbol count and stream length is checked before use; streams must be read exactly to their
 * first bit. Written from the format specification. */
#include "codecs/fc_zstd_entropy.h"

/* Up to 32 bits of src from bit pos on, little-endian (the forward order of FSE table
 * descriptions); bytes past len read as 0, and the caller checks pos against len. */
static uint32_t fwd_bits(const uint8_t *src, size_t len, size_t pos)
{
    size_t i = pos >> 3;
    uint64_t w = 0;
    if (i + 8 <= len)
        w = zs_load64(src + i);
    else
        for (size_t k = 0; k < 8 && i + k < len; k++)
            w |= (uint64_t)src[i + k] << (8 * k);
    return (uint32_t)(w >> (pos & 7));
}

const char *zs_fse_read_counts(const uint8_t *src, size_t len, unsigned max_log, unsigned max_sym,
                               int16_t *counts, unsigned *nsym, unsigned *log, size_t *used)
{
    if (len < 1)
        return "zstd: FSE table description truncated";
    unsigned lg = (src[0] & 15u) + 5;
    if (lg > max_log)
        return "zstd: FSE accuracy log too large";
    size_t pos = 4;
    /* remaining: the largest value the next count field may hold (1 + the unassigned part of
     * the 1 << lg states); the description ends when every state is assigned */
    int remaining = (1 << lg) + 1;
    unsigned s = 0;
    while (remaining > 1) {
        if (s > max_sym)
            return "zstd: FSE table description has too many symbols";
        /* values 0..remaining in nb bits, the lowest `small` of them in nb - 1 bits */
        unsigned nb = zs_highbit((uint32_t)remaining) + 1;
        uint32_t half = 1u << (nb - 1), small = (1u << nb) - 1 - (uint32_t)remaining;
        uint32_t w = fwd_bits(src, len, pos), v = w & (half - 1);
        if (v < small) {
            pos += nb - 1;
        } else {
            v = w & (2 * half - 1);
            if (v >= half)
                v -= small;
            pos += nb;
        }
        int p = (int)v - 1; /* -1: "less than 1", takes one state */
        counts[s++] = (int16_t)p;
        remaining -= p < 0 ? 1 : p;
        if (p == 0) {
            /* 2-bit repeat fields give more zero counts; 3 means another field follows */
            uint32_t r;
            do {
                r = fwd_bits(src, len, pos) & 3;
                pos += 2;
                if (s + r > max_sym + 1)
                    return "zstd: FSE table description has too many symbols";
                for (uint32_t k = 0; k < r; k++)
                    counts[s++] = 0;
                if (pos > 8 * len)
                    return "zstd: FSE table description truncated";
            } while (r == 3);
        }
        if (pos > 8 * len)
            return "zstd: FSE table description truncated";
    }
    if (remaining != 1) /* a count larger than what was left cannot be coded, but be sure */
        return "zstd: FSE table description corrupt";
    *nsym = s;
    *log = lg;
    *used = (pos + 7) >> 3;
    return NULL;
}

const char *zs_fse_build(zs_fse_t *table, const int16_t *counts, unsigned nsym, unsigned log)
{
    if (log < 5 || log > ZS_FSE_MAX_LOG || nsym == 0 || nsym > 256)
        return "zstd: FSE table size out of range";
    const uint32_t size = 1u << log;
    uint16_t next[256];
    uint32_t total = 0;
    for (unsigned s = 0; s < nsym; s++) {
        if (counts[s] < -1)
            return "zstd: FSE table description corrupt";
        total += counts[s] < 0 ? 1u : (uint32_t)counts[s];
    }
    /* the spreading below only ends if the counts fill the table exactly */
    if (total != size)
        return "zstd: FSE counts do not fill the table";
    /* "less than 1" symbols take one state each from the top and always reload in full */
    int high = (int)size - 1;
    for (unsigned s = 0; s < nsym; s++) {
        if (counts[s] == -1) {
            table[high--].symbol = (uint8_t)s;
            next[s] = 1;
        } else {
            next[s] = (uint16_t)counts[s];
        }
    }
    /* the others are spread over the remaining states with an odd step, so each symbol's
     * states are scattered over the whole table */
    const uint32_t step = (size >> 1) + (size >> 3) + 3, mask = size - 1;
    uint32_t pos = 0;
    for (unsigned s = 0; s < nsym; s++)
        for (int i = 0; i < counts[s]; i++) {
            table[pos].symbol = (uint8_t)s;
            do
                pos = (pos + step) & mask;
            while ((int)pos > high);
        }
    if (pos != 0)
        return "zstd: FSE table description corrupt";
    /* a symbol's states, in order, map onto equal shares of the next state's range; the lower
     * states get the double shares and need one bit more */
    for (uint32_t u = 0; u < size; u++) {
        unsigned s = table[u].symbol;
        uint32_t x = next[s]++;
        unsigned nb = log - zs_highbit(x);
        table[u].nbits = (uint8_t)nb;
        table[u].next = (uint16_t)((x << nb) - size);
    }
    return NULL;
}

/* ---- Huffman ---- */

#define HUF_MAX_WEIGHTS 255 /* weights stored; the weight of one more symbol is implied */

/* The FSE-compressed form of the Huffman weights: len bytes, table description then a stream
 * with two interleaved states sharing one table. *n gets the number of weights. */
static const char *huf_fse_weights(const uint8_t *src, size_t len, uint8_t *w, unsigned *n)
{
    int16_t counts[16];
    unsigned nsym, log;
    size_t used;
    const char *e = zs_fse_read_counts(src, len, 6, 15, counts, &nsym, &log, &used);
    if (e)
        return e;
    zs_fse_t t[64];
    if ((e = zs_fse_build(t, counts, nsym, log)))
        return e;
    if (used >= len)
        return "zstd: Huffman weights have no bitstream";
    zs_br_t b;
    if ((e = zs_br_init(&b, src + used, len - used)))
        return e;
    unsigned st[2];
    st[0] = (unsigned)zs_br_read(&b, log);
    st[1] = (unsigned)zs_br_read(&b, log);
    zs_br_reload(&b);
    if (zs_br_overread(&b))
        return "zstd: Huffman weights bitstream too short";
    /* The stream has no symbol count: the states take turns, and once a state update needs
     * bits the stream no longer has, the other state gives the last weight. */
    unsigned k = 0;
    for (unsigned i = 0;; i ^= 1) {
        if (k + 2 > HUF_MAX_WEIGHTS)
            return "zstd: too many Huffman weights";
        w[k++] = t[st[i]].symbol;
        st[i] = t[st[i]].next + (unsigned)zs_br_read(&b, t[st[i]].nbits);
        zs_br_reload(&b);
        if (zs_br_overread(&b)) {
            w[k++] = t[st[i ^ 1]].symbol;
            break;
        }
    }
    *n = k;
    return NULL;
}

/* The decoding table from n stored weights (symbol n's weight is implied). Codes go out in
 * order of weight, lowest first, and within a weight in symbol order, so each symbol's
 * entries are the next 2^(weight-1) of the table. */
static const char *huf_build(zs_huf_t *h, const uint8_t *w, unsigned n)
{
    uint32_t rank[ZS_HUF_MAX_BITS + 2] = {0}, total = 0;
    for (unsigned i = 0; i < n; i++) {
        if (w[i] > ZS_HUF_MAX_BITS)
            return "zstd: Huffman weight too large";
        rank[w[i]]++;
        if (w[i])
            total += 1u << (w[i] - 1);
    }
    if (total == 0)
        return "zstd: Huffman weights all zero";
    unsigned bits = zs_highbit(total) + 1;
    if (bits > ZS_HUF_MAX_BITS)
        return "zstd: Huffman codes longer than 11 bits";
    uint32_t rest = (1u << bits) - total;
    if (rest & (rest - 1))
        return "zstd: Huffman weights do not complete to a power of 2";
    unsigned last = zs_highbit(rest) + 1;
    rank[last]++;
    /* the two longest codes pair up: weight 1 comes in an even number, at least 2 */
    if (rank[1] < 2 || (rank[1] & 1))
        return "zstd: Huffman weights corrupt (weight 1 count)";
    uint32_t start[ZS_HUF_MAX_BITS + 2], p = 0;
    for (unsigned wt = 1; wt <= bits; wt++) {
        start[wt] = p;
        p += rank[wt] << (wt - 1);
    }
    for (unsigned s = 0; s <= n; s++) {
        unsigned wt = s < n ? w[s] : last;
        if (!wt)
            continue;
        uint16_t entry = (uint16_t)(s | ((bits + 1 - wt) << 8));
        uint32_t at = start[wt], cnt = 1u << (wt - 1);
        for (uint32_t i = 0; i < cnt; i++)
            h->dt[at + i] = entry;
        start[wt] = at + cnt;
    }
    h->bits = bits;
    return NULL;
}

const char *zs_huf_read_table(zs_huf_t *h, const uint8_t *src, size_t len, size_t *used)
{
    uint8_t w[HUF_MAX_WEIGHTS + 1];
    unsigned n;
    const char *e;
    if (len < 1)
        return "zstd: Huffman tree description truncated";
    unsigned hb = src[0];
    if (hb >= 128) {
        /* direct: 4-bit weights, two to a byte, high nibble first */
        n = hb - 127;
        size_t bytes = (n + 1) / 2;
        if (bytes > len - 1)
            return "zstd: Huffman tree description truncated";
        for (unsigned i = 0; i < n; i++)
            w[i] = (i & 1) ? (src[1 + i / 2] & 15) : (src[1 + i / 2] >> 4);
        *used = 1 + bytes;
    } else {
        if (hb > len - 1)
            return "zstd: Huffman tree description truncated";
        if ((e = huf_fse_weights(src + 1, hb, w, &n)))
            return e;
        *used = 1 + (size_t)hb;
    }
    return huf_build(h, w, n);
}

/* One symbol: look the next `bits` bits up, emit the symbol, take only its code's length. */
#define HUF_SYM(b, op)                                                                         \
    do {                                                                                       \
        unsigned e_ = dt[zs_br_peek(&(b), bits)];                                              \
        *(op)++ = (uint8_t)e_;                                                                 \
        (b).used += e_ >> 8;                                                                   \
    } while (0)

/* Room for 5 codes of up to 11 bits after a reload that leaves at least 57 bits unread. */
#define HUF_BURST 5

/* Finish one stream symbol by symbol (its last 8 bytes, or all of a short one), then check
 * that it was read exactly. */
static const char *huf_tail(const zs_huf_t *h, zs_br_t *b, uint8_t *op, uint8_t *end)
{
    const uint16_t *dt = h->dt;
    const unsigned bits = h->bits;
    while (op < end) {
        zs_br_reload(b);
        if (zs_br_overread(b))
            return "zstd: Huffman stream too short for its literals";
        HUF_SYM(*b, op);
    }
    zs_br_reload(b);
    if (!zs_br_done(b))
        return "zstd: Huffman stream not read exactly to its start";
    return NULL;
}

const char *zs_huf_decode1(const zs_huf_t *h, const uint8_t *src, size_t len, uint8_t *out,
                           size_t n)
{
    const uint16_t *dt = h->dt;
    const unsigned bits = h->bits;
    zs_br_t b;
    const char *e = zs_br_init(&b, src, len);
    if (e)
        return e;
    uint8_t *op = out, *const end = out + n;
    /* while 8 bytes remain before ptr, a reload leaves at most 7 bits used */
    while ((size_t)(end - op) >= HUF_BURST && b.ptr - b.start >= 8) {
        for (int i = 0; i < HUF_BURST; i++)
            HUF_SYM(b, op);
        zs_br_reload(&b);
    }
    return huf_tail(h, &b, op, end);
}

const char *zs_huf_decode4(const zs_huf_t *h, const uint8_t *src, size_t len, uint8_t *out,
                           size_t n)
{
    const uint16_t *dt = h->dt;
    const unsigned bits = h->bits;
    if (len < 10)
        return "zstd: 4-stream Huffman literals too short";
    size_t l1 = src[0] | (size_t)src[1] << 8, l2 = src[2] | (size_t)src[3] << 8,
           l3 = src[4] | (size_t)src[5] << 8;
    if (6 + l1 + l2 + l3 >= len)
        return "zstd: Huffman jump table points past the literals";
    size_t l4 = len - 6 - l1 - l2 - l3;
    /* streams 1-3 regenerate seg bytes each, stream 4 the rest */
    size_t seg = (n + 3) / 4;
    if (3 * seg > n)
        return "zstd: too few literals for 4 Huffman streams";
    zs_br_t b1, b2, b3, b4;
    const uint8_t *s = src + 6;
    const char *e;
    if ((e = zs_br_init(&b1, s, l1)) || (e = zs_br_init(&b2, s + l1, l2)) ||
        (e = zs_br_init(&b3, s + l1 + l2, l3)) || (e = zs_br_init(&b4, s + l1 + l2 + l3, l4)))
        return e;
    uint8_t *o1 = out, *o2 = out + seg, *o3 = out + 2 * seg, *o4 = out + 3 * seg;
    uint8_t *const end = out + n;
    /* the 4 outputs advance together and stream 4's is the shortest, so its room bounds all */
    while ((size_t)(end - o4) >= HUF_BURST && b1.ptr - b1.start >= 8 &&
           b2.ptr - b2.start >= 8 && b3.ptr - b3.start >= 8 && b4.ptr - b4.start >= 8) {
        for (int i = 0; i < HUF_BURST; i++) {
            HUF_SYM(b1, o1);
            HUF_SYM(b2, o2);
            HUF_SYM(b3, o3);
            HUF_SYM(b4, o4);
        }
        zs_br_reload(&b1);
        zs_br_reload(&b2);
        zs_br_reload(&b3);
        zs_br_reload(&b4);
    }
    if ((e = huf_tail(h, &b1, o1, out + seg)) || (e = huf_tail(h, &b2, o2, out + 2 * seg)) ||
        (e = huf_tail(h, &b3, o3, out + 3 * seg)) || (e = huf_tail(h, &b4, o4, end)))
        return e;
    return NULL;
}
