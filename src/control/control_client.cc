#include "control/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>

#include "common/errno_text.h"
#include "control/socket_path.h"
#include "control/unique_fd.h"

namespace mflow {
namespace {

using Clock = std::chrono::steady_clock;

// A reply larger than this is a broken server, not a big FDB.
constexpr size_t kMaxReplyBytes = size_t{256} << 20;

std::string ConnectError(const std::string& path, int e) {
  std::string s = "cannot connect to mflowd at " + path + ": " + ErrnoText(e);
  if (e == ENOENT || e == ECONNREFUSED) s += " (is mflowd running?)";
  if (e == EACCES || e == EPERM) s += " (the control socket is for root only)";
  if (e == EAGAIN || e == EINPROGRESS) s += " (mflowd is not accepting connections)";
  return s;
}

// Waits until fd is ready for `events` or the deadline passes.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;  // ready, or an error the next call will report
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

StatusOr<nlohmann::json> ControlRequest(const std::string& socket_path, const nlohmann::json& request,
                                        int timeout_ms) {
  sockaddr_un addr{};
  if (Status s = FillSocketAddress(socket_path, &addr); !s.ok()) return s;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string timed_out =
      "no reply from mflowd at " + socket_path + " within " + std::to_string(timeout_ms) + " ms";

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Error("cannot create a socket: " + ErrnoText(errno));
  // A Unix-socket connect() blocks only while the server's backlog is full,
  // and then for at most SO_SNDTIMEO.
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::Error(ConnectError(socket_path, errno));
  }

  std::string out = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.push_back('\n');
  for (size_t off = 0; off < out.size();) {
    if (!WaitFor(fd.get(), POLLOUT, deadline)) return Status::Error(timed_out);
    const ssize_t r = ::send(fd.get(), out.data() + off, out.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      off += static_cast<size_t>(r);
    } else if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      // The server may have refused us and closed: its reply says why.
      if (errno == EPIPE || errno == ECONNRESET) break;
      return Status::Error("cannot send to mflowd at " + socket_path + ": " + ErrnoText(errno));
    }
  }

  std::string in;
  char buf[16 * 1024];
  for (;;) {
    const size_t nl = in.find('\n');
    if (nl != std::string::npos) {
      in.resize(nl);
      break;
    }
    if (in.size() > kMaxReplyBytes) return Status::Error("reply from mflowd is too large");
    if (!WaitFor(fd.get(), POLLIN, deadline)) return Status::Error(timed_out);
    const ssize_t r = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      in.append(buf, static_cast<size_t>(r));
    } else if (r == 0 || errno == ECONNRESET) {
      if (!in.empty()) break;  // a last reply without its newline
      return Status::Error("mflowd at " + socket_path + " closed the connection without a reply");
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Status::Error("cannot read from mflowd at " + socket_path + ": " + ErrnoText(errno));
    }
  }
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::Error("invalid reply from mflowd at " + socket_path + ": " + e.what());
  }
}

}  // namespace mflow
