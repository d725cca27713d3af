import CMosquitto
import Platform

import CLibc

/// Turns OpenSSL's terse handshake failure into what an operator should check.
enum TLSDiagnosis {
    /// The error for a failed handshake: `line` is libmosquitto's log line ("OpenSSL Error[0]: error:...:
    /// certificate verify failed"), `verifyResult` OpenSSL's X509 verify result for the session (X509_V_OK
    /// when the broker's certificate was not the problem).
    static func error(line: String, verifyResult: Int, hostMatches: Bool, settings: MQTTSettings) -> UplinkError {
        let broker = settings.broker
        let ca = settings.tls?.caFile ?? settings.tls?.caDirectory ?? "(unset)"
        if verifyResult != Int(X509_V_OK) && !hostMatches {
            // libmosquitto checks the host name itself and fails with an unspecified verify error; the
            // certificate was checked against the host by `certificate(_:names:)`.
            return .tlsHandshake(
                broker: broker, reason: "certificate verify failed: host name mismatch",
                hint: "the broker's certificate does not name '\(settings.host)'; set MQTT_HOST to a name in the certificate's subjectAltName")
        }
        if verifyResult != Int(X509_V_OK) {
            let text = String(cString: X509_verify_cert_error_string(verifyResult))
            let hint: String
            switch Int32(verifyResult) {
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
                X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
                X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
                hint = "the broker's certificate is not signed by MQTT_TLS_CA=\(ca); check the CA file"
            case X509_V_ERR_CERT_HAS_EXPIRED:
                hint = "the broker's certificate has expired; renew it on the broker (and check this gateway's clock)"
            case X509_V_ERR_CERT_NOT_YET_VALID:
                hint = "the broker's certificate is not valid yet; check this gateway's clock (NTP) and the certificate's dates"
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH, X509_V_ERR_UNSPECIFIED:
                // libmosquitto 2.0 checks the host name in its own verify callback, which fails without an
                // error code: OpenSSL then records "unspecified". Nothing else in the chain check does that.
                hint = "the broker's certificate does not name '\(settings.host)'; set MQTT_HOST to a name in the certificate's subjectAltName"
            case X509_V_ERR_INVALID_PURPOSE:
                hint = "the broker's certificate is not a TLS server certificate (extendedKeyUsage serverAuth)"
            default:
                hint = "check the broker's certificate against MQTT_TLS_CA=\(ca)"
            }
            return .tlsHandshake(broker: broker, reason: "certificate verify failed: \(text)", hint: hint)
        }
        let reason = openSSLReason(line)
        let lower = reason.lowercased()
        let hint: String
        if lower.containsText("unknown ca") || lower.containsText("bad certificate") || lower.containsText("certificate unknown")
            || lower.containsText("decrypt error")
        {
            hint = clientCertificateRefused(settings)
        } else if lower.containsText("certificate required") || lower.containsText("handshake failure") {
            hint = noClientCertificate
        } else if lower.containsText("wrong version number") || lower.containsText("packet length too long")
            || lower.containsText("record layer failure")
        {
            hint = "the broker's port does not speak TLS; check MQTT_PORT (8883 is TLS, 1883 plain)"
        } else if lower.containsText("protocol version") {
            hint = "the broker and this gateway share no TLS version; check the minimum TLS version on both"
        } else if lower.containsText("key values mismatch") || lower.containsText("no certificate") || lower.containsText("pem") {
            hint = "MQTT_TLS_CERT and MQTT_TLS_KEY do not form a usable pair; check both files"
        } else {
            hint = "check MQTT_TLS_CA, MQTT_TLS_CERT, MQTT_TLS_KEY and the broker's TLS settings"
        }
        return .tlsHandshake(broker: broker, reason: reason, hint: hint)
    }

    /// The broker closed the connection during the TLS handshake and no OpenSSL alert was read (`detail`: the
    /// socket's error). The likeliest causes, in the order a gateway meets them: no client certificate where
    /// the broker requires one, a client certificate it does not accept.
    static func closedDuringHandshake(settings: MQTTSettings, detail: String) -> UplinkError {
        let reason = "the broker closed the connection during the handshake (\(detail))"
        // The hints are the alerts' own (`error(line:...)`), so that whichever of the reset and the alert an
        // attempt meets, the log sees one problem (`UplinkError.problemKey`).
        guard settings.tls?.certificateFile != nil else {
            return .tlsHandshake(broker: settings.broker, reason: reason, hint: noClientCertificate)
        }
        return .tlsHandshake(
            broker: settings.broker, reason: reason + "; no alert was read, the broker's log says why",
            hint: clientCertificateRefused(settings))
    }

    static let noClientCertificate = "the broker requires a client certificate; set MQTT_TLS_CERT and MQTT_TLS_KEY"

    static func clientCertificateRefused(_ settings: MQTTSettings) -> String {
        "the broker does not accept the client certificate MQTT_TLS_CERT=\(settings.tls?.certificateFile ?? "(unset)"); it must be signed by a CA the broker trusts"
    }

    /// True when `certificate` names `host` (a DNS name or an IP address in its subjectAltName).
    static func certificate(_ certificate: OpaquePointer, names host: String) -> Bool {
        if isIPAddress(host) { return X509_check_ip_asc(certificate, host, 0) == 1 }
        return X509_check_host(certificate, host, host.utf8.count, 0, nil) == 1
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed" -> "certificate verify failed".
    static func openSSLReason(_ line: String) -> String {
        if let after = line.offsetAfterLast("::") {
            return String(decoding: Array(line.utf8)[after...], as: UTF8.self)
        }
        if let colon = line.lastIndex(of: ":") {
            return String(line[line.index(after: colon)...]).trimmingSpaces()
        }
        return line
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
