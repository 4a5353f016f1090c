#!/usr/bin/env bash
# Checks the service examples in deploy/ (run by scripts/check-deploy.sh, so by .ci/run):
#   - deploy/systemd/silent-nas.service passes `systemd-analyze verify`, and
#     `systemd-analyze security --offline` rates its exposure at most MAX_EXPOSURE;
#   - deploy/nginx/silent-nas.conf passes `nginx -t` (inside a minimal nginx.conf, with a
#     throwaway self-signed certificate in place of the example's paths) and keeps the
#     upload settings docs/operations.md promises.
# A tool that is not installed is skipped with a message, unless --require is given (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

require=0
export PATH="$PATH:/usr/sbin:/sbin" # nginx lives there, off a user's PATH
[ "${1:-}" = "--require" ] && require=1
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
unit=deploy/systemd/silent-nas.service
nginx_conf=deploy/nginx/silent-nas.conf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

missing() {
  if [ "$require" = 1 ]; then
    echo "check-service: $1 is not installed (Debian package $2)" >&2
    exit 1
  fi
  echo "check-service: skipped, $1 is not installed (Debian package $2)"
}

if command -v systemd-analyze >/dev/null 2>&1; then
  # verify checks that ExecStart's binary exists: point it at one that does
  bin=$(command -v true)
  sed "s#/usr/local/bin/silent-nas#$bin#" "$unit" >"$tmp/silent-nas.service"
  out=$(systemd-analyze verify --man=no "$tmp/silent-nas.service" 2>&1) || {
    echo "$out" >&2
    echo "check-service: systemd-analyze verify failed for $unit" >&2
    exit 1
  }
  if [ -n "$out" ]; then
    echo "$out" >&2
    echo "check-service: systemd-analyze verify warned about $unit" >&2
    exit 1
  fi
  exposure=$(systemd-analyze security --offline=true --no-pager "$tmp/silent-nas.service" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -z "$exposure" ]; then
    echo "check-service: systemd-analyze security gave no exposure level" >&2
    exit 1
  fi
  if ! awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'; then
    systemd-analyze security --offline=true --no-pager "$tmp/silent-nas.service" >&2 || true
    echo "check-service: $unit exposure $exposure is above $MAX_EXPOSURE" >&2
    exit 1
  fi
  for want in 'User=silent-nas' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
    'ReadWritePaths=/var/lib/silent-nas' 'CapabilityBoundingSet=$'; do
    grep -q "^$want" "$unit" || { echo "check-service: $unit lacks $want" >&2; exit 1; }
  done
  echo "service ok: $unit verifies, exposure $exposure (at most $MAX_EXPOSURE)"
else
  missing systemd-analyze systemd
fi

if command -v nginx >/dev/null 2>&1; then
  command -v openssl >/dev/null 2>&1 || missing openssl openssl
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=nas.example.com \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
  sed -e "s#/etc/letsencrypt/live/nas.example.com/fullchain.pem#$tmp/cert.pem#" \
    -e "s#/etc/letsencrypt/live/nas.example.com/privkey.pem#$tmp/key.pem#" \
    "$nginx_conf" >"$tmp/silent-nas.conf"
  cat >"$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    include $tmp/silent-nas.conf;
}
CONF
  if ! out=$(nginx -t -q -e stderr -p "$tmp" -c "$tmp/nginx.conf" 2>&1); then
    echo "$out" >&2
    echo "check-service: nginx -t failed for $nginx_conf" >&2
    exit 1
  fi
  if [ -n "$out" ]; then
    echo "$out" >&2
    echo "check-service: nginx -t warned about $nginx_conf" >&2
    exit 1
  fi
  for want in 'client_max_body_size 0;' 'proxy_request_buffering off;' 'proxy_buffering off;' \
    'proxy_read_timeout' 'ssl_protocols TLSv1.2 TLSv1.3;' 'return 301 https://'; do
    grep -q "$want" "$nginx_conf" || { echo "check-service: $nginx_conf lacks $want" >&2; exit 1; }
  done
  echo "nginx ok: $nginx_conf passes nginx -t"
  # the cluster's load balancer (deploy/cluster/nginx.conf), the same way
  cluster_conf=deploy/cluster/nginx.conf
  sed -e "s#/etc/letsencrypt/live/nas.example.com/fullchain.pem#$tmp/cert.pem#" \
    -e "s#/etc/letsencrypt/live/nas.example.com/privkey.pem#$tmp/key.pem#" \
    "$cluster_conf" >"$tmp/silent-nas.conf"
  if ! out=$(nginx -t -q -e stderr -p "$tmp" -c "$tmp/nginx.conf" 2>&1) || [ -n "$out" ]; then
    echo "$out" >&2
    echo "check-service: nginx -t failed or warned for $cluster_conf" >&2
    exit 1
  fi
  for want in 'client_max_body_size 0;' 'proxy_request_buffering off;' 'proxy_buffering off;' \
    'least_conn;' 'proxy_set_header Host $http_host;'; do
    grep -qF "$want" "$cluster_conf" || { echo "check-service: $cluster_conf lacks $want" >&2; exit 1; }
  done
  echo "nginx ok: $cluster_conf passes nginx -t"
else
  missing nginx nginx
fi
