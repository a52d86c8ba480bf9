// PortName: the mflowd port name of one container interface.
//
// ADD and DEL run as separate processes with nothing shared but the
// environment, so DEL must derive the same name from the same inputs:
// (CNI_CONTAINERID, CNI_IFNAME), which the runtime guarantees unique per
// attachment. The name is "cni:<container id>:<ifname>" when that fits the
// port API (at most 128 bytes of [A-Za-z0-9._:/-]; a podman container ID is
// 64 hex digits, so it does). Otherwise (a very long ID, or an ifname with
// other characters) it is "cni:<first 90 bytes of the sanitised ID>:<16 hex
// digits of FNV-1a 64 over id + NUL + ifname>", still stable and
// collision-resistant. The "cni:" prefix keeps CNI-made ports apart from
// ports an operator made with mflowctl.
//
// Thread-safety: pure function.
#pragma once

#include <string>

namespace mflow::cni {

std::string PortName(const std::string& container_id, const std::string& ifname);

}  // namespace mflow::cni
