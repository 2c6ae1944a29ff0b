/* fc_state.h — the state of reads in flight: the process-wide pool, its jobs (one per read),
 * their task queues and the buffers the I/O threads fill. p->mu guards all of it. */
#ifndef FC_STATE_H
#define FC_STATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "fastchunk.h"

/* A read buffer, reused across reads through the pool's cache (fc_cache.c). */
typedef struct fc_buf {
    struct fc_buf *next;
    uint8_t *data;
    size_t cap;
} fc_buf_t;

/* Rows [row0, row1) whose stored bytes sit in buf, which holds the file from file_offset;
 * buf NULL: one row the worker preads straight into `out` at byte file_offset
 * (fc_row_direct_read). */
typedef struct fc_task {
    struct fc_task *next;
    int64_t row0, row1;
    fc_buf_t *buf;
    int64_t file_offset;
    size_t len;
} fc_task_t;

typedef struct fc_pool fc_pool_t;

/* A parked I/O thread: it runs one job's I/O, then waits on cv for the next job
 * (fc_io_thread.c). */
typedef struct fc_io_thread {
    struct fc_io_thread *next;
    pthread_cond_t cv;
    struct fc_job *job;
} fc_io_thread_t;

struct fc_job {
    fc_read_t req;            /* a read; for decode_many only num_threads is set */
    fc_many_t many;           /* decode_many's buffers (fc_many.c) */
    /* what a worker does with one task: fc_task_run for reads, run_buffers for decode_many */
    int (*run)(struct fc_job *job, const fc_task_t *t, fc_scratch_t *s, fc_error_t *err);
    fc_pool_t *pool;
    struct fc_job *next;      /* in the pool's list of running jobs */
    fc_task_t *head, *tail;   /* read, waiting for a worker */
    int active;               /* workers on this job now */
    int64_t inflight;         /* bytes read and not yet decoded */
    int64_t outstanding;      /* tasks queued or being decoded */
    int io_done;              /* the I/O thread has queued its last task */
    int cancel;               /* atomic: stop at the next chunk */
    int failed;
    fc_error_t err;           /* the first error */
    pthread_cond_t io_cv;     /* the I/O thread waits here for room */
    pthread_cond_t done_cv;   /* the caller waits here, for the end or for a task to help with */
    fc_scratch_t *caller_scratch; /* the caller's, while it helps decode (fc_job_wait) */
    int caller_waiting;       /* the caller sleeps on done_cv and nobody has woken it yet */
    int64_t decoded;          /* atomic: chunks decoded (a chunk shared by rows counts once) */
};

struct fc_pool {
    pthread_mutex_t mu;       /* guards the pool and every job's queue and counters */
    pthread_cond_t work_cv;   /* workers wait here */
    fc_job_t *jobs;
    int nworkers;
    fc_buf_t *free_bufs;      /* the cache (fc_cache.c) */
    size_t cached_bytes;
    fc_scratch_t *scratch[8];
    int nscratch;
    fc_io_thread_t *idle_io;  /* I/O threads waiting for a job (fc_io_thread.c) */
    int nidle_io;
};

#endif
