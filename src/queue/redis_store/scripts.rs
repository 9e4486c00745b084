//! The Lua scripts that change the queue in Redis, each one atomic step.
//!
//! Keys, under the configured prefix `P`:
//! - `P routes`: the set of route names that ever queued a delivery here.
//! - `P s:<route>`: a stream of delivery ids ready to attempt, with the consumer group
//!   `hookgate`. An entry read by a replica stays in the group's pending list until that
//!   attempt ends, so a replica that dies mid-attempt leaves it for another to claim.
//! - `P due:<route>`: a sorted set of deliveries waiting for a retry, by due time (ms).
//! - `P ids:<route>`: a sorted set of every delivery the route holds, by arrival (ms).
//! - `P d:<id>`: a hash per delivery: its metadata and its request's bytes.
//! - `P stats`: counts (`deliveries`, `bytes`, and `<state>:<route>`), kept by the scripts.
//! - `P r:<key>`: a durable route's replay key, expiring by itself.
//!
//! Stream entries are deleted (`XDEL`) only once their attempt ended, never trimmed by
//! length, so nothing undelivered is dropped (before Redis 8.2, `MAXLEN` also drops pending
//! entries). Scripts that shrink the queue may run while Redis is at `maxmemory`
//! (`allow-oom`); the one that grows it may not, so a full Redis answers OOM.

/// KEYS: stats, routes, stream, ids, delivery, replay key (or stats again when none).
/// ARGV: id, route, request bytes, body bytes, received ms, max deliveries, max bytes,
/// replay ttl (0: no key). Returns 1 stored, 0 duplicate, -1 full.
pub(super) const ACCEPT: &str = r"#!lua
local ttl = tonumber(ARGV[8])
if ttl > 0 then
  local held = redis.call('TTL', KEYS[6])
  if held ~= -2 then
    -- A later verified copy (re-signed) stays refused as long as it could be accepted.
    if held >= 0 and held < ttl then redis.call('EXPIRE', KEYS[6], ttl) end
    return 0
  end
end
local n = tonumber(redis.call('HGET', KEYS[1], 'deliveries') or '0')
local b = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
local size = tonumber(ARGV[4])
if n + 1 > tonumber(ARGV[6]) or b + size > tonumber(ARGV[7]) then return -1 end
redis.call('HSET', KEYS[5], 'route', ARGV[2], 'state', 'pending', 'attempts', 0,
  'received', ARGV[5], 'next', ARGV[5], 'bytes', size, 'request', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
redis.pcall('XGROUP', 'CREATE', KEYS[3], 'hookgate', '0', 'MKSTREAM')
redis.call('XADD', KEYS[3], '*', 'id', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
redis.call('HINCRBY', KEYS[1], 'bytes', size)
redis.call('HINCRBY', KEYS[1], 'pending:' .. ARGV[2], 1)
if ttl > 0 then redis.call('SET', KEYS[6], 'q', 'EX', ttl) end
return 1
";

/// KEYS: stream, due, stats. ARGV: consumer, now ms, count, claim after ms, route,
/// delivery key prefix. Moves due retries into the stream, claims attempts idle past
/// `claim after` (their replica died), reads new entries, and counts an attempt on each.
/// Returns per delivery: entry, id, state, attempts (before this one), received, next,
/// status, error, bytes, redriven.
pub(super) const TAKE: &str = r"#!lua flags=allow-oom
local count = tonumber(ARGV[3])
redis.pcall('XGROUP', 'CREATE', KEYS[1], 'hookgate', '0', 'MKSTREAM')
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, count)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('XADD', KEYS[1], '*', 'id', id)
end
local out = {}
local function take(entries)
  for _, e in ipairs(entries) do
    local entry, fields = e[1], e[2]
    local id = fields and fields[2]
    local m = id and redis.call('HMGET', ARGV[6] .. id, 'state', 'attempts', 'received',
      'next', 'status', 'error', 'bytes', 'redriven')
    if not m or not m[1] then
      -- Delivered or purged meanwhile.
      redis.call('XACK', KEYS[1], 'hookgate', entry)
      redis.call('XDEL', KEYS[1], entry)
    else
      redis.call('HINCRBY', ARGV[6] .. id, 'attempts', 1)
      if m[1] ~= 'in_flight' then
        redis.call('HSET', ARGV[6] .. id, 'state', 'in_flight')
        redis.call('HINCRBY', KEYS[3], m[1] .. ':' .. ARGV[5], -1)
        redis.call('HINCRBY', KEYS[3], 'in_flight:' .. ARGV[5], 1)
      end
      out[#out + 1] = {entry, id, m[1], m[2], m[3], m[4], m[5] or '', m[6] or '', m[7],
        m[8] or ''}
    end
  end
end
local claimed = redis.call('XAUTOCLAIM', KEYS[1], 'hookgate', ARGV[1], ARGV[4], '0-0',
  'COUNT', count)
take(claimed[2])
if #out < count then
  local new = redis.call('XREADGROUP', 'GROUP', 'hookgate', ARGV[1], 'COUNT', count - #out,
    'STREAMS', KEYS[1], '>')
  if new then take(new[1][2]) end
end
return out
";

/// KEYS: stream, delivery, ids, stats. ARGV: entry (or '' when not taken), id, route.
/// Ends a delivery: delivered, or removed. Refuses (0) one in flight when not its taker.
pub(super) const FINISH: &str = r"#!lua flags=allow-oom
if ARGV[1] ~= '' then
  redis.call('XACK', KEYS[1], 'hookgate', ARGV[1])
  redis.call('XDEL', KEYS[1], ARGV[1])
end
local m = redis.call('HMGET', KEYS[2], 'state', 'bytes')
if not m[1] then return 0 end
if ARGV[1] == '' and m[1] == 'in_flight' then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'deliveries', -1)
redis.call('HINCRBY', KEYS[4], 'bytes', -tonumber(m[2]))
redis.call('HINCRBY', KEYS[4], m[1] .. ':' .. ARGV[3], -1)
return 1
";

/// KEYS: stream, delivery, due, stats. ARGV: entry (or '' when not taken), id, route, state
/// (`retrying`, `dead` or `pending`), next ms, status, error, redriven. Records a failed
/// attempt's outcome (ending the attempt), or an operator's redrive of one not in flight.
pub(super) const RESCHEDULE: &str = r"#!lua flags=allow-oom
if ARGV[1] ~= '' then
  redis.call('XACK', KEYS[1], 'hookgate', ARGV[1])
  redis.call('XDEL', KEYS[1], ARGV[1])
end
local old = redis.call('HGET', KEYS[2], 'state')
if not old then return 0 end
if ARGV[1] == '' and (old == 'in_flight' or old == 'pending') then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[4], 'next', ARGV[5], 'status', ARGV[6],
  'error', ARGV[7], 'redriven', ARGV[8])
if old ~= ARGV[4] then
  redis.call('HINCRBY', KEYS[4], old .. ':' .. ARGV[3], -1)
  redis.call('HINCRBY', KEYS[4], ARGV[4] .. ':' .. ARGV[3], 1)
end
if ARGV[4] == 'dead' then
  redis.call('ZREM', KEYS[3], ARGV[2])
else
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
end
return 1
";

/// KEYS: stream. ARGV: idle ms, this process's consumer. Deletes consumers of the group that
/// hold no pending entry and have not read for `idle ms`: replicas that stopped or died (their
/// attempts already claimed). Deleting one loses nothing, and a live replica reads every
/// 250 ms (a read recreates it anyway). Returns how many went.
pub(super) const REAP: &str = r"#!lua flags=allow-oom
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], 'hookgate')
if not ok then return 0 end
local gone = 0
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['pending'] == 0 and f['idle'] > tonumber(ARGV[1]) and f['name'] ~= ARGV[2] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], 'hookgate', f['name'])
    gone = gone + 1
  end
end
return gone
";
