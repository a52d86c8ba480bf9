// What a binary was built from: the project's version (CMakeLists.txt) and
// the commit of the checkout (scripts/commit-id.sh: a short hash, with
// "+local changes" when src or scripts differed from it; the same id as
// BUILD_DIR/COMMIT). `mflowd --version`, `mflowctl --version` and
// `mflowctl status` print them.
//
// BuildCommit is defined in a source the build writes (mflow_build_id in
// CMakeLists.txt), rewritten only when the id changes, so an unchanged
// commit recompiles and relinks nothing.
//
// Thread-safety: constant strings.
#pragma once

namespace mflow {

const char* BuildVersion();  // "0.1.0"
const char* BuildCommit();   // "2f2d5d6", "2f2d5d6+local changes", "unknown"

}  // namespace mflow
