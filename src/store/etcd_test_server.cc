#include "store/etcd_test_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/http_post.h"

namespace mflow::store {

bool EtcdTestServer::HaveOpenssl() { return access("/usr/bin/openssl", X_OK) == 0; }

std::string EtcdTestServer::FindBinary() {
  if (const char* env = std::getenv("MFLOW_ETCD"); env != nullptr && access(env, X_OK) == 0) return env;
  for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

int EtcdTestServer::FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

EtcdTestServer::~EtcdTestServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Status EtcdTestServer::Start(bool tls) {
  tls_ = tls;
  binary_ = FindBinary();
  if (binary_.empty()) return Status::Error(StatusCode::kNotFound, "no etcd binary");
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/mflow-etcd-test.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Status::Error("mkdtemp failed in " + tmpl);
  dir_ = tmpl;
  log_ = dir_ + "/etcd.log";
  client_port_ = FreePort();
  peer_port_ = FreePort();
  if (client_port_ == 0 || peer_port_ == 0 || client_port_ == peer_port_)
    return Status::Error("no free loopback ports");
  if (tls_) MFLOW_RETURN_IF_ERROR(MakeCertificates());
  return Launch();
}

// A test CA, a server certificate for 127.0.0.1, a client certificate, and
// a second CA with a client certificate etcd must refuse. EC keys: fast.
Status EtcdTestServer::MakeCertificates() {
  const std::string d = dir_ + "/pki";
  std::string script =
      "set -e; mkdir -p '" + d + "'; cd '" + d + "'\n"
      "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key 2>/dev/null; }\n"
      "ca() { key $1; openssl req -x509 -new -key $1.key -out $1.pem -days 2 -subj /CN=$1 2>/dev/null; }\n"
      "cert() { key $2; openssl req -new -key $2.key -out $2.csr -subj /CN=$2 2>/dev/null;"
      "  printf '%s\\n' \"$3\" > $2.ext;"
      "  openssl x509 -req -in $2.csr -CA $1.pem -CAkey $1.key -CAcreateserial -out $2.pem -days 2"
      "  -extfile $2.ext 2>/dev/null; }\n"
      "ca ca; ca other-ca\n"
      "cert ca server 'subjectAltName=IP:127.0.0.1'\n"
      "cert ca client 'extendedKeyUsage=clientAuth'\n"
      "cert other-ca stranger 'extendedKeyUsage=clientAuth'\n";
  std::string path = dir_ + "/make-pki.sh";
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) return Status::Error("cannot write " + path);
  fputs(script.c_str(), f);
  fclose(f);
  int rc = std::system(("/bin/sh '" + path + "' >/dev/null 2>&1").c_str());
  if (rc != 0) return Status::Error("openssl could not make the test certificates");
  client_tls_ = {d + "/ca.pem", d + "/client.pem", d + "/client.key"};
  bad_client_tls_ = {d + "/ca.pem", d + "/stranger.pem", d + "/stranger.key"};
  return Status::Ok();
}

Status EtcdTestServer::Launch() {
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {binary_,
                                   "--name", "t",
                                   "--data-dir", dir_ + "/data",
                                   "--listen-client-urls", url(),
                                   "--advertise-client-urls", url(),
                                   "--listen-peer-urls", peer,
                                   "--initial-advertise-peer-urls", peer,
                                   "--initial-cluster", "t=" + peer,
                                   "--log-outputs", "stderr"};
  if (tls_) {
    const std::string d = dir_ + "/pki/";
    for (std::string a : {"--cert-file=" + d + "server.pem", "--key-file=" + d + "server.key",
                          "--trusted-ca-file=" + d + "ca.pem", std::string("--client-cert-auth")})
      args.push_back(a);
  }
  pid_ = fork();
  if (pid_ < 0) return Status::Error("fork failed");
  if (pid_ == 0) {
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Ready = answers a range request; bounded at 15 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = HttpPost(url() + "/v3/kv/range", R"({"key":"AA=="})", client_tls_, std::chrono::milliseconds(200),
                      std::chrono::milliseconds(500), 1 << 20);
    if (r.ok() && r->code == 200) return Status::Ok();
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Error("etcd exited at start; see " + log_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Error("etcd not ready within 15 s; see " + log_);
}

void EtcdTestServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {  // 5 s
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace mflow::store
