/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parser of /etc/portd/portd.conf, systemd's INI dialect: sections, Key=Value with blanks around
 * '=' allowed, '#' and ';' comment lines.  Everything it does not know is reported with its line
 * and skipped, never fatal: the daemon keeps serving with what it understood. */

#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "portd-conf.h"
#include "root-path.h"
#include "util.h"

/* Far above any real settings file; refuses to read a huge file into memory. */
#define PORTD_CONF_SIZE_MAX (1024u * 1024u)

PortdConf *portd_conf_free(PortdConf *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_override_groups; i++)
                free(c->override_groups[i]);
        free(c->override_groups);
        for (size_t i = 0; i < c->n_diagnostics; i++)
                free(c->diagnostics[i].message);
        free(c->diagnostics);
        return mfree(c);
}

static void portd_conf_freep(PortdConf **c)
{
        portd_conf_free(*c);
}

static int diagnose(PortdConf *c, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int diagnose(PortdConf *c, unsigned line, const char *fmt, ...)
{
        PortdConfDiagnostic *d =
                realloc(c->diagnostics, (c->n_diagnostics + 1) * sizeof(PortdConfDiagnostic));
        va_list ap;
        char *m;
        int r;

        if (!d)
                return -ENOMEM;
        c->diagnostics = d;
        va_start(ap, fmt);
        r = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        c->diagnostics[c->n_diagnostics++] = (PortdConfDiagnostic){ .line = line, .message = m };
        return 0;
}

static char *strip(char *s)
{
        while (isspace((unsigned char) *s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
        return s;
}

static void groups_clear(PortdConf *c)
{
        for (size_t i = 0; i < c->n_override_groups; i++)
                free(c->override_groups[i]);
        c->override_groups = mfree(c->override_groups);
        c->n_override_groups = 0;
}

/* Group= takes a list; repeated lines add to it and an empty value clears it, as systemd's list
 * settings do. */
static int parse_groups(PortdConf *c, unsigned line, char *value)
{
        if (!*value) {
                groups_clear(c);
                return 0;
        }
        for (char *save = NULL, *w = strtok_r(value, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                bool dup = false;
                for (size_t i = 0; i < c->n_override_groups && !dup; i++)
                        dup = streq(c->override_groups[i], w);
                if (dup)
                        continue;
                /* A group name in the sense of useradd(8): anything else cannot name a group and is
                 * more likely a typo than a wish. */
                bool valid = strlen(w) <= 256;
                for (const char *p = w; *p && valid; p++)
                        valid = isalnum((unsigned char) *p) || strchr("_.-$", *p);
                if (!valid || w[0] == '-') {
                        int r = diagnose(c, line, "invalid group '%s', ignoring", w);
                        if (r < 0)
                                return r;
                        continue;
                }
                char **l = realloc(c->override_groups, (c->n_override_groups + 2) * sizeof(char *));
                if (!l)
                        return -ENOMEM;
                c->override_groups = l;
                l[c->n_override_groups] = strdup(w);
                if (!l[c->n_override_groups])
                        return -ENOMEM;
                l[++c->n_override_groups] = NULL;
        }
        return 0;
}

int portd_conf_parse(const char *data, size_t size, PortdConf **ret)
{
        assert(ret);

        _cleanup_(portd_conf_freep) PortdConf *c = NULL;
        _cleanup_free_ char *copy = NULL;
        enum { SECTION_NONE, SECTION_OVERRIDES, SECTION_UNKNOWN } section = SECTION_NONE;
        unsigned line = 0;
        int r;

        c = calloc(1, sizeof(PortdConf));
        copy = malloc(size + 1);
        if (!c || !copy)
                return -ENOMEM;
        memcpy(copy, data, size);
        copy[size] = '\0';

        for (char *p = copy, *end = copy + size, *next; p < end; p = next) {
                char *eol = memchr(p, '\n', (size_t) (end - p));
                if (!eol)
                        eol = end; /* copy[size] is a NUL already */
                *eol = '\0';
                next = eol + 1;
                line++;
                if (strlen(p) != (size_t) (eol - p)) {
                        r = diagnose(c, line, "line holds a NUL byte, ignoring");
                        if (r < 0)
                                return r;
                        continue;
                }

                char *l = strip(p);
                if (!*l || *l == '#' || *l == ';')
                        continue;

                if (*l == '[') {
                        size_t n = strlen(l);
                        if (n < 3 || l[n - 1] != ']') {
                                r = diagnose(c, line, "invalid section header '%s', ignoring", l);
                                section = SECTION_UNKNOWN;
                        } else if (streq(l, "[Overrides]")) {
                                section = SECTION_OVERRIDES;
                                r = 0;
                        } else {
                                r = diagnose(c, line, "unknown section '%s', ignoring", l);
                                section = SECTION_UNKNOWN;
                        }
                        if (r < 0)
                                return r;
                        continue;
                }

                char *eq = strchr(l, '=');
                if (!eq) {
                        r = diagnose(c, line, "missing '=' in '%s', ignoring", l);
                        if (r < 0)
                                return r;
                        continue;
                }
                *eq = '\0';
                char *key = strip(l), *value = strip(eq + 1);

                switch (section) {
                case SECTION_NONE:
                        r = diagnose(c, line, "'%s=' outside of any section, ignoring", key);
                        break;
                case SECTION_UNKNOWN:
                        r = 0; /* the section was reported already */
                        break;
                case SECTION_OVERRIDES:
                        if (streq(key, "Group"))
                                r = parse_groups(c, line, value);
                        else
                                r = diagnose(
                                        c, line, "unknown key '%s' in section [Overrides], ignoring", key);
                        break;
                }
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

int portd_conf_load(const char *root, PortdConf **ret)
{
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r;

        assert(ret);

        r = read_file_at_root(root, PORTD_CONF_PATH, PORTD_CONF_SIZE_MAX, &data, &size, NULL);
        if (r < 0)
                return r;
        return portd_conf_parse(data, size, ret);
}

int portd_conf_resolve_group(const char *spec, gid_t *ret)
{
        assert(ret);

        if (!spec || !*spec)
                return -EINVAL;

        if (strspn(spec, "0123456789") == strlen(spec)) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(spec, &end, 10);
                /* (gid_t) -1 means "no group" to the kernel. */
                if (errno != 0 || *end || v >= (gid_t) -1)
                        return -EINVAL;
                *ret = (gid_t) v;
                return 0;
        }

        long bufsize = sysconf(_SC_GETGR_R_SIZE_MAX);
        size_t n = bufsize > 0 ? (size_t) bufsize : 4096;
        for (;;) {
                _cleanup_free_ char *buf = malloc(n);
                struct group grp, *result = NULL;
                if (!buf)
                        return -ENOMEM;
                int e = getgrnam_r(spec, &grp, buf, n, &result);
                if (e == ERANGE && n < 1024 * 1024) {
                        n *= 2;
                        continue;
                }
                if (e != 0)
                        return -e;
                if (!result)
                        return -ENOENT;
                *ret = result->gr_gid;
                return 0;
        }
}
