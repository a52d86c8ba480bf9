// Render: mflowctl's readable views of mflowd's replies.
//
// One function per subcommand; each takes the daemon's reply object (already
// known to say "ok": true) and returns the text to print. Fields a reply does
// not have show as "-" and fields mflowctl does not know are ignored, so an
// older mflowctl still works against a newer mflowd and the other way round.
// The reply formats are documented in docs/MFLOWCTL.md.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mflow::ctl {

std::string RenderStatus(const nlohmann::json& reply);
std::string RenderPorts(const nlohmann::json& reply);
std::string RenderPeers(const nlohmann::json& reply);
std::string RenderFdb(const nlohmann::json& reply);
// drops_only: just the non-zero drops of every engine, by stage and reason.
std::string RenderStats(const nlohmann::json& reply, bool drops_only);
std::string RenderFlows(const nlohmann::json& reply);
std::string RenderPortAdd(const nlohmann::json& reply, const std::string& name);
std::string RenderPortDel(const nlohmann::json& reply, const std::string& name);
std::string RenderReload(const nlohmann::json& reply);
// The store (render_store.cc): status's section ("" without a store), and
// `mflowctl store` with the table of hosts.
std::string StatusStore(const nlohmann::json& status_reply);
std::string RenderStore(const nlohmann::json& reply);

}  // namespace mflow::ctl
