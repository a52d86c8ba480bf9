#include "control/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/errno_text.h"
#include "control/socket_path.h"

namespace mflow {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr size_t kReadChunk = 16 * 1024;
constexpr int kListenBacklog = 16;
constexpr int kMaxAcceptsPerRound = 16;  // then serve the connected clients again
constexpr std::chrono::milliseconds kAcceptPause{100};  // out of descriptors: retry after

const char kPermissionDenied[] = "permission denied: mflowd's control socket is for root only";

// Codes as in docs/MFLOWCTL.md: "invalid", "busy", "failed", ...
json ErrorReply(const std::string& message, const char* code = "failed") {
  return json{{"ok", false}, {"error", message}, {"code", code}};
}

// Serialises a reply as one line. Invalid UTF-8 in a handler's strings (an
// interface name read from the kernel, say) is replaced, not thrown.
std::string ToLine(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

// For clients about to be closed (refused, stalled): one try, never blocks.
void SendBestEffort(int fd, const json& reply) {
  const std::string line = ToLine(reply);
  while (::send(fd, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; });
}

// nlohmann's messages start with "[json.exception.parse_error.101] ": keep
// the part a person can use.
std::string ParseErrorText(const char* what) {
  std::string s = what;
  if (!s.empty() && s[0] == '[') {
    const size_t end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  return s;
}

// Creates the missing directories leading to the socket, mode 0700: the
// socket's directory is a second lock on it besides the socket's own mode.
// Existing directories (/run) are left as they are.
Status MakeParentDirs(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status::Ok();
  const std::string dir = path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::Error(dir + " exists and is not a directory");
    return Status::Ok();
  }
  for (size_t pos = 1; pos <= dir.size();) {
    size_t next = dir.find('/', pos);
    if (next == std::string::npos) next = dir.size();
    const std::string prefix = dir.substr(0, next);
    pos = next + 1;
    if (::mkdir(prefix.c_str(), 0700) == 0) {
      ::chmod(prefix.c_str(), 0700);  // exact mode, whatever the umask took away
    } else if (errno != EEXIST) {
      return Status::Error("cannot create directory " + prefix + ": " + ErrnoText(errno));
    }
  }
  return Status::Ok();
}

// Leaves the path free for bind(): nothing there, or a socket nobody listens
// on any more (a daemon that died without cleaning up), which is removed. A
// live server on the path, or a file that is not a socket, is an error: both
// mean a configuration mistake we must not paper over.
Status ClaimPath(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Error("cannot inspect " + path + ": " + ErrnoText(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::Error(path + " exists and is not a socket; remove it or choose another socket path");
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return Status::Error("cannot create a socket: " + ErrnoText(errno));
  // Non-blocking: a live server's backlog being full (EAGAIN) still means live.
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
      errno == EAGAIN) {
    std::string who = "another mflowd";
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(probe.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
      who += " (pid " + std::to_string(cred.pid) + ")";
    }
    return Status::Error(who + " is already serving " + path +
                         "; stop it first or choose another socket path");
  }
  if (errno != ECONNREFUSED) {
    return Status::Error("cannot probe the existing socket " + path + ": " + ErrnoText(errno));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::Error("cannot remove the stale socket " + path + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

}  // namespace

struct ControlServer::Client {
  UniqueFd fd;
  std::string in;       // received, not yet handled: complete lines, then a partial one
  std::string out;      // replies; out[out_off..] not yet sent
  size_t out_off = 0;
  bool eof = false;     // the peer has finished sending
  bool closing = false; // send what is pending, then close; read nothing more
  bool dead = false;    // close at the end of this round
  Clock::time_point last_progress;

  size_t pending_out() const { return out.size() - out_off; }
};

StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& socket_path,
                                                              ControlHandler handler,
                                                              const ControlServerOptions& options) {
  if (!handler) return Status::Error("control server needs a handler");
  sockaddr_un addr{};
  if (Status s = FillSocketAddress(socket_path, &addr); !s.ok()) return s;
  if (Status s = MakeParentDirs(socket_path); !s.ok()) return s;
  if (Status s = ClaimPath(socket_path, addr); !s.ok()) return s;

  std::unique_ptr<ControlServer> srv(new ControlServer(socket_path, std::move(handler), options));
  srv->listen_fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!srv->listen_fd_.valid()) return Status::Error("cannot create a socket: " + ErrnoText(errno));
  // bind() creates the file with mode 0777 & ~umask: a umask of 0177 makes
  // it 0600 from the first instant (no window with a wider mode).
  const mode_t old_umask = ::umask(0177);
  const int rc = ::bind(srv->listen_fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_umask);
  if (rc != 0) {
    return Status::Error("cannot bind the control socket " + socket_path + ": " + ErrnoText(bind_errno) +
                         (bind_errno == EADDRINUSE ? " (another mflowd starting at the same time?)" : ""));
  }
  struct stat st {};
  if (::stat(socket_path.c_str(), &st) == 0) {
    // From here on, an early return's destructor removes the file again.
    srv->dev_ = st.st_dev;
    srv->ino_ = st.st_ino;
  }
  if (::chmod(socket_path.c_str(), 0600) != 0) {
    return Status::Error("cannot chmod " + socket_path + ": " + ErrnoText(errno));
  }
  if (::listen(srv->listen_fd_.get(), kListenBacklog) != 0) {
    return Status::Error("cannot listen on " + socket_path + ": " + ErrnoText(errno));
  }
  srv->wake_fd_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!srv->wake_fd_.valid()) return Status::Error("cannot create an eventfd: " + ErrnoText(errno));
  srv->self_uid_ = ::geteuid();
  srv->thread_ = std::thread([p = srv.get()] { p->Run(); });
  return srv;
}

ControlServer::ControlServer(std::string path, ControlHandler handler, const ControlServerOptions& options)
    : path_(std::move(path)), handler_(std::move(handler)), opts_(options) {}

ControlServer::~ControlServer() {
  if (thread_.joinable()) {
    ::eventfd_write(wake_fd_.get(), 1);
    thread_.join();
  }
  clients_.clear();
  listen_fd_.Reset();
  struct stat st {};
  if (ino_ != 0 && ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
}

void ControlServer::Run() {
  pthread_setname_np(pthread_self(), "mflow-control");
  std::vector<pollfd> pfds;
  for (;;) {
    pfds.clear();
    pfds.push_back({wake_fd_.get(), POLLIN, 0});
    const Clock::time_point now = Clock::now();
    int timeout_ms = -1;
    const bool paused = now < accept_paused_until_;
    pfds.push_back({listen_fd_.get(), static_cast<short>(paused ? 0 : POLLIN), 0});
    if (paused)
      timeout_ms = static_cast<int>(
          std::chrono::ceil<std::chrono::milliseconds>(accept_paused_until_ - now).count());
    for (const auto& c : clients_) {
      short events = 0;
      if (WantsRead(*c)) events |= POLLIN;
      if (c->pending_out() > 0) events |= POLLOUT;
      pfds.push_back({c->fd.get(), events, 0});
      if (Waiting(*c)) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            c->last_progress + opts_.stall_timeout - now);
        const int ms = static_cast<int>(std::max<int64_t>(0, left.count()));
        timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
      }
    }
    if (::poll(pfds.data(), pfds.size(), timeout_ms) < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ENOMEM) continue;
      return;  // cannot happen with valid arguments; the destructor still cleans up
    }
    if (pfds[0].revents != 0) return;  // the destructor asks us to stop

    const size_t n = clients_.size();  // Accept below appends
    for (size_t i = 0; i < n; ++i) {
      Client& c = *clients_[i];
      const short revents = pfds[i + 2].revents;
      if (revents & (POLLERR | POLLNVAL)) {
        c.dead = true;
        continue;
      }
      if (revents & (POLLIN | POLLHUP)) Read(c);
      Progress(c);
    }
    const Clock::time_point later = Clock::now();
    for (auto& c : clients_) {
      if (!c->dead && Waiting(*c) && later - c->last_progress >= opts_.stall_timeout) {
        SendBestEffort(c->fd.get(), ErrorReply("no progress for " +
                                               std::to_string(opts_.stall_timeout.count()) +
                                               " ms; closing the connection"));
        c->dead = true;
      }
    }
    std::erase_if(clients_, [](const std::unique_ptr<Client>& c) { return c->dead; });
    if (pfds[1].revents & POLLIN) Accept();
  }
}

bool ControlServer::WantsRead(const Client& c) const {
  return !c.eof && !c.closing && !c.dead && c.pending_out() < opts_.max_pending_reply_bytes;
}

// A client we are waiting on: half a request, or replies it does not read.
// An idle client with nothing pending is not waited on and may stay.
bool ControlServer::Waiting(const Client& c) const {
  return c.pending_out() > 0 || (!c.in.empty() && !c.eof);
}

void ControlServer::Accept() {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        accept_paused_until_ = Clock::now() + kAcceptPause;
      return;  // EAGAIN: all taken; anything else: retried at the next poll
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != 0 && cred.uid != self_uid_)) {
      SendBestEffort(fd.get(), ErrorReply(kPermissionDenied));
      continue;
    }
    if (clients_.size() >= opts_.max_clients) {
      SendBestEffort(fd.get(), ErrorReply("too many control connections (" +
                                          std::to_string(opts_.max_clients) + "); try again later",
                                          "busy"));
      continue;
    }
    auto c = std::make_unique<Client>();
    c->fd = std::move(fd);
    c->last_progress = Clock::now();
    clients_.push_back(std::move(c));
  }
}

// Reads what is there, at most about one request's worth per round, so that
// a client streaming requests shares the thread with the others.
void ControlServer::Read(Client& c) {
  char buf[kReadChunk];
  size_t budget = opts_.max_request_bytes + kReadChunk;
  while (budget > 0 && WantsRead(c)) {
    const ssize_t r = ::recv(c.fd.get(), buf, std::min(sizeof buf, budget), MSG_DONTWAIT);
    if (r > 0) {
      c.in.append(buf, static_cast<size_t>(r));
      budget -= static_cast<size_t>(r);
      c.last_progress = Clock::now();
    } else if (r == 0) {
      c.eof = true;
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.dead = true;  // reset by the peer
      return;
    }
  }
}

// Handles complete requests and sends replies until the client's socket is
// full or nothing is left; the rest continues at the next poll round.
void ControlServer::Progress(Client& c) {
  while (!c.dead) {
    HandleLines(c);
    if (!Flush(c)) return;  // the peer's receive buffer is full
    if (c.closing) {
      c.dead = true;
      return;
    }
    // All sent: requests held back while replies were pending can go now,
    // and so can the end of a client that finished sending meanwhile.
    if (c.in.find('\n') == std::string::npos && !c.eof) return;
  }
}

void ControlServer::HandleLines(Client& c) {
  size_t start = 0;
  while (!c.closing && c.pending_out() < opts_.max_pending_reply_bytes) {
    const size_t nl = c.in.find('\n', start);
    if (nl == std::string::npos) break;
    const std::string_view line(c.in.data() + start, nl - start);
    start = nl + 1;
    if (line.size() > opts_.max_request_bytes) {
      TooLarge(c);
      break;
    }
    if (!IsBlank(line)) c.out += Handle(line);
  }
  c.in.erase(0, start);
  if (c.closing) {
    c.in.clear();
    return;
  }
  if (c.pending_out() >= opts_.max_pending_reply_bytes) return;  // more lines may wait
  // Only a partial line is left.
  if (c.in.size() > opts_.max_request_bytes) {
    TooLarge(c);
  } else if (c.eof) {
    // The peer finished sending: a last request without its newline is
    // still a request (printf '{"cmd":"status"}' | socat - UNIX:...).
    if (!IsBlank(c.in)) c.out += Handle(c.in);
    c.in.clear();
    c.closing = true;
  }
}

void ControlServer::TooLarge(Client& c) {
  c.out += ToLine(ErrorReply("request too large (more than " + std::to_string(opts_.max_request_bytes) +
                             " bytes without a newline); closing the connection"));
  c.in.clear();
  c.closing = true;
}

// True when everything pending went out.
bool ControlServer::Flush(Client& c) {
  while (c.pending_out() > 0) {
    const ssize_t r = ::send(c.fd.get(), c.out.data() + c.out_off, c.pending_out(),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      c.out_off += static_cast<size_t>(r);
      c.last_progress = Clock::now();
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c.dead = true;  // EPIPE: gone
      return false;
    }
  }
  c.out.clear();
  c.out_off = 0;
  return true;
}

std::string ControlServer::Handle(std::string_view line) {
  json request;
  try {
    request = json::parse(line);
  } catch (const json::parse_error& e) {
    return ToLine(ErrorReply(std::string("invalid request: not JSON: ") + ParseErrorText(e.what()),
                            "invalid"));
  }
  if (!request.is_object() || !request.contains("cmd") || !request["cmd"].is_string()) {
    return ToLine(
        ErrorReply("invalid request: expected a JSON object with a \"cmd\" string", "invalid"));
  }
  try {
    json reply = handler_(request);
    if (reply.is_null() || reply.is_discarded()) {
      return ToLine(ErrorReply("internal error: no reply to \"" + request["cmd"].get<std::string>() + "\""));
    }
    return ToLine(reply);
  } catch (const std::exception& e) {
    return ToLine(ErrorReply(std::string("internal error: ") + e.what()));
  } catch (...) {
    return ToLine(ErrorReply("internal error: unknown exception"));
  }
}

}  // namespace mflow
