// mflow-cni: the CNI plugin that attaches containers to mflowd. The runtime
// runs it with the verb in CNI_COMMAND and the network config on stdin; see
// plugin.h for the verbs and docs/CNI.md for the configuration.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "cni/plugin.h"

int main() {
  // A delegated IPAM plugin that exits without reading its stdin must not kill us on write.
  std::signal(SIGPIPE, SIG_IGN);
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  const mflow::cni::PluginOutput out = mflow::cni::RunPlugin(mflow::cni::ProcessEnvironment(), input);
  std::fwrite(out.out.data(), 1, out.out.size(), stdout);
  std::fflush(stdout);
  return out.exit_code;
}
