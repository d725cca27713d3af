"""Home Assistant MQTT discovery against a real mosquitto, the built-in simulator and the real binary (issue 14).

What Home Assistant would see is read off the broker: every config message is parsed and checked field by field
against the MQTT sensor schema and the device_class / state_class / unit combinations of Home Assistant's sensor
documentation (encoded below), and each value template is rendered with Jinja2 (Home Assistant's template engine)
against the agent's real telemetry. Availability flips when the gateway dies (the broker's last will) and when
one meter goes down; the configs of a meter removed from the configuration are cleared at the next start.
"""
from __future__ import annotations

import json
import threading
import time
import uuid

import jinja2
import paho.mqtt.client as mqtt
import pytest

# Home Assistant's sensor device classes used here, with the state classes and units it accepts for each
# (https://www.home-assistant.io/integrations/sensor/#device-class): energy is total or total_increasing, never
# measurement; the power factor is a ratio (no unit) or %.
ALLOWED = {
    "voltage": ({"measurement"}, {"V", "mV", "kV"}),
    "current": ({"measurement"}, {"A", "mA"}),
    "frequency": ({"measurement"}, {"Hz", "kHz"}),
    "power": ({"measurement"}, {"W", "kW"}),
    "reactive_power": ({"measurement"}, {"var", "kvar"}),
    "apparent_power": ({"measurement"}, {"VA", "kVA"}),
    "power_factor": ({"measurement"}, {None, "%"}),
    "energy": ({"total", "total_increasing"}, {"Wh", "kWh", "MWh"}),
    "reactive_energy": ({"total", "total_increasing"}, {"varh", "kvarh"}),
    "duration": ({"measurement", "total", "total_increasing"}, {"ms", "s"}),
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# The MQTT sensor's configuration keys (full names; the abbreviations are not used).
SENSOR_KEYS = {"name", "unique_id", "state_topic", "value_template", "unit_of_measurement", "device_class",
               "state_class", "entity_category", "availability", "availability_mode", "device", "origin"}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "serial_number", "sw_version", "via_device"}

# What each measurement must become: (device_class, state_class, unit).
EXPECTED = {
    "voltage_l1": ("voltage", "measurement", "V"), "voltage_l2": ("voltage", "measurement", "V"),
    "voltage_l3": ("voltage", "measurement", "V"),
    "current_l1": ("current", "measurement", "A"), "current_l2": ("current", "measurement", "A"),
    "current_l3": ("current", "measurement", "A"), "current_neutral": ("current", "measurement", "A"),
    "frequency": ("frequency", "measurement", "Hz"),
    "power_factor": ("power_factor", "measurement", None), "power_factor_l1": ("power_factor", "measurement", None),
    "active_power_import": ("power", "measurement", "W"), "active_power_export": ("power", "measurement", "W"),
    "active_power_import_l1": ("power", "measurement", "W"), "active_power_export_l3": ("power", "measurement", "W"),
    "reactive_power_import": ("reactive_power", "measurement", "var"),
    "reactive_power_import_l2": ("reactive_power", "measurement", "var"),
    "apparent_power": ("apparent_power", "measurement", "VA"), "apparent_power_l3": ("apparent_power", "measurement", "VA"),
    "active_energy_import": ("energy", "total_increasing", "Wh"),
    "active_energy_export": ("energy", "total_increasing", "Wh"),
    "active_energy_import_t1": ("energy", "total_increasing", "Wh"),
    "active_energy_import_t2": ("energy", "total_increasing", "Wh"),
    "active_energy_export_t1": ("energy", "total_increasing", "Wh"),
    "active_energy_export_t2": ("energy", "total_increasing", "Wh"),
    "active_energy_net": ("energy", "total", "Wh"),
    "reactive_energy_import": ("reactive_energy", "total_increasing", "varh"),
    "apparent_energy_import": (None, "total_increasing", "VAh"),
    "max_demand_import": ("power", None, "W"),
}
HEALTH = ["state", "polls", "failed_polls", "backoff_polls", "measurement_errors", "crc_errors", "retransmissions",
          "association_failures", "implausible_readings", "last_rtt_ms", "spool_pending", "spool_dropped"]
PREFIX = "homeassistant"
GATEWAY = "dlms-bridge-gw"
GATEWAY_ID = f"dlms-bridge_{GATEWAY}"


class Subscriber:
    """What Home Assistant's MQTT integration would receive: discovery configs, telemetry, health, status."""

    def __init__(self, broker, topics=(f"{PREFIX}/#", "meters/#")):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ha-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(broker.pki.username, broker.pki.password)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda c, u, mid, rc, p: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.watch_port, keepalive=30)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the test's subscriber did not subscribe"

    def _on_message(self, client, userdata, msg):
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()

    def latest(self) -> dict[str, bytes]:
        """The last payload of each topic."""
        with self._cond:
            out = {}
            for t, p, _ in self.messages:
                out[t] = p
            return out

    def configs(self) -> dict[str, dict]:
        return {t: json.loads(p) for t, p in self.latest().items()
                if t.startswith(PREFIX + "/") and t.endswith("/config") and p}

    def payloads(self, topic: str) -> list[bytes]:
        with self._cond:
            return [p for t, p, _ in self.messages if t == topic]

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; topics seen: "
                                     f"{sorted(self.latest())[:40]}")
            with self._cond:
                self._cond.wait(0.2)


@pytest.fixture
def make_subscriber():
    subs = []

    def make(broker) -> Subscriber:
        s = Subscriber(broker)
        subs.append(s)
        return s

    yield make
    for s in subs:
        s.stop()


def gateway_config(broker, tmp_path, meters: list[tuple[str, object, list[str]]], **extra) -> str:
    settings = {**broker.client_env(), "SPOOL_DIR": str(tmp_path / "spool"), "HEALTH_INTERVAL_S": "1",
                "MQTT_CLIENT_ID": GATEWAY, "HA_DISCOVERY": "true", "DLMS_PASSWORD": "22222222",
                "POLL_PERIOD_S": "0.5", "DLMS_TIMEOUT_MS": "1000", "MAX_CONSEC_ERRORS": "2", **extra}
    lines = [f"{k}={v}" for k, v in settings.items()]
    for name, sim, measurements in meters:
        lines += ["", f"[meter {name}]", f"DLMS_HOST={sim.host}", f"DLMS_PORT={sim.port}",
                  "DLMS_MEASUREMENTS=" + json.dumps(measurements)]
    return "\n".join(lines) + "\n"


def render(template: str, payload: bytes) -> str:
    """Renders a value template the way Home Assistant does for an MQTT message: `value_json` is the payload."""
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload), value=payload.decode())


def check_sensor(topic: str, config: dict, device_id: str) -> None:
    assert set(config) <= SENSOR_KEYS, f"{topic}: keys Home Assistant does not know: {set(config) - SENSOR_KEYS}"
    for key in ("name", "unique_id", "state_topic", "value_template", "device", "availability", "availability_mode",
                "origin"):
        assert config.get(key), f"{topic}: {key} missing"
    dc, sc, unit = config.get("device_class"), config.get("state_class"), config.get("unit_of_measurement")
    if sc is not None:
        assert sc in STATE_CLASSES, f"{topic}: state_class {sc}"
    if dc is not None:
        assert dc in ALLOWED, f"{topic}: device_class {dc} is not one Home Assistant has for this"
        states, units = ALLOWED[dc]
        assert sc is None or sc in states, f"{topic}: {dc} with state_class {sc}"
        assert unit in units, f"{topic}: {dc} in {unit}"
    assert not (dc == "energy" and sc == "measurement"), topic
    device = config["device"]
    assert set(device) <= DEVICE_KEYS, f"{topic}: device keys {set(device) - DEVICE_KEYS}"
    assert device["identifiers"] == [f"dlms-bridge_{device_id}"] and device["name"] == device_id, device
    assert device["via_device"] == GATEWAY_ID, device
    assert config["origin"]["name"] == "dlms-bridge"
    assert config["availability_mode"] == "all"
    for a in config["availability"]:
        assert a["payload_available"] == "online" and a["payload_not_available"] == "offline", a


def test_discovery_for_every_measurement_and_meter(agent_broker, make_simulator, make_subscriber, make_agent,
                                                   tmp_path):
    broker = agent_broker()
    ha = make_subscriber(broker)
    sim1, sim2 = make_simulator(), make_simulator()
    everything = [*EXPECTED, "serial_number", "firmware_version", "clock"]
    make_agent({}, config_text=gateway_config(broker, tmp_path, [("m1", sim1, everything),
                                                                 ("m2", sim2, ["voltage_l1", "active_energy_import"])]))

    def topic(meter, obj):
        return f"{PREFIX}/sensor/{meter}/{obj}/config"

    wanted = [topic("m1", k) for k in EXPECTED] + [topic("m2", k) for k in ("voltage_l1", "active_energy_import")]
    wanted += [topic(m, "health_" + h) for m in ("m1", "m2") for h in HEALTH]
    ha.wait_for(lambda s: set(wanted) <= set(s.configs()), 15, "a config per measurement and health counter")
    # The device card gets what the meter says about itself once it has been read (m1 reads both).
    ha.wait_for(lambda s: s.configs()[topic("m1", "voltage_l1")]["device"].get("serial_number"), 15,
                "m1's configs republished with its serial number")

    configs = ha.configs()
    # One config per measurement that makes an entity: the serial number, firmware and clock describe the device.
    sensors = {t for t in configs if t.startswith(f"{PREFIX}/sensor/")}
    assert sensors == set(wanted), sorted(sensors ^ set(wanted))
    unique_ids = [c["unique_id"] for c in configs.values()]
    assert len(unique_ids) == len(set(unique_ids)), "unique_id must be unique"
    for key, (dc, sc, unit) in EXPECTED.items():
        c = configs[topic("m1", key)]
        check_sensor(topic("m1", key), c, "m1")
        assert (c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement")) == (dc, sc, unit), key
        assert c["state_topic"] == "meters/m1/telemetry"
        assert [a["topic"] for a in c["availability"]] == ["meters/m1/status", "meters/m1/availability"]
        assert c["unique_id"] == f"dlms-bridge_m1_{key}"
    for h in HEALTH:
        c = configs[topic("m2", "health_" + h)]
        check_sensor(topic("m2", "health_" + h), c, "m2")
        assert c["entity_category"] == "diagnostic" and c["state_topic"] == "meters/m2/health"
        assert [a["topic"] for a in c["availability"]] == ["meters/m1/status"], "health shows while a meter is down"
    device = configs[topic("m1", "voltage_l1")]["device"]
    assert device["serial_number"] == "000019001234"
    assert device["sw_version"] == "MST-SIM 1.0.0"
    assert (device["manufacturer"], device["model"]) == ("MST", "SIM 1.0.0")
    gateway = configs[f"{PREFIX}/binary_sensor/{GATEWAY}/status/config"]
    assert gateway["device"]["identifiers"] == [GATEWAY_ID] and gateway["state_topic"] == "meters/m1/status"
    assert gateway["device_class"] == "connectivity"
    # Retained, so Home Assistant finds them whenever it starts (a subscriber that comes later gets them with
    # the retain flag; the first copies above arrived live, without it).
    late = make_subscriber(broker)
    late.wait_for(lambda s: set(wanted) <= set(s.configs()), 10, "the retained configs for a late subscriber")
    with late._cond:
        first_copies = {}
        for t, _, retained in late.messages:
            first_copies.setdefault(t, retained)
    assert all(first_copies[t] for t in wanted), "discovery configs must be retained"

    # The templates pick each measurement out of the real telemetry, and the health counters out of health.
    telemetry = ha.wait_for(lambda s: s.payloads("meters/m1/telemetry"), 10, "m1 telemetry")[-1]
    values = json.loads(telemetry)["measurements"]
    for key in EXPECTED:
        assert render(configs[topic("m1", key)]["value_template"], telemetry) == str(values[key]["value"]), key
    health = ha.wait_for(lambda s: s.payloads("meters/m2/health"), 10, "m2 health")[-1]
    assert render(configs[topic("m2", "health_polls")]["value_template"], health) == str(json.loads(health)["polls"])
    assert render(configs[topic("m2", "health_spool_pending")]["value_template"], health).isdigit()
    # A measurement missing from a message, or flagged implausible, renders empty: Home Assistant keeps the
    # entity's last value (it ignores an empty state for numeric sensors), so no gap and no spike.
    flagged = json.loads(telemetry)
    flagged["measurements"]["active_energy_import"]["implausible"] = "backwards"
    del flagged["measurements"]["voltage_l1"]
    flagged = json.dumps(flagged).encode()
    assert render(configs[topic("m1", "active_energy_import")]["value_template"], flagged) == ""
    assert render(configs[topic("m1", "voltage_l1")]["value_template"], flagged) == ""
    assert render(configs[topic("m1", "active_energy_export")]["value_template"], flagged) != ""


def test_availability_flips_with_the_gateway_and_with_each_meter(agent_broker, make_simulator, make_subscriber,
                                                                make_agent, tmp_path):
    broker = agent_broker()
    ha = make_subscriber(broker)
    sim1, sim2 = make_simulator(), make_simulator()
    agent = make_agent({}, config_text=gateway_config(broker, tmp_path, [("m1", sim1, ["voltage_l1"]),
                                                                         ("m2", sim2, ["voltage_l1"])]))
    last = lambda t: (lambda s: (s.payloads(t) or [b""])[-1])  # noqa: E731
    for t in ("meters/m1/status", "meters/m1/availability", "meters/m2/availability"):
        ha.wait_for(lambda s, t=t: last(t)(s) == b"online", 10, f"{t} online")

    # One meter goes down (MAX_CONSEC_ERRORS=2): its own availability says so, the other's does not move.
    sim2.set_faults("silent")
    ha.wait_for(lambda s: last("meters/m2/availability")(s) == b"offline", 20, "m2 offline")
    assert last("meters/m1/availability")(ha) == b"online"
    assert b"offline" not in ha.payloads("meters/m1/availability")
    sim2.clear_faults()
    ha.wait_for(lambda s: last("meters/m2/availability")(s) == b"online", 30, "m2 online again")

    # The gateway dies: the broker publishes its last will on the gateway-wide topic that every entity lists,
    # so every meter's entities go unavailable at once.
    agent.kill()
    ha.wait_for(lambda s: last("meters/m1/status")(s) == b"offline", 15, "the gateway's last will")
    configs = ha.configs()
    for t, c in configs.items():
        if t.startswith(f"{PREFIX}/sensor/"):
            assert c["availability"][0]["topic"] == "meters/m1/status", t


def test_a_removed_meter_has_its_configs_cleared(agent_broker, make_simulator, make_subscriber, make_agent,
                                               tmp_path):
    broker = agent_broker()
    ha = make_subscriber(broker)
    sim1, sim2 = make_simulator(), make_simulator()
    first = make_agent({}, config_text=gateway_config(broker, tmp_path, [("m1", sim1, ["voltage_l1"]),
                                                                         ("m2", sim2, ["voltage_l1", "current_l1"])]))
    m2 = {f"{PREFIX}/sensor/m2/{o}/config" for o in ["voltage_l1", "current_l1", *("health_" + h for h in HEALTH)]}
    ha.wait_for(lambda s: m2 <= set(s.configs()), 15, "m2's configs")
    assert first.terminate() == 0

    # The next start has m2 no more (same spool directory): its configs are emptied, m1's stay.
    make_agent({}, config_text=gateway_config(broker, tmp_path, [("m1", sim1, ["voltage_l1"])]))
    ha.wait_for(lambda s: all(s.latest().get(t) == b"" for t in m2), 15, "m2's configs cleared")
    assert f"{PREFIX}/sensor/m1/voltage_l1/config" in ha.configs()
    # Nothing of m2 is retained for a Home Assistant that connects later.
    late = make_subscriber(broker)
    late.wait_for(lambda s: f"{PREFIX}/sensor/m1/voltage_l1/config" in s.configs(), 10, "m1's retained config")
    assert not [t for t in late.configs() if "/m2/" in t]


def test_implausible_energy_is_published_flagged_counted_and_kept_out_of_home_assistant(
        agent_broker, make_simulator, make_subscriber, make_agent, tmp_path):
    # The simulated meter draws about 2.7 kW: with MAX_POWER_W=500 its energy register grows faster than the
    # installation allows (about 2.2 Wh per 3 s poll against 500 W x 4 s + 1 Wh of resolution = 1.56 Wh).
    broker = agent_broker()
    ha = make_subscriber(broker)
    sim1, sim2 = make_simulator(), make_simulator()
    measurements = ["voltage_l1", "active_energy_import"]
    text = gateway_config(broker, tmp_path, [("capped", sim1, measurements), ("free", sim2, measurements)],
                          POLL_PERIOD_S="3")
    text = text.replace("[meter capped]\n", "[meter capped]\nMAX_POWER_W=500\n")
    agent = make_agent({}, config_text=text)

    def telemetry(meter):
        return [json.loads(p) for p in ha.payloads(f"meters/{meter}/telemetry")]

    ha.wait_for(lambda s: len(telemetry("capped")) >= 3 and len(telemetry("free")) >= 3, 30, "three polls of each meter")
    capped = telemetry("capped")
    # The first value is the reference; every later one moved too fast. Published all the same, flagged.
    assert "implausible" not in capped[0]["measurements"]["active_energy_import"]
    for message in capped[1:3]:
        energy = message["measurements"]["active_energy_import"]
        assert energy["implausible"] == "jump", message
        assert energy["value"] > capped[0]["measurements"]["active_energy_import"]["value"]
        assert "implausible" not in message["measurements"]["voltage_l1"]
    assert all("implausible" not in m["measurements"]["active_energy_import"] for m in telemetry("free"))
    # Counted on the health topic, logged for the operator.
    health = ha.wait_for(lambda s: [h for h in map(json.loads, s.payloads("meters/capped/health"))
                                    if h["implausible_readings"] >= 2], 10, "the count on capped's health")
    assert health[-1]["implausible_readings"] >= 2
    assert all(json.loads(h)["implausible_readings"] == 0 for h in ha.payloads("meters/free/health"))
    agent.wait_for_log(r"warning .*implausible energy value published with a flag \(jump\).*device_id=capped", 5)
    # Home Assistant never sees the flagged values (its template renders them empty: the last value stays).
    config = ha.configs()[f"{PREFIX}/sensor/capped/active_energy_import/config"]
    flagged = json.dumps(capped[1]).encode()
    assert render(config["value_template"], flagged) == ""
    assert render(config["value_template"], json.dumps(capped[0]).encode()) == str(
        capped[0]["measurements"]["active_energy_import"]["value"])
