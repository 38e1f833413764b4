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

// Maps the distinct values written to one key to small integers, and back for
// messages.
class ValueTable {
 public:
  int intern(const std::string& v) {
    auto [it, inserted] = ids_.try_emplace(v, static_cast<int>(names_.size()));
    if (inserted) names_.push_back(v);
    return it->second;
  }
  // kNeverWritten if no operation writes `v`.
  int find(const std::string& v) const {
    auto it = ids_.find(v);
    return it == ids_.end() ? kNeverWritten : it->second;
  }
  std::string describe(int state) const {
    if (state == kAbsent) return "absent";
    return quote(names_.at(static_cast<size_t>(state)));
  }

 private:
  std::unordered_map<std::string, int> ids_;
  std::vector<std::string> names_;
};

// An operation of one key, values interned. `slot` indexes the bitset of linearized
// returned operations, or that of linearized unknown ones; the two are kept apart
// because the memo treats them differently (see VisitedSet).
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
};

// The register transition: the state after `op` takes effect in state `s`, or nullopt
// if `op` returned a result that `s` contradicts. Unknown-outcome operations are
// never contradicted; they just do what they would do.
std::optional<int> apply(const KeyOp& op, int s) {
  switch (op.kind) {
    case OpKind::kPut:
      return op.value;
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

// Why apply(op, s) failed, in words.
std::string contradiction(const KeyOp& op, int s, const ValueTable& values) {
  const std::string now = values.describe(s);
  switch (op.kind) {
    case OpKind::kGet:
      return "it read " + values.describe(op.read) + " but the value is " + now;
    case OpKind::kCas:
      return op.applied ? "its compare succeeded but the value is " + now
                        : "its compare failed but the value is " + now +
                              ", equal to the expected value";
    case OpKind::kDelete:
      return op.applied ? "it found the key but the key is absent"
                        : "it found nothing but the value is " + now;
    case OpKind::kCreate:
      return op.applied ? "it created the key but the value is " + now
                        : "it found the key existing but the key is absent";
    case OpKind::kPut:
      break;
  }
  return "it contradicts the value " + now;
}

struct KeyHistory {
  std::vector<KeyOp> ops;
  ValueTable values;
  size_t returned = 0;  // number of returned ops (slots 0..returned-1)
  size_t unknown = 0;   // number of unknown-outcome ops kept
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
  for (size_t i : indices) {
    if (writes_value(history[i].kind)) h.values.intern(history[i].value);
  }
  for (size_t i : indices) {
    const Operation& o = history[i];
    KeyOp op;
    op.kind = o.kind;
    op.returned = o.has_returned();
    op.applied = o.applied;
    op.call = o.call_time;
    op.ret = o.return_time;
    op.source = i;
    if (writes_value(o.kind)) op.value = h.values.find(o.value);
    if (o.kind == OpKind::kCas) op.expected = h.values.find(o.expected);
    if (o.kind == OpKind::kGet && o.read_value) op.read = h.values.find(*o.read_value);

    if (!op.returned && o.kind == OpKind::kGet) continue;
    if (!op.returned && o.kind == OpKind::kCas && op.expected == kNeverWritten) continue;
    const bool impossible_read = op.returned && o.kind == OpKind::kGet &&
                                 op.read == kNeverWritten;
    const bool impossible_cas = op.returned && o.kind == OpKind::kCas && op.applied &&
                                op.expected == kNeverWritten;
    if ((impossible_read || impossible_cas) && !h.impossible) h.impossible = i;

    op.slot = op.returned ? h.returned++ : h.unknown++;
    h.ops.push_back(op);
  }
  return h;
}

// ---------------------------------------------------------------------------------
// Search structures.

// Call and return events of one key in time order (calls before returns at equal
// times, so touching intervals are concurrent), as a doubly linked list. Linearizing
// an operation unlinks its events and backtracking relinks them, both O(1): an
// unlinked node keeps its own links, so relinking in exact reverse (LIFO) order
// restores the list ("dancing links"). Unknown operations have no return event.
class EventList {
 public:
  explicit EventList(const std::vector<KeyOp>& ops)
      : call_node_(ops.size()), return_node_(ops.size(), -1) {
    struct Event {
      uint64_t time;
      bool is_return;
      size_t op;
    };
    std::vector<Event> events;
    for (size_t i = 0; i < ops.size(); ++i) {
      events.push_back({ops[i].call, false, i});
      if (ops[i].returned) events.push_back({ops[i].ret, true, i});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      return std::tie(a.time, a.is_return, a.op) < std::tie(b.time, b.is_return, b.op);
    });
    // Node 0 is the head sentinel, node 1 the tail sentinel. The tail counts as a
    // return event so scans stop there; the search never reaches it while a returned
    // operation is unlinearized.
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
  int call_node(size_t op) const { return call_node_[op]; }

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
// returned ops, the register value s, and the set U of linearized unknown ops.
// Node (R, s, U1) dominates (R, s, U2) when U1 is a subset of U2: the unknown ops
// only constrain nothing (they never return), so every way to finish from the second
// also finishes from the first. Once a node has been expanded, any node it dominates
// is pruned. With no unknown ops this is the classic exact (set, state) memo; with
// them it stops the search from re-exploring every subset of pointless timed-out
// writes. All nodes sharing (R, s) sit in one linear-probing run, so a lookup sees
// them all before the first empty slot.
class VisitedSet {
 public:
  VisitedSet(size_t returned_words, size_t unknown_words)
      : returned_words_(returned_words),
        unknown_words_(unknown_words),
        slots_(1024, 0) {}

  // Records the node and returns true unless an expanded node dominates it.
  bool record(uint64_t hash, int state, std::span<const uint64_t> returned,
              std::span<const uint64_t> unknown) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    for (; slots_[i] != 0; i = (i + 1) & mask) {
      const size_t e = slots_[i] - 1;
      if (hashes_[e] == hash && states_[e] == state && same_returned(e, returned) &&
          unknown_subset(e, unknown)) {
        return false;
      }
    }
    const size_t e = states_.size();
    hashes_.push_back(hash);
    states_.push_back(state);
    words_.insert(words_.end(), returned.begin(), returned.end());
    words_.insert(words_.end(), unknown.begin(), unknown.end());
    slots_[i] = static_cast<uint32_t>(e + 1);
    if (2 * states_.size() > slots_.size()) grow();
    return true;
  }

  size_t bytes() const {
    return words_.capacity() * sizeof(uint64_t) + hashes_.capacity() * sizeof(uint64_t) +
           states_.capacity() * sizeof(int) + slots_.capacity() * sizeof(uint32_t);
  }

 private:
  const uint64_t* entry(size_t e) const {
    return words_.data() + e * (returned_words_ + unknown_words_);
  }
  bool same_returned(size_t e, std::span<const uint64_t> returned) const {
    return std::equal(returned.begin(), returned.end(), entry(e));
  }
  bool unknown_subset(size_t e, std::span<const uint64_t> unknown) const {
    const uint64_t* stored = entry(e) + returned_words_;
    for (size_t w = 0; w < unknown_words_; ++w) {
      if ((stored[w] & ~unknown[w]) != 0) return false;
    }
    return true;
  }
  void grow() {
    std::vector<uint32_t> bigger(slots_.size() * 2, 0);
    const size_t mask = bigger.size() - 1;
    for (size_t e = 0; e < states_.size(); ++e) {
      size_t i = hashes_[e] & mask;
      while (bigger[i] != 0) i = (i + 1) & mask;
      bigger[i] = static_cast<uint32_t>(e + 1);
    }
    slots_ = std::move(bigger);
  }

  size_t returned_words_;
  size_t unknown_words_;
  std::vector<uint64_t> words_;  // per entry: returned bitset, then unknown bitset
  std::vector<uint64_t> hashes_;
  std::vector<int> states_;
  std::vector<uint32_t> slots_;  // 0 = empty, else entry index + 1; size a power of 2
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

// Depth-first just-in-time linearization of one key. Invariant: the event list holds
// exactly the events of unlinearized operations, and `stack_` lists the linearized
// operations in order with the state before each. The candidates at a node are the
// calls before the first return event in the list; they are tried in two passes,
// returned operations first and unknown ones second, so that valid histories are
// found without gratuitously placing timed-out writes (and the dominance memo then
// prunes the variants that do).
class KeySearch {
 public:
  KeySearch(const KeyHistory& h, const CheckOptions& options)
      : h_(h),
        options_(options),
        events_(h.ops),
        returned_set_(h.returned),
        unknown_set_(h.unknown),
        visited_(returned_set_.word_count(), unknown_set_.word_count()) {}

  KeyVerdict run() {
    KeyVerdict result;
    size_t remaining = h_.returned;
    int state = kAbsent;
    int node = events_.first();
    int pass = 0;  // 0: returned operations, 1: unknown-outcome operations
    while (remaining > 0) {
      if (events_.is_return(node)) {
        if (pass == 0) {
          pass = 1;
          node = events_.first();
          continue;
        }
        note_dead_end(node, state, result.deepest);
        if (stack_.empty()) {
          result.verdict = Verdict::kViolation;
          break;
        }
        const Frame f = stack_.back();
        stack_.pop_back();
        unmark(f.op);
        events_.unlift(f.op);
        if (h_.ops[f.op].returned) ++remaining;
        state = f.state_before;
        pass = f.pass;
        node = events_.next(events_.call_node(f.op));
        continue;
      }
      const size_t op = events_.op(node);
      if (h_.ops[op].returned != (pass == 0)) {
        node = events_.next(node);
        continue;
      }
      if (++steps_ > options_.max_steps_per_key) {
        result.verdict = Verdict::kGaveUp;
        result.give_up_reason = "the step budget of " +
                                std::to_string(options_.max_steps_per_key) +
                                " search steps ran out";
        break;
      }
      const std::optional<int> next_state = apply(h_.ops[op], state);
      if (!next_state || !visit(op, *next_state)) {
        node = events_.next(node);
        continue;
      }
      if (visited_.bytes() > options_.max_memo_bytes) {
        result.verdict = Verdict::kGaveUp;
        result.give_up_reason = "the memo exceeded " +
                                std::to_string(options_.max_memo_bytes) + " bytes";
        break;
      }
      stack_.push_back({op, pass, state});
      events_.lift(op);
      if (h_.ops[op].returned) --remaining;
      state = *next_state;
      pass = 0;
      node = events_.first();
    }
    result.steps = steps_;
    return result;
  }

 private:
  struct Frame {
    size_t op;
    int pass;  // the pass `op` was picked in, to resume the scan there
    int state_before;
  };

  OpSet& set_of(size_t op) { return h_.ops[op].returned ? returned_set_ : unknown_set_; }
  void unmark(size_t op) { set_of(op).toggle(h_.ops[op].slot); }

  // Marks `op` linearized, leading to `state`; keeps the mark and returns true iff
  // the resulting node is not dominated by an expanded one.
  bool visit(size_t op, int state) {
    set_of(op).toggle(h_.ops[op].slot);
    const uint64_t hash =
        returned_set_.hash() ^ mix64(0x5eed0000'00000000ULL ^ static_cast<uint32_t>(state));
    if (visited_.record(hash, state, returned_set_.words(), unknown_set_.words())) {
      return true;
    }
    unmark(op);
    return false;
  }

  void note_dead_end(int return_node, int state, DeadEnd& deepest) {
    if (have_dead_end_ && stack_.size() <= deepest.prefix.size()) return;
    have_dead_end_ = true;
    deepest.prefix.clear();
    for (const Frame& f : stack_) deepest.prefix.push_back(f.op);
    deepest.state = state;
    deepest.blocking = events_.op(return_node);
    deepest.candidates.clear();
    for (int n = events_.first(); n != return_node; n = events_.next(n)) {
      deepest.candidates.push_back(events_.op(n));
    }
  }

  const KeyHistory& h_;
  const CheckOptions& options_;
  EventList events_;
  OpSet returned_set_;
  OpSet unknown_set_;
  VisitedSet visited_;
  std::vector<Frame> stack_;
  uint64_t steps_ = 0;
  bool have_dead_end_ = false;
};

// ---------------------------------------------------------------------------------
// Explanations.

std::string key_header(const std::string& key, const KeyHistory& h) {
  return "key " + quote(key) + " (" + std::to_string(h.ops.size()) + " operations, " +
         std::to_string(h.unknown) + " with unknown outcome)";
}

std::string explain_violation(const std::string& key, const KeyHistory& h,
                              const DeadEnd& d, const std::vector<Operation>& history,
                              const CheckOptions& options) {
  std::ostringstream out;
  out << key_header(key, h) << " is not linearizable.\n";
  const size_t shown = std::min(d.prefix.size(), options.max_explained_ops);
  out << "Longest linearizable prefix found: " << d.prefix.size() << " operations";
  if (shown < d.prefix.size()) out << ", the last " << shown << " of them";
  out << (d.prefix.empty() ? "." : ":") << "\n";
  for (size_t i = d.prefix.size() - shown; i < d.prefix.size(); ++i) {
    out << "  " << (i + 1) << ". " << to_string(history[h.ops[d.prefix[i]].source])
        << "\n";
  }
  out << "Value after it: " << h.values.describe(d.state) << ".\n";

  const KeyOp& blocking = h.ops[d.blocking];
  out << "This operation must take effect before it returned, but cannot be placed:\n  "
      << to_string(history[blocking.source]) << "\n  because ";
  if (apply(blocking, d.state)) {
    out << "every continuation after placing it here fails.\n";
  } else {
    out << contradiction(blocking, d.state, h.values) << ".\n";
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
      out << contradiction(op, d.state, h.values) << "\n";
    }
  }
  if (others.size() > options.max_explained_ops) {
    out << "  ... and " << others.size() - options.max_explained_ops << " more\n";
  }
  return out.str();
}

std::string explain_impossible(const std::string& key, const KeyHistory& h,
                               const Operation& op) {
  const std::string what = op.kind == OpKind::kGet
                               ? "read a value"
                               : "compared successfully against a value";
  return key_header(key, h) + " is not linearizable.\nThis operation " + what +
         " that no operation on the key ever writes:\n  " + to_string(op) + "\n";
}

void validate(const std::vector<Operation>& history) {
  for (const Operation& op : history) {
    if (op.has_returned() && op.return_time < op.call_time) {
      throw std::invalid_argument("operation returned before it was called: " +
                                  to_string(op));
    }
  }
}

Operation make_op(int client, OpKind kind, std::string key, uint64_t call,
                  uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = kind;
  op.key = std::move(key);
  op.call_time = call;
  op.return_time = ret;
  return op;
}

}  // namespace

CheckResult check_history(const std::vector<Operation>& history,
                          const CheckOptions& options) {
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
  result.explanation = "linearizable: " + std::to_string(history.size()) +
                       " operations on " + std::to_string(by_key.size()) + " keys";
  return result;
}

Operation make_put(int client, std::string key, std::string value, uint64_t call,
                   uint64_t ret) {
  Operation op = make_op(client, OpKind::kPut, std::move(key), call, ret);
  op.value = std::move(value);
  return op;
}

Operation make_get(int client, std::string key, std::optional<std::string> observed,
                   uint64_t call, uint64_t ret) {
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

Operation make_delete(int client, std::string key, bool found, uint64_t call,
                      uint64_t ret) {
  Operation op = make_op(client, OpKind::kDelete, std::move(key), call, ret);
  op.applied = found;
  return op;
}

Operation make_create(int client, std::string key, std::string value, bool created,
                      uint64_t call, uint64_t ret) {
  Operation op = make_op(client, OpKind::kCreate, std::move(key), call, ret);
  op.value = std::move(value);
  op.applied = created;
  return op;
}

std::string to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kPut:
      return "put";
    case OpKind::kGet:
      return "get";
    case OpKind::kCas:
      return "cas";
    case OpKind::kDelete:
      return "delete";
    case OpKind::kCreate:
      return "create";
  }
  return "?";
}

std::string to_string(const Operation& op) {
  std::ostringstream out;
  out << "client " << op.client << " " << to_string(op.kind) << "(" << quote(op.key);
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kCreate:
      out << ", " << quote(op.value);
      break;
    case OpKind::kCas:
      out << ", " << quote(op.expected) << " -> " << quote(op.value);
      break;
    case OpKind::kGet:
    case OpKind::kDelete:
      break;
  }
  out << ") -> ";
  if (!op.has_returned()) {
    out << "unknown, t=[" << op.call_time << ", inf)";
    return out.str();
  }
  switch (op.kind) {
    case OpKind::kPut:
      out << "ok";
      break;
    case OpKind::kGet:
      out << (op.read_value ? quote(*op.read_value) : "not found");
      break;
    case OpKind::kCas:
      out << (op.applied ? "applied" : "compare failed");
      break;
    case OpKind::kDelete:
      out << (op.applied ? "found" : "not found");
      break;
    case OpKind::kCreate:
      out << (op.applied ? "created" : "already exists");
      break;
  }
  out << ", t=[" << op.call_time << ", " << op.return_time << "]";
  return out.str();
}

}  // namespace raft::sim
