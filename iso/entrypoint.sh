#!/bin/sh
# Sandbox entrypoint: fresh SSH host keys for every sandbox (none are baked into the image), then the command (sshd).
set -eu
# ed25519 and ECDSA only: generating them takes milliseconds, unlike RSA, and keeps sandbox start fast.
[ -s /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
[ -s /etc/ssh/ssh_host_ecdsa_key ] || ssh-keygen -q -t ecdsa -b 256 -N '' -f /etc/ssh/ssh_host_ecdsa_key
mkdir -p /run/sshd
chmod 0755 /run/sshd
exec "$@"
