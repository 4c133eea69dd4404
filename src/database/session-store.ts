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
}

export type NewSession = Omit<SessionRecord, 'id' | 'clientKeyDigest'> & { clientKeyDigest?: string | null };

export interface SessionStore {
  insert(session: NewSession): SessionRecord;
  findByUuidHash(containerUuidSha256: string): SessionRecord | undefined;
  findByContainerId(containerId: string): SessionRecord | undefined;
  setState(id: number, state: SessionRecord['state']): void;
  deleteById(id: number): void;
  list(): SessionRecord[];
  count(): number;
  /** Sessions of one client (by `clientKeyDigest`). */
  countByClient(clientKeyDigest: string): number;
}
