// Counts the authenticated SSH sessions in a sandbox's process table (pure): how idle detection knows a client is logged in.

export interface ProcessEntry {
  pid: number;
  ppid: number;
  uid: number;
  command: string;
}

/**
 * The ps arguments of the process table `countSshSessions` reads. Lines are cut at 200 characters: a
 * sandbox user controls their processes' command lines (up to megabytes each), and ps prints them whole
 * otherwise, into an answer the daemon would parse at every probe.
 */
export const PROCESS_TABLE_PS_ARGS = '-o pid,ppid,uid,args --width 200';

/** Docker's `top` answer (`Titles`, `Processes`) as entries; rows it cannot read are skipped. */
export function processTable(top: { Titles?: string[]; Processes?: string[][] }): ProcessEntry[] {
  const titles = top.Titles ?? [];
  const column = (name: string) => titles.indexOf(name);
  const [pid, ppid, uid, command] = [column('PID'), column('PPID'), column('UID'), Math.max(column('COMMAND'), column('CMD'))];
  if ([pid, ppid, uid, command].includes(-1)) throw new Error(`unexpected process table columns: ${titles.join(' ')}`);
  const entries: ProcessEntry[] = [];
  for (const row of top.Processes ?? []) {
    const entry = { pid: Number(row[pid]), ppid: Number(row[ppid]), uid: Number(row[uid]), command: row[command] ?? '' };
    if (Number.isInteger(entry.pid) && Number.isInteger(entry.ppid) && Number.isInteger(entry.uid)) entries.push(entry);
  }
  return entries;
}

// OpenSSH titles its processes: the privileged monitor `sshd: USER [priv]` (root) and, once the user is
// authenticated, its child `sshd: USER@pts/N` or `sshd: USER@notty` running as the user. Before that the
// child is `sshd: USER [net]` (the sshd user), so a failed or pending login never counts. OpenSSH ≥ 9.8
// says `sshd-session:` instead of `sshd:`.
const MONITOR = /^sshd(?:-session)?: (\S+) \[priv\]$/;
const USER_SESSION = /^sshd(?:-session)?: (\S+)@\S+$/;

/**
 * Sessions where a user is logged in: a user-titled sshd process whose parent is that user's monitor
 * running under another uid. A sandbox user can name a process anything, but cannot start one under
 * another uid nor make it the child of sshd's monitor, so they cannot fake a session without logging in.
 */
export function countSshSessions(processes: readonly ProcessEntry[]): number {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  let sessions = 0;
  for (const entry of processes) {
    const user = USER_SESSION.exec(entry.command)?.[1];
    if (user === undefined) continue;
    const parent = byPid.get(entry.ppid);
    if (parent === undefined || parent.uid === entry.uid) continue;
    if (MONITOR.exec(parent.command)?.[1] === user) sessions++;
  }
  return sessions;
}
