// The coordinator's HTTP API for agents (fastify, one instance per bind address): models, updates, metrics, statistics.
import fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { FlApiError, invalid, tooLarge, unauthorized } from './fl-api-error.js';

export interface UploadedUpdate {
  fields: Record<string, string>;
  file: Buffer;
}

/** What the API needs from the coordinator; `caller` is the opaque result of `authenticate`. */
export interface CoordinatorApiHandlers<C> {
  authenticate(token: string): C | undefined;
  /** Upper bound for this caller's model file, checked while streaming. */
  maxModelBytes(caller: C): number;
  getModel(caller: C, modelUuid: string): Buffer;
  acceptUpdate(caller: C, modelUuid: string, update: UploadedUpdate): void;
  acceptMetrics(caller: C, modelUuid: string, fields: Record<string, unknown>): void;
  acceptStatistics(caller: C, trainingUuid: string, body: unknown): void;
  /** The client gives no answer this round (its trainer failed), with the reason. */
  acceptFailure(caller: C, modelUuid: string, body: unknown): void;
}

export interface CoordinatorApiOptions {
  /** Hard ceiling for any multipart file, before per-training checks. */
  maxUploadBytes: number;
}

export async function buildCoordinatorApi<C>(handlers: CoordinatorApiHandlers<C>, options: CoordinatorApiOptions): Promise<FastifyInstance> {
  // JSON bodies here are metrics and feature sums: small. Model files come as multipart, capped separately.
  const app = fastify({ logger: false, bodyLimit: 256 * 1024 });
  await app.register(multipart, { limits: { fileSize: options.maxUploadBytes, files: 1, fields: 16, fieldSize: 64 * 1024, parts: 20 } });

  // Every sandbox can reach this listener: the token is checked before any body is read or parsed.
  const callers = new WeakMap<FastifyRequest, C>();
  app.addHook('onRequest', async (req) => {
    const h = req.headers.authorization;
    const c = typeof h === 'string' && h.startsWith('Bearer ') ? handlers.authenticate(h.slice(7).trim()) : undefined;
    if (c === undefined) throw unauthorized();
    callers.set(req, c);
  });
  const caller = (req: FastifyRequest): C => {
    const c = callers.get(req);
    if (c === undefined) throw unauthorized();
    return c;
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof FlApiError) return reply.code(err.statusCode).send({ error: err.message });
    if (err.code === 'FST_REQ_FILE_TOO_LARGE') return reply.code(413).send({ error: 'model file too large' });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });

  app.get<{ Params: { model: string } }>('/api/models/:model/', async (req, reply) => {
    const bytes = handlers.getModel(caller(req), req.params.model);
    return reply.code(200).type('application/octet-stream').send(bytes);
  });

  app.post<{ Params: { model: string } }>('/api/models/:model/', async (req, reply) => {
    const c = caller(req);
    if (!req.isMultipart()) throw invalid('expected multipart/form-data with a model_file');
    const limit = handlers.maxModelBytes(c);
    const fields: Record<string, string> = {};
    let file: Buffer | undefined;
    // Problems found mid-stream are raised after the body is consumed: leaving busboy paused would hang the request.
    let problem: FlApiError | undefined;
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'model_file' || file !== undefined || problem) {
          problem ??= invalid(`unexpected file field '${part.fieldname.slice(0, 40)}'`);
          await drain(part.file);
          continue;
        }
        const read = await readLimited(part.file, limit);
        if (read === undefined) problem = tooLarge(`model file larger than ${limit} bytes`);
        else file = read;
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
    if (problem) throw problem;
    if (!file) throw invalid('model_file is missing');
    handlers.acceptUpdate(c, req.params.model, { fields, file });
    return reply.code(201).send({ status: 'stored' });
  });

  app.post<{ Params: { model: string } }>('/api/models/:model/metrics/', async (req, reply) => {
    const c = caller(req);
    let fields: Record<string, unknown>;
    if (req.isMultipart()) {
      fields = {};
      let sawFile = false;
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          sawFile = true;
          await drain(part.file);
        } else fields[part.fieldname] = part.value;
      }
      if (sawFile) throw invalid('metrics take no file');
    } else {
      if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw invalid('metrics body must be a JSON object');
      fields = req.body as Record<string, unknown>;
    }
    handlers.acceptMetrics(c, req.params.model, fields);
    return reply.code(201).send({ status: 'stored' });
  });

  app.post<{ Params: { model: string } }>('/api/models/:model/failure/', async (req, reply) => {
    handlers.acceptFailure(caller(req), req.params.model, req.body);
    return reply.code(201).send({ status: 'stored' });
  });

  app.post<{ Params: { training: string } }>('/api/trainings/:training/statistics/', async (req, reply) => {
    handlers.acceptStatistics(caller(req), req.params.training, req.body);
    return reply.code(201).send({ status: 'stored' });
  });

  return app;
}

/** The whole stream, or undefined (stream drained) when it exceeds `limit` or hit the multipart ceiling. */
async function readLimited(stream: NodeJS.ReadableStream & { truncated?: boolean }, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit || stream.truncated) return undefined;
  return Buffer.concat(chunks);
}

async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  for await (const _chunk of stream) {
    // discard
  }
}
