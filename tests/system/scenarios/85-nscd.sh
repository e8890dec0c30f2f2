# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator also runs nscd, with Debian's nscd.conf, whose services cache is on: nscd
# then answers every program in front of portd, and a changed drop-in does not reach programs
# until the cached entry expires. portctl status and verify warn about it; the change nss-portd(8)
# gives (enable-cache services no) makes the warnings go and the change visible.

if ! command -v nscd >/dev/null; then
        not_ok "nscd is installed (Debian package nscd; tools/install-deps.sh installs it)"
        exit 0
fi
port() {
        getent services site-cache | awk '{ print $2 }'
}
check "Debian's nscd.conf caches services" grep -Eq '^\s*enable-cache\s+services\s+yes' /etc/nscd.conf
systemctl unmask --quiet nscd.service
check "systemctl start nscd" systemctl start nscd.service
echo "site-cache 9300/tcp" >/etc/services.d/80-cache.conf
wait_until 5 sh -c 'portctl lookup site-cache | grep -q 9300'
check_eq "a program looks site-cache up (nscd caches the answer)" 9300/tcp "$(port)"
echo "site-cache 9310/tcp" >/etc/services.d/80-cache.conf
wait_until 5 sh -c 'portctl lookup site-cache | grep -q 9310'
check_eq "behind nscd, programs still get the old port after the drop-in changed" 9300/tcp "$(port)"
check "portctl status warns that nscd caches services" \
        sh -c 'portctl status 2>&1 >/dev/null | grep -q "nscd caches the services database"'
check "portctl verify warns too" \
        sh -c 'portctl verify 2>&1 >/dev/null | grep -q "nscd caches the services database"'
check "nss-portd(8) says what to change in nscd.conf" \
        sh -c 'zcat /usr/share/man/man8/nss-portd.8.gz | grep -q "^enable-cache.*services.*no"'

# What nss-portd(8) says to do.
sed -Ei 's/^(\s*enable-cache\s+services\s+)yes/\1no/' /etc/nscd.conf
check "systemctl restart nscd" systemctl restart nscd.service
check_eq "with nscd's services cache off, programs get the new port" 9310/tcp "$(port)"
check "portctl status no longer warns" \
        sh -c '! portctl status 2>&1 >/dev/null | grep -q nscd'

systemctl stop nscd.service
systemctl mask --quiet nscd.service
rm -f /etc/services.d/80-cache.conf
