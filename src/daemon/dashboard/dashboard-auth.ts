// Dashboard logins: one-time login tokens (from `dashboard-url`) and the sessions they open, both kept only as SHA-256 hashes.
import { createHash, randomBytes } from 'node:crypto';

/** A login URL is meant to be opened right away. */
export const LOGIN_TOKEN_TTL_MS = 5 * 60_000;

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const secret = () => randomBytes(32).toString('base64url');

export class DashboardAuth {
  /** hash → expiry (unix ms). A leaked memory dump holds no usable token or cookie. */
  private readonly loginTokens = new Map<string, number>();
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly sessionTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  issueLoginToken(): string {
    this.prune();
    const token = secret();
    this.loginTokens.set(hash(token), this.now() + LOGIN_TOKEN_TTL_MS);
    return token;
  }

  /** Spends a login token (whatever the outcome): a new session id, or undefined when it is unknown, used or expired. */
  redeem(token: string): string | undefined {
    const key = hash(token);
    const expiry = this.loginTokens.get(key);
    this.loginTokens.delete(key);
    if (expiry === undefined || expiry <= this.now()) return undefined;
    const session = secret();
    this.sessions.set(hash(session), this.now() + this.sessionTtlMs);
    return session;
  }

  isValidSession(session: string | undefined): boolean {
    if (session === undefined) return false;
    const expiry = this.sessions.get(hash(session));
    return expiry !== undefined && expiry > this.now();
  }

  get sessionTtlSeconds(): number {
    return Math.floor(this.sessionTtlMs / 1000);
  }

  private prune(): void {
    const now = this.now();
    for (const map of [this.loginTokens, this.sessions]) for (const [key, expiry] of map) if (expiry <= now) map.delete(key);
  }
}
