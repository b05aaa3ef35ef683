-- GCRA over one or more limits per key, for one or more decisions, checked and consumed
-- atomically, in order.
-- ARGV[1]: k, the number of limits.
-- ARGV[2i], ARGV[2i+1] (i = 1..k): limit i's emission interval and burst tolerance, in µs.
-- ARGV[2k+1+d] (d = 1..D): n for decision d, the events asked for (0: report only).
-- KEYS[(d-1)k+i]: the state of limit i for decision d (its theoretical arrival time, µs).
-- Returns, for each decision, {allowed (0|1), binding limit (0-based), remaining,
-- retry-after µs, reset-after µs}, concatenated.
-- A denial writes nothing. Every key written gets a TTL of at least 1 ms: the time until the
-- limit is back to its full burst, after which the key holds no information.
if redis.replicate_commands then redis.replicate_commands() end -- TIME is not deterministic

local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) * 1000000 + tonumber(t[2]) -- µs since 2017: exact in a double
local k = tonumber(ARGV[1])
local iv, tau = {}, {}
for i = 1, k do
  iv[i] = tonumber(ARGV[2 * i])
  tau[i] = tonumber(ARGV[2 * i + 1])
end

local out = {}
local newTATs = {}
for d = 1, #KEYS / k do
  local n = tonumber(ARGV[2 * k + 1 + d])
  local base = (d - 1) * k
  local allowed = true
  local best, bestRemain, bestRetry, bestReset = 1, -1, -1, 0
  for i = 1, k do
    local tat = now
    local v = redis.call('GET', KEYS[base + i])
    if v then
      tat = math.max(tonumber(v) or now, now)
    end
    local newTAT = tat + iv[i] * n
    newTATs[i] = newTAT
    local wait = newTAT - tau[i] - now
    if wait > 0 then
      if allowed or wait > bestRetry then
        best, bestRetry, bestReset = i, wait, tat - now
        bestRemain = math.floor((tau[i] - (tat - now)) / iv[i])
      end
      allowed = false
    elseif allowed then
      local remain = math.floor((tau[i] - (newTAT - now)) / iv[i])
      if bestRemain < 0 or remain < bestRemain then
        best, bestRemain, bestReset = i, remain, newTAT - now
      end
    end
  end
  local o = #out
  if allowed then
    if n > 0 then
      for i = 1, k do
        redis.call('SET', KEYS[base + i], newTATs[i], 'PX', math.max(1, math.ceil((newTATs[i] - now) / 1000)))
      end
    end
    out[o + 1], out[o + 4] = 1, 0
  else
    out[o + 1], out[o + 4] = 0, math.ceil(bestRetry)
  end
  out[o + 2], out[o + 3], out[o + 5] = best - 1, math.max(bestRemain, 0), math.ceil(bestReset)
end
return out
