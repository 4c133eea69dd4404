// Plugs the FL coordinator into the daemon: agent API, SQLite state, server events, admin methods fl.train/status/join/export/client_updates/resume/cancel.
import type { DaemonExtension } from './daemon-context.js';
import { AdminError } from './admin-channel.js';
import { FlStore } from '../database/fl-store.js';
import { FlCoordinator, TrainingControlError, type FlEventName } from '../fl/coordinator/fl-coordinator.js';
import { SandboxClientHost } from '../fl/coordinator/sandbox-client-host.js';
import type { TrainingRequestInput } from '../fl/coordinator/training-request.js';
import { flAgentTransport } from './fl-transport-factory.js';

type Listener = (name: FlEventName, payload: Record<string, unknown>) => void;

export const flDaemonExtension: DaemonExtension = async ({ config, server, database, virtualization, logger, admin }) => {
  if (!config.fl.enabled) return;
  const store = new FlStore(database);
  const listeners = new Set<Listener>();
  const reserve = server.reserveSandboxSlot.bind(server);
  const transport = flAgentTransport(config, virtualization, logger);
  const coordinator = new FlCoordinator({
    host: new SandboxClientHost({
      virtualization,
      logger,
      ...(config.fl.advertise_address === null ? {} : { advertiseAddress: config.fl.advertise_address }),
      reserveSlot: reserve,
      // FL sandboxes go through the same created/destroyed events as clients' sandboxes, marked with `fl`.
      announcer: {
        created: (sandbox, fl) => server.announceSandboxCreated(sandbox, fl),
        destroyed: (sandbox, fl, reason) => server.announceSandboxDestroyed(sandbox, fl, reason),
      },
    }),
    dataDir: config.fl.data_dir,
    listenPort: config.fl.listen_port,
    store,
    logger,
    resumeOnStart: config.fl.resume_on_start,
    ...(transport ? { transport } : {}),
    emit: (name, payload) => {
      void server.emitEvent(name, payload);
      for (const l of listeners) l(name, payload);
    },
  });
  // The agent API binds the sandbox network's gateway, known once the backend is up: start now or at the first training.
  let started: Promise<void> | undefined;
  const ensureStarted = (): Promise<void> => {
    started ??= coordinator.start().catch((e: Error) => {
      started = undefined;
      throw new AdminError(`the FL coordinator cannot start: ${e.message}`);
    });
    return started;
  };
  await ensureStarted().catch((e: Error) => logger.warn(`${e.message}; retrying at the first training`));

  admin.register('fl.train', async (params, ctx) => {
    await ensureStarted();
    let id: string;
    try {
      id = coordinator.startTraining(params as unknown as TrainingRequestInput);
    } catch (e) {
      throw new AdminError((e as Error).message);
    }
    const forward: Listener = (name, payload) => {
      if (payload.training_uuid === id) ctx.notify({ name, ...payload });
    };
    listeners.add(forward);
    const onAbort = () => coordinator.cancelTraining(id);
    // The caller going away does not stop the training unless it asked for it.
    if (params.cancel_on_disconnect === true) ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      ctx.notify({ name: 'fl_training_accepted', training_uuid: id });
      return await coordinator.waitForTraining(id);
    } finally {
      listeners.delete(forward);
      ctx.signal.removeEventListener('abort', onAbort);
    }
  });

  admin.register('fl.status', (params) => {
    if (typeof params.id === 'string') {
      const s = coordinator.summary(params.id);
      if (!s) throw new AdminError(`no training ${params.id}`);
      return s;
    }
    return { trainings: store.listTrainings(50).map((t) => ({ training_uuid: t.uuid, status: t.status, message: t.message, final_accuracy: t.finalAccuracy, created_at: t.createdAt })) };
  });

  const needId = (method: string, params: Record<string, unknown>): string => {
    if (typeof params.id !== 'string' || params.id === '') throw new AdminError(`${method} needs an id`);
    return params.id;
  };
  const controlled = async <T>(action: () => T | Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (e) {
      if (e instanceof TrainingControlError) throw new AdminError(e.message);
      throw e;
    }
  };

  admin.register('fl.resume', async (params) => {
    const id = needId('fl.resume', params);
    await ensureStarted();
    const resumed = await controlled(() => coordinator.resumeTraining(id));
    return { training_uuid: id, resumed };
  });

  admin.register('fl.cancel', async (params) => {
    const id = needId('fl.cancel', params);
    return controlled(() => coordinator.cancel(id));
  });

  admin.register('fl.join', async (params) => {
    const id = needId('fl.join', params);
    if (params.data !== undefined && typeof params.data !== 'string') throw new AdminError('fl.join data must be a file path');
    try {
      return { training_uuid: id, client_id: await coordinator.joinTraining(id, params.data as string | undefined) };
    } catch (e) {
      throw new AdminError((e as Error).message);
    }
  });

  /** A model file as the admin channel carries it. */
  const exported = (m: { round: number; bytes: Buffer }) => ({ round: m.round, bytes: m.bytes.length, safetensors_base64: m.bytes.toString('base64') });
  const knownTraining = (method: string, params: Record<string, unknown>): string => {
    const id = needId(method, params);
    if (!coordinator.summary(id)) throw new AdminError(`no training ${id}`);
    return id;
  };

  // With `client`: that client's latest update instead of a global model.
  admin.register('fl.export', (params) => {
    if (typeof params.client === 'string') {
      const id = knownTraining('fl.export', params);
      const update = coordinator.clientUpdates(id).find((u) => u.clientId === params.client);
      if (!update) throw new AdminError(`no update from client ${params.client} in training ${id}`);
      return exported(update);
    }
    if (typeof params.id !== 'string') throw new AdminError('fl.export needs an id');
    const round = params.round === undefined ? undefined : Number(params.round);
    try {
      return exported(coordinator.exportModel(params.id, round));
    } catch (e) {
      throw new AdminError((e as Error).message);
    }
  });

  admin.register('fl.client_updates', (params) => {
    const id = knownTraining('fl.client_updates', params);
    return { training_uuid: id, clients: coordinator.clientUpdates(id).map((u) => ({ client_id: u.clientId, round: u.round, bytes: u.bytes.length })) };
  });

  return { stop: () => coordinator.stop() };
};
