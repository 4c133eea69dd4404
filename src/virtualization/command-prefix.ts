// Runs a program here or on another machine through a command prefix (`[btrfs]`, `[ssh, root@node, btrfs]`, `[ip, netns, exec, NS, iptables]`): execFile, no shell.
import { execFile } from 'node:child_process';

/** Runs the prefixed program with these arguments; resolves with stdout, rejects with the last line of stderr. */
export type CommandExec = (args: string[]) => Promise<string>;

export function commandPrefixExec(command: readonly string[], timeoutMs: number): CommandExec {
  const [binary, ...prefix] = command;
  if (binary === undefined) throw new RangeError('empty command prefix');
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(binary, [...prefix, ...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${binary} not found` : stderr.trim().split('\n').pop() || error.message;
        reject(new Error(why, { cause: error }));
      });
    });
}
