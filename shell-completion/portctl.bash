# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for portctl(1): commands, options, service names from the catalog the daemon
# serves (asked with the --socket or --root on the command line), --netns names from /run/netns.
# Installed into bash-completion's completionsdir as "portctl", loaded on first use.

# Every name and alias of the catalog, as "portctl list --format services" prints it.
_portctl_services()
{
        local -a where=()
        local i
        for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
                case ${COMP_WORDS[i]} in
                --socket | --root) where+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
                --socket=* | --root=*) where+=("${COMP_WORDS[i]}") ;;
                esac
        done
        "${COMP_WORDS[0]}" "${where[@]}" --no-pager list --format services 2>/dev/null |
                awk '{ print $1; for (i = 3; i <= NF; i++) print $i }' | sort -u
}

_portctl()
{
        local cur prev words cword
        _init_completion -n = || return

        local verbs='lookup port list explain verify status reload set unset who monitor'
        local options='--help --version --socket --root --json --json=pretty --json=short --json=off
                --no-legend --no-pager --quiet --numeric-ports --all --follow --netns --format --runtime --persistent'
        local short='-h -j -q -P -a -f -n -i -p -u -c'

        case $prev in
        --socket)
                _filedir
                return
                ;;
        --root)
                _filedir -d
                return
                ;;
        --netns)
                local names
                names=$(command ls /run/netns 2>/dev/null)
                COMPREPLY=($(compgen -W "all $names" -- "$cur"))
                return
                ;;
        --format)
                COMPREPLY=($(compgen -W 'table json services' -- "$cur"))
                return
                ;;
        -p)
                _pids
                return
                ;;
        -u)
                COMPREPLY=($(compgen -u -- "$cur"))
                return
                ;;
        -c)
                COMPREPLY=($(compgen -c -- "$cur"))
                return
                ;;
        -i)
                COMPREPLY=($(compgen -W "tcp udp sctp $(_portctl_services)" -- "$cur"))
                return
                ;;
        esac
        if [[ $cur == --json=* ]]; then
                COMPREPLY=($(compgen -W 'pretty short off' -- "${cur#--json=}"))
                return
        fi
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$options $short" -- "$cur"))
                return
        fi

        # The command: the first word that is neither an option nor an option's argument.
        local i verb= nargs=0
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --socket | --root | --netns | --format | -p | -u | -c | -i) ((i++)) ;;
                -*) ;;
                *)
                        if [ -z "$verb" ]; then
                                verb=${words[i]}
                        else
                                ((nargs++))
                        fi
                        ;;
                esac
        done
        case $verb in
        '')
                COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                ;;
        lookup | explain | unset)
                [ "$nargs" -eq 0 ] && COMPREPLY=($(compgen -W "$(_portctl_services)" -- "$cur"))
                [ "$verb" = lookup ] && [ "$nargs" -eq 1 ] && COMPREPLY=($(compgen -W 'tcp udp sctp' -- "$cur"))
                ;;
        who)
                COMPREPLY=($(compgen -W "tcp udp sctp $(_portctl_services)" -- "$cur"))
                ;;
        esac
} &&
        complete -F _portctl portctl
