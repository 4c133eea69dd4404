#!/bin/sh
# Provisions the one client login of a sandbox: run once as root via `docker exec -i`, password on stdin.
# Usage: setup-endpoint.sh <username> [--sudo]   (stdin: the password, one line)
# Creates the user with that password, optionally with passwordless sudo, and locks root and every other login.
set -eu

user=${1:-}
sudo_flag=${2:-}
case "$user" in
  '' | *[!a-z0-9_-]* | [!a-z_]*) echo "setup-endpoint: invalid user name" >&2; exit 2 ;;
esac
[ "${#user}" -le 32 ] || { echo "setup-endpoint: user name too long" >&2; exit 2; }
case "$sudo_flag" in '' | --sudo) ;; *) echo "setup-endpoint: unknown option" >&2; exit 2 ;; esac

# The password never appears on a command line (visible in ps / docker inspect), only on stdin.
IFS= read -r password || true
case "$password" in
  '' | *[!A-Za-z0-9]*) echo "setup-endpoint: the password must be non-empty [A-Za-z0-9]" >&2; exit 2 ;;
esac

if id "$user" >/dev/null 2>&1; then
  echo "setup-endpoint: user already exists" >&2
  exit 3
fi
useradd --create-home --shell /bin/bash --user-group "$user"
printf '%s:%s\n' "$user" "$password" | chpasswd

if [ "$sudo_flag" = --sudo ]; then
  printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$user" > /etc/sudoers.d/anweddol-client
  chmod 0440 /etc/sudoers.d/anweddol-client
fi

# Only the client may log in: root and every other account get a locked password and no shell.
cut -d: -f1 /etc/passwd | while read -r other; do
  [ "$other" = "$user" ] && continue
  usermod --lock "$other" >/dev/null 2>&1 || true
  [ "$other" = root ] || usermod --shell /usr/sbin/nologin "$other" >/dev/null 2>&1 || true
done
echo "setup-endpoint: $user ready"
