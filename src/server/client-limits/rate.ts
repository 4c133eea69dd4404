// Parses a rate such as "10/min" (config `container.create_rate`) into a count per period.

export interface Rate {
  /** Most events in one period, and the burst allowed after a quiet period. */
  count: number;
  periodMs: number;
}

export class RateFormatError extends Error {
  constructor(readonly text: string) {
    super(`${JSON.stringify(text)} is not a rate "N/unit" with N a positive integer and unit s, min or h (e.g. "10/min")`);
    this.name = 'RateFormatError';
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, sec: 1000, min: 60_000, h: 3_600_000, hour: 3_600_000 };
const RATE = /^\s*([1-9]\d{0,8})\s*\/\s*([a-z]+)\s*$/;

export function parseRate(text: string): Rate {
  const match = RATE.exec(text);
  const periodMs = match === null ? undefined : UNIT_MS[match[2]!];
  if (match === null || periodMs === undefined) throw new RateFormatError(text);
  return { count: Number(match[1]), periodMs };
}

export function isRate(text: string): boolean {
  try {
    parseRate(text);
    return true;
  } catch {
    return false;
  }
}
