/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The five entry points glibc 2.36 looks up in libnss_portd.so.2 for the "services" database.
 * Ports are in network byte order, as getservbyport() takes them. */
#pragma once

#include <netdb.h>
#include <nss.h>
#include <stddef.h>

enum nss_status _nss_portd_getservbyname_r(const char *name, const char *protocol, struct servent *result,
        char *buffer, size_t buflen, int *errnop);
enum nss_status _nss_portd_getservbyport_r(
        int port, const char *protocol, struct servent *result, char *buffer, size_t buflen, int *errnop);
enum nss_status _nss_portd_setservent(int stayopen);
enum nss_status _nss_portd_getservent_r(struct servent *result, char *buffer, size_t buflen, int *errnop);
enum nss_status _nss_portd_endservent(void);
