-- wrk script: one scenario, or a weighted mix, read from environment variables.
--   BENCH_REQUESTS: file of lines "weight<TAB>method<TAB>path<TAB>body" ("-" = no body)
-- Each line's path may contain {id}, replaced by a random line of BENCH_IDS.
local requests, total = {}, 0
local ids = {}

local function lines(path)
  local found = {}
  for line in io.lines(path) do found[#found + 1] = line end
  return found
end

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  for _, line in ipairs(lines(os.getenv("BENCH_REQUESTS"))) do
    local weight, method, path, body = line:match("^(%d+)\t(%u+)\t([^\t]+)\t(.*)$")
    total = total + tonumber(weight)
    requests[#requests + 1] = {limit = total, method = method, path = path,
                               body = body ~= "-" and body or nil}
  end
  local ids_file = os.getenv("BENCH_IDS")
  if ids_file and ids_file ~= "" then ids = lines(ids_file) end
end

function request()
  local pick = math.random(total)
  for _, r in ipairs(requests) do
    if pick <= r.limit then
      local path = r.path
      if #ids > 0 then path = path:gsub("{id}", ids[math.random(#ids)]) end
      local headers = {}
      headers["X-Identity-Status"] = "Confirmed"
      headers["X-User-Id"] = "bench-user"
      headers["X-Project-Id"] = "bench"
      headers["X-Roles"] = "member,reader"
      headers["Content-Type"] = "application/json"
      headers["Accept"] = "application/json"
      return wrk.format(r.method, path, headers, r.body)
    end
  end
end

function done(summary, latency, requests_)
  io.write(string.format("BENCH %d %d %.1f %.1f %d\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
