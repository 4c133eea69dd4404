import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createLogger, redactSecrets, type LogRotationOptions } from '../../../src/server/logging.js';

describe('logging', () => {
  let dir: string;
  let logFile: string;
  let archives: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'anweddol-log-'));
    logFile = join(dir, 'log', 'server.log');
    archives = join(dir, 'archives');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const rotation = (overrides: Partial<LogRotationOptions>): LogRotationOptions => ({
    action: 'archive',
    maxLines: null,
    maxBytes: null,
    archiveDir: archives,
    maxArchives: null,
    ...overrides,
  });
  const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

  it('writes timestamp, level and message on one line', async () => {
    const logger = createLogger({ filePath: logFile });
    logger.info('server started');
    logger.warn('two\nlines');
    await logger.close();
    const [first, second] = lines(logFile);
    assert.match(first!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO server started$/);
    assert.match(second!, /WARN two lines$/);
  });

  it('drops messages below the configured level', async () => {
    const logger = createLogger({ filePath: logFile, level: 'warn' });
    logger.info('hidden');
    logger.debug('hidden');
    logger.error('shown');
    await logger.close();
    assert.equal(lines(logFile).length, 1);
  });

  it('archives the log as gzip after max lines and starts a fresh file', async () => {
    const logger = createLogger({ filePath: logFile, rotation: rotation({ maxLines: 3 }) });
    for (let i = 0; i < 7; i++) logger.info(`line ${i}`);
    await logger.close();
    const gz = readdirSync(archives).sort();
    assert.equal(gz.length, 2);
    assert.ok(gz.every((name) => name.startsWith('server.log.') && name.endsWith('.gz')));
    const firstArchive = gunzipSync(readFileSync(join(archives, gz[0]!))).toString('utf8');
    assert.deepEqual(firstArchive.split('\n').filter(Boolean).map((l) => l.split(' ').slice(2).join(' ')), ['line 0', 'line 1', 'line 2']);
    assert.deepEqual(lines(logFile).map((l) => l.split(' ').slice(2).join(' ')), ['line 6']);
  });

  it('rotates on file size', async () => {
    const logger = createLogger({ filePath: logFile, rotation: rotation({ maxBytes: 200 }) });
    for (let i = 0; i < 20; i++) logger.info(`a message of some length number ${i}`);
    await logger.close();
    assert.ok(readdirSync(archives).length >= 3);
    assert.ok(readFileSync(logFile).length < 200);
  });

  it('deletes the old log instead of archiving when asked', async () => {
    const logger = createLogger({ filePath: logFile, rotation: rotation({ maxLines: 2, action: 'delete' }) });
    for (let i = 0; i < 5; i++) logger.info(`line ${i}`);
    await logger.close();
    assert.equal(existsSync(archives), false);
    assert.deepEqual(lines(logFile).map((l) => l.split(' ').slice(2).join(' ')), ['line 4']);
  });

  it('keeps logging to the same file when rotation cannot archive, and never throws', async () => {
    writeFileSync(archives, 'a file where the archive folder should be');
    const logger = createLogger({ filePath: logFile, rotation: rotation({ maxLines: 2 }) });
    for (let i = 0; i < 5; i++) assert.doesNotThrow(() => logger.info(`line ${i}`));
    await logger.close();
    assert.deepEqual(lines(logFile).map((l) => l.split(' ').slice(2).join(' ')), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  });

  it('keeps only the newest archives', async () => {
    const logger = createLogger({ filePath: logFile, rotation: rotation({ maxLines: 1, maxArchives: 2 }) });
    for (let i = 0; i < 6; i++) {
      logger.info(`line ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await logger.close();
    const kept = readdirSync(archives).sort();
    assert.equal(kept.length, 2);
    assert.match(gunzipSync(readFileSync(join(archives, kept[1]!))).toString('utf8'), /line 5/);
  });

  it('counts the lines already in the file when it reopens it', async () => {
    const first = createLogger({ filePath: logFile, rotation: rotation({ maxLines: 4 }) });
    first.info('a');
    first.info('b');
    await first.close();
    const second = createLogger({ filePath: logFile, rotation: rotation({ maxLines: 4 }) });
    second.info('c');
    second.info('d');
    await second.close();
    assert.equal(readdirSync(archives).length, 1);
  });

  it('masks token-like strings and private keys', () => {
    const token = 'A'.repeat(124);
    assert.equal(redactSecrets(`token ${token} end`), 'token [redacted] end');
    assert.equal(redactSecrets('k -----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY----- x'), 'k [redacted private key] x');
    assert.equal(redactSecrets('sha ' + 'a'.repeat(64)), 'sha ' + 'a'.repeat(64));
  });
});
