#include "esp/aes_gcm.h"

#include <openssl/evp.h>

#include <climits>
#include <string>

namespace mflow::esp {

StatusOr<AesGcm> AesGcm::Create(std::span<const uint8_t> key, Direction dir) {
  const EVP_CIPHER* cipher = nullptr;
  if (key.size() == 16) {
    cipher = EVP_aes_128_gcm();
  } else if (key.size() == 32) {
    cipher = EVP_aes_256_gcm();
  } else {
    return Status::Error(StatusCode::kInvalid, "aes-gcm key: must be 16 or 32 bytes, got " +
                                                   std::to_string(key.size()));
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return Status::Error("aes-gcm: EVP_CIPHER_CTX_new failed");
  AesGcm g(ctx, dir);  // owns ctx from here, also on the error returns below
  const int enc = dir == Direction::kSeal ? 1 : 0;
  // Cipher first, then the nonce length (12 is GCM's default, set anyway so
  // the contract is explicit), then the key: the key schedule is made once.
  if (EVP_CipherInit_ex(ctx, cipher, nullptr, nullptr, nullptr, enc) != 1) {
    return Status::Error("aes-gcm: EVP_CipherInit_ex (cipher) failed");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmNonceLen), nullptr) !=
      1) {
    return Status::Error("aes-gcm: EVP_CTRL_GCM_SET_IVLEN failed");
  }
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), nullptr, enc) != 1) {
    return Status::Error("aes-gcm: EVP_CipherInit_ex (key) failed");
  }
  return g;
}

AesGcm& AesGcm::operator=(AesGcm&& o) noexcept {
  if (this != &o) {
    EVP_CIPHER_CTX_free(ctx_);  // also wipes the key schedule
    ctx_ = o.ctx_;
    dir_ = o.dir_;
    o.ctx_ = nullptr;
  }
  return *this;
}

AesGcm::~AesGcm() { EVP_CIPHER_CTX_free(ctx_); }

bool AesGcm::Begin(const uint8_t nonce[kGcmNonceLen]) noexcept {
  // Cipher and key NULL: only the IV is loaded, the key schedule stays.
  return EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce, -1) == 1;
}

bool AesGcm::Aad(const uint8_t* p, uint32_t n) noexcept {
  int outl = 0;
  return EVP_CipherUpdate(ctx_, nullptr, &outl, p, static_cast<int>(n)) == 1;
}

bool AesGcm::Update(const uint8_t* in, uint8_t* out, uint32_t n) noexcept {
  if (n == 0) return true;
  if (n > static_cast<uint32_t>(INT_MAX)) return false;
  int outl = 0;
  // GCM is a stream mode: OpenSSL writes exactly n bytes, whatever n is.
  return EVP_CipherUpdate(ctx_, out, &outl, in, static_cast<int>(n)) == 1 &&
         outl == static_cast<int>(n);
}

bool AesGcm::SealFinish(uint8_t tag[kGcmTagLen]) noexcept {
  int outl = 0;
  uint8_t none[16];
  if (EVP_CipherFinal_ex(ctx_, none, &outl) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagLen), tag) == 1;
}

bool AesGcm::OpenFinish(const uint8_t tag[kGcmTagLen]) noexcept {
  // SET_TAG takes a non-const pointer but only reads it.
  if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagLen),
                          const_cast<uint8_t*>(tag)) != 1) {
    return false;
  }
  int outl = 0;
  uint8_t none[16];
  // Final compares the tag in constant time; 0 means forged or corrupted.
  return EVP_CipherFinal_ex(ctx_, none, &outl) == 1;
}

bool AesGcm::Seal(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
                  std::span<const uint8_t> in, uint8_t* out, uint8_t tag[kGcmTagLen]) noexcept {
  return Begin(nonce) && Aad(aad.data(), static_cast<uint32_t>(aad.size())) &&
         Update(in.data(), out, static_cast<uint32_t>(in.size())) && SealFinish(tag);
}

bool AesGcm::Open(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
                  std::span<const uint8_t> in, uint8_t* out,
                  const uint8_t tag[kGcmTagLen]) noexcept {
  return Begin(nonce) && Aad(aad.data(), static_cast<uint32_t>(aad.size())) &&
         Update(in.data(), out, static_cast<uint32_t>(in.size())) && OpenFinish(tag);
}

}  // namespace mflow::esp
