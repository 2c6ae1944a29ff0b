/* fc_convert.c — integer conversion of decoded elements into the output's type.
 *
 * A virtual dataset may have another integer type than its sources (Diamond masters: an int32
 * VDS over uint32 data). HDF5 converts such values saturating: out-of-range values become the
 * nearest representable one (uint32 0xFFFFFFFF reads as INT32_MAX, not -1). The workers do the
 * same while scattering, so no second pass over the output is needed. */
#include <string.h>

#include "engine/fc_convert.h"
#include "fastchunk.h"

static inline uint64_t clamp_unsigned(uint64_t v, uint64_t max)
{
    return v > max ? max : v;
}

static inline int64_t clamp_signed(int64_t v, int64_t min, uint64_t max)
{
    if (v < min)
        return min;
    if (v > 0 && (uint64_t)v > max)
        return (int64_t)max;
    return v;
}

/* CONV(src name, src C type, src signed, dst name, dst C type, dst min, dst max) defines
 * conv_<src>_<dst>(dst, src, n, src_stride_in_elements). memcpy keeps unaligned access legal;
 * compilers turn it into plain (vectorised) loads. In place works (dst == src, stride 1) as
 * long as the sizes are equal. */
#define CONV(SN, ST, SSIGNED, DN, DT, DMIN, DMAX)                                              \
    static void conv_##SN##_##DN(uint8_t *dst, const uint8_t *src, int64_t n, int64_t stride) \
    {                                                                                         \
        for (int64_t k = 0; k < n; k++) {                                                     \
            ST v;                                                                             \
            memcpy(&v, src + k * stride * (int64_t)sizeof(ST), sizeof v);                     \
            DT o = SSIGNED ? (DT)clamp_signed((int64_t)v, (DMIN), (DMAX))                      \
                           : (DT)clamp_unsigned((uint64_t)v, (DMAX));                         \
            memcpy(dst + k * (int64_t)sizeof(DT), &o, sizeof o);                              \
        }                                                                                     \
    }

#define TO_EACH(SN, ST, SSIGNED)                                  \
    CONV(SN, ST, SSIGNED, u8, uint8_t, 0, UINT8_MAX)              \
    CONV(SN, ST, SSIGNED, u16, uint16_t, 0, UINT16_MAX)           \
    CONV(SN, ST, SSIGNED, u32, uint32_t, 0, UINT32_MAX)           \
    CONV(SN, ST, SSIGNED, u64, uint64_t, 0, UINT64_MAX)           \
    CONV(SN, ST, SSIGNED, i8, int8_t, INT8_MIN, INT8_MAX)         \
    CONV(SN, ST, SSIGNED, i16, int16_t, INT16_MIN, INT16_MAX)     \
    CONV(SN, ST, SSIGNED, i32, int32_t, INT32_MIN, INT32_MAX)     \
    CONV(SN, ST, SSIGNED, i64, int64_t, INT64_MIN, INT64_MAX)

TO_EACH(u8, uint8_t, 0)
TO_EACH(u16, uint16_t, 0)
TO_EACH(u32, uint32_t, 0)
TO_EACH(u64, uint64_t, 0)
TO_EACH(i8, int8_t, 1)
TO_EACH(i16, int16_t, 1)
TO_EACH(i32, int32_t, 1)
TO_EACH(i64, int64_t, 1)

#define ROW(SN)                                                                          \
    {conv_##SN##_u8, conv_##SN##_u16, conv_##SN##_u32, conv_##SN##_u64, conv_##SN##_i8, \
     conv_##SN##_i16, conv_##SN##_i32, conv_##SN##_i64}

/* [source kind][destination kind], kinds in the order u8 u16 u32 u64 i8 i16 i32 i64. */
static const fc_convert_fn TABLE[8][8] = {ROW(u8), ROW(u16), ROW(u32), ROW(u64),
                                          ROW(i8), ROW(i16), ROW(i32), ROW(i64)};

/* FC_INT kind (size | FC_INT_SIGNED) -> table index, or -1. */
static int kind_index(uint32_t kind)
{
    int base = (kind & FC_INT_SIGNED) ? 4 : 0;
    switch (kind & ~FC_INT_SIGNED) {
    case 1: return base;
    case 2: return base + 1;
    case 4: return base + 2;
    case 8: return base + 3;
    default: return -1;
    }
}

fc_convert_fn fc_converter(uint32_t conv)
{
    int s = kind_index(FC_CONV_SRC(conv)), d = kind_index(FC_CONV_DST(conv));
    return s < 0 || d < 0 ? NULL : TABLE[s][d];
}

uint32_t fc_conv_dst_size(uint32_t conv)
{
    return FC_CONV_DST(conv) & ~FC_INT_SIGNED;
}
