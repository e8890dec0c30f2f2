/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the varlink benchmarks share: wall-clock seconds and a process's CPU seconds. */
#pragma once

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
