/* fc_pread.c — reading stored bytes from a file, all of them or an error saying where. */
#include <errno.h>
#include <unistd.h>

#include "common/fc_fail.h"
#include "engine/fc_pread.h"

int fc_pread_full(int fd, uint8_t *buf, size_t len, int64_t off, fc_error_t *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err->sys_errno = errno;
            return fc_fail(err, FC_E_IO, (size_t)(off + (int64_t)done), "pread failed");
        }
        if (n == 0)
            return fc_fail(err, FC_E_SHORT_READ, (size_t)(off + (int64_t)done), "file ends inside the chunk");
        done += (size_t)n;
    }
    return FC_OK;
}
