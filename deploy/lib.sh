# Sourced by the deploy/ scripts: podman settings that work on machines with hybrid cgroups,
# and stand-ins for the public images the image and the manifests name, made from Debian's
# packages where no registry serves them. deploy/README.md says how each stand-in differs.
# shellcheck shell=bash

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Debian root filesystems, kept between runs: making one takes a minute.
DEPLOY_CACHE=${DEPLOY_CACHE:-$PWD/target/deploy-cache}
# The example app and Redis stand-ins share one root filesystem, made once.
EXAMPLE_PACKAGES=python3,redis-server

# Installs the Debian packages named whose commands are missing: `need_packages cmd:pkg ...`.
need_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "--- installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# crun refuses hybrid cgroups and podman's default ulimits cannot be set on such machines:
# runc, cgroupfs and no default ulimits, through a containers.conf of our own ($1: a scratch
# directory). A CONTAINERS_CONF already set wins.
podman_conf() {
  [ -z "${CONTAINERS_CONF:-}" ] || return 0
  cat > "$1/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF=$1/containers.conf
}

# True when the image is here or can be pulled.
have_image() {
  podman image exists "$1" || timeout 60 podman pull --quiet "$1" >/dev/null 2>&1
}

# Prints the path of a bookworm minbase root filesystem tarball holding the packages named
# (comma-separated), making it once.
debian_tar() {
  local tar=$DEPLOY_CACHE/$SUITE-${1//,/-}.tar
  if [ ! -s "$tar" ]; then
    mkdir -p "$DEPLOY_CACHE"
    mmdebstrap --quiet --format=tar --variant=minbase --include="$1" "$SUITE" "$tar.part" "$MIRROR" >&2
    mv "$tar.part" "$tar"
  fi
  echo "$tar"
}

# The example app of the manifests: an echo server answering every request with a JSON
# description of it (method, path, query, headers, body) on $HTTP_PORT (default 8080), and
# waiting first when the request asks with `x-set-response-delay-ms`, as the public image does;
# on SIGTERM it finishes the requests in flight and exits.
stand_in_echo() {
  local image=docker.io/mendhak/http-https-echo:31 work=$1
  have_image "$image" && return 0
  echo "--- making a stand-in for $image"
  local root=$work/echo-root
  mkdir -p "$root"
  tar -C "$root" -xf "$(debian_tar "$EXAMPLE_PACKAGES")"
  mkdir -p "$root/app"
  cat > "$root/app/echo.py" <<'PY'
import http.server, json, os, signal, socket, threading, time, urllib.parse

class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        delay = int(self.headers.get("x-set-response-delay-ms") or 0)
        if delay:
            time.sleep(delay / 1000)
        url = urllib.parse.urlsplit(self.path)
        reply = json.dumps({
            "path": url.path,
            "query": dict(urllib.parse.parse_qsl(url.query)),
            "method": self.command,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "os": {"hostname": socket.gethostname()},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, fmt, *args):
        print(self.command, self.path, flush=True)

port = int(os.environ.get("HTTP_PORT", "8080"))
server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Echo)
server.daemon_threads = False
# SIGTERM: stop accepting, finish the requests in flight, exit.
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
server.server_close()
PY
  tar -C "$root" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'USER 1000' --change 'WORKDIR /app' --change 'EXPOSE 8080' \
    --change 'CMD ["python3", "/app/echo.py"]' - "$image" >/dev/null
}

# The Redis the manifests name: Debian's redis-server (7.0), with the public image's
# entrypoint rule (arguments starting with `-` go to redis-server), protected mode off, /data as the working
# directory, and the redis user as uid 999.
stand_in_redis() {
  local image=docker.io/library/redis:7.4-alpine work=$1
  have_image "$image" && return 0
  echo "--- making a stand-in for $image"
  local root=$work/redis-root
  mkdir -p "$root"
  tar -C "$root" -xf "$(debian_tar "$EXAMPLE_PACKAGES")"
  cat > "$root/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
# The public image's build turns protected mode off: peers reach it over the pod network.
[ "$1" != redis-server ] || set -- "$@" --protected-mode no
exec "$@"
SH
  chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
  sed -i 's/^redis:x:[0-9]*:[0-9]*:/redis:x:999:999:/' "$root/etc/passwd"
  sed -i 's/^redis:x:[0-9]*:/redis:x:999:/' "$root/etc/group"
  mkdir -p "$root/data"
  chown 999:999 "$root/data"
  tar -C "$root" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /data' --change 'EXPOSE 6379' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["redis-server"]' \
    - "$image" >/dev/null
}

# The example secret NAME of a manifest's Secret (or compose environment), to sign with.
example_secret() { sed -n "s/^ *$2: //p" "$1" | head -1; }

# sign_for WORK ROUTE BODY: prints curl arguments (-H and a header, one per line) that sign
# BODY for the example routes `flow` and `payments`, with $FLOW_SECRET and $PAYMENTS_SECRET.
sign_for() {
  [ -f "$1/signer.yaml" ] || cat > "$1/signer.yaml" <<'YAML'
listen: 127.0.0.1:0
upstream: http://127.0.0.1:1
routes:
  - { name: flow, path: /webhooks/flow, provider: flow, secrets: [env:FLOW_SECRET] }
  - { name: payments, path: /webhooks/payments, provider: timestamped-v1, secrets: [env:PAYMENTS_SECRET] }
YAML
  local signer=target/debug/hookgate
  [ -x "$signer" ] || cargo build --quiet --locked --bin hookgate
  printf '%s' "$3" | "$signer" sign --config "$1/signer.yaml" --route "$2" | sed 's/^/-H\n/'
}

# post_to BASE PATH OUT HEADERS-FILE BODY [CURL-ARGS...]: posts BODY with the headers from
# HEADERS-FILE (as sign_for prints them) and prints the status; the answer goes to OUT.
post_to() {
  local url=$1$2 out=$3 headers=$4 body=$5 args
  shift 5
  mapfile -t args < "$headers"
  curl -s --max-time 20 -o "$out" -w '%{http_code}' "${args[@]}" "$@" --data-binary "$body" "$url"
}

# durable_smoke BASE ADMIN WORK: a signed delivery to the durable route /webhooks/orders is
# answered as queued (in Redis, whose settings the gateway checked), then reaches the app.
durable_smoke() {
  local base=$1 admin=$2 work=$3 body='{"order":99,"durable":true}' status
  sign_for "$work" flow "$body" > "$work/orders.h"
  status=$(post_to "$base" /webhooks/orders "$work/queued" "$work/orders.h" "$body")
  if [ "$status" != 200 ] || ! grep -q '"status":"queued"' "$work/queued"; then
    echo "FAIL  the durable route answered $status: $(cat "$work/queued")"
    return 1
  fi
  for _ in $(seq 200); do
    curl -s "$admin/metrics" | grep -q '^hookgate_delivery_attempts_total{route="orders",result="delivered"} 1$' && return 0
    sleep 0.05
  done
  echo "FAIL  the queued delivery did not reach the app"
  return 1
}
