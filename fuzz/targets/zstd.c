/* zstd.c — fuzz target: one or more Zstandard frames, HDF5 filter 32015 (fc_zstd_decode).
 * Input: u24 decoded size | stored chunk. */
#include "codecs/fc_codecs.h"
#include "target.h"

FUZZ_CHUNK_DECODER(fc_zstd_decode)
