#include "tests/sim/linearizability.h"

#include <algorithm>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace raft::sim {
namespace {

// Register values are interned per key: the search state is one int.
constexpr int kAbsent = -1;        // the key does not exist
constexpr int kNeverWritten = -2;  // a value no operation on this key writes

// SplitMix64 finalizer: a fixed, well-mixed hash for Zobrist keys.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------------
// Per-key model.

// Maps the values written to one key to small integers, and back for messages.
// Values that no operation observes (no get reads them, no CAS expects them) all
// share one id: every operation treats them alike, and merging them lets the memo
// recognize more states as equal. (Explanations replay the actual values.)
class ValueTable {
 public:
  int intern(const std::string& v) {
    auto [it, inserted] = ids_.try_emplace(v, static_cast<int>(names_.size()));
    if (inserted) names_.push_back(v);
    return it->second;
  }
  int intern_unobserved() {
    if (unobserved_ == kNeverWritten) {
      unobserved_ = static_cast<int>(names_.size());
      names_.emplace_back();
    }
    return unobserved_;
  }
  // kNeverWritten if `v` was not interned (as an observed value).
  int find(const std::string& v) const {
    auto it = ids_.find(v);
    return it == ids_.end() ? kNeverWritten : it->second;
  }
  std::string describe(int state) const {
    if (state == kAbsent) return "absent";
    if (state == unobserved_) return "a value no operation reads";
    return quote(names_.at(static_cast<size_t>(state)));
  }

 private:
  std::unordered_map<std::string, int> ids_;
  std::vector<std::string> names_;
  int unobserved_ = kNeverWritten;
};

// An operation of one key, values interned. `slot` indexes the bitset of linearized
// returned operations, or that of linearized unknown ones; the two are kept apart
// because the memo treats them differently (see VisitedSet). Unknown operations with
// the same `cls` have the same effect in every state, so they are interchangeable.
struct KeyOp {
  OpKind kind = OpKind::kGet;
  bool returned = true;
  bool applied = false;
  int value = kNeverWritten;
  int expected = kNeverWritten;
  int read = kAbsent;
  uint64_t call = 0;
  uint64_t ret = kNeverReturned;
  size_t source = 0;  // index into the caller's history
  size_t slot = 0;
  size_t cls = 0;  // unknown operations only
};

// The register transition: the state after `op` takes effect in state `s`, or nullopt
// if `op` returned a result that `s` contradicts. Unknown-outcome operations are
// never contradicted; they just do what they would do.
std::optional<int> apply(const KeyOp& op, int s) {
  switch (op.kind) {
    case OpKind::kPut: return op.value;
    case OpKind::kGet:
      if (op.returned && op.read != s) return std::nullopt;
      return s;
    case OpKind::kCas: {
      const bool matches = s == op.expected;  // never true for kAbsent
      if (!op.returned) return matches ? op.value : s;
      if (op.applied != matches) return std::nullopt;
      return matches ? op.value : s;
    }
    case OpKind::kDelete:
      if (op.returned && op.applied != (s != kAbsent)) return std::nullopt;
      return kAbsent;
    case OpKind::kCreate: {
      const bool absent = s == kAbsent;
      if (op.returned && op.applied != absent) return std::nullopt;
      return absent ? op.value : s;
    }
  }
  return std::nullopt;
}

// Whether `op` leaves the value unchanged in every state that accepts it. (Not the
// same as "leaves it unchanged here": a put of the current value is no read.)
bool read_only(const KeyOp& op) {
  if (!op.returned) return false;
  switch (op.kind) {
    case OpKind::kGet: return true;
    case OpKind::kCas: return !op.applied || op.value == op.expected;
    case OpKind::kDelete:
    case OpKind::kCreate: return !op.applied;
    case OpKind::kPut: return false;
  }
  return false;
}

// Why apply(op, s) failed, in words, where `now` describes s.
std::string contradiction(const KeyOp& op, const std::string& now, const ValueTable& values) {
  switch (op.kind) {
    case OpKind::kGet: return "it read " + values.describe(op.read) + " but the value is " + now;
    case OpKind::kCas:
      return op.applied
                 ? "its compare succeeded but the value is " + now
                 : "its compare failed but the value is " + now + ", equal to the expected value";
    case OpKind::kDelete:
      return op.applied ? "it found the key but the key is absent"
                        : "it found nothing but the value is " + now;
    case OpKind::kCreate:
      return op.applied ? "it created the key but the value is " + now
                        : "it found the key existing but the key is absent";
    case OpKind::kPut: break;
  }
  return "it contradicts the value " + now;
}

struct KeyHistory {
  std::vector<KeyOp> ops;
  ValueTable values;
  size_t returned = 0;  // number of returned ops (slots 0..returned-1)
  size_t unknown = 0;   // number of unknown-outcome ops kept
  size_t classes = 0;   // number of distinct unknown-op effects
  // Set if some observation is impossible whatever the order (a read of a value
  // nobody writes): the index of that operation in the caller's history.
  std::optional<size_t> impossible;
};

bool writes_value(OpKind kind) {
  return kind == OpKind::kPut || kind == OpKind::kCas || kind == OpKind::kCreate;
}

// Interns values and drops operations that cannot matter: unknown gets (no effect,
// no checked result) and unknown CASes whose expected value is never written (they
// can never apply).
KeyHistory build_key_history(const std::vector<Operation>& history,
                             const std::vector<size_t>& indices) {
  KeyHistory h;
  std::unordered_map<std::string, bool> observed;
  for (size_t i : indices) {
    const Operation& o = history[i];
    if (o.kind == OpKind::kGet && o.has_returned() && o.read_value) {
      observed[*o.read_value] = true;
    }
    if (o.kind == OpKind::kCas) observed[o.expected] = true;
  }
  for (size_t i : indices) {
    const Operation& o = history[i];
    if (!writes_value(o.kind)) continue;
    if (observed.contains(o.value)) {
      h.values.intern(o.value);
    } else {
      h.values.intern_unobserved();
    }
  }

  std::map<std::tuple<OpKind, int, int>, size_t> classes;
  for (size_t i : indices) {
    const Operation& o = history[i];
    KeyOp op;
    op.kind = o.kind;
    op.returned = o.has_returned();
    op.applied = o.applied;
    op.call = o.call_time;
    op.ret = o.return_time;
    op.source = i;
    if (writes_value(o.kind)) {
      op.value = observed.contains(o.value) ? h.values.find(o.value) : h.values.intern_unobserved();
    }
    if (o.kind == OpKind::kCas) op.expected = h.values.find(o.expected);
    if (o.kind == OpKind::kGet && o.read_value) op.read = h.values.find(*o.read_value);

    if (!op.returned && o.kind == OpKind::kGet) continue;
    if (!op.returned && o.kind == OpKind::kCas && op.expected == kNeverWritten) continue;
    const bool impossible_read = op.returned && o.kind == OpKind::kGet && op.read == kNeverWritten;
    const bool impossible_cas =
        op.returned && o.kind == OpKind::kCas && op.applied && op.expected == kNeverWritten;
    if ((impossible_read || impossible_cas) && !h.impossible) h.impossible = i;

    if (op.returned) {
      op.slot = h.returned++;
    } else {
      op.slot = h.unknown++;
      const auto signature = std::make_tuple(op.kind, op.value, op.expected);
      op.cls = classes.try_emplace(signature, classes.size()).first->second;
    }
    h.ops.push_back(op);
  }
  h.classes = classes.size();
  return h;
}

// ---------------------------------------------------------------------------------
// Search structures.

// The events of some operations of one key in time order (calls before returns at
// equal times, so touching intervals are concurrent), as a doubly linked list.
// Linearizing an operation unlinks its events and backtracking relinks them, both
// O(1): an unlinked node keeps its own links, so relinking in exact reverse (LIFO)
// order restores the list ("dancing links"). The search keeps two lists: calls and
// returns of the returned operations, and calls of the unknown ones (which never
// return), so that scans over the former do not wade through the latter.
class EventList {
 public:
  EventList(const std::vector<KeyOp>& ops, bool returned)
      : call_node_(ops.size(), -1), return_node_(ops.size(), -1) {
    struct Event {
      uint64_t time;
      bool is_return;
      size_t op;
    };
    std::vector<Event> events;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].returned != returned) continue;
      events.push_back({ops[i].call, false, i});
      if (returned) events.push_back({ops[i].ret, true, i});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      return std::tie(a.time, a.is_return, a.op) < std::tie(b.time, b.is_return, b.op);
    });
    // Node 0 is the head sentinel, node 1 the tail sentinel. The tail counts as a
    // return event so that every scan stops there.
    const size_t n = events.size() + 2;
    next_.resize(n);
    prev_.resize(n);
    op_.assign(n, 0);
    is_return_.assign(n, false);
    is_return_[kTail] = true;
    int last = kHead;
    for (size_t e = 0; e < events.size(); ++e) {
      const int node = static_cast<int>(e) + 2;
      op_[node] = events[e].op;
      is_return_[node] = events[e].is_return;
      (events[e].is_return ? return_node_ : call_node_)[events[e].op] = node;
      next_[last] = node;
      prev_[node] = last;
      last = node;
    }
    next_[last] = kTail;
    prev_[kTail] = last;
  }

  int first() const { return next_[kHead]; }
  int next(int node) const { return next_[node]; }
  bool is_return(int node) const { return is_return_[node]; }
  size_t op(int node) const { return op_[node]; }

  void lift(size_t op) {
    unlink(call_node_[op]);
    if (return_node_[op] >= 0) unlink(return_node_[op]);
  }
  void unlift(size_t op) {
    if (return_node_[op] >= 0) relink(return_node_[op]);
    relink(call_node_[op]);
  }

 private:
  static constexpr int kHead = 0;
  static constexpr int kTail = 1;

  void unlink(int node) {
    next_[prev_[node]] = next_[node];
    prev_[next_[node]] = prev_[node];
  }
  void relink(int node) {
    next_[prev_[node]] = node;
    prev_[next_[node]] = node;
  }

  std::vector<int> next_, prev_;
  std::vector<size_t> op_;
  std::vector<bool> is_return_;
  std::vector<int> call_node_, return_node_;
};

// Memo of expanded search nodes. A node is (R, s, U): the set R of linearized
// returned ops, a word s standing for the register value (the search also folds in
// what restricts the next step, see KeySearch), and the set U of linearized unknown
// ops. Node (R, s, U1) dominates (R, s, U2) when U1 is a subset of U2: unknown ops
// never return, so they constrain nothing while pending, and every way to finish
// from the second also finishes from the first. Once a node has been expanded, any
// node it dominates is pruned. With no unknown ops this is the classic exact
// (set, state) memo. Per (R, s) the memo keeps the minimal U sets seen (an
// antichain): a new set evicts its supersets.
class VisitedSet {
 public:
  VisitedSet(size_t returned_words, size_t unknown_words)
      : returned_words_(returned_words), unknown_words_(unknown_words), slots_(1024, 0) {}

  // Records the node and returns true unless an expanded node dominates it.
  bool record(uint64_t hash, uint64_t state, std::span<const uint64_t> returned,
              std::span<const uint64_t> unknown) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    for (; slots_[i] != 0; i = (i + 1) & mask) {
      Group& g = groups_[slots_[i] - 1];
      if (g.hash == hash && g.state == state &&
          std::equal(returned.begin(), returned.end(), returned_of(slots_[i] - 1))) {
        return add_unknown_set(g, unknown);
      }
    }
    slots_[i] = static_cast<uint32_t>(groups_.size() + 1);
    groups_.push_back({hash, state, 1, {unknown.begin(), unknown.end()}});
    returned_words_store_.insert(returned_words_store_.end(), returned.begin(), returned.end());
    unknown_bytes_ += unknown.size() * sizeof(uint64_t);
    if (2 * groups_.size() > slots_.size()) grow();
    return true;
  }

  size_t bytes() const {
    return returned_words_store_.capacity() * sizeof(uint64_t) +
           groups_.capacity() * sizeof(Group) + slots_.capacity() * sizeof(uint32_t) +
           unknown_bytes_;
  }

 private:
  // All nodes seen with one (R, s).
  struct Group {
    uint64_t hash;
    uint64_t state;
    size_t members;                 // number of U sets
    std::vector<uint64_t> unknown;  // the U sets, unknown_words_ each
  };

  const uint64_t* returned_of(size_t g) const {
    return returned_words_store_.data() + g * returned_words_;
  }
  const uint64_t* member(const Group& g, size_t m) const {
    return g.unknown.data() + m * unknown_words_;
  }
  // Whether set a is a subset of set b (unknown_words_ words each).
  bool subset(const uint64_t* a, const uint64_t* b) const {
    for (size_t w = 0; w < unknown_words_; ++w) {
      if ((a[w] & ~b[w]) != 0) return false;
    }
    return true;
  }

  bool add_unknown_set(Group& g, std::span<const uint64_t> unknown) {
    for (size_t m = 0; m < g.members; ++m) {
      if (subset(member(g, m), unknown.data())) return false;
    }
    // Evict the supersets of the new set: it dominates whatever they dominate.
    size_t kept = 0;
    uint64_t* data = g.unknown.data();
    for (size_t m = 0; m < g.members; ++m) {
      if (subset(unknown.data(), member(g, m))) continue;
      if (kept != m) {  // kept < m: the two ranges do not overlap
        std::copy_n(data + m * unknown_words_, unknown_words_, data + kept * unknown_words_);
      }
      ++kept;
    }
    g.members = kept + 1;
    g.unknown.resize(kept * unknown_words_);
    g.unknown.insert(g.unknown.end(), unknown.begin(), unknown.end());
    unknown_bytes_ += unknown.size() * sizeof(uint64_t);
    return true;
  }

  void grow() {
    std::vector<uint32_t> bigger(slots_.size() * 2, 0);
    const size_t mask = bigger.size() - 1;
    for (size_t g = 0; g < groups_.size(); ++g) {
      size_t i = groups_[g].hash & mask;
      while (bigger[i] != 0) i = (i + 1) & mask;
      bigger[i] = static_cast<uint32_t>(g + 1);
    }
    slots_ = std::move(bigger);
  }

  size_t returned_words_;
  size_t unknown_words_;
  std::vector<uint64_t> returned_words_store_;  // R of group g at g * returned_words_
  std::vector<Group> groups_;
  std::vector<uint32_t> slots_;  // 0 = empty, else group index + 1; size a power of 2
  size_t unknown_bytes_ = 0;     // U sets ever stored (an upper bound on live ones)
};

// A set of linearized ops of one class, with an incrementally maintained Zobrist hash
// (XOR of a fixed random word per member), so hashing a node costs O(1).
class OpSet {
 public:
  explicit OpSet(size_t size) : words_((size + 63) / 64, 0) {}
  void toggle(size_t slot) {
    words_[slot / 64] ^= uint64_t{1} << (slot % 64);
    hash_ ^= mix64(slot);
  }
  uint64_t hash() const { return hash_; }
  std::span<const uint64_t> words() const { return words_; }
  size_t word_count() const { return words_.size(); }

 private:
  std::vector<uint64_t> words_;
  uint64_t hash_ = 0;
};

// The deepest point where the search got stuck: after linearizing `prefix` (leaving
// `state`), the return event of `blocking` came before any pending operation could
// be placed. `candidates` are the operations that were called by then (blocking
// included), i.e. everything that could have gone next.
struct DeadEnd {
  std::vector<size_t> prefix;
  int state = kAbsent;
  size_t blocking = 0;
  std::vector<size_t> candidates;
};

enum class Verdict { kLinearizable, kViolation, kGaveUp };

struct KeyVerdict {
  Verdict verdict = Verdict::kLinearizable;
  uint64_t steps = 0;
  DeadEnd deepest;             // kViolation only
  std::string give_up_reason;  // kGaveUp only
};

// Depth-first just-in-time linearization of one key. A node is a linearized prefix;
// its candidates are the unlinearized operations called before the earliest return
// among the unlinearized returned operations. Children are tried in two passes,
// returned operations first and unknown ones second, so that valid histories are
// found without gratuitously placing timed-out operations.
//
// The search only visits linearizations of a canonical form, each rule chosen so
// that any valid linearization can be rewritten into one obeying it:
//  - Forced reads: if a read-only returned candidate is accepted in the current
//    state, it goes next (moving it earlier changes no state and breaks no
//    real-time order).
//  - Useful unknowns: an unknown operation is never a no-op, and the operation right
//    after it would not be accepted with the same result without it (otherwise
//    dropping it, always allowed, changes nothing). So an unknown operation is only
//    tried where it provides what some candidate lacks (Needs).
//  - Symmetry: among pending unknown operations with identical effects, only the
//    earliest is tried.
// Without these rules every dead end would try every pending timed-out operation at
// every level, and a failing search would enumerate subsets of them.
class KeySearch {
 public:
  KeySearch(const KeyHistory& h, const CheckOptions& options)
      : h_(h),
        options_(options),
        returned_events_(h.ops, true),
        unknown_calls_(h.ops, false),
        returned_set_(h.returned),
        unknown_set_(h.unknown),
        visited_(returned_set_.word_count(), unknown_set_.word_count()),
        class_stamp_(h.classes, 0) {}

  KeyVerdict run() {
    KeyVerdict result;
    remaining_ = h_.returned;
    while (remaining_ > 0) {
      const Outcome outcome = expand_next_child(result.deepest);
      if (outcome == Outcome::kGaveUp) {
        result.verdict = Verdict::kGaveUp;
        result.give_up_reason = give_up_reason_;
        break;
      }
      if (outcome == Outcome::kExhausted && !backtrack()) {
        result.verdict = Verdict::kViolation;
        break;
      }
    }
    result.steps = steps_;
    return result;
  }

 private:
  // How far the expansion of the current node has got.
  struct Cursor {
    int node = -1;            // pass 0: next returned event; -1 while nothing was tried
    int pass = 0;             // 0: returned operations, 1: unknown-outcome operations
    size_t next_unknown = 0;  // pass 1: index into the node's unknown plan
    bool forced = false;      // the node has a forced move, its only child
  };
  struct Frame {
    size_t op;
    int state_before;
    Cursor parent;  // where to resume the parent's expansion
  };
  enum class Outcome { kDescended, kExhausted, kGaveUp };

  // Descends into the current node's next child not yet tried, if any.
  Outcome expand_next_child(DeadEnd& deepest) {
    if (cursor_.node < 0) {
      cursor_.node = returned_events_.first();
      if (const std::optional<size_t> op = forced_move()) {
        cursor_.forced = true;
        return try_child(*op);
      }
    }
    if (cursor_.forced) return Outcome::kExhausted;
    if (cursor_.pass == 0) {
      while (!returned_events_.is_return(cursor_.node)) {
        const size_t op = returned_events_.op(cursor_.node);
        cursor_.node = returned_events_.next(cursor_.node);
        const Outcome outcome = try_child(op);
        if (outcome != Outcome::kExhausted) return outcome;
      }
      // cursor_.node now rests on the first return event: the deadline.
      cursor_.pass = 1;
      plan_unknown_children(plan_at_depth());
    }
    while (cursor_.next_unknown < plan_at_depth().size()) {
      const Outcome outcome = try_child(plan_at_depth()[cursor_.next_unknown++]);
      if (outcome != Outcome::kExhausted) return outcome;
    }
    note_dead_end(deepest);
    return Outcome::kExhausted;
  }

  // The unknown candidates: those called no later than the first return event.
  template <typename F>
  void for_each_unknown_candidate(F&& f) const {
    const uint64_t deadline = h_.ops[returned_events_.op(cursor_.node)].ret;
    for (int n = unknown_calls_.first();
         !unknown_calls_.is_return(n) && h_.ops[unknown_calls_.op(n)].call <= deadline;
         n = unknown_calls_.next(n)) {
      f(unknown_calls_.op(n));
    }
  }
  template <typename F>
  void for_each_returned_candidate(F&& f) const {
    for (int n = returned_events_.first(); !returned_events_.is_return(n);
         n = returned_events_.next(n)) {
      f(returned_events_.op(n));
    }
  }

  // What the candidates lack, and so what an unknown operation placed now must
  // provide to be of use to the next step. Only candidates rejected in the current
  // state count: pass 1 only runs where there is no forced move, so no accepted
  // returned candidate is read-only, and each of those would either be rejected
  // after the unknown operation or end in the same state (a put, a delete that found
  // the key), making the unknown operation moot.
  struct Needs {
    std::vector<int> values;  // a candidate wants exactly one of these values
    bool any_change = false;  // a failed CAS whose expected value is the current one
    bool present = false;     // a candidate wants the key to exist

    // Whether leaving the state `next` (never the current state) could help.
    bool met_by(int next) const {
      return any_change || (present && next != kAbsent) ||
             std::find(values.begin(), values.end(), next) != values.end();
    }
  };

  void add_need(const KeyOp& op, Needs& needs) const {
    if (op.returned ? apply(op, state_).has_value() : !wants_change(op)) return;
    switch (op.kind) {
      case OpKind::kGet: needs.values.push_back(op.read); break;
      case OpKind::kCas:
        if (op.returned && !op.applied) {
          needs.any_change = true;
        } else {
          needs.values.push_back(op.expected);
        }
        break;
      case OpKind::kDelete:
        if (op.applied) {
          needs.present = true;
        } else {
          needs.values.push_back(kAbsent);
        }
        break;
      case OpKind::kCreate:
        if (op.returned && !op.applied) {
          needs.present = true;
        } else {
          needs.values.push_back(kAbsent);
        }
        break;
      case OpKind::kPut: break;
    }
  }

  // An unknown CAS or create that would not apply now, but might after a change.
  bool wants_change(const KeyOp& op) const {
    if (op.kind == OpKind::kCas) return state_ != op.expected;
    if (op.kind == OpKind::kCreate) return state_ != kAbsent;
    return false;
  }

  // The unknown children worth trying at the current node (see the class comment).
  void plan_unknown_children(std::vector<size_t>& plan) {
    plan.clear();
    needs_.values.clear();
    needs_.any_change = needs_.present = false;
    for_each_returned_candidate([&](size_t op) { add_need(h_.ops[op], needs_); });
    for_each_unknown_candidate([&](size_t op) { add_need(h_.ops[op], needs_); });
    ++epoch_;
    for_each_unknown_candidate([&](size_t op) {
      const KeyOp& o = h_.ops[op];
      if (class_stamp_[o.cls] == epoch_) return;  // an identical one comes earlier
      class_stamp_[o.cls] = epoch_;
      const int next = *apply(o, state_);
      if (next != state_ && needs_.met_by(next)) plan.push_back(op);
    });
  }

  std::vector<size_t>& plan_at_depth() {
    if (plans_.size() <= stack_.size()) plans_.resize(stack_.size() + 1);
    return plans_[stack_.size()];
  }

  // A read-only returned candidate accepted in the current state, if any. Taking it
  // right away loses nothing: it is a candidate, so nothing unlinearized must precede
  // it, and wherever a linearization places it instead, removing it from there
  // changes no state. It is then the node's only child, which settles reads without
  // branching on where to put them.
  std::optional<size_t> forced_move() const {
    std::optional<size_t> forced;
    for_each_returned_candidate([&](size_t op) {
      const KeyOp& o = h_.ops[op];
      if (!forced && read_only(o) && apply(o, state_).has_value() && canonical(o, state_)) {
        forced = op;
      }
    });
    return forced;
  }

  // Linearizes `op` next if the model, the canonical form and the memo allow it:
  // kDescended if so, kExhausted if not.
  Outcome try_child(size_t op) {
    if (++steps_ > options_.max_steps_per_key) {
      give_up_reason_ = "the step budget of " + std::to_string(options_.max_steps_per_key) +
                        " search steps ran out";
      return Outcome::kGaveUp;
    }
    const KeyOp& o = h_.ops[op];
    const std::optional<int> next = apply(o, state_);
    if (!next || !canonical(o, *next) || !visit(op, *next)) return Outcome::kExhausted;
    if (visited_.bytes() > options_.max_memo_bytes) {
      give_up_reason_ = "the memo exceeded " + std::to_string(options_.max_memo_bytes) + " bytes";
      return Outcome::kGaveUp;
    }
    stack_.push_back({op, state_, cursor_});
    events_of(op).lift(op);
    if (o.returned) --remaining_;
    state_ = *next;
    cursor_ = Cursor{};
    return Outcome::kDescended;
  }

  // Undoes the last linearization step; false if there is none.
  bool backtrack() {
    if (stack_.empty()) return false;
    const Frame f = stack_.back();
    stack_.pop_back();
    unmark(f.op);
    events_of(f.op).unlift(f.op);
    if (h_.ops[f.op].returned) ++remaining_;
    state_ = f.state_before;
    cursor_ = f.parent;
    return true;
  }

  // Whether stepping to `next` by `op` keeps the linearization canonical ("useful
  // unknowns" in the class comment).
  bool canonical(const KeyOp& op, int next) const {
    if (!op.returned && next == state_) return false;  // a no-op unknown operation
    if (stack_.empty() || h_.ops[stack_.back().op].returned) return true;
    // The previous operation had an unknown outcome: was it of any use to `op`?
    const int before_it = stack_.back().state_before;
    return apply(op, before_it) != next;
  }

  EventList& events_of(size_t op) {
    return h_.ops[op].returned ? returned_events_ : unknown_calls_;
  }
  OpSet& set_of(size_t op) { return h_.ops[op].returned ? returned_set_ : unknown_set_; }
  void unmark(size_t op) { set_of(op).toggle(h_.ops[op].slot); }

  // Marks `op` linearized, stepping to `next`; keeps the mark and returns true iff
  // the resulting node is not dominated by an expanded one. After an unknown
  // operation, what may follow depends on the state before it (canonical), so the
  // memo must tell such nodes apart by that state too.
  bool visit(size_t op, int next) {
    set_of(op).toggle(h_.ops[op].slot);
    constexpr int kUnrestricted = kNeverWritten;  // never a register state
    const int restriction = h_.ops[op].returned ? kUnrestricted : state_;
    const uint64_t node_state =
        (uint64_t{static_cast<uint32_t>(next)} << 32) | static_cast<uint32_t>(restriction);
    const uint64_t hash = returned_set_.hash() ^ mix64(~node_state);
    if (visited_.record(hash, node_state, returned_set_.words(), unknown_set_.words())) {
      return true;
    }
    unmark(op);
    return false;
  }

  // Called with cursor_.node on the first return event, whose operation could not
  // be placed in time.
  void note_dead_end(DeadEnd& deepest) {
    if (have_dead_end_ && stack_.size() <= deepest.prefix.size()) return;
    have_dead_end_ = true;
    deepest.prefix.clear();
    for (const Frame& f : stack_) deepest.prefix.push_back(f.op);
    deepest.state = state_;
    deepest.blocking = returned_events_.op(cursor_.node);
    deepest.candidates.clear();
    for_each_returned_candidate([&](size_t op) { deepest.candidates.push_back(op); });
    for_each_unknown_candidate([&](size_t op) { deepest.candidates.push_back(op); });
  }

  const KeyHistory& h_;
  const CheckOptions& options_;
  EventList returned_events_;
  EventList unknown_calls_;
  OpSet returned_set_;
  OpSet unknown_set_;
  VisitedSet visited_;
  // Search position. Invariant: the event lists hold exactly the events of the
  // operations not on `stack_`, and `state_` is the value after `stack_`.
  std::vector<Frame> stack_;
  int state_ = kAbsent;
  size_t remaining_ = 0;  // returned operations not yet linearized
  Cursor cursor_;
  // Unknown children planned for each node on the current path, by depth.
  std::vector<std::vector<size_t>> plans_;
  // Scratch for plan_unknown_children.
  Needs needs_;
  std::vector<uint64_t> class_stamp_;
  uint64_t epoch_ = 0;
  uint64_t steps_ = 0;
  std::string give_up_reason_;
  bool have_dead_end_ = false;
};

// ---------------------------------------------------------------------------------
// Explanations.

std::string key_header(const std::string& key, const KeyHistory& h) {
  return "key " + quote(key) + " (" + std::to_string(h.ops.size()) + " operations, " +
         std::to_string(h.unknown) + " with unknown outcome)";
}

// The actual value after `prefix` takes effect in order (the interned state may
// stand for several values, see ValueTable).
std::string value_after(const std::vector<size_t>& prefix, const KeyHistory& h,
                        const std::vector<Operation>& history) {
  std::optional<std::string> value;
  for (size_t i : prefix) {
    const Operation& op = history[h.ops[i].source];
    switch (op.kind) {
      case OpKind::kPut: value = op.value; break;
      case OpKind::kCas:
        if (value == op.expected) value = op.value;
        break;
      case OpKind::kDelete: value.reset(); break;
      case OpKind::kCreate:
        if (!value) value = op.value;
        break;
      case OpKind::kGet: break;
    }
  }
  return value ? quote(*value) : "absent";
}

std::string explain_violation(const std::string& key, const KeyHistory& h, const DeadEnd& d,
                              const std::vector<Operation>& history, const CheckOptions& options) {
  std::ostringstream out;
  out << key_header(key, h) << " is not linearizable.\n";
  const size_t shown = std::min(d.prefix.size(), options.max_explained_ops);
  out << "Longest linearizable prefix found: " << d.prefix.size() << " operations";
  if (shown < d.prefix.size()) out << ", the last " << shown << " of them";
  out << (d.prefix.empty() ? "." : ":") << "\n";
  for (size_t i = d.prefix.size() - shown; i < d.prefix.size(); ++i) {
    out << "  " << (i + 1) << ". " << to_string(history[h.ops[d.prefix[i]].source]) << "\n";
  }
  const std::string now = value_after(d.prefix, h, history);
  out << "Value after it: " << now << ".\n";

  const KeyOp& blocking = h.ops[d.blocking];
  out << "This operation must take effect before it returned, but cannot be placed:\n  "
      << to_string(history[blocking.source]) << "\n  because ";
  if (apply(blocking, d.state)) {
    out << "every continuation after placing it here fails.\n";
  } else {
    out << contradiction(blocking, now, h.values) << ".\n";
  }

  std::vector<size_t> others;
  for (size_t c : d.candidates) {
    if (c != d.blocking) others.push_back(c);
  }
  if (others.empty()) return out.str();
  out << "Other operations that could have gone next:\n";
  for (size_t i = 0; i < others.size() && i < options.max_explained_ops; ++i) {
    const KeyOp& op = h.ops[others[i]];
    out << "  " << to_string(history[op.source]) << ": ";
    if (apply(op, d.state)) {
      out << "consistent here, but no continuation from there succeeds\n";
    } else {
      out << contradiction(op, now, h.values) << "\n";
    }
  }
  if (others.size() > options.max_explained_ops) {
    out << "  ... and " << others.size() - options.max_explained_ops << " more\n";
  }
  return out.str();
}

std::string explain_impossible(const std::string& key, const KeyHistory& h, const Operation& op) {
  const std::string what =
      op.kind == OpKind::kGet ? "read a value" : "compared successfully against a value";
  return key_header(key, h) + " is not linearizable.\nThis operation " + what +
         " that no operation on the key ever writes:\n  " + to_string(op) + "\n";
}

void validate(const std::vector<Operation>& history) {
  for (const Operation& op : history) {
    if (op.has_returned() && op.return_time < op.call_time) {
      throw std::invalid_argument("operation returned before it was called: " + to_string(op));
    }
  }
}

Operation make_op(int client, OpKind kind, std::string key, uint64_t call, uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = kind;
  op.key = std::move(key);
  op.call_time = call;
  op.return_time = ret;
  return op;
}

}  // namespace

CheckResult check_history(const std::vector<Operation>& history, const CheckOptions& options) {
  validate(history);
  std::map<std::string, std::vector<size_t>> by_key;  // ordered: deterministic reports
  for (size_t i = 0; i < history.size(); ++i) by_key[history[i].key].push_back(i);

  CheckResult result;
  std::optional<CheckResult> gave_up;  // first key given up on, if no violation
  for (const auto& [key, indices] : by_key) {
    const KeyHistory h = build_key_history(history, indices);
    if (h.impossible) {
      result.key = key;
      result.explanation = explain_impossible(key, h, history[*h.impossible]);
      return result;
    }
    const KeyVerdict v = KeySearch(h, options).run();
    result.steps += v.steps;
    if (v.verdict == Verdict::kViolation) {
      result.key = key;
      result.explanation = explain_violation(key, h, v.deepest, history, options);
      return result;
    }
    if (v.verdict == Verdict::kGaveUp && !gave_up) {
      gave_up = CheckResult{
          .linearizable = false,
          .gave_up = true,
          .key = key,
          .explanation = key_header(key, h) + ": gave up, " + v.give_up_reason +
                         "; neither a linearization nor a violation was found.",
      };
    }
  }
  if (gave_up) {
    gave_up->steps = result.steps;
    return *gave_up;
  }
  result.linearizable = true;
  result.explanation = "linearizable: " + std::to_string(history.size()) + " operations on " +
                       std::to_string(by_key.size()) + " keys";
  return result;
}

Operation make_put(int client, std::string key, std::string value, uint64_t call, uint64_t ret) {
  Operation op = make_op(client, OpKind::kPut, std::move(key), call, ret);
  op.value = std::move(value);
  return op;
}

Operation make_get(int client, std::string key, std::optional<std::string> observed, uint64_t call,
                   uint64_t ret) {
  Operation op = make_op(client, OpKind::kGet, std::move(key), call, ret);
  op.read_value = std::move(observed);
  return op;
}

Operation make_cas(int client, std::string key, std::string expected, std::string value,
                   bool applied, uint64_t call, uint64_t ret) {
  Operation op = make_op(client, OpKind::kCas, std::move(key), call, ret);
  op.expected = std::move(expected);
  op.value = std::move(value);
  op.applied = applied;
  return op;
}

Operation make_delete(int client, std::string key, bool found, uint64_t call, uint64_t ret) {
  Operation op = make_op(client, OpKind::kDelete, std::move(key), call, ret);
  op.applied = found;
  return op;
}

Operation make_create(int client, std::string key, std::string value, bool created, uint64_t call,
                      uint64_t ret) {
  Operation op = make_op(client, OpKind::kCreate, std::move(key), call, ret);
  op.value = std::move(value);
  op.applied = created;
  return op;
}

std::string to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kPut: return "put";
    case OpKind::kGet: return "get";
    case OpKind::kCas: return "cas";
    case OpKind::kDelete: return "delete";
    case OpKind::kCreate: return "create";
  }
  return "?";
}

std::string to_string(const Operation& op) {
  std::ostringstream out;
  out << "client " << op.client << " " << to_string(op.kind) << "(" << quote(op.key);
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kCreate: out << ", " << quote(op.value); break;
    case OpKind::kCas: out << ", " << quote(op.expected) << " -> " << quote(op.value); break;
    case OpKind::kGet:
    case OpKind::kDelete: break;
  }
  out << ") -> ";
  if (!op.has_returned()) {
    out << "unknown, t=[" << op.call_time << ", inf)";
    return out.str();
  }
  switch (op.kind) {
    case OpKind::kPut: out << "ok"; break;
    case OpKind::kGet: out << (op.read_value ? quote(*op.read_value) : "not found"); break;
    case OpKind::kCas: out << (op.applied ? "applied" : "compare failed"); break;
    case OpKind::kDelete: out << (op.applied ? "found" : "not found"); break;
    case OpKind::kCreate: out << (op.applied ? "created" : "already exists"); break;
  }
  out << ", t=[" << op.call_time << ", " << op.return_time << "]";
  return out.str();
}

}  // namespace raft::sim
