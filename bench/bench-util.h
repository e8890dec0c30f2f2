/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the varlink benchmarks share: wall-clock seconds, a process's CPU seconds, and copying the
 * services file into the daemon's scratch root. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util.h"

static inline double now_seconds(void)
{
        return (double) now_usec(CLOCK_MONOTONIC) / 1e6;
}

/* CPU seconds (user + system) a process has used: the daemon's cost per call, independent of how
 * busy the machine is with other work. */
static inline double process_cpu_seconds(pid_t pid)
{
        char path[64], buf[1024];
        unsigned long utime = 0, stime = 0;
        _cleanup_close_ int fd = -1;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
                return 0;
        buf[n] = 0;
        /* Fields 14 and 15, counted after the ")" that ends the command name. */
        const char *p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
                return 0;
        return (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
}

/* Copies a file whole (the services file into a scratch --root); -EIO on a short write. */
static inline int copy_file(const char *from, const char *to)
{
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        char buf[65536];
        ssize_t n;

        if (in < 0 || out < 0)
                return -errno;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t) n) != n)
                        return -EIO;
        return n < 0 ? -errno : 0;
}
