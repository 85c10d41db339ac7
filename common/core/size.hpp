// SPDX-License-Identifier: Apache-2.0
#pragma once
// Byte sizes as operators write them: "512", "16KiB", "1MiB", "2GiB" (also KB/MB/GB, same meaning).

#include <cstdint>
#include <optional>
#include <string_view>

namespace dstack {

std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace dstack
