/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SPEC of `portctl who`: lsof -i's address syntax, parsed without any I/O so that the unit
 * test and the fuzzer reach every path.  A service name is left for the caller to resolve. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>

/* Longest service name a SPEC may carry (a services(5) name is one token, glibc sets no limit;
 * a lookup of a longer one would only be refused by the daemon's message bound). */
#define WHO_SPEC_SERVICE_MAX 255U

/* Longest string who_spec_format() writes, NUL included: "sctp@[ADDRESS]:SERVICE". */
#define WHO_SPEC_STRING_MAX (sizeof("sctp@[]:") + INET6_ADDRSTRLEN + WHO_SPEC_SERVICE_MAX)

typedef struct WhoSpec {
        const char *protocol;           /* "tcp", "udp" or "sctp" (static strings); NULL: all */
        char address[INET6_ADDRSTRLEN]; /* a numeric IPv4 or IPv6 address as written; "": any */
        unsigned port, port_max;        /* 1..65535, port <= port_max; both 0: any port */
        const char *service;            /* a service name, inside the parsed string; NULL: none */
} WhoSpec;

/* [tcp|udp|sctp][@ADDRESS|@[ADDRESS6]|[ADDRESS6]][:PORT|:PORT-PORT|:SERVICE], or PORT, PORT-PORT
 * or SERVICE alone.  At least one part must be there; '@' and ':' must be followed by one.
 * Returns 0 and fills *ret (which keeps pointing into s), or -EINVAL for bad syntax, -ERANGE for
 * a port outside 1..65535 or a range that runs backwards, -EADDRNOTAVAIL for an address that is
 * not a numeric IPv4 or IPv6 one (host names are not resolved); *ret is untouched on failure. */
int who_spec_parse(const char *s, WhoSpec *ret);

/* The canonical form of a parsed SPEC, which parses back to the same WhoSpec.  Returns its length,
 * or -ENOBUFS if size is too small (WHO_SPEC_STRING_MAX always suffices), -EINVAL for a WhoSpec
 * that who_spec_parse() cannot have made. */
int who_spec_format(const WhoSpec *spec, char *buf, size_t size);
