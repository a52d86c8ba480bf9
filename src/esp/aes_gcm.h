// AesGcm: one AES-GCM key bound to one OpenSSL 3 EVP cipher context, for one
// direction (seal = encrypt, open = decrypt), reused for every packet.
//
// The cipher is fetched from the provider once and the key schedule computed
// once in Create(). Per packet no init call: seal loads the 12-byte nonce
// with one EVP_CIPHER_CTX_set_params, open with one that carries the nonce
// (as RFC 5116's fixed and invocation fields) and the expected tag; then
// AAD, data, final. Nothing of ours is allocated per packet, and the
// data may be fed in pieces (Update per fragment) and in place (in == out).
//
// Why (docs/ESP.md, "profile"): OpenSSL 3.0 turns every EVP_CIPHER_CTX_ctrl
// into a parameter array the provider looks up by name, and every init call
// drops the context's cached IV length and asks the provider for it again by
// name. So no ctrl calls at all: the seal tag is read with
// EVP_CIPHER_CTX_get_params, and neither direction calls init per packet.
// Seal relies on a special case of the provider that the manual pages do
// not describe, so it is checked once per process and falls back to init.
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

  AesGcm(AesGcm&& o) noexcept : ctx_(o.ctx_), dir_(o.dir_), seal_by_params_(o.seal_by_params_) {
    o.ctx_ = nullptr;
  }
  AesGcm& operator=(AesGcm&& o) noexcept;
  AesGcm(const AesGcm&) = delete;
  AesGcm& operator=(const AesGcm&) = delete;
  ~AesGcm();

  Direction direction() const { return dir_; }

  // One message, in steps: BeginSeal or BeginOpen, any number of Aad (all
  // before the first Update), any number of Update, then SealFinish or
  // OpenFinish. Each returns false only if OpenSSL refused (never expected
  // with valid sizes) or, for a Begin, the direction is the other one.
  bool BeginSeal(const uint8_t nonce[kGcmNonceLen]) noexcept;
  // tag: the ICV received with the message; read before this returns.
  bool BeginOpen(const uint8_t nonce[kGcmNonceLen], const uint8_t tag[kGcmTagLen]) noexcept;
  bool Aad(const uint8_t* p, uint32_t n) noexcept;
  // Encrypts (seal) or decrypts (open) n bytes from in to out; in == out is
  // allowed; other overlaps are not.
  bool Update(const uint8_t* in, uint8_t* out, uint32_t n) noexcept;
  // Seal: writes the 16-byte tag.
  bool SealFinish(uint8_t tag[kGcmTagLen]) noexcept;
  // Open: true only if the tag given to BeginOpen matches the AAD and
  // ciphertext fed since. The plaintext written by Update must not be used
  // when this fails.
  [[nodiscard]] bool OpenFinish() noexcept;

  // Whole-buffer helpers (tests, slow paths): out may equal in.
  bool Seal(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
            std::span<const uint8_t> in, uint8_t* out, uint8_t tag[kGcmTagLen]) noexcept;
  [[nodiscard]] bool Open(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
                          std::span<const uint8_t> in, uint8_t* out,
                          const uint8_t tag[kGcmTagLen]) noexcept;

 private:
  AesGcm(EVP_CIPHER_CTX* ctx, Direction dir) : ctx_(ctx), dir_(dir) {}
  // Create without the seal probe (the probe's own contexts).
  static StatusOr<AesGcm> CreateContext(std::span<const uint8_t> key, Direction dir);
  static bool SealByParamsAgrees();
  EVP_CIPHER_CTX* ctx_ = nullptr;
  Direction dir_ = Direction::kSeal;
  // BeginSeal loads the nonce with one set_params instead of an init call
  // (aes_gcm.cc); false where the process-wide probe found that this
  // OpenSSL does not seal the same way, or after the provider refused it.
  bool seal_by_params_ = false;

 public:
  // For tests: whether this context seals without an init call.
  bool seals_by_params() const { return seal_by_params_; }
};

}  // namespace mflow::esp
