# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers of the fleet scenarios (scenarios/8N-fleet*.sh), sourced by them after lib.sh: the
# repository's playbook (contrib/ansible/site.yml, at /in/ansible) run on the test bed itself,
# and what an administrator compares before and after a run.

# The variables of the fleet's runs (86-fleet writes them; the later scenarios run with them).
fleet_vars=/tmp/fleet-vars.json

# play VARS-FILE: site.yml on this host (-c local) with the variables of VARS-FILE, its output in
# $fleet_log, its time and recap as a diagnostic; returns ansible-playbook's exit status.
fleet_log=/tmp/fleet-play.log
play() {
        local start rc=0
        start=$(date +%s%N)
        ANSIBLE_NOCOLOR=1 ANSIBLE_PIPELINING=1 ansible-playbook -c local -i localhost, \
                -e ansible_python_interpreter=/usr/bin/python3 -e @"$1" /in/ansible/site.yml \
                >"$fleet_log" 2>&1 || rc=$?
        diag "ansible-playbook: $((($(date +%s%N) - start) / 1000000)) ms, exit status $rc," \
                "$(grep '^localhost' "$fleet_log")"
        return $rc
}

# recap FIELD: a number of the last play's recap for localhost (ok, changed, failed, ...).
recap() {
        sed -n "s/^localhost *:.* $1=\([0-9]*\).*/\1/p" "$fleet_log"
}

# digest_of [SOCKET]: the digest portd reports (portctl status --json).
digest_of() {
        portctl ${1:+--socket "$1"} status --json |
                python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])'
}

# What an administrator compares: every file the role writes or could write, with its type, mode
# and content, the packages, the services: line, what portd serves, and any staging root left.
host_state() {
        find /etc/services.d /etc/portd /etc/ansible /var/cache/portd-ansible \
                -printf '%p %y %m %l\n' 2>&1 | sort
        find /etc/services.d /etc/portd /etc/ansible -type f -exec sha256sum {} + 2>&1 | sort
        dpkg-query -W -f '${Package} ${Version} ${Status}\n' portd libnss-portd
        services_line
        portctl list --format services | sha256sum
        ls -d /tmp/*.portd-stage 2>/dev/null
}
