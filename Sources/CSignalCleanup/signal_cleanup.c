#include "signal_cleanup.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Paths of the temporaries now being written, copied when registered. The handler only loads
// these pointers and calls unlink(2), sigaction(2) and raise(3), all async-signal-safe.
#define SLOTS 256
static _Atomic(char *) slots[SLOTS];
// Set by the handler before it reads a slot. An unregistration that sees it set leaks its copy
// instead of freeing it, so the handler never reads freed memory; the process is dying anyway.
// Both sides use sequentially consistent operations: either the unregistering thread sees the
// flag, or the handler sees the slot already empty.
static atomic_int handling;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void on_signal(int sig) {
    atomic_store(&handling, 1);
    for (int i = 0; i < SLOTS; i++) {
        char *path = atomic_load(&slots[i]);
        if (path) unlink(path);
    }
    // Die of the same signal, with its default action, so the parent sees how the process ended.
    // The signal is blocked while this handler runs; it is delivered when the handler returns.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void install(void) {
    // Ctrl-C, kill's default, the terminal closing, Ctrl-\ (which then still dumps core).
    // Swift's runtime backtracer installs its own SIGQUIT handler at startup (it prints every
    // thread's stack and the process carries on), so SIGQUIT is ours only with
    // SWIFT_BACKTRACE=enable=no: a handler found here is never replaced.
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal;
    sigemptyset(&act.sa_mask);
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&act.sa_mask, sigs[i]);
    act.sa_flags = SA_RESTART;
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) != 0) continue;
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
        sigaction(sigs[i], &act, NULL);
    }
}

int tramontane_cleanup_register(const char *path) {
    pthread_once(&installed, install);
    char *copy = strdup(path);
    if (!copy) return -1;
    for (int i = 0; i < SLOTS; i++) {
        char *expected = NULL;
        if (atomic_compare_exchange_strong(&slots[i], &expected, copy)) return i;
    }
    free(copy);
    return -1;
}

void tramontane_cleanup_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    char *path = atomic_exchange(&slots[slot], NULL);
    if (path && !atomic_load(&handling)) free(path);
}
