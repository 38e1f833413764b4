#include "tests/sim/client.h"

namespace raft::sim {
namespace {

OpKind op_kind(CommandKind kind) {
  switch (kind) {
    case CommandKind::kPut: return OpKind::kPut;
    case CommandKind::kGet: return OpKind::kGet;
    case CommandKind::kCas: return OpKind::kCas;
    case CommandKind::kDelete: return OpKind::kDelete;
  }
  return OpKind::kGet;
}

}  // namespace

SimClient::SimClient(int id, int node_count, const ClientConfig& config, std::uint64_t seed,
                     ClientEnv& env, std::vector<Operation>& history)
    : id_(id), node_count_(node_count), config_(config), rng_(seed), env_(env), history_(history) {}

void SimClient::start() {
  think();
}

void SimClient::arm(Time delay_ms) {
  env_.set_timer(id_, delay_ms, ++timer_);
}

void SimClient::drain() {
  draining_ = true;
  drained_ = 0;
  // The operation in progress must finish too (counted by after_operation()).
  pending_at_drain_ = state_ == State::kWaiting || state_ == State::kBackingOff;
}

void SimClient::think() {
  if (draining_ && !pending_at_drain_ && drained_ >= config_.drain_ops) {
    state_ = State::kDone;
    return;
  }
  state_ = State::kThinking;
  arm(config_.max_think_ms == 0 ? 0 : rng_.between(0, config_.max_think_ms));
}

void SimClient::begin_operation() {
  const int total =
      config_.get_weight + config_.put_weight + config_.cas_weight + config_.delete_weight;
  int roll = static_cast<int>(rng_.below(static_cast<std::uint64_t>(total)));
  command_ = Command();
  if ((roll -= config_.get_weight) < 0) {
    command_.kind = CommandKind::kGet;
  } else if ((roll -= config_.put_weight) < 0) {
    command_.kind = CommandKind::kPut;
  } else if ((roll -= config_.cas_weight) < 0) {
    command_.kind = CommandKind::kCas;
  } else {
    command_.kind = CommandKind::kDelete;
  }
  command_.key = "k" + std::to_string(rng_.between(1, static_cast<std::uint64_t>(config_.keys)));
  read_path_ = ReadPath::kLog;
  if (command_.kind == CommandKind::kGet) {
    const int paths =
        config_.read_log_weight + config_.read_index_weight + config_.read_lease_weight;
    int path = static_cast<int>(rng_.below(static_cast<std::uint64_t>(paths)));
    if ((path -= config_.read_log_weight) < 0) {
      read_path_ = ReadPath::kLog;
    } else if ((path -= config_.read_index_weight) < 0) {
      read_path_ = ReadPath::kReadIndex;
    } else {
      read_path_ = ReadPath::kLease;
    }
  }
  if (command_.kind == CommandKind::kPut || command_.kind == CommandKind::kCas) {
    command_.value = "c" + std::to_string(id_) + "." + std::to_string(next_value_++);
  }
  if (command_.kind == CommandKind::kCas) {
    auto it = last_seen_.find(command_.key);
    command_.expected = it != last_seen_.end() ? it->second : "none";
  }
  operation_start_ = env_.now();
  attempts_ = 0;
  send_attempt();
}

core::NodeId SimClient::pick_node() {
  if (read_path_ != ReadPath::kLog && config_.follower_read_ppm > 0 &&
      rng_.chance(config_.follower_read_ppm, 1'000'000)) {
    return static_cast<core::NodeId>(rng_.between(1, static_cast<std::uint64_t>(node_count_)));
  }
  if (leader_hint_ != core::kNoNode && rng_.chance(4, 5)) return leader_hint_;
  return static_cast<core::NodeId>(rng_.between(1, static_cast<std::uint64_t>(node_count_)));
}

void SimClient::send_attempt() {
  ++attempts_;
  attempt_ = ++attempt_counter_;
  target_ = pick_node();
  call_time_ = env_.now();
  state_ = State::kWaiting;
  ClientRequest request;
  request.client = id_;
  request.attempt = attempt_;
  request.command = command_;
  request.read_path = read_path_;
  env_.send_request(target_, std::move(request));
  arm(config_.attempt_timeout_ms);
}

void SimClient::after_operation() {
  if (draining_) pending_at_drain_ = false;
  think();
}

void SimClient::on_timer(std::uint64_t timer) {
  if (timer != timer_) return;
  switch (state_) {
    case State::kThinking: begin_operation(); break;
    case State::kBackingOff: send_attempt(); break;
    case State::kWaiting: {
      // No answer: the attempt may or may not have taken effect, now or later.
      Operation op;
      op.client = id_;
      op.kind = op_kind(command_.kind);
      op.key = command_.key;
      op.value = command_.value;
      op.expected = command_.expected;
      op.call_time = call_time_;
      op.return_time = kNeverReturned;
      history_.push_back(std::move(op));
      ++unknown_;
      leader_hint_ = core::kNoNode;
      after_operation();
      break;
    }
    case State::kDone: break;
  }
}

void SimClient::on_reply(const ClientReply& reply) {
  if (state_ != State::kWaiting || reply.attempt != attempt_) return;  // late: already timed out
  switch (reply.status) {
    case ReplyStatus::kOk: {
      Operation op;
      op.client = id_;
      op.kind = op_kind(command_.kind);
      op.key = command_.key;
      op.value = command_.value;
      op.expected = command_.expected;
      op.read_value = reply.result.value;
      op.applied = command_.kind == CommandKind::kPut || reply.result.applied;
      op.call_time = call_time_;
      op.return_time = env_.now();
      switch (command_.kind) {
        case CommandKind::kGet:
          if (reply.result.value) {
            last_seen_[command_.key] = *reply.result.value;
          } else {
            last_seen_.erase(command_.key);
          }
          break;
        case CommandKind::kPut: last_seen_[command_.key] = command_.value; break;
        case CommandKind::kCas:
          if (reply.result.applied) last_seen_[command_.key] = command_.value;
          break;
        case CommandKind::kDelete: last_seen_.erase(command_.key); break;
      }
      history_.push_back(op);
      env_.on_acknowledged(id_, reply, op);
      ++completed_;
      // A ReadIndex or lease read may have been served by a follower: it names the
      // leader it asked.
      leader_hint_ = reply.leader_hint != core::kNoNode ? reply.leader_hint : target_;
      if (draining_ && !pending_at_drain_) ++drained_;
      after_operation();
      break;
    }
    case ReplyStatus::kNotLeader:
    case ReplyStatus::kBusy:
    case ReplyStatus::kLost:
      // Certainly no effect: retry after a short backoff.
      if (reply.status == ReplyStatus::kNotLeader) {
        leader_hint_ = reply.leader_hint != target_ ? reply.leader_hint : core::kNoNode;
      }
      state_ = State::kBackingOff;
      arm(rng_.between(1, config_.max_backoff_ms));
      break;
  }
}

std::string SimClient::describe() const {
  std::string out = "client " + std::to_string(id_) + ": ";
  switch (state_) {
    case State::kThinking: return out + "thinking";
    case State::kDone: return out + "done";
    case State::kWaiting: out += "waiting at node " + std::to_string(target_) + " for "; break;
    case State::kBackingOff: out += "backing off before retrying "; break;
  }
  out += std::string(to_string(command_.kind)) + "(" + command_.key;
  if (command_.kind == CommandKind::kGet) out += std::string(" by ") + to_string(read_path_);
  if (command_.kind == CommandKind::kCas) out += ", " + command_.expected + " -> " + command_.value;
  if (command_.kind == CommandKind::kPut) out += ", " + command_.value;
  out += "), attempt " + std::to_string(attempts_) + ", started at " +
         std::to_string(operation_start_) + "ms";
  return out;
}

}  // namespace raft::sim
