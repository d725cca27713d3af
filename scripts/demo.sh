#!/usr/bin/env bash
# make demo: the whole product on one machine, on loopback only.
#   1. a test PKI (CA, broker and client certificates) in a temporary folder,
#   2. a real mosquitto broker with mutual TLS and a password on 127.0.0.1,
#   3. the built-in simulated Microstar meter (dlms-bridge simulate) on 127.0.0.1,
#   4. the agent (dlms-bridge run) configured exactly as a gateway would be, through the seed's variables,
#   5. a subscriber that prints every message as it arrives,
# then stops everything it started. DEMO_MESSAGES readings (default 5) end it; DEMO_TIMEOUT bounds it.
set -euo pipefail

bin=${1:?usage: demo.sh path/to/dlms-bridge}
root=$(cd "$(dirname "$0")/.." && pwd)
messages=${DEMO_MESSAGES:-5}
timeout_s=${DEMO_TIMEOUT:-90}
work=$(mktemp -d "${TMPDIR:-/tmp}/dlms-bridge-demo.XXXXXX")
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until FILE contains PATTERN (a process announcing readiness), or fails after SECONDS.
wait_for_line() { # file pattern seconds what
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        if ((SECONDS >= deadline)); then echo "demo: $4 did not start; its log:" >&2; cat "$1" >&2; exit 1; fi
        sleep 0.1
    done
}

say "test PKI and broker credentials"
"$root/Tests/system/pki.sh" "$work/pki" demo demo-secret >/dev/null
mqtt_port=$(free_port)
cat >"$work/pki/mosquitto.conf" <<EOF
per_listener_settings false
listener $mqtt_port 127.0.0.1
cafile $work/pki/ca.crt
certfile $work/pki/server.crt
keyfile $work/pki/server.key
require_certificate true
password_file $work/pki/passwd
allow_anonymous false
persistence false
log_dest stderr
EOF
# Started as root, mosquitto drops to its own user: let it read its files.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then chown -R mosquitto "$work/pki"; chmod 755 "$work"; fi

say "mosquitto with mutual TLS on 127.0.0.1:$mqtt_port"
mosquitto -c "$work/pki/mosquitto.conf" >"$work/broker.log" 2>&1 &
pids+=($!)
wait_for_line "$work/broker.log" " running" 10 "mosquitto"

say "simulated Microstar meter"
"$bin" simulate --host 127.0.0.1 --port 0 >"$work/meter.log" 2>&1 &
pids+=($!)
wait_for_line "$work/meter.log" "listening on" 10 "the simulated meter"
meter_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/meter.log" | head -1)
echo "meter on 127.0.0.1:$meter_port (client SAP 1, password 22222222, server logical 0 / physical 1)"

say "subscriber: meters/#"
mosquitto_sub -h localhost -p "$mqtt_port" --cafile "$work/pki/ca.crt" --cert "$work/pki/client.crt" \
    --key "$work/pki/client.key" -u demo -P demo-secret -t 'meters/+/telemetry' -v -C "$messages" \
    -W "$timeout_s" >"$work/messages.txt" 2>"$work/sub.log" &
sub=$!
pids+=($sub)

say "agent: dlms-bridge run (configured by the seed's variables plus TLS)"
cat >"$work/dlms-bridge.env" <<EOF
DLMS_HOST=127.0.0.1
DLMS_PORT=$meter_port
DLMS_CLIENT_SAP=1
DLMS_SERVER_LOGICAL=0
DLMS_SERVER_PHYSICAL=1
DLMS_PASSWORD=22222222
DLMS_MEASUREMENTS=["voltage_l1", "current_l1", "frequency", "active_power_import", "active_energy_import"]
MQTT_HOST=localhost
MQTT_PORT=$mqtt_port
MQTT_CLIENT_ID=dlms-bridge-demo
MQTT_TOPIC=meters/{device_id}/telemetry
MQTT_TLS_CA=$work/pki/ca.crt
MQTT_TLS_CERT=$work/pki/client.crt
MQTT_TLS_KEY=$work/pki/client.key
MQTT_USERNAME=demo
MQTT_PASSWORD=demo-secret
DEVICE_ID=microstar-001
POLL_PERIOD_S=2
SPOOL_DIR=$work/spool
EOF
sed 's/^\(DLMS_PASSWORD\|MQTT_PASSWORD\)=.*/\1=********/' "$work/dlms-bridge.env" | sed 's/^/    /'
"$bin" run --env-file "$work/dlms-bridge.env" >"$work/agent.log" 2>&1 &
agent=$!
pids+=($agent)

say "waiting for $messages readings (at most ${timeout_s}s)"
# Print messages as they arrive, until the subscriber has its count.
printed=0
while kill -0 "$sub" 2>/dev/null || [ "$printed" -lt "$(wc -l <"$work/messages.txt")" ]; do
    total=$(wc -l <"$work/messages.txt")
    if [ "$total" -gt "$printed" ]; then
        sed -n "$((printed + 1)),${total}p" "$work/messages.txt"
        printed=$total
    fi
    if ! kill -0 "$agent" 2>/dev/null; then
        echo "demo: the agent exited; its log:" >&2; cat "$work/agent.log" >&2; exit 1
    fi
    sleep 0.2
done
wait "$sub" || true
got=$(wc -l <"$work/messages.txt")

say "stopping the agent (SIGTERM: release, DISC, flush the spool, disconnect)"
kill -TERM "$agent"
wait "$agent" || true
echo "--- agent log (last lines) ---"
tail -n 15 "$work/agent.log"

if [ "$got" -lt "$messages" ]; then
    echo "demo: only $got of $messages readings arrived; subscriber said:" >&2
    cat "$work/sub.log" >&2
    exit 1
fi
say "demo done: $got readings went meter -> agent -> spool -> TLS broker -> subscriber"
