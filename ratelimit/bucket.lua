-- Token bucket over one or more limits per key, for one or more decisions, checked and
-- consumed atomically, in order.
-- ARGV[1]: k, the number of limits.
-- ARGV[2i], ARGV[2i+1] (i = 1..k): limit i's emission interval in µs (the time one token takes
-- to refill) and its burst (the bucket's capacity, in tokens).
-- ARGV[2k+1+d] (d = 1..D): n for decision d, the tokens asked for (0: report only).
-- KEYS[(d-1)k+i]: a hash {t: tokens in the bucket at ts, ts: the last refill, µs since 2017}
-- for limit i of decision d; an absent key is a full bucket.
-- Returns, for each decision, {allowed (0|1), binding limit (0-based), remaining,
-- retry-after µs, reset-after µs}, concatenated.
-- A denial writes nothing. Every key written gets a TTL of at least 1 ms: the time until the
-- bucket is full again, after which the key holds no information.
if redis.replicate_commands then redis.replicate_commands() end -- TIME is not deterministic

local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) * 1000000 + tonumber(t[2]) -- µs since 2017: exact in a double
local eps = 1e-9 -- tokens: absorbs the rounding of the refill division, never accumulates
local k = tonumber(ARGV[1])
local iv, cap = {}, {}
for i = 1, k do
  iv[i] = tonumber(ARGV[2 * i])
  cap[i] = tonumber(ARGV[2 * i + 1])
end

local out = {}
local left = {}
for d = 1, #KEYS / k do
  local n = tonumber(ARGV[2 * k + 1 + d])
  local base = (d - 1) * k
  local allowed = true
  local best, bestRemain, bestRetry, bestReset = 1, -1, -1, 0
  for i = 1, k do
    local tokens = cap[i]
    local h = redis.call('HMGET', KEYS[base + i], 't', 'ts')
    local st, sts = tonumber(h[1]), tonumber(h[2])
    if st and sts then
      tokens = math.min(cap[i], st + (now - sts) / iv[i])
    end
    if tokens + eps < n then
      local wait = (n - tokens) * iv[i]
      if allowed or wait > bestRetry then
        best, bestRetry, bestReset = i, wait, (cap[i] - tokens) * iv[i]
        bestRemain = math.floor(tokens + eps)
      end
      allowed = false
    elseif allowed then
      left[i] = tokens - n
      local remain = math.floor(left[i] + eps)
      if bestRemain < 0 or remain < bestRemain then
        best, bestRemain, bestReset = i, remain, (cap[i] - left[i]) * iv[i]
      end
    end
  end
  local o = #out
  if allowed then
    if n > 0 then
      for i = 1, k do
        local key = KEYS[base + i]
        redis.call('HSET', key, 't', string.format('%.17g', left[i]), 'ts', string.format('%d', now))
        redis.call('PEXPIRE', key, math.max(1, math.ceil((cap[i] - left[i]) * iv[i] / 1000)))
      end
    end
    out[o + 1], out[o + 4] = 1, 0
  else
    out[o + 1], out[o + 4] = 0, math.max(1, math.ceil(bestRetry))
  end
  out[o + 2], out[o + 3], out[o + 5] = best - 1, math.max(bestRemain, 0), math.max(0, math.ceil(bestReset))
end
return out
