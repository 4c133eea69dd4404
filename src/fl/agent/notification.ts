// Coordinator → agent notifications: the wire shape and its pure parser.

export type NotificationType = 'TRAINING_START' | 'UPDATE_ROUND_START' | 'MODEL_TEST_ROUND' | 'TRAINING_FINISHED';

export type Notification =
  | { type: 'TRAINING_START'; trainingUuid: string }
  | { type: 'UPDATE_ROUND_START'; trainingUuid: string; round: number; globalModelUuid: string }
  | { type: 'MODEL_TEST_ROUND'; trainingUuid: string; round: number; globalModelUuid: string }
  | { type: 'TRAINING_FINISHED'; trainingUuid: string };

export class NotificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotificationError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

function roundAndModel(body: Record<string, unknown>): { round: number; globalModelUuid: string } {
  const { round, global_model_uuid: model } = body;
  if (!Number.isSafeInteger(round) || (round as number) < 0) throw new NotificationError('body.round must be a non-negative integer');
  if (!isUuid(model)) throw new NotificationError('body.global_model_uuid must be a lowercase UUID');
  return { round: round as number, globalModelUuid: model };
}

/** Validates `{"notification_type", "training_uuid", "body"}`; throws NotificationError naming the bad field. */
export function parseNotification(raw: unknown): Notification {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new NotificationError('notification must be a JSON object');
  const { notification_type: type, training_uuid: trainingUuid, body } = raw as Record<string, unknown>;
  if (typeof type !== 'string') throw new NotificationError('notification_type must be a string');
  if (!isUuid(trainingUuid)) throw new NotificationError('training_uuid must be a lowercase UUID');
  const b = body === undefined || body === null ? {} : body;
  if (typeof b !== 'object' || Array.isArray(b)) throw new NotificationError('body must be an object');
  switch (type) {
    case 'TRAINING_START':
    case 'TRAINING_FINISHED':
      return { type, trainingUuid };
    case 'UPDATE_ROUND_START':
    case 'MODEL_TEST_ROUND':
      return { type, trainingUuid, ...roundAndModel(b as Record<string, unknown>) };
    default:
      throw new NotificationError(`unknown notification_type '${type.slice(0, 40)}'`);
  }
}

/** The wire form of a notification (what the coordinator sends). */
export function encodeNotification(n: Notification): Record<string, unknown> {
  const body = 'round' in n ? { round: n.round, global_model_uuid: n.globalModelUuid } : {};
  return { notification_type: n.type, training_uuid: n.trainingUuid, body };
}
