# SPDX-License-Identifier: LGPL-2.1-or-later
# Shell functions that put portd on the services: line of nsswitch.conf(5) and take it off
# again, for libnss-portd's postinst and postrm (dh_installdeb puts this file in place of their
# NSSWITCH_EDIT token) and for tests/test-debian-nsswitch.sh, which runs them on copies.
# POSIX sh with sed and grep only: both are Essential, and postrm runs when the package's own
# files are gone. Each takes the file to edit, ${NSSWITCH:-/etc/nsswitch.conf} by default.

# What portd_nss_add writes. [!UNAVAIL=return] makes portd's answer final whenever the daemon
# answers, so that an entry a drop-in removes stays removed, while "files" still answers when
# the daemon does not run (see nss-portd(8)).
PORTD_NSS_ENTRY='portd [!UNAVAIL=return]'

# Rewrites $1 with the output of the filter "$2 ..." when that changes it, keeping the mode and
# owner of the file (or of the file a symbolic link points to) and replacing it atomically.
portd_nss_rewrite() {
        portd_nss_file=$1
        shift
        if [ -L "$portd_nss_file" ]; then
                portd_nss_file=$(readlink -f "$portd_nss_file") || return 1
        fi
        cp -p "$portd_nss_file" "$portd_nss_file.portd-new" || return 1
        if ! "$@" <"$portd_nss_file" >"$portd_nss_file.portd-new"; then
                rm -f "$portd_nss_file.portd-new"
                return 1
        fi
        if cmp -s "$portd_nss_file" "$portd_nss_file.portd-new"; then
                rm -f "$portd_nss_file.portd-new"
                return 0
        fi
        mv -f "$portd_nss_file.portd-new" "$portd_nss_file"
}

# True when a line (without its comment) is a services: line of nsswitch.conf.
portd_nss_is_services_line() {
        printf '%s\n' "$1" | grep -Eq '^[[:space:]]*services[[:space:]]*:'
}

# Filters: stdin to stdout, one line at a time so that every byte outside the services: line,
# and its comment, stay as they were. glibc ends a line's sources at '#'.
portd_nss_add_filter() {
        portd_nss_seen=
        while IFS= read -r portd_nss_line || [ -n "$portd_nss_line" ]; do
                portd_nss_head=${portd_nss_line%%#*}
                portd_nss_tail=${portd_nss_line#"$portd_nss_head"}
                if portd_nss_is_services_line "$portd_nss_head"; then
                        portd_nss_seen=1
                        if printf '%s\n' "$portd_nss_head" | grep -Eq '(:|[[:space:]])portd([[:space:]]|\[|$)'; then
                                :
                        elif printf '%s\n' "$portd_nss_head" | grep -Eq '(:|[[:space:]])files([[:space:]]|\[|$)'; then
                                portd_nss_head=$(printf '%s\n' "$portd_nss_head" |
                                        sed -E "s/(:|[[:space:]])files([[:space:]]|\\[|\$)/\\1$PORTD_NSS_ENTRY files\\2/")
                        else
                                # No files source: after the administrator's own choices.
                                portd_nss_head=$(printf '%s\n' "$portd_nss_head" | sed -E 's/[[:space:]]+$//')
                                portd_nss_head="$portd_nss_head $PORTD_NSS_ENTRY"
                                [ -z "$portd_nss_tail" ] || portd_nss_head="$portd_nss_head "
                        fi
                fi
                printf '%s%s\n' "$portd_nss_head" "$portd_nss_tail"
        done
        # No services: line means glibc's default, "files"; keep it behind portd.
        [ -n "$portd_nss_seen" ] || printf 'services:       %s files\n' "$PORTD_NSS_ENTRY"
}

portd_nss_remove_filter() {
        while IFS= read -r portd_nss_line || [ -n "$portd_nss_line" ]; do
                portd_nss_head=${portd_nss_line%%#*}
                portd_nss_tail=${portd_nss_line#"$portd_nss_head"}
                if portd_nss_is_services_line "$portd_nss_head"; then
                        # portd with the action that follows it, and the blanks after them.
                        portd_nss_prev=
                        while [ "$portd_nss_prev" != "$portd_nss_head" ]; do
                                portd_nss_prev=$portd_nss_head
                                portd_nss_head=$(printf '%s\n' "$portd_nss_head" |
                                        sed -E 's/(:|[[:space:]])portd([[:space:]]*\[[^]]*\])?([[:space:]]+|$)/\1/')
                        done
                        [ -n "$portd_nss_tail" ] || portd_nss_head=$(printf '%s\n' "$portd_nss_head" | sed -E 's/[[:space:]]+$//')
                fi
                printf '%s%s\n' "$portd_nss_head" "$portd_nss_tail"
        done
}

# Puts portd before "files" on the services: line, unless portd is there already.
portd_nss_add() {
        portd_nss_target=${1:-${NSSWITCH:-/etc/nsswitch.conf}}
        if [ ! -e "$portd_nss_target" ]; then
                echo "$portd_nss_target does not exist; not adding portd to it." >&2
                return 0
        fi
        portd_nss_rewrite "$portd_nss_target" portd_nss_add_filter
}

# Takes portd, and the action after it, off every services: line.
portd_nss_remove() {
        portd_nss_target=${1:-${NSSWITCH:-/etc/nsswitch.conf}}
        [ -e "$portd_nss_target" ] || return 0
        portd_nss_rewrite "$portd_nss_target" portd_nss_remove_filter
}
