/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the catalog's services(5) export and its digest: SHA-256 against the FIPS 180-4
 * examples, the export's line format, the digest as the hash of the export, its independence of
 * the file layout, and the export read back as a base file giving the same catalog. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "catalog-export.h"
#include "catalog.h"
#include "overrides.h"
#include "sha256.h"
#include "util.h"

static const char *const *data_files;

static void test_sha256(void **state)
{
        static const struct {
                const char *input;
                const char *digest;
        } vectors[] = {
                { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        };
        char hex[SHA256_DIGEST_SIZE * 2 + 1];

        for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
                sha256_hex(vectors[i].input, strlen(vectors[i].input), hex);
                assert_string_equal(hex, vectors[i].digest);
        }

        /* One million 'a', fed in uneven pieces that cross the block boundaries every way. */
        _cleanup_free_ char *a = malloc(1000000);
        assert_non_null(a);
        memset(a, 'a', 1000000);
        Sha256 s;
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_init(&s);
        for (size_t off = 0, k = 1; off < 1000000; off += k, k = k % 131 + 7)
                sha256_update(&s, a + off, MIN(k, 1000000 - off));
        sha256_final(&s, d);
        /* clang-format off */
        static const uint8_t million[SHA256_DIGEST_SIZE] = {
                0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0,
        };
        /* clang-format on */
        assert_memory_equal(d, million, SHA256_DIGEST_SIZE);

        /* Lengths around the padding boundary (55, 56, 63, 64 bytes) against the one-shot path. */
        for (size_t n = 54; n <= 66; n++) {
                char one[SHA256_DIGEST_SIZE * 2 + 1], two[SHA256_DIGEST_SIZE * 2 + 1];
                sha256_hex(a, n, one);
                sha256_init(&s);
                sha256_update(&s, a, n / 2);
                sha256_update(&s, a + n / 2, n - n / 2);
                sha256_final(&s, d);
                for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++)
                        snprintf(two + 2 * i, 3, "%02x", d[i]);
                assert_string_equal(one, two);
        }
}

static Catalog *build(const char *const *texts, const CatalogLayer *layers, size_t n)
{
        ServicesFile *files[8] = {};
        Catalog *c = NULL;

        assert_true(n <= ELEMENTSOF(files));
        for (size_t i = 0; i < n; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/file%zu", i);
                assert_int_equal(
                        services_file_parse(path, layers[i], texts[i], strlen(texts[i]), &files[i]), 0);
        }
        assert_int_equal(catalog_build(files, n, &c), 0);
        for (size_t i = 0; i < n; i++)
                services_file_free(files[i]);
        return c;
}

static void test_format(void **state)
{
        const char *texts[] = { "ssh 22/tcp\nhttp 80/tcp www   www-http # comment\nbare 99\nslash 98/\n" };
        const CatalogLayer layers[] = { CATALOG_LAYER_BASE };
        Catalog *c = build(texts, layers, 1);
        _cleanup_free_ char *text = NULL;
        size_t size;
        char digest[CATALOG_DIGEST_SIZE];

        assert_int_equal(catalog_export(c, &text, &size), 0);
        /* A line without a protocol is written with "port/": it reads back the same. */
        assert_string_equal(text, "ssh\t22/tcp\nhttp\t80/tcp\twww www-http\nbare\t99/\nslash\t98/\n");
        assert_int_equal(size, strlen(text));

        sha256_hex(text, size, digest);
        assert_string_equal(c->digest, digest);
        catalog_free(c);
}

/* The same entries in the same merged order, from one base file or from a base, a drop-in that
 * replaces one of its entries and an override: one digest.  Any change: another one. */
static void test_layout(void **state)
{
        const char *one[] = {
                "top 7/tcp\n"
                "web 8080/tcp www\n"
                "app 9000/udp a1 a2\n"
                "# the distribution's part\n"
                "ssh 22/tcp\n"
                "ftp 21/tcp\n",
        };
        const CatalogLayer base_only[] = { CATALOG_LAYER_BASE };
        const char *split[] = {
                "ssh 22/tcp\nweb 80/tcp\nftp 21/tcp\n",
                "web 8080/tcp www\napp   9000/udp\ta1 a2\n",
                "top 7/tcp\n",
        };
        const CatalogLayer layered[] = { CATALOG_LAYER_BASE, CATALOG_LAYER_DROPIN, CATALOG_LAYER_OVERRIDE };

        Catalog *a = build(one, base_only, 1), *b = build(split, layered, 3);
        assert_int_equal(a->n_entries, b->n_entries);
        assert_string_equal(a->digest, b->digest);
        assert_int_equal(strlen(a->digest), 64);
        catalog_free(b);

        /* Same entries, another order: another getservent sequence, another digest. */
        const char *reordered[] = { "ssh 22/tcp\nweb 80/tcp\nftp 21/tcp\n",
                "app 9000/udp a1 a2\nweb 8080/tcp www\n", "top 7/tcp\n" };
        b = build(reordered, layered, 3);
        assert_string_not_equal(a->digest, b->digest);
        catalog_free(b);

        /* An alias more, a port changed: another digest. */
        split[2] = "top 7/tcp extra\n";
        b = build(split, layered, 3);
        assert_string_not_equal(a->digest, b->digest);
        catalog_free(b);
        split[2] = "top 8/tcp\n";
        b = build(split, layered, 3);
        assert_string_not_equal(a->digest, b->digest);
        catalog_free(b);
        catalog_free(a);
}

/* The export of a real file, read back as /etc/services, exports the very same text: nothing is
 * lost or changed on the way, quirks included. */
static void test_roundtrip(void **state)
{
        for (const char *const *p = data_files; p && *p; p++) {
                _cleanup_free_ char *data = NULL, *first = NULL, *second = NULL;
                size_t size, n1, n2;
                FILE *f = fopen(*p, "re");
                assert_non_null(f);
                assert_int_equal(read_full_fd(fileno(f), 64u << 20, &data, &size), 0);
                fclose(f);

                const char *texts[] = { data };
                const CatalogLayer layers[] = { CATALOG_LAYER_BASE };
                Catalog *a = build(texts, layers, 1);
                assert_int_equal(catalog_export(a, &first, &n1), 0);
                texts[0] = first;
                Catalog *b = build(texts, layers, 1);
                assert_int_equal(catalog_export(b, &second, &n2), 0);
                assert_int_equal(a->n_entries, b->n_entries);
                assert_int_equal(n1, n2);
                assert_memory_equal(first, second, n1);
                assert_string_equal(a->digest, b->digest);
                catalog_free(a);
                catalog_free(b);
        }
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_layout),
                cmocka_unit_test(test_roundtrip),
        };
        data_files = (const char *const *) argv + 1;
        (void) argc;
        return cmocka_run_group_tests_name("catalog-export", tests, NULL, NULL);
}
