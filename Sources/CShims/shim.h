// What Swift's Glibc module does not offer: constants glibc declares only under _GNU_SOURCE.
#ifndef TRAMONTANE_CSHIMS_H
#define TRAMONTANE_CSHIMS_H
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
/// O_DIRECT for this architecture (its value differs between x86-64 and arm64).
static inline int tramontane_o_direct(void) { return O_DIRECT; }
#endif
#endif
