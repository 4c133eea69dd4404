// Errors of the coordinator's agent API: an HTTP status and a message that never carries a secret.

export class FlApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'FlApiError';
  }
}

export const unauthorized = (m = 'missing or invalid bearer token') => new FlApiError(401, m);
export const forbidden = (m: string) => new FlApiError(403, m);
export const notFound = (m: string) => new FlApiError(404, m);
export const conflict = (m: string) => new FlApiError(409, m);
export const invalid = (m: string) => new FlApiError(400, m);
export const tooLarge = (m: string) => new FlApiError(413, m);
