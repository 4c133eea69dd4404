// What a stranger with a shell would run to escape container.disk_limit (any user may make a btrfs subvolume), and a terminal's ioctls.
/** The swarm backend runs the same probe as root in every new sandbox: `CREATED`, or `refused: <errno text>`. */
export { SUBVOLUME_PROBE, SUBVOLUME_REFUSED } from '../../src/virtualization/swarm/sandbox-hardening.js';

/** A shell with a terminal still needs its ioctls (TCGETS, TIOCGWINSZ): stty makes both. */
export const TTY_PROBE = 'stty size && stty -a >/dev/null && echo tty-ok';
