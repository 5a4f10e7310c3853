// leasekv — everything public, in one include.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/store.hpp"
#include "leasekv/txn.hpp"
#include "leasekv/types.hpp"
