/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A plain glibc program for the test bed: every entry getservent() returns, then each one looked
 * up again by name and by port (getservbyname(), getservbyport()), printed one per line. Run
 * through the booted system's nsswitch.conf, and again with only glibc's files backend over the
 * merged data, the two outputs must be equal. It links nothing of portd. */

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds the walk: a services database with more entries than this is a fault in itself. */
#define MAX_ENTRIES 100000

typedef struct Entry {
        char *name;
        char *proto;
        int port;
} Entry;

static void print_servent(const char *how, const struct servent *s)
{
        if (!s) {
                printf("%s: not found\n", how);
                return;
        }
        printf("%s: %s %d/%s", how, s->s_name, ntohs((unsigned short) s->s_port), s->s_proto);
        for (char **a = s->s_aliases; a && *a; a++)
                printf(" %s", *a);
        putchar('\n');
}

int main(void)
{
        Entry *entries = calloc(MAX_ENTRIES, sizeof(Entry));
        size_t n = 0;
        struct servent *s;

        if (!entries)
                return 1;
        setservent(0);
        while ((s = getservent())) {
                if (n == MAX_ENTRIES) {
                        fprintf(stderr, "getserv: more than %d entries\n", MAX_ENTRIES);
                        return 1;
                }
                print_servent("getservent", s);
                entries[n].name = strdup(s->s_name);
                entries[n].proto = strdup(s->s_proto);
                entries[n].port = s->s_port;
                if (!entries[n].name || !entries[n].proto)
                        return 1;
                n++;
        }
        endservent();

        for (size_t i = 0; i < n; i++) {
                print_servent("getservbyname", getservbyname(entries[i].name, entries[i].proto));
                print_servent("getservbyport", getservbyport(entries[i].port, entries[i].proto));
        }
        printf("%zu entries\n", n);
        for (size_t i = 0; i < n; i++) {
                free(entries[i].name);
                free(entries[i].proto);
        }
        free(entries);
        return 0;
}
