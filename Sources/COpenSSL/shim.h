#ifndef DLMS_BRIDGE_COPENSSL_SHIM_H
#define DLMS_BRIDGE_COPENSSL_SHIM_H
// The one use of libcrypto outside TLS: AES-128-GCM for DLMS security suite 0, through EVP. The whole EVP
// call sequence lives here so that Swift makes one call per APDU and never sees OpenSSL's int-sized lengths
// or its control codes.
#include <limits.h>
#include <stddef.h>
#include <openssl/evp.h>

/// A reusable AES-128-GCM context with the cipher bound once (OpenSSL 3 fetches the implementation at this
/// first init; later inits only set key and IV). NULL when OpenSSL cannot allocate it.
static inline EVP_CIPHER_CTX *dlms_gcm_new(void) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return NULL;
    if (EVP_CipherInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL, 1) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static inline void dlms_gcm_free(EVP_CIPHER_CTX *ctx) { EVP_CIPHER_CTX_free(ctx); }

/// One GCM operation with a 16-byte key (NULL: keep the key of the previous operation) and a 12-byte IV. AAD = aad || aad_tail. `text` is encrypted
/// (encrypt = 1) or decrypted (0) in place. encrypt: writes tag_len bytes of tag. decrypt: verifies the first
/// tag_len bytes of the tag. tag_len 0: no tag at all (AES-CTR only). Returns 1 on success, 0 when the tag does
/// not verify, and a negative step number when OpenSSL failed.
static inline int dlms_gcm_run(EVP_CIPHER_CTX *ctx, int encrypt, const unsigned char *key, const unsigned char *iv,
                               const unsigned char *aad, size_t aad_len, const unsigned char *aad_tail,
                               size_t aad_tail_len, unsigned char *text, size_t text_len, unsigned char *tag,
                               size_t tag_len) {
    int n = 0;
    unsigned char final_block[16];
    if (aad_len > INT_MAX || aad_tail_len > INT_MAX || text_len > INT_MAX || tag_len > 16) return -1;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, encrypt) != 1) return -2;
    if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) return -3;
    if (aad_tail_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad_tail, (int)aad_tail_len) != 1) return -4;
    if (text_len > 0 && EVP_CipherUpdate(ctx, text, &n, text, (int)text_len) != 1) return -5;
    if (tag_len == 0) return 1;
    if (encrypt) {
        if (EVP_CipherFinal_ex(ctx, final_block, &n) != 1) return -6;
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)tag_len, tag) != 1) return -7;
        return 1;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)tag_len, tag) != 1) return -8;
    return EVP_CipherFinal_ex(ctx, final_block, &n) == 1 ? 1 : 0;
}

#endif
