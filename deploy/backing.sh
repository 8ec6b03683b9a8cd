#!/usr/bin/env bash
# Backing services for the township platform: RabbitMQ (with the management plugin) and the MongoDB-compatible
# server SecantusDB. Idempotent: what already answers is left alone; what this script starts it records, and
# `down` stops only that.
#
#   deploy/backing.sh up run    RabbitMQ + SecantusDB on 127.0.0.1:27017, data in .state/mongo-data
#   deploy/backing.sh up test   RabbitMQ + SecantusDB on 127.0.0.1:27018, throwaway in-memory storage
#   deploy/backing.sh down run|test
#
# AMQP_URI with a vhost (pyamqp://guest:guest@127.0.0.1:5672/mine) gets that vhost created, so two stacks can
# share the broker without consuming each other's messages; MONGODB_URI=mongodb://127.0.0.1:<port> starts
# SecantusDB on that port.
#
# `up run` also gives each service of services.toml its own RabbitMQ user in that vhost (township-<service>, password
# AMQP_PASSWORD_<SERVICE>, a development default if unset; decision 50), through the management API as AMQP_URI's
# user: idempotent, passwords updated. A RabbitMQ this script starts has its management API on 127.0.0.1 only.
#
# Set AMQP_URI / MONGODB_URI to use servers of your own: then nothing is started for that server, it is only
# checked to answer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=$ROOT/.state
VENV=${VENV:-$ROOT/.venv}
mkdir -p "$STATE"

action=${1:-up}
mode=${2:-run}
case $mode in
  run)  mongo_port=${MONGO_PORT:-27017}; mongo_storage=$STATE/mongo-data ;;
  test) mongo_port=${TEST_MONGO_PORT:-27018}; mongo_storage=:memory: ;;
  *) echo "usage: $0 up|down run|test" >&2; exit 2 ;;
esac

state_files() {  # per mode and port, so two stacks from one checkout never stop each other's server
  started=$STATE/started-$mode-$mongo_port
  pidfile=$STATE/mongo-$mode-$mongo_port.pid
  logfile=$STATE/mongo-$mode-$mongo_port.log
}

say() { echo "backing: $*" >&2; }
fail() { echo "backing: ERROR: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port seconds what
  local i
  for ((i = 0; i < $3 * 4; i++)); do port_open "$1" "$2" && return 0; sleep 0.25; done
  return 1
}

rabbit_up() {
  if [ -n "${AMQP_URI:-}" ] && ! [[ $AMQP_URI =~ @(127\.0\.0\.1|localhost)(:5672)?/ ]]; then
    say "AMQP_URI is set to a server of yours; not starting RabbitMQ"; return 0
  fi
  local vhost=""
  if [[ ${AMQP_URI:-} =~ @(127\.0\.0\.1|localhost)(:5672)?/([^/?]+) ]]; then vhost=${BASH_REMATCH[3]}; fi
  if ! port_open 127.0.0.1 5672; then
    command -v rabbitmq-server >/dev/null || fail "RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed (apt-get install rabbitmq-server, or set AMQP_URI)"
    say "starting RabbitMQ (rabbitmq-server -detached), management on 127.0.0.1 only"
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-} $MANAGEMENT_ON_LOOPBACK" \
      rabbitmq-server -detached >/dev/null 2>&1 || true
    echo rabbitmq >>"$started"
    wait_port 127.0.0.1 5672 90 || fail "RabbitMQ did not open 127.0.0.1:5672 within 90 s; see /var/log/rabbitmq/"
  fi
  if ! port_open 127.0.0.1 15672; then
    say "enabling rabbitmq_management on 127.0.0.1 (the gateway and nameko's test fixtures use its HTTP API)"
    rabbitmqctl eval 'application:set_env(rabbitmq_management, tcp_config, [{ip, "127.0.0.1"}, {port, 15672}]).' \
      >/dev/null 2>&1 || true
    rabbitmq-plugins enable rabbitmq_management >/dev/null || fail "could not enable rabbitmq_management"
    wait_port 127.0.0.1 15672 60 || fail "RabbitMQ management API did not open 127.0.0.1:15672 within 60 s"
  fi
  if [ -n "$vhost" ] && [ "$vhost" != "%2F" ]; then
    if ! rabbitmqctl list_vhosts 2>/dev/null | grep -qx "$vhost"; then
      rabbitmqctl add_vhost "$vhost" >/dev/null && rabbitmqctl set_permissions -p "$vhost" guest ".*" ".*" ".*" >/dev/null \
        || fail "could not create the RabbitMQ vhost $vhost"
      say "created RabbitMQ vhost $vhost (a separate stack on the same broker)"
    fi
  fi
  say "RabbitMQ answers on 127.0.0.1:5672 (management on :15672)"
  management_reachable_from_outside && say "WARNING: RabbitMQ's management API also answers on $outside:15672, \
beyond this host (a broker this script did not start); bind it to this host with 'management.tcp.ip = 127.0.0.1' \
in /etc/rabbitmq/rabbitmq.conf and restart RabbitMQ" || true
  if [ "$mode" = run ]; then
    PYTHONWARNINGS=ignore "$VENV/bin/python" -m township_shared.bus provision \
      || fail "could not give the services their RabbitMQ users (python -m township_shared.bus provision)"
  fi
}

MANAGEMENT_ON_LOOPBACK='-rabbitmq_management tcp_config [{ip,"127.0.0.1"},{port,15672}]'
management_reachable_from_outside() {  # true if :15672 answers on an address of this host that is not loopback
  outside=$(hostname -I 2>/dev/null | awk '{print $1}')
  [ -n "$outside" ] && port_open "$outside" 15672
}

mongo_up() {
  if [[ ${MONGODB_URI:-} =~ ^mongodb://(127\.0\.0\.1|localhost):([0-9]+)/?$ ]]; then
    mongo_port=${BASH_REMATCH[2]}   # a local address: start SecantusDB there if nothing answers
    if [ "$mode" = run ] && [ "$mongo_port" != 27017 ]; then mongo_storage=$STATE/mongo-data-$mongo_port; fi
  elif [ -n "${MONGODB_URI:-}" ]; then
    "$VENV/bin/python" - "$MONGODB_URI" <<'PY' || fail "MONGODB_URI=$MONGODB_URI does not answer a ping"
import sys
from pymongo import MongoClient
MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000).admin.command("ping")
PY
    say "MONGODB_URI is set and answers; not starting SecantusDB"; return 0
  fi
  if port_open 127.0.0.1 "$mongo_port"; then
    say "a MongoDB-compatible server already answers on 127.0.0.1:$mongo_port"; return 0
  fi
  [ -x "$VENV/bin/secantusd-py" ] || fail "SecantusDB is not installed in $VENV (run 'make install')"
  [ "$mongo_storage" = ":memory:" ] || mkdir -p "$mongo_storage"
  say "starting SecantusDB on 127.0.0.1:$mongo_port (storage $mongo_storage)"
  # --sync-on-commit: without it a kill -9 loses the last acknowledged writes (measured: 14 of 300; decision 16)
  local durability=()
  [ "$mongo_storage" = ":memory:" ] || durability=(--sync-on-commit)
  nohup "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$mongo_port" --storage-path "$mongo_storage" \
    --log-level WARNING "${durability[@]}" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  echo mongo >>"$started"
  wait_port 127.0.0.1 "$mongo_port" 60 || fail "SecantusDB did not open 127.0.0.1:$mongo_port within 60 s; see $logfile"
}

down() {
  [ -f "$started" ] || return 0
  if grep -qx mongo "$started" && [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null && say "stopped SecantusDB (pid $pid)"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  fi
  if grep -qx rabbitmq "$started"; then
    rabbitmqctl stop >/dev/null 2>&1 && say "stopped RabbitMQ"
  fi
  rm -f "$started"
}

if [[ ${MONGODB_URI:-} =~ ^mongodb://(127\.0\.0\.1|localhost):([0-9]+)/?$ ]]; then mongo_port=${BASH_REMATCH[2]}; fi
state_files
case $action in
  up) rabbit_up; mongo_up ;;
  down) down ;;
  *) echo "usage: $0 up|down run|test" >&2; exit 2 ;;
esac
