-- wrk script: each request picks one line of $BENCH_TARGETS ("path<TAB>etag<TAB>user-agent
-- [<TAB>authorization]", written by phonesim -etags) at random; with BENCH_MODE=304 it sends
-- If-None-Match. The authorization (Basic, the phone's provisioning credentials) is sent
-- when present.
local targets = {}
local mode = os.getenv("BENCH_MODE") or "200"
for line in io.lines(os.getenv("BENCH_TARGETS")) do
  local path, etag, ua, auth = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
  if path then targets[#targets + 1] = { path, etag, ua, auth } end
end

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init()
  math.randomseed(seed or os.time())
end

function request()
  local t = targets[math.random(#targets)]
  local h = { ["User-Agent"] = t[3] }
  if mode == "304" then h["If-None-Match"] = t[2] end
  if t[4] ~= "" then h["Authorization"] = t[4] end
  return wrk.format("GET", t[1], h)
end
