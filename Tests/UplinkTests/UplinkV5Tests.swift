import Foundation
import Testing
@testable import Uplink

/// MQTT 5 acknowledgements: the publish callback fires for failure reason codes too, so the client must
/// read the code (0x10 "no matching subscribers" is a success, >= 0x80 a failure).
@Suite(.serialized) struct UplinkV5Tests {
    @Test func noMatchingSubscribersCountsAsDelivered() throws {
        let broker = try TestBroker(tls: false, password: false).start()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-v5-nosub", version: .v5))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }
        let receipt = try client.publish(topic: "nobody/listens", text: "x")
        try client.waitForEvent("delivered") { $0 == .delivered(receipt.id) }
        #expect(broker.log().contains("Sending PUBACK to gw-v5-nosub (m\(receipt.id.rawValue), rc16)"))
        client.stop()
    }

    @Test func aPublishTheBrokerDeniesIsReportedAsFailed() throws {
        let broker = try TestBroker(
            tls: false, password: true,
            extraConfig: ["acl_file $DIR/acl"])
        try "user \(TestPKI.username)\ntopic readwrite allowed/#\n".write(
            to: broker.dir.appendingPathComponent("acl"), atomically: true, encoding: .utf8)
        if geteuid() == 0, let (uid, gid) = TestBroker.mosquittoUser {
            chown(broker.dir.appendingPathComponent("acl").path, uid, gid)
        }
        try broker.start()
        let client = try MQTTClient(settings: broker.settings(clientID: "gw-v5-acl", version: .v5))
        try client.start()
        try client.waitForEvent("connected") { $0 == .connected }
        let denied = try client.publish(topic: "forbidden/x", text: "no")
        let event = try client.waitForEvent("publish failed") {
            if case .publishFailed(denied.id, _) = $0 { return true }
            #expect($0 != .delivered(denied.id), "a denied publish was reported as delivered")
            return false
        }
        if case let .publishFailed(_, error) = event {
            #expect(error == .brokerRejectedPublish(reasonCode: 0x87, text: "not authorised"))
            #expect(error.description.contains("ACL"))
        }
        let allowed = try client.publish(topic: "allowed/x", text: "yes")
        try client.waitForEvent("allowed delivered") { $0 == .delivered(allowed.id) }
        #expect(client.counters.failures == 1 && client.counters.delivered == 1)
        client.stop()
    }
}
