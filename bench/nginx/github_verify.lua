-- GitHub signature verification for nginx (OpenResty's lua-nginx-module), as a peer for the
-- benchmark: pre-keyed HMAC-SHA256 via libcrypto, constant-time compare, optional replay check.
local ffi = require("ffi")
local C = ffi.load("crypto")

ffi.cdef [[
typedef struct hmac_ctx_st HMAC_CTX;
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
HMAC_CTX *HMAC_CTX_new(void);
int HMAC_Init_ex(HMAC_CTX *ctx, const void *key, int len, const EVP_MD *md, void *impl);
int HMAC_CTX_copy(HMAC_CTX *dctx, HMAC_CTX *sctx);
int HMAC_Update(HMAC_CTX *ctx, const unsigned char *data, size_t len);
int HMAC_Final(HMAC_CTX *ctx, unsigned char *md, unsigned int *len);
int CRYPTO_memcmp(const void *a, const void *b, size_t len);
]]

local M = {}
local keyed, scratch
local md = ffi.new("unsigned char[32]")
local md_len = ffi.new("unsigned int[1]")
local hexdigits = "0123456789abcdef"
local hex_out = ffi.new("char[64]")

function M.init(secret)
  keyed = C.HMAC_CTX_new()
  scratch = C.HMAC_CTX_new()
  C.HMAC_Init_ex(keyed, secret, #secret, C.EVP_sha256(), nil)
end

local function deny()
  ngx.status = 401
  ngx.header["Content-Type"] = "application/json"
  ngx.print('{"error":"signature_mismatch"}')
  return ngx.exit(401)
end

function M.check(replay)
  local header = ngx.var.http_x_hub_signature_256
  if not header or #header ~= 71 or header:sub(1, 7) ~= "sha256=" then
    return deny()
  end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      body = f:read("*a")
      f:close()
    else
      body = ""
    end
  end
  C.HMAC_CTX_copy(scratch, keyed)
  C.HMAC_Update(scratch, body, #body)
  C.HMAC_Final(scratch, md, md_len)
  for i = 0, 31 do
    local b = md[i]
    hex_out[i * 2] = hexdigits:byte(bit.rshift(b, 4) + 1)
    hex_out[i * 2 + 1] = hexdigits:byte(bit.band(b, 15) + 1)
  end
  local given = header:sub(8):lower()
  if C.CRYPTO_memcmp(hex_out, given, 64) ~= 0 then
    return deny()
  end
  if replay then
    local ok, err = ngx.shared.replay:add(given, true, 300)
    if not ok then
      ngx.status = 401
      ngx.print('{"error":"replayed"}')
      return ngx.exit(401)
    end
  end
end

return M
