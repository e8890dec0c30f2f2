/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the services(5) parser: each glibc 2.36 rule on its own line. The
 * differential test checks the same rules against glibc itself on whole files. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "services-parse.h"
#include "util.h"

typedef struct Parsed {
        int r;
        ServiceRecord rec;
        const char *reason;
        const char **aliases;
        size_t allocated;
        char line[256];
} Parsed;

static Parsed *parse(const char *text, ServicesParseFlags flags)
{
        static Parsed p;
        free(p.aliases);
        p = (Parsed) {};
        snprintf(p.line, sizeof(p.line), "%s", text);
        p.r = services_parse_line(p.line, flags, &p.rec, &p.aliases, &p.allocated, &p.reason);
        return &p;
}

static void assert_entry(const char *text, const char *name, unsigned port, const char *protocol,
                size_t n_aliases)
{
        Parsed *p = parse(text, 0);
        assert_int_equal(p->r, 1);
        assert_int_equal(p->rec.kind, SERVICE_RECORD_ENTRY);
        assert_string_equal(p->rec.name, name);
        assert_int_equal(p->rec.port, port);
        assert_string_equal(p->rec.protocol, protocol);
        assert_int_equal(p->rec.n_aliases, n_aliases);
}

static void assert_invalid(const char *text)
{
        Parsed *p = parse(text, 0);
        assert_int_equal(p->r, -EINVAL);
        assert_non_null(p->reason);
}

static void test_plain(void **state)
{
        assert_entry("ssh 22/tcp", "ssh", 22, "tcp", 0);
        assert_entry("http\t80/tcp\t\twww www-http # World Wide Web", "http", 80, "tcp", 2);
        assert_string_equal(parse("http 80/tcp www www-http", 0)->rec.aliases[1], "www-http");
}

static void test_comments_and_blank(void **state)
{
        assert_int_equal(parse("", 0)->r, 0);
        assert_int_equal(parse("   \t ", 0)->r, 0);
        assert_int_equal(parse("# comment", 0)->r, 0);
        assert_int_equal(parse("   # indented comment", 0)->r, 0);
        assert_entry("hash 1003/tcp#x", "hash", 1003, "tcp", 0);
        assert_entry("cmt 1002/tcp alias1 # comment alias2", "cmt", 1002, "tcp", 1);
        /* '#' cuts the name too, leaving no port */
        assert_invalid("na#me 1/tcp");
}

static void test_leading_whitespace(void **state)
{
        assert_entry("   lead 1001/tcp leadalias", "lead", 1001, "tcp", 1);
        assert_entry("\v\f\r lead 1001/tcp", "lead", 1001, "tcp", 0);
}

static void test_port_bases(void **state)
{
        assert_entry("hex 0x50/tcp", "hex", 80, "tcp", 0);
        assert_entry("oct 010/tcp", "oct", 8, "tcp", 0);
        assert_entry("plus +80/tcp", "plus", 80, "tcp", 0);
        /* "0080" is octal: the 8 is junk after "00" */
        assert_invalid("zero 0080/udp");
        assert_invalid("junk 1013x/tcp");
}

static void test_port_range(void **state)
{
        assert_entry("big 65536/tcp", "big", 0, "tcp", 0);
        assert_entry("big2 70000/tcp", "big2", 4464, "tcp", 0);
        assert_entry("max 4294967295/tcp", "max", 65535, "tcp", 0);
        assert_invalid("over 4294967296/tcp");
        assert_invalid("neg -1/tcp");
        assert_invalid("huge 99999999999999999999999/tcp");
}

static void test_protocol(void **state)
{
        assert_entry("noproto 1004", "noproto", 1004, "", 0);
        assert_entry("slash 1005/", "slash", 1005, "", 0);
        assert_entry("slashes 80//tcp", "slashes", 80, "tcp", 0);
        assert_entry("multi 1015/tcp/udp", "multi", 1015, "tcp/udp", 0);
        assert_entry("Case 1012/TCP", "Case", 1012, "TCP", 0);
        /* a space after the slash: the protocol is empty and the rest are aliases */
        assert_entry("spaced 80/ tcp", "spaced", 80, "", 1);
        assert_invalid("sp 1014 /tcp");
        assert_invalid("sp 1014 tcp");
}

static void test_names(void **state)
{
        assert_entry("cl/1 1/tcp", "cl/1", 1, "tcp", 0);
        assert_entry("EtherNet/IP-1 44818/tcp", "EtherNet/IP-1", 44818, "tcp", 0);
        assert_invalid("1006/tcp");
        assert_invalid("onlyname");
}

static void test_separators(void **state)
{
        assert_entry("crlf 1007/tcp\r", "crlf", 1007, "tcp", 0);
        assert_entry("crlf2 1008/tcp al\r", "crlf2", 1008, "tcp", 1);
        assert_entry("vt\v1/tcp\fa\rb", "vt", 1, "tcp", 2);
}

static void test_removals(void **state)
{
        Parsed *p = parse("!http/tcp", SERVICES_PARSE_REMOVALS);
        assert_int_equal(p->r, 1);
        assert_int_equal(p->rec.kind, SERVICE_RECORD_REMOVAL);
        assert_string_equal(p->rec.name, "http");
        assert_string_equal(p->rec.protocol, "tcp");

        p = parse("  !ssh   # gone", SERVICES_PARSE_REMOVALS);
        assert_int_equal(p->r, 1);
        assert_string_equal(p->rec.name, "ssh");
        assert_null(p->rec.protocol);

        p = parse("!cl/1/tcp", SERVICES_PARSE_REMOVALS);
        assert_string_equal(p->rec.name, "cl/1");
        assert_string_equal(p->rec.protocol, "tcp");

        assert_int_equal(parse("!", SERVICES_PARSE_REMOVALS)->r, -EINVAL);
        assert_int_equal(parse("!x/", SERVICES_PARSE_REMOVALS)->r, -EINVAL);
        assert_int_equal(parse("!x y", SERVICES_PARSE_REMOVALS)->r, -EINVAL);
        /* without the flag, as in /etc/services, glibc reads "!x" as a name */
        assert_entry("!x 5/tcp", "!x", 5, "tcp", 0);
}

typedef struct Collected {
        unsigned lines[16];
        size_t n;
        unsigned invalid[16];
        size_t n_invalid;
} Collected;

static int collect_record(void *userdata, const ServiceRecord *r)
{
        Collected *c = userdata;
        if (c->n < ELEMENTSOF(c->lines))
                c->lines[c->n++] = r->line;
        return 0;
}

static int collect_invalid(void *userdata, unsigned line, const char *reason)
{
        Collected *c = userdata;
        if (c->n_invalid < ELEMENTSOF(c->invalid))
                c->invalid[c->n_invalid++] = line;
        return 0;
}

static void test_buffer_lines(void **state)
{
        static const char text[] = "a 1/tcp\n\n# c\nbad\nb 2/udp\n  c 3/tcp";
        static const ServicesParseCallbacks cb = { collect_record, collect_invalid };
        Collected c = {};

        assert_int_equal(services_parse_buffer(text, sizeof(text) - 1, 0, &cb, &c), 0);
        assert_int_equal(c.n, 3);
        assert_int_equal(c.lines[0], 1);
        assert_int_equal(c.lines[1], 5);
        assert_int_equal(c.lines[2], 6);
        assert_int_equal(c.n_invalid, 1);
        assert_int_equal(c.invalid[0], 4);
}

static void test_buffer_nul(void **state)
{
        /* A NUL ends the line's text, as it does for glibc's string functions. */
        static const char text[] = "a 1/tcp\0junk\nb\0 2/tcp\n";
        static const ServicesParseCallbacks cb = { collect_record, collect_invalid };
        Collected c = {};

        assert_int_equal(services_parse_buffer(text, sizeof(text) - 1, 0, &cb, &c), 0);
        assert_int_equal(c.n, 1);
        assert_int_equal(c.n_invalid, 1);
        assert_int_equal(c.invalid[0], 2);
}

static int stop_record(void *userdata, const ServiceRecord *r)
{
        return -ECANCELED;
}

static void test_buffer_callback_error(void **state)
{
        static const char text[] = "a 1/tcp\nb 2/tcp\n";
        static const ServicesParseCallbacks cb = { stop_record, NULL };

        assert_int_equal(services_parse_buffer(text, sizeof(text) - 1, 0, &cb, NULL), -ECANCELED);
}

static void test_many_aliases(void **state)
{
        char line[4096] = "many 9/tcp";
        for (int i = 0; i < 300; i++)
                snprintf(line + strlen(line), sizeof(line) - strlen(line), " a%d", i);
        static Parsed p;
        char *copy = strdup(line);
        assert_int_equal(services_parse_line(copy, 0, &p.rec, &p.aliases, &p.allocated, &p.reason), 1);
        assert_int_equal(p.rec.n_aliases, 300);
        assert_string_equal(p.rec.aliases[299], "a299");
        assert_null(p.rec.aliases[300]);
        free(copy);
        free(p.aliases);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain),
                cmocka_unit_test(test_comments_and_blank),
                cmocka_unit_test(test_leading_whitespace),
                cmocka_unit_test(test_port_bases),
                cmocka_unit_test(test_port_range),
                cmocka_unit_test(test_protocol),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_separators),
                cmocka_unit_test(test_removals),
                cmocka_unit_test(test_buffer_lines),
                cmocka_unit_test(test_buffer_nul),
                cmocka_unit_test(test_buffer_callback_error),
                cmocka_unit_test(test_many_aliases),
        };
        int r = cmocka_run_group_tests_name("services-parse", tests, NULL, NULL);
        free(parse("", 0)->aliases);
        return r;
}
