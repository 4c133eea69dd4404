// The contract for live sandbox sessions; only hashes of the uuid and client token (and an HMAC of the client) are ever stored.

export interface SessionRecord {
  id: number;
  /** Unix milliseconds. */
  createdAt: number;
  containerUuidSha256: string;
  clientTokenSha256: string;
  containerId: string;
  port: number;
  state: 'running' | 'destroying';
  /** HMAC of the client key (its address or IPv6 prefix) for the per-client limits; null for rows made before them. */
  clientKeyDigest: string | null;
  /** The id of the client that created it, as logs show it ('' for sessions older than this field). */
  clientId: string;
  /** Unix milliseconds after which the sandbox is destroyed; null = no lifetime limit. */
  expiresAt: number | null;
  /** Unix milliseconds since when no SSH session was seen open; null = one is open (or not yet probed). */
  idleSince: number | null;
}

/** Fields a new session may leave out (rows made before them have these defaults). */
type DefaultedField = 'clientKeyDigest' | 'clientId' | 'expiresAt' | 'idleSince';

/** A session to insert; `clientKeyDigest`, `expiresAt` and `idleSince` default to null, `clientId` to ''. */
export type NewSession = Omit<SessionRecord, 'id' | DefaultedField> & Partial<Pick<SessionRecord, DefaultedField>>;

export interface SessionStore {
  insert(session: NewSession): SessionRecord;
  findById(id: number): SessionRecord | undefined;
  findByUuidHash(containerUuidSha256: string): SessionRecord | undefined;
  findByContainerId(containerId: string): SessionRecord | undefined;
  setState(id: number, state: SessionRecord['state']): void;
  setExpiresAt(id: number, expiresAt: number | null): void;
  setIdleSince(id: number, idleSince: number | null): void;
  deleteById(id: number): void;
  list(): SessionRecord[];
  count(): number;
  /** Sessions of one client (by `clientKeyDigest`). */
  countByClient(clientKeyDigest: string): number;
}

/** The full record of a new session, its optional fields filled in. */
export function withSessionDefaults(session: NewSession): Omit<SessionRecord, 'id'> {
  return {
    ...session,
    clientKeyDigest: session.clientKeyDigest ?? null,
    clientId: session.clientId ?? '',
    expiresAt: session.expiresAt ?? null,
    idleSince: session.idleSince ?? null,
  };
}
