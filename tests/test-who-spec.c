/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of client/who-spec.c, the SPEC of `portctl who`: every accepted form with what it
 * means and its canonical form, every rejection with its error, and the round trip.  The comments
 * say where lsof -i (4.95, Debian 12) answers otherwise, and why portd's answer is kept. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "who-spec.h"

typedef struct Accepted {
        const char *spec;
        const char *protocol, *address;
        unsigned port, port_max;
        const char *service;
        const char *canonical;
} Accepted;

static const Accepted accepted[] = {
        /* lsof accepts each of these with the same meaning. */
        { "tcp", "tcp", "", 0, 0, NULL, "tcp" },
        { "udp", "udp", "", 0, 0, NULL, "udp" },
        { "TCP:22", "tcp", "", 22, 22, NULL, "tcp:22" }, /* any case, as lsof */
        { "Udp:53", "udp", "", 53, 53, NULL, "udp:53" },
        { ":80", NULL, "", 80, 80, NULL, ":80" },
        { ":1-1024", NULL, "", 1, 1024, NULL, ":1-1024" },
        { "tcp:8000-8000", "tcp", "", 8000, 8000, NULL, "tcp:8000" },
        { ":65535", NULL, "", 65535, 65535, NULL, ":65535" },
        { ":00080", NULL, "", 80, 80, NULL, ":80" },
        { "tcp@127.0.0.1:22", "tcp", "127.0.0.1", 22, 22, NULL, "tcp@127.0.0.1:22" },
        { "@10.0.0.1", NULL, "10.0.0.1", 0, 0, NULL, "@10.0.0.1" },
        { "@[::1]:22", NULL, "::1", 22, 22, NULL, "@[::1]:22" },
        { "udp@[fe80::1]", "udp", "fe80::1", 0, 0, NULL, "udp@[fe80::1]" },
        { "@[::ffff:127.0.0.1]:53", NULL, "::ffff:127.0.0.1", 53, 53, NULL, "@[::ffff:127.0.0.1]:53" },
        { ":ssh", NULL, "", 0, 0, "ssh", ":ssh" },
        { "tcp:http", "tcp", "", 0, 0, "http", "tcp:http" },
        { "tcp@127.0.0.1:http-alt", "tcp", "127.0.0.1", 0, 0, "http-alt", "tcp@127.0.0.1:http-alt" },
        /* An IANA name that starts with a digit and has a dash: a name, not a range. */
        { ":3com-tsmux", NULL, "", 0, 0, "3com-tsmux", ":3com-tsmux" },
        { ":22-", NULL, "", 0, 0, "22-", ":22-" },
        { ":1-2-3", NULL, "", 0, 0, "1-2-3", ":1-2-3" },
        /* lsof refuses these ("unknown protocol name"); portctl takes a bare port, range or name
         * as ss's sport filter and getent do, and SCTP, which ss lists and lsof does not. */
        { "22", NULL, "", 22, 22, NULL, ":22" },
        { "6000-6063", NULL, "", 6000, 6063, NULL, ":6000-6063" },
        { "ssh", NULL, "", 0, 0, "ssh", ":ssh" },
        { "tcpx", NULL, "", 0, 0, "tcpx", ":tcpx" }, /* no protocol prefix: a service name */
        { "sctp:9", "sctp", "", 9, 9, NULL, "sctp:9" },
        /* lsof wants '@' before an address; brackets alone are unambiguous. */
        { "[::1]:22", NULL, "::1", 22, 22, NULL, "@[::1]:22" },
        { "[127.0.0.1]", NULL, "127.0.0.1", 0, 0, NULL, "@127.0.0.1" },
        /* lsof wants brackets around IPv6; an unbracketed address is taken whole when it parses
         * whole, so "@::1:80" is the address ::1:80, not port 80. */
        { "@::1", NULL, "::1", 0, 0, NULL, "@[::1]" },
        { "@::1:80", NULL, "::1:80", 0, 0, NULL, "@[::1:80]" },
        { "tcp@::", "tcp", "::", 0, 0, NULL, "tcp@[::]" },
};

typedef struct Rejected {
        const char *spec;
        int error;
} Rejected;

static const Rejected rejected[] = {
        /* lsof refuses these too. */
        { "", -EINVAL },
        { "tcp:", -EINVAL }, /* "unacceptable port specification" */
        { ":", -EINVAL },
        { "@", -EINVAL }, /* "unacceptable Internet address" */
        { "tcp@", -EINVAL },
        { "@1.2.3.4:", -EINVAL },
        { ":10-5", -ERANGE }, /* a range that runs backwards */
        { "@[::1", -EINVAL },
        { "@[]:22", -EINVAL },
        { "@[::1]x", -EINVAL },
        { "@[::1]22", -EINVAL },
        { ":ssh,http", -EINVAL }, /* lsof takes lists; portctl takes several SPECs instead */
        /* lsof silently accepts 0 and 70000 (and matches nothing sensible); these are no ports. */
        { ":0", -ERANGE },
        { ":65536", -ERANGE },
        { ":70000", -ERANGE },
        { "99999999999999999999", -ERANGE },
        { ":0-10", -ERANGE },
        { ":10-65536", -ERANGE },
        /* lsof resolves host names; the daemon matches numeric addresses only, and a lookup of a
         * host name from portctl would go through NSS and the network. */
        { "@localhost", -EADDRNOTAVAIL },
        { "tcp@example.org:80", -EADDRNOTAVAIL },
        { "@[localhost]", -EADDRNOTAVAIL },
        { "@[fe80::1%eth0]", -EADDRNOTAVAIL }, /* a scope id: not inet_pton()'s */
        { "@1.2.3", -EADDRNOTAVAIL },
        { "@1.2.3.4.5", -EADDRNOTAVAIL },
        { "@[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]", -EADDRNOTAVAIL },
        /* lsof's "4" and "6" prefixes: the io.portd.Sockets List call has no family filter. */
        { "4tcp:22", -EINVAL },
        /* Not one services(5) token, or a separator of this syntax inside a name. */
        { ":ss h", -EINVAL },
        { "ss\th", -EINVAL },
        { ":ssh/tcp", -EINVAL },
        { ":#x", -EINVAL },
        { ":a:b", -EINVAL },
        { "tcp:ssh@1.2.3.4", -EINVAL },
        { ":x\x7f", -EINVAL },
};

static void check_equal(const WhoSpec *a, const WhoSpec *b)
{
        assert_true(streq_ptr(a->protocol, b->protocol));
        assert_string_equal(a->address, b->address);
        assert_int_equal(a->port, b->port);
        assert_int_equal(a->port_max, b->port_max);
        assert_true(streq_ptr(a->service, b->service));
}

static void test_accepted(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                const Accepted *t = &accepted[i];
                WhoSpec w, again;
                char buf[WHO_SPEC_STRING_MAX];

                print_message("# '%s'\n", t->spec);
                assert_int_equal(who_spec_parse(t->spec, &w), 0);
                if (t->protocol)
                        assert_non_null(w.protocol);
                assert_true(streq_ptr(w.protocol, t->protocol));
                assert_string_equal(w.address, t->address);
                assert_int_equal(w.port, t->port);
                assert_int_equal(w.port_max, t->port_max);
                assert_true(streq_ptr(w.service, t->service));
                /* The name is the rest of the string itself, not a copy. */
                if (w.service)
                        assert_ptr_equal(w.service, t->spec + strlen(t->spec) - strlen(t->service));

                int n = who_spec_format(&w, buf, sizeof(buf));
                assert_int_equal(n, (int) strlen(t->canonical));
                assert_string_equal(buf, t->canonical);
                assert_int_equal(who_spec_parse(buf, &again), 0);
                check_equal(&w, &again);
        }
}

static void test_rejected(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(rejected); i++) {
                WhoSpec w = { .port = 4242 };

                print_message("# '%s'\n", rejected[i].spec);
                assert_int_equal(who_spec_parse(rejected[i].spec, &w), rejected[i].error);
                /* untouched on failure */
                assert_int_equal(w.port, 4242);
                assert_null(w.service);
        }
        assert_int_equal(who_spec_parse(NULL, &(WhoSpec){}), -EINVAL);
}

static void test_service_length(void **state)
{
        char spec[WHO_SPEC_SERVICE_MAX + 3];
        WhoSpec w;

        spec[0] = ':';
        memset(spec + 1, 'a', WHO_SPEC_SERVICE_MAX);
        spec[WHO_SPEC_SERVICE_MAX + 1] = 0;
        assert_int_equal(who_spec_parse(spec, &w), 0);
        assert_int_equal(strlen(w.service), WHO_SPEC_SERVICE_MAX);

        /* The longest canonical form fits WHO_SPEC_STRING_MAX exactly... */
        char longest[WHO_SPEC_STRING_MAX + 16];
        snprintf(longest, sizeof(longest), "sctp@[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]%s", spec);
        assert_int_equal(who_spec_parse(longest, &w), 0);
        char buf[WHO_SPEC_STRING_MAX];
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), (int) strlen(longest));
        /* ...and one byte less is refused, never truncated. */
        assert_int_equal(who_spec_format(&w, buf, strlen(longest)), -ENOBUFS);

        spec[WHO_SPEC_SERVICE_MAX + 1] = 'a';
        spec[WHO_SPEC_SERVICE_MAX + 2] = 0;
        assert_int_equal(who_spec_parse(spec, &w), -EINVAL);
}

static void test_format_refuses_impossible(void **state)
{
        char buf[WHO_SPEC_STRING_MAX];
        WhoSpec w;

        w = (WhoSpec){};
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL); /* nothing at all */
        w = (WhoSpec){ .protocol = "icmp" };
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .port = 10, .port_max = 5 };
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .port = 1, .port_max = 70000 };
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .port_max = 5 };
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .service = "ssh", .port = 22, .port_max = 22 };
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .service = "a b" };
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .address = "localhost" };
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .protocol = "tcp" };
        memset(w.address, '1', sizeof(w.address)); /* no terminating NUL */
        assert_int_equal(who_spec_format(&w, buf, sizeof(buf)), -EINVAL);
        w = (WhoSpec){ .protocol = "udp", .port = 53, .port_max = 53 };
        assert_int_equal(who_spec_format(&w, buf, 0), -ENOBUFS);
        assert_int_equal(who_spec_format(&w, buf, 6), -ENOBUFS);
        assert_int_equal(who_spec_format(&w, buf, 7), 6);
        assert_string_equal(buf, "udp:53");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepted),
                cmocka_unit_test(test_rejected),
                cmocka_unit_test(test_service_length),
                cmocka_unit_test(test_format_refuses_impossible),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
