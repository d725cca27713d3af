// The object list of an Association LN object (class 15, attribute 2): what a meter says it has, for the
// current association. Blue Book (IEC 62056-6-2), Association LN, attribute 2:
//
//   object_list ::= array object_list_element
//   object_list_element ::= structure {
//     class_id: long-unsigned, version: unsigned, logical_name: octet-string(6),
//     access_rights: structure {
//       attribute_access: array structure { attribute_id: integer, access_mode: enum,
//                                           access_selectors: CHOICE { null, array integer } },
//       method_access:    array structure { method_id: integer, access_mode: enum (boolean in version 0) } } }

/// The Association LN object of the current association, and its object list.
public enum AssociationLN {
    /// The interface class id (15).
    public static let classId: UInt16 = 15
    /// The current association's logical name: 0-0:40.0.0.255.
    public static let current = ObisCode(0, 0, 40, 0, 0, 255)
    /// The object list attribute of the current association.
    public static let objectListAttribute = AttributeDescriptor(classId: classId, obis: current, attribute: 2)

    /// The entries of an object list value; a malformed entry fails the whole list with its index.
    public static func objectList(_ value: DataValue) throws(COSEMError) -> [ObjectListEntry] {
        guard case let .array(items) = value else {
            throw .unexpectedValueShape(expected: "object_list (an array)", found: value.description)
        }
        var out: [ObjectListEntry] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case let .structure(fields) = item, fields.count >= 3,
                let classId = fields[0].integerValue, classId >= 0, classId <= 0xFFFF,
                let version = fields[1].integerValue, version >= 0, version <= 255,
                case let .octetString(name) = fields[2], let obis = ObisCode(bytes: name)
            else {
                throw .unexpectedValueShape(
                    expected: "object_list element \(i): structure {class_id, version, logical_name(6), access_rights}",
                    found: item.description)
            }
            var readable: [Int8]? = nil
            var unreadable: [Int8] = []
            if fields.count >= 4, case let .structure(rights) = fields[3], let first = rights.first,
                case let .array(attributes) = first
            {
                var r: [Int8] = []
                for a in attributes {
                    guard case let .structure(af) = a, af.count >= 2, let id = af[0].integerValue, id >= -128, id <= 127,
                        let mode = af[1].integerValue
                    else { continue }
                    // access_mode: 0 no-access, 1 read-only, 2 write-only, 3 read-and-write (4-6: authenticated).
                    if mode == 1 || mode == 3 || mode == 4 || mode == 6 { r.append(Int8(id)) } else { unreadable.append(Int8(id)) }
                }
                readable = r
            }
            out.append(ObjectListEntry(classId: UInt16(classId), version: UInt8(version), obis: obis,
                                       readableAttributes: readable, unreadableAttributes: unreadable))
        }
        return out
    }
}

/// One object of a meter's object list.
public struct ObjectListEntry: Sendable, Equatable {
    public var classId: UInt16
    public var version: UInt8
    public var obis: ObisCode
    /// The attributes the access rights let this association read; nil when the list gave no access rights.
    public var readableAttributes: [Int8]?
    /// The attributes listed without read access.
    public var unreadableAttributes: [Int8]

    public init(classId: UInt16, version: UInt8, obis: ObisCode, readableAttributes: [Int8]? = nil,
                unreadableAttributes: [Int8] = []) {
        self.classId = classId
        self.version = version
        self.obis = obis
        self.readableAttributes = readableAttributes
        self.unreadableAttributes = unreadableAttributes
    }

    /// Whether attribute `index` may be read: listed readable, or the list says nothing about it.
    public func mayRead(_ index: Int8) -> Bool {
        if unreadableAttributes.contains(index) { return false }
        return readableAttributes.map { $0.contains(index) } ?? true
    }

    /// The element as a meter sends it, every listed attribute read-only and no method access.
    public func dataValue(attributes: Int8) -> DataValue {
        let access: [DataValue] = (1...max(1, attributes)).map { id in
            .structure([.integer(id), .enumerated(1), .null])
        }
        return .structure([
            .longUnsigned(classId), .unsigned(version), .octetString(obis.bytes),
            .structure([.array(access), .array([])]),
        ])
    }
}
