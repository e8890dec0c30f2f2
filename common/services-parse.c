/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* services(5) parser. It follows glibc 2.36's files backend (nss_readline.c, files-parse.c,
 * files-service.c) decision for decision, so that the catalog answers what getservbyname()
 * would answer on the same file, quirks included. */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services-parse.h"
#include "util.h"

/* glibc uses isspace() in the C locale: ' ', \t, \n, \v, \f, \r. Spelled out so that the
 * caller's locale cannot change what a separator is. */
static inline bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Like glibc's STRING_FIELD with swallow: the field runs to the next space, which is cut, and
 * every following space is skipped. */
static char *take_string_field(char **p)
{
        char *start = *p, *q = *p;

        while (*q != '\0' && !is_space(*q))
                q++;
        if (*q != '\0') {
                *q++ = '\0';
                while (is_space(*q))
                        q++;
        }
        *p = q;
        return start;
}

static int push_alias(const char ***aliases, size_t *allocated, size_t n, const char *alias)
{
        /* Keep one slot for the terminating NULL. */
        if (GROW(*aliases, *allocated, n + 2) < 0)
                return -ENOMEM;
        (*aliases)[n] = alias;
        (*aliases)[n + 1] = NULL;
        return 0;
}

static int parse_removal(char *p, ServiceRecord *ret, const char **ret_reason)
{
        /* "!name" or "!name/proto": a drop-in's way to delete an entry from the layers below. */
        char *token = take_string_field(&p);

        if (*p != '\0') {
                *ret_reason = "trailing text after a removal";
                return -EINVAL;
        }
        /* Names may hold slashes ("cl/1"), protocols never do: the last slash separates them, so
         * "!cl/1/tcp" removes cl/1 over tcp. */
        char *slash = strrchr(token, '/');
        if (slash) {
                *slash = '\0';
                if (slash[1] == '\0') {
                        *ret_reason = "empty protocol in a removal";
                        return -EINVAL;
                }
        }
        if (token[0] == '\0') {
                *ret_reason = "empty name in a removal";
                return -EINVAL;
        }
        *ret = (ServiceRecord) {
                .kind = SERVICE_RECORD_REMOVAL,
                .name = token,
                .protocol = slash ? slash + 1 : NULL,
        };
        return 1;
}

int services_parse_line(char *line, ServicesParseFlags flags, ServiceRecord *ret, const char ***aliases,
                size_t *n_aliases_allocated, const char **ret_reason)
{
        char *p = line, *end;
        int r;

        assert(line);
        assert(ret);

        /* nss_readline: leading whitespace is stripped, then empty lines and lines starting with '#'
         * are skipped before the parser ever sees them. */
        while (is_space(*p))
                p++;
        if (*p == '\0' || *p == '#')
                return 0;

        /* LINE_PARSER: the line ends at the first '#' or newline. */
        end = strpbrk(p, "#\n");
        if (end)
                *end = '\0';

        if ((flags & SERVICES_PARSE_REMOVALS) && *p == '!')
                return parse_removal(p + 1, ret, ret_reason);

        const char *name = take_string_field(&p);

        /* INT_FIELD with base 0: "0x50" is 80 and "010" is 8; the number must be followed by a
         * slash or the end of the line ("80 tcp" and "0080/tcp" are invalid). */
        errno = 0;
        unsigned long v = strtoul(p, &end, 0);
        if (end == p) {
                *ret_reason = "missing or invalid port number";
                return -EINVAL;
        }
        if (*end == '/') {
                /* "swallow": "80//tcp" is 80/tcp. */
                while (*end == '/')
                        end++;
        } else if (*end != '\0') {
                *ret_reason = "junk after the port number";
                return -EINVAL;
        }
        /* glibc 2.36 rejects values that do not fit 32 bits (strtoul's ERANGE saturates to
         * ULONG_MAX, which is caught here too), and htons() then cuts the rest to 16 bits. */
        if (v > UINT32_MAX) {
                *ret_reason = "port number out of range";
                return -EINVAL;
        }
        p = end;

        const char *protocol = take_string_field(&p);

        /* TRAILING_LIST_PARSER: whatever remains is a list of aliases separated by spaces. */
        size_t n = 0;
        if (*aliases)
                (*aliases)[0] = NULL;
        while (*p != '\0') {
                while (is_space(*p))
                        p++;
                char *elt = p;
                while (*p != '\0' && !is_space(*p))
                        p++;
                if (*p != '\0')
                        *p++ = '\0';
                if (p > elt && *elt != '\0') {
                        r = push_alias(aliases, n_aliases_allocated, n, elt);
                        if (r < 0)
                                return r;
                        n++;
                }
        }

        *ret = (ServiceRecord) {
                .kind = SERVICE_RECORD_ENTRY,
                .name = name,
                .protocol = protocol,
                .port = (uint16_t) v,
                .aliases = n > 0 ? *aliases : NULL,
                .n_aliases = n,
        };
        return 1;
}

int services_parse_buffer(const char *data, size_t size, ServicesParseFlags flags,
                const ServicesParseCallbacks *callbacks, void *userdata)
{
        _cleanup_free_ char *line = NULL;
        _cleanup_free_ const char **aliases = NULL;
        size_t line_allocated = 0, aliases_allocated = 0;
        unsigned line_number = 0;
        int r;

        for (size_t pos = 0; pos < size;) {
                const char *nl = memchr(data + pos, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - (data + pos)) : size - pos;

                line_number++;

                /* A NUL byte ends the line as far as glibc's string functions are concerned.
                 * glibc's readline also moves a line with leading whitespace without its NUL
                 * (memmove of strlen bytes), so on a last line without a newline, or a line with
                 * an embedded NUL, it reads a few stale bytes after the text. We take the line as
                 * written instead: the sane reading, and identical on every line that ends in a
                 * newline and holds no NUL. */
                size_t text_len = strnlen(data + pos, len);

                if (GROW(line, line_allocated, text_len + 1) < 0)
                        return -ENOMEM;
                memcpy(line, data + pos, text_len);
                line[text_len] = '\0';
                pos += len + (nl ? 1 : 0);

                ServiceRecord record;
                const char *reason = NULL;

                r = services_parse_line(line, flags, &record, &aliases, &aliases_allocated, &reason);
                if (r == -ENOMEM)
                        return r;
                if (r == -EINVAL) {
                        if (callbacks->invalid) {
                                r = callbacks->invalid(userdata, line_number, reason);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                if (r == 0)
                        continue;

                record.line = line_number;
                if (callbacks->record) {
                        r = callbacks->record(userdata, &record);
                        if (r < 0)
                                return r;
                }
        }

        return 0;
}
