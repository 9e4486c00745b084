-- wrk script: signed GitHub-style deliveries (X-Hub-Signature-256 over the exact body).
--   wrk ... -s bench/deliveries.lua <url> -- <path> <body bytes> <pool|unique> <secret> <nonce>
-- pool:   64 pre-signed deliveries, cycled (for peers with replay protection off);
-- unique: every request a new body and signature, never reused (replay protection on); the
--         nonce keeps bodies unique across runs too.
-- Signing uses libcrypto through LuaJIT FFI, on wrk's own CPU, outside the measured proxy.
local ffi = require("ffi")
ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *md, const void *key, int key_len, const unsigned char *d,
                    size_t n, unsigned char *out, unsigned int *out_len);
]]
local loaded, C = pcall(ffi.load, "libcrypto.so.3")
if not loaded then C = ffi.load("crypto") end

local out = ffi.new("unsigned char[32]")
local out_len = ffi.new("unsigned int[1]")
local thread_count = 0
local path, size, mode, secret, nonce, pool, next_index, counter, pad

local function signature(body)
  C.HMAC(C.EVP_sha256(), secret, #secret, body, #body, out, out_len)
  local hex = {}
  for i = 0, 31 do hex[i + 1] = string.format("%02x", out[i]) end
  return "sha256=" .. table.concat(hex)
end

local function delivery(n)
  local head = '{"delivery":"' .. nonce .. "-" .. wrk.thread_id .. "-" .. n .. '","pad":"'
  local body = head .. pad:sub(1, size - #head - 2) .. '"}'
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-Hub-Signature-256"] = signature(body),
  }, body)
end

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  wrk.thread_id = thread_id or 0
  path, size, mode, secret = args[1], tonumber(args[2]), args[3], args[4]
  nonce = args[5] or tostring(os.time())
  pad = string.rep("x", size)
  counter, next_index = 0, 0
  if mode == "pool" then
    pool = {}
    for i = 1, 64 do pool[i] = delivery(i) end
  end
end

function request()
  if pool then
    next_index = next_index % #pool + 1
    return pool[next_index]
  end
  counter = counter + 1
  return delivery(counter)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
