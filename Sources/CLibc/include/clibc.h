// The libc headers the I/O modules use, and small inline functions for what Swift cannot import from C:
// errno (a macro over a function), variadic calls (open, fcntl, ioctl) and function-like macros.
#ifndef DLMS_BRIDGE_CLIBC_H
#define DLMS_BRIDGE_CLIBC_H

#include <arpa/inet.h>
#include <locale.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/// The process environment (declared by unistd.h only under _GNU_SOURCE).
static inline char **clibc_environ(void) { extern char **environ; return environ; }

static inline int clibc_errno(void) { return errno; }
static inline void clibc_set_errno(int value) { errno = value; }

static inline int clibc_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }
static inline int clibc_openat(int dirfd, const char *path, int flags, mode_t mode) {
    return openat(dirfd, path, flags, mode);
}
static inline int clibc_fcntl(int fd, int cmd, long arg) { return fcntl(fd, cmd, arg); }
static inline int clibc_ioctl(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

static inline int clibc_s_isdir(mode_t mode) { return S_ISDIR(mode); }
static inline int clibc_s_isreg(mode_t mode) { return S_ISREG(mode); }
static inline int clibc_s_ischr(mode_t mode) { return S_ISCHR(mode); }

static inline int clibc_wifexited(int status) { return WIFEXITED(status); }
static inline int clibc_wexitstatus(int status) { return WEXITSTATUS(status); }

/// signal(2) with the default or ignore disposition (SIG_DFL/SIG_IGN are casts Swift cannot import).
static inline int clibc_signal_default(int sig) { return signal(sig, SIG_DFL) == SIG_ERR ? -1 : 0; }
static inline int clibc_signal_ignore(int sig) { return signal(sig, SIG_IGN) == SIG_ERR ? -1 : 0; }

/// The process's arguments as the C library handed them to main (captured before main by clibc.c, so that
/// the Embedded build, which has no `CommandLine`, and the normal build read them the same way).
int clibc_argc(void);
char *const *clibc_argv(void);
/// Names the calling thread for `top -H`, `ps -L` and perf (the kernel keeps 15 bytes; longer is cut).
void clibc_set_thread_name(const char *name);

#endif
