# Where dh_installnss (dh-nss) puts portd on the services: line of /etc/nsswitch.conf on a first
# installation, or an installation after a removal, and takes it off on removal; nss-portd(8)
# says why here. Debian's line "services: db files" becomes
# "services: db portd [!UNAVAIL=return] files": before files, which it replaces whenever the
# daemon answers ([!UNAVAIL=return]: an entry a drop-in removes stays removed), and after db,
# which answers only where an administrator installed libnss-db and built its database, a choice
# portd leaves standing. A line without files gets portd at its end.
services before=files portd [!UNAVAIL=return]
services last portd [!UNAVAIL=return] skip-if-present=portd
