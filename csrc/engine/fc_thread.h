/* fc_thread.h — starting the engine's long-lived threads (workers, I/O threads). */
#ifndef FC_THREAD_H
#define FC_THREAD_H

/* Start a thread nobody joins (workers and I/O threads live on); pthread_create's status. */
int fc_start_detached(void *(*fn)(void *), void *arg);

#endif
