-- Fixed-window or sliding-window counter over one or more limits per key, for one or more
-- decisions, checked and consumed atomically, in order.
-- ARGV[1]: k, the number of limits; ARGV[2]: 'f' (fixed window) or 's' (sliding window).
-- ARGV[1+2i], ARGV[2+2i] (i = 1..k): limit i's window length in µs and its rate.
-- ARGV[2k+2+d] (d = 1..D): n for decision d (0: report only).
-- KEYS[(d-1)k+i]: a hash {w: window index, c: count in w, p: count in w-1} for limit i of
-- decision d. Windows are aligned to the Unix epoch.
-- Returns, for each decision, {allowed (0|1), binding limit (0-based), remaining,
-- retry-after µs, reset-after µs}, concatenated. A denial writes nothing. Every key written
-- expires (PX, at least 1 ms) when it no longer counts anything.
if redis.replicate_commands then redis.replicate_commands() end -- TIME is not deterministic

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) -- µs since the epoch: exact in a double
local k = tonumber(ARGV[1])
local sliding = ARGV[2] == 's'
local win, rate = {}, {}
for i = 1, k do
  win[i] = tonumber(ARGV[1 + 2 * i])
  rate[i] = tonumber(ARGV[2 + 2 * i])
end

local function reset(W, e, c, p)
  if c > 0 and sliding then return 2 * W - e end
  if c > 0 or p > 0 then return W - e end
  return 0
end

local out = {}
local cur, prev, idx = {}, {}, {}
for d = 1, #KEYS / k do
  local n = tonumber(ARGV[2 * k + 2 + d])
  local base = (d - 1) * k
  local allowed = true
  local best, bestRemain, bestRetry, bestReset = 1, -1, -1, 0
  for i = 1, k do
    local W, R = win[i], rate[i]
    local w = math.floor(now / W)
    local e = now - w * W
    local h = redis.call('HMGET', KEYS[base + i], 'w', 'c', 'p')
    local sw = tonumber(h[1])
    local c, p = 0, 0
    if sw == w then
      c, p = tonumber(h[2]) or 0, tonumber(h[3]) or 0
    elseif sw == w - 1 then
      p = tonumber(h[2]) or 0
    end
    if not sliding then p = 0 end
    idx[i], cur[i], prev[i] = w, c, p
    local est = p * (W - e) / W + c
    if est + n > R then
      local wait
      if not sliding then
        wait = W - e
      elseif c + n <= R and p > 0 then
        wait = W - (R - c - n) * W / p - e
      else
        wait = W - e
        if c > 0 then wait = wait + math.max(W - (R - n) * W / c, 0) end
      end
      wait = math.max(wait, 1)
      if allowed or wait > bestRetry then
        best, bestRetry = i, wait
        bestRemain = math.floor(math.max(R - est, 0))
        bestReset = reset(W, e, c, p)
      end
      allowed = false
    elseif allowed then
      local remain = math.floor(R - est - n)
      if bestRemain < 0 or remain < bestRemain then
        best, bestRemain, bestReset = i, remain, reset(W, e, c + n, p)
      end
    end
  end
  local o = #out
  if allowed then
    if n > 0 then
      for i = 1, k do
        local W = win[i]
        local key = KEYS[base + i]
        redis.call('HSET', key, 'w', idx[i], 'c', cur[i] + n, 'p', prev[i])
        local life = (idx[i] + 1) * W - now
        if sliding then life = life + W end
        redis.call('PEXPIRE', key, math.max(1, math.ceil(life / 1000)))
      end
    end
    out[o + 1], out[o + 4] = 1, 0
  else
    out[o + 1], out[o + 4] = 0, math.ceil(bestRetry)
  end
  out[o + 2], out[o + 3], out[o + 5] = best - 1, math.max(bestRemain, 0), math.ceil(bestReset)
end
return out
