/* fc_convert.h — integer conversion of decoded elements into the output's type. */
#ifndef FC_CONVERT_H
#define FC_CONVERT_H

#include <stdint.h>

/* n elements from src (every stride-th element) to dst. */
typedef void (*fc_convert_fn)(uint8_t *dst, const uint8_t *src, int64_t n, int64_t stride);
/* The converter for a layout's conv, or NULL if conv names an unknown kind. */
fc_convert_fn fc_converter(uint32_t conv);
/* Output element size of a conversion. */
uint32_t fc_conv_dst_size(uint32_t conv);

#endif
