#include "cni/ipam_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/errno_text.h"
#include "control/unique_fd.h"

namespace mflow::cni {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxOutput = size_t{1} << 20;

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int MsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Waits for the child until the deadline, then kills it and reaps it.
// Returns its exit code, or -1 when a signal (ours or another) ended it.
int Reap(pid_t pid, Clock::time_point deadline, bool* timed_out) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
    if (MsLeft(deadline) == 0) {
      *timed_out = true;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

StatusOr<ExecOutcome> RunWithInput(const std::string& binary, const EnvMap& env, const std::string& input,
                                   std::chrono::milliseconds timeout) {
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Status::Error("pipe: " + ErrnoText(errno));
  UniqueFd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::Error("pipe: " + ErrnoText(errno));
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);

  // dup2 onto 0 and 1 clears close-on-exec there; every other pipe end closes at exec.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_write.get(), 1);

  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = binary;
  char* argv[] = {arg0.data(), nullptr};

  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Status::Error("cannot run " + binary + ": " + ErrnoText(rc));
  in_read.Reset();
  out_write.Reset();
  ::fcntl(in_write.get(), F_SETFL, O_NONBLOCK);

  const Clock::time_point deadline = Clock::now() + timeout;
  ExecOutcome outcome;
  size_t written = 0;
  if (input.empty()) in_write.Reset();
  bool overflow = false;
  while (out_read.valid() && MsLeft(deadline) > 0) {
    pollfd p[2];
    nfds_t n = 0;
    p[n++] = {out_read.get(), POLLIN, 0};
    if (in_write.valid()) p[n++] = {in_write.get(), POLLOUT, 0};
    const int r = ::poll(p, n, MsLeft(deadline));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (n == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(in_write.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      // EPIPE: the plugin does not want (the rest of) its stdin; its output says why.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in_write.Reset();
    }
    if (p[0].revents & (POLLIN | POLLERR | POLLHUP)) {
      char buf[16 * 1024];
      const ssize_t got = ::read(out_read.get(), buf, sizeof buf);
      if (got > 0) {
        outcome.out.append(buf, static_cast<size_t>(got));
        if (outcome.out.size() > kMaxOutput) {
          overflow = true;
          break;
        }
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_read.Reset();  // EOF: the plugin is done talking
      }
    }
  }
  in_write.Reset();
  const bool still_talking = out_read.valid();
  out_read.Reset();
  bool timed_out = false;
  // A plugin still holding stdout open at the deadline, or flooding it, is killed now.
  outcome.exit_code = Reap(pid, still_talking ? Clock::now() : deadline, &timed_out);
  if (overflow) return Status::Error(binary + " wrote more than 1 MiB to stdout");
  if (still_talking || timed_out)
    return Status::Error(binary + " did not finish within " + std::to_string(timeout.count()) + " ms (killed)");
  return outcome;
}

CniOr<std::string> FindPlugin(const std::vector<std::string>& path, const std::string& type) {
  if (path.empty())
    return CniError{kInvalidEnvironment, "CNI_PATH is not set: it is needed to find the IPAM plugin \"" + type + "\"",
                    ""};
  std::string tried;
  for (const std::string& dir : path) {
    const std::string candidate = dir + "/" + type;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    tried += (tried.empty() ? "" : ":") + dir;
  }
  return CniError{kIpamFailed, "IPAM plugin \"" + type + "\" (ipam.type) not found in CNI_PATH " + tried, ""};
}

CniOr<std::string> RunIpam(const std::string& binary, const std::string& command, EnvMap env,
                           const std::string& config, std::chrono::milliseconds timeout) {
  env["CNI_COMMAND"] = command;
  const std::string name = BaseName(binary);
  auto run = RunWithInput(binary, env, config, timeout);
  if (!run.ok()) return CniError{kIpamFailed, "IPAM " + command + ": " + run.status().message(), ""};
  if (run->exit_code == 0) return std::move(run->out);

  // The plugin's own error object, passed on with its code.
  const nlohmann::json j = nlohmann::json::parse(run->out, nullptr, false);
  if (j.is_object() && j.contains("code") && j["code"].is_number_integer() && j.contains("msg") &&
      j["msg"].is_string()) {
    CniError e{j["code"].get<int>(), "IPAM plugin " + name + " " + command + ": " + j["msg"].get<std::string>(), ""};
    if (auto d = j.find("details"); d != j.end() && d->is_string()) e.details = d->get<std::string>();
    return e;
  }
  std::string out = run->out.substr(0, 200);
  return CniError{kIpamFailed,
                  "IPAM plugin " + name + " " + command + " failed (exit status " + std::to_string(run->exit_code) +
                      ") without an error object",
                  out};
}

}  // namespace mflow::cni
