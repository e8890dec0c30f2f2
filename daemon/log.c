/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stderr logging, with "<N>" priority prefixes only where stderr is the journal's stream (as
 * systemd's own programs decide, by $JOURNAL_STREAM), plain lines on a terminal or in a file.
 * Each message is formatted into one buffer and written with a single write() so that lines
 * never interleave. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int log_max_level = LOG_INFO;
static int log_prefix = -1; /* unknown until the first message */

/* journald sets JOURNAL_STREAM=DEVICE:INODE of the stream it connects to a service's stderr; a
 * stderr redirected elsewhere (by a wrapper, or the variable inherited from a shell in a unit)
 * does not match, and gets no prefixes. */
static bool stderr_is_journal(void)
{
        const char *e = secure_getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_set_max_level(int level)
{
        log_max_level = MIN(MAX(level, LOG_EMERG), LOG_DEBUG);
}

void log_parse_environment(void)
{
        static const char *const names[] = {
                [LOG_EMERG] = "emerg",
                [LOG_ALERT] = "alert",
                [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",
                [LOG_WARNING] = "warning",
                [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",
                [LOG_DEBUG] = "debug",
        };
        const char *e = secure_getenv("PORTD_LOG_LEVEL");

        if (!e || !*e)
                return;
        if (e[0] >= '0' && e[0] <= '7' && e[1] == '\0') {
                log_set_max_level(e[0] - '0');
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(e, names[i]) == 0) {
                        log_set_max_level((int) i);
                        return;
                }
        /* "error" is what people type even though syslog calls it "err". */
        if (strcasecmp(e, "error") == 0)
                log_set_max_level(LOG_ERR);
}

int log_internal(int level, int error, const char *fmt, ...)
{
        char buf[2048];
        int saved_errno = errno;
        int n;

        if (error < 0)
                error = -error;

        if (level > log_max_level) {
                errno = saved_errno;
                return -error;
        }

        if (log_prefix < 0)
                log_prefix = stderr_is_journal();
        n = log_prefix ? snprintf(buf, sizeof(buf), "<%d>", level) : 0;

        va_list ap;
        va_start(ap, fmt);
        /* glibc's %m prints strerror(errno): point it at the error being reported. */
        errno = error;
        int k = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
        va_end(ap);
        if (k < 0)
                k = 0;
        n = MIN((size_t) n + (size_t) k, sizeof(buf) - 2);
        buf[n++] = '\n';

        /* Best effort: a log line that cannot be written is not worth failing over. */
        for (size_t done = 0; done < (size_t) n;) {
                ssize_t w = write(STDERR_FILENO, buf + done, n - done);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                done += w;
        }

        errno = saved_errno;
        return -error;
}
