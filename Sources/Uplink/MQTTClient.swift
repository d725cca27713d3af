import CMosquitto
import Log
import Platform

import CLibc

/// libmosquitto's process-wide initialisation, done once (a Swift `static let` runs its initialiser exactly
/// once, thread-safely); never cleaned up, as the process owns it until exit.
enum MosquittoLibrary {
    static let ready: Bool = {
        mosquitto_lib_init()
        return true
    }()
}

/// An MQTT client over libmosquitto: TLS, last will, reconnect with capped exponential backoff, and
/// acknowledgements reported as events.
///
/// Threads: `start()` spawns one network thread that owns the connection (connect, read, write, keepalive,
/// reconnect). libmosquitto's callbacks run on it and only push `UplinkEvent`s to `events`; the consumer pops
/// them on its own thread. Publish from the same thread that consumes `events` (or hold one lock across
/// `publish` and recording its `MessageID`): `.delivered(id)` can be queued before `publish` returns.
///
/// Call `start`, `stop` and `reloadCertificates` from one thread (the agent's); `publish` and the read-only
/// properties from any.
///
/// Why not `mosquitto_loop_start`: its loop (mosquitto_loop_forever) returns for good after a TLS error or an
/// MQTT 5 refusal, which would leave an unattended gateway disconnected until restarted. This client's own
/// loop keeps retrying every failure with capped exponential backoff, and connects with
/// `mosquitto_connect_async` (non-blocking TCP connect) so that `stop` is not held by a stuck connect().
public final class MQTTClient: @unchecked Sendable {
    /// The settings this client was made with.
    public let settings: MQTTSettings
    /// Events from the network thread, in order. Pop them from the consumer's thread.
    public var events: BlockingQueue<UplinkEvent> { core.events }

    private let handle: OpaquePointer
    private let core: Core
    private let retainedCore: Unmanaged<Core>
    private var thread: PlatformThread?
    private var started = false
    private var finished = false

    /// Makes a client; checks the settings (files readable, ranges) and configures libmosquitto. Connects
    /// only on `start()`.
    public init(settings: MQTTSettings, logger: Logger = Logger(label: "dlms-bridge.uplink")) throws(UplinkError) {
        try settings.validate()
        _ = MosquittoLibrary.ready
        self.settings = settings
        let core = Core(settings: settings, logger: logger)
        self.core = core
        retainedCore = Unmanaged.passRetained(core)
        guard let handle = mosquitto_new(settings.clientID, true, retainedCore.toOpaque()) else {
            retainedCore.release()
            throw .library(call: "mosquitto_new", detail: String(cString: strerror(errno)))
        }
        self.handle = handle
        do {
            try configure()
        } catch {
            mosquitto_destroy(handle)
            retainedCore.release()
            throw error
        }
    }

    deinit {
        if started && !finished { _ = stop(timeoutMilliseconds: 2000) }
        // An abandoned network thread may still touch the handle and the core: leak both then.
        if !core.withLock({ $0.abandoned }) {
            mosquitto_destroy(handle)
            retainedCore.release()
        }
    }

    private func configure() throws(UplinkError) {
        func check(_ rc: Int32, _ call: String) throws(UplinkError) {
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                throw .library(call: call, detail: String(cString: mosquitto_strerror(rc)))
            }
        }
        let version = settings.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(version)), "protocol version")
        try check(mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, Int32(settings.maxInflight)), "send maximum")
        try check(mosquitto_threaded_set(handle, true), "mosquitto_threaded_set")
        if let user = settings.username {
            try check(mosquitto_username_pw_set(handle, user, settings.password), "mosquitto_username_pw_set")
        }
        if let topic = settings.statusTopic {
            let rc = "offline".withCString { mosquitto_will_set_v5(handle, topic, 7, $0, 1, true, nil) }
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                throw .invalidSetting(name: "status topic", problem: "'\(topic)': \(String(cString: mosquitto_strerror(rc)))")
            }
        }
        if let tls = settings.tls {
            try applyTLS(tls)
            try check(mosquitto_tls_opts_set(handle, 1, tls.minimumVersion.rawValue, nil), "mosquitto_tls_opts_set")
            if tls.insecure {
                try check(mosquitto_tls_insecure_set(handle, true), "mosquitto_tls_insecure_set")
            }
        }
        mosquitto_connect_v5_callback_set(handle, onConnect)
        mosquitto_disconnect_v5_callback_set(handle, onDisconnect)
        mosquitto_publish_v5_callback_set(handle, onPublish)
        mosquitto_log_callback_set(handle, onLog)
    }

    private func applyTLS(_ tls: TLSSettings) throws(UplinkError) {
        let rc = mosquitto_tls_set(handle, tls.caFile, tls.caDirectory, tls.certificateFile, tls.keyFile, nil)
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            throw .invalidSetting(
                name: "MQTT_TLS_CA/MQTT_TLS_CERT/MQTT_TLS_KEY",
                problem: "libmosquitto cannot use them: \(String(cString: mosquitto_strerror(rc)))")
        }
    }

    /// Starts the network thread, which connects (and reconnects) in the background. Returns at once: name
    /// resolution and the TCP and TLS handshakes happen on that thread, and their outcome arrives as events.
    public func start() throws(UplinkError) {
        if started { return }
        let tlsNote: String
        if let tls = settings.tls {
            tlsNote = "TLS (min \(tls.minimumVersion.rawValue))"
            if tls.insecure {
                core.logger.warning(
                    "MQTT_TLS_INSECURE is set: the broker's host name is NOT checked against its certificate; anyone holding a certificate from this CA can pose as \(settings.host). Use only for testing.")
            }
        } else {
            tlsNote = "plain TCP"
            core.logger.warning("MQTT without TLS to \(settings.broker): readings and the password cross the network in clear text")
        }
        core.logger.info(
            "MQTT \(settings.protocolVersion) client '\(settings.clientID)' connecting to \(settings.broker) over \(tlsNote)\(settings.username.map { " as user '\($0)'" } ?? "")")
        let handle = UncheckedHandle(raw: handle)
        let core = core
        do {
            thread = try PlatformThread.spawn(name: "mqtt-network") { core.runNetworkLoop(handle.raw) }
        } catch {
            throw .library(call: "starting the MQTT network thread", detail: error.description)
        }
        started = true
    }

    /// Publishes `payload` on `topic`. For QoS 1/2 the message is retransmitted by libmosquitto until the
    /// broker acknowledges it or the process ends; `.delivered(id)` or `.publishFailed(id, _)` settles it.
    /// While disconnected a QoS 1/2 message is queued (`receipt.queued`), not failed: do not publish it again.
    public func publish(topic: String, payload: [UInt8], qos: QoS? = nil, retain: Bool = false) throws(UplinkError)
        -> PublishReceipt
    {
        let qos = qos ?? settings.defaultQoS
        guard payload.count <= 268_435_455 else {
            core.count { $0.failures += 1 }
            throw .publishRejected(topic: topic, detail: "payload of \(payload.count) bytes exceeds MQTT's 256 MiB limit")
        }
        let (stopping, connected) = core.withLock { ($0.stopping, $0.connected) }
        if stopping { throw .stopped }
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos.rawValue, retain, nil)
        }
        // libmosquitto queued the packet; the network thread writes it (threaded mode), once woken.
        core.wake.signal()
        switch rc {
        case MOSQ_ERR_SUCCESS.rawValue:
            // Accepted while not connected (libmosquitto between attempts): queued just the same.
            core.count {
                $0.published += 1
                if !connected { $0.queued += 1 }
            }
            return PublishReceipt(id: MessageID(mid), queued: !connected)
        case MOSQ_ERR_NO_CONN.rawValue where qos != .atMostOnce:
            // libmosquitto has queued it in memory and sends it after the reconnect (see uplink notes).
            core.count {
                $0.published += 1
                $0.queued += 1
            }
            return PublishReceipt(id: MessageID(mid), queued: true)
        case MOSQ_ERR_NO_CONN.rawValue:
            core.count { $0.failures += 1 }
            throw .notConnected(broker: settings.broker)
        default:
            core.count { $0.failures += 1 }
            throw .publishRejected(topic: topic, detail: String(cString: mosquitto_strerror(rc)))
        }
    }

    /// Publishes a UTF-8 string.
    public func publish(topic: String, text: String, qos: QoS? = nil, retain: Bool = false) throws(UplinkError)
        -> PublishReceipt
    {
        try publish(topic: topic, payload: Array(text.utf8), qos: qos, retain: retain)
    }

    /// Re-reads the TLS CA, certificate and key files (for SIGHUP after a certificate rotation): checks they
    /// are readable now, then the network thread disconnects cleanly and reconnects with them.
    public func reloadCertificates() throws(UplinkError) {
        guard let tls = settings.tls else { return }
        if let path = tls.caFile { try MQTTSettings.checkReadable(path, name: "MQTT_TLS_CA", directory: false) }
        if let path = tls.caDirectory { try MQTTSettings.checkReadable(path, name: "MQTT_TLS_CA", directory: true) }
        if let path = tls.certificateFile { try MQTTSettings.checkReadable(path, name: "MQTT_TLS_CERT", directory: false) }
        if let path = tls.keyFile { try MQTTSettings.checkReadable(path, name: "MQTT_TLS_KEY", directory: false) }
        core.withLock { state in
            state.reloadRequested = true
            core.lock.broadcast()
        }
        core.wake.signal()
        core.logger.info("reloading TLS certificates: reconnecting to \(settings.broker)")
    }

    /// Stops within `timeoutMilliseconds`: when connected, publishes `offline` (retained) on the status topic
    /// and waits for its PUBACK, sends DISCONNECT (so the broker does not publish the last will), and ends the
    /// network thread. Returns true when all of that finished in time; false when the thread had to be
    /// abandoned (stuck in name resolution, say), which is harmless when the process is about to exit.
    /// Messages still unacknowledged are dropped from memory: the spool replays them after the restart.
    @discardableResult
    public func stop(timeoutMilliseconds: Int64 = 5000) -> Bool {
        guard started, !finished else { return true }
        finished = true
        let deadline = Deadline.after(milliseconds: timeoutMilliseconds)
        let halfway = Deadline.after(milliseconds: timeoutMilliseconds / 2)
        var clean = true
        if let topic = settings.statusTopic, isConnected {
            var mid: Int32 = 0
            // Published holding the core's lock so that its PUBACK cannot be handled before it is marked as
            // the client's own (libmosquitto never calls back into us while holding a lock publish needs).
            let rc = core.lock.withLock { () -> Int32 in
                // An `online` from before a dropped connection is retransmitted after the reconnect, behind
                // newer messages: let it settle first, or it could land after `offline` and stay retained.
                _ = core.lock.wait(until: { core.state.internalMIDs.isEmpty }, deadline: halfway)
                let rc = "offline".withCString { mosquitto_publish_v5(handle, &mid, topic, 7, $0, 1, true, nil) }
                if rc == MOSQ_ERR_SUCCESS.rawValue { core.state.internalMIDs.insert(mid) }
                return rc
            }
            core.wake.signal()
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                let acked = core.lock.withLock { () -> Bool in
                    core.lock.wait(until: { core.state.settledInternal.contains(mid) }, deadline: halfway)
                }
                if !acked {
                    clean = false
                    core.logger.warning("the broker did not acknowledge the 'offline' status in time")
                }
            }
        }
        core.withLock { state in
            state.stopping = true
            core.lock.broadcast()
        }
        // Sets libmosquitto's state to "disconnecting" and queues DISCONNECT when a socket is open; the
        // network thread writes it, sees the socket close and leaves its loop instead of reconnecting.
        _ = mosquitto_disconnect(handle)
        core.wake.signal()
        let exited = core.lock.withLock { () -> Bool in
            let ok = core.lock.wait(until: { core.state.threadExited }, deadline: deadline)
            if !ok {
                core.state.forceExit = true
                core.lock.broadcast()
            }
            return ok
        }
        core.wake.signal()
        // forceExit ends the loop at once (the wakeup), unless the thread is blocked in a call.
        let finishedInTime = exited || core.lock.withLock { () -> Bool in
            core.lock.wait(until: { core.state.threadExited }, deadline: Deadline.after(milliseconds: 600))
        }
        if finishedInTime {
            thread?.join()
        } else {
            core.withLock { $0.abandoned = true }
            core.logger.warning(
                "MQTT network thread did not stop within \(timeoutMilliseconds) ms (blocked resolving or connecting to \(settings.broker)); leaving it behind")
        }
        core.events.close()
        core.logger.info("MQTT client stopped\(clean && exited ? " cleanly" : "")")
        return clean && exited
    }

    /// True while the broker has accepted the connection.
    public var isConnected: Bool { core.withLock { $0.connected } }

    /// A snapshot of the counters.
    public var counters: UplinkCounters { core.withLock { $0.counters } }
}

/// The raw libmosquitto handle, sent to the network thread (libmosquitto's calls are thread-safe).
struct UncheckedHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// What the callbacks share with the client; handed to libmosquitto as its userdata and kept alive by the
/// client (or leaked with an abandoned network thread).
final class Core: @unchecked Sendable {
    struct State {
        var connected = false
        var stopping = false
        var forceExit = false
        var threadExited = false
        var abandoned = false
        var reloadRequested = false
        var attempts = 0
        /// This attempt already reported why it failed (TLS error, refusal): its disconnect adds nothing.
        var attemptReported = false
        var internalMIDs: Set<Int32> = []
        var settledInternal: Set<Int32> = []
        var counters = UplinkCounters()
        /// The last problem logged, so that a broker down for hours logs its failure once, not per attempt.
        var lastLogged: String?
    }

    let settings: MQTTSettings
    let logger: Logger
    let events = BlockingQueue<UplinkEvent>()
    let lock = ConditionLock()
    /// Wakes the network thread's poll(2): a message to send, a stop or a reload.
    let wake = Wakeup()
    /// Guarded by `lock`.
    var state = State()

    init(settings: MQTTSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    func withLock<T>(_ body: (inout State) -> T) -> T {
        lock.withLock { body(&state) }
    }

    func count(_ body: (inout UplinkCounters) -> Void) {
        lock.withLock { body(&state.counters) }
    }

    /// Logs a connection problem at error level once per distinct problem (`UplinkError.problemKey`), later
    /// repeats at debug.
    func logProblem(_ error: UplinkError) {
        let key = error.problemKey
        let repeated = withLock { state -> Bool in
            defer { state.lastLogged = key }
            return state.lastLogged == key
        }
        if repeated { logger.debug("\(error.description)") } else { logger.error("\(error.description)") }
    }

    // MARK: network thread

    func runNetworkLoop(_ handle: OpaquePointer) {
        var first = true
        while true {
            let (stop, reload) = withLock { state -> (Bool, Bool) in
                state.attemptReported = false
                let reload = state.reloadRequested
                state.reloadRequested = false
                return (state.stopping, reload)
            }
            if stop { break }
            if reload, let tls = settings.tls {
                let rc = mosquitto_tls_set(handle, tls.caFile, tls.caDirectory, tls.certificateFile, tls.keyFile, nil)
                if rc != MOSQ_ERR_SUCCESS.rawValue {
                    logger.error("reloading TLS files failed: \(String(cString: mosquitto_strerror(rc)))")
                }
            }
            let rc: Int32
            if first {
                rc = mosquitto_connect_async(handle, settings.host, Int32(settings.port), Int32(settings.keepaliveSeconds))
            } else {
                rc = mosquitto_reconnect_async(handle)
            }
            let connectErrno = errno
            first = false
            if rc == MOSQ_ERR_SUCCESS.rawValue || rc == MOSQ_ERR_CONN_PENDING.rawValue, awaitTCPConnect(handle) {
                var disconnectIssued = false
                while true {
                    let lrc = serviceConnection(handle)
                    if lrc != MOSQ_ERR_SUCCESS.rawValue { break }
                    let (force, reloadNow) = withLock { ($0.forceExit, $0.reloadRequested) }
                    if force { break }
                    if reloadNow && !disconnectIssued {
                        disconnectIssued = true
                        _ = mosquitto_disconnect(handle)
                    }
                }
            } else {
                attemptFailed(rc: rc, errnoValue: connectErrno)
            }
            let delay = withLock { state -> Int64? in
                if state.stopping || state.forceExit { return nil }
                if state.reloadRequested { return 0 }
                let base = Int64(settings.reconnectDelaySeconds) * 1000
                let cap = Int64(settings.reconnectDelayMaxSeconds) * 1000
                let shift = min(state.attempts, 20)
                state.attempts += 1
                return min(cap, base << Int64(shift))
            }
            guard let delay else { break }
            if delay > 0 {
                let deadline = Deadline.after(milliseconds: delay)
                let stopNow = lock.withLock { () -> Bool in
                    _ = lock.wait(until: { self.state.stopping || self.state.reloadRequested }, deadline: deadline)
                    return state.stopping
                }
                if stopNow { break }
            }
        }
        withLock { state in
            state.threadExited = true
            state.connected = false
            lock.broadcast()
        }
    }

    /// One turn of the connection, as `mosquitto_loop` would do it but with poll(2) on the socket and this
    /// client's wakeup: `mosquitto_loop` uses select(), whose descriptor sets end at 1023, so a gateway with a
    /// thousand meters (a socket and spool files each) put the broker's socket out of its reach and never
    /// connected, without an error. Waits until the socket is ready, a wakeup (publish, stop, reload) or the
    /// keepalive's next check; then reads (which also drives the TLS handshake), writes what is queued and
    /// runs the keepalive. Returns libmosquitto's code: anything but success ends the connection.
    private func serviceConnection(_ handle: OpaquePointer) -> Int32 {
        let fd = mosquitto_socket(handle)
        guard fd >= 0 else { return MOSQ_ERR_NO_CONN.rawValue }
        let wantWrite = mosquitto_want_write(handle)
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN) | (wantWrite ? Int16(POLLOUT) : 0), revents: 0),
            pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0),
        ]
        // The keepalive (PINGREQ) is checked a few times per period; no other timer wakes this thread.
        let timeout = Int32(min(10_000, max(1000, settings.keepaliveSeconds * 250)))
        let rc = poll(&fds, 2, timeout)
        if rc < 0 && errno != EINTR { return MOSQ_ERR_ERRNO.rawValue }
        if fds[1].revents != 0 { wake.drain() }
        if fds[0].revents != 0 {
            // Also on POLLOUT alone: during the TLS handshake only the read side makes progress.
            let r = mosquitto_loop_read(handle, 1)
            if r != MOSQ_ERR_SUCCESS.rawValue { return r }
        }
        if mosquitto_socket(handle) >= 0 && mosquitto_want_write(handle) {
            let w = mosquitto_loop_write(handle, 1)
            if w != MOSQ_ERR_SUCCESS.rawValue { return w }
        }
        return mosquitto_loop_misc(handle)
    }

    /// Waits for the non-blocking TCP connect to finish; false when it failed (or we are stopping), and the
    /// caller must not enter `mosquitto_loop`. libmosquitto 2.0.11 does not check the connect's outcome
    /// itself: with TLS it keeps writing its ClientHello to the refused socket (EPIPE, a whole core) until
    /// the keepalive expires (eclipse-mosquitto/mosquitto#2421). The next attempt's reconnect closes it.
    private func awaitTCPConnect(_ handle: OpaquePointer) -> Bool {
        let fd = mosquitto_socket(handle)
        guard fd >= 0 else { return false }
        let deadline = Deadline.after(milliseconds: Int64(settings.keepaliveSeconds) * 1000)
        while true {
            if withLock({ $0.stopping || $0.forceExit }) { return false }
            var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0), pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)]
            let rc = poll(&fds, 2, deadline.remainingMilliseconds)
            if rc < 0 && errno != EINTR { return true }  // cannot wait: let libmosquitto's loop find out
            if fds[1].revents != 0 { wake.drain() }
            if fds[0].revents == 0 {
                if deadline.hasPassed { return true }  // let libmosquitto's keepalive report it
                continue
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            var failure: String?
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0 {
                failure = String(cString: strerror(error))
            } else {
                // libmosquitto's first TLS write may already have consumed the socket error: ask the socket
                // whether it has a peer.
                var peer = sockaddr_storage()
                var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let connected = withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &peerLength) }
                }
                if connected != 0 { failure = "TCP connection refused or reset" }
            }
            if let failure {
                // Reported now; libmosquitto would otherwise notice only at the keepalive. DISCONNECT on the
                // dead socket makes its next loop fail and close it.
                attemptFailed(detail: failure)
                _ = shutdown(fd, Int32(SHUT_RDWR))
                _ = mosquitto_disconnect(handle)
                return false
            }
            return true
        }
    }

    /// A connect call failed before any packet was exchanged (resolution, socket, TCP).
    private func attemptFailed(rc: Int32, errnoValue: Int32) {
        let detail: String
        if rc == MOSQ_ERR_ERRNO.rawValue {
            detail = String(cString: strerror(errnoValue))
        } else if rc == MOSQ_ERR_EAI.rawValue {
            detail = "cannot resolve host name '\(settings.host)'"
        } else {
            detail = String(cString: mosquitto_strerror(rc))
        }
        attemptFailed(detail: detail)
    }

    private func attemptFailed(detail: String) {
        // A TLS failure during the connect call was already reported, with its reason, by the log callback.
        let first = withLock { state -> Bool in
            defer { state.attemptReported = true }
            return !state.attemptReported
        }
        guard first else { return }
        let error = UplinkError.unreachable(broker: settings.broker, detail: detail)
        count { $0.connectFailures += 1 }
        logProblem(error)
        events.push(.unreachable(error))
    }

    // MARK: callbacks (network thread, under libmosquitto's callback mutex: quick bookkeeping only)

    func connected(_ handle: OpaquePointer?, rc: Int32) {
        guard rc == 0 else {
            let error = UplinkError.connectionRefused(
                broker: settings.broker, reason: RefusalReason(code: rc, version: settings.protocolVersion))
            withLock { state in
                state.counters.refusals += 1
                state.attemptReported = true
            }
            logProblem(error)
            events.push(.connectionRefused(error))
            return
        }
        var statusMID: Int32 = 0
        var statusRC: Int32 = -100
        if let topic = settings.statusTopic {
            statusRC = "online".withCString { mosquitto_publish_v5(handle, &statusMID, topic, 6, $0, 1, true, nil) }
        }
        withLock { state in
            state.connected = true
            state.attempts = 0
            state.counters.connects += 1
            state.lastLogged = nil
            if statusRC == MOSQ_ERR_SUCCESS.rawValue { state.internalMIDs.insert(statusMID) }
            lock.broadcast()
        }
        logger.info("connected to the MQTT broker at \(settings.broker)")
        events.push(.connected)
    }

    func disconnected(rc: Int32, errnoValue: Int32) {
        let (wasConnected, reported) = withLock { state -> (Bool, Bool) in
            let was = state.connected
            state.connected = false
            if was { state.counters.disconnects += 1 }
            lock.broadcast()
            return (was, state.attemptReported)
        }
        if rc == 0 {
            guard wasConnected else { return }  // the end of an attempt that never connected
            logger.info("disconnected from the MQTT broker at \(settings.broker)")
            events.push(.disconnected(nil))
            return
        }
        let detail: String
        if rc >= 0x80 {
            detail = "the broker disconnected us: \(reasonCodeText(rc))"
        } else if rc == MOSQ_ERR_ERRNO.rawValue {
            detail = String(cString: strerror(errnoValue))
        } else if rc == MOSQ_ERR_KEEPALIVE.rawValue {
            detail = "no answer from the broker within the keepalive (\(settings.keepaliveSeconds) s)"
        } else {
            detail = String(cString: mosquitto_strerror(rc))
        }
        if wasConnected {
            let error = UplinkError.connectionLost(broker: settings.broker, detail: detail)
            logProblem(error)
            events.push(.disconnected(error))
        } else if !reported, settings.tls != nil, rc == MOSQ_ERR_ERRNO.rawValue,
            errnoValue == EPROTO || errnoValue == ECONNRESET
        {
            // The TCP connection was up (a refused connect is reported before the loop), and the broker closed
            // it during the TLS handshake before OpenSSL could read its alert (with TLS 1.3 a missing client
            // certificate is rejected after the client's side of the handshake, and the reset can win).
            let error = TLSDiagnosis.closedDuringHandshake(settings: settings, detail: detail)
            count { $0.tlsErrors += 1 }
            // The same refusal as a handshake failure already logged with its alert: once per problem.
            let sameProblem = withLock { $0.lastLogged?.hasPrefix("TLS handshake with") ?? false }
            if sameProblem { logger.debug("\(error.description)") } else { logProblem(error) }
            events.push(.tlsError(error))
        } else if !reported {
            let error = UplinkError.unreachable(broker: settings.broker, detail: detail)
            count { $0.connectFailures += 1 }
            logProblem(error)
            events.push(.unreachable(error))
        }
    }

    func published(mid: Int32, reasonCode: Int32) {
        let isInternal = withLock { state -> Bool in
            if state.internalMIDs.remove(mid) != nil {
                state.settledInternal.insert(mid)
                if state.settledInternal.count > 64 { state.settledInternal.removeAll() }
                lock.broadcast()
                return true
            }
            if reasonCode < 0x80 { state.counters.delivered += 1 } else { state.counters.failures += 1 }
            return false
        }
        if isInternal { return }
        if reasonCode < 0x80 {
            events.push(.delivered(MessageID(mid)))
        } else {
            let error = UplinkError.brokerRejectedPublish(reasonCode: reasonCode, text: reasonCodeText(reasonCode))
            logger.warning("\(error.description) (\(MessageID(mid)))")
            events.push(.publishFailed(MessageID(mid), error))
        }
    }

    func log(_ handle: OpaquePointer?, level: Int32, line: String) {
        if level & Int32(MOSQ_LOG_ERR) != 0 && line.hasPrefix("OpenSSL Error") {
            // Only a handshake failure is a TLS error; once connected, an OpenSSL error is a lost connection
            // and the disconnect callback reports it.
            let first = withLock { state -> Bool in
                if state.connected { return false }
                defer { state.attemptReported = true }
                return !state.attemptReported
            }
            guard first else { return }
            var verify = Int(X509_V_OK)
            var hostMatches = true
            if let ssl = mosquitto_ssl_get(handle).map(OpaquePointer.init) {
                verify = SSL_get_verify_result(ssl)
                if verify != Int(X509_V_OK), let cert = SSL_get1_peer_certificate(ssl) {
                    hostMatches = TLSDiagnosis.certificate(cert, names: settings.host)
                    X509_free(cert)
                }
            }
            let error = TLSDiagnosis.error(
                line: line, verifyResult: verify, hostMatches: hostMatches, settings: settings)
            count { $0.tlsErrors += 1 }
            logProblem(error)
            events.push(.tlsError(error))
            return
        }
        switch Int32(level) {
        case Int32(MOSQ_LOG_ERR), Int32(MOSQ_LOG_WARNING): logger.warning("libmosquitto: \(line)")
        case Int32(MOSQ_LOG_NOTICE), Int32(MOSQ_LOG_INFO): logger.debug("libmosquitto: \(line)")
        default: logger.trace("libmosquitto: \(line)")
        }
    }
}

// The C callbacks: no captures (they are C function pointers); the userdata is the Core.

private func core(_ obj: UnsafeMutableRawPointer?) -> Core {
    Unmanaged<Core>.fromOpaque(obj!).takeUnretainedValue()
}

private let onConnect: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?) -> Void = {
    handle, obj, rc, _, _ in
    core(obj).connected(handle, rc: rc)
}

private let onDisconnect: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, OpaquePointer?) -> Void = {
    _, obj, rc, _ in
    let saved = errno
    core(obj).disconnected(rc: rc, errnoValue: saved)
}

private let onPublish: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?) -> Void = {
    _, obj, mid, reason, _ in
    core(obj).published(mid: mid, reasonCode: reason)
}

private let onLog: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Void = {
    handle, obj, level, text in
    guard let text else { return }
    core(obj).log(handle, level: level, line: String(cString: text))
}

extension MQTTClient {
    /// Tests only: shuts the socket down under libmosquitto, as a crash or a cut cable would, so that the
    /// broker sees no DISCONNECT and publishes the last will.
    /// Tests only: the client's own status messages not yet acknowledged.
    var statusMessagesInFlight: Int { core.withLock { $0.internalMIDs.count } }

    func dropConnectionForTesting() {
        let fd = mosquitto_socket(handle)
        if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }
}
