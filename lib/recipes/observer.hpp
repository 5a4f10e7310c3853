// The state behind a leader_observer (election.hpp): clientv3's Election.Observe over store watches.
#pragma once

#include "leasekv/election.hpp"
#include "recipes/queue_wait.hpp"

#include <memory>
#include <string>

namespace leasekv::recipes {

// Starts following the leaders of the election whose keys are under `prefix` (ending in "/"); every
// step runs on `on`.
std::shared_ptr<detail::observer_state> start_observer(anchor_ptr anchor, std::string prefix, strand on);

}  // namespace leasekv::recipes
