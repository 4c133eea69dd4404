// The contract for live sandbox sessions; only hashes of the uuid and client token are ever stored.

export interface SessionRecord {
  id: number;
  /** Unix milliseconds. */
  createdAt: number;
  containerUuidSha256: string;
  clientTokenSha256: string;
  containerId: string;
  port: number;
  state: 'running' | 'destroying';
}

export type NewSession = Omit<SessionRecord, 'id'>;

export interface SessionStore {
  insert(session: NewSession): SessionRecord;
  findByUuidHash(containerUuidSha256: string): SessionRecord | undefined;
  findByContainerId(containerId: string): SessionRecord | undefined;
  setState(id: number, state: SessionRecord['state']): void;
  deleteById(id: number): void;
  list(): SessionRecord[];
  count(): number;
}
