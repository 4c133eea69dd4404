// A Logger that keeps its lines, so tests can assert what was logged (and that secrets were not).
import type { Logger } from '../../src/shared/logger.js';

export interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
}

export class MemoryLogger implements Logger {
  readonly lines: LogLine[] = [];
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.message}`).join('\n');
  }
  clear(): void {
    this.lines.length = 0;
  }
}
