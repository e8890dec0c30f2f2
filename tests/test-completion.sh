#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# portctl's shell completion: the bash one loaded into bash with bash-completion, completing
# commands, options, --json= formats, --format values, service names and aliases from a running
# portd's catalog (through the --socket on the command line), and --netns names from /run/netns;
# the zsh one parsed by zsh.  TAP.
# Usage: test-completion.sh BASH_COMPLETION ZSH_COMPLETION PORTCTL PORTD
set -u

# Under the valgrind test setup this shell itself starts under valgrind, which would check bash;
# exec leaves valgrind behind.
if [ -n "${PORTD_UNDER_VALGRIND:-}" ] && [ -z "${PORTD_COMPLETION_REEXEC:-}" ]; then
        PORTD_COMPLETION_REEXEC=1 exec /bin/bash "$0" "$@"
fi

BASH_FILE=$(realpath "$1")
ZSH_FILE=$(realpath "$2")
PORTCTL=$(realpath "$3")
PORTD=$(realpath "$4")

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }

BASH_COMPLETION=/usr/share/bash-completion/bash_completion
if [ ! -r "$BASH_COMPLETION" ]; then
        echo "not ok 1 - $BASH_COMPLETION is missing (Debian's bash-completion; tools/install-deps.sh installs it)"
        echo "1..1"
        exit 1
fi

T=$(mktemp -d /tmp/portd-completion.XXXXXX)
DAEMON=
NETNS=
cleanup() {
        [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
        [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/root/etc"
printf 'compl-alpha\t4001/tcp\talpha-alias\ncompl-beta\t4002/udp\n' >"$T/root/etc/services"
"$PORTD" --root "$T/root" --socket "$T/sock" 2>"$T/portd.log" &
DAEMON=$!
for _ in $(seq 200); do "$PORTCTL" --socket "$T/sock" status >/dev/null 2>&1 && break; sleep 0.05; done

# complete WORDS...: what the completion offers for the last word, one per line, sorted.
complete() {
        bash --norc --noprofile -c '
                . "$1"
                . "$2"
                shift 2
                COMP_WORDS=("$@")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMP_LINE="${COMP_WORDS[*]}"
                COMP_POINT=${#COMP_LINE}
                _portctl portctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$BASH_COMPLETION" "$BASH_FILE" "$PORTCTL" "$@"
}
expect() {
        local what=$1 want=$2
        shift 2
        local got
        got=$(complete "$@" | tr '\n' ' ')
        if [ "$got" = "$want" ]; then
                ok "$what: '$want'"
        else
                not_ok "$what: want '$want', got '$got'"
        fi
}

expect "commands" "list lookup " "l"
expect "every command" "explain list lookup monitor port reload set status unset verify who " ""
expect "long options" "--no-legend --no-pager " "--no-"
expect "--json= formats" "off pretty short " "--json="
expect "--follow" "--follow --format " "who" "--f"
expect "--format values" "json services table " "list" "--format" ""
expect "service names and aliases from the daemon, through --socket" "alpha-alias compl-alpha compl-beta " \
        "--socket" "$T/sock" "lookup" ""
expect "...a prefix of them" "compl-alpha compl-beta " "--socket" "$T/sock" "explain" "compl-"
expect "lookup's second word is a protocol" "sctp tcp udp " "--socket" "$T/sock" "lookup" "compl-alpha" "" \
        2>/dev/null
expect "who takes SPECs: protocols and names" "compl-alpha compl-beta " "--socket" "$T/sock" "who" "compl"
expect "-i too" "compl-alpha compl-beta " "--socket" "$T/sock" "who" "-i" "compl"
expect "no daemon, no names, no error" "" "--socket" "$T/none" "lookup" "compl"
if [ "$(id -u)" = 0 ] && ip netns add "portd-compl-$$" 2>/dev/null; then
        NETNS=portd-compl-$$
        expect "--netns: all and the names in /run/netns" "$NETNS " "who" "--netns" "portd-compl-"
        expect "--netns all" "all " "who" "--netns" "al"
else
        echo "# cannot create a network namespace here: the --netns names are not checked"
fi

if command -v zsh >/dev/null; then
        if zsh -n "$ZSH_FILE"; then ok "zsh parses _portctl"; else not_ok "zsh cannot parse _portctl"; fi
        # Loaded by compinit from an fpath holding it, as Debian's vendor-completions is.
        mkdir -p "$T/zfunc"
        cp "$ZSH_FILE" "$T/zfunc/_portctl"
        got=$(HOME=$T zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2/zcompdump"; print -r -- "${_comps[portctl]}"' _ "$T/zfunc" "$T")
        [ "$got" = _portctl ] && ok "compinit binds _portctl to portctl" || not_ok "compinit: '$got'"
else
        not_ok "zsh is missing (tools/install-deps.sh installs it)"
fi

echo "1..$N"
[ $FAILED = 0 ]
