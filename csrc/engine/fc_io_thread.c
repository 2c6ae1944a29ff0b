/* fc_io_thread.c — each running read has an I/O thread of its own (fc_io.c is what it does);
 * finished ones park for the next read, up to MAX_IDLE_IO of them. */
#include <stdlib.h>

#include "engine/fc_io.h"
#include "engine/fc_io_thread.h"
#include "engine/fc_thread.h"

#define MAX_IDLE_IO 8 /* parked I/O threads kept; more concurrent reads start new ones */

static void *io_thread_main(void *arg)
{
    fc_io_thread_t *t = arg;
    fc_pool_t *p = t->job->pool;
    for (;;) {
        fc_io_run(t->job); /* touches the job no more once it has set io_done */
        pthread_mutex_lock(&p->mu);
        t->job = NULL;
        if (p->nidle_io >= MAX_IDLE_IO)
            break;
        t->next = p->idle_io;
        p->idle_io = t;
        p->nidle_io++;
        while (!t->job)
            pthread_cond_wait(&t->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    return NULL;
}

int fc_io_start(fc_pool_t *p, fc_job_t *job)
{
    pthread_mutex_lock(&p->mu);
    fc_io_thread_t *t = p->idle_io;
    if (t) {
        p->idle_io = t->next;
        p->nidle_io--;
        t->job = job;
        pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (t)
        return FC_OK;
    t = calloc(1, sizeof *t);
    if (!t)
        return FC_E_THREAD;
    pthread_cond_init(&t->cv, NULL);
    t->job = job;
    if (fc_start_detached(io_thread_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        free(t);
        return FC_E_THREAD;
    }
    return FC_OK;
}
