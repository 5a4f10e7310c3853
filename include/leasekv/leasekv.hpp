// leasekv — everything public, in one include.
#pragma once

#include "leasekv/clock.hpp"
#include "leasekv/data_dir_tools.hpp"
#include "leasekv/election.hpp"
#include "leasekv/error.hpp"
#include "leasekv/lease.hpp"
#include "leasekv/mutex.hpp"
#include "leasekv/session.hpp"
#include "leasekv/store.hpp"
#include "leasekv/txn.hpp"
#include "leasekv/types.hpp"
#include "leasekv/watch.hpp"
