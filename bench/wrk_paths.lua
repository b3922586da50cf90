-- wrk script for bench/load.py: cycle through the paths in $BENCH_PATHS (each wrk thread takes
-- every $BENCH_THREADS-th line, so no two threads send the same path), with $BENCH_METHOD,
-- $BENCH_BODY and $BENCH_AUTH (and, with $BENCH_IDEMPOTENCY=1, a fresh Idempotency-Key header on
-- every request); print one JSON line of results at the end.

local paths_file = os.getenv("BENCH_PATHS")
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH")
local idempotency = os.getenv("BENCH_IDEMPOTENCY") == "1"
local run = os.getenv("BENCH_RUN") or ""
if body == "" then body = nil end

local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

local paths = {}
local headers = {}
local position = 0

function init(args)
  local n = 0
  for line in io.lines(paths_file) do
    if line ~= "" then
      if n % nthreads == tid then table.insert(paths, line) end
      n = n + 1
    end
  end
  if #paths == 0 then
    for line in io.lines(paths_file) do
      if line ~= "" then table.insert(paths, line) end
    end
  end
  if auth ~= nil and auth ~= "" then headers["Authorization"] = auth end
  if body ~= nil then headers["Content-Type"] = "application/json" end
end

local sent = 0
function request()
  position = position + 1
  if position > #paths then position = 1 end
  if idempotency then
    sent = sent + 1
    headers["Idempotency-Key"] = "bench-" .. run .. "-" .. tid .. "-" .. sent
  end
  return wrk.format(method, paths[position], headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"status": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
