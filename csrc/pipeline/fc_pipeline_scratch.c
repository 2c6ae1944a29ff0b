/* fc_pipeline_scratch.c — a decoding thread's scratch: made empty, freed with every codec's
 * state in it. Here, above the codecs, because freeing needs each codec that keeps state (zlib's
 * z_stream, the zstd decoder); common/ only holds the struct and how its buffers grow. */
#include <stdlib.h>

#include "codecs/fc_codecs.h"

fc_scratch_t *fc_scratch_new(void)
{
    return calloc(1, sizeof(fc_scratch_t));
}

void fc_scratch_free(fc_scratch_t *s)
{
    if (!s)
        return;
    free(s->block);
    free(s->planes);
    free(s->chunk);
    free(s->stage[0]);
    free(s->stage[1]);
    free(s->want);
    free(s->zstd);
    fc_inflate_free(s);
    free(s);
}
