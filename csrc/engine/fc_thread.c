/* fc_thread.c — starting the engine's long-lived threads (fc_thread.h). */
#include <pthread.h>

#include "engine/fc_thread.h"

int fc_start_detached(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return e;
}
