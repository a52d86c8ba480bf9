// Tests of the control socket: a real ControlServer on a temporary path with
// a fake handler, driven by ControlRequest and by raw sockets that misbehave
// (half requests, oversized ones, never reading, several at once). Waits are
// poll() with a deadline on a socket the server must answer on, never sleeps.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "control/control_client.h"
#include "control/control_server.h"
#include "control/socket_path.h"
#include "control/unique_fd.h"

namespace mflow {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr int kTimeoutMs = 5000;  // generous: a failure, not a slow machine

// The fake daemon: echoes, throws, or answers big on demand.
json FakeHandler(const json& req) {
  const std::string cmd = req["cmd"];
  if (cmd == "throw") throw std::runtime_error("boom");
  if (cmd == "big") return {{"ok", true}, {"n", req.value("n", 0)}, {"blob", std::string(100000, 'x')}};
  if (cmd == "fail") return {{"ok", false}, {"error", "no such port"}};
  return {{"ok", true}, {"cmd", cmd}, {"n", req.value("n", 0)}};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mflow-ctl-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A hand-driven client connection.
class RawConn {
 public:
  explicit RawConn(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    if (!FillSocketAddress(path, &addr).ok() ||
        ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      fd_.Reset();
    }
  }
  bool connected() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  bool Send(const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      const ssize_t r = ::send(fd_.get(), s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (r <= 0) return false;
      off += static_cast<size_t>(r);
    }
    return true;
  }
  // The next reply line; nullopt on EOF, error or timeout.
  std::optional<std::string> ReadLine() {
    for (;;) {
      const size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (!Fill()) return std::nullopt;
    }
  }
  std::optional<json> ReadReply() {
    auto line = ReadLine();
    if (!line) return std::nullopt;
    return json::parse(*line);
  }
  // True when the server closes the connection (EOF or reset) in time.
  bool ClosedByServer() {
    while (Fill()) buf_.clear();
    return eof_;
  }

 private:
  bool Fill() {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, kTimeoutMs) <= 0) return false;
    char tmp[65536];
    const ssize_t r = ::recv(fd_.get(), tmp, sizeof tmp, 0);
    if (r <= 0) {
      eof_ = r == 0 || errno == ECONNRESET;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(r));
    return true;
  }

  UniqueFd fd_;
  std::string buf_;
  bool eof_ = false;
};

class ControlTest : public ::testing::Test {
 protected:
  // A socket in a directory that does not exist yet: Start creates it.
  std::string SocketPath() const { return dir_.path() + "/run/mflowd.sock"; }

  std::unique_ptr<ControlServer> StartServer(const ControlServerOptions& opts = {}) {
    auto srv = ControlServer::Start(SocketPath(), FakeHandler, opts);
    EXPECT_TRUE(srv.ok()) << srv.status().message();
    return srv.ok() ? std::move(srv.value()) : nullptr;
  }

  TempDir dir_;
};

TEST_F(ControlTest, RoundTrip) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  auto reply = ControlRequest(SocketPath(), {{"cmd", "status"}, {"n", 7}});
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(*reply, (json{{"ok", true}, {"cmd", "status"}, {"n", 7}}));
  // An {"ok":false} reply is a reply, not a transport error.
  auto failed = ControlRequest(SocketPath(), {{"cmd", "fail"}});
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ((*failed)["error"], "no such port");
}

TEST_F(ControlTest, SocketIs0600InA0700Directory) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  struct stat st {};
  ASSERT_EQ(::stat(SocketPath().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir_.path() + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(ControlTest, SocketRemovedOnDestruction) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  srv.reset();
  EXPECT_FALSE(std::filesystem::exists(SocketPath()));
}

TEST_F(ControlTest, SeveralRequestsPerConnectionInOrder) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  RawConn c(SocketPath());
  ASSERT_TRUE(c.connected());
  // Three in one write, then one split over two writes.
  ASSERT_TRUE(c.Send("{\"cmd\":\"a\",\"n\":1}\n{\"cmd\":\"b\",\"n\":2}\n\n{\"cmd\":\"c\",\"n\":3}\n"));
  for (int n = 1; n <= 3; ++n) {
    auto r = c.ReadReply();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["n"], n);
  }
  ASSERT_TRUE(c.Send("{\"cmd\":\"d\","));
  ASSERT_TRUE(c.Send("\"n\":4}\r\n"));
  auto r = c.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["cmd"], "d");
  EXPECT_EQ((*r)["n"], 4);
}

TEST_F(ControlTest, LastRequestWithoutNewlineIsAnsweredAtEof) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  RawConn c(SocketPath());
  ASSERT_TRUE(c.Send("{\"cmd\":\"x\",\"n\":5}"));
  ASSERT_EQ(::shutdown(c.fd(), SHUT_WR), 0);
  auto r = c.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["n"], 5);
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(ControlTest, InvalidRequestsGetErrorsAndTheConnectionStaysUsable) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  RawConn c(SocketPath());
  ASSERT_TRUE(c.Send("this is not json\n{\"no_cmd\":1}\n[1,2]\n{\"cmd\":42}\n{\"cmd\":\"ok\"}\n"));
  auto r = c.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], false);
  EXPECT_NE((*r)["error"].get<std::string>().find("invalid request: not JSON"), std::string::npos) << *r;
  EXPECT_EQ((*r)["code"], "invalid") << *r;
  for (int i = 0; i < 3; ++i) {
    r = c.ReadReply();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["ok"], false);
    EXPECT_NE((*r)["error"].get<std::string>().find("\"cmd\" string"), std::string::npos) << *r;
  }
  r = c.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ok"], true);
}

TEST_F(ControlTest, HandlerExceptionBecomesErrorReply) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  auto reply = ControlRequest(SocketPath(), {{"cmd", "throw"}});
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ((*reply)["ok"], false);
  EXPECT_EQ((*reply)["error"], "internal error: boom");
  // The server is still serving.
  EXPECT_TRUE(ControlRequest(SocketPath(), {{"cmd", "status"}}).ok());
}

TEST_F(ControlTest, OversizedRequestIsRefusedAndClosed) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  for (const bool with_newline : {false, true}) {
    RawConn c(SocketPath());
    ASSERT_TRUE(c.Send("{\"cmd\":\"" + std::string(70 * 1024, 'a') + (with_newline ? "\"}\n" : "")));
    auto r = c.ReadReply();
    ASSERT_TRUE(r) << with_newline;
    EXPECT_EQ((*r)["ok"], false);
    EXPECT_NE((*r)["error"].get<std::string>().find("request too large"), std::string::npos) << *r;
    EXPECT_TRUE(c.ClosedByServer());
  }
  // A request just under the bound is fine.
  const std::string pad(64 * 1024 - 64, 'p');
  auto reply = ControlRequest(SocketPath(), {{"cmd", "status"}, {"pad", pad}});
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ((*reply)["ok"], true);
}

TEST_F(ControlTest, StalledClientDoesNotBlockOthers) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  RawConn stalled(SocketPath());
  ASSERT_TRUE(stalled.Send("{\"cmd\":"));  // half a request, then nothing
  RawConn other(SocketPath());
  ASSERT_TRUE(other.Send("{\"cmd\":\"other\"}\n"));
  auto r = other.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["cmd"], "other");
  EXPECT_TRUE(ControlRequest(SocketPath(), {{"cmd", "third"}}).ok());
  // The stalled one finishes later and is served too.
  ASSERT_TRUE(stalled.Send("\"late\"}\n"));
  r = stalled.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["cmd"], "late");
}

TEST_F(ControlTest, ClientNotReadingRepliesDoesNotBlockOthers) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  // 40 replies of 100 kB: far more than the socket buffer and the 1 MiB the
  // server holds for one client, so the server must stop reading this client.
  RawConn hog(SocketPath());
  std::string burst;
  for (int i = 0; i < 40; ++i) burst += "{\"cmd\":\"big\",\"n\":" + std::to_string(i) + "}\n";
  ASSERT_TRUE(hog.Send(burst));
  auto reply = ControlRequest(SocketPath(), {{"cmd", "status"}});
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  // Then the hog reads everything, in order, nothing lost.
  for (int i = 0; i < 40; ++i) {
    auto r = hog.ReadReply();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ((*r)["n"], i);
  }
}

TEST_F(ControlTest, ClientThatStopsSendingWhileRepliesArePendingGetsThemAll) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  RawConn c(SocketPath());
  std::string burst;
  for (int i = 0; i < 40; ++i) burst += "{\"cmd\":\"big\",\"n\":" + std::to_string(i) + "}\n";
  burst += "{\"cmd\":\"last\",\"n\":40}";  // no newline: ended by the shutdown
  ASSERT_TRUE(c.Send(burst));
  ASSERT_EQ(::shutdown(c.fd(), SHUT_WR), 0);
  for (int i = 0; i <= 40; ++i) {
    auto r = c.ReadReply();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ((*r)["n"], i);
  }
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(ControlTest, StalledClientIsDisconnectedIdleOneIsNot) {
  ControlServerOptions opts;
  opts.stall_timeout = std::chrono::milliseconds(100);
  auto srv = StartServer(opts);
  ASSERT_TRUE(srv);
  RawConn idle(SocketPath());
  ASSERT_TRUE(idle.Send("{\"cmd\":\"first\"}\n"));
  ASSERT_TRUE(idle.ReadReply());  // accepted; from now on idle, nothing pending
  RawConn c(SocketPath());
  ASSERT_TRUE(c.Send("{\"cmd\":"));
  auto r = c.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_NE((*r)["error"].get<std::string>().find("no progress"), std::string::npos) << *r;
  EXPECT_TRUE(c.ClosedByServer());
  // The idle client has been idle longer than the stall timeout by now, and
  // is still served: only clients the server waits on are timed out.
  ASSERT_TRUE(idle.Send("{\"cmd\":\"idle\"}\n"));
  r = idle.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["cmd"], "idle");
}

TEST_F(ControlTest, TooManyClientsAreToldSo) {
  ControlServerOptions opts;
  opts.max_clients = 1;
  auto srv = StartServer(opts);
  ASSERT_TRUE(srv);
  RawConn first(SocketPath());
  ASSERT_TRUE(first.Send("{\"cmd\":\"x\"}\n"));
  ASSERT_TRUE(first.ReadReply());  // accepted and registered
  auto reply = ControlRequest(SocketPath(), {{"cmd", "status"}});
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ((*reply)["ok"], false);
  EXPECT_NE((*reply)["error"].get<std::string>().find("too many"), std::string::npos) << *reply;
  EXPECT_EQ((*reply)["code"], "busy") << *reply;
}

// Out of descriptors, accept fails and the connection stays queued; the
// server waits (before, the listening socket stayed readable and its thread
// spun on it: it burned the whole window's CPU time) and, once descriptors
// are back, takes the connection and answers.
TEST_F(ControlTest, OutOfDescriptorsTheServerWaitsAndRecovers) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));  // before the limit
  ASSERT_TRUE(s.valid());
  sockaddr_un addr{};
  ASSERT_TRUE(FillSocketAddress(SocketPath(), &addr).ok());
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  // The lowest free descriptor becomes the limit: no new one can be made.
  const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  ::close(probe);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(probe);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  const int rc = ::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  // The server meets EMFILE in this window. The process's CPU time over it
  // is the server thread's (this one sleeps): a spinning server uses most
  // of the window, a waiting one next to nothing. A loaded machine can only
  // hide a spin, never fake one.
  timespec cpu0{};
  timespec cpu1{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_EQ(rc, 0);
  const double cpu_ms = static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) * 1e3 +
                        static_cast<double>(cpu1.tv_nsec - cpu0.tv_nsec) / 1e6;
  EXPECT_LT(cpu_ms, 50.0) << "the server spun while out of descriptors";
  const std::string req = "{\"cmd\":\"status\"}\n";
  ASSERT_EQ(::send(s.get(), req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  pollfd p{s.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, kTimeoutMs), 1) << "no reply after descriptors came back";
  char buf[256];
  const ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, static_cast<size_t>(n)).find("\"ok\":true"), std::string::npos);
}

// "Does not hang": does not wait for its clients, not even up to the stall
// timeout, made far longer here than the bound, which is itself far above
// what a loaded machine needs.
TEST_F(ControlTest, DestructorWithConnectedClientsDoesNotHang) {
  ControlServerOptions opts;
  opts.stall_timeout = std::chrono::minutes(2);
  auto srv = StartServer(opts);
  ASSERT_TRUE(srv);
  RawConn half(SocketPath());
  ASSERT_TRUE(half.Send("{\"cmd\":"));
  RawConn hog(SocketPath());
  std::string burst;
  for (int i = 0; i < 40; ++i) burst += "{\"cmd\":\"big\"}\n";
  ASSERT_TRUE(hog.Send(burst));
  ASSERT_TRUE(hog.ReadLine());  // the server is busy with it
  const Clock::time_point t0 = Clock::now();
  srv.reset();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(30));
  EXPECT_TRUE(half.ClosedByServer());
  EXPECT_TRUE(hog.ClosedByServer());
}

TEST_F(ControlTest, SecondServerOnALivePathIsRefused) {
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  auto second = ControlServer::Start(SocketPath(), FakeHandler);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("is already serving " + SocketPath()), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.status().message();
  // The first one is untouched.
  EXPECT_TRUE(ControlRequest(SocketPath(), {{"cmd", "status"}}).ok());
}

TEST_F(ControlTest, StaleSocketFileIsReplaced) {
  std::filesystem::create_directory(dir_.path() + "/run");
  {
    // A daemon that died: its socket file stays, nobody listens.
    UniqueFd dead(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    ASSERT_TRUE(FillSocketAddress(SocketPath(), &addr).ok());
    ASSERT_EQ(::bind(dead.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  ASSERT_TRUE(std::filesystem::is_socket(SocketPath()));
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  EXPECT_TRUE(ControlRequest(SocketPath(), {{"cmd", "status"}}).ok());
}

TEST_F(ControlTest, NonSocketAtThePathIsLeftAlone) {
  std::filesystem::create_directory(dir_.path() + "/run");
  std::ofstream(SocketPath()) << "precious";
  auto srv = ControlServer::Start(SocketPath(), FakeHandler);
  ASSERT_FALSE(srv.ok());
  EXPECT_NE(srv.status().message().find("is not a socket"), std::string::npos) << srv.status().message();
  EXPECT_TRUE(std::filesystem::is_regular_file(SocketPath()));
}

TEST_F(ControlTest, DestructorLeavesASuccessorsSocketAlone) {
  auto old_srv = StartServer();
  ASSERT_TRUE(old_srv);
  // An operator removed the file and a new server took the path.
  ASSERT_EQ(::unlink(SocketPath().c_str()), 0);
  auto new_srv = StartServer();
  ASSERT_TRUE(new_srv);
  old_srv.reset();
  EXPECT_TRUE(std::filesystem::is_socket(SocketPath()));
  EXPECT_TRUE(ControlRequest(SocketPath(), {{"cmd", "status"}}).ok());
}

TEST_F(ControlTest, BadPaths) {
  auto too_long = ControlServer::Start("/tmp/" + std::string(200, 'x'), FakeHandler);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("too long"), std::string::npos);
  EXPECT_FALSE(ControlServer::Start("", FakeHandler).ok());
  EXPECT_FALSE(ControlServer::Start(SocketPath(), nullptr).ok());
}

TEST_F(ControlTest, ClientErrorsSayWhatToDo) {
  auto reply = ControlRequest(SocketPath(), {{"cmd", "status"}});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().message(), "cannot connect to mflowd at " + SocketPath() +
                                          ": No such file or directory (is mflowd running?)");
}

TEST_F(ControlTest, ClientTimesOutOnASilentServer) {
  // A listening socket that never accepts nor answers.
  std::filesystem::create_directory(dir_.path() + "/run");
  UniqueFd mute(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  ASSERT_TRUE(FillSocketAddress(SocketPath(), &addr).ok());
  ASSERT_EQ(::bind(mute.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(mute.get(), 4), 0);
  auto reply = ControlRequest(SocketPath(), {{"cmd", "status"}}, 100);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("within 100 ms"), std::string::npos) << reply.status().message();
}

// Runs `body` in a child process as uid/gid 65534 (nobody) and returns its
// exit code. The child only makes system calls (the parent has threads, so
// after fork nothing that might take a lock held by one of them), and an
// alarm bounds it.
int RunAsNobody(int (*body)(const char* path), const std::string& path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(10);
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(90);
    ::_exit(body(path.c_str()));
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

int ConnectAsNobody(const char* path, int* fd) {
  *fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  return ::connect(*fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
}

TEST_F(ControlTest, NonRootIsRefusedBySocketMode) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (to setuid to nobody)";
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  // Even with every directory on the way open, the 0600 socket is not.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod((dir_.path() + "/run").c_str(), 0755), 0);
  const int rc = RunAsNobody(
      [](const char* path) {
        int fd = -1;
        if (ConnectAsNobody(path, &fd) == 0) return 1;
        return errno == EACCES ? 0 : 2;
      },
      SocketPath());
  EXPECT_EQ(rc, 0) << "1: connected, 2: other error than EACCES";
}

TEST_F(ControlTest, NonRootIsRefusedByPeerCredentials) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (to setuid to nobody)";
  auto srv = StartServer();
  ASSERT_TRUE(srv);
  // Open the file system's door to test the second lock behind it.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod((dir_.path() + "/run").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(SocketPath().c_str(), 0666), 0);
  const int rc = RunAsNobody(
      [](const char* path) {
        int fd = -1;
        if (ConnectAsNobody(path, &fd) != 0) return 1;
        const char req[] = "{\"cmd\":\"status\"}\n";
        if (::send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET) return 2;
        char buf[512] = {};
        size_t got = 0;
        for (;;) {
          const ssize_t r = ::recv(fd, buf + got, sizeof buf - 1 - got, 0);
          if (r <= 0) break;
          got += static_cast<size_t>(r);
        }
        if (std::strstr(buf, "\"ok\":false") == nullptr) return 3;
        if (std::strstr(buf, "permission denied: mflowd's control socket is for root only") == nullptr) return 4;
        if (std::strstr(buf, "\"cmd\"") != nullptr) return 5;  // the handler must not have run
        return 0;
      },
      SocketPath());
  EXPECT_EQ(rc, 0) << "1: cannot connect, 2: cannot send, 3-5: not the refusal reply";
  // Root still gets in.
  EXPECT_TRUE(ControlRequest(SocketPath(), {{"cmd", "status"}}).ok());
}

}  // namespace
}  // namespace mflow
