/* fc_pread.h — reading stored bytes from a file. */
#ifndef FC_PREAD_H
#define FC_PREAD_H

#include <stddef.h>
#include <stdint.h>

#include "fastchunk.h"

/* pread exactly len bytes at off; FC_E_SHORT_READ / FC_E_IO with err->at = file offset. */
int fc_pread_full(int fd, uint8_t *buf, size_t len, int64_t off, fc_error_t *err);

#endif
