/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owner queries, naming: a holder's command, user, unit and container, read once from its
 * /proc/PID and made safe (\xNN) there; who may see it (the kernel's ptrace rule); socket units. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include "owner-internal.h"

/* ---- naming holders ---- */

/* Length of the valid UTF-8 sequence at s (1..4), 0 when there is none; overlong forms,
 * surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
        uint32_t cp;
        size_t len;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
                (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        /* C1 controls (U+0080..U+009F): CSI and friends, as dangerous on a terminal as ESC. */
        if (cp >= 0x80 && cp <= 0x9f)
                return 0;
        return len;
}

int owner_name_make_safe(const char *s, size_t n, char **ret)
{
        const unsigned char *u = (const unsigned char *) s;
        char *out, *p;

        /* Names come from processes (comm), cgroups (made by users) and files: once here, invalid
         * UTF-8 and control characters become \xNN as lsof prints them, so that every JSON reply
         * is valid and nothing reaches a terminal raw. */
        if (n > SIZE_MAX / 4 - 1)
                return -ENOMEM;
        out = p = malloc(n * 4 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence_length(u + i, n - i);
                if (len == 0 || (len == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
                        p += sprintf(p, "\\x%02x", u[i]);
                        i++;
                        continue;
                }
                memcpy(p, u + i, len);
                p += len;
                i += len;
        }
        *p = 0;
        *ret = out;
        return 0;
}

static int name_make_safe_in_place(char **name)
{
        char *safe;

        if (!*name)
                return 0;
        int r = owner_name_make_safe(*name, strlen(*name), &safe);
        if (r < 0)
                return r;
        free(*name);
        *name = safe;
        return 0;
}

static const char *user_name(OwnerContext *c, uid_t uid)
{
        for (size_t i = 0; i < c->n_users; i++)
                if (c->users[i].uid == uid)
                        return c->users[i].name;

        /* passwd through NSS is fine here; only services lookups must not recurse into us. */
        char buf[4096];
        struct passwd pw, *result = NULL;
        char *name = NULL;
        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &result) == 0 && result)
                name = strdup(result->pw_name);

        if (c->n_users >= USER_CACHE_MAX) {
                for (size_t i = 0; i < c->n_users; i++)
                        free(c->users[i].name);
                c->n_users = 0;
        }
        c->users[c->n_users++] = (UserName){ .uid = uid, .name = name };
        return name;
}

void socket_units_clear(OwnerContext *c)
{
        for (size_t i = 0; i < c->n_socket_units; i++) {
                free(c->socket_units[i].type);
                free(c->socket_units[i].listen);
                free(c->socket_units[i].unit);
        }
        c->socket_units = mfree(c->socket_units);
        c->n_socket_units = 0;
}

static int socket_unit_add(
        OwnerContext *c, size_t *allocated, const char *type, const char *listen, const char *unit)
{
        if (GROW(c->socket_units, *allocated, c->n_socket_units + 1) < 0)
                return -ENOMEM;
        SocketUnit *u = &c->socket_units[c->n_socket_units];
        *u = (SocketUnit){ strdup(type), strdup(listen), strdup(unit) };
        if (!u->type || !u->listen || !u->unit) {
                free(u->type);
                free(u->listen);
                free(u->unit);
                return -ENOMEM;
        }
        c->n_socket_units++;
        return 0;
}

/* systemd's socket units and what they listen on, asked from PID 1 over D-Bus, kept a while. */
static int socket_units_refresh(OwnerContext *c)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        size_t allocated = 0;
        const char *name, *path;
        int r;

        if (c->socket_units_time != 0 &&
                now_usec(CLOCK_MONOTONIC) - c->socket_units_time < SOCKET_UNITS_TTL_USEC)
                return 0;
        socket_units_clear(c);
        c->socket_units_time = now_usec(CLOCK_MONOTONIC);

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        (void) sd_bus_set_method_call_timeout(bus, 1000000);
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns", &error, &reply, "asas", 0, 1,
                "*.socket");
        if (r < 0)
                goto finish;
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                goto finish;
        while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, NULL, NULL, NULL, &path,
                        NULL, NULL, NULL)) > 0) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *listen = NULL;
                const char *type, *address;

                if (sd_bus_get_property(bus, "org.freedesktop.systemd1", path,
                            "org.freedesktop.systemd1.Socket", "Listen", NULL, &listen, "a(ss)") < 0)
                        continue;
                if (sd_bus_message_enter_container(listen, 'a', "(ss)") < 0)
                        continue;
                while (sd_bus_message_read(listen, "(ss)", &type, &address) > 0) {
                        r = socket_unit_add(c, &allocated, type, address, name);
                        if (r < 0)
                                goto finish;
                }
        }
finish:
        sd_bus_error_free(&error);
        return r < 0 ? r : 0;
}

/* PID 1 holds the listening sockets of socket-activated services; the socket unit is the answer
 * people want, not "init.scope". */
static char *socket_unit_for(OwnerContext *c, const OwnerSocket *s)
{
        (void) socket_units_refresh(c);
        for (size_t i = 0; i < c->n_socket_units; i++)
                if (socket_unit_listen_matches(c->socket_units[i].type, c->socket_units[i].listen, s))
                        return strdup(c->socket_units[i].unit);
        return NULL;
}

/* Whether the caller may see pi's process and, if so, its names: read once per query, relative to
 * its open /proc/PID, which stays bound to the process it was opened for, so if the pid is reused
 * meanwhile the reads fail instead of naming another.  -ENOMEM only; the rest is in pi->seen. */
static int process_describe(OwnerContext *c, ProcessInfo *pi, const OwnerCaller *caller)
{
        char buf[4096];
        _cleanup_free_ char *cgroup = NULL;
        unsigned uids[4], gids[4];
        struct stat st;
        int r;

        pi->described = true;
        pi->seen = HOLDER_GONE;
        c->stats.processes_described++;
        if (caller->uid == 0) {
                /* Root sees every process and needs only its effective uid: no status read for
                 * each of a listing's thousands (process_euid()). */
                uid_t euid;
                if (process_euid(pi->pid_fd, &euid) < 0)
                        return 0;
                uids[1] = euid;
        } else if (read_at(pi->pid_fd, "status", buf, sizeof(buf)) < 0 ||
                   parse_id_line(buf, "\nUid:", uids) < 0 || parse_id_line(buf, "\nGid:", gids) < 0)
                return 0;

        /* As ptrace's access check for a caller without capabilities: all of the target's uids and
         * gids are the caller's, and it is dumpable (else /proc/PID/fd belongs to root; /proc/PID
         * itself keeps the euid whatever the dumpable flag). */
        if (caller->uid != 0) {
                pi->seen = HOLDER_HIDDEN;
                if (fstatat(pi->pid_fd, "fd", &st, 0) < 0 || st.st_uid != caller->uid)
                        return 0;
                for (int i = 0; i < 3; i++)
                        if (uids[i] != caller->uid || gids[i] != caller->gid)
                                return 0;
                /* ...and the kernel's capability subset test: a process that holds a
                 * capability the caller lacks (a setcap binary, a service given
                 * AmbientCapabilities=) is refused to it by ptrace, /proc/PID/fd, lsof and ss -p. */
                uint64_t target_caps;
                if (parse_cap_line(buf, "\nCapPrm:", &target_caps) < 0 ||
                        (target_caps & ~(caller->cap_known ? caller->cap_permitted : 0)) != 0)
                        return 0;
                pi->seen = HOLDER_GONE;
        }

        OwnerProcess p = { .pid = pi->pid, .uid = uids[1] };
        const char *comm = pi->comm;
        size_t comm_len = pi->comm_len;
        if (comm_len == SIZE_MAX) {
                if (read_at(pi->pid_fd, "comm", buf, sizeof(buf)) < 0)
                        return 0;
                /* comm ends in one newline the kernel adds; a newline of the name's own stays,
                 * escaped. */
                comm = buf;
                comm_len = strlen(buf);
                if (comm_len > 0 && buf[comm_len - 1] == '\n')
                        comm_len--;
        }
        if (owner_name_make_safe(comm, comm_len, &p.command) < 0)
                return -ENOMEM;

        const char *user = user_name(c, p.uid);
        if (user && owner_name_make_safe(user, strlen(user), &p.user) < 0)
                goto oom;

        if (read_at(pi->pid_fd, "cgroup", buf, sizeof(buf)) >= 0 &&
                cgroup_path_from_proc_text(buf, &cgroup) >= 0) {
                r = cgroup_path_names(cgroup, &p.unit, &p.container);
                if (r >= 0)
                        r = name_make_safe_in_place(&p.unit);
                if (r >= 0)
                        r = name_make_safe_in_place(&p.container);
                if (r < 0)
                        goto oom;
        }
        pi->names = p;
        pi->seen = HOLDER_SHOWN;
        return 0;
oom:
        owner_process_done(&p);
        return -ENOMEM;
}

static int strdup_maybe(const char *s, char **ret)
{
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

/* Whether h still holds s (its process, same start time, the same socket at fd) and whether the
 * caller may see it; with HOLDER_SHOWN, ret describes it. */
int holder_describe(
        OwnerContext *c, const Holder *h, const OwnerSocket *s, const OwnerCaller *caller, OwnerProcess *ret)
{
        ProcessInfo *pi;
        int r;

        r = process_get(c, h->pid, &pi);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || pi->starttime != h->starttime || !process_holds(pi, h->fd, s->inode))
                return HOLDER_GONE;

        if (!pi->described) {
                r = process_describe(c, pi, caller);
                if (r < 0)
                        return r;
        }
        if (pi->seen != HOLDER_SHOWN)
                return pi->seen;

        OwnerProcess p = { .pid = h->pid, .fd = h->fd, .uid = pi->names.uid };
        if (strdup_maybe(pi->names.command, &p.command) < 0 || strdup_maybe(pi->names.user, &p.user) < 0 ||
                strdup_maybe(pi->names.unit, &p.unit) < 0 ||
                strdup_maybe(pi->names.container, &p.container) < 0)
                goto oom;
        if (h->pid == 1 && streq(p.command, "systemd")) {
                char *unit = socket_unit_for(c, s);
                if (unit && name_make_safe_in_place(&unit) < 0) {
                        free(unit);
                        goto oom;
                }
                if (unit) {
                        free(p.unit);
                        p.unit = unit;
                }
        }

        *ret = p;
        return HOLDER_SHOWN;
oom:
        owner_process_done(&p);
        return -ENOMEM;
}
