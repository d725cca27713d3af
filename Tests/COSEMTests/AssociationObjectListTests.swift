import COSEM
import Testing

/// The Association LN object list (class 15, attribute 2), decoded from bytes as a meter sends them.
@Suite struct AssociationObjectListTests {
    // array(2) of object_list_element: a register 1-0:32.7.0.255 with attribute 2 readable and attribute 3 not
    // (access_selectors null), and a clock without access rights, as some meters send version-0 lists.
    static let bytes: [UInt8] = [
        0x01, 0x02,
        0x02, 0x04, 0x12, 0x00, 0x03, 0x11, 0x00, 0x09, 0x06, 0x01, 0x00, 0x20, 0x07, 0x00, 0xFF,
        0x02, 0x02,
        0x01, 0x02,
        0x02, 0x03, 0x0F, 0x02, 0x16, 0x01, 0x00,
        0x02, 0x03, 0x0F, 0x03, 0x16, 0x00, 0x00,
        0x01, 0x00,
        0x02, 0x03, 0x12, 0x00, 0x08, 0x11, 0x00, 0x09, 0x06, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF,
    ]

    @Test func decodesClassNameAndAccessRights() throws {
        let entries = try AssociationLN.objectList(try DataValue.decode(Self.bytes))
        #expect(entries.count == 2)
        #expect(entries[0].classId == 3 && entries[0].obis == ObisCode(1, 0, 32, 7, 0, 255))
        #expect(entries[0].mayRead(2) && !entries[0].mayRead(3))
        #expect(entries[1].classId == 8 && entries[1].obis == .clock && entries[1].readableAttributes == nil)
        #expect(entries[1].mayRead(2), "no access rights listed: try")
    }

    @Test func roundTripsWhatTheSimulatorSends() throws {
        let entry = ObjectListEntry(classId: 4, version: 0, obis: ObisCode(1, 1, 1, 6, 0, 255))
        var bytes: [UInt8] = []
        DataValue.array([entry.dataValue(attributes: 5)]).encode(into: &bytes)
        let back = try AssociationLN.objectList(try DataValue.decode(bytes))
        #expect(back == [ObjectListEntry(classId: 4, version: 0, obis: ObisCode(1, 1, 1, 6, 0, 255),
                                         readableAttributes: [1, 2, 3, 4, 5])])
    }

    @Test func aMalformedElementIsAnErrorNamingIt() {
        #expect(throws: COSEMError.self) { try AssociationLN.objectList(.structure([])) }
        do {
            _ = try AssociationLN.objectList(.array([.structure([.longUnsigned(3), .unsigned(0), .octetString([1, 2])])]))
            Issue.record("a 2-byte logical name was accepted")
        } catch {
            #expect(error.description.contains("object_list element 0"))
        }
    }
}
