/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libnss_portdnull.so.2: an NSS module for "services" that does no work at all, so that
 * bench-nss can measure what glibc's NSS dispatch costs by itself: the floor under any module. */

#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stddef.h>

#include "util.h"

_public_ enum nss_status _nss_portdnull_getservbyname_r(const char *name, const char *protocol,
        struct servent *result, char *buffer, size_t buflen, int *errnop);
_public_ enum nss_status _nss_portdnull_getservbyport_r(
        int port, const char *protocol, struct servent *result, char *buffer, size_t buflen, int *errnop);

enum nss_status _nss_portdnull_getservbyname_r(const char *name, const char *protocol,
        struct servent *result, char *buffer, size_t buflen, int *errnop)
{
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_portdnull_getservbyport_r(
        int port, const char *protocol, struct servent *result, char *buffer, size_t buflen, int *errnop)
{
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
}
