# SPDX-License-Identifier: LGPL-2.1-or-later
# The administrator writes a drop-in with two mistakes. The journal has each as a warning naming
# file and line, at its priority: `journalctl -u portd -p warning` shows exactly those two, while
# the reload itself is information. Lookups log nothing, however many; a reload logs once, a new
# scope once, and a user refused again and again once.

warnings=$(portd_journal -p warning | wc -l)
infos=$(portd_journal -p info | wc -l)
cat >/etc/services.d/70-typo.conf <<'CONF'
site-cache      9300/tcp
site-queue      tcp
site-search     93o2/tcp
CONF
wait_until 5 getent services site-cache
# journald stores what the daemon wrote some time later: wait for both lines, then compare exactly.
wait_until 10 sh -c "[ \$(journalctl -b -u portd.service -o cat -p warning | wc -l) -ge $((warnings + 2)) ]"
check_eq "journalctl -u portd -p warning shows exactly the drop-in's two mistakes" \
        "/etc/services.d/70-typo.conf:2: missing or invalid port number, line skipped.
/etc/services.d/70-typo.conf:3: junk after the port number, line skipped." \
        "$(portd_journal -p warning | tail -n +$((warnings + 1)))"
check "the reload that read them is logged, at priority info" \
        wait_until 10 sh -c "journalctl -b -u portd.service -p info -o cat | tail -n +$((infos + 1)) | grep -q '^Loaded generation'"
check "portctl verify reports both as errors" \
        sh -c 'portctl verify 2>&1 | grep -c "70-typo.conf:[23]: error" | grep -qx 2'

messages=$(portd_journal | wc -l)
for i in $(seq 200); do
        getent services site-cache >/dev/null
        portctl lookup http >/dev/null
done
check_eq "400 lookups log nothing" "" "$(portd_journal | tail -n +$((messages + 1)))"
systemctl reload portd.service
wait_until 10 sh -c "journalctl -b -u portd.service -o cat | tail -n +$((messages + 1)) | grep -q '^Loaded generation'"
check_eq "one reload logs one new generation" 1 \
        "$(portd_journal | tail -n +$((messages + 1)) | grep -c '^Loaded generation')"
rm -f /etc/services.d/70-typo.conf
wait_until 5 sh -c "journalctl -b -u portd.service -o cat | grep -q \"^Source '/etc/services.d/70-typo.conf' is gone\""

messages=$(portd_journal | wc -l)
for i in $(seq 20); do
        setpriv --reuid=65534 --regid=65534 --clear-groups portctl set site-x 9999/tcp 2>/dev/null &&
                not_ok "user 65534 could set an override"
done
wait_until 10 sh -c "journalctl -b -u portd.service -o cat | tail -n +$((messages + 1)) | grep -q '^Refused'"
check_eq "20 refusals of one user are logged once" \
        "Refused changes to local overrides to UID 65534 (PID N); further refusals of changes to local overrides to this user are not logged." \
        "$(portd_journal | tail -n +$((messages + 1)) | grep '^Refused' | sed 's/(PID [0-9]*)/(PID N)/')"

messages=$(portd_journal | wc -l)
mkdir -p /etc/portd/scopes/batch.d
printf 'batch-api 9400/tcp\n' >/etc/portd/scopes/batch.d/10-batch.conf
printf '[Match]\nCgroup=/batch.slice\n' >/etc/portd/scopes/batch.scope
wait_until 5 sh -c "journalctl -b -u portd.service -o cat | tail -n +$((messages + 1)) | grep -q '^New scope'"
answers=$(systemd-run --quiet --scope --slice=batch.slice \
        sh -c 'for i in $(seq 100); do getent services batch-api; done' | grep -c '^batch-api')
check_eq "a job in batch.slice gets its scope's answers" 100 "$answers"
check_eq "the new scope is logged once, and its 100 lookups not at all" \
        "New scope 'batch' (/etc/portd/scopes/batch.scope)." \
        "$(portd_journal | tail -n +$((messages + 1)) | grep -v '^Loaded generation')"
rm -r /etc/portd/scopes
