/**
 * The one generic Lua script the redis engine runs per mutating operation. ARGV[1] is msgpack of
 * {checks, writes}: every read the operation made (with what it saw) is checked first; if any
 * differs the script changes nothing and returns 0 (the engine re-runs the operation), else it
 * applies every write and returns 1. Check/write keys index into KEYS (all of one volume's hash
 * tag, so Redis Cluster routes the script to the slot that holds them).
 * Kinds — checks: get, hget, hlen, hall (a whole hash: same size, same field values;
 * order-free on purpose, Lua string order follows the server's locale).
 * writes: set, setpx, del, hset, hdel, hincr (field removed at ≤ 0), hincrc, zadd, zrem; for
 * history records (first one wins): setnx, hsetnx, zaddnx.
 */
export const APPLY_LUA = `
local req = cmsgpack.unpack(ARGV[1])
local checks, writes = req[1], req[2]
for i = 1, #checks do
  local c = checks[i]
  local kind, key = c[1], KEYS[c[2]]
  if kind == 'get' then
    if redis.call('GET', key) ~= c[3] then return 0 end
  elseif kind == 'hget' then
    if redis.call('HGET', key, c[3]) ~= c[4] then return 0 end
  elseif kind == 'hlen' then
    if redis.call('HLEN', key) ~= c[3] then return 0 end
  elseif kind == 'hall' then
    local exp = c[3]
    if redis.call('HLEN', key) * 2 ~= #exp then return 0 end
    for j = 1, #exp, 2 do
      if redis.call('HGET', key, exp[j]) ~= exp[j + 1] then return 0 end
    end
  else
    return redis.error_reply('flexfs: unknown check ' .. tostring(kind))
  end
end
for i = 1, #writes do
  local w = writes[i]
  local kind, key = w[1], KEYS[w[2]]
  if kind == 'set' then redis.call('SET', key, w[3])
  elseif kind == 'setpx' then redis.call('SET', key, w[3], 'PX', w[4])
  elseif kind == 'del' then redis.call('DEL', key)
  elseif kind == 'hset' then redis.call('HSET', key, w[3], w[4])
  elseif kind == 'hdel' then redis.call('HDEL', key, w[3])
  elseif kind == 'hincr' then
    if redis.call('HINCRBY', key, w[3], w[4]) <= 0 then redis.call('HDEL', key, w[3]) end
  elseif kind == 'hincrc' then redis.call('HINCRBY', key, w[3], w[4])
  elseif kind == 'zadd' then redis.call('ZADD', key, w[3], w[4])
  elseif kind == 'zrem' then redis.call('ZREM', key, w[3])
  elseif kind == 'setnx' then redis.call('SET', key, w[3], 'NX')
  elseif kind == 'hsetnx' then redis.call('HSETNX', key, w[3], w[4])
  elseif kind == 'zaddnx' then redis.call('ZADD', key, 'NX', w[3], w[4])
  else
    return redis.error_reply('flexfs: unknown write ' .. tostring(kind))
  end
end
return 1
`;
