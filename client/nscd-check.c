/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* portctl's check for nscd: with its services cache enabled, glibc asks nscd before any NSS module,
 * so portd's drop-in changes, overrides and per-container scopes reach programs only as nscd's
 * cache expires (check-files watches /etc/services, not services.d).  Read-only: nscd.conf, and
 * a connect() to nscd's socket to tell whether it runs. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "portctl.h"
#include "util.h"

#define NSCD_CONF   "/etc/nscd.conf"
#define NSCD_SOCKET "/var/run/nscd/socket" /* glibc's _PATH_NSCDSOCKET */

/* Bounds what one read takes: a longer line is read in pieces, each taken as a line (none of
 * them then says enable-cache); no nscd.conf has lines that long. */
#define NSCD_LINE_MAX 1024

int nscd_conf_caches_services(FILE *f)
{
        char line[NSCD_LINE_MAX];
        int enabled = 0; /* nscd's default: no services cache */

        while (fgets(line, sizeof line, f)) {
                char *save = NULL, *keyword, *db, *value;

                line[strcspn(line, "#")] = '\0';
                keyword = strtok_r(line, " \t\r\n", &save);
                db = keyword ? strtok_r(NULL, " \t\r\n", &save) : NULL;
                value = db ? strtok_r(NULL, " \t\r\n", &save) : NULL;
                if (!value || !streq(keyword, "enable-cache") || !streq(db, "services"))
                        continue;
                /* The last line wins, as nscd reads them in order. */
                if (streq(value, "yes"))
                        enabled = 1;
                else if (streq(value, "no"))
                        enabled = 0;
        }
        return ferror(f) ? -EIO : enabled;
}

static bool nscd_runs(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = NSCD_SOCKET };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool runs;

        if (fd < 0)
                return false;
        runs = connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
        (void) close(fd);
        return runs;
}

void nscd_warn_if_caching(const PortctlContext *ctx)
{
        _cleanup_free_ char *path = path_join_root(ctx->root, NSCD_CONF);
        _cleanup_fclose_ FILE *f = NULL;

        if (!path)
                return;
        f = fopen(path, "re");
        if (!f || nscd_conf_caches_services(f) <= 0)
                return;
        /* Below --root there is no nscd to ask: the configuration is what would take effect. */
        if (!ctx->root && !nscd_runs())
                return;
        fprintf(stderr,
                "portctl: warning: nscd caches the services database ('enable-cache services yes' in %s):\n"
                "portctl: warning: programs get its cached answers, not portd's changes, overrides or scopes;\n"
                "portctl: warning: set 'enable-cache services no' there and restart nscd (see nss-portd(8)).\n",
                path);
}
