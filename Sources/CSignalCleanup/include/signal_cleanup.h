// Removing temporary files when the process is stopped by SIGINT, SIGTERM, SIGHUP or SIGQUIT.
// In C because a signal handler may do only async-signal-safe work, which Swift code cannot
// promise (it may allocate, retain, or initialise a global lazily).
#ifndef TRAMONTANE_SIGNAL_CLEANUP_H
#define TRAMONTANE_SIGNAL_CLEANUP_H

/// Registers `path` for removal if SIGINT, SIGTERM, SIGHUP or SIGQUIT stops the process,
/// installing the handler the first time (only where the signal's action is the default: an
/// ignored SIGHUP, as under `nohup`, stays ignored). Returns the slot to pass to
/// `tramontane_cleanup_unregister`, or -1 when no slot is free (the file is then not removed
/// on a signal).
int tramontane_cleanup_register(const char *path);

/// Forgets a registration (the file was renamed into place or removed).
void tramontane_cleanup_unregister(int slot);

#endif
