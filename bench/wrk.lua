-- wrk script for bench/run.py; everything comes from the environment so one script serves every row.
--   BENCH_METHOD   GET, POST, ... ("FAVORITE" alternates POST and DELETE, so every request writes)
--   BENCH_PATHS    space-separated paths, taken in turn
--   BENCH_TOKEN    a JWT sent as "Authorization: Token ..." when set
--   BENCH_BODY     "article" or "comment": a fresh JSON body per request
-- done() prints one line "BENCH_JSON {...}" that bench/run.py parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local token = os.getenv("BENCH_TOKEN") or ""
local body_kind = os.getenv("BENCH_BODY") or ""
local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "/", "%S+") do
  table.insert(paths, path)
end

local headers = { ["Accept"] = "application/json" }
if token ~= "" then
  headers["Authorization"] = "Token " .. token
end
if body_kind ~= "" then
  headers["Content-Type"] = "application/json"
end

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

local n = 0
function request()
  n = n + 1
  local index = (n - 1) % #paths
  local path = paths[index + 1]
  local verb = method
  if method == "FAVORITE" then
    -- First pass over the paths favorites, the next unfavorites, and so on.
    local pass = math.floor((n - 1) / #paths)
    verb = (pass % 2 == 0) and "POST" or "DELETE"
  end
  local body = nil
  local id = tostring(thread_id or 0) .. "-" .. tostring(n)
  if body_kind == "article" then
    body = '{"article":{"title":"Bench article ' .. id .. '","description":"Written by the benchmark",'
      .. '"body":"A short body for article ' .. id .. '.","tagList":["bench","load"]}}'
  elseif body_kind == "comment" then
    body = '{"comment":{"body":"Benchmark comment ' .. id .. '"}}'
  end
  return wrk.format(verb, path, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
