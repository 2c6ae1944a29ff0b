/* fc_inflate_core.c — whole-buffer DEFLATE decoder (RFC 1951) behind the zlib wrapper (RFC 1950).
 *
 * Layout of the work:
 *   - a 64-bit bit buffer, refilled with one unaligned 8-byte load while >= 8 input bytes remain,
 *     byte by byte (padding with counted virtual zero bytes) near the end of the input;
 *   - packed decode tables: one 32-bit entry per root index, sub-tables for codes longer than the
 *     root; literal/length and distance entries carry base value, extra-bit count and code length;
 *   - root entries that decode two literals at once, or a whole length + distance code, when
 *     both codes fit in the root index together;
 *   - a fast loop (no bounds checks per symbol) while far from both ends, an exact checked loop
 *     near them; matches copied 8/16 bytes at a time with patterns for short distances, or (x86
 *     SSSE3) from one shuffled 16-byte window whatever the distance;
 *   - the decoder compiled twice, plain and with BMI2, picked at run time (x86 + GCC/clang);
 *   - Adler-32 over the output at the end (vectorised; scalar reference kept).
 * docs/inflate.md holds the design discussion and measurements.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codecs/fc_copy_shuffle.h"
#include "codecs/fc_inflate_core.h"

#if defined(__GNUC__) || defined(__clang__)
#define FC_LIKELY(x) __builtin_expect(!!(x), 1)
#define FC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FC_ALWAYS_INLINE inline __attribute__((always_inline))
#define FC_NOINLINE __attribute__((noinline))
#define FC_ALIGN64 __attribute__((aligned(64))) /* hot loops: measured up to 10% on alignment */
#else
#define FC_LIKELY(x) (x)
#define FC_UNLIKELY(x) (x)
#define FC_ALWAYS_INLINE inline
#define FC_NOINLINE
#define FC_ALIGN64
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(FC_NO_X86_DISPATCH)
#define FC_X86_DISPATCH 1
#else
#define FC_X86_DISPATCH 0
#endif

/* ------------------------------------------------------------------------------------------ */
/* Table geometry and entry format                                                             */
/* ------------------------------------------------------------------------------------------ */

#ifndef LL_ROOT
#define LL_ROOT 11 /* literal/length root table: 2^11 entries */
#endif
#ifndef D_ROOT
#define D_ROOT 8   /* distance root table: 2^8 entries */
#endif
#define PC_ROOT 7  /* code-length (pre)code: all codes <= 7 bits, no sub-tables */
#define LL_MASK ((1u << LL_ROOT) - 1)
#define D_MASK ((1u << D_ROOT) - 1)

/* A complete prefix code puts >= 2 codes under every root prefix that has a sub-table, so there
 * are at most nsyms/2 sub-tables of at most 2^(15-root) entries each. */
#define LL_TSIZE ((1u << LL_ROOT) + 144u * (1u << (15 - LL_ROOT)))
#define D_TSIZE ((1u << D_ROOT) + 16u * (1u << (15 - D_ROOT)))
#define PC_TSIZE (1u << PC_ROOT)

/* Entry (uint32):
 *   bits  0..7   bits to consume: code length (+ extra bits for lengths/distances; = root for a
 *                sub-table pointer)
 *   bits  8..11  code length (the shift that leaves the extra bits); for a sub-table pointer the
 *                number of index bits of the sub-table
 *   bit  12      E_EOB   end of block (with E_EXC)
 *   bit  13      E_SUB   pointer to a sub-table; bits 16..31 = its index in the same array
 *   bit  14      E_EXC   exceptional: end of block, or an invalid code (E_EOB clear)
 *   bits 16..30  length base / distance base / precode symbol
 * Literal entries (literal/length table only) are different:
 *   bits  0..7   bits to consume (one code, or two codes that fit in the root together)
 *   bits  8..15  the literal; bits 16..23 the second literal when E_DBL
 *   bit  30      E_DBL   two literals
 *   bit  31      E_LIT   literal
 * Length+distance entries (E_MATCH, literal/length root table only): a length code, its extra
 * bits and a distance code that all fit in the root index together:
 *   bits  0..7   bits to consume, including the distance's extra bits
 *   bits  8..11  bits before the distance's extra bits
 *   bits 16..23  length - 3
 *   bits 24..28  distance symbol (base from dist_base[])
 *   bit  30      E_MATCH
 * An entry for a code of length L is template + L * 0x101 (template + L for literals). */
#define E_EOB 0x1000u
#define E_SUB 0x2000u
#define E_EXC 0x4000u
#define E_DBL 0x40000000u   /* literal entries */
#define E_MATCH 0x40000000u /* non-literal entries */
#define E_LIT 0x80000000u

/* Templates for literal/length symbols 256..287 (257..285: base << 16 | extra bits). */
static const uint32_t ll_tmpl_hi[32] = {
    0x00005000, 0x00030000, 0x00040000, 0x00050000, 0x00060000, 0x00070000, 0x00080000,
    0x00090000, 0x000a0000, 0x000b0001, 0x000d0001, 0x000f0001, 0x00110001, 0x00130002,
    0x00170002, 0x001b0002, 0x001f0002, 0x00230003, 0x002b0003, 0x00330003, 0x003b0003,
    0x00430004, 0x00530004, 0x00630004, 0x00730004, 0x00830005, 0x00a30005, 0x00c30005,
    0x00e30005, 0x01020000, 0x00004000, 0x00004000,
};
/* Templates for distance symbols 0..31 (30 and 31 are invalid). */
static const uint32_t d_tmpl[32] = {
    0x00010000, 0x00020000, 0x00030000, 0x00040000, 0x00050001, 0x00070001, 0x00090002,
    0x000d0002, 0x00110003, 0x00190003, 0x00210004, 0x00310004, 0x00410005, 0x00610005,
    0x00810006, 0x00c10006, 0x01010007, 0x01810007, 0x02010008, 0x03010008, 0x04010009,
    0x06010009, 0x0801000a, 0x0c01000a, 0x1001000b, 0x1801000b, 0x2001000c, 0x3001000c,
    0x4001000d, 0x6001000d, 0x00004000, 0x00004000,
};

static const uint16_t dist_base[32] = {1,    2,    3,    4,    5,    7,     9,     13,
                                       17,   25,   33,   49,   65,   97,    129,   193,
                                       257,  385,  513,  769,  1025, 1537,  2049,  3073,
                                       4097, 6145, 8193, 12289, 16385, 24577, 0, 0};

static const uint8_t precode_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5,
                                          11, 4, 12, 3, 13, 2, 14, 1, 15};

struct fc_inflate_state {
    uint32_t ll[LL_TSIZE];
    uint32_t d[D_TSIZE];
    uint32_t pc[PC_TSIZE];
    uint16_t sorted[288];
    uint16_t rev[288];               /* literal/length codewords, bit-reversed (root codes only) */
    uint32_t head[1u << (LL_ROOT - 1)]; /* pair_entries: unpaired copy of the table's start */
    uint8_t lens[288 + 32];
    uint8_t pclens[19];
};

size_t fc_inflate_state_size(void) { return sizeof(struct fc_inflate_state); }

/* ------------------------------------------------------------------------------------------ */
/* Table construction                                                                          */
/* ------------------------------------------------------------------------------------------ */

enum { K_LITLEN, K_DIST, K_PRECODE };

static FC_ALWAYS_INLINE uint32_t sym_template(int kind, unsigned sym)
{
    if (kind == K_LITLEN)
        return sym < 256 ? (E_LIT | (sym << 8)) : ll_tmpl_hi[sym - 256];
    if (kind == K_DIST)
        return d_tmpl[sym];
    return sym << 16;
}

/* Next codeword in canonical order, in bit-reversed form (deflate sends codes MSB first into an
 * LSB-first stream, so table indices are the reversed codewords). */
/* What a code length adds to a template: length in bits 0..7 and (not for literals) 8..11. */
static FC_ALWAYS_INLINE uint32_t len_add(int kind, unsigned sym, unsigned len)
{
    return (kind == K_LITLEN && sym < 256) ? len : len * 0x101u;
}

static FC_ALWAYS_INLINE unsigned rev_next(unsigned rev, unsigned len)
{
    /* set the highest clear bit below `len`, clear the bits above it */
    unsigned zeros = ~rev & ((1u << len) - 1);
#if defined(__GNUC__) || defined(__clang__)
    unsigned bit = zeros ? 1u << (31 - __builtin_clz(zeros)) : 0;
#else
    unsigned bit = 1u << (len - 1);
    while (bit & ~zeros)
        bit >>= 1;
#endif
    return bit ? ((rev & (bit - 1)) | bit) : 0;
}

/* Build a decode table from code lengths. Mirrors zlib's acceptance rules: over-subscribed codes
 * are rejected; incomplete codes are rejected except, for literal/length and distance codes, the
 * empty code and a single code of length 1 (whose unused half decodes as an invalid code).
 * Returns 0 or -1. */
static FC_ALWAYS_INLINE int build_table(uint32_t *t, unsigned tcap, const uint8_t *lens,
                                        unsigned n, unsigned root, int kind, uint16_t *sorted,
                                        uint16_t *revs)
{
    unsigned count[16], offs[16], c4[4][16];
    /* four histograms: runs of equal lengths would otherwise chain through one counter */
    memset(c4, 0, sizeof c4);
    unsigned i4 = 0;
    for (; i4 + 4 <= n; i4 += 4) {
        c4[0][lens[i4] & 15]++;
        c4[1][lens[i4 + 1] & 15]++;
        c4[2][lens[i4 + 2] & 15]++;
        c4[3][lens[i4 + 3] & 15]++;
    }
    for (; i4 < n; i4++)
        c4[0][lens[i4] & 15]++;
    for (unsigned l = 0; l < 16; l++)
        count[l] = c4[0][l] + c4[1][l] + c4[2][l] + c4[3][l];
    count[0] = 0;
    unsigned maxlen = 15;
    while (maxlen && !count[maxlen])
        maxlen--;
    int left = 1;
    for (unsigned l = 1; l <= 15; l++) {
        left = (left << 1) - (int)count[l];
        if (left < 0)
            return -1; /* over-subscribed */
    }
    if (left > 0) { /* incomplete */
        if (kind == K_PRECODE || maxlen > 1)
            return -1;
        for (unsigned i = 0; i < (1u << root); i++)
            t[i] = E_EXC | 0x101u;
        if (maxlen == 1) {
            for (unsigned s = 0; s < n; s++) {
                if (lens[s]) {
                    uint32_t e = sym_template(kind, s) + len_add(kind, s, 1);
                    for (unsigned i = 0; i < (1u << root); i += 2)
                        t[i] = e;
                    break;
                }
            }
        }
        return 0;
    }

    offs[1] = 0;
    for (unsigned l = 1; l < 15; l++)
        offs[l + 1] = offs[l] + count[l];
    for (unsigned s = 0; s < n; s++)
        if (lens[s])
            sorted[offs[lens[s]]++] = (uint16_t)s;

    /* Codes up to the root length: write each code of length len into the first 2^len entries,
     * then double the table; every doubling replicates the shorter codes. */
    unsigned idx = 0, rev = 0, len = 1;
    size_t size = 2;
    for (;;) {
        for (unsigned k = count[len]; k; k--) {
            unsigned sym = sorted[idx++];
            t[rev] = sym_template(kind, sym) + len_add(kind, sym, len);
            if (revs)
                revs[sym] = (uint16_t)rev;
            rev = rev_next(rev, len);
        }
        if (len == root)
            break;
        memcpy(t + size, t, size * sizeof *t);
        size <<= 1;
        len++;
    }

    /* Longer codes: a sub-table per root prefix, sized like zlib does (just big enough for the
     * codes that share the prefix). */
    if (maxlen > root) {
        unsigned next = 1u << root, cur = ~0u, sub = 0, sb = 0;
        for (len = root + 1; len <= maxlen; len++) {
            for (unsigned k = count[len]; k; k--) {
                unsigned prefix = rev & ((1u << root) - 1);
                if (prefix != cur) {
                    cur = prefix;
                    sb = len - root;
                    int lf = (1 << sb) - (int)k;
                    while (lf > 0 && sb + root < maxlen) {
                        sb++;
                        lf = (lf << 1) - (int)count[sb + root];
                    }
                    if (next + (1u << sb) > tcap)
                        return -1; /* cannot happen for a complete code; defensive */
                    t[prefix] = E_SUB | (next << 16) | (sb << 8) | root;
                    sub = next;
                    next += 1u << sb;
                }
                unsigned sym = sorted[idx++];
                uint32_t e = sym_template(kind, sym) + len_add(kind, sym, len - root);
                unsigned step = 1u << (len - root);
                for (unsigned j = rev >> root; j < (1u << sb); j += step)
                    t[sub + j] = e;
                rev = rev_next(rev, len);
            }
        }
    }
    return 0;
}

/* Second pass over the literal/length root table, once both tables are built:
 *  - a literal followed by a literal whose code fits in the remaining root bits becomes one
 *    E_DBL entry for both;
 *  - a length (code + extra bits) followed by a distance code that fits in the remaining root
 *    bits becomes one E_MATCH entry.
 * Both passes visit only the entries of short enough codes (via their codewords in st->rev); the
 * second literal is read from a copy of the table's start taken before any pairing. */
static FC_NOINLINE int pair_entries(struct fc_inflate_state *st, const uint8_t *dlens,
                                    unsigned nlit, unsigned ndist)
{
    uint32_t *t = st->ll;
    const uint32_t *dt = st->d;
    /* Skip what cannot pair: shortest literal, length and distance codes. */
    unsigned minlit = 16, minlen = 16, mindist = 16;
    for (unsigned k = 0; k < 256; k++)
        if (st->lens[k] && st->lens[k] < minlit)
            minlit = st->lens[k];
    for (unsigned k = 257; k < nlit; k++)
        if (st->lens[k] && st->lens[k] < minlen)
            minlen = st->lens[k];
    for (unsigned k = 0; k < ndist && k < 30; k++)
        if (dlens[k] && dlens[k] < mindist)
            mindist = dlens[k];
    int dbl = 2 * minlit <= LL_ROOT;
    if (dbl) {
        /* the second literal is read from t[i >> l1] < 2^(root - minlit): keep those unpaired */
        memcpy(st->head, t, sizeof(uint32_t) << (LL_ROOT - minlit));
        for (unsigned s = 0; s < 256; s++) {
            unsigned l1 = st->lens[s];
            if (!l1 || l1 + minlit > LL_ROOT)
                continue;
            for (unsigned i = st->rev[s]; i < (1u << LL_ROOT); i += 1u << l1) {
                uint32_t e2 = st->head[i >> l1];
                unsigned l2 = e2 & 0xff;
                if ((e2 & E_LIT) && l1 + l2 <= LL_ROOT)
                    t[i] = E_LIT | E_DBL | ((e2 & 0xff00) << 8) | (s << 8) | (l1 + l2);
            }
        }
    }
    if (minlen + mindist <= LL_ROOT) {
        for (unsigned s = 257; s < nlit && s < 286; s++) {
            unsigned cl = st->lens[s];
            if (!cl || cl + mindist > LL_ROOT)
                continue;
            for (unsigned i = st->rev[s]; i < (1u << LL_ROOT); i += 1u << cl) {
                uint32_t e = t[i];
                unsigned l1 = e & 0xff; /* code + extra bits */
                uint32_t d = dt[(i >> l1) & D_MASK];
                unsigned l2 = (d >> 8) & 15; /* distance code length */
                if ((d & (E_SUB | E_EXC)) || l1 + l2 > LL_ROOT)
                    continue;
                unsigned len = (e >> 16) + (unsigned)((i & ((1u << l1) - 1)) >> cl);
                unsigned dbase = d >> 16, dext = (d & 0xff) - l2;
                unsigned dsym = dext ? 2 * dext + 2 + (((dbase - 1) >> dext) & 1) : dbase - 1;
                t[i] = E_MATCH | (dsym << 24) | ((len - 3) << 16) | ((l1 + l2) << 8) |
                       (l1 + (d & 0xff));
            }
        }
    }
    return dbl;
}

/* Copy shape for the block's matches, from its code lengths (2^-length ~ frequency): copy 32
 * bytes up front ("wide") unless matches dominate the block and are almost all <= 16 bytes
 * (measured: the narrow copy wins on match-heavy detector data, the wide one everywhere else).
 * With the shuffle copy, wide only where literals dominate (measured the same way). */
static int wide_copies(const uint8_t *lens, unsigned nlit, int shuffle_copy)
{
    uint32_t lit = 0, all = 0, lng = 0;
    for (unsigned k = 0; k < 256; k++)
        lit += lens[k] ? 1u << (15 - lens[k]) : 0;
    for (unsigned k = 257; k < nlit; k++) {
        uint32_t w = lens[k] ? 1u << (15 - lens[k]) : 0;
        all += w;
        lng += k >= 268 ? w : 0;
    }
    if (shuffle_copy)
        return lit > all;
    return 16 * lng > all || lit > all;
}

static FC_NOINLINE int build_litlen(struct fc_inflate_state *st, unsigned n)
{
    return build_table(st->ll, LL_TSIZE, st->lens, n, LL_ROOT, K_LITLEN, st->sorted, st->rev);
}
static FC_NOINLINE int build_dist(struct fc_inflate_state *st, const uint8_t *lens, unsigned n)
{
    return build_table(st->d, D_TSIZE, lens, n, D_ROOT, K_DIST, st->sorted, NULL);
}
static FC_NOINLINE int build_precode(struct fc_inflate_state *st)
{
    return build_table(st->pc, PC_TSIZE, st->pclens, 19, PC_ROOT, K_PRECODE, st->sorted, NULL);
}

static FC_NOINLINE void build_fixed(struct fc_inflate_state *st)
{
    memset(st->lens, 8, 144);
    memset(st->lens + 144, 9, 112);
    memset(st->lens + 256, 7, 24);
    memset(st->lens + 280, 8, 8);
    memset(st->lens + 288, 5, 32);
    (void)build_litlen(st, 288);
    (void)build_dist(st, st->lens + 288, 32);
    (void)pair_entries(st, st->lens + 288, 288, 32); /* fixed codes: no literal pairs */
}

/* ------------------------------------------------------------------------------------------ */
/* Adler-32                                                                                    */
/* ------------------------------------------------------------------------------------------ */

#define ADLER_MOD 65521u
#define ADLER_NMAX 5552u /* largest n with 255 n (n+1) / 2 + (n+1) (MOD-1) < 2^32 */

uint32_t fc_adler32_scalar(uint32_t adler, const uint8_t *p, size_t n)
{
    uint32_t a = adler & 0xffff, b = adler >> 16;
    while (n) {
        size_t k = n < ADLER_NMAX ? n : ADLER_NMAX;
        n -= k;
        for (; k >= 16; k -= 16, p += 16) {
            a += p[0]; b += a; a += p[1]; b += a; a += p[2]; b += a; a += p[3]; b += a;
            a += p[4]; b += a; a += p[5]; b += a; a += p[6]; b += a; a += p[7]; b += a;
            a += p[8]; b += a; a += p[9]; b += a; a += p[10]; b += a; a += p[11]; b += a;
            a += p[12]; b += a; a += p[13]; b += a; a += p[14]; b += a; a += p[15]; b += a;
        }
        for (; k; k--) {
            a += *p++;
            b += a;
        }
        a %= ADLER_MOD;
        b %= ADLER_MOD;
    }
    return (b << 16) | a;
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FC_ADLER_VECTOR 1
typedef uint32_t fc_v8u32 __attribute__((vector_size(32)));
typedef uint16_t fc_v16u16 __attribute__((vector_size(32)));

/* Vector Adler-32 with GCC/clang vector extensions (no intrinsics, only and/shift/add, which every
 * target vectorises well). A 32-byte chunk is seen as 16 u16 lanes; lane i holds the bytes at
 * chunk positions 2i (low byte) and 2i+1 (high byte). Per chunk: W += A; A += bytes, in u16 lanes,
 * for groups of up to 16 chunks (W <= 255*120 fits). Each group is then folded into u32 lanes:
 * B += k*A32 + W, A32 += A. The u32 lane k of a u16 vector holds positions 4k (+2), so A32/B32
 * come in four vectors for chunk positions 4k+q, q = 0..3.
 * For a run of m chunks (n = 32 m bytes):
 *   s1 += sum(A);  s2 += n*s1 + 32*sum(A + B) - sum(position * A)
 * m <= 4096 keeps every u32 lane of B below 2^32 (255 * 4096 * 4095 / 2 < 2^32). */
#define ADLER_VEC_CHUNKS 4096u
#define ADLER_VEC_GROUP 16u
static FC_ALWAYS_INLINE uint32_t adler32_vec_body(uint32_t adler, const uint8_t *p, size_t n)
{
    uint32_t s1 = adler & 0xffff, s2 = adler >> 16;
    const fc_v8u32 pos = {0, 4, 8, 12, 16, 20, 24, 28};
    while (n >= 32) {
        size_t m = n / 32;
        if (m > ADLER_VEC_CHUNKS)
            m = ADLER_VEC_CHUNKS;
        n -= m * 32;
        fc_v8u32 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        fc_v8u32 b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
        for (size_t left = m; left;) {
            uint32_t k = left < ADLER_VEC_GROUP ? (uint32_t)left : ADLER_VEC_GROUP;
            left -= k;
            fc_v16u16 al = {0}, ah = {0}, wl = {0}, wh = {0};
            for (uint32_t j = 0; j < k; j++, p += 32) {
                fc_v16u16 w;
                memcpy(&w, p, 32);
                wl += al;
                wh += ah;
                al += w & 0xff;
                ah += w >> 8;
            }
            fc_v8u32 al32 = (fc_v8u32)al, ah32 = (fc_v8u32)ah;
            fc_v8u32 wl32 = (fc_v8u32)wl, wh32 = (fc_v8u32)wh;
            b0 += a0 * k + (wl32 & 0xffff);
            b2 += a2 * k + (wl32 >> 16);
            b1 += a1 * k + (wh32 & 0xffff);
            b3 += a3 * k + (wh32 >> 16);
            a0 += al32 & 0xffff;
            a2 += al32 >> 16;
            a1 += ah32 & 0xffff;
            a3 += ah32 >> 16;
        }
        fc_v8u32 sa = a0 + a1 + a2 + a3;
        fc_v8u32 w = a0 * pos + a1 * (pos + 1) + a2 * (pos + 2) + a3 * (pos + 3);
        uint64_t suma = 0, sumb = 0, sumw = 0;
        for (int l = 0; l < 8; l++) {
            suma += sa[l];
            sumb += (uint64_t)b0[l] + b1[l] + b2[l] + b3[l];
            sumw += w[l]; /* position * A < 32 * 255 * 4096 * 4 per lane: fits */
        }
        uint64_t t2 = (uint64_t)s2 + (uint64_t)(m * 32) * s1 + 32 * (suma + sumb) - sumw;
        s1 = (uint32_t)((s1 + suma) % ADLER_MOD);
        s2 = (uint32_t)(t2 % ADLER_MOD);
    }
    return fc_adler32_scalar((s2 << 16) | s1, p, n);
}

static uint32_t adler32_vec_default(uint32_t adler, const uint8_t *p, size_t n)
{
    return adler32_vec_body(adler, p, n);
}
#if FC_X86_DISPATCH
__attribute__((target("avx2"))) static uint32_t adler32_vec_avx2(uint32_t adler,
                                                                  const uint8_t *p, size_t n)
{
    return adler32_vec_body(adler, p, n);
}
#endif
#endif

uint32_t fc_adler32(uint32_t adler, const uint8_t *p, size_t n)
{
#ifdef FC_ADLER_VECTOR
    if (n < 64)
        return fc_adler32_scalar(adler, p, n);
#if FC_X86_DISPATCH
    if (__builtin_cpu_supports("avx2"))
        return adler32_vec_avx2(adler, p, n);
#endif
    return adler32_vec_default(adler, p, n);
#else
    return fc_adler32_scalar(adler, p, n);
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* Decoder                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static FC_ALWAYS_INLINE uint64_t load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static FC_ALWAYS_INLINE uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = load64(p);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}
static FC_ALWAYS_INLINE void store64(void *p, uint64_t v) { memcpy(p, &v, 8); }
static FC_ALWAYS_INLINE void store16(void *p, uint16_t v) { memcpy(p, &v, 2); }
static FC_ALWAYS_INLINE void copy16(uint8_t *d, const uint8_t *s) { memcpy(d, s, 16); }

/* Fast loop margins. Input: two word refills per iteration read at most 15 + 8 bytes ahead.
 * Output: 2 literals + a 258-byte match rounded up to 16 bytes. */
#define FAST_IN_MARGIN 32u
#define FAST_OUT_MARGIN 320u /* 2 entries of 2 literals + 258 rounded up to 16 < 320 */

#if FC_SHUFFLE_COPY
/* The wide shuffle copy's bytes 16..31 (fc_copy_shuffle.h has the first 16): copy_rot[p][i] =
 * (16 + i) % p continues a pattern of period p < 16; copy_sel[p] is all ones where p < 16 (take
 * the rotation) and zero for p = 16 (take the source's next 16 bytes). Measured: the 32-byte form
 * pays in literal-heavy blocks (few matches, more of them long), the 16-byte one elsewhere. */
#define CR(p)                                                                                     \
    {16 % p, 17 % p, 18 % p, 19 % p, 20 % p, 21 % p, 22 % p, 23 % p,                             \
     24 % p, 25 % p, 26 % p, 27 % p, 28 % p, 29 % p, 30 % p, 31 % p}
static const fc_v16u8 copy_rot[17] __attribute__((aligned(16))) = {
    CR(1), CR(1),  CR(2),  CR(3),  CR(4),  CR(5),  CR(6),  CR(7), CR(8),
    CR(9), CR(10), CR(11), CR(12), CR(13), CR(14), CR(15), CR(16)};
#undef CR
#define ONES {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}
static const fc_v16u8 copy_sel[17] __attribute__((aligned(16))) = {
    ONES, ONES, ONES, ONES, ONES, ONES, ONES, ONES, ONES,
    ONES, ONES, ONES, ONES, ONES, ONES, ONES, {0}};
#undef ONES
#endif

/* Step (a multiple of the distance, <= 8) for pattern stores of distances 2..7. */
static const uint8_t pattern_step[8] = {0, 8, 8, 6, 8, 5, 6, 7};

/* Bit-buffer invariant: bits [0, bitsleft) are the next stream bits; bits above bitsleft are
 * either zero or the true stream bits that follow, so OR-ing in a reload is harmless.
 * Near the end of the input, missing bytes read as zero and are counted in `overrun`; real bits
 * left = bitsleft - 8 * overrun, and consuming past that is a truncated stream. */
#define BITS(n) (bitbuf & ((UINT64_C(1) << (n)) - 1))
#define DROP(n)                                                                                   \
    do {                                                                                          \
        bitbuf >>= (n);                                                                           \
        bitsleft -= (n);                                                                          \
    } while (0)
#define REFILL_WORD()                                                                             \
    do {                                                                                          \
        bitbuf |= load_le64(in) << (bitsleft & 63);                                               \
        in += (~bitsleft & 63) >> 3;                                                              \
        bitsleft |= 56;                                                                           \
    } while (0)
/* Fast loop only: consume the entry's bit count; bitsleft keeps garbage above bit 5. */
#define DROPE(ent)                                                                                \
    do {                                                                                          \
        bitbuf >>= (ent) & 63;                                                                    \
        bitsleft -= (ent);                                                                        \
    } while (0)
/* The extra bits that follow an entry's code: bits [codelen, nbits) of the saved buffer. */
#define EXTRA(saved, ent) (((saved) & ((UINT64_C(1) << ((ent) & 0xff)) - 1)) >> (((ent) >> 8) & 15))
#define REFILL_BYTES()                                                                            \
    do {                                                                                          \
        while (bitsleft < 56) {                                                                   \
            if (in < in_end)                                                                      \
                bitbuf |= (uint64_t)*in++ << bitsleft;                                            \
            else                                                                                  \
                overrun++;                                                                        \
            bitsleft += 8;                                                                        \
        }                                                                                         \
    } while (0)
#define REFILL()                                                                                  \
    do {                                                                                          \
        if ((size_t)(in_end - in) >= 8)                                                           \
            REFILL_WORD();                                                                        \
        else                                                                                      \
            REFILL_BYTES();                                                                       \
    } while (0)
#define NEED(n)                                                                                   \
    do {                                                                                          \
        if (bitsleft < (n))                                                                       \
            REFILL();                                                                             \
    } while (0)
#define TRUNCATED() ((size_t)bitsleft < 8 * overrun)
#define FAIL(msg)                                                                                 \
    do {                                                                                          \
        what = (msg);                                                                             \
        goto fail;                                                                                \
    } while (0)

static const char MSG_TRUNC[] = "deflate: stream ends early";
static const char MSG_OUTFULL[] = "deflate: data inflates past the chunk size";

/* The fast loop, specialised for the block's copy shape (`wide`), its literal entries (`dbl`) and
 * the shuffle copy (`simd`), compile-time constants in each copy. Runs while >= FAST_IN_MARGIN
 * input bytes and >= FAST_OUT_MARGIN output bytes are left, so refills and copies need no checks. On entry to each iteration the bit buffer was just
 * refilled (all 64 bits are stream bits) and e is the entry for the next symbol. Here bitsleft
 * carries garbage above bit 5 (it is decremented by whole entries); only bitsleft & 63 counts.
 * Returns FAST_MORE (near an end: continue exactly), FAST_EOB, or FAST_ERR (*what says why). */
enum { FAST_MORE, FAST_EOB, FAST_ERR };
#define FAST_FAIL(msg)                                                                            \
    do {                                                                                          \
        *what = (msg);                                                                            \
        rc = FAST_ERR;                                                                            \
        goto out;                                                                                 \
    } while (0)
static FC_ALWAYS_INLINE int fast_loop(const uint32_t *ll, const uint32_t *dt, const uint8_t **pin,
                                      uint8_t **pout, uint64_t *pbitbuf, unsigned *pbitsleft,
                                      const uint8_t *in_fast_end, const uint8_t *out_fast_end,
                                      const uint8_t *dst, const char **what, const int wide,
                                      const int dbl, const int simd)
{
    const uint8_t *in = *pin;
    uint8_t *out = *pout;
    uint64_t bitbuf = *pbitbuf;
    unsigned bitsleft = *pbitsleft;
    uint32_t e, d;
    int rc = FAST_MORE;
    REFILL_WORD();
    e = ll[bitbuf & LL_MASK];
    do {
        size_t len, dist;
        uint64_t saved;
        if (e & E_LIT) {
            /* up to three entries of one or two literals (<= 45 bits) */
            DROPE(e);
            if (dbl) {
                store16(out, (uint16_t)(e >> 8));
                out += (e >> 30) - 1; /* E_LIT|E_DBL: 2 or 3 */
            } else {
                *out++ = (uint8_t)(e >> 8);
            }
            e = ll[bitbuf & LL_MASK];
            if (e & E_LIT) {
                DROPE(e);
                if (dbl) {
                    store16(out, (uint16_t)(e >> 8));
                    out += (e >> 30) - 1; /* E_LIT|E_DBL: 2 or 3 */
                } else {
                    *out++ = (uint8_t)(e >> 8);
                }
                e = ll[bitbuf & LL_MASK];
                if (e & E_LIT) {
                    DROPE(e);
                    if (dbl) {
                        store16(out, (uint16_t)(e >> 8));
                        out += (e >> 30) - 1; /* E_LIT|E_DBL: 2 or 3 */
                    } else {
                        *out++ = (uint8_t)(e >> 8);
                    }
                    e = ll[bitbuf & LL_MASK];
                    REFILL_WORD();
                    continue;
                }
            }
            REFILL_WORD();
        }
        if (FC_LIKELY(e & E_MATCH)) {
            /* length and distance code from one entry */
            saved = bitbuf;
            DROPE(e);
            len = ((e >> 16) & 0xff) + 3;
            dist = dist_base[(e >> 24) & 31] + (size_t)EXTRA(saved, e);
        } else {
            if (FC_UNLIKELY(e & (E_SUB | E_EXC))) {
                if (e & E_SUB) {
                    DROPE(e);
                    e = ll[(e >> 16) + BITS((e >> 8) & 15)];
                    if (e & E_LIT) {
                        DROPE(e);
                        *out++ = (uint8_t)(e >> 8);
                        e = ll[bitbuf & LL_MASK];
                        REFILL_WORD();
                        continue;
                    }
                }
                if (e & E_EXC) {
                    if (e & E_EOB) {
                        DROPE(e);
                        goto out_eob;
                    }
                    FAST_FAIL("deflate: invalid literal/length code");
                }
            }
            /* length (<= 20 bits), then distance (<= 28 bits) */
            saved = bitbuf;
            DROPE(e);
            len = (e >> 16) + (size_t)EXTRA(saved, e);
            d = dt[bitbuf & D_MASK];
            if (FC_UNLIKELY(d & (E_SUB | E_EXC))) {
                if (d & E_SUB) {
                    DROPE(d);
                    d = dt[(d >> 16) + BITS((d >> 8) & 15)];
                }
                if (d & E_EXC)
                    FAST_FAIL("deflate: invalid distance code");
            }
            saved = bitbuf;
            DROPE(d);
            dist = (d >> 16) + (size_t)EXTRA(saved, d);
        }
        /* >= 16 stream bits are left in bitbuf: look the next symbol up now
         * so the load overlaps the copy */
        e = ll[bitbuf & LL_MASK];
        if (FC_UNLIKELY(dist > (size_t)(out - dst)))
            FAST_FAIL("deflate: invalid distance too far back");
#if FC_SHUFFLE_COPY
        if (simd) {
            /* the first 16 (narrow) or 32 (wide) bytes without a branch on the distance (see
             * codecs/fc_copy_shuffle.h) */
            const uint8_t *s = out - dist;
            size_t p = dist < 16 ? dist : 16, first = wide ? 32 : 16;
            fc_v16u8 v = fc_copy16_shuffled(out, dist);
            if (wide) {
                /* bytes 16..31: the pattern rotated (dist < 16), else the source's next 16 */
                fc_v16u8 w, r = __builtin_shuffle(v, copy_rot[p]), sel = copy_sel[p];
                memcpy(&w, s + 16, 16);
                w = (r & sel) | (w & ~sel);
                memcpy(out + 16, &w, 16);
            }
            if (FC_UNLIKELY(len > first)) {
                uint8_t *o = out + first, *end = out + len;
                if (dist >= 16) {
                    s = o - dist;
                    do {
                        copy16(o, s);
                        o += 16;
                        s += 16;
                    } while (o < end);
                } else {
                    size_t step = fc_copy_steps[dist]; /* a multiple of dist: the phase stays */
                    o = out + (first / step) * step;
                    do {
                        memcpy(o, &v, 16);
                        o += step;
                    } while (o < end);
                }
            }
            out += len;
        } else
#endif
        {
            uint8_t *o = out, *end = out + len;
            const uint8_t *s = out - dist;
            if (FC_LIKELY(dist >= 16)) {
                /* wide: a per-block constant, so a predictable branch */
                size_t first = wide ? 32 : 16;
                copy16(o, s);
                if (wide)
                    copy16(o + 16, s + 16);
                if (len > first) {
                    o += first;
                    s += first;
                    do {
                        copy16(o, s);
                        o += 16;
                        s += 16;
                    } while (o < end);
                }
            } else if (dist >= 8) {
                store64(o, load64(s));
                store64(o + 8, load64(s + 8));
                if (len > 16) {
                    o += 16;
                    s += 16;
                    do {
                        store64(o, load64(s));
                        o += 8;
                        s += 8;
                    } while (o < end);
                }
            } else if (dist == 1) {
                uint64_t v = UINT64_C(0x0101010101010101) * s[0];
                store64(o, v);
                store64(o + 8, v);
                if (len > 16) {
                    o += 16;
                    do {
                        store64(o, v);
                        store64(o + 8, v);
                        o += 16;
                    } while (o < end);
                }
            } else {
                /* 2..7: replicate the pattern into a word, store it at
                 * multiples of the distance */
                uint64_t x = load64(s) & ((UINT64_C(1) << (8 * dist)) - 1);
                uint64_t v = x | (x << (8 * dist));
                if (dist < 4)
                    v |= v << (16 * dist);
                size_t step = pattern_step[dist];
                store64(o, v);
                o += step;
                while (o < end) {
                    store64(o, v);
                    o += step;
                }
            }
            out = end;
        }
        REFILL_WORD();
    } while (FC_LIKELY(in < in_fast_end && out < out_fast_end));
    goto out;
out_eob:
    rc = FAST_EOB;
out:
    *pin = in;
    *pout = out;
    *pbitbuf = bitbuf;
    *pbitsleft = bitsleft & 63;
    return rc;
}
#undef FAST_FAIL

/* Each specialisation is its own function: inlined together into the block loop they made the
 * one big function slower (register allocation, code layout), measured. */
#define FAST_PARAMS                                                                               \
    const uint32_t *ll, const uint32_t *dt, const uint8_t **pin, uint8_t **pout,                \
        uint64_t *pbitbuf, unsigned *pbitsleft, const uint8_t *in_fast_end,                       \
        const uint8_t *out_fast_end, const uint8_t *dst, const char **what
#define FAST_ARGS ll, dt, pin, pout, pbitbuf, pbitsleft, in_fast_end, out_fast_end, dst, what
static FC_NOINLINE FC_ALIGN64 int fast_narrow(FAST_PARAMS) { return fast_loop(FAST_ARGS, 0, 0, 0); }
static FC_NOINLINE FC_ALIGN64 int fast_wide(FAST_PARAMS) { return fast_loop(FAST_ARGS, 1, 0, 0); }
static FC_NOINLINE FC_ALIGN64 int fast_narrow_dbl(FAST_PARAMS) { return fast_loop(FAST_ARGS, 0, 1, 0); }
static FC_NOINLINE FC_ALIGN64 int fast_wide_dbl(FAST_PARAMS) { return fast_loop(FAST_ARGS, 1, 1, 0); }
#if FC_X86_DISPATCH
/* simd = 1: the shuffle copy, 16 bytes up front (narrow) or 32 (wide, literal-heavy blocks). */
#define FC_BMI2 __attribute__((target("bmi2,ssse3")))
FC_BMI2 static FC_NOINLINE FC_ALIGN64 int fast_narrow_bmi2(FAST_PARAMS) { return fast_loop(FAST_ARGS, 0, 0, 1); }
FC_BMI2 static FC_NOINLINE FC_ALIGN64 int fast_wide_bmi2(FAST_PARAMS) { return fast_loop(FAST_ARGS, 1, 0, 1); }
FC_BMI2 static FC_NOINLINE FC_ALIGN64 int fast_narrow_dbl_bmi2(FAST_PARAMS)
{
    return fast_loop(FAST_ARGS, 0, 1, 1);
}
FC_BMI2 static FC_NOINLINE FC_ALIGN64 int fast_wide_dbl_bmi2(FAST_PARAMS)
{
    return fast_loop(FAST_ARGS, 1, 1, 1);
}
#else
#define fast_narrow_bmi2 fast_narrow
#define fast_wide_bmi2 fast_wide
#define fast_narrow_dbl_bmi2 fast_narrow_dbl
#define fast_wide_dbl_bmi2 fast_wide_dbl
#endif

static FC_ALWAYS_INLINE int inflate_body(struct fc_inflate_state *st, const uint8_t *src,
                                         size_t srclen, uint8_t *dst, size_t dstlen, int exact,
                                         size_t *produced, size_t *err_at,
                                         const char **err_what, const int bmi2)
{
    uint8_t dummy[1];
    const char *what = NULL;
    const uint8_t *in = src, *in_end, *in_fast_end;
    uint8_t *out, *out_end, *out_fast_end;
    uint64_t bitbuf = 0;
    unsigned bitsleft = 0;
    size_t overrun = 0;
    int tables = 0; /* 1: fixed tables are loaded */
    int wide = 1;   /* copy shape for this block's matches (see wide_copies) */
    int dbl = 0;    /* the literal/length table has E_DBL entries */
    uint32_t adler = 1;       /* Adler-32 of dst[0, adler_done) */
    uint8_t *adler_done;
    unsigned final;

    if (!dst) {
        dst = dummy;
        dstlen = 0;
    }
    out = dst;
    adler_done = dst;
    out_end = dst + dstlen;
    out_fast_end = dstlen > FAST_OUT_MARGIN ? out_end - FAST_OUT_MARGIN : dst;
    if (produced)
        *produced = 0;

    if (srclen < 2 || !src) {
        if (err_at)
            *err_at = srclen;
        if (err_what)
            *err_what = MSG_TRUNC;
        return FC_INFLATE_ECORRUPT;
    }
    in_end = src + srclen;
    in_fast_end = srclen > FAST_IN_MARGIN ? in_end - FAST_IN_MARGIN : src;

    /* zlib header (RFC 1950 2.2); the same checks and order as zlib's inflate(). */
    {
        unsigned cmf = src[0], flg = src[1];
        if (((cmf << 8) | flg) % 31)
            FAIL("deflate: incorrect header check");
        if ((cmf & 15) != 8)
            FAIL("deflate: unknown compression method");
        if ((cmf >> 4) > 7)
            FAIL("deflate: invalid window size");
        if (flg & 0x20)
            FAIL("deflate: preset dictionary not supported");
        in = src + 2;
    }

    do {
        NEED(3);
        unsigned hdr = (unsigned)BITS(3);
        DROP(3);
        final = hdr & 1;
        hdr >>= 1;
        if (hdr == 0) {
            /* Stored block: align, LEN, NLEN, then raw bytes straight from the input. */
            DROP(bitsleft & 7);
            NEED(32);
            uint32_t v = (uint32_t)BITS(32);
            DROP(32);
            if (TRUNCATED())
                FAIL(MSG_TRUNC);
            unsigned len = v & 0xffff;
            if (len != (~v >> 16))
                FAIL("deflate: invalid stored block lengths");
            in -= bitsleft / 8 - overrun; /* give back the whole bytes still buffered */
            bitbuf = 0;
            bitsleft = 0;
            overrun = 0;
            if ((size_t)(in_end - in) < len) {
                what = MSG_TRUNC;
                in = in_end;
                goto fail;
            }
            if ((size_t)(out_end - out) < len)
                FAIL(MSG_OUTFULL);
            memcpy(out, in, len);
            out += len;
            in += len;
            continue;
        }
        if (hdr == 1) {
            if (!tables) {
                build_fixed(st);
                tables = 1;
            }
            wide = 1;
            dbl = 0;
        } else if (hdr == 2) {
            NEED(14);
            unsigned hlit = (unsigned)BITS(5) + 257;
            unsigned hdist = (unsigned)(BITS(10) >> 5) + 1;
            unsigned hclen = (unsigned)(BITS(14) >> 10) + 4;
            DROP(14);
            if (hlit > 286 || hdist > 30)
                FAIL("deflate: too many length or distance symbols");
            memset(st->pclens, 0, sizeof st->pclens);
            for (unsigned i = 0; i < hclen; i++) {
                NEED(3);
                st->pclens[precode_order[i]] = (uint8_t)BITS(3);
                DROP(3);
            }
            if (build_precode(st))
                FAIL("deflate: invalid code lengths set");
            unsigned n = hlit + hdist, i = 0;
            while (i < n) {
                NEED(14);
                uint32_t e = st->pc[BITS(PC_ROOT)];
                DROP(e & 0xff);
                unsigned sym = e >> 16;
                if (sym < 16) {
                    st->lens[i++] = (uint8_t)sym;
                    continue;
                }
                unsigned rep, val = 0;
                if (sym == 16) {
                    if (i == 0)
                        FAIL("deflate: invalid bit length repeat");
                    val = st->lens[i - 1];
                    rep = 3 + (unsigned)BITS(2);
                    DROP(2);
                } else if (sym == 17) {
                    rep = 3 + (unsigned)BITS(3);
                    DROP(3);
                } else {
                    rep = 11 + (unsigned)BITS(7);
                    DROP(7);
                }
                if (rep > n - i)
                    FAIL("deflate: invalid bit length repeat");
                memset(st->lens + i, (int)val, rep);
                i += rep;
            }
            if (TRUNCATED())
                FAIL(MSG_TRUNC);
            if (st->lens[256] == 0)
                FAIL("deflate: invalid code -- missing end-of-block");
            if (build_litlen(st, hlit))
                FAIL("deflate: invalid literal/lengths set");
            if (build_dist(st, st->lens + hlit, hdist))
                FAIL("deflate: invalid distances set");
            dbl = pair_entries(st, st->lens + hlit, hlit, hdist);
            wide = wide_copies(st->lens, hlit, bmi2 && FC_SHUFFLE_COPY);
            tables = 0;
        } else {
            FAIL("deflate: invalid block type");
        }

        /* Huffman-coded block data. */
        {
            const uint32_t *ll = st->ll, *dt = st->d;
            uint32_t e, d;
            for (;;) {
                if (in < in_fast_end && out < out_fast_end) {
                    int (*fast)(FAST_PARAMS) =
                        bmi2 ? (dbl ? (wide ? fast_wide_dbl_bmi2 : fast_narrow_dbl_bmi2)
                                    : (wide ? fast_wide_bmi2 : fast_narrow_bmi2))
                             : (dbl ? (wide ? fast_wide_dbl : fast_narrow_dbl)
                                    : (wide ? fast_wide : fast_narrow));
                    int frc = fast(ll, dt, &in, &out, &bitbuf, &bitsleft, in_fast_end,
                                   out_fast_end, dst, &what);
                    if (frc == FAST_EOB)
                        goto block_done;
                    if (frc == FAST_ERR)
                        goto fail;
                }

                /* Exact loop: one table entry, every bound checked. */
                {
                    size_t len, dist;
                    unsigned nb;
                    REFILL();
                    e = ll[bitbuf & LL_MASK];
                    if (!(e & E_LIT) && (e & E_SUB)) { /* literal entries reuse bits 8..15 */
                        DROP(LL_ROOT);
                        e = ll[(e >> 16) + BITS((e >> 8) & 15)];
                    }
                    if (e & E_LIT) {
                        DROP(e & 0xff);
                        if (TRUNCATED())
                            FAIL(MSG_TRUNC);
                        if (e & E_DBL) {
                            if ((size_t)(out_end - out) < 2)
                                FAIL(MSG_OUTFULL);
                            out[0] = (uint8_t)(e >> 8);
                            out[1] = (uint8_t)(e >> 16);
                            out += 2;
                        } else {
                            if (out == out_end)
                                FAIL(MSG_OUTFULL);
                            *out++ = (uint8_t)(e >> 8);
                        }
                        continue;
                    }
                    if (e & E_EXC) {
                        if (e & E_EOB) {
                            DROP(e & 0xff);
                            if (TRUNCATED())
                                FAIL(MSG_TRUNC);
                            goto block_done;
                        }
                        FAIL("deflate: invalid literal/length code");
                    }
                    nb = e & 0xff;
                    if (e & E_MATCH) {
                        len = ((e >> 16) & 0xff) + 3;
                        dist = dist_base[(e >> 24) & 31] + (size_t)(BITS(nb) >> ((e >> 8) & 15));
                        DROP(nb);
                    } else {
                        len = (e >> 16) + (size_t)(BITS(nb) >> ((e >> 8) & 15));
                        DROP(nb);
                        d = dt[bitbuf & D_MASK];
                        if (d & E_SUB) {
                            DROP(D_ROOT);
                            d = dt[(d >> 16) + BITS((d >> 8) & 15)];
                        }
                        if (d & E_EXC)
                            FAIL("deflate: invalid distance code");
                        nb = d & 0xff;
                        dist = (d >> 16) + (size_t)(BITS(nb) >> ((d >> 8) & 15));
                        DROP(nb);
                    }
                    if (TRUNCATED())
                        FAIL(MSG_TRUNC);
                    if (dist > (size_t)(out - dst))
                        FAIL("deflate: invalid distance too far back");
                    if (len > (size_t)(out_end - out))
                        FAIL(MSG_OUTFULL);
                    const uint8_t *s = out - dist;
                    for (size_t k = 0; k < len; k++)
                        out[k] = s[k];
                    out += len;
                }
            }
        block_done:
            /* checksum each block's output while it is still in cache */
            adler = fc_adler32(adler, adler_done, (size_t)(out - adler_done));
            adler_done = out;
        }
    } while (!final);

    /* Trailer: byte-align, then the big-endian Adler-32 of the output. */
    DROP(bitsleft & 7);
    if (TRUNCATED())
        FAIL(MSG_TRUNC);
    in -= bitsleft / 8 - overrun;
    bitbuf = 0;
    bitsleft = 0;
    overrun = 0;
    if ((size_t)(in_end - in) < 4) {
        what = MSG_TRUNC;
        in = in_end;
        goto fail;
    }
    {
        uint32_t want = ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) |
                        ((uint32_t)in[2] << 8) | in[3];
        uint32_t got = fc_adler32(adler, adler_done, (size_t)(out - adler_done));
        if (produced)
            *produced = (size_t)(out - dst);
        if (got != want) {
            if (err_at)
                *err_at = (size_t)(in - src);
            if (err_what)
                *err_what = "deflate: incorrect data check (Adler-32)";
            return FC_INFLATE_ECHECKSUM;
        }
        if (exact && out != out_end)
            FAIL("deflate: data inflates to less than the chunk size");
    }
    return FC_INFLATE_OK;

fail:
    bitsleft &= 63;
    if (produced)
        *produced = (size_t)(out - dst);
    if (err_at) {
        if (TRUNCATED()) {
            *err_at = srclen;
        } else {
            size_t back = (bitsleft - 8 * overrun) / 8;
            size_t pos = (size_t)(in - src);
            *err_at = pos > back ? pos - back : 0;
        }
    }
    if (err_what)
        *err_what = TRUNCATED() ? MSG_TRUNC : what;
    return FC_INFLATE_ECORRUPT;
}

/* The same decoder compiled twice: for any x86-64 / other CPU, and with BMI2 (shrx/shlx/bzhi
 * take the variable shift counts without tying up %cl), picked at run time. */
static int inflate_generic(struct fc_inflate_state *st, const uint8_t *src, size_t srclen,
                           uint8_t *dst, size_t dstlen, int exact, size_t *produced,
                           size_t *err_at, const char **err_what)
{
    return inflate_body(st, src, srclen, dst, dstlen, exact, produced, err_at, err_what, 0);
}

#if FC_X86_DISPATCH
__attribute__((target("bmi2"))) static int inflate_bmi2(struct fc_inflate_state *st,
                                                         const uint8_t *src, size_t srclen,
                                                         uint8_t *dst, size_t dstlen, int exact,
                                                         size_t *produced, size_t *err_at,
                                                         const char **err_what)
{
    return inflate_body(st, src, srclen, dst, dstlen, exact, produced, err_at, err_what, 1);
}
#endif

int fc_inflate_zlib(fc_inflate_state_t *st, const uint8_t *src, size_t srclen, uint8_t *dst,
                    size_t dstlen, int exact, size_t *produced, size_t *err_at,
                    const char **err_what)
{
#if FC_X86_DISPATCH
    if (__builtin_cpu_supports("bmi2") && __builtin_cpu_supports("ssse3"))
        return inflate_bmi2(st, src, srclen, dst, dstlen, exact, produced, err_at, err_what);
#endif
    return inflate_generic(st, src, srclen, dst, dstlen, exact, produced, err_at, err_what);
}
