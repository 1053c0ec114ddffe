import COpenSSL
import CSignal

/// libsignal-protocol-c's crypto provider (`signal_crypto_provider`) on
/// OpenSSL 3's libcrypto: random bytes (`RAND_bytes`), HMAC-SHA256
/// (`EVP_MAC`), SHA-512 (`EVP_MD_CTX`) and AES-CBC with PKCS#5 padding /
/// AES-CTR (`EVP_CIPHER_CTX`).
///
/// The callbacks keep no Swift state: `user_data` is unused, and the HMAC
/// and digest contexts the library holds between calls are OpenSSL's own
/// objects, freed by the library's cleanup callbacks.
enum OpenSSLCryptoProvider {
    /// The provider table, handed to `signal_context_set_crypto_provider` (which copies it).
    static func make() -> signal_crypto_provider {
        var provider = signal_crypto_provider()
        provider.random_func = { data, length, _ in
            guard let data, length <= Int(Int32.max) else { return SG_ERR_INVAL }
            return RAND_bytes(data, Int32(length)) == 1 ? 0 : SG_ERR_UNKNOWN
        }
        provider.hmac_sha256_init_func = { context, key, keyLength, _ in
            guard let context, let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { return SG_ERR_UNKNOWN }
            defer { EVP_MAC_free(mac) }
            guard let macContext = EVP_MAC_CTX_new(mac) else { return SG_ERR_NOMEM }
            let initialised = "digest".withCString { name in
                "SHA256".withCString { digest in
                    var parameters = [
                        OSSL_PARAM_construct_utf8_string(name, UnsafeMutablePointer(mutating: digest), 0),
                        OSSL_PARAM_construct_end(),
                    ]
                    return EVP_MAC_init(macContext, key, keyLength, &parameters)
                }
            }
            guard initialised == 1 else {
                EVP_MAC_CTX_free(macContext)
                return SG_ERR_UNKNOWN
            }
            context.pointee = UnsafeMutableRawPointer(macContext)
            return 0
        }
        provider.hmac_sha256_update_func = { context, data, length, _ in
            guard let context else { return SG_ERR_INVAL }
            return EVP_MAC_update(OpaquePointer(context), data, length) == 1 ? 0 : SG_ERR_UNKNOWN
        }
        provider.hmac_sha256_final_func = { context, output, _ in
            guard let context, let output else { return SG_ERR_INVAL }
            var bytes = [UInt8](repeating: 0, count: 32)
            var length = 0
            guard EVP_MAC_final(OpaquePointer(context), &bytes, &length, bytes.count) == 1,
                  let buffer = signal_buffer_create(bytes, length)
            else { return SG_ERR_UNKNOWN }
            output.pointee = buffer
            return 0
        }
        provider.hmac_sha256_cleanup_func = { context, _ in
            if let context { EVP_MAC_CTX_free(OpaquePointer(context)) }
        }
        provider.sha512_digest_init_func = { context, _ in
            guard let context, let digest = EVP_MD_CTX_new() else { return SG_ERR_NOMEM }
            guard EVP_DigestInit_ex(digest, EVP_sha512(), nil) == 1 else {
                EVP_MD_CTX_free(digest)
                return SG_ERR_UNKNOWN
            }
            context.pointee = UnsafeMutableRawPointer(digest)
            return 0
        }
        provider.sha512_digest_update_func = { context, data, length, _ in
            guard let context else { return SG_ERR_INVAL }
            return EVP_DigestUpdate(OpaquePointer(context), data, length) == 1 ? 0 : SG_ERR_UNKNOWN
        }
        provider.sha512_digest_final_func = { context, output, _ in
            guard let context, let output else { return SG_ERR_INVAL }
            let digest = OpaquePointer(context)
            var bytes = [UInt8](repeating: 0, count: 64)
            var length: UInt32 = 0
            // "finalise and prepare the context for reuse": initialise it again.
            guard EVP_DigestFinal_ex(digest, &bytes, &length) == 1,
                  EVP_DigestInit_ex(digest, EVP_sha512(), nil) == 1,
                  let buffer = signal_buffer_create(bytes, Int(length))
            else { return SG_ERR_UNKNOWN }
            output.pointee = buffer
            return 0
        }
        provider.sha512_digest_cleanup_func = { context, _ in
            if let context { EVP_MD_CTX_free(OpaquePointer(context)) }
        }
        provider.encrypt_func = { output, mode, key, keyLength, iv, ivLength, input, inputLength, _ in
            openSSLAES(encrypt: true, output, mode, key, keyLength, iv, ivLength, input, inputLength)
        }
        provider.decrypt_func = { output, mode, key, keyLength, iv, ivLength, input, inputLength, _ in
            openSSLAES(encrypt: false, output, mode, key, keyLength, iv, ivLength, input, inputLength)
        }
        return provider
    }

}

/// AES-CBC (PKCS#5 padding) or AES-CTR (no padding) with a 128-, 192- or 256-bit key and a 16-byte IV.
private func openSSLAES(encrypt: Bool, _ output: UnsafeMutablePointer<OpaquePointer?>?, _ mode: Int32,
                        _ key: UnsafePointer<UInt8>?, _ keyLength: Int, _ iv: UnsafePointer<UInt8>?, _ ivLength: Int,
                        _ input: UnsafePointer<UInt8>?, _ inputLength: Int) -> Int32 {
    guard let output, let key, let iv, ivLength == 16, inputLength >= 0, inputLength < Int(Int32.max) - 32 else {
        return SG_ERR_INVAL
    }
    let cipher: OpaquePointer?
    switch (mode, keyLength) {
    case (SG_CIPHER_AES_CBC_PKCS5, 16): cipher = EVP_aes_128_cbc()
    case (SG_CIPHER_AES_CBC_PKCS5, 24): cipher = EVP_aes_192_cbc()
    case (SG_CIPHER_AES_CBC_PKCS5, 32): cipher = EVP_aes_256_cbc()
    case (SG_CIPHER_AES_CTR_NOPADDING, 16): cipher = EVP_aes_128_ctr()
    case (SG_CIPHER_AES_CTR_NOPADDING, 24): cipher = EVP_aes_192_ctr()
    case (SG_CIPHER_AES_CTR_NOPADDING, 32): cipher = EVP_aes_256_ctr()
    default: return SG_ERR_INVAL
    }
    guard let context = EVP_CIPHER_CTX_new() else { return SG_ERR_NOMEM }
    defer { EVP_CIPHER_CTX_free(context) }
    guard EVP_CipherInit_ex(context, cipher, nil, key, iv, encrypt ? 1 : 0) == 1 else { return SG_ERR_UNKNOWN }
    if mode == SG_CIPHER_AES_CTR_NOPADDING { EVP_CIPHER_CTX_set_padding(context, 0) }
    var bytes = [UInt8](repeating: 0, count: inputLength + 16)
    var written: Int32 = 0
    var finished: Int32 = 0
    let ok = bytes.withUnsafeMutableBufferPointer { out -> Bool in
        guard let base = out.baseAddress,
              EVP_CipherUpdate(context, base, &written, input ?? UnsafePointer(base), Int32(inputLength)) == 1
        else { return false }
        return EVP_CipherFinal_ex(context, base + Int(written), &finished) == 1
    }
    guard ok, let buffer = signal_buffer_create(bytes, Int(written + finished)) else { return SG_ERR_UNKNOWN }
    output.pointee = buffer
    return 0
}
