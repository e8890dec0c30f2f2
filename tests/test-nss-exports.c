/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NSS module exports exactly the five _nss_portd_* entry points: read from its ELF dynamic
 * symbol table (what the dynamic linker sees) and confirmed through dlopen()/dlsym(); and it
 * needs no library but libc. */

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "util.h"

static const char *arg_module;

static const char *const expected[] = {
        "_nss_portd_getservbyname_r",
        "_nss_portd_getservbyport_r",
        "_nss_portd_setservent",
        "_nss_portd_getservent_r",
        "_nss_portd_endservent",
};

static bool is_expected(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                if (streq(expected[i], name))
                        return true;
        return false;
}

/* Calls f for every symbol the module defines and makes visible to other objects. */
static void for_each_exported(void (*f)(const char *name, void *userdata), void *userdata)
{
        _cleanup_close_ int fd = open(arg_module, O_RDONLY | O_CLOEXEC);
        struct stat st;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_true((size_t) st.st_size >= sizeof(Elf64_Ehdr));

        const uint8_t *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        assert_true(p != MAP_FAILED);
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *) p;
        assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
        assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
        assert_true(eh->e_shoff + (uint64_t) eh->e_shnum * sizeof(Elf64_Shdr) <= (uint64_t) st.st_size);

        const Elf64_Shdr *sh = (const Elf64_Shdr *) (p + eh->e_shoff);
        size_t n_dynsym = 0;
        for (size_t i = 0; i < eh->e_shnum; i++) {
                if (sh[i].sh_type != SHT_DYNSYM)
                        continue;
                n_dynsym++;
                assert_true(sh[i].sh_link < eh->e_shnum);
                const Elf64_Shdr *strtab = &sh[sh[i].sh_link];
                assert_true(sh[i].sh_offset + sh[i].sh_size <= (uint64_t) st.st_size);
                assert_true(strtab->sh_offset + strtab->sh_size <= (uint64_t) st.st_size);
                const Elf64_Sym *sym = (const Elf64_Sym *) (p + sh[i].sh_offset);
                const char *names = (const char *) (p + strtab->sh_offset);
                for (size_t j = 0; j < sh[i].sh_size / sizeof(Elf64_Sym); j++) {
                        unsigned bind = ELF64_ST_BIND(sym[j].st_info);
                        if (sym[j].st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK))
                                continue;
                        if (ELF64_ST_VISIBILITY(sym[j].st_other) != STV_DEFAULT &&
                                ELF64_ST_VISIBILITY(sym[j].st_other) != STV_PROTECTED)
                                continue;
                        assert_true(sym[j].st_name < strtab->sh_size);
                        f(names + sym[j].st_name, userdata);
                }
        }
        assert_int_equal(n_dynsym, 1);
        munmap((void *) p, st.st_size);
}

static void check_one(const char *name, void *userdata)
{
        unsigned *seen = userdata;

        if (!is_expected(name))
                fail_msg("unexpected export '%s'", name);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                if (streq(expected[i], name))
                        seen[i]++;
}

static void test_exports_dynsym_only_entry_points(void **state)
{
        unsigned seen[ELEMENTSOF(expected)] = {};

        for_each_exported(check_one, seen);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                assert_int_equal(seen[i], 1);
}

/* What the module pulls into every process that resolves a service: libc and, at most, the
 * libraries glibc itself consists of.  No json-c or anything else whose symbols an application
 * could interpose, or that would cost the first lookup its loading. */
static const char *const allowed_needed[] = {
        "libc.so.6",
        "libpthread.so.0",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
};

static void test_exports_needed_libc_only(void **state)
{
        _cleanup_close_ int fd = open(arg_module, O_RDONLY | O_CLOEXEC);
        struct stat st;
        unsigned n_needed = 0;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        const uint8_t *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        assert_true(p != MAP_FAILED);
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *) p;
        assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
        assert_true(eh->e_shoff + (uint64_t) eh->e_shnum * sizeof(Elf64_Shdr) <= (uint64_t) st.st_size);

        const Elf64_Shdr *sh = (const Elf64_Shdr *) (p + eh->e_shoff);
        for (size_t i = 0; i < eh->e_shnum; i++) {
                if (sh[i].sh_type != SHT_DYNAMIC)
                        continue;
                assert_true(sh[i].sh_link < eh->e_shnum);
                const Elf64_Shdr *strtab = &sh[sh[i].sh_link];
                assert_true(sh[i].sh_offset + sh[i].sh_size <= (uint64_t) st.st_size);
                assert_true(strtab->sh_offset + strtab->sh_size <= (uint64_t) st.st_size);
                const Elf64_Dyn *d = (const Elf64_Dyn *) (p + sh[i].sh_offset);
                for (size_t j = 0; j < sh[i].sh_size / sizeof(Elf64_Dyn) && d[j].d_tag != DT_NULL; j++) {
                        if (d[j].d_tag != DT_NEEDED)
                                continue;
                        assert_true(d[j].d_un.d_val < strtab->sh_size);
                        const char *name = (const char *) (p + strtab->sh_offset + d[j].d_un.d_val);
                        bool ok = false;
                        for (size_t k = 0; k < ELEMENTSOF(allowed_needed); k++)
                                ok = ok || streq(name, allowed_needed[k]);
                        /* The sanitizer runtimes of an ASan/UBSan build (CI's second pass) are
                         * the build's, not the module's. */
                        ok = ok || strneq(name, "libasan.so", 10) || strneq(name, "libubsan.so", 11) ||
                                strneq(name, "liblsan.so", 10);
                        if (!ok)
                                fail_msg("the module needs '%s'", name);
                        n_needed++;
                }
        }
        /* libc itself at least: a module without DT_NEEDED would mean the check read nothing. */
        assert_true(n_needed >= 1);
        munmap((void *) p, st.st_size);
}

/* Loading the module sets nothing up in libc: a constructor's pthread_key_create() and
 * pthread_atfork() each wrote into a page of libc's data, a page fault of every fresh process
 * that resolves a service; a process with one thread never needs them (nss/nss-mapping.c).  The
 * key is what can be seen: glibc hands out the lowest free one.  First of the tests, before
 * anything else in this process loads the module. */
static void test_exports_dlopen_sets_up_nothing(void **state)
{
        pthread_key_t before, after;

        assert_null(dlopen(arg_module, RTLD_NOW | RTLD_NOLOAD));
        assert_int_equal(pthread_key_create(&before, NULL), 0);
        void *h = dlopen(arg_module, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                fail_msg("dlopen '%s': %s", arg_module, dlerror());
        assert_int_equal(pthread_key_create(&after, NULL), 0);
        assert_int_equal(after, before + 1);
}

static void test_exports_dlopen(void **state)
{
        void *h = dlopen(arg_module, RTLD_NOW | RTLD_LOCAL);

        if (!h)
                fail_msg("dlopen '%s': %s", arg_module, dlerror());
        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                assert_non_null(dlsym(h, expected[i]));
        /* Internal functions of the module and of the common library stay hidden. */
        assert_null(dlsym(h, "snapshot_open"));
        assert_null(dlsym(h, "mapping_acquire"));
        assert_null(dlsym(h, "varlink_client_connect"));
        assert_null(dlsym(h, "servent_fill"));
        assert_null(dlsym(h, "nss_json_parse"));
        /* Nor does a JSON library come along with the module (its dependencies are searched too). */
        assert_null(dlsym(h, "json_tokener_parse"));
        /* -z nodelete: the module stays, so pthread_atfork handlers and mappings never dangle. */
        assert_int_equal(dlclose(h), 0);
        void *again = dlopen(arg_module, RTLD_NOW | RTLD_NOLOAD);
        assert_non_null(again);
        dlclose(again);
}

int main(int argc, char *argv[])
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exports_dynsym_only_entry_points),
                cmocka_unit_test(test_exports_dlopen_sets_up_nothing),
                cmocka_unit_test(test_exports_dlopen),
                cmocka_unit_test(test_exports_needed_libc_only),
        };

        if (argc != 2) {
                fprintf(stderr, "usage: %s PATH/libnss_portd.so.2\n", argv[0]);
                return 2;
        }
        arg_module = argv[1];
        return cmocka_run_group_tests_name("nss/exports", tests, NULL, NULL);
}
