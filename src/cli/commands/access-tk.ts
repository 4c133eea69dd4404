// `access-tk`: manage access tokens directly in the database file (the daemon need not run).
import { Option, type Command } from 'commander';
import { AccessTokenStore, type AccessTokenEntry } from '../../database/access-token-store.js';
import { AnweddolDatabase } from '../../database/database.js';
import { CliError, type CliResult } from '../cli-output.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';

interface AccessTkOptions extends CommonOptions {
  add?: boolean;
  disabled?: boolean;
  list?: boolean;
  delete?: string;
  enable?: string;
  disable?: string;
}

export const registerAccessTk: CommandRegistrar = (program: Command, ctx) => {
  const command = program
    .command('access-tk')
    .summary('manage access tokens')
    .addOption(new Option('-a, --add', 'create a token (printed once, stored as SHA-256 only)').conflicts(['list', 'delete', 'enable', 'disable']))
    .option('--disabled', 'with --add: create the token disabled')
    .addOption(new Option('-l, --list', 'list token entries (id, creation date, enabled)').conflicts(['delete', 'enable', 'disable']))
    .addOption(new Option('-d, --delete <id>', 'delete an entry').conflicts(['enable', 'disable']))
    .addOption(new Option('--enable <id>', 'enable an entry').conflicts(['disable']))
    .option('--disable <id>', 'disable an entry');
  describeCommand(command, {
    description: [
      'Manages the tokens clients must send as `access_token` when access_token.enabled is true.',
      'Works on access_token.access_token_database_file_path (default: database.file_path) directly;',
      'a running daemon sees changes at its next request. A token is shown once, at --add.',
      'The short flags are Anweddol 4.x\'s (-a, -l, -d ID), and so are the JSON keys: --add answers',
      'data.entry_id and data.access_token; --list answers data.entry_list, one [entry_id,',
      'creation_timestamp (Unix seconds), enabled (1 or 0)] per entry, and data.entries.',
    ].join('\n'),
    examples: ['anweddol-server access-tk --add', 'anweddol-server access-tk --list --json', 'anweddol-server access-tk --disable 3', 'anwdlserver access-tk -d 3'],
  });
  runCommand<AccessTkOptions>(command, async (options) => {
    const { config } = readConfig(options, ctx);
    const database = new AnweddolDatabase(config.access_token.access_token_database_file_path);
    try {
      return manage(new AccessTokenStore(database), options);
    } finally {
      database.close();
    }
  });
};

function parseId(text: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`entry id must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

function describeEntry(entry: AccessTokenEntry): Record<string, unknown> {
  return { id: entry.id, created_at: new Date(entry.createdAt).toISOString(), enabled: entry.enabled };
}

function manage(store: AccessTokenStore, options: AccessTkOptions): CliResult {
  if (options.add) {
    const { entry, token } = store.add({ enabled: !options.disabled });
    return {
      message: 'New access token created',
      data: { entry_id: entry.id, access_token: token, enabled: entry.enabled },
      lines: ['New access token created (shown only now):', `  entry id: ${entry.id}`, `  token:    ${token}`, `  enabled:  ${entry.enabled}`],
    };
  }
  if (options.list) {
    const stored = store.list();
    const entries = stored.map(describeEntry);
    // entry_list: Anweddol's rows (EntryID, CreationTimestamp, Enabled), for scripts written against it.
    const entryList = stored.map((e) => [e.id, Math.floor(e.createdAt / 1000), e.enabled ? 1 : 0]);
    return {
      message: `${entries.length} access token entr${entries.length === 1 ? 'y' : 'ies'}`,
      data: { entries, entry_list: entryList },
      lines: entries.length === 0 ? ['no access token'] : entries.map((e) => `${e.id}\t${e.created_at}\t${e.enabled ? 'enabled' : 'disabled'}`),
    };
  }
  const action = options.delete !== undefined ? 'delete' : options.enable !== undefined ? 'enable' : options.disable !== undefined ? 'disable' : undefined;
  if (action === undefined) throw new CliError('nothing to do: give one of -a/--add, -l/--list, -d/--delete ID, --enable ID, --disable ID');
  const id = parseId((options.delete ?? options.enable ?? options.disable)!);
  const done = action === 'delete' ? store.delete(id) : store.setEnabled(id, action === 'enable');
  if (!done) throw new CliError(`entry ${id} does not exist`, { entry_id: id });
  return { message: `Entry ${id} ${action === 'delete' ? 'deleted' : `${action}d`}`, data: { entry_id: id } };
}
