#!/bin/sh
# Renders alertmanager.yml for one deployment: replaces the placeholder receiver URLs with the
# deployment's (from the environment, or from files named by *_FILE variables), copies the
# templates beside the result and, if a command follows `--`, execs it.
#   render-config.sh SRC_CONFIG OUT_DIR [-- COMMAND ARGS...]
# POSIX sh + sed only: runs in the busybox-based prom/alertmanager image (compose.yaml) and on a
# development machine. An unset URL keeps its placeholder (a warning is printed): Alertmanager
# still starts, and notifications to that receiver fail visibly - except the watchdog's: the
# always-firing heartbeat would fail every few minutes, so with ALERT_WATCHDOG_WEBHOOK_URL unset
# its webhook (the lines marked `# watchdog-webhook`) is deleted and the receiver sends nothing.
set -eu

if [ $# -lt 2 ]; then
  echo "usage: $0 SRC_CONFIG OUT_DIR [-- COMMAND ARGS...]" >&2
  exit 2
fi
src=$1
out=$2
shift 2
if [ "${1:-}" = "--" ]; then shift; fi

# value NAME: $NAME, or the contents of the file named by $NAME_FILE (trailing newlines and every
# carriage return dropped: a secret file saved with CRLF line endings works).
value() {
  eval "v=\${$1:-}"
  eval "f=\${$1_FILE:-}"
  if [ -n "$f" ]; then
    if [ ! -r "$f" ]; then
      echo "render-config: $1_FILE=$f is not readable" >&2
      exit 2
    fi
    v=$(tr -d '\r' < "$f")
  fi
  printf '%s' "$v"
}

sed_args=""
for pair in pager:ALERT_PAGER_WEBHOOK_URL chat:ALERT_CHAT_WEBHOOK_URL ticket:ALERT_TICKET_WEBHOOK_URL \
    watchdog:ALERT_WATCHDOG_WEBHOOK_URL; do
  name=${pair%%:*}
  var=${pair#*:}
  url=$(value "$var")
  case $name:$url in
    watchdog:)
      echo "render-config: $var not set; the watchdog receiver sends nothing (no dead-man's switch)" >&2
      # (no spaces or glob characters: sed_args is split unquoted below)
      sed_args="$sed_args -e /#.watchdog-webhook\$/d"
      continue ;;
  esac
  case $url in
    "") echo "render-config: $var not set; the $name receiver keeps its placeholder URL" >&2; continue ;;
    *[[:space:][:cntrl:]]*) echo "render-config: $var must not contain spaces or control characters" >&2; exit 2 ;;
    http://*|https://*) ;;
    *) echo "render-config: $var must be an http(s) URL" >&2; exit 2 ;;
  esac
  # The URL lands inside a single-quoted YAML scalar (' doubles) and a sed replacement (\ & and
  # the | delimiter are escaped).
  esc=$(printf '%s' "$url" | sed -e "s/'/''/g" -e 's/[\\&|]/\\&/g')
  sed_args="$sed_args -e /url:/s|http://$name-webhook\\.invalid/|$esc|g"
done

mkdir -p "$out"
# shellcheck disable=SC2086 # sed_args: -e expressions, split on purpose (URLs have no spaces)
sed $sed_args "$src" > "$out/alertmanager.yml.tmp"
mv "$out/alertmanager.yml.tmp" "$out/alertmanager.yml"
rm -rf "$out/templates"
cp -R "$(dirname "$src")/templates" "$out/templates"

if [ $# -gt 0 ]; then
  exec "$@"
fi
