extension ConfigurationLoader {
    /// Meters that name the same `DLMS_SERIAL_DEVICE` share one line (an RS-485 bus): they must agree on the
    /// line's settings, and each must have an HDLC server address of its own on it.
    static func checkSharedSerialLines(_ meters: [MeterConfiguration], origin: String?) throws(ConfigError) {
        var first: [String: MeterConfiguration] = [:]
        var addresses: [String: String] = [:]  // "device|logical|physical" -> device id
        for m in meters {
            guard case let .serial(device, baud, modeE) = m.transport else { continue }
            if let other = first[device], case let .serial(_, otherBaud, otherModeE) = other.transport {
                if otherBaud != baud {
                    throw ConfigError(
                        variable: "DLMS_BAUD", value: "\(baud)", origin: origin,
                        problem: "meter \(m.deviceID) shares DLMS_SERIAL_DEVICE=\(device) with meter \(other.deviceID), "
                            + "which has DLMS_BAUD=\(otherBaud): one serial line has one rate",
                        expected: "the same DLMS_BAUD for every meter on one serial line (set it once, before the first "
                            + "[meter] section)")
                }
                if otherModeE != modeE {
                    throw ConfigError(
                        variable: "DLMS_MODE_E", value: modeE ? "true" : "false", origin: origin,
                        problem: "meter \(m.deviceID) shares DLMS_SERIAL_DEVICE=\(device) with meter \(other.deviceID), "
                            + "which has DLMS_MODE_E=\(otherModeE ? "true" : "false"): mode E is done once per line",
                        expected: "the same DLMS_MODE_E for every meter on one serial line (set it once, before the first "
                            + "[meter] section)")
                }
            } else {
                first[device] = m
            }
            let key = "\(device)|\(m.serverLogical)|\(m.serverPhysical)"
            if let other = addresses[key] {
                throw ConfigError(
                    variable: "DLMS_SERVER_PHYSICAL", value: "\(m.serverPhysical)", origin: origin,
                    problem: "meters \(other) and \(m.deviceID) are both at server address \(m.serverLogical)/"
                        + "\(m.serverPhysical) (logical/physical) on DLMS_SERIAL_DEVICE=\(device): on one line both "
                        + "would answer, or neither could be told apart",
                    expected: "a DLMS_SERVER_PHYSICAL of its own for each meter on one serial line (its HDLC physical "
                        + "address, e.g. the last 4 digits of its serial number)")
            }
            addresses[key] = m.deviceID
        }
    }
}
