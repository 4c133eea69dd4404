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

# useradd refuses an existing name itself (exit 9); no separate lookup on the CREATE path.
useradd --create-home --shell /bin/bash --user-group --no-log-init "$user" || {
  status=$?
  echo "setup-endpoint: cannot create the user (useradd exit $status)" >&2
  exit 3
}
# SHA-512 crypt instead of PAM's default yescrypt: a tenth of the time on the CREATE path, and the
# passwords the server generates (120 random alphanumerics) make the hash cost irrelevant.
printf '%s:%s\n' "$user" "$password" | chpasswd --crypt-method SHA512

if [ "$sudo_flag" = --sudo ]; then
  printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$user" > /etc/sudoers.d/anweddol-client
  chmod 0440 /etc/sudoers.d/anweddol-client
fi

# Only the client may log in: every other account gets a locked password, and no shell (root keeps its
# shell for `docker exec` but not a usable password). Only accounts not already locked are touched,
# since the image ships them locked and each usermod costs tens of milliseconds.
awk -F: -v u="$user" '$1 != u && $1 != "root" && $7 !~ /(nologin|false)$/ { print $1 }' /etc/passwd |
  while read -r other; do usermod --shell /usr/sbin/nologin "$other" >/dev/null; done
awk -F: -v u="$user" '$1 != u && $2 !~ /^[!*]/ { print $1 }' /etc/shadow |
  while read -r other; do usermod --lock "$other" >/dev/null; done
echo "setup-endpoint: $user ready"
