-- wrk script: GET /ask cycling through real questions, one URL-encoded path per line of the file given after `--`.
-- wrk only flags status >= 400, so each thread counts every non-2xx itself and done() prints one JSON line.

-- Globals, not locals: done() reads non2xx from each thread's own Lua state with thread:get.
paths, counter, non2xx = {}, 0, 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(paths, line) end
  end
  -- Threads start at different questions so they do not ask in lockstep.
  counter = math.random(#paths)
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, '
      .. '"p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
