-- wrk script: each request picks one line of $BENCH_TARGETS ("path<TAB>etag<TAB>user-agent
-- [<TAB>authorization]", written by phonesim -etags) at random; with BENCH_MODE=304 it sends
-- If-None-Match. The authorization (Basic, the phone's provisioning credentials) is sent
-- when present.
--
-- BENCH_PREFORMAT=1 formats every target's request once, before the first request, and each
-- request is then a random pick of a ready string. Formatting per request made a table and
-- strings of garbage each time, and Lua's collector walks every live target to free it: with
-- a million targets wrk spent about twice as much CPU per request as with 10,000, on a
-- machine it shares with the server (bench/README.md, "a million phones, the load generator").
-- BENCH_READY=FILE with BENCH_THREADS=N (wrk -tN): each thread appends a line to FILE once its
-- targets are loaded, and no thread sends a request until all N have (wrk loads the threads'
-- scripts one after the other and starts each at once: with a million targets the first
-- thread polled alone for seconds, and wrk counted those polls in its req/s). A caller reads
-- the server's CPU once FILE has N lines: from then on it is the polls' alone.
local targets = {}
local mode = os.getenv("BENCH_MODE") or "200"
local preformat = os.getenv("BENCH_PREFORMAT") == "1"

local function format(path, etag, ua, auth)
  local h = { ["User-Agent"] = ua }
  if mode == "304" then h["If-None-Match"] = etag end
  if auth ~= "" then h["Authorization"] = auth end
  return wrk.format("GET", path, h)
end

for line in io.lines(os.getenv("BENCH_TARGETS")) do
  local path, etag, ua, auth = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
  if path then targets[#targets + 1] = { path, etag, ua, auth } end
end

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init()
  math.randomseed(seed or os.time())
  if preformat then
    -- Here, not as the script loads: wrk sets the Host header only then.
    for i, t in ipairs(targets) do targets[i] = format(t[1], t[2], t[3], t[4]) end
    collectgarbage()
  end
  local ready = os.getenv("BENCH_READY")
  if ready then
    local f = io.open(ready, "a")
    f:write("ready\n")
    f:close()
  end
end

local ready = os.getenv("BENCH_READY")
if ready then
  local threads, go = tonumber(os.getenv("BENCH_THREADS") or "1"), false
  -- Called before each request: a wait of 10 ms until every thread is loaded, then none.
  function delay()
    if go then return 0 end
    local n = 0
    for _ in io.lines(ready) do n = n + 1 end
    go = n >= threads
    return go and 0 or 10
  end
end

function request()
  local t = targets[math.random(#targets)]
  if preformat then return t end
  return format(t[1], t[2], t[3], t[4])
end
