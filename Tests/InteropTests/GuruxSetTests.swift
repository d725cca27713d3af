// The SET service against gurux-dlms (issue 11): gurux's client writes a clock's time (SET-Request-Normal)
// and its LN builder encodes SET-Responses (Tests/Interop/gurux_set_vectors.py). This code must build the
// same request bytes from the same fields, read gurux's responses, and gurux must read ours.
import COSEM
import Foundation
import Testing

enum GuruxSetVectors {
    static let document: Result<JSON, VectorLoadFailure> = {
        do {
            let output = try GuruxVectors.runGenerator(arguments: [], input: nil, script: "gurux_set_vectors.py")
            return .success(try JSONDecoder().decode(JSON.self, from: output))
        } catch let failure as VectorLoadFailure {
            return .failure(failure)
        } catch {
            return .failure(VectorLoadFailure(description: "Could not read the gurux SET vectors: \(error)"))
        }
    }()

    static func get() throws -> JSON { try document.get() }
}

@Suite("gurux-dlms SET interop")
struct GuruxSetTests {
    @Test("the generator covers requests and every result")
    func generatorCoversTheCases() throws {
        let doc = try GuruxSetVectors.get()
        #expect(try list(doc, "setRequests").count >= 3)
        #expect(Set(try list(doc, "setResponses").map { try field($0, "result") }) == [0, 3, 4, 250])
    }

    @Test("our SET-Request of the clock equals gurux's, byte for byte")
    func requestsMatchGurux() throws {
        for v in try list(try GuruxSetVectors.get(), "setRequests") {
            let f = v["fields"] ?? .null
            let name = try text(v, "name")
            // gurux writes the deviation in the Blue Book convention (UTC = local + deviation), no hundredths,
            // no day of week, status 0.
            let time = CosemDateTime(
                year: UInt16(try field(f, "year")), month: UInt8(try field(f, "month")), day: UInt8(try field(f, "day")),
                hour: UInt8(try field(f, "hour")), minute: UInt8(try field(f, "minute")),
                second: UInt8(try field(f, "second")), hundredths: 0,
                deviation: Int16(-(try field(f, "offsetMinutes"))), clockStatus: ClockStatus(rawValue: 0), dayOfWeek: 0xFF)
            let request = SetRequest(invoke: InvokeIdAndPriority(rawValue: UInt8(try field(v, "invokeIdAndPriority"))),
                                     attribute: try descriptor(v), value: .octetString(time.bytes))
            let gurux = bytes(hex: try text(v, "apdu"))
            #expect(request.encode() == gurux, "\(name)")
            #expect(try SetRequest.decode(gurux) == request, "\(name)")
            #expect(DataValue.octetString(time.bytes).encoded == bytes(hex: try text(v, "value")))
        }
    }

    @Test("gurux's SET-Responses decode to its result; gurux reads ours the same")
    func responsesBothWays() throws {
        let vectors = try list(try GuruxSetVectors.get(), "setResponses")
        var ours: [String] = []
        var expected: [(Int, Int)] = []
        for v in vectors {
            let apdu = bytes(hex: try text(v, "apdu"))
            let name = try text(v, "name")
            let result = try field(v, "result"), invoke = try field(v, "invokeIdAndPriority")
            let response = try SetResponse.decode(apdu)
            #expect(Int(response.result.rawValue) == result, "\(name)")
            #expect(Int(response.invoke.rawValue) == invoke)
            #expect(response.encode() == apdu)
            // The client association accepts it as the answer to its own SET with that invoke id.
            let ourResponse = SetResponse(invoke: response.invoke, result: response.result).encode()
            ours.append(ourResponse.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined())
            expected.append((Int(response.invoke.rawValue), Int(response.result.rawValue)))
        }
        let output = try GuruxVectors.runGenerator(arguments: ["--check-our-responses"],
                                                   input: Data((ours.joined(separator: "\n") + "\n").utf8),
                                                   script: "gurux_set_vectors.py")
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == ours.count)
        for (line, (invoke, result)) in zip(lines, expected) {
            let answer = try JSONDecoder().decode(JSON.self, from: Data(line.utf8))
            #expect(answer["error"]?.string == nil, "gurux refused \(line)")
            let theirs = (try field(answer, "invokeId"), try field(answer, "result"))
            #expect(theirs.0 == invoke && theirs.1 == result)
        }
    }
}
