-- loadtest.lua: wrk script of loadtest.sh.
--
-- Every request carries "Authorization: Bearer KEY", the keys taken in turn
-- from the file named by KEYS_FILE (one a line), so that the server sees
-- several hundred distinct keys. LOAD_PATH is the request path. Each wrk
-- thread starts at a different place in the list.
--
-- done() prints one machine-readable line:
--   RESULT requests=N seconds=S rps=R p50_us=… p90_us=… p99_us=… mean_us=… non2xx=N socket_errors=N

local keys = {}
local path = os.getenv("LOAD_PATH") or "/"
local file = os.getenv("KEYS_FILE")
if file then
  for line in io.lines(file) do
    if #line > 0 then
      keys[#keys + 1] = "Bearer " .. line
    end
  end
end

local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

-- The requests are formatted once, in init, so that the client spends as
-- little CPU per request as it can: on a small machine wrk and the server
-- share the CPUs.
local reqs = {}
local i = 0
function init(args)
  if #keys == 0 then
    error("no keys: set KEYS_FILE")
  end
  for k = 1, #keys do
    reqs[k] = wrk.format("GET", path, { ["Authorization"] = keys[k] })
  end
  i = ((tid or 0) * 97) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f non2xx=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    e.status, e.connect + e.read + e.write + e.timeout))
end
