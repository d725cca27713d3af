// The one error type of the COSEM layer. Every case carries what an operator needs to act on it: where in
// the APDU the problem is (byte offsets count from the first byte of the APDU or value handed to the decoder),
// what was expected, and what to do.

/// An error of the COSEM application layer (A-XDR data, ACSE, xDLMS services, the client association).
///
/// `description` is written for the person reading the log on a gateway: it says what is wrong, at which byte
/// when it is about bytes, and what to do about it.
public enum COSEMError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended inside an element: `needed` bytes were required at byte `at` but only `remaining` are left.
    case truncated(at: Int, needed: Int, remaining: Int, what: String)
    /// A length prefix promises more bytes than the input holds.
    case lengthExceedsInput(at: Int, declared: Int, remaining: Int)
    /// A length prefix uses a form this layer does not accept (indefinite `80`, or more than 4 length bytes).
    case invalidLengthForm(at: Int, byte: UInt8)
    /// An A-XDR Data tag that is not part of the Data CHOICE.
    case unknownDataTag(at: Int, tag: UInt8)
    /// Arrays/structures nested deeper than the decoding limit (a defence against recursion bombs).
    case nestingTooDeep(at: Int, limit: Int)
    /// More elements in total than the decoding limit allows.
    case tooManyElements(at: Int, count: Int, limit: Int)
    /// A single string/octet-string larger than the decoding limit.
    case valueTooLarge(at: Int, size: Int, limit: Int)
    /// A complete element was decoded but bytes were left over.
    case trailingBytes(at: Int, count: Int)
    /// A byte that should have been a given tag was something else.
    case unexpectedTag(at: Int, expected: UInt8, found: UInt8, what: String)
    /// A field has a value outside its range (e.g. a bad boolean, a bad choice index).
    case invalidValue(at: Int, what: String)
    /// An OBIS code could not be parsed from text.
    case invalidObis(text: String, reason: String)
    /// The first byte of an APDU is not one this layer decodes.
    case unknownAPDU(tag: UInt8)
    /// The peer answered with a different APDU than the one expected.
    case unexpectedAPDU(expected: String, found: UInt8)
    /// The meter rejected the association (AARE result 1 or 2).
    case associationRejected(
        result: AssociationResult, diagnostic: AssociateSourceDiagnostic, clientSAP: UInt8?)
    /// A response carried another invoke id than the request it should answer.
    case invokeIdMismatch(expected: UInt8, received: UInt8)
    /// A block of a GET-Response-With-Datablock arrived out of sequence.
    case blockOutOfSequence(expected: UInt32, received: UInt32)
    /// A long transfer grew beyond the configured maximum.
    case blockTransferTooLarge(size: Int, limit: Int)
    /// The meter answered a GET with a data-access-result error.
    case dataAccess(DataAccessResult)
    /// The meter answered with an exception-response (`D8`).
    case exceptionResponse(ExceptionResponse)
    /// The meter answered with a confirmed-service-error (`0E`).
    case confirmedServiceError(ConfirmedServiceError)
    /// A service was asked of the association that the meter did not grant in the AARE.
    case serviceNotGranted(String)
    /// The association helper was used out of order (e.g. a GET before the AARE was accepted).
    case notAssociated
    /// A value had another shape than the interface class defines (e.g. a scaler_unit that is not a structure).
    case unexpectedValueShape(expected: String, found: String)
    /// A date-time does not name one instant (a field is "not specified" or out of range).
    case dateTimeNotSpecified(field: String)
    /// A protected APDU failed its security checks (tag, invocation counter, keys, HLS-GMAC): a fault of
    /// the meter link, never data.
    case security(SecurityError)

    public var description: String {
        switch self {
        case let .truncated(at, needed, remaining, what):
            return "\(what) at byte \(at) needs \(needed) bytes but only \(remaining) remain: the response was "
                + "truncated (check the link for dropped frames, or lower the max PDU size)"
        case let .lengthExceedsInput(at, declared, remaining):
            return "A-XDR length at byte \(at) says \(declared) bytes but only \(remaining) remain: the response "
                + "was truncated (check the link for dropped frames, or lower the max PDU size)"
        case let .invalidLengthForm(at, byte):
            return "length at byte \(at) uses the unsupported form 0x\(hex(byte)) (only 1-byte lengths and "
                + "81/82/83/84 are valid): the data is corrupt or not A-XDR"
        case let .unknownDataTag(at, tag):
            return "unknown A-XDR data type 0x\(hex(tag)) at byte \(at): the data is corrupt or uses a type "
                + "this agent does not know; capture the frame with `dlms-bridge decode` and report it"
        case let .nestingTooDeep(at, limit):
            return "arrays/structures nested more than \(limit) deep at byte \(at): rejected as malformed "
                + "(raise the decoding depth limit only if a real meter needs it)"
        case let .tooManyElements(at, count, limit):
            return "\(count) elements at byte \(at) exceed the limit of \(limit): rejected as malformed "
                + "(read profiles by range or entry to get smaller answers)"
        case let .valueTooLarge(at, size, limit):
            return "a \(size)-byte value at byte \(at) exceeds the limit of \(limit) bytes: rejected as malformed"
        case let .trailingBytes(at, count):
            return "\(count) unexpected bytes after the end of the value at byte \(at): the data is corrupt "
                + "or the APDU was mis-framed"
        case let .unexpectedTag(at, expected, found, what):
            return "\(what): expected tag 0x\(hex(expected)) at byte \(at) but found 0x\(hex(found)): the "
                + "peer sent something this agent does not understand"
        case let .invalidValue(at, what):
            return "invalid \(what) at byte \(at): the data is corrupt"
        case let .invalidObis(text, reason):
            return "invalid OBIS code \"\(text)\": \(reason) (write it as A-B:C.D.E, A-B:C.D.E.F or "
                + "A.B.C.D.E.F, each field 0-255, e.g. 1-1:32.7.0)"
        case let .unknownAPDU(tag):
            if CipheringTags.isCiphered(tag) {
                return "APDU type 0x\(hex(tag)) is ciphered (\(CipheringTags.name(of: tag))): it must be deciphered "
                    + "first; configure DLMS_EK, DLMS_AK and the system titles, or disable ciphering for this client "
                    + "on the meter"
            }
            return "unknown APDU type 0x\(hex(tag)): not an xDLMS/ACSE APDU this agent decodes"
        case let .unexpectedAPDU(expected, found):
            return "expected \(expected) but the meter sent APDU type 0x\(hex(found))"
        case let .associationRejected(result, diagnostic, sap):
            var text = "association rejected (\(result.name)): \(diagnostic.name) (diagnostic "
                + "\(diagnostic.rawValue))"
            if let advice = diagnostic.advice(clientSAP: sap) { text += ": " + advice }
            return text
        case let .invokeIdMismatch(expected, received):
            return "the response carries invoke id \(received) but the request had \(expected): a stale "
                + "answer from an earlier request; the link will be resynchronised"
        case let .blockOutOfSequence(expected, received):
            return "data block \(received) arrived where block \(expected) was expected: the long transfer "
                + "is aborted and will be retried"
        case let .blockTransferTooLarge(size, limit):
            return "a block transfer reached \(size) bytes, over the limit of \(limit): read profiles by range "
                + "or entry to get smaller answers"
        case let .dataAccess(result):
            return "the meter refused the read: \(result.name) (data-access-result \(result.rawValue)): "
                + result.advice
        case let .exceptionResponse(response):
            return response.description
        case let .confirmedServiceError(error):
            return error.description
        case let .serviceNotGranted(service):
            return "the meter did not grant \(service) in the association: use single requests instead"
        case .notAssociated:
            return "no association is open: send the AARQ and check the AARE first"
        case let .unexpectedValueShape(expected, found):
            return "expected \(expected) but the meter sent \(found): check the OBIS code and class id in "
                + "the configuration"
        case let .dateTimeNotSpecified(field):
            return "the date-time does not name one instant: its \(field) is not specified or out of range"
        case let .security(error):
            return error.description
        }
    }
}

/// Two upper-case hex digits (no allocation for the result: a short string).
@inline(never)
func hex(_ byte: UInt8) -> String {
    let digits: StaticString = "0123456789ABCDEF"
    return digits.withUTF8Buffer { d in
        String(decoding: [d[Int(byte >> 4)], d[Int(byte & 0x0F)]], as: UTF8.self)
    }
}
