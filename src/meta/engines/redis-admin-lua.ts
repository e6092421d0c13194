/**
 * Lua scripts for the redis engine's admin records (volumes, tokens, sessions), so every admin
 * mutation is one atomic step. Each script touches only keys under the {flexfs} hash tag (see
 * redis-keys.ts), so it stays single-slot under Redis Cluster; a volume's own keys ({v:<id>})
 * are written or removed by separate commands, ordered so that a crash in between leaves at most
 * unreachable keys behind, never a reserved name or a half-made volume.
 * None of them parse JSON: records are built in TypeScript and the scripts compare or store them
 * whole (Lua's cjson would rewrite numbers and choke on some strings).
 */

/**
 * Name a volume. KEYS: volnames, volumes. ARGV: name, id, settings JSON.
 * 1 = created, 0 = the name is taken (nothing written).
 */
export const CREATE_VOLUME_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

/**
 * Forget a volume and the tokens and sessions bound to it. KEYS: volumes, volnames, tokens,
 * tokhash, sessions, sessexp. ARGV: id, name, count of tokens T, T pairs (token id, hash), then
 * session ids. 1 = deleted, 0 = no such volume (nothing changed).
 */
export const DELETE_VOLUME_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
local t = tonumber(ARGV[3])
for i = 4, 3 + 2 * t, 2 do
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('HDEL', KEYS[4], ARGV[i + 1])
end
for i = 4 + 2 * t, #ARGV do
  redis.call('HDEL', KEYS[5], ARGV[i])
  redis.call('ZREM', KEYS[6], ARGV[i])
end
return 1
`;

/**
 * Record a token, if its volume (when it has one) still exists. KEYS: volumes, tokens, tokhash.
 * ARGV: volume id or '', token id, token JSON, secret hash. 1 = stored, 0 = no such volume.
 */
export const CREATE_TOKEN_LUA = `
if ARGV[1] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[2])
return 1
`;

/**
 * Replace a hash field only if it still holds what the caller read. KEYS: the hash.
 * ARGV: field, expected value, new value. 1 = replaced, 0 = field gone, -1 = changed meanwhile.
 */
export const REPLACE_LUA = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cur ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/**
 * Open a session on a volume that still exists. KEYS: volumes, sessions, sessexp.
 * ARGV: volume id, session id, session JSON, expiresAt. 1 = opened, 0 = no such volume.
 */
export const OPEN_SESSION_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return 1
`;

/**
 * Extend a live session: only if its record is still the one the caller read and its deadline
 * (the expiry zset's score) has not passed, so a heartbeat racing an expiry cannot bring the
 * session back. KEYS: sessions, sessexp. ARGV: id, record read, new record, now, new expiresAt.
 * 1 = extended, 0 = gone or expired, -1 = record changed meanwhile (read again).
 */
export const HEARTBEAT_LUA = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cur ~= ARGV[2] then return -1 end
local exp = redis.call('ZSCORE', KEYS[2], ARGV[1])
if (not exp) or tonumber(exp) < tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
`;

type Script = (...keysThenArgs: (string | number)[]) => Promise<number>;

export interface AdminScripts {
  createVolume: Script;
  deleteVolume: Script;
  createToken: Script;
  replace: Script;
  openSession: Script;
  heartbeat: Script;
}

/** Register the scripts on an ioredis client (EVALSHA, loaded on first use) with fixed key counts. */
export function defineAdminScripts(r: { defineCommand(name: string, def: { lua: string; numberOfKeys: number }): void }): AdminScripts {
  const defs: Record<keyof AdminScripts, [string, number]> = {
    createVolume: [CREATE_VOLUME_LUA, 2],
    deleteVolume: [DELETE_VOLUME_LUA, 6],
    createToken: [CREATE_TOKEN_LUA, 3],
    replace: [REPLACE_LUA, 1],
    openSession: [OPEN_SESSION_LUA, 3],
    heartbeat: [HEARTBEAT_LUA, 2],
  };
  const out = {} as AdminScripts;
  for (const [name, [lua, numberOfKeys]] of Object.entries(defs) as [keyof AdminScripts, [string, number]][]) {
    const cmd = `flexfsAdmin_${name}`;
    r.defineCommand(cmd, { lua, numberOfKeys });
    out[name] = (...a) => (r as unknown as Record<string, Script>)[cmd](...a);
  }
  return out;
}
