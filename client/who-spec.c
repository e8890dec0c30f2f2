/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parser and formatter of `portctl who` SPECs (lsof -i's [PROTO][@HOST][:PORT[-PORT]|:SERVICE]).
 * Pure string work with no I/O: cmd-who.c resolves service names through the daemon afterwards,
 * and the unit test and fuzz target call these two functions directly. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "who-spec.h"

static const char *const protocols[] = { "tcp", "udp", "sctp" };

static bool address_is_numeric(const char *a)
{
        struct in6_addr buf;

        return inet_pton(AF_INET, a, &buf) == 1 || inet_pton(AF_INET6, a, &buf) == 1;
}

/* n decimal digits as a port: -ERANGE outside 1..65535, however many digits (leading zeros
 * included) are written. */
static int parse_port(const char *s, size_t n, unsigned *ret)
{
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                v = v * 10 + (unsigned) (s[i] - '0');
                if (v > 65535)
                        return -ERANGE;
        }
        if (v == 0)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* One token, as services(5) names are, and nothing this syntax uses as a separator, so that
 * the canonical form parses back to the same name. */
static bool service_name_is_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > WHO_SPEC_SERVICE_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c <= ' ' || c == 0x7f || strchr(":@[]/#,", c))
                        return false;
        }
        return true;
}

/* PORT, PORT-PORT or SERVICE, the whole rest of the string. */
static int parse_port_part(const char *s, WhoSpec *w)
{
        size_t digits = strspn(s, "0123456789");
        int r;

        if (s[digits] == 0) {
                r = parse_port(s, digits, &w->port);
                if (r < 0)
                        return r;
                w->port_max = w->port;
                return 0;
        }
        /* Service names may contain '-' and may start with a digit ("3com-tsmux"), but not end
         * in one after a dash and digits only: "1-1024" is a range, as in lsof. */
        if (digits > 0 && s[digits] == '-' && s[digits + 1] &&
                s[digits + 1 + strspn(s + digits + 1, "0123456789")] == 0) {
                unsigned lo, hi;
                r = parse_port(s, digits, &lo);
                if (r < 0)
                        return r;
                r = parse_port(s + digits + 1, strlen(s + digits + 1), &hi);
                if (r < 0)
                        return r;
                if (lo > hi)
                        return -ERANGE;
                w->port = lo;
                w->port_max = hi;
                return 0;
        }
        if (!service_name_is_valid(s))
                return -EINVAL;
        w->service = s;
        return 0;
}

int who_spec_parse(const char *s, WhoSpec *ret)
{
        WhoSpec w = {};
        const char *p = s;
        int r;

        if (!s || !*s)
                return -EINVAL;

        for (size_t i = 0; i < ELEMENTSOF(protocols); i++) {
                size_t n = strlen(protocols[i]);
                if (strncasecmp(p, protocols[i], n) == 0 && (p[n] == 0 || p[n] == ':' || p[n] == '@')) {
                        w.protocol = protocols[i];
                        p += n;
                        break;
                }
        }

        bool at = *p == '@';
        if (at)
                p++;
        if (*p == '[') {
                const char *e = strchr(p, ']');
                if (!e || e == p + 1)
                        return -EINVAL;
                if ((size_t) (e - p - 1) >= sizeof(w.address))
                        return -EADDRNOTAVAIL;
                memcpy(w.address, p + 1, (size_t) (e - p - 1));
                w.address[e - p - 1] = 0;
                p = e + 1;
                if (*p && *p != ':')
                        return -EINVAL;
        } else if (at) {
                /* An unbracketed IPv6 address is taken whole when it parses whole: "@::1:80" is the
                 * address ::1:80, as inet_pton() reads it; a port after IPv6 needs the brackets. */
                struct in6_addr a6;
                const char *end = strrchr(p, ':');
                if (!end || inet_pton(AF_INET6, p, &a6) == 1)
                        end = p + strlen(p);
                if (end == p)
                        return -EINVAL;
                if ((size_t) (end - p) >= sizeof(w.address))
                        return -EADDRNOTAVAIL;
                memcpy(w.address, p, (size_t) (end - p));
                w.address[end - p] = 0;
                p = end;
        } else if (*p && *p != ':') {
                /* Without a protocol, '@' or ':' in front: a bare PORT, range or SERVICE.  (After a
                 * protocol p is at the end, a ':' or an '@', so this is never "tcpx".) */
                r = parse_port_part(p, &w);
                if (r < 0)
                        return r;
                *ret = w;
                return 0;
        }

        if (w.address[0] && !address_is_numeric(w.address))
                return -EADDRNOTAVAIL;
        if (*p == ':') {
                p++;
                if (!*p)
                        return -EINVAL;
                r = parse_port_part(p, &w);
                if (r < 0)
                        return r;
        }
        *ret = w;
        return 0;
}

int who_spec_format(const WhoSpec *spec, char *buf, size_t size)
{
        bool protocol_ok = !spec->protocol;
        char port[32] = ""; /* ":65535-65535", with room the compiler can prove */
        int n;

        for (size_t i = 0; i < ELEMENTSOF(protocols); i++)
                if (spec->protocol && streq(spec->protocol, protocols[i]))
                        protocol_ok = true;
        if (!protocol_ok || !memchr(spec->address, 0, sizeof(spec->address)) ||
                (spec->address[0] && !address_is_numeric(spec->address)))
                return -EINVAL;
        if (spec->service) {
                if (!service_name_is_valid(spec->service) || spec->port != 0 || spec->port_max != 0)
                        return -EINVAL;
        } else if (spec->port != 0) {
                if (spec->port > spec->port_max || spec->port_max > 65535)
                        return -EINVAL;
                if (spec->port == spec->port_max)
                        snprintf(port, sizeof(port), ":%u", spec->port);
                else
                        snprintf(port, sizeof(port), ":%u-%u", spec->port, spec->port_max);
        } else if (spec->port_max != 0)
                return -EINVAL;
        if (!spec->protocol && !spec->address[0] && !spec->port && !spec->service)
                return -EINVAL;

        bool v6 = strchr(spec->address, ':');
        n = snprintf(buf, size, "%s%s%s%s%s%s%s", spec->protocol ?: "", spec->address[0] ? "@" : "",
                v6 ? "[" : "", spec->address, v6 ? "]" : "", spec->service ? ":" : "",
                spec->service ?: port);
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOBUFS;
        return n;
}
