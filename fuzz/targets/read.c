/* read.c — fuzz target: a whole read as Python hands it to C (fc_read_sync): plan validation,
 * the I/O thread, the pool, and the direct / scatter / partial decode of each row into `out`.
 * Input: u8 shape | u8 misc | u8 conv | ndim x (u16 chunk | u16 out | u8 step) | u8 nrows
 *        | nrows x row | file bytes.
 * shape: bits 0-1 ndim - 1 (mod 3), 2-3 element size 1/2/4/8, 4-5 pipeline (raw, bslz4,
 * lz4, blosc), bit 6 DONT_FILTER_PARTIAL, bit 7 two threads. misc: bits 0-1 kernel set, 2-7 the
 * bitshuffle block size / 8. conv: bit 7 converts (bit 6 signed source, bit 3 a wrong source
 * size; bits 0-1 size, bit 2 signedness of the output). step bytes >= 0xF0 pick hostile
 * steps (0, -1, huge).
 * row: u8 mode | u8 links | i64 offset | i64 nbytes | 3*ndim i64 (chunk start, out start,
 * count). mode bits 0-1: 0-1 region derived in range, 2 derived then nudged by -1/0/+1,
 * 3 taken raw; bit 2: offset/nbytes raw (else taken modulo the file). links: bit 0 file_no 1,
 * bit 1 layout_no 1, bit 2 both -1 (no such file or layout), bit 3 FC_ROW_PARTIAL, bit 4
 * filter 0 skipped, bit 5 the same stored chunk as the row before (a chunk shared by rows).
 * The file bytes go to a memfd; `out`, rows, regions, step, shape, fds and layouts are each
 * malloc'd at their exact size, so ASan sees any index fc_read_validate() let through. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "target.h"

#define MAX_ROWS 8
#define MAX_CHUNK_BYTES ((int64_t)256 << 10) /* decoded bytes of one chunk at most */

static const int64_t hostile_steps[] = {0, -1, INT64_MAX, INT64_MIN, (int64_t)1 << 40,
                                        (int64_t)1 << 62, 4096, 65537};

typedef struct {
    int nd;
    uint32_t es;
    int64_t chunk[3], out[3], step[3];
} shape_t;

static int64_t prod(const int64_t *v, int nd)
{
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= v[d];
    return n;
}

/* Halve axes round-robin until n elements of es bytes fit in max (keeps the target fast). */
static void shrink(int64_t *v, int nd, int64_t es, int64_t max)
{
    for (int d = 0; prod(v, nd) * es > max; d = (d + 1) % nd)
        v[d] /= 2; /* an axis of 0 is legal for out (an empty read) */
}

static fc_filter_t pipeline_filter(unsigned pick, uint32_t es, unsigned block)
{
    if (pick == 1)
        return (fc_filter_t){FC_FILTER_BITSHUFFLE, 5, {es, block * 8, FC_BSHUF_LZ4}};
    if (pick == 3)
        return (fc_filter_t){FC_FILTER_BLOSC, 0, {0}};
    return (fc_filter_t){FC_FILTER_LZ4, 1, {0}};
}

/* Output element size: the stored one, or the conversion's destination size. */
static uint32_t out_elem_size(uint32_t es, unsigned conv)
{
    static const uint32_t sizes[] = {1, 2, 4, 8};
    return conv & 0x80 ? sizes[conv & 3] : es;
}

static void make_layout(fc_layout_t *lay, const shape_t *sh, unsigned shape, unsigned misc,
                        unsigned conv)
{
    memset(lay, 0, sizeof *lay);
    lay->ndim = sh->nd;
    lay->elem_size = sh->es;
    memcpy(lay->chunk_shape, sh->chunk, sizeof sh->chunk);
    unsigned pick = shape >> 4 & 3;
    if (pick) {
        lay->nfilters = 1;
        lay->filters[0] = pipeline_filter(pick, sh->es, misc >> 2);
    }
    lay->flags = shape & 0x40 ? FC_LAYOUT_DONT_FILTER_PARTIAL : 0;
    /* A VDS over sources of another integer type; bit 3 names a source kind that is not the
     * stored element (or no kind at all), which fc_read_validate() must refuse. */
    uint32_t src = conv & 8 ? (sh->es == 8 ? 3 : sh->es * 2) : sh->es;
    if (conv & 0x80)
        lay->conv = FC_CONV(src | (conv & 0x40 ? FC_INT_SIGNED : 0),
                            out_elem_size(sh->es, conv) | (conv & 4 ? FC_INT_SIGNED : 0));
}

/* Chunk shape, output shape and steps; the output is kept within FUZZ_MAX_OUT bytes. */
static void take_shape(fuzz_in_t *in, shape_t *sh, uint32_t out_es)
{
    for (int d = 0; d < sh->nd; d++) {
        sh->chunk[d] = 1 + (int64_t)fuzz_take(in, 2) % 4096;
        sh->out[d] = (int64_t)fuzz_take(in, 2);
        unsigned s = (unsigned)fuzz_take(in, 1);
        sh->step[d] = s < 0xF0 ? 1 + s % 8 : hostile_steps[s & 7];
    }
    shrink(sh->chunk, sh->nd, sh->es, MAX_CHUNK_BYTES);
    shrink(sh->out, sh->nd, out_es, (int64_t)FUZZ_MAX_OUT);
}

/* v modulo n for n >= 1 (0 otherwise), on the unsigned value: always in [0, n). */
static int64_t mod(uint64_t v, int64_t n) { return n > 0 ? (int64_t)(v % (uint64_t)n) : 0; }

/* One region (3*nd values) from the row's raw values, mostly inside chunk and out. */
static void make_region(int64_t *reg, const uint64_t *v, const shape_t *sh, unsigned mode)
{
    int nd = sh->nd;
    for (int d = 0; d < nd; d++) {
        uint64_t a = v[d], b = v[nd + d], c = v[2 * nd + d];
        if (mode == 3) {
            reg[d] = (int64_t)a, reg[nd + d] = (int64_t)b, reg[2 * nd + d] = (int64_t)c;
            continue;
        }
        int64_t st = sh->step[d] >= 1 && sh->step[d] <= 8 ? sh->step[d] : 1;
        int64_t cs = mod(a, sh->chunk[d]);
        int64_t most = (sh->chunk[d] - 1 - cs) / st + 1;
        if (most > sh->out[d])
            most = sh->out[d];
        int64_t cnt = most > 0 ? most - mod(c, most) : 1; /* c == 0: as many as fit */
        int64_t os = mod(b, sh->out[d] - cnt + 1);
        if (mode == 2) { /* one past an edge, or one short: the bounds fc_read_validate() checks */
            cs += (int64_t)(a >> 62) % 3 - 1;
            os += (int64_t)(b >> 62) % 3 - 1;
            cnt += (int64_t)(c >> 62) % 3 - 1;
        }
        reg[d] = cs, reg[nd + d] = os, reg[2 * nd + d] = cnt;
    }
}

/* Row i and its region; file_len is the size of the file the offsets point into. */
static void take_row(fuzz_in_t *in, const shape_t *sh, int64_t file_len, fc_row_t *rows, int i,
                     int64_t *reg)
{
    unsigned mode = (unsigned)fuzz_take(in, 1), links = (unsigned)fuzz_take(in, 1);
    uint64_t off = fuzz_take(in, 8), nb = fuzz_take(in, 8), v[9];
    for (int k = 0; k < 3 * sh->nd; k++)
        v[k] = fuzz_take(in, 8);
    fc_row_t *row = &rows[i];
    if (mode & 4) {
        row->offset = (int64_t)off, row->nbytes = (int64_t)nb;
    } else {
        row->offset = mod(off, file_len + 1);
        row->nbytes = mod(nb, file_len - row->offset + 1);
    }
    row->file_no = links & 1 ? 1 : 0;
    row->layout_no = links & 2 ? 1 : 0;
    if (links & 4)
        row->file_no = row->layout_no = -1;
    row->flags = links & 8 ? FC_ROW_PARTIAL : 0;
    row->filter_mask = links & 16 ? 1 : 0;
    if (i > 0 && (links & 32)) /* fc_row_same_chunk: decoded once, scattered per region */
        *row = rows[i - 1];
    make_region(reg, v, sh, mode & 3);
}

/* The file: a memfd holding the rest of the input, or -1. */
static int make_file(const fuzz_in_t *in)
{
    int fd = memfd_create("fuzz-read", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < in->left) {
        ssize_t n = write(fd, in->p + done, in->left - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return fd;
}

/* Bytes of header before the file, so offsets can be drawn modulo the file's length. */
static size_t header_bytes(int nd, int nrows)
{
    return 3 + 5 * (size_t)nd + 1 + (size_t)nrows * (18 + 24 * (size_t)nd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    unsigned shape = (unsigned)fuzz_take(&in, 1), misc = (unsigned)fuzz_take(&in, 1);
    unsigned conv = (unsigned)fuzz_take(&in, 1);
    shape_t sh = {.nd = 1 + (int)(shape & 3) % 3, .es = 1u << (shape >> 2 & 3)};
    fuzz_pick_kernels(misc & 3);

    uint32_t out_es = out_elem_size(sh.es, conv);
    take_shape(&in, &sh, out_es);
    fc_layout_t *lay = malloc(sizeof *lay);
    if (!lay)
        return 0;
    make_layout(lay, &sh, shape, misc, conv);
    int nrows = 1 + (int)fuzz_take(&in, 1) % MAX_ROWS;
    size_t hdr = header_bytes(sh.nd, nrows);
    int64_t file_len = size > hdr ? (int64_t)(size - hdr) : 0;

    size_t out_bytes = (size_t)prod(sh.out, sh.nd) * out_es;
    fc_row_t *rows = calloc((size_t)nrows, sizeof *rows);
    int64_t *regions = malloc((size_t)nrows * 3 * sh.nd * sizeof *regions);
    int64_t *step = malloc(sh.nd * sizeof *step), *out_shape = malloc(sh.nd * sizeof *out_shape);
    uint8_t *out = malloc(out_bytes ? out_bytes : 1);
    int *fds = malloc(sizeof *fds);
    if (rows && regions && step && out_shape && out && fds) {
        for (int i = 0; i < nrows; i++)
            take_row(&in, &sh, file_len, rows, i, regions + (size_t)i * 3 * sh.nd);
        memcpy(step, sh.step, sh.nd * sizeof *step);
        memcpy(out_shape, sh.out, sh.nd * sizeof *out_shape);
        fds[0] = make_file(&in);
        fc_read_t req = {rows, nrows, regions, step, out_shape, sh.nd, out_es, out, fds, 1, lay, 1,
                         shape & 0x80 ? 2 : 1, 0};
        fc_error_t err;
        if (fds[0] >= 0) {
            fc_read_sync(&req, &err);
            close(fds[0]);
        }
    }
    free(rows);
    free(regions);
    free(step);
    free(out_shape);
    free(out);
    free(fds);
    free(lay);
    return 0;
}
