/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names a process by its cgroup: the systemd unit it runs in and the container (docker, podman,
 * systemd-nspawn/machined, LXC, Kubernetes) whose cgroup it sits below. String work only, so the
 * rules are tested without the cgroups they describe. */

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owner.h"
#include "util.h"

static bool endswith(const char *s, size_t n, const char *suffix)
{
        size_t k = strlen(suffix);
        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool startswith_n(const char *s, size_t n, const char *prefix)
{
        size_t k = strlen(prefix);
        return n >= k && memcmp(s, prefix, k) == 0;
}

static bool is_unit_component(const char *s, size_t n)
{
        static const char *const suffixes[] = { ".service", ".scope", ".socket", ".mount", ".swap" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (endswith(s, n, suffixes[i]) && n > strlen(suffixes[i]))
                        return true;
        return false;
}

static bool all_hex(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

/* Container ids are 64 hex digits; people and docker ps use the first 12. */
static size_t short_id_len(size_t n)
{
        return MIN(n, (size_t) 12);
}

/* Unit names escape '-' and other bytes as \xHH; machine names come back readable. */
static char *unit_unescape(const char *s, size_t n)
{
        char *r = malloc(n + 1), *w = r;
        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && isxdigit((unsigned char) s[i + 2]) &&
                        isxdigit((unsigned char) s[i + 3])) {
                        char hex[3] = { s[i + 2], s[i + 3], 0 };
                        *w++ = (char) strtol(hex, NULL, 16);
                        i += 3;
                } else
                        *w++ = s[i];
        }
        *w = 0;
        return r;
}

/* Strips "prefix" and ".scope"/".service" from a component, leaving the id between them. */
static bool middle(
        const char *s, size_t n, const char *prefix, const char *suffix, const char **ret, size_t *ret_n)
{
        size_t lp = strlen(prefix), ls = strlen(suffix);
        if (n <= lp + ls || !startswith_n(s, n, prefix) || !endswith(s, n, suffix))
                return false;
        *ret = s + lp;
        *ret_n = n - lp - ls;
        return true;
}

/* A container runtime's scope or directory names the container; see which one. */
static int container_of_component(const char *prev, size_t prev_n, const char *s, size_t n, char **ret)
{
        const char *id;
        size_t id_n;
        int r = 0;

        if (middle(s, n, "docker-", ".scope", &id, &id_n) && all_hex(id, id_n))
                r = asprintf(ret, "docker:%.*s", (int) short_id_len(id_n), id);
        else if (prev && prev_n == 6 && memcmp(prev, "docker", 6) == 0 && all_hex(s, n) && n >= 12)
                r = asprintf(ret, "docker:%.*s", (int) short_id_len(n), s);
        else if (middle(s, n, "libpod-", ".scope", &id, &id_n) && all_hex(id, id_n))
                r = asprintf(ret, "podman:%.*s", (int) short_id_len(id_n), id);
        else if (middle(s, n, "machine-", ".scope", &id, &id_n) ||
                 middle(s, n, "systemd-nspawn@", ".service", &id, &id_n)) {
                _cleanup_free_ char *name = unit_unescape(id, id_n);
                if (!name)
                        return -ENOMEM;
                r = asprintf(ret, "machine:%s", name);
        } else if (startswith_n(s, n, "lxc.payload.") && n > strlen("lxc.payload."))
                r = asprintf(
                        ret, "lxc:%.*s", (int) (n - strlen("lxc.payload.")), s + strlen("lxc.payload."));
        else if (prev && prev_n == 3 && memcmp(prev, "lxc", 3) == 0)
                r = asprintf(ret, "lxc:%.*s", (int) n, s);
        else
                return 0;

        return r < 0 ? -ENOMEM : 1;
}

/* Kubernetes: kubepods[.slice]/.../pod<UID> or ...-pod<UID>.slice, then the container's scope or
 * bare id. The pod uid is systemd-escaped with '_' for '-' in the .slice form. */
static int kubepods_container(const char *path, char **ret)
{
        const char *p = strstr(path, "kubepods");
        _cleanup_free_ char *pod = NULL;
        const char *id = NULL;
        size_t id_n = 0;

        if (!p || (p != path && p[-1] != '/'))
                return 0;

        for (const char *c = p; *c;) {
                size_t n = strcspn(c, "/");
                const char *x;
                size_t xn;

                if (n > 0) {
                        /* "pod" also occurs in "kubepods": only a component that starts
                         * with it or has it after a '-' names the pod. */
                        const char *podp = NULL;
                        for (const char *q = c; (q = memmem(q, n - (size_t) (q - c), "pod", 3)); q++)
                                if (q == c || q[-1] == '-')
                                        podp = q;
                        if (podp && !pod) {
                                /* "pod<uid>" or "kubepods-burstable-pod<uid>.slice" */
                                size_t rest = n - (size_t) (podp - c) - 3;
                                if (endswith(c, n, ".slice"))
                                        rest -= strlen(".slice");
                                if (rest >= 8 && (podp == c || podp[-1] == '-')) {
                                        pod = strndup(podp + 3, rest);
                                        if (!pod)
                                                return -ENOMEM;
                                        for (char *q = pod; *q; q++)
                                                if (*q == '_')
                                                        *q = '-';
                                }
                        } else if (pod) {
                                if (middle(c, n, "cri-containerd-", ".scope", &x, &xn) ||
                                        middle(c, n, "crio-", ".scope", &x, &xn) ||
                                        middle(c, n, "docker-", ".scope", &x, &xn)) {
                                        id = x;
                                        id_n = xn;
                                } else if (all_hex(c, n) && n >= 12) {
                                        id = c;
                                        id_n = n;
                                }
                        }
                }
                c += n;
                while (*c == '/')
                        c++;
        }

        if (!pod)
                return asprintf(ret, "kubepods") < 0 ? -ENOMEM : 1;
        if (!id)
                return asprintf(ret, "kubepods:pod%s", pod) < 0 ? -ENOMEM : 1;
        return asprintf(ret, "kubepods:pod%s/%.*s", pod, (int) short_id_len(id_n), id) < 0 ? -ENOMEM : 1;
}

int cgroup_path_names(const char *path, char **ret_unit, char **ret_container)
{
        _cleanup_free_ char *unit = NULL, *container = NULL;
        const char *prev = NULL;
        size_t prev_n = 0;
        int r;

        if (!path)
                return -EINVAL;

        r = kubepods_container(path, &container);
        if (r < 0)
                return r;

        for (const char *c = path; *c;) {
                size_t n = strcspn(c, "/");

                if (n > 0) {
                        /* The innermost unit wins: for a user service that is the service, not
                         * user@UID.service, and inside a container its own unit. */
                        if (is_unit_component(c, n)) {
                                free(unit);
                                unit = strndup(c, n);
                                if (!unit)
                                        return -ENOMEM;
                        }
                        /* The outermost container wins: a container nested in a container is
                         * reported as the one the host knows. */
                        if (!container) {
                                r = container_of_component(prev, prev_n, c, n, &container);
                                if (r < 0)
                                        return r;
                        }
                        prev = c;
                        prev_n = n;
                }
                c += n;
                while (*c == '/')
                        c++;
        }

        if (ret_unit)
                *ret_unit = TAKE_PTR(unit);
        if (ret_container)
                *ret_container = TAKE_PTR(container);
        return 0;
}

int cgroup_path_from_proc_text(const char *text, char **ret)
{
        const char *unified = NULL, *named = NULL;
        size_t unified_n = 0, named_n = 0;

        for (const char *l = text; l && *l;) {
                const char *eol = strchrnul(l, '\n');
                const char *c1 = memchr(l, ':', (size_t) (eol - l));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (eol - c1 - 1)) : NULL;

                if (c2) {
                        const char *controllers = c1 + 1;
                        size_t cn = (size_t) (c2 - controllers);
                        if (cn == 0 && strneq(l, "0:", 2)) {
                                unified = c2 + 1;
                                unified_n = (size_t) (eol - unified);
                        } else if (cn == strlen("name=systemd") && strneq(controllers, "name=systemd", cn)) {
                                named = c2 + 1;
                                named_n = (size_t) (eol - named);
                        }
                }
                l = *eol ? eol + 1 : NULL;
        }

        const char *p = unified;
        size_t n = unified_n;
        if ((!p || (n == 1 && p[0] == '/')) && named) {
                p = named;
                n = named_n;
        }
        if (!p)
                return -ENODATA;

        char *s = strndup(p, n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

bool socket_unit_listen_matches(const char *type, const char *listen, const OwnerSocket *s)
{
        OwnerProtocol want;
        const char *port_s;
        char host[INET6_ADDRSTRLEN + 1] = "";

        if (!type || !listen || !s)
                return false;
        if (streq(type, "Stream"))
                want = OWNER_PROTOCOL_TCP;
        else if (streq(type, "Datagram"))
                want = OWNER_PROTOCOL_UDP;
        else if (streq(type, "SequentialPacket"))
                want = OWNER_PROTOCOL_SCTP;
        else
                return false;
        if (s->protocol != want && !(want == OWNER_PROTOCOL_TCP && s->protocol == OWNER_PROTOCOL_SCTP))
                return false;
        if (listen[0] == '/' || listen[0] == '@')
                return false; /* AF_UNIX */

        if (listen[0] == '[') {
                const char *e = strchr(listen, ']');
                if (!e || e[1] != ':' || (size_t) (e - listen - 1) >= sizeof(host))
                        return false;
                memcpy(host, listen + 1, (size_t) (e - listen - 1));
                host[e - listen - 1] = 0;
                port_s = e + 2;
        } else if ((port_s = strrchr(listen, ':'))) {
                if ((size_t) (port_s - listen) >= sizeof(host))
                        return false;
                memcpy(host, listen, (size_t) (port_s - listen));
                host[port_s - listen] = 0;
                port_s++;
        } else
                port_s = listen;

        char *end;
        errno = 0;
        unsigned long port = strtoul(port_s, &end, 10);
        if (errno != 0 || *end != 0 || end == port_s || port == 0 || port > 65535 || port != s->local_port)
                return false;

        if (!*host)
                return true; /* "80": every address, either family */

        /* Drop a "%iface" suffix: the socket's address does not carry it. */
        char *pct = strchr(host, '%');
        if (pct)
                *pct = 0;

        OwnerAddress a = {};
        if (inet_pton(AF_INET, host, &a.in) == 1)
                return s->family == AF_INET && memcmp(&a.in, &s->local.in, sizeof(a.in)) == 0;
        if (inet_pton(AF_INET6, host, &a.in6) == 1)
                return s->family == AF_INET6 && memcmp(&a.in6, &s->local.in6, sizeof(a.in6)) == 0;
        return false;
}
