// SPDX-License-Identifier: Apache-2.0
#pragma once
// One line of the directory's watch stream (docs/api.md#event-lines) as the directory client
// reads it. Apart from the stream so the reading is tested and fuzzed on text
// (docs/fuzzing.md).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.hpp"
#include "common/model/model.hpp"

namespace dstack::registry {

// An event (and `revision` set to its revision); nullopt for a line that carries none (empty,
// or a keepalive, whose revision is taken when it is ahead); or the protocol error the watch
// ends with, naming `authority`.
std::optional<Result<model::Event>> read_watch_line(std::string_view line, std::uint64_t& revision,
                                                    const std::string& authority);

}  // namespace dstack::registry
