# SPDX-License-Identifier: LGPL-2.1-or-later
# Programs look services up as they always have, through the real nsswitch.conf (no
# __nss_configure_lookup, no LD_LIBRARY_PATH): getent, Python's socket module and a C program
# (getserv.c) get exactly what glibc's files backend gives on the merged database, which
# `portctl list --format services` writes out. The drop-ins add, replace and remove entries.

cat >/etc/services.d/60-site.conf <<'CONF'
# Our web servers listen on 8080; gopher is gone.
http            8080/tcp        www
!gopher
site-metrics    9100/tcp        metrics
CONF
wait_until 5 getent services site-metrics
check_eq "a drop-in replaces http/tcp" "http                  8080/tcp www" "$(getent services http tcp)"
check "a drop-in removes gopher (NOTFOUND from portd is final)" sh -c '! getent services gopher'

merged=$(mktemp)
check "portctl list --format services writes the merged database" \
        sh -c "portctl list --format services >$merged"
# glibc's files backend over the same data: a mount namespace in which /etc/services is that
# file and nsswitch.conf says "services: files".
printf 'services: files\n' >/tmp/nsswitch.files
files_only() {
        unshare -m sh -c 'mount --bind "$0" /etc/services && mount --bind /tmp/nsswitch.files /etc/nsswitch.conf && exec "$@"' \
                "$merged" "$@"
}
cat >/tmp/lookups.py <<'PY'
import socket, sys
for line in open(sys.argv[1]):
    fields = line.split("#")[0].split()
    if len(fields) < 2:
        continue
    port, proto = fields[1].split("/")
    for name in fields[:1] + fields[2:]:
        try:
            print(name, proto, socket.getservbyname(name, proto))
        except OSError as e:
            print(name, proto, e)
    try:
        print(port, proto, socket.getservbyport(int(port), proto))
    except OSError as e:
        print(port, proto, e)
PY
for program in "getent services" "python3 /tmp/lookups.py $merged" "/in/getserv"; do
        label=${program%% /tmp*}
        $program >/tmp/through-portd 2>&1
        files_only $program >/tmp/through-files 2>&1
        check_same "$label: the same through portd as glibc's files backend on the merged data ($(wc -l </tmp/through-portd) lines)" \
                /tmp/through-files /tmp/through-portd
done
check "the files backend really saw the merged data" grep -q site-metrics /tmp/through-files
rm -f "$merged" /tmp/nsswitch.files /tmp/lookups.py /tmp/through-portd /tmp/through-files
