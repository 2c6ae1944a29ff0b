/* lzf.c — fuzz target: an LZF stream, HDF5 filter 32000 (fc_lzf_decode).
 * Input: u24 decoded size | stored chunk. */
#include "codecs/fc_codecs.h"
#include "target.h"

FUZZ_CHUNK_DECODER(fc_lzf_decode)
