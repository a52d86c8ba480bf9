// AesGcm: one AES-GCM key bound to one OpenSSL 3 EVP cipher context, for one
// direction (seal = encrypt, open = decrypt), reused for every packet.
//
// The key schedule is computed once in Create(); per packet only the 12-byte
// nonce is loaded (EVP_CipherInit_ex with cipher and key NULL), then AAD,
// data and tag. Nothing of ours is allocated per packet, and the data may be
// fed in pieces (Update per fragment) and in place (in == out).
//
// RFC 4106 use: the nonce is the SA's 4-byte salt followed by the 8-byte
// explicit IV carried in the packet (see esp_codec.h); the tag is 16 bytes.
//
// Thread-safety: none. An EVP_CIPHER_CTX holds the state of the packet being
// processed, so each worker thread owns its own AesGcm per SA and direction.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace mflow::esp {

inline constexpr uint32_t kGcmNonceLen = 12;  // salt (4) || explicit IV (8)
inline constexpr uint32_t kGcmTagLen = 16;

class AesGcm {
 public:
  enum class Direction { kSeal, kOpen };

  // key: 16 (AES-128) or 32 (AES-256) bytes. Errors name the key length or
  // the OpenSSL call that failed.
  static StatusOr<AesGcm> Create(std::span<const uint8_t> key, Direction dir);

  AesGcm(AesGcm&& o) noexcept : ctx_(o.ctx_), dir_(o.dir_) { o.ctx_ = nullptr; }
  AesGcm& operator=(AesGcm&& o) noexcept;
  AesGcm(const AesGcm&) = delete;
  AesGcm& operator=(const AesGcm&) = delete;
  ~AesGcm();

  Direction direction() const { return dir_; }

  // One message, in steps: Begin, any number of Aad (all before the first
  // Update), any number of Update, then SealFinish or OpenFinish. Each
  // returns false only if OpenSSL refused (never expected with valid sizes).
  bool Begin(const uint8_t nonce[kGcmNonceLen]) noexcept;
  bool Aad(const uint8_t* p, uint32_t n) noexcept;
  // Encrypts (seal) or decrypts (open) n bytes from in to out; in == out is
  // allowed; other overlaps are not.
  bool Update(const uint8_t* in, uint8_t* out, uint32_t n) noexcept;
  // Seal: writes the 16-byte tag.
  bool SealFinish(uint8_t tag[kGcmTagLen]) noexcept;
  // Open: true only if the tag matches the AAD and ciphertext fed so far.
  // The plaintext written by Update must not be used when this fails.
  [[nodiscard]] bool OpenFinish(const uint8_t tag[kGcmTagLen]) noexcept;

  // Whole-buffer helpers (tests, slow paths): out may equal in.
  bool Seal(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
            std::span<const uint8_t> in, uint8_t* out, uint8_t tag[kGcmTagLen]) noexcept;
  [[nodiscard]] bool Open(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
                          std::span<const uint8_t> in, uint8_t* out,
                          const uint8_t tag[kGcmTagLen]) noexcept;

 private:
  AesGcm(EVP_CIPHER_CTX* ctx, Direction dir) : ctx_(ctx), dir_(dir) {}
  EVP_CIPHER_CTX* ctx_ = nullptr;
  Direction dir_ = Direction::kSeal;
};

}  // namespace mflow::esp
