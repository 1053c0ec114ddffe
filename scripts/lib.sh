# Shared helpers for scripts/*. Source it; do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the project needs at build, run or test time.
DEBIAN_PACKAGES=(
  pkg-config libssl-dev libmosquitto-dev libhiredis-dev libsignal-protocol-c-dev
  redis-server mosquitto mosquitto-clients
  python3 python3-paho-mqtt python3-pytest python3-protobuf python3-cryptography python3-axolotl python3-h2 python3-venv python3-pip protobuf-compiler
  openssl procps
  chromium python3-websocket
  nginx
)

# Installs whatever in DEBIAN_PACKAGES is missing (apt-get update first).
ensure_packages() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  # Debian's mosquitto package enables a system broker on 1883; the project
  # starts its own processes and needs that port free.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
    systemctl stop mosquitto || true
  fi
  # Likewise nginx (scripts/bench-media runs its own on loopback, beside the relay).
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    systemctl stop nginx || true
  fi
}

# Debian's python3 carries python3-paho-mqtt and pytest; a python3 earlier on
# PATH (pyenv) may not.
PYTHON=/usr/bin/python3

# PyPI packages the integration tests need beyond Debian's
# (Tests/integration/requirements.txt), in a venv that also sees Debian's
# python3 packages; PYTHON is then the venv's.
ensure_python_venv() {
  local venv="$ROOT/.venv-tests"
  [[ -x "$venv/bin/python" ]] || /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/Tests/integration/requirements.txt" >&2
  PYTHON="$venv/bin/python"
}
