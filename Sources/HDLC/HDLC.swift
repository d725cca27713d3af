// HDLC: IEC 62056-46 framing for DLMS/COSEM meters, sans-I/O.
//
// This module imports nothing and compiles in Embedded Swift (`make embedded-check`): typed throws, no
// existentials, no Foundation. It reads no clock and does no I/O; the caller owns sockets and timers.
//
// The pieces, bottom up:
// - `CRC16`: CRC-16/X.25 (HCS and FCS), slicing-by-8 over read-only tables.
// - `HDLCAddress`, `AddressWidth`: client SAP and server logical/physical addresses, 1/2/4 bytes.
// - `Control`: I, RR, RNR, SNRM, UA, DISC, DM, FRMR, UI, modulo 8.
// - `HDLCFrame`: encode into a caller's buffer (or an array), parse and validate a complete frame; neither
//   allocates. `LLCHeader`: `E6 E6 00` / `E6 E7 00`.
// - `LinkParameters`: the SNRM/UA parameter field and its negotiation.
// - `Deframer`: bytes in, validated frames out, resynchronising after any damage and counting it.
// - `HDLCLink`: the link state machine for a meter reader (client) or a meter (server).
// - `FrameError`: what is wrong with a frame, at which byte, and what to do.
// - `FrameDescription`: every field of a frame for the `decode` command, kept even when a check fails.
//
// A meter reader on top of `HDLCLink` (the transport is the caller's):
//
//     let client = try HDLCAddress.client(sap: 16)
//     let meter = try HDLCAddress(logical: 1, physical: 1234, width: .auto)
//     var link = HDLCLink(.client(client, server: meter))
//     func perform(_ events: [HDLCLink.Event]) {
//         for event in events {
//             switch event {
//             case .send(let frame): transport.write(frame)
//             case .connected(let parameters): print("link up:", parameters)
//             case .apdu(let response): session.handle(response)   // LLC stripped, segments joined
//             case .disconnected: print("link down")
//             case .rejected(let why): print(why)
//             case .protocolError(let error): print(error)
//             }
//         }
//     }
//     perform(link.connect())                          // SNRM
//     perform(link.receive(bytes: transport.read()))   // UA -> .connected
//     perform(try link.send(apdu: aarq))               // I-frame(s), RR for each segment of the answer
//     perform(link.receive(bytes: transport.read()))   // -> .apdu(aare)
//     // On a receive timeout: perform(link.retransmit())
//     perform(link.disconnect())                       // DISC, then UA -> .disconnected
//
// A simulated meter is the same with `HDLCLink(.server(meter))`: it answers SNRM and DISC by itself,
// delivers each request as `.apdu`, and `send(apdu:)` returns the response frames (segmented when longer
// than the negotiated max info field; the next segment goes out on the client's RR).
