import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isFsError, type ErrnoName } from '../../errors/index.js';
import { hasRecordAccess, type MetaEngine, type VolumeDetails, type VolumeReport, type VolumeSpec, type VolumeUpdate } from '../engine.js';
import * as quotas from '../core/quota-admin.js';
import type { VolumeSettings } from '../types.js';
import { PROTOCOL_VERSION, SERVER_VERSION } from '../protocol/index.js';
import type { Authenticator } from './auth.js';
import type { ServerMetrics } from './metrics.js';
import { tokenSpecFrom } from './token-request.js';
import { HttpError } from '../../util/http-error.js';

/**
 * REST routes on the same listener as the RPC socket:
 *   GET  /health, /version, /metrics                       (no auth)
 *   GET  /v1/volumes              POST /v1/volumes          (admin token)
 *   GET  /v1/volumes/:nameOrId[?details=1]                  (details: + limits and usage)
 *   PATCH /v1/volumes/:nameOrId   (body: VolumeUpdate; answers the VolumeReport after it)
 *   DELETE /v1/volumes/:nameOrId[?force=1]
 *   GET  /v1/tokens               POST /v1/tokens           DELETE /v1/tokens/:id
 *   GET  /v1/sessions[?volume=…]
 *   GET  /v1/volumes/:nameOrId/quotas[?path=/dir]         (all quotas, or one)
 *   PUT  /v1/volumes/:nameOrId/quotas   (body: {path, bytes?, inodes?}; answers the quota)
 *   DELETE /v1/volumes/:nameOrId/quotas?path=/dir
 * Admin routes take `Authorization: Bearer <admin token>`. Errors are JSON {error:{code,message}}.
 */
export interface RestDeps {
  engine: MetaEngine;
  auth: Authenticator;
  metrics: ServerMetrics;
  log: Logger;
}

const MAX_BODY = 64 * 1024;

const STATUS: Partial<Record<ErrnoName, number>> = {
  ENOENT: 404, EEXIST: 409, ENOTEMPTY: 409, EINVAL: 400, ENOTDIR: 400, EACCES: 403, EPERM: 403, ENAMETOOLONG: 400, ERANGE: 400,
};

/** What admins see of a volume: everything but bucket secrets. */
export function publicSettings(v: VolumeSettings): VolumeSettings {
  const { blockPass: _p, ...blockStore } = v.blockStore;
  return { ...v, blockStore };
}

/** Settings, limits and usage (the usage counters are one cheap read). */
async function volumeReport(engine: MetaEngine, d: VolumeDetails): Promise<VolumeReport> {
  const { usedBytes, inodes } = await engine.volume(d.settings.id).statfs({ uid: 0, gid: 0 });
  return { ...publicSettings(d.settings), capacityBytes: d.capacityBytes, inodeLimit: d.inodeLimit, usage: { usedBytes, inodes } };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`, 'E2BIG');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error();
    return v;
  } catch {
    throw new HttpError(400, 'request body is not a JSON object', 'EINVAL');
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) + '\n' : String(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function bearer(req: IncomingMessage): string {
  const h = req.headers.authorization ?? '';
  return h.startsWith('Bearer ') ? h.slice(7).trim() : '';
}

export function createRestHandler(deps: RestDeps) {
  const { engine, auth, metrics } = deps;

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<string> {
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (method === 'GET' && url.pathname === '/health') { send(res, 200, { status: 'ok' }); return 'health'; }
    if (method === 'GET' && url.pathname === '/version') {
      send(res, 200, { name: 'meta.flexfs', version: SERVER_VERSION, protocol: PROTOCOL_VERSION, engine: engine.kind });
      return 'version';
    }
    if (method === 'GET' && url.pathname === '/metrics') {
      send(res, 200, await metrics.registry.metrics(), metrics.registry.contentType);
      return 'metrics';
    }
    if (parts[0] !== 'v1' || parts.length < 2) throw new HttpError(404, `no route ${method} ${url.pathname}`, 'ENOENT');
    if (!(await auth.isAdmin(bearer(req)))) {
      metrics.errors.inc({ kind: 'auth' });
      throw new HttpError(401, 'admin token required (Authorization: Bearer …)', 'EACCES');
    }
    const [, coll, id] = parts;
    if (coll === 'volumes' && id !== undefined && parts[3] === 'quotas' && parts.length === 4) {
      send(res, 200, await quotaRoute(method, id, req, url));
      return `${method} /v1/volumes/:id/quotas`;
    }
    const key = `${method} ${coll}${id !== undefined ? '/:id' : ''}`;
    switch (key) {
      case 'GET volumes': send(res, 200, (await engine.listVolumes()).map(publicSettings)); break;
      case 'POST volumes': {
        const spec = (await readJson(req)) as unknown as VolumeSpec;
        if (typeof spec.name !== 'string' || !spec.blockStore || typeof spec.blockStore.url !== 'string') {
          throw new HttpError(400, 'volume spec needs "name" and "blockStore.url"', 'EINVAL');
        }
        send(res, 201, publicSettings(await engine.createVolume(spec)));
        break;
      }
      case 'GET volumes/:id': {
        const details = url.searchParams.get('details');
        const d = await engine.volumeDetails(id);
        if (!d) throw new HttpError(404, `volume "${id}" does not exist`, 'ENOENT');
        send(res, 200, details === '1' || details === 'true' ? await volumeReport(engine, d) : publicSettings(d.settings));
        break;
      }
      case 'PATCH volumes/:id': {
        const update = (await readJson(req)) as VolumeUpdate;
        if (Object.keys(update).length === 0) {
          throw new HttpError(400, 'volume update needs at least one of capacityBytes, inodeLimit, retentionSeconds, proxies, sse', 'EINVAL');
        }
        if (!(await engine.getVolume(id))) throw new HttpError(404, `volume "${id}" does not exist`, 'ENOENT');
        const d = await engine.updateVolume(id, update);
        deps.log.info({ volume: d.settings.name, changed: Object.keys(update) }, 'volume updated');
        send(res, 200, await volumeReport(engine, d));
        break;
      }
      case 'DELETE volumes/:id': {
        const v = await engine.getVolume(id);
        if (!v) throw new HttpError(404, `volume "${id}" does not exist`, 'ENOENT');
        const force = url.searchParams.get('force');
        await engine.deleteVolume(id, force === '1' || force === 'true');
        deps.auth.invalidate();
        send(res, 200, { deleted: v.name });
        break;
      }
      case 'GET tokens': send(res, 200, await engine.listTokens()); break;
      case 'POST tokens': {
        // the body's scope checked and its subdir resolved to an inode (token-request.ts)
        const spec = await tokenSpecFrom(engine, await readJson(req));
        send(res, 201, await engine.createToken(spec));
        break;
      }
      case 'DELETE tokens/:id': await deps.auth.revoke(id); send(res, 200, { revoked: id }); break;
      case 'GET sessions': {
        const volume = url.searchParams.get('volume');
        let volumeId: string | undefined;
        if (volume) {
          const v = await engine.getVolume(volume);
          if (!v) throw new HttpError(404, `volume "${volume}" does not exist`, 'ENOENT');
          volumeId = v.id;
        }
        send(res, 200, await engine.listSessions(volumeId));
        break;
      }
      default: throw new HttpError(404, `no route ${method} ${url.pathname}`, 'ENOENT');
    }
    return `${method} /v1/${coll}${id !== undefined ? '/:id' : ''}`;
  }

  /** Directory quotas of one volume (core/quota-admin.ts), each call one transaction. */
  async function quotaRoute(method: string, volume: string, req: IncomingMessage, url: URL): Promise<unknown> {
    const v = await engine.getVolume(volume);
    if (!v) throw new HttpError(404, `volume "${volume}" does not exist`, 'ENOENT');
    if (v.nameEncryption) {
      throw new HttpError(400, `volume "${v.name}" encrypts its names: the server cannot find a directory by its path, so quotas cannot be set on it`, 'EINVAL');
    }
    if (!hasRecordAccess(engine)) throw new HttpError(501, `the ${engine.kind} engine opened here keeps no quotas (open it in-process)`, 'ENOTSUP');
    const run = <T>(fn: Parameters<typeof engine.transactRecords<T>>[1], readOnly = false) => engine.transactRecords(v.id, fn, readOnly);
    const pathParam = () => {
      const p = url.searchParams.get('path');
      if (!p) throw new HttpError(400, 'which directory? add ?path=/dir (a path in the volume)', 'EINVAL');
      return p;
    };
    switch (method) {
      case 'GET': {
        const p = url.searchParams.get('path');
        return p ? run((tx) => quotas.getQuota(tx, p), true) : run((tx) => quotas.listQuotas(tx), true);
      }
      case 'PUT': {
        const body = await readJson(req);
        if (typeof body.path !== 'string') throw new HttpError(400, 'a quota needs "path" (a directory in the volume)', 'EINVAL');
        const limits = { bytes: body.bytes as number | undefined, inodes: body.inodes as number | undefined };
        const r = await run((tx) => quotas.setQuota(tx, body.path as string, limits));
        deps.log.info({ volume: v.name, path: r.path, limits: r.limits }, 'quota set');
        return r;
      }
      case 'DELETE': {
        const p = pathParam();
        const r = await run((tx) => quotas.deleteQuota(tx, p));
        deps.log.info({ volume: v.name, path: r.path }, 'quota deleted');
        return { deleted: r.path };
      }
      default: throw new HttpError(404, `no route ${method} /v1/volumes/:id/quotas`, 'ENOENT');
    }
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let routeName = 'unknown';
    let status = 200;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      routeName = await route(req, res, url);
      status = res.statusCode;
    } catch (e) {
      if (e instanceof HttpError) status = e.status;
      else if (isFsError(e)) status = STATUS[e.code] ?? 500;
      else status = 500;
      const code = e instanceof HttpError ? e.code ?? 'EIO' : isFsError(e) ? e.code : 'EIO';
      const message = e instanceof Error ? e.message : String(e);
      if (status >= 500) deps.log.error({ url: req.url, err: message }, 'admin request failed');
      if (!res.headersSent) send(res, status, { error: { code, message } });
      else res.destroy();
    } finally {
      metrics.rest.inc({ route: routeName, status: String(status) });
    }
  };
}
