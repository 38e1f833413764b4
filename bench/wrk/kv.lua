-- wrk workload shared by bench/compare-etcd for raftd and etcd (v2 keys API).
-- Environment: SYSTEM = raftd | etcd; OP = put | get | lease | stale | fill; KEYS (default 10000);
-- THREADS = wrk's -t (fill spreads the keys over the threads).
-- put:   PUT of a 100-byte value to a uniformly random key
-- get:   linearizable GET of a random key (raftd default consistency; etcd quorum=true)
-- lease: raftd lease read (?consistency=lease); no etcd equivalent
-- stale: raftd local read (?consistency=stale): no consensus at all, so the ceiling
--        the HTTP serving path alone sets on any read
-- fill:  PUT every key once, in order, spread over the threads (run before the reads)
local system = os.getenv("SYSTEM") or "raftd"
local op = os.getenv("OP") or "put"
local keys = tonumber(os.getenv("KEYS") or "10000")
local stride = tonumber(os.getenv("THREADS") or "1")
local value = string.rep("v", 100)
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local function format_request(key)
  if system == "etcd" then
    if op == "put" or op == "fill" then
      return wrk.format("PUT", "/v2/keys/" .. key, {["Content-Type"] = "application/x-www-form-urlencoded"},
                        "value=" .. value)
    end
    return wrk.format("GET", "/v2/keys/" .. key .. "?quorum=true")
  end
  if op == "put" or op == "fill" then return wrk.format("PUT", "/v1/kv/" .. key, nil, value) end
  if op == "lease" then return wrk.format("GET", "/v1/kv/" .. key .. "?consistency=lease") end
  if op == "stale" then return wrk.format("GET", "/v1/kv/" .. key .. "?consistency=stale") end
  return wrk.format("GET", "/v1/kv/" .. key)
end

function init(args)
  math.randomseed(os.time() * 1000 + (id or 0))
  counter = 0
  -- Every request is built once here: per request the client then only picks one.
  -- The client shares the 2-core machine with the cluster it drives, and building
  -- each request in Lua (wrk.format) was 11% of wrk's samples at 60k GETs/s: CPU
  -- taken from whichever server is measured, the more the faster it answers.
  requests = {}  -- requests[k + 1] is the one for key k
  for k = 0, keys - 1 do requests[k + 1] = format_request("key" .. k) end
end

function request()
  if op == "fill" then
    local k = (counter * stride + (id or 0)) % keys
    counter = counter + 1
    return requests[k + 1]
  end
  return requests[math.random(keys)]
end
