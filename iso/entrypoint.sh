#!/bin/sh
# Sandbox entrypoint: fresh SSH host keys for every sandbox (none are baked into the image), the client login when the
# daemon asks for it here (ANWEDDOL_CLIENT_USER, password on stdin), then the command (sshd); no_new_privs first when asked.
set -eu
# A swarm service cannot ask Docker for no-new-privileges (API 1.41): the daemon asks us instead, and we run again under
# no_new_privs as PID 1, so sshd and every login inherit it (setuid binaries then grant nothing).
if [ "${ANWEDDOL_NO_NEW_PRIVS:-}" = 1 ]; then
  exec env -u ANWEDDOL_NO_NEW_PRIVS setpriv --no-new-privs "$0" "$@"
fi
# ed25519 and ECDSA only: generating them takes milliseconds, unlike RSA, and keeps sandbox start fast.
{
  [ -s /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
  [ -s /etc/ssh/ssh_host_ecdsa_key ] || ssh-keygen -q -t ecdsa -b 256 -N '' -f /etc/ssh/ssh_host_ecdsa_key
} </dev/null &
keys=$!
mkdir -p /run/sshd
chmod 0755 /run/sshd
# The login is made before sshd starts, so its banner also means the client can log in; the daemon writes the password
# to our stdin (attached once, then closed): never on a command line, in the environment or on disk. A failure ends
# the container, which the daemon sees at once.
if [ -n "${ANWEDDOL_CLIENT_USER:-}" ]; then
  /usr/local/sbin/anweddol-setup-endpoint "$ANWEDDOL_CLIENT_USER" ${ANWEDDOL_CLIENT_SUDO:+--sudo}
fi
unset ANWEDDOL_CLIENT_USER ANWEDDOL_CLIENT_SUDO
wait "$keys"
exec "$@" </dev/null
