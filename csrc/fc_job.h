/* fc_job.h — the pieces of a read shared by fc_job.c, fc_io.c and fc_pool.c. */
#ifndef FC_JOB_H
#define FC_JOB_H

#include <pthread.h>

#include "fc_internal.h"

/* A read buffer, reused across reads through the pool's cache. */
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

/* A parked I/O thread: it runs one job's I/O (fc_io_main), then waits on cv for the next job. */
typedef struct fc_io_thread {
    struct fc_io_thread *next;
    pthread_cond_t cv;
    struct fc_job *job;
} fc_io_thread_t;

struct fc_job {
    fc_read_t req;
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
    fc_buf_t *free_bufs;
    size_t cached_bytes;
    fc_scratch_t *scratch[8];
    int nscratch;
    fc_io_thread_t *idle_io;  /* I/O threads waiting for a job */
    int nidle_io;
};

fc_pool_t *fc_pool_get(void);
void fc_pool_ensure_workers(fc_pool_t *p, int n);
fc_buf_t *fc_pool_take_buf(fc_pool_t *p, size_t need);
void fc_pool_release_buf(fc_pool_t *p, fc_buf_t *buf); /* caller holds p->mu */
/* Run job's I/O on a parked I/O thread, or on a new one: FC_OK or FC_E_THREAD. A thread costs
 * ~35 us to create and join here, as much as a small read's decode. */
int fc_pool_start_io(fc_pool_t *p, fc_job_t *job);
/* Take the job's next task and run it like a worker would (a free slot and a task: the caller
 * checks both); caller holds p->mu, which is released while the task runs. */
void fc_pool_run_task_locked(fc_pool_t *p, fc_job_t *job, fc_scratch_t *s);
/* Wake threads for the job's queued tasks, less `spare` that a thread awake will take: the
 * read's caller first if it sleeps (it decodes too), then one worker, only while the job has a
 * free slot. A worker woken with every slot busy finds nothing and sleeps again, and on a
 * loaded machine that wake-up takes a core from a thread that is decoding. Holds p->mu. */
void fc_job_wake_locked(fc_job_t *job, int64_t spare);
fc_scratch_t *fc_pool_take_scratch(fc_pool_t *p);
void fc_pool_release_scratch(fc_pool_t *p, fc_scratch_t *s);

/* Record the first error and cancel the job (takes p->mu). */
void fc_job_fail(fc_job_t *job, const fc_error_t *e);
/* Decode every row of a task into the output (worker thread, no lock held). */
int fc_task_run(fc_job_t *job, const fc_task_t *t, fc_scratch_t *s, fc_error_t *err);
/* 1 when rows i-1 and i name the same stored chunk (a chunk hit by several regions of one
 * selection: the planner puts them next to each other; it is read and decoded once). */
int fc_row_same_chunk(const fc_read_t *r, int64_t i);
/* Byte offset in `out` where row i's stored bytes can be read straight to (unfiltered, whole
 * chunk, one contiguous run of `out`, big enough to be worth its own pread), or -1. */
int64_t fc_row_direct_read(const fc_read_t *r, int64_t i);
/* Step idx to the next run of a region with counts cnt: an odometer over axes [0, last), axis
 * `last` being one run the caller handles (idx stays 0 on the axes after it). Returns 0 once every run was visited. */
static inline int fc_next_run(int64_t *idx, const int64_t *cnt, int last)
{
    for (int d = last - 1; d >= 0; d--) {
        if (++idx[d] < cnt[d])
            return 1;
        idx[d] = 0;
    }
    return 0;
}

/* The axis a region's runs go along: the last one with more than one element (the axes after
 * it have one), so a slab across the last axis is 64 runs of 64 elements, not 4096 runs of 1. */
static inline int fc_run_axis(int nd, const int64_t *cnt)
{
    int a = nd - 1;
    while (a > 0 && cnt[a] == 1)
        a--;
    return a;
}

/* Mark in want[0:nblocks] the bitshuffle blocks (block_elems elements each) that hold an
 * element of the region (cs, cnt, with r->step) of a chunk of lay, and in want[nblocks]
 * whether it needs the raw tail; returns how many blocks were marked (fc_partial.c). */
size_t fc_mark_blocks(const fc_read_t *r, const fc_layout_t *lay, const int64_t *cs,
                      const int64_t *cnt, size_t block_elems, uint8_t *want, size_t nblocks);
/* Decode only the bitshuffle blocks a small region of a one-filter bslz4/bitshuffle chunk
 * needs, into the chunk-sized dst: returns 1 with the status in *rc, or 0 if the row does
 * not qualify (decode it whole). Blocks not needed are skipped by their size headers, so
 * their bytes are not checked. */
int fc_partial_decode(const fc_read_t *r, const fc_layout_t *lay, const fc_row_t *row,
                      const int64_t *cs, const int64_t *cnt, const uint8_t *src, uint8_t *dst,
                      size_t nbytes, fc_scratch_t *s, fc_error_t *err, int *rc);
/* Check rows [i, j) before anything is allocated for them: a stored size no filter chain
 * could produce (FC_E_CORRUPT), or bytes past the end of a regular file (FC_E_SHORT_READ).
 * err->row names the row. */
int fc_rows_check(const fc_read_t *r, int64_t i, int64_t j, fc_error_t *err);
/* The I/O thread's body. */
void *fc_io_main(void *arg);
/* pread exactly len bytes at off; FC_E_SHORT_READ / FC_E_IO with err->at = file offset. */
int fc_pread_full(int fd, uint8_t *buf, size_t len, int64_t off, fc_error_t *err);

#endif
