// The cluster dashboard: a single self-contained page (HTML, CSS and JavaScript in
// one file, src/raftd/dashboard/index.html) embedded into the binary at build time,
// served at GET / by every node. No build step, no external assets.
#pragma once

#include <string_view>

namespace raftd {

std::string_view dashboard_html();

}  // namespace raftd
