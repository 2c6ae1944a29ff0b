/* fc_pipeline.c — one chunk's filter pipeline, run in reverse and honouring filter_mask.
 *
 * The layer between the codecs (each knows its own bytes) and the engine (which knows rows,
 * threads and the output): it picks each stage's codec and sizes the buffers between stages. */
#include <string.h>

#include "codecs/fc_codecs.h"
#include "common/fc_fail.h"
#include "common/fc_load.h"

/* Bytes an intermediate stage will produce from its input, or an error for a lying header. */
static int stage_output_size(const fc_filter_t *f, const uint8_t *in, size_t inlen, size_t expect,
                             size_t *out, fc_error_t *err)
{
    switch (f->id) {
    case FC_FILTER_BITSHUFFLE:
    case FC_FILTER_LZ4:
        if (f->id == FC_FILTER_BITSHUFFLE && f->cd[2] == FC_BSHUF_NONE) {
            *out = inlen;
            return FC_OK;
        }
        if (inlen < 12)
            return fc_fail(err, FC_E_CORRUPT, 0, "chunk shorter than its 12-byte header");
        *out = (size_t)fc_load_be64(in);
        return FC_OK;
    case FC_FILTER_SHUFFLE:
        *out = inlen;
        return FC_OK;
    case FC_FILTER_SCALEOFFSET:
        *out = fc_scaleoffset_output_size(f->cd, inlen);
        return FC_OK;
    case FC_FILTER_BLOSC:
        if (inlen < 16)
            return fc_fail(err, FC_E_CORRUPT, inlen, "blosc: chunk shorter than its 16-byte header");
        *out = fc_blosc_output_size(in, inlen);
        return FC_OK;
    case FC_FILTER_SZIP:
        if (inlen < 4)
            return fc_fail(err, FC_E_CORRUPT, inlen, "szip: chunk shorter than its 4-byte header");
        *out = fc_load_le32(in);
        return FC_OK;
    case FC_FILTER_DEFLATE:
    case FC_FILTER_LZF:
    case FC_FILTER_ZSTD:
        *out = expect; /* no size header: the chunk plus any checksums still to strip */
        return FC_OK;
    default:
        return fc_fail(err, FC_E_UNSUPPORTED, 0, "filter not supported natively");
    }
}

/* Filters whose output is as long as their input: they pass the size question on. */
static int size_preserving(const fc_filter_t *f)
{
    return f->id == FC_FILTER_SHUFFLE || (f->id == FC_FILTER_BITSHUFFLE && f->cd[2] == FC_BSHUF_NONE);
}

/* Whether a filter reads a stream that says its own size (a header, or scale-offset's packed
 * count), so the size-less stage before it (deflate, LZF, zstd) may produce any length. */
static int self_sized_input(const fc_filter_t *f)
{
    return f->id == FC_FILTER_SCALEOFFSET || f->id == FC_FILTER_LZ4 || f->id == FC_FILTER_SZIP ||
           f->id == FC_FILTER_BLOSC ||
           (f->id == FC_FILTER_BITSHUFFLE && f->cd[2] != FC_BSHUF_NONE);
}

/* Run one stage into out (outlen bytes). With produced non-NULL a size-less decoder may stop
 * short of outlen and says where. */
static int run_stage(const fc_filter_t *f, const uint8_t *in, size_t inlen, uint8_t *out,
                     size_t outlen, size_t *produced, int out_final, fc_scratch_t *s,
                     fc_error_t *err)
{
    if (produced && f->id == FC_FILTER_DEFLATE)
        return fc_inflate_decode_upto(in, inlen, out, outlen, produced, s, err);
    if (produced && f->id == FC_FILTER_LZF)
        return fc_lzf_decode_upto(in, inlen, out, outlen, produced, err);
    if (produced && f->id == FC_FILTER_ZSTD)
        return fc_zstd_decode_scratch(in, inlen, out, outlen, produced, s, err);
    switch (f->id) {
    case FC_FILTER_BITSHUFFLE:
        return fc_bitshuffle_decode(in, inlen, out, outlen, f->cd[0], f->cd[1], f->cd[2],
                                    out_final, s, err);
    case FC_FILTER_LZ4:
        return fc_lz4_filter_decode(in, inlen, out, outlen, err);
    case FC_FILTER_DEFLATE:
        return fc_inflate_decode(in, inlen, out, outlen, s, err);
    case FC_FILTER_LZF:
        return fc_lzf_decode(in, inlen, out, outlen, err);
    case FC_FILTER_SCALEOFFSET:
        return fc_scaleoffset_decode(in, inlen, out, outlen, f->cd, err);
    case FC_FILTER_BLOSC:
        return fc_blosc_decode(in, inlen, out, outlen, s, err);
    case FC_FILTER_SZIP:
        return fc_szip_decode(in, inlen, out, outlen, f->cd, s, err);
    case FC_FILTER_ZSTD:
        return fc_zstd_decode_scratch(in, inlen, out, outlen, NULL, s, err);
    case FC_FILTER_SHUFFLE:
        if (inlen != outlen)
            return fc_fail(err, FC_E_CORRUPT, inlen, "shuffle: stored size differs from the chunk size");
        return fc_shuffle_decode(in, inlen, out, f->cd[0]);
    default:
        return fc_fail(err, FC_E_UNSUPPORTED, 0, "filter not supported natively");
    }
}

int fc_chunk_decode(const fc_layout_t *lay, uint32_t filter_mask, int unfiltered,
                    const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                    int dst_final, fc_scratch_t *s, fc_error_t *err)
{
    int active[FC_MAX_FILTERS], na = 0, last_writer = -1;
    if (!unfiltered)
        for (int i = (int)lay->nfilters - 1; i >= 0; i--)
            if (!((filter_mask >> i) & 1u)) {
                if (lay->filters[i].id != FC_FILTER_FLETCHER32)
                    last_writer = na;
                active[na++] = i;
            }
    const uint8_t *cur = src;
    size_t curlen = srclen;
    for (int t = 0; t < na; t++) {
        const fc_filter_t *f = &lay->filters[active[t]];
        int rc;
        if (f->id == FC_FILTER_FLETCHER32) {
            /* Verify in place; the data is the same bytes without the checksum. */
            if ((rc = fc_fletcher32_verify(cur, curlen, err)) != FC_OK)
                return rc;
            curlen -= 4;
            continue;
        }
        uint8_t *out = dst;
        size_t outlen = dstlen, produced, *variable = NULL;
        if (t != last_writer) {
            size_t expect = dstlen;
            const fc_filter_t *next = NULL;
            for (int u = t + 1; u < na; u++) {
                const fc_filter_t *g = &lay->filters[active[u]];
                if (g->id == FC_FILTER_FLETCHER32)
                    expect += 4;
                else if (!next && !size_preserving(g))
                    next = g; /* the stage that decides how long this output must be */
            }
            if ((rc = stage_output_size(f, cur, curlen, expect, &outlen, err)) != FC_OK)
                return rc;
            if ((f->id == FC_FILTER_DEFLATE || f->id == FC_FILTER_LZF || f->id == FC_FILTER_ZSTD) &&
                next && self_sized_input(next)) {
                /* e.g. scale-offset then gzip: that stream is up to 22 bytes over the chunk;
                 * bitshuffle+LZ4 of incompressible data in tiny blocks up to 2x. Allow what
                 * the plausibility check below allows (pages never written cost nothing). */
                outlen = 2 * dstlen + 65536;
                variable = &produced;
            }
            if (outlen > 2 * dstlen + 65536)
                return fc_fail(err, FC_E_CORRUPT, 0, "filter header claims an implausible size");
            if (fc_grow(&s->stage[t & 1], &s->stage_cap[t & 1], outlen))
                return fc_fail(err, FC_E_NOMEM, 0, "pipeline scratch");
            out = s->stage[t & 1];
        }
        if ((rc = run_stage(f, cur, curlen, out, outlen, variable, dst_final && out == dst, s,
                            err)) != FC_OK)
            return rc;
        cur = out;
        curlen = variable ? produced : outlen;
    }
    if (last_writer < 0) {
        /* Stored as is: HDF5 takes the chunk's own size from the front of the bytes. */
        if (curlen < dstlen)
            return fc_fail(err, FC_E_CORRUPT, curlen, "unfiltered chunk is shorter than the chunk size");
        if (dstlen)
            memcpy(dst, cur, dstlen); /* cur is NULL for an empty chunk (found by fuzz/pipeline) */
    }
    return FC_OK;
}
