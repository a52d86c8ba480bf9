#include "esp/aes_gcm.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
#include <cstring>
#include <string>

namespace mflow::esp {
namespace {

constexpr size_t kGcmSaltLen = 4;

// The one parameter of the per-packet calls, filled in place (no
// OSSL_PARAM_construct_* call): the tag, an octet string of 16 bytes.
OSSL_PARAM TagParam(void* tag) {
  return OSSL_PARAM{OSSL_CIPHER_PARAM_AEAD_TAG, OSSL_PARAM_OCTET_STRING, tag, kGcmTagLen,
                    OSSL_PARAM_UNMODIFIED};
}

}  // namespace

StatusOr<AesGcm> AesGcm::Create(std::span<const uint8_t> key, Direction dir) {
  StatusOr<AesGcm> g = CreateContext(key, dir);
  if (g.ok()) g->seal_by_params_ = dir == Direction::kSeal && SealByParamsAgrees();
  return g;
}

StatusOr<AesGcm> AesGcm::CreateContext(std::span<const uint8_t> key, Direction dir) {
  const char* name = nullptr;
  if (key.size() == 16) {
    name = "AES-128-GCM";
  } else if (key.size() == 32) {
    name = "AES-256-GCM";
  } else {
    return Status::Error(StatusCode::kInvalid, "aes-gcm key: must be 16 or 32 bytes, got " +
                                                   std::to_string(key.size()));
  }
  // An explicit fetch: the context then holds the provider's cipher itself
  // rather than a legacy EVP_aes_*_gcm() object it must look up by name.
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, name, nullptr);
  if (cipher == nullptr) return Status::Error(std::string("aes-gcm: EVP_CIPHER_fetch ") + name + " failed");
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) {
    EVP_CIPHER_free(cipher);
    return Status::Error("aes-gcm: EVP_CIPHER_CTX_new failed");
  }
  AesGcm g(ctx, dir);  // owns ctx from here, also on the error return below
  // The nonce length (12 is GCM's default, set anyway so that the contract is
  // explicit) and the key in one init: the key schedule is made once.
  size_t iv_len = kGcmNonceLen;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv_len),
                               OSSL_PARAM_construct_end()};
  const int ok =
      EVP_CipherInit_ex2(ctx, cipher, key.data(), nullptr, dir == Direction::kSeal ? 1 : 0, params);
  EVP_CIPHER_free(cipher);  // the context keeps its own reference
  if (ok != 1) return Status::Error("aes-gcm: EVP_CipherInit_ex2 (cipher, key, nonce length) failed");
  return g;
}

// Whether sealing with the nonce loaded by set_params (BeginSeal) gives the
// bytes and tag that the init call gives, on this OpenSSL: one message
// sealed both ways with a throw-away key in contexts of its own, once per
// process (a function-local static, so thread-safe).
bool AesGcm::SealByParamsAgrees() {
  static const bool agrees = [] {
    const uint8_t key[16] = {0x6d, 0x66, 0x6c, 0x6f, 0x77, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    uint8_t nonce[kGcmNonceLen], aad[8], msg[40];
    for (uint32_t i = 0; i < sizeof nonce; ++i) nonce[i] = static_cast<uint8_t>(0xa0 + i);
    for (uint32_t i = 0; i < sizeof aad; ++i) aad[i] = static_cast<uint8_t>(i);
    for (uint32_t i = 0; i < sizeof msg; ++i) msg[i] = static_cast<uint8_t>(3 * i);
    uint8_t out[2][2][sizeof msg], tag[2][2][kGcmTagLen];
    for (int by_params = 0; by_params < 2; ++by_params) {
      StatusOr<AesGcm> g = CreateContext(key, Direction::kSeal);
      if (!g.ok()) return false;
      AesGcm& s = *g;
      s.seal_by_params_ = by_params == 1;
      // Two messages in a row, as the data path seals them (the second
      // nonce differs in its last byte).
      for (int m = 0; m < 2; ++m) {
        nonce[kGcmNonceLen - 1] = static_cast<uint8_t>(m);
        if (!s.Seal(nonce, aad, msg, out[by_params][m], tag[by_params][m])) return false;
        if (by_params == 1 && !s.seal_by_params_) return false;  // refused: fell back
      }
    }
    return std::memcmp(out[0], out[1], sizeof out[0]) == 0 &&
           std::memcmp(tag[0], tag[1], sizeof tag[0]) == 0;
  }();
  return agrees;
}

AesGcm& AesGcm::operator=(AesGcm&& o) noexcept {
  if (this != &o) {
    EVP_CIPHER_CTX_free(ctx_);  // also wipes the key schedule
    ctx_ = o.ctx_;
    dir_ = o.dir_;
    seal_by_params_ = o.seal_by_params_;
    o.ctx_ = nullptr;
  }
  return *this;
}

AesGcm::~AesGcm() { EVP_CIPHER_CTX_free(ctx_); }

bool AesGcm::BeginSeal(const uint8_t nonce[kGcmNonceLen]) noexcept {
  if (dir_ != Direction::kSeal) return false;
  if (seal_by_params_) {
    // The whole nonce as the TLS "fixed" field with the length (size_t)-1:
    // the provider's special case that restores the full IV (OpenSSH's GCM
    // ciphers load theirs this way, through the ctrl of the same name) and
    // buffers it for the next update, with no init call and so no IV-length
    // query by name. Undocumented in the manual pages, so it is probed in
    // Create() against a sealed test vector and, should a later OpenSSL
    // refuse it here, this context falls back to the init call for good.
    const OSSL_PARAM params[] = {{OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, OSSL_PARAM_OCTET_STRING,
                                  const_cast<uint8_t*>(nonce), static_cast<size_t>(-1),
                                  OSSL_PARAM_UNMODIFIED},
                                 OSSL_PARAM_END};
    if (EVP_CIPHER_CTX_set_params(ctx_, params) == 1) return true;
    seal_by_params_ = false;
  }
  // Cipher and key NULL: only the nonce is loaded, the key schedule stays.
  return EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, -1, nullptr) == 1;
}

bool AesGcm::BeginOpen(const uint8_t nonce[kGcmNonceLen], const uint8_t tag[kGcmTagLen]) noexcept {
  if (dir_ != Direction::kOpen) return false;
  // No init call: the nonce as RFC 5116's fixed field (the salt) and
  // invocation field (the explicit IV), which the provider loads at once,
  // and the tag, all in one set_params. The provider copies all three before
  // returning (sets only read, despite OSSL_PARAM's non-const data).
  uint8_t* n = const_cast<uint8_t*>(nonce);
  const OSSL_PARAM params[] = {
      TagParam(const_cast<uint8_t*>(tag)),
      {OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, OSSL_PARAM_OCTET_STRING, n, kGcmSaltLen,
       OSSL_PARAM_UNMODIFIED},
      {OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV, OSSL_PARAM_OCTET_STRING, n + kGcmSaltLen,
       kGcmNonceLen - kGcmSaltLen, OSSL_PARAM_UNMODIFIED},
      OSSL_PARAM_END};
  return EVP_CIPHER_CTX_set_params(ctx_, params) == 1;
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
  // get_params, unlike a GET_TAG ctrl, needs no translation by name.
  OSSL_PARAM params[] = {TagParam(tag), OSSL_PARAM_END};
  return EVP_CIPHER_CTX_get_params(ctx_, params) == 1;
}

bool AesGcm::OpenFinish() noexcept {
  int outl = 0;
  uint8_t none[16];
  // Final compares the tag in constant time; 0 means forged or corrupted.
  return EVP_CipherFinal_ex(ctx_, none, &outl) == 1;
}

bool AesGcm::Seal(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
                  std::span<const uint8_t> in, uint8_t* out, uint8_t tag[kGcmTagLen]) noexcept {
  return BeginSeal(nonce) && Aad(aad.data(), static_cast<uint32_t>(aad.size())) &&
         Update(in.data(), out, static_cast<uint32_t>(in.size())) && SealFinish(tag);
}

bool AesGcm::Open(const uint8_t nonce[kGcmNonceLen], std::span<const uint8_t> aad,
                  std::span<const uint8_t> in, uint8_t* out,
                  const uint8_t tag[kGcmTagLen]) noexcept {
  return BeginOpen(nonce, tag) && Aad(aad.data(), static_cast<uint32_t>(aad.size())) &&
         Update(in.data(), out, static_cast<uint32_t>(in.size())) && OpenFinish();
}

}  // namespace mflow::esp
