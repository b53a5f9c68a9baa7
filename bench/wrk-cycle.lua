-- wrk script of `npm run bench`: sends pre-built requests, one Authorization header per line of
-- a file ("-" = no Authorization header), each thread its own disjoint share of the lines, so
-- that no nonce is ever sent twice. Optional pacing to a fixed total rate (for the latency
-- runs): a per-thread send schedule anchored on a monotonic clock (LuaJIT ffi), so sub-ms
-- intervals average out exactly. Latency is measured by wrk from the moment a request is written.
-- Environment: BENCH_FILE, BENCH_THREADS, BENCH_RATE (total req/s, 0 = as fast as possible),
-- BENCH_CYCLE (1 = reuse lines: for the baseline only, which checks no nonce), BENCH_METHOD,
-- BENCH_PATH, BENCH_HOST. (Environment, not arguments: wrk decides whether to pace by whether
-- delay() exists when the script is loaded, before init() sees any argument.)
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local idx = 0
local cycle = false
local interval = 0
local nextslot = 0
exhausted = 0
local ts

local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local rate = tonumber(os.getenv("BENCH_RATE") or "0")

function init(_)
  local file, nthreads = os.getenv("BENCH_FILE"), tonumber(os.getenv("BENCH_THREADS"))
  cycle = os.getenv("BENCH_CYCLE") == "1"
  local method, path, host = os.getenv("BENCH_METHOD"), os.getenv("BENCH_PATH"), os.getenv("BENCH_HOST")
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local headers = { Host = host }
      if line ~= "-" then headers["Authorization"] = line end
      n = n + 1
      reqs[n] = wrk.format(method, path, headers)
    end
    i = i + 1
  end
  if rate > 0 then
    ts = ffi.new("bench_timespec")
    interval = nthreads * 1000 / rate
    nextslot = now_ms()
  end
end

function request()
  idx = idx + 1
  if idx > n then
    if cycle then
      idx = 1
    else
      -- Out of unique requests: count it and resend the last one; the gateway answers 401
      -- nonce_used, so the run is reported INVALID, never silently fast.
      exhausted = exhausted + 1
      idx = n
    end
  end
  return reqs[idx]
end

if rate > 0 then
  -- Only paced runs define delay(): wrk then calls it before every request.
  function delay()
    local t = now_ms()
    local slot = nextslot
    -- Late (timer granularity is 1 ms): catch up rather than drift, within a bounded backlog.
    if slot < t - 250 then slot = t - 250 end
    nextslot = slot + interval
    if slot <= t then return 0 end
    return math.floor(slot - t)
  end
end

function done(summary, latency, requests)
  local ex = 0
  for _, t in ipairs(threads) do ex = ex + (t:get("exhausted") or 0) end
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"exhausted":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, ex,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
