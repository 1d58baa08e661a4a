# Shared by scripts/run and scripts/test: a .venv with the locked dependencies.
# Usage: source scripts/_setup.sh [extra]   (extra: "test" for the test extras)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
extra="${1:-}"
spec="."
[ -n "$extra" ] && spec=".[$extra]"
# A new top-level package (portal/capabilities.py) needs the editable install redone too.
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt portal/capabilities.py | sha256sum | cut -c1-16)-${extra:-base}"
if [ ! -f "$stamp" ]; then
  echo "==> installing the portal and its locked dependencies into .venv"

  # (this machine's pip configuration names local index folders that may be absent: quiet that)
  { .venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e "$spec" 2>&1; } \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
.venv/bin/portal i18n compile >/dev/null
