import { openStore, withSseCheck, type SseCheckedStore, type SseMode } from '../store/index.js';
import type { RetryPolicy } from '../store/retry.js';
import type { ObjectStore } from '../store/types.js';
import { VFS_DEFAULTS } from '../config/defaults.js';
import type { VolumeSettings } from '../volume/settings.js';
import type { MountLog, MountStackConfig } from './config.js';

/** The mount's block store and the SSE counter telemetry reports. */
export interface MountBlockStore {
  store: ObjectStore;
  sseNotApplied(): number;
}

/**
 * The bucket store (config.openStore, default openStore), behind the proxy group when proxies are
 * configured, inside the SSE check when SSE is on (the mount's mode, or the volume's sse setting).
 */
export async function openBlockStore(config: MountStackConfig, settings: VolumeSettings, log: MountLog): Promise<MountBlockStore> {
  // --sse / --sse=require on the mount, or the volume's sse setting (which is plain --sse).
  const flagSse: SseMode = config.sse ?? 'off';
  const sseMode: SseMode = flagSse !== 'off' ? flagSse : settings.blockStore.sse ? 'on' : 'off';
  const blockStore = { ...settings.blockStore, sse: sseMode !== 'off' };
  // The retries run as long as the VFS waits for a block (--storeDeadline), not less: a bucket
  // outage shorter than that is ridden out.
  const deadlineMs = Math.max(config.vfs?.putDeadlineMs ?? VFS_DEFAULTS.putDeadlineMs, config.vfs?.getDeadlineMs ?? VFS_DEFAULTS.getDeadlineMs);
  const outage = outageLog(log);
  const direct = (config.openStore ?? ((bs) => openStore(bs, { retry: { deadlineMs, ...outage } })))(blockStore);
  const viaProxies = await withProxies(direct, config, settings, blockStore.sse, log);
  // Outermost, so each PUT is judged once whichever way it went (proxy or bucket).
  const store = sseMode === 'off' ? viaProxies : withSseCheck(viaProxies, {
    mode: sseMode,
    onNotApplied: (e) => { if (e.first) log.warn(e.message, { where: e.where, sse: sseMode }); },
  });
  return { store, sseNotApplied: () => (store as Partial<SseCheckedStore>).sseNotApplied ?? 0 };
}

/**
 * One warning when the bucket stops answering (the first retry) and one record when it answers
 * again, however many calls retry meanwhile: an outage is two log lines, not one per request.
 */
function outageLog(log: MountLog): Pick<RetryPolicy, 'onRetry' | 'onRecovered'> {
  let since: number | undefined;
  return {
    onRetry: ({ op, error }) => {
      if (since !== undefined) return;
      since = Date.now();
      log.warn(`block store not answering (${op}: ${error.message}); retrying until the block deadline`, { kind: error.kind });
    },
    onRecovered: () => {
      if (since === undefined) return;
      log.info(`block store answering again after ${Math.round((Date.now() - since) / 1000)} s`, {});
      since = undefined;
    },
  };
}

/**
 * The proxy group in front of the bucket store when `config.proxies` (`--proxy`, `-o proxy=`) or
 * the volume's `proxies` setting names proxies; otherwise the bucket store itself. The group owns
 * `direct` (closes it) and falls back to it when proxies fail (docs/PROXY.md).
 */
async function withProxies(direct: ObjectStore, config: MountStackConfig, settings: VolumeSettings, sse: boolean,
  log: MountLog): Promise<ObjectStore> {
  const proxies = config.proxies ?? settings.proxies ?? [];
  if (proxies.length === 0) return direct;
  const { openProxyGroup } = await import('../proxy/index.js');
  const credsPath = config.credsPath;
  try {
    return await openProxyGroup({
      proxies, direct, creds: config.proxyCreds ?? {}, credsFile: credsPath, sse,
      onProxyEvent: ({ proxy, state, reason }) => {
        // A 401 means this mount's proxyToken is wrong: reads go on via the bucket, but say why.
        const hint = reason && / 401\b/.test(reason) ? ` (the proxy refused proxyToken from ${credsPath})` : '';
        if (state === 'down') log.warn(`proxy ${proxy} failed, using the next proxy or the bucket: ${reason ?? 'error'}${hint}`, { proxy });
        else log.info(`proxy ${proxy} is back`, { proxy });
      },
    });
  } catch (e) {
    await direct.close().catch(() => undefined);
    throw e;
  }
}
