// Per-client broker users through rabbitmqctl (`fl.rabbitmq.rabbitmqctl`): created in one definitions import, deleted at the training's end.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { userDefinitions, type BrokerUser } from './broker-route.js';

export class BrokerUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerUserError';
  }
}

export class RabbitmqctlUsers {
  /** `command`: rabbitmqctl and its leading arguments (e.g. `["rabbitmqctl", "-n", "rabbit@host"]`), run without a shell. */
  constructor(
    private readonly command: readonly string[],
    private readonly timeoutMs = 30_000,
  ) {
    if (command.length === 0 || command[0] === '') throw new BrokerUserError('the rabbitmqctl command is empty');
  }

  /** The definitions go through stdin: password hashes never appear on a command line. */
  async create(users: readonly BrokerUser[], vhost: string): Promise<void> {
    if (users.length === 0) return;
    await this.run(['import_definitions'], JSON.stringify(userDefinitions(users, vhost, () => randomBytes(4))));
  }

  /** Deletes every user, even when one fails; the first failure is thrown after. */
  async delete(names: readonly string[]): Promise<void> {
    const results = await Promise.allSettled(names.map((n) => this.run(['delete_user', n])));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private run(args: string[], input?: string): Promise<void> {
    const [program, ...lead] = this.command;
    return new Promise((resolve, reject) => {
      const child = execFile(program!, [...lead, ...args], { timeout: this.timeoutMs, maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
        if (!error) return resolve();
        const detail = String(stderr).trim().split('\n').filter(Boolean).at(-1) ?? error.message;
        reject(new BrokerUserError(`rabbitmqctl ${args[0]} failed: ${detail.slice(0, 200)}`));
      });
      child.stdin?.end(input ?? '');
    });
  }
}
