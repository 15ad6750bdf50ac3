import Crypto
import Foundation
import POP3Core
import SharedStore

/// NTLMv2 response verification ([MS-NLMP] §3.3.2): NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)),
/// UTF-16LE(uppercase(user) + domain)); the response is right when its first 16 bytes are
/// HMAC-MD5(NTOWFv2, server challenge + the rest of the response).
enum NTLMv2 {
    static func verify(password: [UInt8], user: String, domain: String, challenge: [UInt8], response: [UInt8]) -> Bool {
        guard response.count > 16, challenge.count == 8 else { return false }
        let ntHash = MD4.hash(NTLM.utf16le(String(decoding: password, as: UTF8.self)))
        let owf = HMAC<Insecure.MD5>.authenticationCode(for: NTLM.utf16le(user.uppercased() + domain), using: SymmetricKey(data: ntHash))
        let proof = Array(HMAC<Insecure.MD5>.authenticationCode(for: challenge + response[16...], using: SymmetricKey(data: Array(owf))))
        return ConstantTime.equal(proof.prefix(16), response.prefix(16))
    }
}

/// MD4 (RFC 1320), which NTLM's password hash needs and swift-crypto does not offer. Used for nothing else.
enum MD4 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var a: UInt32 = 0x6745_2301, b: UInt32 = 0xEFCD_AB89, c: UInt32 = 0x98BA_DCFE, d: UInt32 = 0x1032_5476
        var data = message + [0x80]
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) &* 8
        for i in 0..<8 { data.append(UInt8((bits >> (8 * UInt64(i))) & 0xFF)) }
        func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
        for chunk in stride(from: 0, to: data.count, by: 64) {
            var x = [UInt32](repeating: 0, count: 16)
            for i in 0..<16 {
                let o = chunk + 4 * i
                x[i] = UInt32(data[o]) | UInt32(data[o + 1]) << 8 | UInt32(data[o + 2]) << 16 | UInt32(data[o + 3]) << 24
            }
            let (aa, bb, cc, dd) = (a, b, c, d)
            func f(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) | (~x & z) }
            func g(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) | (x & z) | (y & z) }
            func h(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { x ^ y ^ z }
            for i in [0, 4, 8, 12] {
                a = rotl(a &+ f(b, c, d) &+ x[i], 3)
                d = rotl(d &+ f(a, b, c) &+ x[i + 1], 7)
                c = rotl(c &+ f(d, a, b) &+ x[i + 2], 11)
                b = rotl(b &+ f(c, d, a) &+ x[i + 3], 19)
            }
            for i in [0, 1, 2, 3] {
                a = rotl(a &+ g(b, c, d) &+ x[i] &+ 0x5A82_7999, 3)
                d = rotl(d &+ g(a, b, c) &+ x[i + 4] &+ 0x5A82_7999, 5)
                c = rotl(c &+ g(d, a, b) &+ x[i + 8] &+ 0x5A82_7999, 9)
                b = rotl(b &+ g(c, d, a) &+ x[i + 12] &+ 0x5A82_7999, 13)
            }
            for i in [0, 2, 1, 3] {
                a = rotl(a &+ h(b, c, d) &+ x[i] &+ 0x6ED9_EBA1, 3)
                d = rotl(d &+ h(a, b, c) &+ x[i + 8] &+ 0x6ED9_EBA1, 9)
                c = rotl(c &+ h(d, a, b) &+ x[i + 4] &+ 0x6ED9_EBA1, 11)
                b = rotl(b &+ h(c, d, a) &+ x[i + 12] &+ 0x6ED9_EBA1, 15)
            }
            a = a &+ aa; b = b &+ bb; c = c &+ cc; d = d &+ dd
        }
        return [a, b, c, d].flatMap { v in (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
    }
}
