/* lz4_filter.c — fuzz target: HDF5 LZ4 filter 32004 framing (fc_lz4_filter_decode).
 * Input: u24 decoded size | stored chunk. */
#include "codecs/fc_codecs.h"
#include "target.h"

FUZZ_CHUNK_DECODER(fc_lz4_filter_decode)
