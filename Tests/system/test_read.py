"""`dlms-bridge read` (the prototype's one-shot reader) against the simulated meter, as a field engineer uses it."""
import json
import re
import subprocess

import pytest

PASSWORD = "22222222"


def read(bridge_bin, sim, *args, timeout=60):
    target = ["--serial", sim.pty] if sim.pty else ["--host", sim.host, "--port", str(sim.port)]
    return subprocess.run([str(bridge_bin), "read", *target, *args], capture_output=True, text=True, timeout=timeout)


def test_reads_the_seed_measurements_as_a_table(bridge_bin, simulator):
    out = read(bridge_bin, simulator, "--client-sap", "1", "--server-logical", "0", "--server-physical", "1",
               "--password", PASSWORD, "--measurement", "voltage_l1", "current_l1")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:] if line.startswith(("voltage", "current"))}
    assert rows["voltage_l1"][2] == "V" and 200 < float(rows["voltage_l1"][1]) < 260
    assert rows["current_l1"][2] == "A"


def test_json_carries_standard_unit_codes_and_raw_values(bridge_bin, simulator):
    out = read(bridge_bin, simulator, "--password", PASSWORD, "--json", "--measurement",
               "voltage_l1", "frequency", "active_energy_import", "max_demand_import", "serial_number")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    m = doc["measurements"]
    # 35 is volt in IEC 62056-6-2 (the prototype's table called it wrong and published 32).
    assert m["voltage_l1"]["unit_code"] == 35 and m["voltage_l1"]["unit"] == "V"
    assert m["voltage_l1"]["value"] == pytest.approx(m["voltage_l1"]["raw_value"] / 10)
    assert m["frequency"]["unit_code"] == 44
    assert m["active_energy_import"]["unit_code"] == 30
    assert "capture_time_ms" in m["max_demand_import"]
    assert m["serial_number"]["value"] == "000019001234"
    assert doc["errors"] == {}


def test_verbose_shows_frames_with_the_password_masked(bridge_bin, simulator):
    out = read(bridge_bin, simulator, "--password", PASSWORD, "--verbose", "--measurement", "voltage_l1")
    assert out.returncode == 0, out.stderr
    frames = [l for l in out.stderr.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT\S+Z (TX|RX) 7E", l)]
    assert any(" TX 7E A0 07 03 03 93 8C 11 7E" in l for l in frames), "the SNRM golden frame"
    aarq = [l for l in frames if " TX " in l and " 60 36 " in l]
    assert aarq and "** ** ** ** ** ** ** **" in aarq[0]
    assert "32 32 32 32 32 32 32 32" not in out.stderr and PASSWORD not in out.stderr


def test_wrong_password_says_what_to_fix(bridge_bin, simulator):
    out = read(bridge_bin, simulator, "--password", "2222222222")
    assert out.returncode == 3
    assert "authentication failure" in out.stderr and "DLMS_PASSWORD" in out.stderr
    assert "2222222222" not in out.stderr


def test_wrong_server_address_lists_the_address_bytes_tried(bridge_bin, simulator):
    out = read(bridge_bin, simulator, "--password", PASSWORD, "--server-logical", "1", "--timeout-ms", "200")
    assert out.returncode == 3
    assert "no answer" in out.stderr and "02 03" in out.stderr and "DLMS_SERVER_LOGICAL" in out.stderr


def test_nothing_listening_is_reported_as_such(bridge_bin):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = subprocess.run([str(bridge_bin), "read", "--host", "127.0.0.1", "--port", str(port)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 3
    assert "connection refused" in out.stderr and "DLMS_PORT" in out.stderr


def test_unknown_measurement_is_a_usage_error(bridge_bin, simulator):
    out = read(bridge_bin, simulator, "--password", PASSWORD, "--measurement", "voltage_l9")
    assert out.returncode == 2
    assert "unknown measurement voltage_l9" in out.stderr and "voltage_l1" in out.stderr


def test_refused_object_fails_alone(bridge_bin, make_simulator):
    sim = make_simulator(faults=("unavailable=1-1:31.7.0",))
    out = read(bridge_bin, sim, "--password", PASSWORD, "--json", "--measurement", "voltage_l1", "current_l1")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert "voltage_l1" in doc["measurements"]
    assert "object-unavailable" in doc["errors"]["current_l1"] or "unavailable" in doc["errors"]["current_l1"]


def test_load_profile_by_range_has_a_day_of_rows(bridge_bin, simulator):
    out = read(bridge_bin, simulator, "--password", PASSWORD, "--profile", "1-0:99.1.0.255",
               "--from=-24h", "--to", "now", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert len(doc["rows"]) >= 96
    times = [row[0] for row in doc["rows"]]
    assert times == sorted(times)
    assert doc["round_trips"] > 3  # block transfer


@pytest.mark.parametrize("mode_e", [False, True])
def test_reads_over_a_pseudo_terminal(bridge_bin, make_simulator, mode_e):
    sim = make_simulator(serial=True, mode_e=mode_e)
    args = ["--password", PASSWORD, "--json", "--measurement", "voltage_l1", "clock"]
    if mode_e:
        args.append("--mode-e")
    out = read(bridge_bin, sim, *args)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["measurements"]["voltage_l1"]["unit_code"] == 35
    assert "value_ms" in doc["measurements"]["clock"]


@pytest.mark.parametrize("options,variable,value", [
    (["--baud", "1000"], "DLMS_BAUD", "1000"),
    (["--address-size", "2", "--server-physical", "200"], "DLMS_SERVER_PHYSICAL", "200"),
    (["--timeout-ms", "50"], "DLMS_TIMEOUT_MS", "50"),
    (["--client-sap", "0"], "DLMS_CLIENT_SAP", "0"),
    (["--meter-profile", "landis"], "DLMS_METER_PROFILE", "landis"),
])
def test_read_refuses_what_run_refuses_with_the_same_message(bridge_bin, tmp_path, options, variable, value):
    # One meter path: `read` builds the meter from its options through `run`'s own parsing and checks, so a
    # value one refuses the other refuses too, in the same words, each citing where the value came from.
    out = subprocess.run([str(bridge_bin), "read", "--serial", "/dev/ttyUSB9", *options],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stdout + out.stderr
    flag = options[-2]
    read_line = next(line for line in out.stderr.splitlines() if f'{variable}="{value}" (from {flag}): ' in line)
    env = {"PATH": "/usr/bin:/bin", "DEVICE_ID": "m1", "SPOOL_DIR": str(tmp_path / "spool"),
           "DLMS_SERIAL_DEVICE": "/dev/ttyUSB9", "DLMS_MODE_E": "false"}
    for flag_name, v in zip(options[::2], options[1::2]):
        env[{"--baud": "DLMS_BAUD", "--address-size": "DLMS_ADDRESS_SIZE", "--server-physical": "DLMS_SERVER_PHYSICAL",
             "--timeout-ms": "DLMS_TIMEOUT_MS", "--client-sap": "DLMS_CLIENT_SAP",
             "--meter-profile": "DLMS_METER_PROFILE"}[flag_name]] = v
    run = subprocess.run([str(bridge_bin), "run", "--check-config"], capture_output=True, text=True, timeout=30,
                         env=env, cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    run_line = next(line for line in run.stderr.splitlines() if f'{variable}="{value}" (from ' in line)
    assert read_line.split(f"(from {flag}): ", 1)[1] == run_line.split("): ", 1)[1], (read_line, run_line)
