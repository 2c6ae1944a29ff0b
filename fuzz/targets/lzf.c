/* lzf.c — fuzz target: an LZF stream, HDF5 filter 32000 (fc_lzf_decode).
 * Input: u24 decoded size | stored chunk. */
#include "fc_internal.h"
#include "target.h"

FUZZ_CHUNK_DECODER(fc_lzf_decode)
