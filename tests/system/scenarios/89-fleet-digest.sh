# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator checks the fleet's convergence by digest, with the ad-hoc command of
# docs/FLEET.md over the role's local fact (86-fleet applied the role here): this host, and a
# second one whose files lay out the same entries otherwise, report the same digest; one changed
# entry on the second gives another. The role's files are removed at the end: the next scenario
# finds portd installed and running, with Debian's base only.

. /in/fleet-lib.sh
digest_a=$(digest_of)

# The fleet's ad-hoc command (docs/FLEET.md): every host's digest, from its local fact.
adhoc() {
        ANSIBLE_NOCOLOR=1 ansible all -c local -i localhost, -o -m ansible.builtin.setup -a filter=ansible_local |
                sed -nE 's/^([^ ]+) \| SUCCESS => .*"digest": "([0-9a-f]{64})".*/\2 \1/p'
}
check_eq "the ad-hoc command reports this host's digest" "$digest_a localhost" "$(adhoc)"

# Host B: the same entries, laid out otherwise. It has this host's other sources as they are
# (what the scenarios before left), but the fleet's entries in one vendor file instead of the
# role's two drop-ins, with other comments and spacing and no removal line, and no masked vendor
# file. Same entries means the same getservent order: a later file's entries come first (portctl
# list), so payments-api (60-payments.conf here) leads, and the file sorts between 50 and 60.
b=/var/tmp/fleet-host-b
mkdir -p $b/etc/services.d $b/etc/portd $b/run/services.d $b/run/portd $b/usr/lib/services.d
cp /etc/services $b/etc/services
for d in etc/services.d run/services.d usr/lib/services.d; do
        [ ! -d /$d ] || cp -a /$d/. $b/$d/
done
for f in etc/portd/overrides.conf run/portd/overrides.conf; do
        [ ! -f /$f ] || cp /$f $b/$f
done
rm -f $b/etc/services.d/50-fleet.conf $b/etc/services.d/60-payments.conf \
        $b/etc/services.d/20-vendor.conf $b/usr/lib/services.d/20-vendor.conf
cat >$b/usr/lib/services.d/55-everything.conf <<'EOV'
# Host B has the fleet's entries in one vendor file.

payments-api 9443/tcp payments
fleet-api	8443/tcp	api	# the API
fleet-gossip    7946/tcp
fleet-gossip	7946/udp
EOV
check "host B: its own portd starts" systemd-run --unit=portd-host-b -p Type=notify \
        -p RuntimeDirectory=portd-host-b \
        /usr/libexec/portd --root $b --socket /run/portd-host-b/io.portd.Services
sock_b=/run/portd-host-b/io.portd.Services
check_eq "host B: other files, same entries: the same digest" "$digest_a" "$(digest_of $sock_b)"
[ "$digest_a" = "$(digest_of $sock_b)" ] ||
        diag "$(diff <(portctl list --format services) <(portctl --socket $sock_b list --format services))"
sed -i 's/^payments-api 9443/payments-api 9444/' $b/usr/lib/services.d/55-everything.conf
digest_b_is_not_a() {
        [ "$(digest_of $sock_b)" != "$digest_a" ]
}
wait_until 10 digest_b_is_not_a
digest_b=$(digest_of $sock_b)
[ "$digest_b" != "$digest_a" ] && ok "host B: one changed entry: another digest" ||
        not_ok "host B: one changed entry: another digest" "both $digest_a"
check_eq "host B: the digest is that of its files (list --format services --root)" \
        "$(portctl list --format services --root $b | sha256sum | cut -d' ' -f1)" "$digest_b"
check_eq "the ad-hoc command tells the two hosts apart" "$digest_b localhost" "$(PORTD_SOCKET=$sock_b adhoc)"
systemctl stop portd-host-b.service
rm -rf $b

# What the next scenario expects: portd installed and running, the base alone.
rm -f /etc/services.d/50-fleet.conf /etc/services.d/60-payments.conf /etc/services.d/20-vendor.conf \
        /usr/lib/services.d/20-vendor.conf /etc/portd/portd.conf /etc/ansible/facts.d/portd.fact \
        "$fleet_vars"
