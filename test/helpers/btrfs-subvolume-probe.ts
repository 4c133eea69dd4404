// What a stranger with a shell would run to escape container.disk_limit: BTRFS_IOC_SUBVOL_CREATE on a folder of their own (any user may).
/** Prints `CREATED` when the subvolume was made (its writes would escape the disk limit), `refused: <errno text>` otherwise. */
export const SUBVOLUME_PROBE =
  'd=$(mktemp -d) && perl -e \'opendir(my $d, $ARGV[0]) or die "opendir: $!"; open(my $fh, "<", $ARGV[0]) or die "open: $!"; ' +
  'my $args = pack("q Z4088", 0, "sub"); my $r = ioctl($fh, 0x5000940e, $args); print $r ? "CREATED\\n" : "refused: $!\\n";\' "$d"';

/** A shell with a terminal still needs its ioctls (TCGETS, TIOCGWINSZ): stty makes both. */
export const TTY_PROBE = 'stty size && stty -a >/dev/null && echo tty-ok';
