-- wrk script: GET requests for random byte ranges of one file, the same for every server.
--
-- Environment:
--   RANGE_SIZE  bytes per range; 0 = the whole file, no Range header
--   FILE_SIZE   size of the file in bytes
--   RANGE_SEED  seed of the random sequence (default 1), so both servers get the same ranges
--   COOKIE      a Cookie header to send with every request (a browser sends its session cookie)
--
-- Half the ranges start at a multiple of RANGE_SIZE ("aligned": a 64 KiB range then touches one
-- 64 KiB encryption segment), half at any byte ("unaligned": one segment more).
-- done() prints one line "WRKJSON {...}" that run.py reads.

local size = tonumber(os.getenv("RANGE_SIZE") or "0")
local total = tonumber(os.getenv("FILE_SIZE") or "0")
local seed = tonumber(os.getenv("RANGE_SEED") or "1")
local cookie = os.getenv("COOKIE") or ""
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  math.randomseed(seed + 7919 * (thread_index or 0))
  if size > total then
    size = total  -- a file smaller than the range: ranges of the whole file
  end
end

function request()
  local headers = {}
  if cookie ~= "" then
    headers["Cookie"] = cookie
  end
  if size == 0 then
    return wrk.format("GET", nil, headers)
  end
  local start
  if math.random() < 0.5 then
    start = math.random(0, math.floor((total - size) / size)) * size
  else
    start = math.random(0, total - size)
  end
  headers["Range"] = "bytes=" .. start .. "-" .. (start + size - 1)
  return wrk.format("GET", nil, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
