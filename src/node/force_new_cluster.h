// Disaster recovery: a node that survived the permanent loss of its cluster's majority
// starts again as the only voter of a new cluster, keeping its log and snapshots.
//
// Raft cannot commit anything without a majority, so when most voters are gone for
// good (disks lost, machines replaced) the survivors are stuck forever. This is the
// way out that etcd calls --force-new-cluster and hashicorp/raft RecoverCluster: the
// operator picks the survivor with the longest log and restarts it with this option;
// it elects itself, commits everything in its log, and new members then join it.
//
// What it gives up, and why only an operator may ask for it: entries only the lost
// members held are gone, and entries this node held uncommitted become committed.
// Every other member must be stopped for good, and rejoin with an empty data
// directory; a member still running with its old log would form a second cluster.
#pragma once

#include <string>

#include "raft/log_store.h"
#include "raft/result.h"
#include "raft/types.h"

namespace raft {

// Appends, durably, one configuration entry naming `id` as the only voter (its member
// record, addresses included, kept from the configuration in force) after the last
// entry of `store`, in a new term recorded in the hard state. The core adopts it on
// load, as it adopts any configuration in the log. Writes nothing when that
// configuration is already in force (a restart that kept the option). `describe_old`
// and `changed`, when given, say what was in force and whether anything was written.
// Fails, writing nothing, when the configuration in force does not name `id` (a
// foreign data directory, or a node that was removed).
Status force_new_cluster(LogStore& store, NodeId id, std::string* describe_old = nullptr,
                         bool* changed = nullptr);

}  // namespace raft
