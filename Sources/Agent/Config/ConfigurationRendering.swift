import COSEM
import MeterLink

extension AgentConfiguration {
    /// The effective settings as `NAME=value` pairs, gateway first, then one group per meter; secrets as
    /// `********`. For `--print-config`: the output is itself a valid configuration file (minus the secrets).
    public func variables() -> (gateway: [(String, String)], meters: [(deviceID: String, values: [(String, String)])]) {
        var g: [(String, String)] = [
            ("MQTT_HOST", mqtt.host), ("MQTT_PORT", String(mqtt.port)), ("MQTT_CLIENT_ID", mqtt.clientID),
            ("MQTT_TOPIC", mqtt.telemetryTopic), ("MQTT_STATUS_TOPIC", mqtt.statusTopic),
            ("MQTT_HEALTH_TOPIC", mqtt.healthTopic), ("MQTT_PROFILE_TOPIC", mqtt.profileTopic),
        ]
        if let tls = mqtt.tls {
            switch tls.authority {
            case .file(let p), .directory(let p): g.append(("MQTT_TLS_CA", p))
            }
            if let c = tls.certificateFile { g.append(("MQTT_TLS_CERT", c)) }
            if let k = tls.keyFile { g.append(("MQTT_TLS_KEY", k)) }
            g.append(("MQTT_TLS_INSECURE", String(tls.insecure)))
            g.append(("MQTT_TLS_VERSION", tls.minimumVersion))
        }
        if let u = mqtt.username { g.append(("MQTT_USERNAME", u)) }
        if let p = mqtt.password { g.append(("MQTT_PASSWORD", p.description)) }
        g += [
            ("MQTT_QOS", String(mqtt.qos)), ("MQTT_PROTOCOL", mqtt.protocolVersion.rawValue),
            ("MQTT_KEEPALIVE_S", String(mqtt.keepaliveSeconds)), ("SPOOL_DIR", spool.directory),
            ("SPOOL_MAX_BYTES", String(spool.maxBytes)), ("SPOOL_MAX_AGE_S", String(spool.maxAgeSeconds)),
            ("SPOOL_COMMIT_INTERVAL_MS", String(spool.commitIntervalMilliseconds)),
            ("REPLAY_RATE", String(spool.replayPerSecond)),
            ("HEALTH_INTERVAL_S", seconds(healthIntervalMilliseconds)), ("UNIT_CODES", unitCodes.rawValue),
            ("VERBOSE", String(verbose)), ("MQTT_AVAILABILITY_TOPIC", mqtt.availabilityTopic),
            ("HA_DISCOVERY", String(homeAssistant.enabled)), ("HA_DISCOVERY_PREFIX", homeAssistant.prefix),
        ]
        let m = meters.map { meter -> (deviceID: String, values: [(String, String)]) in
            var v: [(String, String)] = [("DEVICE_ID", meter.deviceID)]
            switch meter.transport {
            case .tcp(let host, let port):
                v += [("DLMS_HOST", host), ("DLMS_PORT", String(port))]
            case .serial(let device, let baud, let modeE):
                v += [("DLMS_SERIAL_DEVICE", device), ("DLMS_BAUD", String(baud)), ("DLMS_MODE_E", String(modeE))]
            }
            v += [
                ("DLMS_CLIENT_SAP", String(meter.clientSAP)), ("DLMS_SERVER_LOGICAL", String(meter.serverLogical)),
                ("DLMS_SERVER_PHYSICAL", String(meter.serverPhysical)), ("DLMS_ADDRESS_SIZE", meter.addressSize.rawValue),
            ]
            if let p = meter.password { v.append(("DLMS_PASSWORD", p.description)) }
            v += [
                ("DLMS_MEASUREMENTS", "[" + meter.measurements.map { "\"\($0)\"" }.joined(separator: ", ") + "]"),
                ("POLL_PERIOD_S", seconds(meter.pollPeriodMilliseconds)),
                ("MAX_CONSEC_ERRORS", String(meter.maxConsecutiveErrors)),
                ("DLMS_TIMEOUT_MS", String(meter.timeoutMilliseconds)),
                ("DLMS_CONNECT_PER_POLL", String(meter.connectPerPoll)),
                ("DLMS_METER_PROFILE", meter.profile.name),
            ]
            if meter.framing != .hdlc { v.append(("DLMS_TRANSPORT", meter.framing.rawValue)) }
            if let security = meter.security {
                v += [("DLMS_SECURITY", security.level.rawValue), ("DLMS_AUTH", security.authentication.rawValue)]
                for name in ["DLMS_EK", "DLMS_AK", "DLMS_DK"] {
                    if let path = security.keyFiles[name + "_FILE"] {
                        v.append((name + "_FILE", path))
                    } else if name != "DLMS_DK" || security.keys.dedicated != nil {
                        v.append((name, ConfigSecret.mask))
                    }
                }
                v.append(("DLMS_SYSTEM_TITLE", security.clientSystemTitle.description))
                if let obis = security.frameCounter { v.append(("DLMS_FRAME_COUNTER_OBIS", obis.fullDescription)) }
            }
            if let w = meter.maxPowerWatts { v.append(("MAX_POWER_W", String(w))) }
            if !meter.customMeasurements.isEmpty {
                var json = JSONWriter()
                json.beginArray()
                for m in meter.customMeasurements { json.string(m.definitionText) }
                json.endArray()
                v.append(("DLMS_DEFINE", json.output))
            }
            v += meter.profileSettings.variables
            return (meter.deviceID, v)
        }
        return (g, m)
    }

    /// The effective configuration in the multi-meter file format, secrets masked.
    public var maskedDescription: String {
        let (g, m) = variables()
        var out = ""
        for (k, v) in g { out += k + "=" + quoted(v) + "\n" }
        for meter in m {
            out += "\n[meter]\n"
            for (k, v) in meter.values { out += k + "=" + quoted(v) + "\n" }
        }
        return out
    }

    private func seconds(_ ms: Int64) -> String { String(Double(ms) / 1000) }

    // Single quotes keep any value literal when the text is read back as a configuration file.
    private func quoted(_ v: String) -> String {
        v.utf8.contains(where: { $0 == 0x20 || $0 == 0x23 || $0 == 0x22 || $0 == 0x27 || $0 == 0x24 })
            ? "'" + v.replacingAll("\\", with: "\\\\").replacingAll("'", with: "\\'") + "'" : v
    }
}
