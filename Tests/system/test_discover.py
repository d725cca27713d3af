"""`dlms-bridge discover` against the built-in simulator (issue 14, "meters that describe themselves").

The object list and the values are held to an independent implementation: gurux-dlms reads the same
simulator's Association LN object list and registers. A refused object is reported on its own line and the
listing goes on; the `[meter]` section `--config` writes, fed to `run`, publishes every object it lists.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "Interop"))

from gurux_dlms import GXReplyData  # noqa: E402

from fixtures.broker import free_port  # noqa: E402
from gurux_reader import GuruxReader  # noqa: E402

PASSWORD = "22222222"
REFUSED = "1-1:52.7.0.255"


def discover(bridge_bin, sim, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    target = ["--serial", sim.pty] if sim.pty else ["--host", sim.host, "--port", str(sim.port)]
    return subprocess.run([str(bridge_bin), "discover", *target, "--password", PASSWORD, "--client-sap", "1", *args],
                          capture_output=True, text=True, timeout=timeout)


def gurux_objects(sim) -> dict[str, int]:
    """logical name (a-b:c.d.e.f) -> class id, as gurux parses the simulator's object list."""
    with GuruxReader.tcp(sim.host, sim.port, client_sap=1, password=PASSWORD) as meter:
        reply = GXReplyData()
        meter._block(meter.client.getObjectsRequest(), reply)
        objects = meter.client.parseObjects(reply.data, True)
        out = {}
        for o in objects:
            a, b, c, d, e, f = o.logicalName.split(".")
            out[f"{a}-{b}:{c}.{d}.{e}.{f}"] = int(o.objectType)
        registers = {}
        for ln, cls in out.items():
            if cls in (3, 4) and ln != REFUSED:
                dotted = ln.replace("-", ".").replace(":", ".")
                registers[ln] = meter.read_register(dotted, extended=cls == 4)
        return out, registers


def test_discover_lists_every_object_with_its_class_and_value(make_simulator, bridge_bin):
    sim = make_simulator(faults=(f"unavailable={REFUSED}",))
    result = discover(bridge_bin, sim, "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    found = {o["logical_name"]: o for o in listing["objects"]}
    classes, registers = gurux_objects(sim)

    # Every object the simulator serves, with the class gurux sees, none twice.
    assert len(found) == len(listing["objects"]) == listing["count"]
    assert {ln: o["class_id"] for ln, o in found.items()} == classes
    assert len(classes) >= 45, "the simulator's three-phase object set"
    # The refused one is reported, and did not end the listing: objects after it have values.
    assert listing["refused"] == 1
    assert "object-unavailable" in found[REFUSED]["error"] and "value" not in found[REFUSED]
    names = [o["logical_name"] for o in listing["objects"]]
    assert any("value" in o for o in listing["objects"][names.index(REFUSED) + 1:])
    # Registers: the unit and scaler gurux reads, and the value within what the simulated wave moves in a second.
    for ln, (value, scaler, unit) in registers.items():
        o = found[ln]
        assert o["unit_code"] == unit, ln
        assert 10 ** o["scaler"] == scaler or (o["scaler"] == 0 and scaler in (0, 1)), ln
        assert abs(o["value"] - value) <= max(2.0, 0.02 * abs(value)), f"{ln}: {o['value']} vs gurux {value}"
        assert o["error"] is None
    # Catalog keys where the catalog knows the object, data values as text.
    assert found["1-1:32.7.0.255"]["key"] == "voltage_l1" and found["1-1:9.8.0.255"]["key"] == "apparent_energy_import"
    assert found["0-0:96.1.0.255"]["value"] == "000019001234" and found["0-0:96.1.0.255"]["key"] == "serial_number"
    assert found["0-0:42.0.0.255"]["value"] == "MST-SIM 1.0.0"
    assert found["0-0:96.11.0.255"]["key"] is None and found["0-0:96.11.0.255"]["value"] in (1, 2, 4, 47)
    assert found["0-0:40.0.0.255"]["class"] == "Association LN"
    assert found["1-0:99.1.0.255"]["class"] == "Profile generic"

    # The table shows the same, one line per object.
    table = discover(bridge_bin, sim)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    for ln in classes:
        assert any(line.startswith(ln + " ") for line in lines), ln
    assert any(line.startswith(REFUSED) and "REFUSED" in line for line in lines)
    assert lines[-1] == f"({len(classes)} objects, 1 refused)"


def test_the_written_section_fed_to_run_publishes_those_measurements(make_simulator, bridge_bin, agent_broker,
                                                                    make_watcher, make_agent, tmp_path):
    sim = make_simulator(faults=(f"unavailable={REFUSED}",))
    section = tmp_path / "meter.conf"
    result = discover(bridge_bin, sim, "--config", str(section), "--device-id", "sim1")
    assert result.returncode == 0, result.stderr
    text = section.read_text()
    assert "[meter sim1]" in text and f"DLMS_PORT={sim.port}" in text
    assert PASSWORD not in text, "the password is never written"
    assert f"# not polled: {REFUSED}" in text
    measurements = json.loads(next(line for line in text.splitlines() if line.startswith("DLMS_MEASUREMENTS="))
                              .split("=", 1)[1])
    assert "voltage_l2" not in measurements and "obis_0_0_96_11_0_255" in measurements
    assert {"voltage_l1", "active_energy_import_t1", "active_energy_net", "serial_number"} <= set(measurements)

    broker = agent_broker()
    watcher = make_watcher(broker)
    top = {**broker.client_env(), "SPOOL_DIR": str(tmp_path / "spool"), "DLMS_PASSWORD": PASSWORD,
           "POLL_PERIOD_S": "1", "DLMS_TIMEOUT_MS": "2000"}
    make_agent({}, config_text="".join(f"{k}={v}\n" for k, v in top.items()) + "\n" + text)
    watcher.wait_for_seqs("sim1", 1, timeout=20)
    message = watcher.telemetry("sim1")[0]
    assert list(message["measurements"]) == measurements, "every listed measurement published, in order"
    assert "errors" not in message
    custom = message["measurements"]["obis_0_0_96_11_0_255"]
    assert custom["obis"] == "0-0:96.11.0" and custom["value"] in (1, 2, 4, 47)


def test_discover_over_an_optical_probe_with_mode_e(make_simulator, bridge_bin):
    sim = make_simulator(serial=True, mode_e=True)
    result = discover(bridge_bin, sim, "--mode-e", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["refused"] == 0 and listing["count"] >= 45
    voltage = next(o for o in listing["objects"] if o["logical_name"] == "1-1:32.7.0.255")
    assert voltage["class_id"] == 3 and voltage["unit"] == "V" and 220 <= voltage["value"] <= 240


def test_discover_says_what_is_wrong(bridge_bin, make_simulator):
    no_meter = subprocess.run([str(bridge_bin), "discover"], capture_output=True, text=True, timeout=10)
    assert no_meter.returncode == 2 and "--host" in no_meter.stderr
    port = free_port()
    unreachable = subprocess.run([str(bridge_bin), "discover", "--host", "127.0.0.1", "--port", str(port)],
                                 capture_output=True, text=True, timeout=20)
    assert unreachable.returncode == 3 and "refused" in unreachable.stderr, unreachable.stderr
