"""The simulated meter held to an independent implementation: gurux-dlms's client reads `dlms-bridge simulate`
over TCP and over a pseudo-terminal (with and without the IEC 62056-21 mode E opening, done by hand here).

gurux builds every request and parses every reply; the tests only move bytes (Tests/Interop/gurux_reader.py).
"""
from __future__ import annotations

import datetime
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "Interop"))

from gurux_dlms import GXDLMSException  # noqa: E402
from gurux_dlms.objects import GXDLMSData, GXDLMSRegister  # noqa: E402

from gurux_reader import GuruxReader, NoAnswer  # noqa: E402

PASSWORD = "22222222"

# key: (logical name, unit code, scaler, plausible range of the scaled value)
REGISTERS = {
    "voltage_l1": ("1.1.32.7.0.255", 35, 0.1, (220.0, 240.0)),
    "current_l1": ("1.1.31.7.0.255", 33, 0.001, (3.0, 7.0)),
    "frequency": ("1.1.14.7.0.255", 44, 0.01, (49.9, 50.1)),
    "voltage_l2": ("1.1.52.7.0.255", 35, 0.1, (220.0, 240.0)),
    "voltage_l3": ("1.1.72.7.0.255", 35, 0.1, (220.0, 240.0)),
    "current_l2": ("1.1.51.7.0.255", 33, 0.001, (2.5, 5.5)),
    "current_l3": ("1.1.71.7.0.255", 33, 0.001, (2.0, 4.0)),
    "active_power_import": ("1.1.1.7.0.255", 27, 1.0, (1500, 4000)),
    "active_power_export": ("1.1.2.7.0.255", 27, 1.0, (0, 400)),
    "reactive_power_import": ("1.1.3.7.0.255", 29, 1.0, (400, 1200)),
    "reactive_power_export": ("1.1.4.7.0.255", 29, 1.0, (0, 100)),
    "apparent_power": ("1.1.9.7.0.255", 28, 1.0, (1500, 4000)),
    "active_energy_import": ("1.1.1.8.0.255", 30, 1.0, (1e6, 4e9)),
    "active_energy_export": ("1.1.2.8.0.255", 30, 1.0, (2e4, 4e9)),
    "reactive_energy_import": ("1.1.3.8.0.255", 32, 1.0, (3e5, 4e9)),
    "reactive_energy_export": ("1.1.4.8.0.255", 32, 1.0, (5e3, 4e9)),
}
ENERGIES = ["active_energy_import", "active_energy_export", "reactive_energy_import", "reactive_energy_export"]


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def as_utc(value) -> datetime.datetime:
    """A gurux GXDateTime (or datetime) as an aware UTC datetime."""
    dt = getattr(value, "value", value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.astimezone(datetime.timezone.utc)


def check_registers(meter: GuruxReader) -> dict:
    values = {}
    for key, (ln, unit, scaler, (low, high)) in REGISTERS.items():
        value, got_scaler, got_unit = meter.read_register(ln)
        assert got_unit == unit, f"{key}: unit {got_unit}, expected {unit}"
        assert got_scaler == pytest.approx(scaler), f"{key}: scaler {got_scaler}"
        assert low <= value <= high, f"{key}: {value} outside {low}..{high}"
        values[key] = value
    # Consistency: apparent power is the sum of the phases' V x I, active power below it.
    phases = [("voltage_l1", "current_l1"), ("voltage_l2", "current_l2"), ("voltage_l3", "current_l3")]
    assert values["apparent_power"] == pytest.approx(sum(values[v] * values[i] for v, i in phases), rel=0.02)
    assert values["active_power_import"] < values["apparent_power"]
    return values


def check_load_profile(meter: GuruxReader, hours: int = 24):
    end = utcnow()
    start = end - datetime.timedelta(hours=hours)
    pg = meter.read_profile_by_range("1.0.99.1.0.255", start, end)
    columns = [(obj.logicalName, attr.attributeIndex) for obj, attr in pg.captureObjects]
    assert columns == [("0.0.1.0.0.255", 2), ("1.1.1.8.0.255", 2), ("1.1.2.8.0.255", 2),
                       ("1.1.3.8.0.255", 2), ("1.1.4.8.0.255", 2)]
    assert pg.capturePeriod == 900
    rows = pg.buffer
    assert len(rows) >= hours * 4, f"{len(rows)} rows for {hours} h"
    times = [as_utc(row[0]) for row in rows]
    assert all(start - datetime.timedelta(seconds=1) <= t <= end for t in times)
    assert all((b - a).total_seconds() == 900 for a, b in zip(times, times[1:])), "rows not 15 minutes apart"
    for column in range(1, 5):
        series = [row[column] for row in rows]
        assert series == sorted(series), f"energy column {column} decreases"
    assert rows[-1][1] > rows[0][1], "active energy import did not grow over a day"
    return rows


def test_gurux_reads_the_simulated_meter_over_tcp_with_the_password(simulator):
    with GuruxReader.tcp(simulator.host, simulator.port, client_sap=1, password=PASSWORD) as meter:
        first = check_registers(meter)
        clock = as_utc(meter.read_clock())
        assert abs((clock - utcnow()).total_seconds()) < 5
        assert bytes(meter.read_data("0.0.96.1.0.255")) == b"000019001234"
        assert meter.read_data("0.0.42.0.0.255")
        value, _, unit = meter.read_register("1.1.1.6.0.255", extended=True)
        assert unit == 27 and 1000 <= value <= 5000
        captured = as_utc(meter.read_capture_time("1.1.1.6.0.255"))
        assert utcnow() - datetime.timedelta(days=1) <= captured <= utcnow()
        rows = check_load_profile(meter)
        # The profile's last row and the registers read now agree (same energy function, 15 minutes apart).
        assert rows[-1][1] <= first["active_energy_import"] < rows[-1][1] + 2000
        events = meter.read_profile_by_entry("0.0.99.98.0.255", 1, 4)
        assert [(obj.logicalName, attr.attributeIndex) for obj, attr in events.captureObjects] == [
            ("0.0.1.0.0.255", 2), ("0.0.96.11.0.255", 2)]
        assert len(events.buffer) == 4
        assert all(row[1] in (1, 2, 4, 47) for row in events.buffer)
        second = check_registers(meter)
        for key in ENERGIES:
            assert second[key] >= first[key], f"{key} went backwards"
    counters = simulator.counters()
    assert counters["associations_accepted"] == 1
    assert counters["blocks_sent"] >= 4, "the load profile should need block transfer"


def test_gurux_public_client_and_get_with_list(simulator):
    with GuruxReader.tcp(simulator.host, simulator.port, client_sap=16) as meter:
        voltage, current = GXDLMSRegister("1.1.32.7.0.255"), GXDLMSRegister("1.1.31.7.0.255")
        from gurux_dlms import GXReplyData

        reply = GXReplyData()
        meter._block(meter.client.readList([(voltage, 3), (current, 3), (voltage, 2), (current, 2)]), reply)
        meter.client.updateValues([(voltage, 3), (current, 3), (voltage, 2), (current, 2)], reply.value)
        assert int(voltage.unit) == 35 and int(current.unit) == 33
        assert 220 <= voltage.value <= 240 and 3 <= current.value <= 7


def test_gurux_sees_get_with_list_refused_when_not_granted(make_simulator):
    sim = make_simulator("--no-get-with-list")
    with GuruxReader.tcp(sim.host, sim.port, client_sap=16) as meter:
        with pytest.raises(ValueError, match="multiple objects"):
            meter.client.readList([(GXDLMSRegister("1.1.32.7.0.255"), 2)])
        check_registers(meter)


def test_gurux_wrong_password_and_missing_password_are_rejected(simulator):
    wrong = GuruxReader.tcp(simulator.host, simulator.port, client_sap=1, password="11111111")
    with pytest.raises(GXDLMSException) as failure:
        wrong.connect()
    wrong.pipe.close()
    assert int(failure.value.diagnostic) == 13  # authentication failure
    counters = simulator.counters()
    assert counters["associations_rejected"] == 1 and counters["associations_accepted"] == 0
    # A 10-character password on an 8-character meter is just another wrong password.
    longer = GuruxReader.tcp(simulator.host, simulator.port, client_sap=1, password="2222222222")
    with pytest.raises(GXDLMSException) as failure:
        longer.connect()
    longer.pipe.close()
    assert int(failure.value.diagnostic) == 13
    # LLS client without a password: authentication required (14).
    missing = GuruxReader.tcp(simulator.host, simulator.port, client_sap=1)
    with pytest.raises(GXDLMSException) as failure:
        missing.connect()
    missing.pipe.close()
    assert int(failure.value.diagnostic) == 14  # authentication required
    assert simulator.counters()["associations_rejected"] == 3


def test_gurux_reads_an_unknown_object_as_object_undefined(simulator):
    with GuruxReader.tcp(simulator.host, simulator.port, client_sap=16) as meter:
        with pytest.raises(GXDLMSException) as failure:
            meter.read(GXDLMSData("0.0.96.99.9.255"), 2)
        assert failure.value.errorCode == 4  # object-undefined
        check_registers(meter)  # the association survives


def test_gurux_over_a_pty_without_mode_e(make_simulator):
    sim = make_simulator(serial=True)
    assert sim.pty.startswith("/dev/pts/")
    with GuruxReader.serial(sim.pty, client_sap=1, password=PASSWORD) as meter:
        check_registers(meter)
        assert bytes(meter.read_data("0.0.96.1.0.255")) == b"000019001234"
        check_load_profile(meter)


def test_gurux_over_a_pty_after_a_mode_e_opening(make_simulator):
    sim = make_simulator("--serial-number", "000019004321", serial=True, mode_e=True)
    meter = GuruxReader.serial(sim.pty, mode_e=True, client_sap=1, password=PASSWORD)
    assert meter.identification.startswith(b"/MST5\\2"), meter.identification
    with meter:
        check_registers(meter)
        assert bytes(meter.read_data("0.0.96.1.0.255")) == b"000019004321"
        assert abs((as_utc(meter.read_clock()) - utcnow()).total_seconds()) < 5
        check_load_profile(meter)
    sim.wait_for_log("mode E opening done")
    # After DISC the optical port is back in mode E: a second session opens the same way.
    with GuruxReader.serial(sim.pty, mode_e=True, client_sap=16) as again:
        check_registers(again)
    assert sim.counters()["mode_e_openings"] == 2


def test_a_meter_answering_only_4_byte_addresses_ignores_other_widths(make_simulator):
    sim = make_simulator("--address-size", "4", "--server-logical", "1", "--server-physical", "1234")
    one = GuruxReader.tcp(sim.host, sim.port, client_sap=16, server_logical=1, server_physical=1234, address_size=2,
                          timeout=1.0)
    with pytest.raises(NoAnswer):
        one.connect()
    one.pipe.close()
    with GuruxReader.tcp(sim.host, sim.port, client_sap=16, server_logical=1, server_physical=1234,
                         address_size=4) as meter:
        check_registers(meter)
    assert sim.counters()["frames_for_other_addresses"] >= 1


def test_faults_change_at_run_time(simulator):
    assert simulator.set_faults("silent") == "silent"
    dead = GuruxReader.tcp(simulator.host, simulator.port, client_sap=16, timeout=1.0)
    with pytest.raises(NoAnswer):
        dead.connect()
    dead.pipe.close()
    assert simulator.clear_faults() == "none"
    simulator.set_faults("unavailable=1-1:32.7.0", "stray-bytes=7E7E")
    with GuruxReader.tcp(simulator.host, simulator.port, client_sap=16) as meter:
        with pytest.raises(GXDLMSException) as failure:
            meter.read(GXDLMSRegister("1.1.32.7.0.255"), 2)
        assert failure.value.errorCode == 11  # object-unavailable
        value, _, unit = meter.read_register("1.1.31.7.0.255")
        assert unit == 33
    simulator.set_faults("reply-delay-ms=30")
    with GuruxReader.tcp(simulator.host, simulator.port, client_sap=16) as meter:
        check_registers(meter)
    counters = simulator.counters()
    assert counters["silent_frames"] >= 1 and counters["unavailable_answers"] == 1 and counters["stray_bursts"] >= 3
    assert counters["delayed_replies"] >= 26  # SNRM, AARQ and 24 GETs, each answered late


def test_several_clients_at_once(simulator):
    readers = [GuruxReader.tcp(simulator.host, simulator.port, client_sap=sap, password=pw)
               for sap, pw in ((16, None), (1, PASSWORD), (32, PASSWORD))]
    for r in readers:
        r.connect()
    for r in readers:
        check_registers(r)
    for r in readers:
        r.close()
    counters = simulator.counters()
    assert counters["connections"] == 3 and counters["associations_accepted"] == 3


def test_the_inactivity_timeout_closes_the_connection(make_simulator):
    sim = make_simulator("--inactivity-timeout", "1")
    meter = GuruxReader.tcp(sim.host, sim.port, client_sap=16)
    meter.connect()
    check_registers(meter)
    # No frame for the timeout: the meter closes the TCP connection by itself (waited for, not slept).
    with pytest.raises(ConnectionError):
        meter.pipe.recv(timeout=5.0)
    meter.pipe.close()
    sim.wait_for_log("inactivity timeout")
    assert sim.counters()["inactivity_drops"] == 1


def test_drop_after_frames_closes_the_connection(make_simulator):
    sim = make_simulator(faults=["drop-after-frames=3"])
    meter = GuruxReader.tcp(sim.host, sim.port, client_sap=16)
    meter.connect()  # frames 1 and 2
    with pytest.raises(ConnectionError):
        meter.read_register("1.1.32.7.0.255")
    meter.pipe.close()
    assert sim.counters()["fault_drops"] == 1
    sim.clear_faults()
    with GuruxReader.tcp(sim.host, sim.port, client_sap=16) as again:
        check_registers(again)


def test_verbose_log_masks_the_password_and_stop_reports_counters(make_simulator):
    sim = make_simulator(password="2222222222")
    with GuruxReader.tcp(sim.host, sim.port, client_sap=1, password="2222222222") as meter:
        meter.read_clock()
    sim.wait_for_log(r"RX 7E .* AC 0C 80 0A( \*\*){10} ")
    assert "32 32 32 32 32 32 32 32 32 32" not in sim.log()
    assert sim.proc.poll() is None
    sim.proc.terminate()  # SIGTERM: a clean stop that still reports
    assert sim.proc.wait(timeout=5) == 0
    final = sim.stop()
    assert final["associations_accepted"] == 1 and final["releases"] == 1
