// The sandbox servers of one docker test file: started and stopped through it, all released after the file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { removeContainersOf, removeLeftContainers } from './docker-sandbox.js';
import { startSandboxServer, type SandboxServer } from './sandbox-server.js';

/**
 * Servers over a temp folder of the file's own. After the file, every server still running is stopped, the folder
 * removed, and the containers of the server ids it started removed; with `noneLeft`, a container left fails the file.
 */
export class SandboxServerFiles {
  readonly dir: string;
  private readonly running = new Set<SandboxServer>();
  private readonly serverIds = new Set<string>();
  private databases = 0;

  constructor(name: string, private readonly options: { noneLeft: boolean }) {
    this.dir = mkdtempSync(join(tmpdir(), `anweddol-${name}-`));
    after(() => this.release());
  }

  /** A new SQLite file in the folder. */
  databaseFile(): string {
    return join(this.dir, `db-${++this.databases}.sqlite`);
  }

  /** Removes the containers of `serverId` after the file too (a server another process ran); returns it. */
  removesContainersOf(serverId: string): string {
    this.serverIds.add(serverId);
    return serverId;
  }

  async start(options: Parameters<typeof startSandboxServer>[0]): Promise<SandboxServer> {
    this.removesContainersOf(options.backend.serverId);
    const s = await startSandboxServer(options);
    this.running.add(s);
    return s;
  }

  async stop(s: SandboxServer): Promise<void> {
    this.running.delete(s);
    await s.stop();
  }

  private async release(): Promise<void> {
    for (const s of [...this.running]) await this.stop(s);
    rmSync(this.dir, { recursive: true, force: true });
    if (this.options.noneLeft) removeLeftContainers(...this.serverIds);
    else removeContainersOf(...this.serverIds);
  }
}
