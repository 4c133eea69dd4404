// Errors shared by every layer: lower layers (virtualization, database) throw these, the server turns them into protocol answers.

/** Base of the project's typed errors: a stable code a caller can switch on, and a message that never carries a secret. */
export class AnweddolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The backend cannot serve the call right now (engine unreachable, no free port); the server answers `Unavailable (reason)`. */
export class BackendUnavailableError extends AnweddolError {
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super('BACKEND_UNAVAILABLE', reason, options);
  }
}
