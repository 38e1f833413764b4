#include "tests/sim/trace.h"

namespace raft::sim {

void Trace::line(Time now, const std::string& text) const {
  if (out_ == nullptr) return;
  std::fprintf(out_, "[%9.3fs t=%-5llu] %s\n", static_cast<double>(now) / 1000.0,
               static_cast<unsigned long long>(now / kMsPerTick), text.c_str());
}

std::string node_tag(core::NodeId id) {
  return "n" + std::to_string(id);
}

namespace {

std::string u(std::uint64_t v) {
  return std::to_string(v);
}

}  // namespace

std::string describe(const pb::Message& m) {
  std::string out;
  const std::string route = " " + u(m.from()) + "->" + u(m.to()) + " t" + u(m.term());
  switch (m.body_case()) {
    case pb::Message::kVoteRequest: {
      const pb::VoteRequest& r = m.vote_request();
      out = (r.pre_vote() ? "PreVoteRequest" : "VoteRequest") + route + " last=(" +
            u(r.last_log_index()) + ",t" + u(r.last_log_term()) + ")" +
            (r.transfer() ? " transfer" : "");
      break;
    }
    case pb::Message::kVoteResponse: {
      const pb::VoteResponse& r = m.vote_response();
      out = (r.pre_vote() ? "PreVoteResponse" : "VoteResponse") + route +
            (r.granted() ? " granted" : " rejected");
      break;
    }
    case pb::Message::kAppendRequest: {
      const pb::AppendRequest& r = m.append_request();
      out = "AppendRequest" + route + " prev=(" + u(r.prev_log_index()) + ",t" +
            u(r.prev_log_term()) + ")";
      if (r.entries_size() > 0) {
        out += " entries=[" + u(r.entries(0).index()) + ".." +
               u(r.entries(r.entries_size() - 1).index()) + "]";
      }
      out += " commit=" + u(r.commit());
      break;
    }
    case pb::Message::kAppendResponse: {
      const pb::AppendResponse& r = m.append_response();
      out =
          "AppendResponse" + route + (r.success() ? " ok index=" : " reject index=") + u(r.index());
      if (!r.success())
        out += " hint=(" + u(r.conflict_index()) + ",t" + u(r.conflict_term()) + ")";
      out += " last=" + u(r.last_index());
      break;
    }
    case pb::Message::kHeartbeatRequest:
      out = "Heartbeat" + route + " commit=" + u(m.heartbeat_request().commit());
      break;
    case pb::Message::kHeartbeatResponse: out = "HeartbeatResponse" + route; break;
    case pb::Message::kSnapshotRequest:
      out = "SnapshotRequest" + route + " last=(" + u(m.snapshot_request().metadata().index()) +
            ",t" + u(m.snapshot_request().metadata().term()) + ")";
      break;
    case pb::Message::kTimeoutNow: out = "TimeoutNow" + route; break;
    case pb::Message::kReadIndexRequest: out = "ReadIndexRequest" + route; break;
    case pb::Message::kReadIndexResponse: out = "ReadIndexResponse" + route; break;
    case pb::Message::kNotMember:
      out = "NotMember" + route + " configuration=" + u(m.not_member().configuration_index());
      break;
    case pb::Message::kMemberCheck: out = "MemberCheck" + route; break;
    case pb::Message::BODY_NOT_SET: out = "Empty" + route; break;
  }
  return out;
}

}  // namespace raft::sim
