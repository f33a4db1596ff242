#!/usr/bin/env bash
# Runs shellcheck over every shell script of the project (`npm run lint:shell`):
#   1. the files git knows (tracked, or new and not ignored) that end in .sh or start with a sh/bash
#      shebang, the engine templates in operator/src/engines/files/ included. A file there without a
#      shebang is an `sh -c` body or a fragment inserted into another template: checked as sh.
#   2. the scripts as mqop renders them: every ConfigMap entry starting with `#!` and every
#      `sh -c` / `bash -c` command in the golden manifests (scripts/rendered-scripts.ts), so the
#      filled-in placeholders are checked too.
# Installs shellcheck with apt-get when it is missing. Exits 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v shellcheck >/dev/null; then
  echo "lint-shell: installing shellcheck (apt-get)" >&2
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
fi

# Findings that stay, by file (source template and rendered copy alike). A template's bytes are
# what every pod runs and are hashed into its config-hash annotation, so a `# shellcheck disable`
# line cannot go into the script itself without rolling every user's pods: the exclusions live here.
excluded() {
  case $1 in
  # `echo "replica-announce-ip "$POD_NAME.<host>""` leaves $POD_NAME unquoted. A pod name is a DNS
  # label (no blanks, no glob characters), so the line writes what it means to.
  */redis*/start-redis.sh) echo SC2086 ;;
  # `for v in <voters>`: a one-pod cluster has one voter, so the loop runs once on purpose.
  */kafka*/start.sh) echo SC2043 ;;
  # A fragment uses the variables of the template it is inserted into ($conf of start-redis.sh);
  # the rendered, complete script is checked below.
  */redis/start-redis-replication.sh) echo SC2154 ;;
  esac
}

failed=0
# check FILE [SHELL]: shellcheck FILE (as SHELL when given) with its exclusions.
check() {
  local file=$1 args=(--external-sources --source-path=SCRIPTDIR) codes
  [[ -z ${2:-} ]] || args+=(--shell="$2")
  codes=$(excluded "$file")
  [[ -z $codes ]] || args+=(--exclude="$codes")
  shellcheck "${args[@]}" "$file" || failed=1
}

# 1. Files.
count=0
while IFS= read -r -d '' f; do
  [[ -f $f ]] || continue
  first=$(head -n 1 "$f")
  if [[ $first =~ ^#!.*[/\ ](ba)?sh([[:space:]]|$) ]]; then
    check "$f"
  elif [[ $f == operator/src/engines/files/*.sh ]]; then
    check "$f" sh
  elif [[ $f == *.sh ]]; then
    check "$f" # a library: it names its shell in a `# shellcheck shell=` line
  else
    continue
  fi
  count=$((count + 1))
done < <(git ls-files -z --cached --others --exclude-standard)
echo "lint-shell: $count files checked" >&2

# 2. Rendered scripts.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node_modules/.bin/node scripts/rendered-scripts.ts "$tmp" >/dev/null
count=0
while IFS= read -r -d '' f; do
  if [[ $(head -c 2 "$f") == '#!' ]]; then
    check "$f"
  elif [[ $f == *.bash ]]; then
    check "$f" bash
  else
    check "$f" sh
  fi
  count=$((count + 1))
done < <(find "$tmp" -type f -print0 | sort -z)
echo "lint-shell: $count rendered scripts checked (from operator/test/golden)" >&2

exit "$failed"
