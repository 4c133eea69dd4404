// A peer broke the wire protocol; `reason` is safe to log (never carries key or payload bytes).
export class ProtocolViolation extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ProtocolViolation';
  }
}
