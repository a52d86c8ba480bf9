// The project's version, from CMakeLists.txt (MFLOW_VERSION); the commit is
// in the generated source beside it (build_info.h).
#include "common/build_info.h"

const char* mflow::BuildVersion() { return MFLOW_VERSION; }
