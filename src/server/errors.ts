// Protocol answers other than OK, as one typed error: handlers throw them, the dispatcher answers them.
import type { AnweddolResponse } from './types.js';

export type AnweddolFailure =
  | 'Bad authentication'
  | 'Bad request'
  | 'Refused request'
  | 'Unavailable'
  | 'Internal error';

export class ProtocolError extends Error {
  constructor(
    readonly answer: AnweddolFailure,
    readonly reason?: string,
  ) {
    super(reason === undefined ? answer : `${answer} (${reason})`);
    this.name = 'ProtocolError';
  }

  toResponse(): AnweddolResponse {
    return { success: false, message: this.message, data: {} };
  }
}

export const badRequest = (reason?: string) => new ProtocolError('Bad request', reason);
export const badAuthentication = (reason?: string) => new ProtocolError('Bad authentication', reason);
export const refusedRequest = (reason?: string) => new ProtocolError('Refused request', reason);
export const unavailable = (reason?: string) => new ProtocolError('Unavailable', reason);
export const internalError = (reason?: string) => new ProtocolError('Internal error', reason);
