/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target for the `portctl who` SPEC parser: any string parses or is refused with one of its
 * documented errors, leaves the result untouched when refused, and an accepted one formats within
 * WHO_SPEC_STRING_MAX to a canonical form that parses back to the same meaning and formats again
 * to itself. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "who-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const WhoSpec *a, const WhoSpec *b)
{
        return streq_ptr(a->protocol, b->protocol) && streq(a->address, b->address) && a->port == b->port &&
               a->port_max == b->port_max && streq_ptr(a->service, b->service);
}

static void check_parsed(const char *s, const WhoSpec *w)
{
        struct in6_addr a;

        if (w->protocol && !streq(w->protocol, "tcp") && !streq(w->protocol, "udp") &&
                !streq(w->protocol, "sctp"))
                __builtin_trap();
        if (!memchr(w->address, 0, sizeof(w->address)))
                __builtin_trap();
        if (w->address[0] && inet_pton(AF_INET, w->address, &a) != 1 &&
                inet_pton(AF_INET6, w->address, &a) != 1)
                __builtin_trap();
        if (w->service) {
                /* a suffix of the input, never a port as well */
                if (w->service < s || w->service >= s + strlen(s) || w->port || w->port_max)
                        __builtin_trap();
                if (strlen(w->service) > WHO_SPEC_SERVICE_MAX)
                        __builtin_trap();
        } else if (w->port ? w->port > w->port_max || w->port_max > 65535 : w->port_max != 0)
                __builtin_trap();
        if (!w->protocol && !w->address[0] && !w->port && !w->service)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        char buf[WHO_SPEC_STRING_MAX], buf2[WHO_SPEC_STRING_MAX];
        WhoSpec w, sentinel, again, again2;
        int r, n;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        memset(&sentinel, 0xa5, sizeof(sentinel));
        w = sentinel;
        r = who_spec_parse(s, &w);
        if (r < 0) {
                if (r != -EINVAL && r != -ERANGE && r != -EADDRNOTAVAIL)
                        __builtin_trap();
                if (memcmp(&w, &sentinel, sizeof(w)) != 0)
                        __builtin_trap();
                goto out;
        }
        if (r != 0)
                __builtin_trap();
        check_parsed(s, &w);

        n = who_spec_format(&w, buf, sizeof(buf));
        if (n <= 0 || (size_t) n >= sizeof(buf) || strlen(buf) != (size_t) n)
                __builtin_trap();
        /* The canonical form is never longer than what it came from plus the brackets, '@' and ':'
         * it may add. */
        if ((size_t) n > strlen(s) + 4)
                __builtin_trap();
        if (who_spec_parse(buf, &again) != 0 || !same(&w, &again))
                __builtin_trap();
        check_parsed(buf, &again);
        if (who_spec_format(&again, buf2, sizeof(buf2)) != n || !streq(buf, buf2))
                __builtin_trap();
        if (who_spec_parse(buf2, &again2) != 0 || !same(&again, &again2))
                __builtin_trap();
        /* Too small a buffer is refused, never overrun (ASan checks the exact-size copy). */
        char *small = malloc((size_t) n);
        if (small) {
                if (who_spec_format(&w, small, (size_t) n) != -ENOBUFS)
                        __builtin_trap();
                free(small);
        }
out:
        free(s);
        return 0;
}
