import COSEM
import HDLC
import MeterLink
import MeterSimulator
import Testing

/// The sans-I/O meter core, driven by the codebase's client-side HDLC link and association.
@Suite struct SimulatorCoreTests {
    // MARK: Association

    @Test func publicClientIsAcceptedWithTheFullConformance() throws {
        var h = SimulatorHarness(clientSAP: 16)
        guard case let .accepted(granted, maxPDU) = try h.open() else { Issue.record("rejected"); return }
        #expect(granted.contains(.multipleReferences) && granted.contains(.blockTransferWithGet)
                && granted.contains(.selectiveAccess) && granted.contains(.get))
        #expect(maxPDU == 1024)
        #expect(h.meter.isAssociated)
    }

    @Test(arguments: [UInt8(1), 32])
    func passwordClientsNeedTheRightPassword(sap: UInt8) throws {
        var good = SimulatorHarness(clientSAP: sap, password: "22222222")
        guard case .accepted = try good.open() else { Issue.record("right password rejected"); return }

        var wrong = SimulatorHarness(clientSAP: sap, password: "22222223")
        guard case let .rejected(result, diagnostic, _) = try wrong.open() else { Issue.record("wrong password accepted"); return }
        #expect(result == .rejectedPermanent)
        #expect(diagnostic == .authenticationFailure)
        #expect(!wrong.meter.isAssociated)

        var none = SimulatorHarness(clientSAP: sap)
        guard case let .rejected(_, missing, _) = try none.open() else { Issue.record("no password accepted"); return }
        #expect(missing == .authenticationRequired)
    }

    @Test func tenCharacterPasswordsWork() throws {
        var h = SimulatorHarness(configuration: SimulatorConfiguration(password: Array("2222222222".utf8)),
                                 clientSAP: 1, password: "2222222222")
        guard case .accepted = try h.open() else { Issue.record("rejected"); return }
        var short = SimulatorHarness(configuration: SimulatorConfiguration(password: Array("2222222222".utf8)),
                                     clientSAP: 1, password: "22222222")
        guard case let .rejected(_, diagnostic, _) = try short.open() else { Issue.record("accepted"); return }
        #expect(diagnostic == .authenticationFailure)
    }

    @Test func unknownClientGetsDisconnectedModeOrSilence() throws {
        var h = SimulatorHarness(clientSAP: 5)
        let events = h.pump(h.link.connect())
        #expect(events.contains(.rejected(.disconnectedMode)))
        #expect(h.meter.counters.framesFromUnknownClients == 1)

        var mute = SimulatorHarness(configuration: SimulatorConfiguration(unknownClientResponse: .silence), clientSAP: 5)
        _ = mute.pump(mute.link.connect())
        #expect(mute.outputs.allSatisfy { $0.writes.isEmpty })
    }

    @Test func getBeforeTheAssociationIsAnException() throws {
        var h = SimulatorHarness()
        let connected = h.connect()
        #expect(connected)
        let request = GetRequest.normal(invoke: InvokeIdAndPriority(rawValue: 0xC1),
                                        attribute: AttributeDescriptor(classId: 8, obis: .clock, attribute: 2), access: nil)
        let reply = h.transact(request.encode())
        let answer = try #require(reply)
        #expect(answer.first == 0xD8)  // exception-response
        #expect(h.meter.counters.exceptionResponses == 1)
    }

    @Test func releaseAndDisconnect() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        let reply = h.transact(h.association.releaseRequest())
        let rlre = try #require(reply)
        try h.association.handleReleaseResponse(rlre)
        #expect(!h.meter.isAssociated)
        let events = h.pump(h.link.disconnect())
        #expect(events.contains(.disconnected))
        #expect(!h.meter.isLinkConnected)
        #expect(h.meter.counters.releases == 1 && h.meter.counters.linksClosed == 1)
    }

    // MARK: Objects

    @Test func everyCatalogObjectReadsWithTheExpectedUnit() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        for m in MeasurementCatalog.standard.measurements {
            let value = try h.value(m.valueAttribute)
            if let su = m.scalerUnitAttribute {
                let scalerUnit = try ScalerUnit(try h.value(su))
                #expect(scalerUnit.unit == m.expectedUnit, "\(m.key): unit \(scalerUnit.unit.rawValue)")
                #expect(value.int != nil, "\(m.key): \(value)")
            }
            if let ct = m.captureTimeAttribute {
                let time = try #require(try CosemDateTime(bytes: try #require(try h.value(ct).octets)).unixMilliseconds())
                #expect(time <= h.now && time > h.now - 86_400_000, "\(m.key) capture time")
            }
            switch m.key {
            case "clock":
                let time = try CosemDateTime(bytes: try #require(value.octets))
                #expect(try time.unixMilliseconds() == h.now)
            case "serial_number":
                #expect(value.octets == Array("000019001234".utf8))
            case "firmware_version":
                #expect(value.text?.isEmpty == false)
            case "load_profile":
                let rows = try ProfileGeneric.rows(value)
                #expect(rows.count == 192)
                #expect(h.meter.counters.blocksSent > 1, "the load profile must need block transfer")
            case "event_log":
                #expect(try ProfileGeneric.rows(value).count >= 8)
            default:
                break
            }
        }
    }

    @Test func registerValuesFollowTheTimeAndEnergiesOnlyGrow() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        let voltage = InterfaceClass.register.attribute(2, of: SimulatedObjectModel.voltage)
        let energy = InterfaceClass.register.attribute(2, of: SimulatedObjectModel.activeEnergyImport)
        var lastEnergy: Int64 = 0
        var voltages: Set<Int64> = []
        for step in 0..<20 {
            h.now = SimulatorHarness.start + Int64(step) * 37_000
            let v = try #require(try h.value(voltage).int)
            #expect((2260...2340).contains(v), "voltage \(v) x 0.1 V")
            voltages.insert(v)
            let e = try #require(try h.value(energy).int)
            #expect(e >= lastEnergy)
            lastEnergy = e
        }
        #expect(voltages.count > 5, "the voltage should change over time")
    }

    @Test func scalerUnitsAreTheStandardCodes() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        let expected: [(ObisCode, Int8, UInt8)] = [
            (SimulatedObjectModel.voltage, -1, 35), (SimulatedObjectModel.current, -3, 33),
            (SimulatedObjectModel.frequency, -2, 44), (SimulatedObjectModel.activeEnergyImport, 0, 30),
            (SimulatedObjectModel.reactiveEnergyImport, 0, 32),
        ]
        for (obis, scaler, unit) in expected {
            let su = try ScalerUnit(try h.value(InterfaceClass.register.attribute(3, of: obis)))
            #expect(su.scaler == scaler && su.unit.rawValue == unit, "\(obis): \(su)")
        }
    }

    @Test func unknownObjectsAndAttributesAreObjectUndefined() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        #expect(try h.get(AttributeDescriptor(classId: 3, obis: ObisCode(1, 1, 99, 7, 0), attribute: 2))
                == .error(.objectUndefined))
        #expect(try h.get(AttributeDescriptor(classId: 3, obis: SimulatedObjectModel.voltage, attribute: 9))
                == .error(.objectUndefined))
        #expect(try h.get(AttributeDescriptor(classId: 1, obis: SimulatedObjectModel.voltage, attribute: 2))
                == .error(.objectClassInconsistent))
        // The association survives.
        #expect(try h.value(InterfaceClass.clock.attribute(2, of: .clock)).octets?.count == 12)
    }

    // MARK: GET-With-List

    @Test func twelveRegistersInOneRoundTrip() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        // The Microstar set: the catalog's first twelve registers.
        let registers = Array(MeasurementCatalog.standard.measurements.filter { $0.kind == .register }.prefix(12))
        #expect(registers.count == 12)
        let before = h.outputs.count
        let results = try h.get(list: registers.map { AttributeRequest($0.valueAttribute) })
        #expect(results.count == 12)
        #expect(results.allSatisfy { if case .data = $0 { return true } else { return false } })
        #expect(h.outputs.count - before == 1, "one request frame, one answer")
    }

    @Test func withListIsRefusedWhenNotGranted() throws {
        var h = SimulatorHarness(configuration: SimulatorConfiguration(conformance: SimulatorConfiguration.withoutGetWithList))
        guard case let .accepted(granted, _) = try h.open() else { Issue.record("rejected"); return }
        #expect(!granted.contains(.multipleReferences))
        #expect(throws: COSEMError.self) { _ = try h.association.getRequest(list: [AttributeRequest(InterfaceClass.clock.attribute(2, of: .clock))]) }
        // A client that sends it anyway gets an exception-response.
        let request = GetRequest.withList(invoke: InvokeIdAndPriority(rawValue: 0xC2),
                                          attributes: [AttributeRequest(InterfaceClass.clock.attribute(2, of: .clock))])
        let reply = h.transact(request.encode())
        #expect(reply?.first == 0xD8)
    }

    @Test func aLongWithListGoesInBlocks() throws {
        var h = SimulatorHarness(configuration: SimulatorConfiguration(maxPDUSize: 64))
        _ = try h.open()
        let all = MeasurementCatalog.standard.measurements.filter { $0.kind == .register }
        let results = try h.get(list: all.map { AttributeRequest($0.valueAttribute) } + all.compactMap {
            $0.scalerUnitAttribute.map { AttributeRequest($0) }
        })
        #expect(results.count == 2 * all.count)
        #expect(results.allSatisfy { if case .data = $0 { return true } else { return false } })
        #expect(h.meter.counters.blocksSent > 1)
    }

    // MARK: Profiles

    @Test func loadProfileByRangeReturnsTheRowsInRange() throws {
        var h = SimulatorHarness()
        h.now += 7 * 60_000  // 04:07, between captures
        _ = try h.open()
        let from = CosemDateTime(unixMilliseconds: SimulatorHarness.start - 2 * 3_600_000)
        let to = CosemDateTime(unixMilliseconds: SimulatorHarness.start)
        let attribute = InterfaceClass.profileGeneric.attribute(2, of: SimulatedObjectModel.loadProfile)
        let rows = try ProfileGeneric.rows(try h.value(attribute, access: .byClockRange(from: from, to: to)))
        #expect(rows.count == 9)  // 02:00 ... 04:00 inclusive, every 15 minutes
        let times = try rows.map { try CosemDateTime(bytes: try #require($0[0].octets)).unixMilliseconds() }
        #expect(times == (0..<9).map { SimulatorHarness.start - 2 * 3_600_000 + Int64($0) * 900_000 })
        #expect(rows.allSatisfy { $0.count == 5 })
        // The profile's energy at a capture equals the register read at that instant.
        let model = SimulatedObjectModel(configuration: SimulatorConfiguration())
        #expect(rows.last?[1].int == model.rawValue(of: SimulatedObjectModel.activeEnergyImport, at: SimulatorHarness.start))
    }

    @Test func aDayOfLoadProfileNeedsBlocks() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        let from = CosemDateTime(unixMilliseconds: SimulatorHarness.start - 86_400_000 + 1000)
        let to = CosemDateTime(unixMilliseconds: SimulatorHarness.start)
        let attribute = InterfaceClass.profileGeneric.attribute(2, of: SimulatedObjectModel.loadProfile)
        let rows = try ProfileGeneric.rows(try h.value(attribute, access: .byClockRange(from: from, to: to)))
        #expect(rows.count == 96)
        #expect(h.meter.counters.blocksSent >= 3)
    }

    @Test func loadProfileByEntryAndColumns() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        let attribute = InterfaceClass.profileGeneric.attribute(2, of: SimulatedObjectModel.loadProfile)
        let rows = try ProfileGeneric.rows(try h.value(
            attribute, access: .byEntry(fromEntry: 190, toEntry: 0, fromValue: 1, toValue: 2)))
        #expect(rows.count == 3)  // entries 190, 191, 192 of 192
        #expect(rows.allSatisfy { $0.count == 2 })
        let last = try CosemDateTime(bytes: try #require(rows.last?[0].octets)).unixMilliseconds()
        #expect(last == SimulatorHarness.start)
        let columns = try ProfileGeneric.captureObjects(try h.value(
            InterfaceClass.profileGeneric.attribute(3, of: SimulatedObjectModel.loadProfile)))
        #expect(columns.map(\.obis) == SimulatedObjectModel.loadProfileColumns.map(\.obis))
        #expect(try h.value(InterfaceClass.profileGeneric.attribute(4, of: SimulatedObjectModel.loadProfile))
                == .doubleLongUnsigned(900))
    }

    // MARK: Addresses

    @Test func answersOnlyTheConfiguredAddressAndWidths() throws {
        let config = SimulatorConfiguration(serverLogical: 1, serverPhysical: 1234, addressWidths: .only(.four))
        let client = try HDLCAddress.client(sap: 16)
        var meter = SimulatedMeter(configuration: config)
        let two = try HDLCAddress(logical: 1, physical: 17, width: .two)
        #expect(meter.receive(frame(to: two, from: client, .setNormalResponseMode(poll: true)), now: 0).writes.isEmpty)
        let other = try HDLCAddress(logical: 1, physical: 1235, width: .four)
        #expect(meter.receive(frame(to: other, from: client, .setNormalResponseMode(poll: true)), now: 0).writes.isEmpty)
        #expect(meter.counters.framesForOtherAddresses == 2)
        let four = try HDLCAddress(logical: 1, physical: 1234, width: .four)
        let ua = try HDLCFrame.parse(meter.receive(frame(to: four, from: client, .setNormalResponseMode(poll: true)), now: 0).bytes)
        #expect(ua.control == .unnumberedAcknowledge(final: true))
        #expect(ua.source == four && ua.source.byteCount == 4)

        // "any": each width the address fits, answered in the width asked.
        var anyWidth = SimulatedMeter(configuration: SimulatorConfiguration())
        for width in [AddressWidth.one, .two, .four] {
            let address = try HDLCAddress(logical: 0, physical: 1, width: width)
            let reply = try HDLCFrame.parse(anyWidth.receive(frame(to: address, from: client, .setNormalResponseMode(poll: true)), now: 0).bytes)
            #expect(reply.source.byteCount == width.byteCount)
        }
    }

    // MARK: Timeout

    @Test func inactivityTimeoutDropsTheLink() throws {
        var h = SimulatorHarness(configuration: SimulatorConfiguration(inactivityTimeoutMilliseconds: 180_000))
        _ = try h.open()
        let last = h.now
        #expect(h.meter.inactivityDeadline == last + 180_000)
        #expect(!h.meter.tick(now: last + 179_999).closeLink)
        #expect(h.meter.isAssociated)
        let out = h.meter.tick(now: last + 180_000)
        #expect(out.closeLink)
        #expect(!h.meter.isAssociated && !h.meter.isLinkConnected)
        #expect(h.meter.counters.inactivityDrops == 1)
        // The next request finds the meter in disconnected mode.
        h.now = last + 180_001
        let events = try h.pump(h.link.send(apdu: h.association.getRequest(InterfaceClass.clock.attribute(2, of: .clock))))
        #expect(events.contains(.rejected(.disconnectedMode)))
    }

    @Test func aReadBeforeTheTimeoutKeepsTheAssociation() throws {
        var h = SimulatorHarness()
        _ = try h.open()
        h.now += 120_000
        _ = try h.value(InterfaceClass.clock.attribute(2, of: .clock))
        #expect(!h.meter.tick(now: h.now + 179_000).closeLink)
        #expect(h.meter.isAssociated)
    }

    // MARK: Trace

    @Test func theTraceMasksThePassword() throws {
        var h = SimulatorHarness(clientSAP: 1, password: "22222222")
        _ = try h.open()
        let trace = h.outputs.flatMap(\.trace).joined(separator: "\n")
        #expect(trace.contains("AC 0A 80 08 ** ** ** ** ** ** ** **"))
        #expect(!trace.contains("32 32 32 32 32 32 32 32"))
    }
}
